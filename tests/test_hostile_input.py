"""Each hostile request of issue 14, one test each: every one was a 500 and is now a 400 (or a 404 for a
malformed id, or a field error) with nothing changed. The one guard is kalix_site/guard.py; the crawler
(tests/test_crawler.py) throws the same values at every URL the resolver knows.
"""

import base64
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from messaging.authenticity import sim_headers
from tests.support.channels import SIM_SECRET

pytestmark = pytest.mark.django_db

NUL = "a\x00b"
DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a": ' * 5000 + "1" + "}" * 5000


def quiet(user=None) -> Client:
    """A client that answers a 500 as a response (the default re-raises it), logged in as `user`."""
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def superuser(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_api(staff_a):
    client = quiet()
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=staff_a).key}"
    return client


# --- NUL in query strings and path parts ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/patients/?q=a%00b",
        "/messages/?q=a%00b",
        "/billing/invoices/?status=%00",
        "/billing/batches/?status=%00",
    ],
)
def test_nul_in_a_staff_page_query_is_400(url, staff_a):
    assert quiet(staff_a).get(url).status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/patients/?q=a%00b",
        "/api/v1/messages/?status=%00",
        "/api/v1/messages/?channel=%00",
        "/api/v1/billing/invoices/?status=%00",
        "/api/v1/billing/batches/?status=%00",
    ],
)
def test_nul_in_an_api_filter_is_400(url, staff_api):
    response = staff_api.get(url)
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]  # the API's error shape


def test_invalid_utf8_and_lone_surrogates_in_a_query_are_400(staff_api):
    assert staff_api.get("/api/v1/patients/?q=%ff%fe").status_code == 400
    assert staff_api.get("/api/v1/patients/?q=%ed%a0%80").status_code == 400


def test_nul_in_an_admin_list_filter_is_400(superuser):
    assert quiet(superuser).get("/admin/messaging/message/?status__exact=%00").status_code == 400


@pytest.mark.parametrize("url", ["/status/subscribe/confirm/%00/", "/status/unsubscribe/%00/"])
def test_nul_in_a_status_page_token_is_400(url, fresh_generation):
    client = quiet()
    assert client.get(url).status_code == 400
    assert client.post(url).status_code == 400


# --- Form and JSON bodies ------------------------------------------------------------------------------


def test_nul_in_a_form_field_is_400_and_nothing_is_made(staff_a, clinic_a):
    from clinics.models import Patient

    before = Patient.objects.count()
    body = {"first_name": NUL, "last_name": "Lee", "messaging_consent": "opted_in", "form_clinic": clinic_a.pk}
    assert quiet(staff_a).post("/patients/new/", body).status_code == 400
    assert Patient.objects.count() == before


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT])
def test_deeply_nested_json_to_the_api_is_400(body, staff_api):
    response = staff_api.post("/api/v1/messages/", body, content_type="application/json")
    assert response.status_code == 400


def test_nul_and_surrogates_in_an_api_json_body_are_400(staff_api, patient_a):
    from messaging.models import Message

    for text in ('"a\\u0000b"', '"\\ud800"'):
        body = f'{{"patient": {patient_a.pk}, "channel": "sms", "body": {text}}}'
        assert staff_api.post("/api/v1/messages/", body, content_type="application/json").status_code == 400
    assert not Message.objects.exists()


def test_deep_json_reaching_drf_with_another_content_type_is_400(staff_api):
    """The middleware reads application/json; DRF's own parser keeps the limit for what slips past it."""
    from kalix_site.guard import GuardedJSONParser

    with pytest.raises(Exception) as refused:
        GuardedJSONParser().parse(__import__("io").BytesIO(DEEP.encode()))
    assert getattr(refused.value, "status_code", None) == 400


def post_sim(client, body: bytes, path="/messages/webhooks/sim/"):
    return client.post(path, body, content_type="application/json", headers=sim_headers(body, SIM_SECRET))


@pytest.mark.parametrize("path", ["/messages/webhooks/sim/", "/messages/webhooks/sim/inbound/"])
def test_deeply_nested_json_to_the_carrier_webhook_is_400(path, settings):
    from messaging.models import WebhookInbox

    settings.SIMCARRIER_SECRET = SIM_SECRET
    key = "reports" if path.endswith("sim/") else "inbound"
    for body in (DEEP, f'{{"{key}": {DEEP}}}'):
        assert post_sim(quiet(), body.encode(), path).status_code == 400
    assert not WebhookInbox.objects.exists()


def test_nul_in_a_signed_reports_fields_is_400(settings):
    from messaging.models import WebhookInbox

    settings.SIMCARRIER_SECRET = SIM_SECRET
    report = {
        "id": NUL,
        "ref": "7d5f8f0e-4f5e-4a8e-9c55-1f5d3c2b1a00",
        "message_id": NUL,
        "status": "delivered",
        "at": datetime.now(UTC).isoformat(),
        "error": NUL,
    }
    body = json.dumps({"reports": [report]}).encode()
    assert post_sim(quiet(), body).status_code == 400
    assert not WebhookInbox.objects.exists()


# --- Numbers out of range ------------------------------------------------------------------------------


def test_an_invoice_whose_total_overflows_is_a_field_error(staff_a, clinic_a, patient_a, payer_a, staff_api):
    from billing.models import Invoice

    line = {"service_code": "A1", "description": "x", "date_of_service": str(date.today()), "units": "1"}
    big = str(Decimal("9999999999.99"))
    body = {"patient": patient_a.pk, "payer": payer_a.pk, "lines": [{**line, "amount": big}, {**line, "amount": big}]}
    response = staff_api.post("/api/v1/billing/invoices/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert "lines" in response.json()
    assert not Invoice.objects.exists()


def test_the_lane_backlog_control_with_a_huge_age_is_refused_not_500(superuser):
    from lanes.models import LaneAction

    response = quiet(superuser).post("/admin/lanes/lane/live/backlog/", {"older_than_minutes": "99999999999999"})
    assert response.status_code == 302
    assert not LaneAction.objects.exists()


# --- Admin lookups with malformed ids --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/statuspage/plainincident/abc/change/",
        "/admin/statuspage/plainincident/abc/post-update/",
        "/admin/statuspage/scheduledmaintenance/abc/change/",
        "/admin/statuspage/plainincident/abc/",
    ],
)
def test_an_admin_page_for_a_malformed_id_is_404(url, support):
    """(Django's admin redirects `<id>/` to `<id>/change/`: the page it lands on is the 404.)"""
    assert quiet(support).get(url, follow=True).status_code == 404


def test_an_admin_form_posted_with_a_malformed_autocomplete_id_is_a_field_error(superuser, clinic_a):
    """Found by the crawler: Django's autocomplete widget re-rendering the value raised ValueError."""
    from clinics.models import StaffMembership

    response = quiet(superuser).post(
        "/admin/clinics/staffmembership/add/", {"user": "abc", "clinic": "<x>", "role": "manager"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not StaffMembership.objects.exists()


def test_opening_an_incident_from_a_malformed_template_id_is_404(support):
    assert quiet(support).get("/admin/statuspage/plainincident/open/?template=abc").status_code == 404


# --- anymail: only the configured ESPs, and wrong shapes are 400 -----------------------------------------

ANYMAIL_AUTH = "Basic " + base64.b64encode(b"hook:secret").decode()


@pytest.fixture
def anymail_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret"}


@pytest.mark.parametrize("esp", ["amazon_ses", "mailgun", "mandrill", "mailersend", "postal", "unisender_go"])
def test_an_esp_that_is_not_configured_is_not_routed(esp, anymail_secret):
    response = quiet().post(
        f"/messages/webhooks/anymail/{esp}/tracking/",
        "{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=ANYMAIL_AUTH,
    )
    assert response.status_code == 404


WRONG_SHAPES = [
    ("postmark", "[]"),
    ("postmark", '"text"'),
    ("postmark", "null"),
    ("postmark", '{"RecordType": []}'),
    ("postmark", '{"RecordType": "Bounce", "MessageID": {}, "BouncedAt": 7}'),
    ("sendgrid", "{}"),
    ("sendgrid", '"text"'),
    ("sendgrid", "[1]"),
    ("sendgrid", '[{"event": []}]'),
    ("sendgrid", '[{"event": "bounce", "timestamp": "soon", "sg_message_id": {}}]'),
]


@pytest.mark.parametrize(("esp", "body"), WRONG_SHAPES)
def test_wrong_shaped_json_to_a_configured_esp_is_400(esp, body, anymail_secret):
    from messaging.models import WebhookInbox

    response = quiet().post(
        f"/messages/webhooks/anymail/{esp}/tracking/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=ANYMAIL_AUTH,
    )
    assert response.status_code == 400, response.status_code
    assert not WebhookInbox.objects.exists()
