"""Every clinic-scoped staff form says which clinic it was rendered for, and a post for any other clinic
than the session's (a second tab switched clinic meanwhile) or without one is refused, changing nothing.

The views come from the resolver, the forms from the rendered pages and from the templates themselves,
so a new staff page or form is covered without being listed here.
"""

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import resolve
from rest_framework.authtoken.models import Token

from billing.models import BillingBatch
from messaging.events import NewEvent, record_events
from messaging.models import Message
from messaging.services import message_send
from tests.support.probes import snapshot, walk_urls
from tests.support.processes import ROOT

PARAM = re.compile(r"<(?:\w+:)?(?P<name>\w+)>")
FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)
TARGET = re.compile(r"""\b(?:form)?action=["']([^"']*)["']""", re.I)
# Not clinic-scoped: the switcher changes the clinic, logging out ends the session, the rest are not staff
# pages (Django admin for operators, the token-authenticated API with X-Clinic, the public status page,
# signature-checked webhooks, the health probe).
NOT_STAFF = ("admin/", "api/", "status/", "messages/webhooks/", "accounts/", "healthz", "clinic/switch/")
NOT_SCOPED_FORMS = ("/clinic/switch/", "/accounts/logout/")
# The start page sends every user, with a clinic or not, to their own start page (kalix_site/landing.py);
# it takes no posts (405).
START_PAGE = ""
SEGMENT_KIND = {
    "patients": "patient",
    "messages": "message",
    "invoices": "invoice",
    "batches": "batch",
    "remittances": "remittance",
    "claims": "remittance_claim",
    "templates": "template",
    "rules": "rule",
    "appointments": "appointment",
    "bulk": "bulk_send",
    "threads": "thread",
}


def staff_routes():
    return [(route, p) for route, p in walk_urls() if not route.startswith(NOT_STAFF) and route != START_PAGE]


def url_for(route: str, world: dict) -> str:
    def value(match):
        name = match.group("name")
        if name == "action":
            return "cancel"
        if name == "invoice_pk":
            return str(world["invoice"].pk)
        segment = route[: match.start()].rstrip("/").rsplit("/", 1)[-1]
        return str(world[SEGMENT_KIND[segment]].pk)

    return "/" + PARAM.sub(value, route)


@pytest.fixture
def max_b(make_user, clinic_a, clinic_b):
    """Staff of both clinics, now working in clinic B."""
    from clinics.roles import CLINIC_STAFF

    client = Client()
    client.force_login(make_user("max", clinics=[clinic_a, clinic_b], role="manager", groups=[CLINIC_STAFF]))
    client.post("/clinic/switch/", {"clinic": clinic_b.pk})
    return client


def a_valid_body(world) -> dict:
    """A body every staff view would act on, so only the clinic check can stop it."""
    return {
        "first_name": "Eve",
        "last_name": "Mallory",
        "channel": "sms",
        "body": "forged",
        "patient": world["patient"].pk,
        "request_key": "k-1",
        "email": "eve@example.com",
        "invoice": world["invoice"].pk,
        "amount": "1.00",
        "status": "void",
        "messaging_consent": "opted_in",
    }


@pytest.mark.django_db
def test_the_start_page_takes_no_posts(client_a):
    assert client_a.post("/", {"first_name": "Eve"}).status_code == 405


def test_every_staff_page_is_clinic_scoped_by_the_one_decorator():
    routes = staff_routes()
    assert len(routes) >= 20
    unscoped = [route for route, p in routes if not getattr(p.callback, "clinic_scoped", False)]
    assert not unscoped, f"staff pages not behind clinics.views.staff_required: {unscoped}"


@pytest.mark.django_db
def test_every_staff_post_without_its_clinic_is_refused_and_changes_nothing(world_b, max_b):
    before = snapshot()
    answers = {route: max_b.post(url_for(route, world_b), a_valid_body(world_b)) for route, _ in staff_routes()}
    wrong = {route: r.status_code for route, r in answers.items() if r.status_code != 400}
    assert not wrong, wrong
    assert all("reload the page" in r.content.decode() for r in answers.values())
    assert snapshot() == before


@pytest.mark.django_db
def test_every_staff_post_for_the_other_clinic_is_refused_naming_both(world_b, max_b, clinic_a, clinic_b):
    before = snapshot()
    body = {**a_valid_body(world_b), "form_clinic": clinic_a.pk}
    answers = {route: max_b.post(url_for(route, world_b), body) for route, _ in staff_routes()}
    wrong = {route: r.status_code for route, r in answers.items() if r.status_code != 409}
    assert not wrong, wrong
    said = "This form was for Alpha Dietetics; you are now working in Beta Physio."
    assert all(said in r.content.decode() for r in answers.values())
    assert snapshot() == before


@pytest.mark.django_db
def test_a_form_for_a_clinic_not_yours_is_refused_without_naming_it(world_b, staff_b, clinic_a):
    client = Client()
    client.force_login(staff_b)
    response = client.post("/messages/new/", {**a_valid_body(world_b), "form_clinic": clinic_a.pk})
    page = response.content.decode()
    assert response.status_code == 409 and "This form was for another clinic" in page
    assert "Alpha" not in page and not Message.objects.filter(body="forged").exists()


@pytest.mark.django_db
def test_the_api_names_its_clinic_in_x_clinic_and_needs_no_form_field(world_b, staff_b, clinic_b):
    token = Token.objects.create(user=staff_b).key
    response = Client().post(
        "/api/v1/messages/",
        {"patient": world_b["patient"].pk, "channel": "sms", "body": "From the API"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {token}",
        HTTP_X_CLINIC=clinic_b.slug,
    )
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_every_post_form_on_the_staff_pages_carries_its_clinic(world_b, max_b, clinic_b, staff_b, patient_b):
    pending = message_send(clinic=clinic_b, patient=patient_b, channel="email", subject="s", body="pending")
    failed = message_send(clinic=clinic_b, patient=patient_b, channel="email", subject="s", body="failed")
    record_events([NewEvent(failed.pk, "rejected", "t:failed")])
    batch = world_b["batch"]
    assert batch.status == BillingBatch.Status.OPEN
    pages = [
        "/patients/",
        "/patients/new/",
        f"/patients/{world_b['patient'].pk}/",
        f"/patients/{world_b['patient'].pk}/edit/",
        "/messages/",
        "/messages/new/",
        f"/messages/{world_b['message'].pk}/",
        f"/messages/{pending.pk}/",
        f"/messages/{failed.pk}/",
        "/billing/",
        "/billing/invoices/",
        "/billing/invoices/new/",
        f"/billing/invoices/{world_b['loose_invoice'].pk}/",
        f"/billing/invoices/{world_b['loose_invoice'].pk}/edit/",
        "/billing/batches/",
        f"/billing/batches/{batch.pk}/",
        "/billing/remittances/",
        f"/billing/remittances/{world_b['remittance'].pk}/",
    ]
    targets, missing = set(), []

    def check(url):
        response = max_b.get(url)
        assert response.status_code == 200, url
        for form in FORM.findall(response.content.decode()):
            if not re.search(r"method=[\"']?post", form, re.I):
                continue
            actions = TARGET.findall(form) or [url]
            if all(a.startswith(NOT_SCOPED_FORMS) for a in actions):
                continue
            targets.update(resolve(a.split("?")[0]).url_name for a in actions)
            if f'name="form_clinic" value="{clinic_b.pk}"' not in form:
                missing.append((url, form[:160]))

    for url in pages:
        check(url)
    asked = max_b.post(f"/billing/batches/{batch.pk}/submit/", {"form_clinic": clinic_b.pk}).content.decode()
    assert f'name="form_clinic" value="{clinic_b.pk}"' in asked  # the confirmation carries the clinic too
    max_b.post(f"/billing/batches/{batch.pk}/submit/", {"form_clinic": clinic_b.pk, "confirm": "yes"})  # payments
    check(f"/billing/batches/{batch.pk}/")

    assert not missing, missing
    assert targets >= {
        "patient-create",
        "patient-edit",
        "compose",
        "cancel",
        "retry",
        "billing-batch-create",
        "billing-invoice-create",
        "billing-invoice-edit",
        "billing-invoice-status",
        "billing-batch-action",
        "billing-batch-remove",
        "billing-batch-payment",
        "billing-remittance-import",
        "billing-remittance-resolve",
    }, targets


def staff_templates():
    for path in sorted(ROOT.glob("*/templates/**/*.html")) + sorted((ROOT / "templates").glob("**/*.html")):
        parts = Path(path).relative_to(ROOT).parts
        if "admin" in parts or parts[0] in ("statuspage", ".venv") or "registration" in parts:
            continue  # admin and public pages are not clinic-scoped
        yield path


def test_every_post_form_in_the_staff_templates_has_the_clinic_field():
    checked, missing = 0, []
    for path in staff_templates():
        for form in FORM.findall(path.read_text()):
            if not re.search(r"method=[\"']?post", form, re.I):
                continue
            if re.search(r"\{% url '(clinic-switch|logout)' %\}", form):
                continue
            checked += 1
            if "{% clinic_field %}" not in form:
                missing.append((path.relative_to(ROOT), form[:120]))
    assert not missing, missing
    assert checked >= 9


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["99999999999999999999999", "١٢", "²", "1²", "-1", "1e3", "\x00", " "])
def test_odd_form_clinic_values_are_refused_never_5xx(world_b, max_b, value):
    response = max_b.post("/messages/new/", {**a_valid_body(world_b), "form_clinic": value})
    assert response.status_code in (400, 409), response.status_code
    assert not Message.objects.filter(body="forged").exists()
