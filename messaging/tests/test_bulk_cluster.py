"""Acceptance, with a real bulk-lane cluster, through the staff pages: a template to 1,000 patients of whom
3 opted out is counted first, made into 997 messages by one job, and running the job again makes none."""

import pytest

from clinics.models import Patient
from lanes.pokes import BULK
from messaging import templating
from messaging.models import BulkSend, Message
from tests.support.processes import wait_for

pytestmark = pytest.mark.cluster


def test_bulk_send_to_1000_with_3_opted_out_makes_997_and_a_rerun_none(lane_cluster, client_a, clinic_a):
    Patient.objects.bulk_create(
        Patient(
            clinic=clinic_a,
            first_name=f"P{i}",
            last_name="Recall",
            mobile=f"+614120{i:05d}",
            messaging_consent="opted_in",
            sms_opt_out=i in (1, 2, 3),
        )
        for i in range(1000)
    )
    template = templating.template_save(
        clinic=clinic_a, name="Recall", channel="sms", body="Hi {first_name}, due for a check-up?"
    )
    lane_cluster(BULK)
    form = {"template": template.pk, "audience": "all", "form_clinic": clinic_a.pk}
    counted = client_a.post("/messages/bulk/", {**form, "preview": "1"})
    assert "<strong>1000</strong> patients" in counted.content.decode() and not BulkSend.objects.exists()
    made = client_a.post("/messages/bulk/", {**form, "create": "1"})
    job = BulkSend.objects.get()
    assert made.status_code == 302 and job.expected == 1000

    def state():
        job.refresh_from_db()
        return job.state == "ready" and job

    wait_for(state, timeout=120, interval=0.5, message="the bulk lane prepared the job")
    assert (job.made, job.skipped, Message.objects.count()) == (997, 3, 997)
    page = client_a.get(f"/messages/bulk/{job.pk}/").content.decode()
    assert "997 messages, 3 patients skipped" in page

    assert client_a.post(f"/messages/bulk/{job.pk}/run-again/", {"form_clinic": clinic_a.pk}).status_code == 302
    wait_for(state, timeout=120, interval=0.5, message="the job ran again")
    assert (job.made, Message.objects.count(), job.recipients.count()) == (997, 997, 1000)
