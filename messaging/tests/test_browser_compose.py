"""In a browser: compose an SMS, watch its status reach Success through the simulated carrier."""

import pytest

from lanes.pokes import LIVE
from messaging.content import sms_encoding, sms_segments, sms_units
from messaging.simcarrier import CarrierConfig, SimCarrier
from tests.support.channels import SIM_SECRET

pytestmark = [pytest.mark.browser, pytest.mark.cluster]


def test_compose_an_sms_and_watch_it_reach_success(
    page, login, live_server, lane_cluster, staff_a, patient_a, settings
):
    settings.SIMCARRIER_SECRET = SIM_SECRET  # the live server checks the carrier's signature with it
    with SimCarrier(CarrierConfig(secret=SIM_SECRET, latency_ms=100, report_delay_ms=500)) as carrier:
        lane_cluster(
            LIVE,
            KALIX_SIMCARRIER_URL=carrier.url,
            KALIX_SIMCARRIER_SECRET=SIM_SECRET,
            KALIX_PUBLIC_URL=live_server.url,
        )
        login("alice")
        page.goto("/messages/new/")
        page.fill("#patient-search", "Ada")
        page.click("#patient-options >> text=Lovelace, Ada")
        page.select_option("#id_channel", "sms")
        for text in ("Your appointment is confirmed for Tuesday 10:00 €" * 4, "Ngā mihi, see you Tuesday"):
            page.fill("#id_body", text)
            parts = sms_segments(text)
            expected = (
                f"{sms_units(text)} characters · {parts} SMS part{'' if parts == 1 else 's'} ({sms_encoding(text)})"
            )
            assert page.text_content("#sms-counter") == expected
        page.click("#send")

        page.wait_for_selector("#status .badge.success", timeout=30_000)
        assert "Delivered" in page.text_content("#status")
        timeline = page.text_content("#timeline")
        for words in ("Queued for sending", "Carrier accepted it", "Sent", "Delivered"):
            assert words in timeline
        assert len(carrier.sink) == 1
