"""Operator controls change which messages the live lane's workers claim, and every change is recorded
and reversible."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from lanes import controls as lane_controls
from lanes.models import LaneAction, LaneOrder
from lanes.registry import lane_snapshot
from messaging.models import Message
from messaging.services import message_send
from messaging.worker import claim_batch, release_claim

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(clinic_a):
    """Five queued SMS, oldest first; the first two were created an hour ago."""
    ids = [
        message_send(clinic=clinic_a, channel="sms", recipient=f"+6141200000{n}", body="Reminder").pk for n in range(5)
    ]
    Message.objects.filter(id__in=ids[:2]).update(created_at=timezone.now() - timedelta(hours=1))
    return ids


def claim_order(limit=1) -> list[int]:
    """Claim batches of `limit` until nothing is left; the ids in the order workers got them."""
    order = []
    while True:
        token, claimed = claim_batch(lane="live", limit=limit)
        release_claim(token)
        if not claimed:
            return order
        order += sorted(c.id for c in claimed)


def test_oldest_first_by_default(queued):
    assert claim_order() == queued


def test_newest_first(queued, staff_a):
    action = lane_controls.lane_set_order(lane="live", order=LaneOrder.NEWEST, actor=staff_a)

    assert claim_order() == queued[::-1]
    assert (action.actor, action.action, action.detail) == (staff_a, "order", "newest first")


def test_backlog_is_claimed_only_when_the_primary_queue_is_empty(queued, staff_a):
    action = lane_controls.lane_move_to_backlog(lane="live", older_than=timedelta(minutes=30), actor=staff_a)

    assert action.rows == 2
    assert claim_order() == queued[2:] + queued[:2]


def test_backlog_share_takes_part_of_every_batch(queued):
    lane_controls.lane_move_to_backlog(lane="live", older_than=timedelta(minutes=30))
    lane_controls.lane_set_backlog_share(lane="live", share=0.5)

    token, claimed = claim_batch(lane="live", limit=2)
    release_claim(token)

    assert sorted(c.id for c in claimed) == [queued[0], queued[2]]


def test_backlog_shows_apart_and_restores_in_the_old_order(queued):
    lane_controls.lane_move_to_backlog(lane="live", older_than=timedelta(minutes=30))
    live = lane_snapshot()["live"]
    assert (live["depth"], live["backlog_depth"], live["kinds"]["messages (backlog)"]) == (3, 2, 2)
    assert live["backlog_oldest_age_s"] > 3000 > live["oldest_age_s"]

    undo = lane_controls.lane_action_undo(action=LaneAction.objects.get(action="to_backlog"))

    assert undo.rows == 2
    assert claim_order() == queued


def test_promote_puts_selected_first_and_undo_puts_them_back(queued, staff_a):
    promote = lane_controls.lane_promote(lane="live", ids=[queued[3], queued[4]], actor=staff_a)
    assert promote.rows == 2
    lane_controls.lane_action_undo(action=promote, actor=staff_a)
    promote.refresh_from_db()
    assert promote.undone_by.action == "undo_promote"
    assert claim_order() == queued


def test_promoted_go_first(queued):
    lane_controls.lane_promote(lane="live", ids=[queued[4]])

    assert claim_order() == [queued[4], *queued[:4]]


def test_paused_lane_claims_nothing_until_resumed(queued, staff_a):
    lane_controls.lane_pause(lane="live", reason="test", actor=staff_a)
    token, claimed = claim_batch(lane="live", limit=10)
    release_claim(token)
    assert claimed == []

    lane_controls.lane_resume(lane="live", actor=staff_a)
    assert claim_order(limit=10) == queued
    assert list(LaneAction.objects.values_list("action", "actor__username")) == [
        ("resume", "alice"),
        ("pause", "alice"),
    ]


def test_manage_py_lanes_moves_and_restores(queued, capsys):
    call_command("lanes", "backlog", "live", "--older-than", "30m")
    moved = LaneAction.objects.get()
    call_command("lanes", "undo", str(moved.pk))
    call_command("lanes", "log")

    out = capsys.readouterr().out
    assert "to_backlog" in out and "restore" in out and "command line" in out
    assert claim_order() == queued


def test_bad_input_gives_field_errors_and_records_nothing(queued):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        lane_controls.lane_set_order(lane="live", order="sideways")
    with pytest.raises(ValidationError):
        lane_controls.lane_set_backlog_share(lane="live", share=2)
    with pytest.raises(ValidationError):
        lane_controls.lane_pause(lane="nowhere", reason="test")
    assert not LaneAction.objects.exists()


def test_manage_py_lanes_status_says_what_a_pause_stops_and_steers_only_what_acts(capsys):
    call_command("lanes", "status")

    live, bulk = capsys.readouterr().out.splitlines()
    assert "oldest first, backlog share 0%" in live
    assert live.endswith("a pause stops messages, delivery reports, reminders, billing batches, status-page notices")
    assert "first" not in bulk and "backlog share" not in bulk
    assert bulk.endswith("a pause stops re-index rows, bulk sends")
