"""Bulk sends: a template to 1,000 patients of whom 3 opted out makes 997 messages, one job, and none more
when the job is run again; a preview count; cancel before sending."""

from datetime import timedelta

import pytest
from django.utils import timezone

from clinics.models import Patient
from messaging import bulk, templating
from messaging.models import BulkSend, Message

pytestmark = pytest.mark.django_db


def patients(clinic, n, *, opted_out=()):
    Patient.objects.bulk_create(
        Patient(
            clinic=clinic,
            first_name=f"P{i}",
            last_name="Bulk",
            mobile=f"+614120{i:05d}",
            messaging_consent="opted_in",
            sms_opt_out=i in opted_out,
        )
        for i in range(n)
    )


@pytest.fixture
def recall_template(clinic_a):
    return templating.template_save(
        clinic=clinic_a, name="Recall", channel="sms", body="Hi {first_name}, time for a check-up at {clinic_name}."
    )


def test_a_thousand_patients_three_opted_out_make_997_messages_and_a_rerun_none(clinic_a, clinic_b, recall_template):
    patients(clinic_a, 1000, opted_out={5, 500, 999})
    patients(clinic_b, 3)
    assert bulk.audience_count(clinic=clinic_a, audience="all") == 1000
    job = bulk.bulk_create(clinic=clinic_a, template=recall_template, audience="all")
    assert job.expected == 1000 and job.state == "queued"
    bulk.drain()
    job.refresh_from_db()
    assert (job.state, job.made, job.skipped) == ("ready", 997, 3)
    assert Message.objects.filter(clinic=clinic_a).count() == 997
    assert not Message.objects.filter(clinic=clinic_b).exists()
    assert Message.objects.filter(body="Hi P7, time for a check-up at Alpha Dietetics.").count() == 1
    bulk.bulk_run_again(job=job)
    bulk.drain()
    job.refresh_from_db()
    assert (job.state, job.made, Message.objects.count()) == ("ready", 997, 997)


def test_cancel_before_sending_cancels_the_scheduled_messages(clinic_a, staff_a, recall_template):
    patients(clinic_a, 20)
    later = timezone.now() + timedelta(hours=3)
    job = bulk.bulk_create(clinic=clinic_a, template=recall_template, audience="all", send_at=later)
    bulk.drain()
    assert Message.objects.filter(dispatch="queued", next_attempt_at__gte=later - timedelta(seconds=1)).count() == 20
    assert bulk.bulk_cancel(job=job, user=staff_a) == 20
    assert set(Message.objects.values_list("status", flat=True)) == {"cancelled"}
    assert BulkSend.objects.get().state == "cancelled"
