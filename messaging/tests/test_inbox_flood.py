"""10,000 unmatched signed reports over real HTTP, with real live and bulk clusters: the live lane keeps
sending, a re-index started meanwhile completes, and the reports end up parked with their reason, in
admin, where Re-apply and Discard work."""

import json
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
import requests
from django.urls import reverse

from clinics.roles import OPERATIONS
from lanes import reindex
from lanes.models import LaneAction, ReindexJob, ReindexState
from lanes.pokes import LIVE, poke
from lanes.registry import lane_snapshot
from messaging import inbox
from messaging.authenticity import sim_headers
from messaging.models import Message, Status, WebhookInbox
from messaging.services import message_send
from messaging.simcarrier import CarrierConfig, SimCarrier
from tests.support.channels import SIM_SECRET
from tests.support.ledger import assert_ledger
from tests.support.processes import wait_for
from tests.support.seed import derived_columns, seeded

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]

REPORTS = 10_000
PER_POST = 250
INBOX_ADMIN = reverse("admin:messaging_webhookinbox_changelist")


def unmatched_reports(n: int) -> list[dict]:
    at = datetime.now(UTC).isoformat()
    return [
        {"id": f"stray-{i}", "ref": str(uuid.uuid4()), "message_id": f"SIMX{i}", "status": "delivered", "at": at}
        for i in range(n)
    ]


class Poster(threading.Thread):
    """Posts the reports to the webhook in signed batches, as a carrier that lost its mind would."""

    def __init__(self, url: str, reports: list[dict]):
        super().__init__(daemon=True)
        self.url, self.reports, self.codes = url, reports, Counter()

    def run(self):
        with requests.Session() as http:
            for i in range(0, len(self.reports), PER_POST):
                body = json.dumps({"reports": self.reports[i : i + PER_POST]}).encode()
                headers = {"Content-Type": "application/json", **sim_headers(body, SIM_SECRET)}
                self.codes[http.post(self.url, data=body, headers=headers, timeout=30).status_code] += 1


def parked(**filters) -> int:
    return WebhookInbox.objects.filter(parked_at__isnull=False, **filters).count()


def test_unmatched_reports_never_stop_the_live_lane_nor_a_reindex(
    lane_cluster, live_server, sim_settings, clinic_a, clinic_b, patient_a, make_user, client
):
    first, last, expected = seeded(clinic_b, 20_000)
    with SimCarrier(CarrierConfig(secret=SIM_SECRET, report_delay_ms=50)) as carrier:
        env = {
            "KALIX_SIMCARRIER_URL": carrier.url,
            "KALIX_SIMCARRIER_SECRET": SIM_SECRET,
            "KALIX_PUBLIC_URL": live_server.url,
            "KALIX_INBOX_MAX_TRIES": 3,
            "KALIX_INBOX_RETRY_BASE_SECONDS": 0.5,
            "KALIX_INBOX_RETRY_MAX_SECONDS": 1,
        }
        lane_cluster("live", **env)
        lane_cluster("bulk", KALIX_REINDEX_SLICE_SECONDS=5, **env)
        # throttled so that it runs through the whole flood (about 13 s), backing off when the live lane is late
        job = reindex.reindex_start(chunk_size=500, throttle=1_500)
        poster = Poster(live_server.url + reverse("messaging:webhook-sim"), unmatched_reports(REPORTS))
        poster.start()

        sent, live_ages = [], []

        def flood_over():
            if len(sent) < 300:  # new messages keep coming while it lasts
                sent.append(message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"Hello {len(sent)}"))
            live_ages.append(lane_snapshot()[LIVE]["oldest_age_s"] or 0.0)
            done = ReindexJob.objects.get(pk=job.pk).state == ReindexState.DONE
            return not poster.is_alive() and done and parked() == REPORTS

        wait_for(flood_over, timeout=150, interval=0.2, message="re-index done and every stray report parked")

        wait_for(
            lambda: not Message.objects.filter(pk__in=[m.pk for m in sent]).exclude(status=Status.SUCCESS).exists(),
            timeout=60,
            interval=0.5,
            message="every live message delivered",
        )

    assert poster.codes == {204: REPORTS // PER_POST}
    assert derived_columns(first, last) == expected, "the re-index put every seeded status right"
    assert parked(reason=inbox.NO_MATCH, tries=3) == REPORTS
    assert not [ref for ref, n in Counter(carrier.receipts).items() if n > 1], "nothing sent twice"
    assert {str(m.send_key) for m in Message.objects.filter(pk__in=[m.pk for m in sent])} <= set(carrier.sink)
    assert_ledger(expected=20_000 + len(sent))
    print(f"{len(sent)} live messages; live lane's oldest age during the flood: max {max(live_ages):.1f} s")

    # admin: the parked reports with their reason, Re-apply now, then Discard
    client.force_login(make_user("olga", groups=[OPERATIONS], is_staff=True))
    page = client.get(INBOX_ADMIN, {"state": "parked"})
    assert page.context["cl"].result_count == REPORTS
    assert inbox.NO_MATCH in page.content.decode()
    everything = {"_selected_action": [WebhookInbox.objects.first().pk], "select_across": "1"}

    client.post(f"{INBOX_ADMIN}?state=parked", {"action": "reapply", **everything})
    assert parked() < REPORTS, "put back as due"

    def parked_again():
        poke("messaging.worker.drain", lane=LIVE)  # as the safety-net schedule would
        return parked(tries=3) == REPORTS

    wait_for(parked_again, timeout=60, interval=0.5, message="the re-applied reports tried again and parked")

    response = client.post(f"{INBOX_ADMIN}?state=parked", {"action": "discard", **everything}, follow=True)
    assert f"Discarded {REPORTS} parked report(s)." in response.content.decode()
    assert not WebhookInbox.objects.exists()
    assert list(LaneAction.objects.filter(lane=LIVE).values_list("action", "rows")) == [
        ("reports_discard", REPORTS),
        ("reports_reapply", REPORTS),
    ]
