"""Lane controls mean what the dashboard says, for every kind of work a lane carries (messages, delivery
reports, billing batches, status-page notices on the live lane; re-index rows on the bulk lane): a
pause stops every kind the dashboard lists as stopped, controls are offered and accepted only where a
kind honours them, and every control that frees work pokes the drainers of the kinds it freed."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from lanes import controls, registry
from lanes.models import LaneAction, WaitingPoke
from lanes.pokes import BULK, LIVE
from lanes.stats import dashboard
from messaging.services import message_send

LIVE_DRAINERS = {
    "live:messaging.worker.drain",
    "live:messaging.reminders.drain",
    "live:billing.batches.drain_batch_requests",
    "live:statuspage.notify.deliver_due",
}


def waiting_pokes() -> set[str]:
    return set(WaitingPoke.objects.values_list("key", flat=True))


@pytest.fixture
def no_pokes_waiting(db):
    WaitingPoke.objects.all().delete()


def test_the_live_lane_carries_every_domain_kind_each_with_its_drainer():
    carried = {k.kind: k.drainer for k in registry.kinds(LIVE)}
    assert carried == {
        "messages": "messaging.worker.drain",
        "delivery reports": "messaging.worker.drain",
        "reminders": "messaging.reminders.drain",
        "billing batches": "billing.batches.drain_batch_requests",
        "status-page notices": "statuspage.notify.deliver_due",
    }
    assert {f"live:{func}" for func in registry.drainers(LIVE)} == LIVE_DRAINERS


def test_resume_pokes_every_drainer_of_the_live_lane(no_pokes_waiting, django_capture_on_commit_callbacks):
    controls.lane_pause(lane=LIVE, reason="test")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        controls.lane_resume(lane=LIVE)

    assert waiting_pokes() == LIVE_DRAINERS


@pytest.mark.django_db(transaction=True)
def test_promote_and_restore_poke_the_message_drainer(clinic_a):
    from datetime import timedelta

    message = message_send(clinic=clinic_a, channel="sms", recipient="+61412000003", body="Reminder")
    controls.lane_move_to_backlog(lane=LIVE, older_than=timedelta(0))
    WaitingPoke.objects.all().delete()  # the send's own poke, as if its task had started

    controls.lane_restore_backlog(lane=LIVE)
    assert waiting_pokes() == {"live:messaging.worker.drain"}

    WaitingPoke.objects.all().delete()
    controls.lane_promote(lane=LIVE, ids=[message.pk])
    assert waiting_pokes() == {"live:messaging.worker.drain"}


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
def test_resuming_a_paused_live_lane_sends_what_waited_at_once(lane_cluster, carrier, clinic_a, patient_a):
    """On a real live cluster, with no safety-net schedule: only the resume's poke can send it."""
    import time

    from django_q.models import Schedule

    from messaging.models import Dispatch, Message
    from tests.support.channels import SIM_SECRET
    from tests.support.processes import wait_for

    Schedule.objects.all().delete()
    controls.lane_pause(lane=LIVE, reason="test")
    lane_cluster(LIVE, KALIX_SIMCARRIER_URL=carrier.url, KALIX_SIMCARRIER_SECRET=SIM_SECRET)
    message = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Your results are in")
    wait_for(lambda: not WaitingPoke.objects.exists(), timeout=15, message="the send's poke to start")
    time.sleep(1)  # its drain found the lane paused
    assert Message.objects.get(pk=message.pk).dispatch == Dispatch.QUEUED and not carrier.sink

    controls.lane_resume(lane=LIVE)

    wait_for(
        lambda: Message.objects.get(pk=message.pk).dispatch == Dispatch.HANDED_OFF,
        timeout=10,
        message="the message handed off after the resume",
    )
    assert len(carrier.sink) == 1


@pytest.fixture
def live_work(clinic_a, staff_a, patient_a, payer_a, make_invoice, carrier, smtp_server):
    """One item of every kind the live lane carries, waiting: a queued message, a delivery report for a
    message already handed to the carrier, a requested billing batch, a status-page notice."""
    from billing.batches import batch_request
    from messaging import worker
    from messaging.models import WebhookInbox
    from statuspage import services as statuspage_services

    sent = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Your results are in")
    worker.drain()
    sent.refresh_from_db()
    assert sent.provider_message_id and len(carrier.sink) == 1
    now = timezone.now()
    WebhookInbox.objects.create(
        provider=sent.provider,
        provider_message_id=sent.provider_message_id,
        event_id="report-1",
        kind="delivered",
        occurred_at=now,
        received_at=now,
    )
    queued = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="See you tomorrow")
    make_invoice(patient=patient_a, payer=payer_a)
    batch, _ = batch_request(clinic=clinic_a, requested_by=staff_a, payer=payer_a, cutoff_date=date.today())
    subscriber = statuspage_services.subscriber_add(email="pat@example.com")  # queues its confirmation
    return {"sent": sent, "queued": queued, "batch": batch, "notice": subscriber.notices.get()}


def work_the_live_lane():
    """What pokes and schedules run on the live lane: every drainer, then every schedule that a pause
    is said to stop (periodic work that keeps running is not a queue of these kinds)."""
    for func in registry.drainers(LIVE):
        import_string(func)()
    for schedule in registry.schedules(LIVE):
        if registry.schedule_stops_on_pause(schedule):
            import_string(schedule.func)()


def test_a_paused_live_lane_works_off_none_of_the_kinds_it_stops(live_work, carrier, smtp_server):
    from messaging.models import Dispatch, Message, WebhookInbox
    from statuspage.models import Notice

    controls.lane_pause(lane=LIVE, reason="test")
    work_the_live_lane()

    assert Message.objects.get(pk=live_work["queued"].pk).dispatch == Dispatch.QUEUED  # sends no message
    assert len(carrier.sink) == 1
    assert WebhookInbox.objects.filter(event_id="report-1").exists()  # applies no report
    live_work["batch"].refresh_from_db()
    assert live_work["batch"].status == "requested"  # builds no batch
    assert Notice.objects.get(pk=live_work["notice"].pk).state == Notice.PENDING  # sends no notice
    assert smtp_server.messages == []

    controls.lane_resume(lane=LIVE)
    work_the_live_lane()

    assert Message.objects.get(pk=live_work["queued"].pk).dispatch == Dispatch.HANDED_OFF
    assert not WebhookInbox.objects.exists()
    assert Message.objects.get(pk=live_work["sent"].pk).status == "success"
    live_work["batch"].refresh_from_db()
    assert live_work["batch"].status == "open"
    assert Notice.objects.get(pk=live_work["notice"].pk).state == Notice.SENT
    assert len(smtp_server.messages) == 1


def test_the_dashboard_says_exactly_which_kinds_a_pause_stops(db):
    lanes = {lane["name"]: lane for lane in dashboard()}

    assert lanes["live"]["stops_on_pause"] == [
        "messages",
        "delivery reports",
        "reminders",
        "billing batches",
        "status-page notices",
    ]
    assert lanes["live"]["runs_while_paused"] == ["statuspage: maintenance windows", "statuspage: queue monitor"]
    assert lanes["bulk"]["stops_on_pause"] == ["re-index rows", "bulk sends"]
    assert lanes["bulk"]["runs_while_paused"] == [
        "queueops: lane samples",
        "queueops: purge old heartbeats",
        "clinics: housekeeping",
    ]


def test_a_paused_bulk_lane_runs_no_reindex(clinic_a):
    from lanes import reindex
    from lanes.models import ReindexState
    from tests.support.seed import seeded

    seeded(clinic_a, 20)
    job = reindex.reindex_start(chunk_size=10)
    controls.lane_pause(lane=BULK, reason="test")

    assert reindex.run_pending() == 0
    assert reindex.run(job.pk) == "lane paused"
    job.refresh_from_db()
    assert (job.state, job.rows_done) == (ReindexState.RUNNING, 0)


@pytest.mark.parametrize(
    "control",
    [
        lambda: controls.lane_set_order(lane=BULK, order="newest"),
        lambda: controls.lane_set_backlog_share(lane=BULK, share=0.5),
        lambda: controls.lane_move_to_backlog(lane=BULK, older_than=timedelta(minutes=1)),
        lambda: controls.lane_restore_backlog(lane=BULK),
        lambda: controls.lane_promote(lane=BULK, ids=[1]),
    ],
    ids=["order", "share", "backlog", "restore", "promote"],
)
def test_controls_that_act_on_nothing_in_a_lane_are_refused(db, control):
    """The bulk lane carries re-index rows, which honour pause only."""
    with pytest.raises(ValidationError) as refused:
        control()

    assert "re-index rows honours pause" in refused.value.message_dict["lane"][0]
    assert not LaneAction.objects.exists()
    assert registry.lane_controls(BULK) == {"pause"}
    assert registry.lane_controls(LIVE) == {"pause", "order", "backlog", "promote"}
