"""Per-sender buckets (lanes.buckets): a request draws from its account's bucket and its sender's, both
or neither, so a sender at its limit (a long code's ~1/s) never exceeds it, and holds back no other
sender of the same claimed batch, which go at the account's pace."""

import math

import pytest
from django.db import transaction

from lanes import buckets
from messaging import worker
from messaging.models import Dispatch, Message
from messaging.services import message_send
from messaging.simcarrier import CarrierConfig, SimCarrier
from tests.support.arrivals import TRANSIT_S, most_in_one_second
from tests.support.channels import SIM_SECRET

pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNT_RATE, ACCOUNT_BURST = 100, 10
SENDER_RATE, SENDER_BURST = 4, 2
LIMITED, OTHERS = 16, 60


def test_a_limited_sender_keeps_its_limit_and_holds_back_no_other_sender(
    clinic_a, patient_a, clinic_b, patient_b, sim_settings, bucket_store
):
    limited, other = clinic_a.sms_sender, clinic_b.sms_sender
    buckets.ensure("sim:default", rate_per_s=ACCOUNT_RATE, burst=ACCOUNT_BURST)
    buckets.ensure(f"sim:default:{limited}", rate_per_s=SENDER_RATE, burst=SENDER_BURST)
    config = CarrierConfig(
        secret=SIM_SECRET,
        send_reports=False,
        latency_ms=20,
        jitter_ms=10,
        limit_per_s=ACCOUNT_RATE,
        limit_burst=ACCOUNT_BURST,
        sender_limit_per_s=SENDER_RATE,
        sender_limit_burst=SENDER_BURST,
        limited_senders=(limited,),
    )
    with SimCarrier(config) as carrier:
        sim_settings.SIMCARRIER_URL = carrier.url
        with transaction.atomic():  # interleaved in one claim: the limited sender's messages come first
            for i in range(OTHERS):
                if i < LIMITED:
                    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body=f"A {i}")
                message_send(clinic=clinic_b, patient=patient_b, channel="sms", body=f"B {i}")
        for _ in range(10):
            worker.drain()
            if not Message.objects.exclude(dispatch=Dispatch.HANDED_OFF).exists():
                break

    assert Message.objects.filter(dispatch=Dispatch.HANDED_OFF).count() == LIMITED + OTHERS
    assert len(carrier.sink) == LIMITED + OTHERS
    slow, fast = carrier.arrivals_by_sender[limited], carrier.arrivals_by_sender[other]
    allowed = SENDER_RATE + SENDER_BURST + math.ceil(SENDER_RATE * TRANSIT_S)
    assert most_in_one_second(slow) <= allowed, "the limited sender never exceeds rate + burst in a second"
    assert carrier.http_429_by_sender.get(limited, 0) <= 2, "our bucket kept it under the carrier's limit"
    slow_span = max(slow) - min(slow)
    assert slow_span >= (LIMITED - SENDER_BURST) / SENDER_RATE - 1, "its bucket held it back"
    assert max(fast) < min(slow) + slow_span / 2, "the other sender went on at the account's pace meanwhile"
    taken = {b.name: b.taken for b in buckets.overview()}  # every request let through, 429s too
    assert taken == {"sim:default": carrier.requests, f"sim:default:{limited}": len(slow)}, "both or neither"


def test_a_grant_takes_from_the_account_and_the_sender_together(db, bucket_store):
    buckets.ensure("sim:acct", rate_per_s=1, burst=5)
    buckets.ensure("sim:acct:S1", rate_per_s=1, burst=2)
    grants = buckets.take_for("sim:acct", {"sim:acct:S1": 4, "sim:acct:S2": 4})
    assert grants["sim:acct:S1"].granted == 2, "the sender's burst"
    assert grants["sim:acct:S2"].granted == 3, "what the account has left, not what S1 could not use"
    assert grants["sim:acct:S1"].wait_s > 0 and grants["sim:acct:S2"].wait_s > 0, "both wait for a token"
    taken = {b.name: b.taken for b in buckets.overview()}
    assert taken == {"sim:acct": 5, "sim:acct:S1": 2}
    again = buckets.take_for("sim:acct", {"sim:acct:S2": 1})
    assert again["sim:acct:S2"].granted == 0 and again["sim:acct:S2"].wait_s > 0, "the account is empty"
    assert {b.name: b.taken for b in buckets.overview()} == taken, "nothing taken from either"
