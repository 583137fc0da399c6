"""The event timeline in plain words, for staff: one line per run of repeats, at most a bounded number
of lines (messaging.selectors.message_events collapses them in SQL)."""

from dataclasses import dataclass
from datetime import datetime

from messaging.models import EventSource
from messaging.selectors import EventRuns
from messaging.vocabulary import KINDS, SOURCE_WORDS, timeline_words


@dataclass(frozen=True)
class Line:
    at: datetime | None  # the first time, for a line of repeats
    words: str  # staff words (messaging.vocabulary)
    detail: str
    source: str
    count: int = 1
    last_at: datetime | None = None
    omitted: int = 0  # a gap line: this many lines are not shown here
    precise: str = ""  # the event's exact name and source, for whoever needs to know

    @property
    def times(self) -> str:
        return f"{self.count:,} times" if self.count > 1 else ""

    @property
    def gap(self) -> str:
        return f"{self.omitted:,} more events not shown ({self.words})" if self.omitted else ""


def timeline(events: EventRuns, *, channel: str = "") -> list[Line]:
    """Plain-words lines for the collapsed runs of messaging.selectors.message_events, with one line
    saying how many events (of which kinds) were left out, where they were. The precise names (event
    kind, source) ride along in each line's `precise`: the only place staff pages show them."""
    lines = [
        Line(
            r.occurred_first,
            timeline_words(r.kind, channel),
            r.detail,
            SOURCE_WORDS.get(r.source, r.source),
            r.count,
            r.occurred_last,
            precise=f"{KINDS[r.kind].label} · {EventSource(r.source).label}",
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
