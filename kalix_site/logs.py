"""The log formatter every handler uses: no query strings, no header values, no exception messages.

Invariant: what reaches the log says where and what kind, never whose. Query strings carry search terms
(patient names, phone numbers); Django's security loggers quote header values (a Host, an Origin, a
Referer); and an exception's message may quote anything it was given: an email subject in a header
error, a whole row in PostgreSQL's "Failing row contains (...)". So, whatever the logger:

- a request path's query string is replaced by `?<query>` (runserver's request lines, any URL in a message);
- a record of Django's security loggers (`django.security.*`, CSRF failures included) keeps its logger
  name and exception type, not its text;
- a traceback keeps its frames (file, line, function) and each exception's type, not its message.

Our own code already logs types and counts only (messaging.worker, statuspage.notify); this is the net
under what libraries log.
"""

import logging
import re
import traceback

QUERY = re.compile(r"""(?P<path>(?:https?://[^\s/"'?]+)?/[^\s"'?]*)\?[^\s"']*""")
WITHHELD = "(message withheld)"


def without_queries(text: str) -> str:
    return QUERY.sub(r"\g<path>?<query>", text)


def exception_lines(exc: BaseException) -> list[str]:
    """The traceback of `exc` and of the exceptions it was raised from, without any exception's message."""
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    lines = []
    for position, error in enumerate(reversed(chain)):
        if position:
            lines.append("\nThe above exception led to the following exception:\n")
        lines.append("Traceback (most recent call last):")
        for frame in traceback.extract_tb(error.__traceback__):
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        lines.append(f"{type(error).__module__}.{type(error).__qualname__}: {WITHHELD}")
    return lines


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)  # other handlers still see the record as logged
        if record.name.startswith("django.security"):
            kind = type(record.exc_info[1]).__name__ if record.exc_info and record.exc_info[1] else "refusal"
            record.msg, record.args = f"{kind} {WITHHELD}", None
        else:
            record.msg, record.args = without_queries(record.getMessage()), None
        record.exc_text = None
        return super().format(record)

    def formatException(self, ei) -> str:
        _type, exc, _tb = ei
        if exc is None:
            return ""
        return "\n".join(exception_lines(exc))
