"""Delivery reports over real HTTP, signed like the carrier's: every one posted twice (some in parallel
requests), finals before 'sent', and late 'sent' reports after the finals were applied."""

import json
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.db.models import Count
from django.urls import reverse

from messaging import worker
from messaging.authenticity import sim_headers
from messaging.models import DeliveryEvent, Message, Status, WebhookInbox
from messaging.services import message_send
from tests.support.channels import SIM_SECRET
from tests.support.ledger import assert_ledger

pytestmark = pytest.mark.django_db(transaction=True)

N = 30


def post(url: str, reports: list[dict]) -> int:
    body = json.dumps({"reports": reports}).encode()
    headers = {"Content-Type": "application/json", **sim_headers(body, SIM_SECRET)}
    return requests.post(url, data=body, headers=headers, timeout=10).status_code


def report(received, status: str, at: datetime) -> dict:
    r = {"id": f"{received.carrier_id}-{status}", "ref": received.ref, "message_id": received.carrier_id}
    r |= {"status": status, "at": at.isoformat()}
    return r | ({"error": "handset unreachable"} if status == "undelivered" else {})


def test_duplicate_and_out_of_order_reports_settle_each_message_once(live_server, carrier, clinic_a, patient_a):
    for i in range(N):
        message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"Reminder {i}")
    worker.drain()
    assert len(carrier.sink) == N

    rng = random.Random(11)
    now = datetime.now(UTC)
    fate = {ref: rng.choice(["delivered", "undelivered"]) for ref in carrier.sink}
    finals = [report(r, fate[ref], now + timedelta(seconds=2)) for ref, r in carrier.sink.items()]
    sents = [report(r, "sent", now + timedelta(seconds=1)) for r in carrier.sink.values()]
    url = live_server.url + reverse("messaging:webhook-sim")

    # finals first, each twice, in shuffled batches of 4 over 6 parallel connections
    posts = [finals[i : i + 4] for i in range(0, N, 4)] * 2
    rng.shuffle(posts)
    with ThreadPoolExecutor(6) as pool:
        assert set(pool.map(lambda batch: post(url, batch), posts)) == {204}
    worker.drain()
    # then the 'sent' reports, late, twice; and the finals a third time
    with ThreadPoolExecutor(6) as pool:
        assert set(pool.map(lambda batch: post(url, batch), [sents, sents, finals])) == {204}
    worker.drain()

    assert not WebhookInbox.objects.exists()
    expected = {ref: Status.SUCCESS if f == "delivered" else Status.FAILED for ref, f in fate.items()}
    assert {str(k): s for k, s in Message.objects.values_list("send_key", "status")} == expected
    per_event = DeliveryEvent.objects.filter(source="provider").values("event_id").annotate(n=Count("id"))
    assert len(per_event) == 2 * N and {row["n"] for row in per_event} == {1}, "one event per provider event id"
    assert_ledger(expected=N, carrier=carrier, final={Status.SUCCESS, Status.FAILED})
