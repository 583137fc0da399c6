"""Pausing a lane stops work for every clinic, and pausing or cancelling a re-index throws away its
momentum: each asks for confirmation and a reason, and without a reason nothing happens. The reason
is kept in the LaneAction audit, shown on the dashboard and in the admin's audit log."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from lanes import controls, reindex
from lanes.models import LaneAction, ReindexState
from lanes.state import lane_state

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("admin:lanes_lane_changelist")
JOBS = reverse("admin:lanes_reindexjob_changelist")
PAUSE_LIVE = reverse("admin:lanes_lane_pause", args=["live"])
REASON = "Carrier incident: hold sends until they confirm"


@pytest.fixture
def job(clinic_a):
    from tests.support.seed import seed_messages

    seed_messages(clinic_id=clinic_a.pk, count=3)
    return reindex.reindex_start()


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_pause_without_a_reason_is_refused_and_changes_nothing(reason):
    with pytest.raises(ValidationError) as refused:
        controls.lane_pause(lane="live", reason=reason)

    assert "Say why" in refused.value.message_dict["reason"][0]
    assert not lane_state("live").paused and not LaneAction.objects.exists()


def test_the_reason_of_a_pause_is_kept_in_the_audit(staff_a):
    controls.lane_pause(lane="live", reason=f"  {REASON} ", actor=staff_a)

    action = LaneAction.objects.get()
    assert (action.action, action.reason, action.actor) == ("pause", REASON, staff_a)
    assert lane_state("live").paused


@pytest.mark.parametrize("move", [reindex.reindex_pause, reindex.reindex_cancel])
def test_a_reindex_pause_or_cancel_needs_a_reason(job, move):
    with pytest.raises(ValidationError) as refused:
        move(job=job, reason="")
    job.refresh_from_db()
    assert "reason" in refused.value.message_dict and job.state == ReindexState.QUEUED

    assert move(job=job, reason=REASON)
    assert LaneAction.objects.get(action=f"reindex_{move.__name__.removeprefix('reindex_')}").reason == REASON


def test_undoing_a_resume_pauses_only_with_a_reason():
    controls.lane_pause(lane="live", reason=REASON)
    resume = controls.lane_resume(lane="live")

    with pytest.raises(ValidationError):
        controls.lane_action_undo(action=resume)
    assert not lane_state("live").paused

    controls.lane_action_undo(action=resume, reason="Back on hold")
    assert lane_state("live").paused and LaneAction.objects.filter(reason="Back on hold").exists()


def test_the_dashboard_asks_for_confirmation_and_a_reason_before_pausing(client, ops):
    client.force_login(ops)
    dashboard = client.get(DASHBOARD).content.decode()
    assert f'action="{PAUSE_LIVE}" method="get"' in dashboard  # the button opens the confirmation page

    page = client.get(PAUSE_LIVE).content.decode()
    assert "messages, delivery reports, reminders, billing batches, status-page notices" in page
    assert 'name="reason"' in page and "for every clinic" in page
    assert not lane_state("live").paused

    refused = client.post(PAUSE_LIVE, {"reason": " "})
    assert refused.status_code == 200 and "Say why" in refused.content.decode()
    assert not lane_state("live").paused and not LaneAction.objects.exists()

    assert client.post(PAUSE_LIVE, {"reason": REASON}).status_code == 302
    assert lane_state("live").paused
    assert LaneAction.objects.get().reason == REASON
    assert REASON in client.get(DASHBOARD).content.decode()  # in the recent actions


def test_the_reindex_admin_asks_for_a_reason_before_pausing_or_cancelling(client, ops, job):
    client.force_login(ops)
    for action in ("pause", "cancel"):
        asked = client.post(JOBS, {"action": action, "_selected_action": [job.pk]})
        html = asked.content.decode()
        assert asked.status_code == 200 and 'name="reason"' in html and str(job) in html
        refused = client.post(JOBS, {"action": action, "_selected_action": [job.pk], "confirm": "yes", "reason": ""})
        assert "Say why" in refused.content.decode()
        job.refresh_from_db()
        assert job.state == ReindexState.QUEUED and not LaneAction.objects.exclude(action="reindex_start").exists()

    client.post(JOBS, {"action": "cancel", "_selected_action": [job.pk], "confirm": "yes", "reason": REASON})
    job.refresh_from_db()
    assert job.state == ReindexState.CANCELLED
    assert LaneAction.objects.get(action="reindex_cancel").reason == REASON


def test_the_command_line_needs_a_reason_too(job, capsys):
    with pytest.raises(CommandError):
        call_command("lanes", "pause", "live")
    with pytest.raises(CommandError):
        call_command("reindex", "--job", str(job.pk), "--cancel")
    assert not lane_state("live").paused and not LaneAction.objects.exclude(action="reindex_start").exists()

    call_command("lanes", "pause", "live", "--reason", REASON)
    call_command("reindex", "--job", str(job.pk), "--cancel", "--reason", REASON)

    assert lane_state("live").paused
    assert set(LaneAction.objects.filter(reason=REASON).values_list("action", flat=True)) == {"pause", "reindex_cancel"}
