"""The lanes registry: what each domain app tells the platform about its work, explicitly, from its
AppConfig.ready() (never as a side effect of importing a module). lanes itself imports no domain app.

A *kind* is one sort of durable queue item: the lane that carries it, how many wait and since when
(its depth query), the dotted path of its drainer (what a poke runs to work it off), which operator
controls it honours, and optionally how many items it completed since a time (throughput) and the
queued rows operators may move to the backlog or promote. A *schedule* is a django-q2 schedule on a
lane, upserted from here at every migrate with its interval read from the current settings
(lanes.schedules): the safety net behind a kind's pokes, or periodic work. The re-index *target* says
which table a re-index walks and how it recomputes a chunk of it (lanes.reindex).

Everything that shows or steers a lane (the dashboard, /healthz, the status page's queue monitor, the
controls) reads it through here, so a control is offered only on a lane with a kind that honours it,
the dashboard says which kinds a pause stops, and a control that frees work pokes the drainers of
exactly the kinds it freed.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from lanes.pokes import poke

PAUSE, ORDER, BACKLOG, PROMOTE = "pause", "order", "backlog", "promote"
CONTROLS = (PAUSE, ORDER, BACKLOG, PROMOTE)

Depth = Callable[[], tuple[int, datetime | None]]


@dataclass(frozen=True)
class WorkKind:
    lane: str
    kind: str
    depth: Depth  # () -> (items waiting, when the longest-waiting one was queued)
    drainer: str  # dotted path of a function taking no arguments that works the kind off
    honours: frozenset[str]
    backlog_depth: Depth | None = None  # the items an operator moved to the backlog, counted apart
    done_since: Callable[[datetime], int] | None = None  # (since) -> items completed since then
    queued: Callable[[str], object] | None = None  # (lane) -> QuerySet of queued rows (priority, created_at)
    # Items given up on that wait for a person (e.g. delivery reports that matched nothing): not pending
    # work, so never in the lane's depth or age; the dashboard counts them and links to where they are.
    parked: Callable[[], int] | None = None
    parked_url: str = ""  # a URL name (reversed by the dashboard), with an optional "?query"

    @property
    def stops_on_pause(self) -> bool:
        return PAUSE in self.honours


@dataclass(frozen=True)
class LaneSchedule:
    name: str
    lane: str
    func: str
    minutes: str | int  # a setting's name (read at every upsert) or a fixed number of minutes
    safety_net_for: tuple[str, ...] = ()  # the kinds whose pokes it backs (a pause stops it with them)

    def interval(self) -> int:
        return getattr(settings, self.minutes) if isinstance(self.minutes, str) else self.minutes


@dataclass(frozen=True)
class ReindexTarget:
    """What a re-index walks: `bounds(job)` gives (first id, last id, rows) of the job's scope now;
    `recompute(job, first_id, last_id)` recomputes that id range within the scope, in the caller's
    transaction, and returns (rows in scope, rows changed)."""

    name: str
    bounds: Callable[[object], tuple[int | None, int | None, int]]
    recompute: Callable[[object, int, int], tuple[int, int]]


_kinds: dict[tuple[str, str], WorkKind] = {}
_schedules: dict[str, LaneSchedule] = {}
_reindex: dict[str, ReindexTarget] = {}
_bucket_sources: dict[str, Callable[[], Iterable[str]]] = {}


def _known_lane(lane: str) -> None:
    if lane not in settings.LANES:
        raise ImproperlyConfigured(f"Unknown lane {lane!r}; LANES are {', '.join(settings.LANES)}.")


def register_kind(
    *,
    lane: str,
    kind: str,
    depth: Depth,
    drainer: str,
    honours=(PAUSE,),
    backlog_depth: Depth | None = None,
    done_since: Callable[[datetime], int] | None = None,
    queued: Callable[[str], object] | None = None,
    parked: Callable[[], int] | None = None,
    parked_url: str = "",
) -> WorkKind:
    """Register (or replace) the work `kind` carried by `lane`. A kind that honours backlog or promote
    gives its queued rows (`queued`); one that honours backlog also counts its backlog apart."""
    _known_lane(lane)
    honours = frozenset(honours)
    if unknown := honours - set(CONTROLS):
        raise ImproperlyConfigured(f"{kind}: no such lane control {sorted(unknown)}; controls are {CONTROLS}.")
    if honours & {BACKLOG, PROMOTE} and queued is None:
        raise ImproperlyConfigured(f"{kind}: a kind that honours backlog or promote must give its queued rows.")
    if BACKLOG in honours and backlog_depth is None:
        raise ImproperlyConfigured(f"{kind}: a kind that honours backlog must count its backlog (backlog_depth).")
    if (parked is None) != (not parked_url):
        raise ImproperlyConfigured(f"{kind}: parked items need both a count (parked) and where to see them.")
    entry = WorkKind(lane, kind, depth, drainer, honours, backlog_depth, done_since, queued, parked, parked_url)
    _kinds[lane, kind] = entry
    return entry


def register_schedule(
    *, name: str, lane: str, func: str, minutes: str | int, safety_net_for: tuple[str, ...] = ()
) -> LaneSchedule:
    """Register (or replace) the schedule `name`: `func` on `lane` every `minutes` (a setting's name)."""
    _known_lane(lane)
    if isinstance(minutes, str) and not hasattr(settings, minutes):
        raise ImproperlyConfigured(f"Schedule {name!r}: no setting {minutes}.")
    entry = LaneSchedule(name, lane, func, minutes, tuple(safety_net_for))
    _schedules[name] = entry
    return entry


def register_reindex_target(*, name: str, bounds, recompute) -> ReindexTarget:
    """Register what re-index jobs recompute. One target: a job row says nothing about which."""
    if _reindex and name not in _reindex:
        raise ImproperlyConfigured(f"A re-index target is registered already ({', '.join(_reindex)}).")
    _reindex[name] = ReindexTarget(name, bounds, recompute)
    return _reindex[name]


def register_bucket_names(*, name: str, names: Callable[[], Iterable[str]]) -> None:
    """Register (or replace) `name`'s source of the rate buckets its requests draw from now: `names()`
    gives "<provider>:<account>" and "<provider>:<account>:<from>" names (lanes.buckets). The bucket
    admin refuses a bucket nothing draws from (a typo in an account or a sender limits nobody)."""
    _bucket_sources[name] = names


def bucket_names_in_use() -> set[str] | None:
    """Every bucket name some app's requests draw from now; None when no app says (nothing to check)."""
    if not _bucket_sources:
        return None
    return {bucket for names in _bucket_sources.values() for bucket in names()}


def kinds(lane: str | None = None) -> list[WorkKind]:
    return [k for k in _kinds.values() if lane is None or k.lane == lane]


def schedules(lane: str | None = None) -> list[LaneSchedule]:
    return [s for s in _schedules.values() if lane is None or s.lane == lane]


def reindex_target() -> ReindexTarget:
    if not _reindex:
        raise ImproperlyConfigured("No re-index target is registered (messaging registers one in its AppConfig).")
    return next(iter(_reindex.values()))


def kinds_honouring(lane: str, control: str) -> list[WorkKind]:
    return [k for k in kinds(lane) if control in k.honours]


def lane_controls(lane: str) -> set[str]:
    """The controls that act on `lane`: those honoured by at least one kind it carries."""
    return {control for k in kinds(lane) for control in k.honours}


def schedule_stops_on_pause(schedule: LaneSchedule) -> bool:
    """A safety net stops with the kinds it backs; periodic work keeps running while its lane is paused."""
    backed = [k for k in kinds(schedule.lane) if k.kind in schedule.safety_net_for]
    return bool(backed) and all(k.stops_on_pause for k in backed)


def drainers(lane: str, control: str | None = None) -> list[str]:
    """The drainers of `lane`'s kinds (those honouring `control`, if given), each once."""
    found = [k.drainer for k in kinds(lane) if control is None or control in k.honours]
    return list(dict.fromkeys(found))


def poke_drainers(lane: str, control: str | None = None) -> list[str]:
    """Poke (on commit) the drainers of the kinds an operator just freed; returns which."""
    funcs = drainers(lane, control)
    for func in funcs:
        poke(func, lane=lane)
    return funcs


# --- What is waiting in each lane, and what was done -------------------------------------------------


@dataclass(frozen=True)
class QueueDepth:
    lane: str
    kind: str
    depth: int
    oldest: datetime | None
    backlog: bool = False


def backlog_kind(kind: str) -> str:
    return f"{kind} (backlog)"


def queue_depths() -> list[QueueDepth]:
    """Every kind's depth; a backlog (items an operator moved aside) is listed as a kind of its own."""
    depths = []
    for k in kinds():
        depths.append(QueueDepth(k.lane, k.kind, *k.depth()))
        if k.backlog_depth is not None:
            depths.append(QueueDepth(k.lane, backlog_kind(k.kind), *k.backlog_depth(), backlog=True))
    return depths


def _empty_lane() -> dict:
    return {"depth": 0, "oldest_age_s": None, "kinds": {}, "backlog_depth": 0, "backlog_oldest_age_s": None}


def lane_snapshot() -> dict[str, dict]:
    """Per lane: total depth, oldest item's age in seconds (None when empty), depth by kind, and the
    same for its backlog (backlog_depth, backlog_oldest_age_s; backlog kinds are listed in kinds too).
    The age says how long claimable work has waited, so a backlog counts apart from it."""
    now = timezone.now()
    snapshot = {lane: _empty_lane() for lane in settings.LANES}
    for item in queue_depths():
        lane = snapshot.setdefault(item.lane, _empty_lane())
        prefix = "backlog_" if item.backlog else ""
        lane[f"{prefix}depth"] += item.depth
        lane["kinds"][item.kind] = item.depth
        if item.oldest is not None:
            age = (now - item.oldest).total_seconds()
            lane[f"{prefix}oldest_age_s"] = max(age, lane[f"{prefix}oldest_age_s"] or 0.0)
    return snapshot


def lane_done_since(since: datetime) -> dict[str, int]:
    """Per lane: items completed since `since`, summed over its kinds' throughput."""
    done = dict.fromkeys(settings.LANES, 0)
    for k in kinds():
        if k.done_since is not None:
            done[k.lane] = done.get(k.lane, 0) + k.done_since(since)
    return done
