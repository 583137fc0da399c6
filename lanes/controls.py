"""Operator controls on lanes: pause, resume, order, backlog and promote. Each is one service call,
one transaction, one LaneAction row (who, when, what, why, how many rows) that says how to reverse it.

A control acts only on a lane with a kind that honours it (lanes.registry); elsewhere it is refused with
a field error, and the dashboard does not offer it. A control that frees work pokes, on commit, the
drainers of the kinds it freed: resume every kind the pause stopped; restore, a larger backlog share
and promote the kinds whose queued rows they moved. Pausing a lane stops work for every clinic, so it
takes a reason, kept in the audit.

Re-prioritising is a data change on the queued rows themselves (each kind gives them: a `priority`,
lower first, and a `created_at`): a backlog item has its priority raised by LANE_BACKLOG_PRIORITY (so it
keeps its relative order and comes back exactly), a promoted item gets LANE_FRONT_PRIORITY and its old
priority is kept in the action's `undo`.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, IntegerField, Value, When
from django.utils import timezone

from lanes import registry
from lanes.models import Lane, LaneAction, LaneOrder
from lanes.registry import BACKLOG, ORDER, PAUSE, PROMOTE, poke_drainers
from lanes.stats import duration

CONTROL_PERMISSION = "lanes.control_lane"  # what the dashboard, the queued-rows admins and their URLs require
MAX_PROMOTE = 10_000  # a promotion keeps every old priority in its audit row


def _lane(name: str, control: str) -> Lane:
    """The locked Lane row of `name`, if some kind it carries honours `control` (else a field error)."""
    if name not in settings.LANES:
        raise ValidationError({"lane": f"Unknown lane {name!r}; lanes are {', '.join(settings.LANES)}."})
    if control not in registry.lane_controls(name):
        carried = "; ".join(f"{k.kind} honours {', '.join(sorted(k.honours))}" for k in registry.kinds(name))
        raise ValidationError({"lane": f"Nothing in the {name} lane honours {control} ({carried or 'no work'})."})
    lane, _ = Lane.objects.select_for_update().get_or_create(name=name)
    return lane


def _record(
    lane: str, action: str, actor, *, rows: int = 0, detail: str = "", reason: str = "", undo: dict | None = None
):
    return LaneAction.objects.create(
        lane=lane, action=action, actor=actor, rows=rows, detail=detail[:255], reason=reason, undo=undo or {}
    )


BUCKET_SETTINGS = {"rate_per_s": ("rate", "{:g}/s"), "burst": ("burst", "{}")}  # what an operator sets


def _bucket_settings(values: dict) -> str:
    return ", ".join(f"{word} {shown.format(values[field])}" for field, (word, shown) in BUCKET_SETTINGS.items())


def bucket_change_record(*, name: str, before: dict | None, after: dict | None, actor=None) -> LaneAction | None:
    """Audit an operator's add (before None), edit or delete (after None) of rate bucket `name`: what it
    limits to, old -> new. A bucket is on no lane (lane ""). None when neither rate nor burst changed."""
    if before is None:
        action, detail = "bucket_add", _bucket_settings(after)
    elif after is None:
        action, detail = "bucket_delete", f"deleted (was {_bucket_settings(before)})"
    else:
        action = "bucket_change"
        detail = ", ".join(
            f"{word} {shown.format(before[field])} -> {shown.format(after[field])}"
            for field, (word, shown) in BUCKET_SETTINGS.items()
            if before[field] != after[field]
        )
        if not detail:
            return None
    return _record("", action, actor, detail=f"{name}: {detail}")


def stopped_by_pause(lane: str) -> list[str]:
    """What pausing `lane` stops, in the words the dashboard uses."""
    return [k.kind for k in registry.kinds(lane) if k.stops_on_pause]


def required_reason(reason: str | None, *, why: str) -> str:
    """The operator's reason, trimmed to what the audit keeps; a field error if there is none."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": f"Say why: {why}"})
    return reason[:255]


def _queued(lane: str, control: str):
    """The queued rows of the kind of `lane` that honours `control` (backlog or promote)."""
    (kind, *others) = registry.kinds_honouring(lane, control)
    if others:  # one kind per lane today; a second would need the operator to say which
        raise ValidationError({"lane": f"Several kinds of the {lane} lane honour {control}."})
    return kind.queued(lane)


@transaction.atomic
def lane_pause(*, lane: str, reason: str | None, actor=None) -> LaneAction:
    """Workers stop claiming from `lane` with their next claim; work already claimed finishes. It stops
    work for every clinic, so it takes a reason, kept in the audit."""
    state = _lane(lane, PAUSE)
    stops = ", ".join(stopped_by_pause(lane))
    reason = required_reason(reason, why=f"pausing the {lane} lane stops {stops} for every clinic.")
    state.paused = True
    state.save(update_fields=["paused", "updated_at"])
    return _record(lane, "pause", actor, detail="paused", reason=reason, undo={"action": "resume"})


@transaction.atomic
def lane_resume(*, lane: str, reason: str = "", actor=None) -> LaneAction:
    state = _lane(lane, PAUSE)
    state.paused = False
    state.save(update_fields=["paused", "updated_at"])
    poke_drainers(lane, PAUSE)  # every kind the pause stopped
    return _record(lane, "resume", actor, detail="resumed", reason=reason.strip()[:255], undo={"action": "pause"})


@transaction.atomic
def lane_set_order(*, lane: str, order: str, actor=None) -> LaneAction:
    if order not in LaneOrder.values:
        raise ValidationError({"order": f"Choose one of {', '.join(LaneOrder.values)}."})
    state = _lane(lane, ORDER)
    before = state.order
    state.order = order
    state.save(update_fields=["order", "updated_at"])
    return _record(
        lane, "order", actor, detail=f"{LaneOrder(order).label.lower()}", undo={"action": "order", "order": before}
    )


@transaction.atomic
def lane_set_backlog_share(*, lane: str, share: float, actor=None) -> LaneAction:
    if not 0 <= share <= 1:
        raise ValidationError({"backlog_share": "A share is between 0 and 1."})
    state = _lane(lane, BACKLOG)
    before = state.backlog_share
    state.backlog_share = share
    state.save(update_fields=["backlog_share", "updated_at"])
    if share > before:
        poke_drainers(lane, BACKLOG)  # a larger share frees backlog items for the next claims
    undo = {"action": "backlog_share", "share": before}
    return _record(lane, "backlog_share", actor, detail=f"backlog share {share:.0%}", undo=undo)


@transaction.atomic
def lane_move_to_backlog(
    *, lane: str, older_than: timedelta | None = None, ids: list[int] | None = None, actor=None
) -> LaneAction:
    """Move queued items of `lane` created more than `older_than` ago (or the given ids) to its backlog."""
    if older_than is None and ids is None:
        raise ValidationError({"older_than": "Say which items: older than a time, or selected ones."})
    _lane(lane, BACKLOG)
    backlog = settings.LANE_BACKLOG_PRIORITY
    rows = _queued(lane, BACKLOG).filter(priority__lt=backlog)
    what = []
    if older_than is not None:
        rows = rows.filter(created_at__lt=timezone.now() - older_than)
        what.append(f"older than {duration(older_than.total_seconds())}")  # not "16:40:00", a time of day
    if ids is not None:
        rows = rows.filter(id__in=ids)
        what.append(f"{len(ids)} selected")
    moved = rows.update(priority=F("priority") + backlog)
    return _record(
        lane, "to_backlog", actor, rows=moved, detail=f"to backlog: {', '.join(what)}", undo={"action": "restore"}
    )


@transaction.atomic
def lane_restore_backlog(*, lane: str, ids: list[int] | None = None, actor=None) -> LaneAction:
    """Put backlog items (all, or the given ids) back in the primary queue, in their old order."""
    _lane(lane, BACKLOG)
    backlog = settings.LANE_BACKLOG_PRIORITY
    rows = _queued(lane, BACKLOG).filter(priority__gte=backlog)
    if ids is not None:
        rows = rows.filter(id__in=ids)
    restored = rows.update(priority=F("priority") - backlog)
    poke_drainers(lane, BACKLOG)
    return _record(lane, "restore", actor, rows=restored, detail="backlog back to the primary queue")


@transaction.atomic
def lane_promote(*, ids: list[int], lane: str, actor=None) -> LaneAction:
    """Put these queued items of `lane` at the front (out of the backlog too); reversible."""
    if len(ids) > MAX_PROMOTE:
        raise ValidationError({"ids": f"Promote at most {MAX_PROMOTE} items at once."})
    _lane(lane, PROMOTE)
    front = settings.LANE_FRONT_PRIORITY
    queued = _queued(lane, PROMOTE)
    before = dict(queued.filter(id__in=ids).exclude(priority=front).values_list("id", "priority"))
    promoted = queued.filter(id__in=list(before)).update(priority=front)
    poke_drainers(lane, PROMOTE)
    undo = {"action": "priorities", "priorities": {str(k): v for k, v in before.items()}}
    return _record(lane, "promote", actor, rows=promoted, detail=f"{promoted} to the front", undo=undo)


def lane_action_undo(*, action: LaneAction, actor=None, reason: str = "") -> LaneAction:
    """Reverse a recorded action; the reversal is recorded too. Undoing a resume pauses: that takes a
    reason, as any pause does."""
    with transaction.atomic():
        action = LaneAction.objects.select_for_update().get(pk=action.pk)
        if action.undone_by_id or not action.undo:
            raise ValidationError("This action was already reversed or cannot be.")
        how = action.undo["action"]
        if how == "resume":
            done = lane_resume(lane=action.lane, actor=actor)
        elif how == "pause":
            done = lane_pause(lane=action.lane, reason=reason, actor=actor)
        elif how == "order":
            done = lane_set_order(lane=action.lane, order=action.undo["order"], actor=actor)
        elif how == "backlog_share":
            done = lane_set_backlog_share(lane=action.lane, share=action.undo["share"], actor=actor)
        elif how == "restore":
            done = lane_restore_backlog(lane=action.lane, actor=actor)
        elif how == "priorities":
            done = _restore_priorities(action, actor)
        else:
            raise ValidationError(f"Unknown reversal {how!r}.")
        action.undone_by = done
        action.save(update_fields=["undone_by"])
    return done


def _restore_priorities(action: LaneAction, actor) -> LaneAction:
    old = {int(k): v for k, v in action.undo["priorities"].items()}
    whens = [When(id=k, then=Value(v)) for k, v in old.items()]
    restored = 0
    if whens:
        restored = (
            _queued(action.lane, PROMOTE)
            .filter(id__in=list(old), priority=settings.LANE_FRONT_PRIORITY)
            .update(priority=Case(*whens, output_field=IntegerField()))
        )
    return _record(action.lane, "undo_promote", actor, rows=restored, detail=f"undo of action #{action.pk}")
