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
