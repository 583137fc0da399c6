"""A bulk send with {appointment_date}/{appointment_time} to a list without appointments ("All patients",
recall) sent "see you  ." to real patients: Count and Create now refuse it as an error on the template that
names the fields. To patients with an appointment tomorrow the fields are allowed, and filled in."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from clinics.appointments import appointment_book, local_datetime
from messaging import bulk, templating
from messaging.models import BulkSend, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def see_you_template(clinic_a):
    return templating.template_save(
        clinic=clinic_a,
        name="See you",
        channel="sms",
        body="Hi {first_name}, see you {appointment_date} {appointment_time}.",
    )


def post(client, clinic, template, audience, button):
    return client.post(
        "/messages/bulk/", {"form_clinic": clinic.pk, "template": template.pk, "audience": audience, button: "1"}
    )


@pytest.mark.parametrize("audience", ["all", "recall"])
@pytest.mark.parametrize("button", ["preview", "create"])
def test_appointment_fields_are_refused_for_a_list_without_appointments(
    client_a, clinic_a, patient_a, see_you_template, audience, button
):
    response = post(client_a, clinic_a, see_you_template, audience, button)
    assert response.status_code == 200
    errors = response.context["form"].errors["template"]
    assert "{appointment_date} and {appointment_time}" in errors[0]
    assert 'id="bulk-create"' not in response.content.decode()
    assert not BulkSend.objects.exists() and not Message.objects.exists()


def test_the_service_refuses_it_too(clinic_a, see_you_template):
    with pytest.raises(Exception, match="appointment_date"):
        bulk.bulk_create(clinic=clinic_a, template=see_you_template, audience="all")
    assert not BulkSend.objects.exists()


def test_a_template_without_appointment_fields_still_goes_to_all_patients(client_a, clinic_a, patient_a):
    plain = templating.template_save(clinic=clinic_a, name="News", channel="sms", body="Hi {first_name}, we moved.")
    response = post(client_a, clinic_a, plain, "all", "create")
    assert response.status_code == 302 and BulkSend.objects.get().expected == 1


def test_to_patients_with_an_appointment_tomorrow_the_fields_are_filled_in(
    client_a, clinic_a, patient_a, staff_a, see_you_template
):
    tomorrow = timezone.localtime(timezone.now(), clinic_a.tzinfo).date() + timedelta(days=1)
    starts_at = local_datetime(clinic_a, tomorrow, time(9, 30))
    appointment_book(
        clinic=clinic_a,
        patient=patient_a,
        practitioner=staff_a.memberships.get(clinic=clinic_a),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=30),
    )
    assert 'id="bulk-create"' in post(client_a, clinic_a, see_you_template, "tomorrow", "preview").content.decode()
    assert post(client_a, clinic_a, see_you_template, "tomorrow", "create").status_code == 302
    bulk.drain()
    day = datetime.combine(tomorrow, time(9, 30)).strftime("%A %-d %B %Y")
    assert Message.objects.get().body == f"Hi Ada, see you {day} 9:30 AM."
