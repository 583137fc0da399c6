"""The crawler: every URL the resolver knows, as every role, with hostile input; no answer is a 5xx and
no traceback reaches the log.

Roles: anonymous, clinic staff (a practitioner), a practice manager, Support, Operations and a superuser.
For each URL and role it sends a GET with a hostile query string (real ids in the path), a GET with hostile
ids in the path (where the pattern accepts them), a POST of every form the page renders with each field
hostile (the CSRF token and the form's clinic kept, so the body reaches the view), and, for the API and
the webhooks, JSON bodies (signed for the simulated carrier, authenticated for anymail) with hostile
values and deep nesting. The hostile values (NUL, a 1 MB string, huge and non-finite numbers, odd and
invalid Unicode, CR/LF, impossible dates, nested lists) are sampled: each request takes the next ones in
a rotation, so every value reaches every kind of parameter across the walk without the cross product.

Each request runs in a savepoint rolled back afterwards: the walk sees the same world throughout, and a
database error in one view cannot break the next. New URLs are crawled without anyone listing them.
"""

import base64
import itertools
import json
import logging
import re
import time
import traceback as traceback_module
from html.parser import HTMLParser
from urllib.parse import quote, urlencode

import pytest
from django.db import DatabaseError, transaction
from django.test import Client
from rest_framework.authtoken.models import Token

from billing.views import BATCH_ACTIONS
from messaging.authenticity import sim_headers
from tests.support.channels import SIM_SECRET
from tests.support.probes import walk_urls

pytestmark = pytest.mark.django_db

MB = "x" * 1_000_000
DEEP_LIST = "[" * 2000 + "]" * 2000
TEXT_VALUES = [
    "a\x00b",
    MB,
    "99999999999999999999999999999",
    "-99999999999999999999",
    "1e309",
    "NaN",
    "\u202e\ufeffe\u0301\U0001f600\u200d\u2028",
    "a\r\nBcc: victim@example.com",
    "0000-00-00",
    "9999-12-31",
    "2026-02-30",
    "'; DROP TABLE clinics_patient; --",
    DEEP_LIST,
    "",
    "-1",
    "<script>alert(1)</script>",
]
# Raw, already percent-encoded: bytes that are not UTF-8 and an encoded lone surrogate.
RAW_QUERY_VALUES = ["%ff%fe", "%ed%a0%80", "%00"]
JSON_VALUES = [
    *TEXT_VALUES,
    10**40,
    -(10**30),
    1.5e308,
    None,
    True,
    [],
    {},
    [[[[[[[[["deep"]]]]]]]]],
    {"$gt": ""},
]
PATH_VALUES = ["abc", "99999999999999999999999", "-1", "%00", quote("\u202e\U0001f600"), "x" * 5000, "%ff"]
QUERY_NAMES = [
    "q",
    "status",
    "channel",
    "page",
    "cursor",
    "template",
    "o",
    "p",
    "e",
    "ordering",
    "format",
    "since",
    "patient",
    "payer",
    "clinic",
    "practitioner",
    "older_than_minutes",
    "status__exact",
    "id__exact",
    "next",
    "_changelist_filters",
    "date_of_birth",
    "limit",
]
JSON_NAMES = ["patient", "channel", "body", "subject", "recipient", "lines", "amount", "invoice", "payer", "status"]
NO_POST = ("accounts/logout/", "admin/logout/")
# The 5xx answers that are the design: /healthz is 503 while a lane has no live worker (none runs here).
EXPECTED_5XX = {"/healthz": 503}  # would end the role's session for the rest of the walk
BIG_QUERY = itertools.cycle([True, False, False, False, False])
PARAM = re.compile(r"<(?:(?P<conv>\w+):)?(?P<a>\w+)>|\(\?P<(?P<b>\w+)>[^)]*\)")
WEBHOOK_AUTH = "hook:secret"


class Capture(logging.Handler):
    """Every record that carries a traceback, or an error, from any logger."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.problems = []

    def emit(self, record):
        text = record.getMessage()
        # Django logs each 4xx it makes from an exception (PermissionDenied, BadRequest) with that
        # exception: a refusal, not a fault.
        refusal = record.name == "django.request" and getattr(record, "status_code", 500) < 500
        traceback = record.exc_info or "Traceback (most recent call last)" in text
        if (traceback and not refusal) or record.levelno >= logging.ERROR:
            exc = record.exc_info[1] if record.exc_info else None
            where = ""
            if exc is not None and exc.__traceback__ is not None:
                frame = traceback_module.extract_tb(exc.__traceback__)[-1]
                where = f" at {frame.filename.rsplit('/', 2)[-2:]}:{frame.lineno}"
            self.problems.append(f"{record.name} {record.levelname} {text[:200]} {exc!r:.200}{where}")


@pytest.fixture
def tracebacks():
    capture = Capture()
    root = logging.getLogger()
    root.addHandler(capture)
    loggers = [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    lonely = [lg for lg in loggers if not lg.propagate]
    for logger in lonely:
        logger.addHandler(capture)
    yield capture.problems
    root.removeHandler(capture)
    for logger in lonely:
        logger.removeHandler(capture)


class Forms(HTMLParser):
    """The POST forms of a page: (action, {field name: value as rendered})."""

    def __init__(self):
        super().__init__()
        self.forms, self._current = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self._current = (attrs.get("action") or "", {})
            self.forms.append(self._current)
        elif tag in ("input", "select", "textarea", "button") and self._current and attrs.get("name"):
            self._current[1].setdefault(attrs["name"], attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


KEEP = {"csrfmiddlewaretoken", "form_clinic"}


def post_forms(html: str) -> list[tuple[str, dict]]:
    parser = Forms()
    parser.feed(html)
    return parser.forms


@pytest.fixture
def world(world_b, make_user, clinic_b, staff_b, ops, support):
    """Clinic B's objects, and a user of every role (clinic B's staff see their own objects)."""
    from lanes.models import LaneAction
    from statuspage import services, states
    from statuspage.models import Component, IncidentTemplate, Subscriber

    component = Component.objects.create(name="Email", position=0, lane="live")
    incident = services.incident_open(
        name="Email delays",
        status=states.INVESTIGATING,
        body="Looking.",
        components={component: "degraded_performance"},
    )
    template = IncidentTemplate.objects.create(title="Delays", body="We are looking.", status=states.INVESTIGATING)
    subscriber = Subscriber.objects.create(email="watcher@example.com")
    roles = {
        "anonymous": None,
        "staff": staff_b,
        "manager": make_user("meg", clinics=[clinic_b], role="manager"),
        "support": support,
        "operations": ops,
        "superuser": make_user("root", is_staff=True, is_superuser=True),
    }
    return {
        **world_b,
        "incident": incident,
        "template": template,
        "subscriber": subscriber,
        "component": component,
        "action": LaneAction.objects.first(),
        "roles": roles,
        "clinic": clinic_b,
    }


def real_values(route: str, world: dict) -> dict[str, str]:
    values = {}
    for match in PARAM.finditer(route):
        name = match.group("a") or match.group("b")
        segment = route[: match.start()].rstrip("/").rsplit("/", 1)[-1].lstrip("^")
        values[name] = real_value(route, name, segment, world)
    return values


def real_value(route: str, name: str, segment: str, world: dict) -> str:
    """A value of a path parameter naming an object the role can see, so the view runs to the end."""
    by_segment = {"patients": "patient", "messages": "message", "invoices": "invoice", "batches": "batch"}
    by_segment |= {"payers": "payer", "incidents": "incident"}
    if name == "format":
        return "json"
    if name == "action":
        return sorted(BATCH_ACTIONS)[0]
    if name == "invoice_pk":
        return str(world["invoice"].pk)
    if name == "token":
        return world["subscriber"].token
    if name == "lane":
        return "live"
    if name == "command":
        return "backlog"
    if name == "action_id":
        return str(world["action"].pk if world["action"] else 1)
    if name == "object_id" and route.startswith("admin/"):
        return admin_object_id(route)
    if segment in by_segment:
        return str(world[by_segment[segment]].pk)
    return "1"


def admin_object_id(route: str) -> str:
    from django.apps import apps

    parts = route.split("/")
    try:
        model = apps.get_model(parts[1], parts[2])
    except (LookupError, IndexError):
        return "1"
    first = model._default_manager.order_by("pk").values_list("pk", flat=True).first()
    return str(first if first is not None else 1)


def fill(route: str, values: dict[str, str]) -> str:
    url = route
    for match in reversed(list(PARAM.finditer(route))):
        name = match.group("a") or match.group("b")
        url = url[: match.start()] + values[name] + url[match.end() :]
    url = url.replace("^", "").replace("$", "").replace("\\.", ".").replace("/?", "/")
    url = re.sub(r"\(([^)|]*)\)\?", "", url)  # optional groups of regex routes (mailgun's inbound_mime)
    return "/" + url


def hostile_path_values(route: str, rotation) -> dict[str, str] | None:
    """Hostile values for the parameters whose converter accepts them (int takes digits only)."""
    values, hostile = {}, False
    for match in PARAM.finditer(route):
        name = match.group("a") or match.group("b")
        converter = match.group("conv") or ("regex" if match.group("b") else "str")
        if name == "format":
            values[name] = "json"
            continue
        if converter == "int":
            values[name] = "99999999999999999999999"
        elif converter == "slug":
            values[name] = "no-such-" + "x" * 300
        else:
            values[name] = next(rotation)
        hostile = True
    return values if hostile else None


def hostile_query(value) -> str:
    """Every parameter name with the same hostile value: a query with one NUL among benign values would be
    refused whole by the guard and reach no view, so each class of value gets its own request."""
    pairs = []
    for name in QUERY_NAMES:
        if isinstance(value, tuple):  # raw, already encoded
            pairs.append(f"{quote(name)}={value[0]}")
        else:
            pairs.append(urlencode({name: value if name == "q" or len(value) < 5000 else value[:2000]}))
    return "&".join(pairs)


def hostile_form(fields: dict, value, *, one_field: int | None) -> dict:
    """Every field hostile, or (one_field) the form as rendered with only that field hostile, so the rest
    validates and the hostile value reaches the service."""
    names = [name for name in fields if name not in KEEP]
    if one_field is None:
        if value is MB:  # a megabyte in the first field, a kilobyte in the rest (Django bounds the total)
            return {name: v if name in KEEP else (MB if name == names[0] else MB[:1000]) for name, v in fields.items()}
        return {name: v if name in KEEP else value for name, v in fields.items()}
    chosen = names[one_field % len(names)] if names else None
    return {name: value if name == chosen else v for name, v in fields.items()}


def hostile_json(names, value) -> bytes:
    body = dict.fromkeys(names, value)
    body["nested"] = json.loads("[" * 20 + "]" * 20)
    return json.dumps(body).encode()


def api_field_names(pattern) -> list[str]:
    view_class = getattr(pattern.callback, "cls", None)
    serializer_class = getattr(view_class, "serializer_class", None)
    if serializer_class is None:
        return JSON_NAMES
    try:
        return list(serializer_class().fields) or JSON_NAMES
    except Exception:  # a serializer that needs its context to build its fields: use the generic names
        return JSON_NAMES


class Walk:
    def __init__(self, clients, tracebacks):
        self.clients, self.tracebacks = clients, tracebacks
        self.failures, self.count = [], 0
        self.slowest = (0.0, "")
        self.answered = {}  # 2xx answers per role: the walk reached the views, not only refusals

    def send(self, role: str, method: str, url: str, **kwargs):
        client = self.clients[role]
        started = time.monotonic()
        logged = len(self.tracebacks)
        response = None
        try:
            with transaction.atomic():
                response = getattr(client, method)(url, **kwargs)
                raise Rollback
        except Rollback:
            pass
        except DatabaseError as exc:  # the view swallowed a database error and answered anyway
            self.failures.append(f"{role} {method.upper()} {url[:200]}: database error {type(exc).__name__}")
        self.count += 1
        took = time.monotonic() - started
        if took > self.slowest[0]:
            self.slowest = (took, f"{role} {method.upper()} {url[:120]}")
        if response is not None and response.status_code < 300:
            self.answered[role] = self.answered.get(role, 0) + 1
        if (
            response is not None
            and response.status_code >= 500
            and EXPECTED_5XX.get(url.split("?")[0]) != response.status_code
        ):
            self.failures.append(f"{role} {method.upper()} {url[:100]}: {response.status_code}")
        if len(self.tracebacks) > logged:
            self.failures.append(f"{role} {method.upper()} {url[:100]}: logged {self.tracebacks[logged][:200]}")
        return response


class Rollback(Exception):
    pass


def clients_for(world) -> dict[str, Client]:
    clients = {}
    for role, user in world["roles"].items():
        client = Client(raise_request_exception=False)
        if user is not None:
            client.force_login(user)
            client.defaults["HTTP_X_CLINIC"] = str(world["clinic"].pk)
        clients[role] = client
    return clients


def test_no_url_answers_5xx_or_logs_a_traceback_for_any_role(world, settings, tracebacks):
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_AUTH}
    settings.SIMCARRIER_SECRET = SIM_SECRET
    settings.LOGIN_RATE_PER_MIN = 0  # the login limit would answer most of the walk's logins 429 unread
    clients = clients_for(world)
    api_tokens = {role: f"Token {Token.objects.create(user=user).key}" for role, user in world["roles"].items() if user}
    query_values = itertools.cycle([*TEXT_VALUES, *[(raw,) for raw in RAW_QUERY_VALUES]])
    form_values = itertools.cycle(TEXT_VALUES)
    json_values = itertools.cycle(JSON_VALUES)
    paths = itertools.cycle(PATH_VALUES)
    methods = itertools.cycle(["post", "put", "patch"])
    modes = itertools.count()
    walk = Walk(clients, tracebacks)
    started = time.monotonic()
    routes = list(walk_urls())
    assert len(routes) > 100

    for route, pattern in routes:
        url = fill(route, real_values(route, world))
        hostile_values = hostile_path_values(route, paths)
        is_api, is_webhook = route.startswith("api/v1/"), route.startswith("messages/webhooks/")
        for role, user in world["roles"].items():
            if route.startswith("admin/") and not (user and user.is_staff):
                # admin's login redirect, the same for every admin URL: once with a hostile query is enough
                walk.send(role, "get", f"{url}?{hostile_query(next(query_values))}")
                continue
            headers = {"HTTP_AUTHORIZATION": api_tokens[role]} if is_api and role in api_tokens else {}
            page = walk.send(role, "get", url, **headers)
            walk.send(role, "get", f"{url}?{hostile_query(next(query_values))}", **headers)
            if route.startswith("admin/") and not user.is_superuser:
                continue  # Support and Operations: their permissions on every admin page; the superuser goes deeper
            if hostile_values:
                walk.send(role, "get", fill(route, hostile_values), **headers)
            if route.startswith(NO_POST):
                continue
            forms = []
            if page is not None and page.status_code == 200 and "html" in page.get("Content-Type", ""):
                forms = post_forms(page.content.decode(errors="replace"))
            # the page's own forms, and for a page that shows none (a 405 GET, an API) a generic body
            for action, fields in forms[:3] or [("", dict.fromkeys(QUERY_NAMES, ""))]:
                target = action if action.startswith("/") else url
                if target.lstrip("/").startswith(NO_POST):  # every admin page has a log-out form
                    continue
                mode = next(modes)
                body = hostile_form(fields, next(form_values), one_field=None if mode % 2 else mode // 2)
                walk.send(role, "post", target, data=body, **headers)
            if is_api or is_webhook:
                value = next(json_values)
                body = DEEP_LIST.encode() if value is DEEP_LIST else hostile_json(api_field_names(pattern), value)
                extra = dict(headers)
                if "/sim/" in url:
                    extra["headers"] = sim_headers(body, SIM_SECRET)
                elif "/anymail/" in url:
                    extra["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(WEBHOOK_AUTH.encode()).decode()
                method = next(methods) if is_api else "post"
                walk.send(role, method, url, data=body, content_type="application/json", **extra)

    took = time.monotonic() - started
    print(f"crawler: {walk.count} requests over {len(routes)} routes in {took:.1f} s; slowest {walk.slowest}")
    print(f"crawler: 2xx answers by role {walk.answered}")
    assert not walk.failures, f"{len(walk.failures)} failures:\n" + "\n".join(walk.failures[:80])
    assert walk.count > 2000
    assert all(walk.answered.get(role, 0) >= 20 for role in world["roles"]), walk.answered
    assert walk.answered["superuser"] > 200, "the superuser reaches the admin pages (the walk stayed logged in)"
