"""The one guard for hostile input: text PostgreSQL cannot store, and JSON too deep to parse, are refused
with 400 before any view (so before any query) runs.

Invariant: a request whose path, query string, form fields or JSON body holds a NUL, a lone surrogate or
bytes that are not UTF-8, or whose JSON nests deeper than GUARD_JSON_MAX_DEPTH, never reaches a view.
Each of these was a 500 somewhere: PostgreSQL refuses NUL in text ("A string literal cannot contain NUL
characters") and psycopg cannot encode a surrogate, so every filter, search box and token lookup that
handed the value to a query failed; Python's json parser raises RecursionError on deep nesting (DRF's
parser and the carrier webhook let it through). One middleware catches them all, for every URL the
resolver will ever know, instead of each view remembering.

Bodies: a webhook view (marked by messaging.webhooks.guarded, `accepts_large_body`) may be as large as
WEBHOOK_MAX_BYTES (ESPs post batches of several MiB); every other view's body is bounded by Django's
DATA_UPLOAD_MAX_MEMORY_SIZE as before. Files in multipart bodies are not read here (a PDF holds NULs).
"""

import io
import json
import unicodedata
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.urls import Resolver404, resolve
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class Hostile(ValueError):
    """The input holds something no field of ours accepts; the message says what, never the value."""


def text_problem(value: str) -> str:
    """Why `value` cannot be stored as text ("" when it can): a NUL, or a lone surrogate."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode"
    return ""


def header_problem(value: str) -> str:
    """What makes `value` unfit for a header (an email subject, a recipient): "a line break", "a control
    character", or "" when fine. A line break is anything str.splitlines() breaks on (CR, LF, NEL,
    U+2028...); a control character is any other of Unicode category Cc (NUL, ESC, tab...). A CR or LF
    would let the value add headers of its own ("Bcc: ..."), and Django refuses it only when the email
    is built, so every email carrying it fails: each text that becomes a header is checked at input."""
    for ch in value:
        if len(f"a{ch}b".splitlines()) > 1:
            return "a line break"
        if unicodedata.category(ch) == "Cc":
            return "a control character"
    return ""


def check_text(value: str, *, where: str) -> None:
    problem = text_problem(value)
    if problem:
        raise Hostile(f"{where} {problem}")


def check_tree(data, *, max_depth: int | None = None, where: str = "the JSON body") -> None:
    """Walk parsed JSON without recursion: every key and string storable, nesting at most `max_depth`."""
    max_depth = settings.GUARD_JSON_MAX_DEPTH if max_depth is None else max_depth
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            check_text(node, where=where)
        elif isinstance(node, dict | list):
            if depth > max_depth:
                raise Hostile(f"{where} nests deeper than {max_depth} levels")
            if isinstance(node, dict):
                for key in node:
                    check_text(key, where=where)
                stack.extend((value, depth + 1) for value in node.values())
            else:
                stack.extend((value, depth + 1) for value in node)


def loads(body: bytes | str, *, max_depth: int | None = None):
    """json.loads that refuses (Hostile, a ValueError) what the guard refuses: not UTF-8, too deep, NUL."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        data = json.loads(text)
    except UnicodeDecodeError:
        raise Hostile("the JSON body is not UTF-8") from None
    except RecursionError:
        raise Hostile("the JSON body nests too deeply") from None
    check_tree(data, max_depth=max_depth)
    return data


def check_query(query_string: str, *, where: str = "the query string") -> None:
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise Hostile(f"{where} is not UTF-8") from None
    for key, value in pairs:
        check_text(key, where=where)
        check_text(value, where=where)


def accepts_large_body(view) -> bool:
    return getattr(view, "accepts_large_body", False)


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def check_body(request, view) -> HttpResponse | None:
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return None
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise Hostile("the Content-Length is not a number") from None
    content_type = request.content_type or ""
    webhook = accepts_large_body(view)
    # Multipart bodies carry files (a fax's PDF): Django bounds their fields itself, and streams the files.
    limit = settings.WEBHOOK_MAX_BYTES if webhook else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if length > limit and (webhook or content_type != "multipart/form-data"):
        return HttpResponse("body too large", status=413, content_type="text/plain")
    if is_json(content_type):
        try:
            loads(read_body(request))
        except Hostile:
            raise
        except ValueError:
            pass  # not JSON at all: the view answers that as it always has (400)
    elif content_type == "application/x-www-form-urlencoded":
        check_query(read_body(request).decode("latin-1"), where="a form field")
        return parse_form(request)
    elif content_type == "multipart/form-data":
        if webhook:
            read_body(request)  # a webhook view reads request.body itself, which streaming would forbid
        refusal = parse_form(request)
        if refusal:
            return refusal
        for key, values in request.POST.lists():  # the fields; uploaded files are not text
            check_text(key, where="a form field")
            for value in values:
                check_text(value, where="a form field")
    return None


def parse_form(request) -> HttpResponse | None:
    """Parse the form once, here: Django's own refusals of it (fields over DATA_UPLOAD_MAX_MEMORY_SIZE, more
    than DATA_UPLOAD_MAX_NUMBER_FIELDS) are answered plainly, not logged as a security error with a traceback."""
    try:
        request.POST  # noqa: B018 (parsed and cached on the request for the view)
    except RequestDataTooBig:
        return HttpResponse("form too large", status=413, content_type="text/plain")
    except (TooManyFieldsSent, TooManyFilesSent):
        return HttpResponseBadRequest("too many form fields", content_type="text/plain")
    return None


def read_body(request) -> bytes:
    """The body, read within the view's own limit (a webhook's may exceed Django's), kept as Django keeps
    it (HttpRequest.body): the view, DRF and anymail read it again from there."""
    request._body = request.read()
    request._stream = io.BytesIO(request._body)
    return request._body


class HostileInputMiddleware:
    """First after SecurityMiddleware: path, query string and body checked before sessions, users or
    clinics are looked up (each of those is a query)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if len(request.path) + len(request.META.get("QUERY_STRING", "")) > settings.GUARD_MAX_URL_LENGTH:
            # gunicorn refuses such a request line itself (414); other servers and the test client do not,
            # and Django's own redirect to the login page (with ?next=) refuses one over 16 KiB with an error.
            return HttpResponse("URL too long", status=414, content_type="text/plain")
        try:
            check_text(request.path, where="the path")
            check_query(request.META.get("QUERY_STRING", ""))
            try:
                view = resolve(request.path_info).func
            except Resolver404:
                view = None
            refusal = check_body(request, view)
        except Hostile as refused:
            if request.path.startswith("/api/"):  # the API's error shape (DRF's "detail")
                return JsonResponse({"detail": f"Refused: {refused}."}, status=400)
            return HttpResponseBadRequest(f"Refused: {refused}.", content_type="text/plain")
        return refusal or self.get_response(request)


class GuardedJSONParser(JSONParser):
    """DRF's JSON parser with the guard's limits: a body the middleware did not see as JSON (a wrong
    Content-Type parameter, a view called directly) is still refused 400, never a RecursionError."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return loads(stream.read() if stream is not None else b"")
        except Hostile as refused:
            raise ParseError(f"JSON parse error - {refused}") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
