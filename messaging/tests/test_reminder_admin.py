"""Admin for templates refuses unknown merge fields as the staff pages do; the new admin pages open."""

import pytest

from messaging.models import MessageTemplate

pytestmark = pytest.mark.django_db


def test_admin_template_form_refuses_an_unknown_field(admin_client, clinic_a):
    form = {"clinic": clinic_a.pk, "name": "X", "channel": "sms", "subject": "", "body": "Hi {surname}"}
    refused = admin_client.post("/admin/messaging/messagetemplate/add/", form)
    assert refused.status_code == 200 and "Unknown merge field {surname}" in refused.content.decode()
    assert not MessageTemplate.objects.exists()
    assert (
        admin_client.post("/admin/messaging/messagetemplate/add/", {**form, "body": "Hi {first_name}"}).status_code
        == 302
    )


@pytest.mark.parametrize(
    "url",
    [
        "/admin/messaging/reminderrule/",
        "/admin/messaging/reminder/",
        "/admin/messaging/bulksend/",
        "/admin/messaging/smsthread/",
        "/admin/clinics/appointment/",
        "/admin/messaging/messagetemplate/",
    ],
)
def test_admin_lists_open(admin_client, url):
    assert admin_client.get(url).status_code == 200


def test_admin_appointment_practitioner_is_a_practitioners_membership(admin_client, clinic_a, patient_a, staff_a):
    """The practitioner box's lookup listed every membership (reception, managers); now only practitioners'
    are listed and accepted."""
    from clinics.models import Appointment, StaffMembership

    practitioner = StaffMembership.objects.get(user=staff_a, clinic=clinic_a)
    desk = StaffMembership.objects.create(
        user=type(staff_a).objects.create_user("rhonda"), clinic=clinic_a, role="reception"
    )
    add = "/admin/clinics/appointment/add/"
    assert "role=practitioner" in admin_client.get(add).content.decode()
    lookup = admin_client.get(
        "/admin/clinics/staffmembership/", {"role": "practitioner", "_popup": 1, "_to_field": "id"}
    )
    assert lookup.status_code == 200
    listed = lookup.content.decode()
    assert "alice" in listed and "rhonda" not in listed

    form = {
        "clinic": clinic_a.pk,
        "patient": patient_a.pk,
        "starts_at_0": "2030-01-07",
        "starts_at_1": "09:00:00",
        "ends_at_0": "2030-01-07",
        "ends_at_1": "09:30:00",
        "notes": "",
    }
    refused = admin_client.post(add, {**form, "practitioner": desk.pk})
    assert refused.status_code == 200 and "practitioner" in refused.context["adminform"].form.errors
    assert not Appointment.objects.exists()
    assert admin_client.post(add, {**form, "practitioner": practitioner.pk}).status_code == 302
    assert Appointment.objects.get().practitioner_id == practitioner.pk
