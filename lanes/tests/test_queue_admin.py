"""The queue dashboard and admin actions: Operations and superusers see and act; Support and clinic staff
get neither (queue operations hidden from them, URLs 403)."""

import pytest
from django.urls import reverse

from clinics.roles import CLINIC_STAFF
from lanes.models import LaneAction, ReindexJob
from lanes.state import lane_state
from messaging.models import Message
from messaging.services import message_send

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("admin:lanes_lane_changelist")
JOBS = reverse("admin:lanes_reindexjob_changelist")
QUEUED = reverse("admin:messaging_queuedmessage_changelist")


@pytest.fixture
def clinic_staff_in_admin(make_user, clinic_a):
    return make_user("carl", clinics=[clinic_a], groups=[CLINIC_STAFF], is_staff=True)


def control(lane, command):
    return reverse("admin:lanes_lane_control", args=[lane, command])


def test_operations_see_the_dashboard_with_controls(client, ops):
    client.force_login(ops)
    page = client.get(DASHBOARD)

    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="lane-live"' in html and 'id="lane-bulk"' in html
    assert "<svg" in html and "Workers alive" in html and "Tasks in the broker" in html
    assert "Pause live" in html and "Trigger re-index" in html


def test_operations_pause_and_resume_a_lane_and_it_is_recorded(client, ops):
    client.force_login(ops)

    assert client.post(control("live", "pause"), {"reason": "carrier outage"}).status_code == 302  # a pause needs why
    assert lane_state("live").paused
    assert client.post(control("live", "resume")).status_code == 302
    assert not lane_state("live").paused
    assert list(LaneAction.objects.values_list("action", "actor__username")) == [
        ("resume", "olga"),
        ("pause", "olga"),
    ]


def test_operations_undo_from_the_dashboard(client, ops):
    client.force_login(ops)
    client.post(control("live", "order"), {"order": "newest"})  # the live lane: order acts on nothing in bulk
    action = LaneAction.objects.get()

    client.post(reverse("admin:lane_undo", args=[action.pk]))

    assert lane_state("live").order == "oldest"


def test_the_dashboard_offers_a_control_only_where_it_acts(client, ops):
    client.force_login(ops)
    html = client.get(DASHBOARD).content.decode()
    live, bulk = html.split('id="lane-live"')[1].split('id="lane-bulk"')

    assert all(label in live for label in ("Pause live", "Newest first", "Move to backlog", "Set backlog share"))
    assert "Pause bulk" in bulk
    assert not any(label in bulk for label in ("Newest first", "Move to backlog", "Restore backlog", "backlog share"))
    assert "messages, delivery reports, reminders, billing batches, status-page notices" in live
    assert "keeps running: statuspage: maintenance windows, statuspage: queue monitor" in live

    response = client.post(control("bulk", "order"), {"order": "newest"}, follow=True)
    assert "Nothing in the bulk lane honours order" in response.content.decode()
    assert not LaneAction.objects.exists() and lane_state("bulk").order == "oldest"


def test_a_paused_lane_says_what_stopped(client, ops):
    from lanes.controls import lane_pause

    lane_pause(lane="live", reason="test")
    client.force_login(ops)
    live = client.get(DASHBOARD).content.decode().split('id="lane-live"')[1].split('id="lane-bulk"')[0]

    assert "PAUSED" in live
    assert "Stopped: messages, delivery reports, reminders, billing batches, status-page notices." in live


def test_support_gets_no_dashboard_and_cannot_post(client, support):
    client.force_login(support)

    assert client.get(DASHBOARD).status_code == 403
    for lane, command in [("live", "pause"), ("live", "backlog"), ("bulk", "order"), ("live", "restore")]:
        assert client.post(control(lane, command), {"older_than_minutes": 1}).status_code == 403
    assert client.post(reverse("admin:lane_undo", args=[1])).status_code == 403
    assert not LaneAction.objects.exists() and not lane_state("live").paused


def test_support_cannot_start_or_steer_a_reindex(client, support):
    client.force_login(support)

    assert client.get(reverse("admin:lanes_reindexjob_add")).status_code == 403
    assert client.post(reverse("admin:lanes_reindexjob_add"), {"scope": "all", "throttle": 0}).status_code == 403
    assert client.get(JOBS).status_code == 403
    assert client.post(JOBS, {"action": "pause", "_selected_action": [1]}).status_code == 403
    assert not ReindexJob.objects.exists()


def test_support_has_no_reprioritise_actions(client, support, clinic_a):
    message = message_send(clinic=clinic_a, channel="sms", recipient="+61412000009", body="x")
    client.force_login(support)

    assert client.get(QUEUED).status_code == 403
    assert client.post(QUEUED, {"action": "promote", "_selected_action": [message.pk]}).status_code == 403
    message.refresh_from_db()
    assert message.priority == 100 and not LaneAction.objects.exists()


def test_the_admin_index_hides_queue_operations_from_support(client, support, ops):
    client.force_login(support)
    assert "Re-index jobs" not in client.get(reverse("admin:index")).content.decode()

    client.force_login(ops)
    assert "Re-index jobs" in client.get(reverse("admin:index")).content.decode()


def test_clinic_staff_get_nothing(client, clinic_staff_in_admin):
    client.force_login(clinic_staff_in_admin)

    assert client.get(DASHBOARD).status_code == 403
    assert client.post(control("live", "pause")).status_code == 403
    assert client.get(reverse("admin:lanes_reindexjob_add")).status_code == 403
    assert client.get(JOBS).status_code == 403


def test_operations_promote_selected_messages(client, ops, clinic_a):
    first = message_send(clinic=clinic_a, channel="sms", recipient="+61412000007", body="x")
    second = message_send(clinic=clinic_a, channel="sms", recipient="+61412000008", body="x")
    client.force_login(ops)

    page = client.get(QUEUED)
    assert 'value="promote"' in page.content.decode()
    assert "+61412000007" not in page.content.decode()  # operators steer; they do not read recipients
    client.post(QUEUED, {"action": "promote", "_selected_action": [second.pk]})

    assert Message.objects.get(pk=second.pk).priority == 0
    assert Message.objects.get(pk=first.pk).priority == 100
    assert LaneAction.objects.get().actor == ops


def test_operations_trigger_a_reindex_and_set_its_throttle(client, ops, clinic_a):
    message_send(clinic=clinic_a, channel="sms", recipient="+61412000009", body="x")  # a job over nothing is done
    client.force_login(ops)

    response = client.post(reverse("admin:lanes_reindexjob_add"), {"scope": "all", "throttle": 500})
    assert response.status_code == 302
    job = ReindexJob.objects.get()
    assert (job.throttle, job.created_by) == (500, ops)

    client.post(reverse("admin:lanes_reindexjob_change", args=[job.pk]), {"throttle": 50})
    job.refresh_from_db()
    assert job.throttle == 50
    assert client.get(JOBS).content.decode().count("data-percent=") == 1

    client.post(JOBS, {"action": "pause", "_selected_action": [job.pk], "confirm": "yes", "reason": "load test"})
    job.refresh_from_db()
    assert job.state == "paused"


def test_a_bad_reindex_scope_shows_field_errors(client, ops):
    client.force_login(ops)

    page = client.post(reverse("admin:lanes_reindexjob_add"), {"scope": "clinic", "throttle": 0})

    assert page.status_code == 200
    assert "Choose the clinic to re-index." in page.content.decode()
    assert not ReindexJob.objects.exists()


def test_backing_off_is_shown_in_admin(client, ops, clinic_a):
    from lanes.reindex import reindex_start

    message_send(clinic=clinic_a, channel="sms", recipient="+61412000009", body="x")  # a job over nothing is done
    job = reindex_start()
    ReindexJob.objects.filter(pk=job.pk).update(waiting="Backing off: the live lane's oldest item is 42s old")
    client.force_login(ops)

    assert "Backing off: the live lane" in client.get(DASHBOARD).content.decode()
    assert "Backing off: the live lane" in client.get(JOBS).content.decode()


def test_operations_trigger_a_reindex_again_as_an_admin_action(client, ops, clinic_a):
    from lanes.reindex import reindex_start

    old = reindex_start(scope="clinic", clinic=clinic_a, throttle=300)
    client.force_login(ops)

    client.post(JOBS, {"action": "reindex_again", "_selected_action": [old.pk]})

    new = ReindexJob.objects.exclude(pk=old.pk).get()
    assert (new.scope, new.clinic, new.throttle, new.created_by) == ("clinic", clinic_a, 300, ops)


def flashed(response) -> list[str]:
    from django.contrib.messages import get_messages

    return [str(m) for m in get_messages(response.wsgi_request)]


def test_an_empty_backlog_share_is_refused_not_taken_as_zero(client, ops):
    """A number box sends "" for "abc"; the dashboard answered "Live: backlog share 0% (0 rows)"."""
    from lanes.controls import lane_set_backlog_share

    lane_set_backlog_share(lane="live", share=0.25)
    client.force_login(ops)

    response = client.post(control("live", "share"), {"share": ""})

    assert flashed(response) == ["Not done: Enter a share from 0 to 1."]
    assert lane_state("live").backlog_share == 0.25 and LaneAction.objects.count() == 1


def test_a_share_that_is_no_number_is_refused_in_words(client, ops):
    client.force_login(ops)

    response = client.post(control("live", "share"), {"share": "abc"})

    assert flashed(response) == ["Not done: share: Enter a number."]
    assert not LaneAction.objects.exists()


def test_move_to_backlog_says_how_old_as_a_duration_not_a_time_of_day(client, ops):
    """1000 minutes was reported as "older than 16:40:00"."""
    client.force_login(ops)

    response = client.post(control("live", "backlog"), {"older_than_minutes": "1000"})

    assert LaneAction.objects.get().detail == "to backlog: older than 16h 40m"
    assert "older than 16h 40m" in flashed(response)[0]


@pytest.fixture
def finished_job(clinic_a):
    from lanes import reindex
    from lanes.models import ReindexState
    from tests.support.seed import seed_messages

    seed_messages(clinic_id=clinic_a.pk, count=3)
    job = reindex.reindex_start()
    ReindexJob.objects.filter(pk=job.pk).update(state=ReindexState.DONE)
    return job


def levels(response) -> list[tuple[str, str]]:
    from django.contrib.messages import get_messages

    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize(
    "action, verb, extra",
    [
        ("pause", "paused", {"confirm": "yes", "reason": "carrier incident"}),
        ("resume", "resumed", {}),
        ("cancel", "cancelled", {"confirm": "yes", "reason": "wrong scope"}),
    ],
)
def test_a_job_that_could_not_be_moved_says_why_as_a_warning(client, ops, finished_job, action, verb, extra):
    """It said "Paused 0 job(s); 1 could not be", as a success, with no reason: the job had finished."""
    client.force_login(ops)

    response = client.post(JOBS, {"action": action, "_selected_action": [finished_job.pk], **extra})

    assert levels(response) == [("warning", f"Re-index #{finished_job.pk} could not be {verb}: it has finished.")]


def test_moving_some_jobs_says_how_many_moved_and_why_the_others_did_not(client, ops, finished_job):
    from lanes import reindex

    running = reindex.reindex_start()
    client.force_login(ops)
    selected = [finished_job.pk, running.pk]

    response = client.post(JOBS, {"action": "pause", "_selected_action": selected, "confirm": "yes", "reason": "r"})

    assert levels(response) == [
        ("info", "Paused 1 job(s)."),
        ("warning", f"Re-index #{finished_job.pk} could not be paused: it has finished."),
    ]
    client.get(JOBS)  # shows, and so clears, those messages
    response = client.post(JOBS, {"action": "resume", "_selected_action": selected})
    assert levels(response) == [
        ("info", "Resumed 1 job(s)."),
        ("warning", f"Re-index #{finished_job.pk} could not be resumed: it has finished."),
    ]
