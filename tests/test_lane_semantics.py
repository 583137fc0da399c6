"""Lane controls mean what the dashboard says, for every kind of work a lane carries (messages, delivery
reports, billing batches, status-page notices on the live lane; re-index rows on the bulk lane):
every control that frees work pokes the drainers of the kinds it freed."""

import pytest
from django.db import transaction

from lanes import controls, registry
from lanes.models import WaitingPoke
from lanes.pokes import LIVE
from messaging.services import message_send

LIVE_DRAINERS = {
    "live:messaging.worker.drain",
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
        "billing batches": "billing.batches.drain_batch_requests",
        "status-page notices": "statuspage.notify.deliver_due",
    }
    assert {f"live:{func}" for func in registry.drainers(LIVE)} == LIVE_DRAINERS


def test_resume_pokes_every_drainer_of_the_live_lane(no_pokes_waiting, django_capture_on_commit_callbacks):
    controls.lane_pause(lane=LIVE)
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

    from kalix_site.testing import wait_for
    from messaging.models import Dispatch, Message
    from messaging.tests.conftest import SIM_SECRET

    Schedule.objects.all().delete()
    controls.lane_pause(lane=LIVE)
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
