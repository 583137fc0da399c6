"""The event timeline in plain words, for staff: one line per run of repeats, at most a bounded number
of lines (messaging.selectors.message_events collapses them in SQL)."""

from dataclasses import dataclass
from datetime import datetime

from messaging.models import EventSource
from messaging.selectors import EventRuns
from messaging.vocabulary import KINDS


@dataclass(frozen=True)
class Line:
    at: datetime | None  # the first time, for a line of repeats
    words: str
    detail: str
    source: str
    count: int = 1
    last_at: datetime | None = None
    omitted: int = 0  # a gap line: this many lines are not shown here

    @property
    def times(self) -> str:
        return f"{self.count:,} times" if self.count > 1 else ""

    @property
    def gap(self) -> str:
        return f"{self.omitted:,} more events not shown ({self.words})" if self.omitted else ""


def timeline(events: EventRuns) -> list[Line]:
    """Plain-words lines for the collapsed runs of messaging.selectors.message_events, with one line
    saying how many events (of which kinds) were left out, where they were."""
    lines = [
        Line(
            r.occurred_first,
            KINDS[r.kind].timeline_words,
            r.detail,
            EventSource(r.source).label,
            r.count,
            r.occurred_last,
        )
        for r in events.runs
    ]
    if events.omitted:
        kinds = [
            f"{KINDS[kind].timeline_words} {n:,} {'time' if n == 1 else 'times'}"
            for kind, n in events.omitted_kinds[:3]
        ]
        more = ", …" if len(events.omitted_kinds) > 3 else ""
        lines.insert(events.omitted_after, Line(None, ", ".join(kinds) + more, "", "", 0, None, events.omitted))
    return lines
