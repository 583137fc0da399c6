"""PostgreSQL restarts (or every session is cut) while a real live-lane cluster sends through the
simulated carrier and delivery reports come back over real HTTP. Nobody touches anything afterwards:
workers, the web process and the carrier's retries bring every message to its final status."""

import pytest
from django.db import transaction

from lanes.pokes import LIVE
from messaging.models import Dispatch, Message, Status
from messaging.services import message_send
from messaging.simcarrier import CarrierConfig, SimCarrier
from tests.support.channels import SIM_SECRET
from tests.support.ledger import assert_ledger, restart_database
from tests.support.processes import wait_for

# exclusive: on the embedded server it restarts PostgreSQL itself, under every other test's feet; `make test`
# runs it alone after the parallel run
pytestmark = [pytest.mark.cluster, pytest.mark.exclusive, pytest.mark.django_db(transaction=True)]

N = 300


def test_database_restart_mid_run_recovers_without_a_hand(
    lane_cluster, live_server, sim_settings, safety_net, clinic_a, patient_a
):
    config = CarrierConfig(secret=SIM_SECRET, latency_ms=200, report_delay_ms=300, duplicate_rate=0.2, seed=3)
    with SimCarrier(config) as carrier:
        sim_settings.SIMCARRIER_URL = carrier.url
        env = {
            "KALIX_SIMCARRIER_URL": carrier.url,
            "KALIX_SIMCARRIER_SECRET": SIM_SECRET,
            "KALIX_PUBLIC_URL": live_server.url,
            "KALIX_MESSAGING_BATCH_SIZE": 5,  # ~6 s of hand-offs: the restart lands mid-run
            "KALIX_MESSAGING_PER_MESSAGE_BATCH_SIZE": 5,  # (the carrier takes one message a request)
            "KALIX_MESSAGING_RECOVERY_GRACE_SECONDS": 1,
        }
        with transaction.atomic():  # one commit, one poke
            for i in range(N):
                message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"Reminder {i}")
        lane_cluster(LIVE, workers=2, **env)
        wait_for(lambda: len(carrier.receipts) >= N // 10, timeout=60, message="a tenth handed to the carrier")

        cut_at = len(carrier.receipts)
        how = restart_database()
        assert len(carrier.receipts) < N, "the restart came too late to test anything"

        def settled():  # only looks: no poke, no drain from here
            # Delivery reports may make a message Success before the recovery settles a hand-off the cut
            # interrupted (dispatch still handing_off): wait for both, as assert_ledger checks both.
            return not (
                Message.objects.filter(status__in=[Status.PENDING, Status.SENDING]).exists()
                or Message.objects.filter(dispatch__in=[Dispatch.QUEUED, Dispatch.HANDING_OFF]).exists()
            )

        wait_for(settled, timeout=150, interval=1.0, message="every message delivered after the restart")
        wait_for(lambda: carrier.pending_reports() == 0, timeout=30, message="every report acknowledged")

    assert_ledger(expected=N, carrier=carrier, final={Status.SUCCESS})
    print(f"database cut by: {how}; carrier had {cut_at} of {N} when it went down")
