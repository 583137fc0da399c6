"""Every view that takes a POST refuses one without a CSRF token (403) and changes nothing.

The views come from the resolver; the forms come from the pages themselves. Only signature-checked
webhooks and the one-click unsubscribe (the token in the URL is the secret) are csrf_exempt.
"""

import re

import pytest
from django.test import Client

from tests.support.probes import snapshot, walk_urls

PARAM = re.compile(r"<(?:\w+:)?\w+>|\(\?P<\w+>[^)]*\)")
WEBHOOKS = "messages/webhooks/"
UNSUBSCRIBE = "status/unsubscribe/<str:token>/"  # RFC 8058 one-click: a mail client posts without a token
# The status page's write API takes API tokens only, never the session cookie: a forged cross-site post
# carries no credential it accepts, so it answers 401.
TOKEN_ONLY = "api/v1/pages/"
FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)


def url_for(route: str, ids: dict) -> str:
    def value(match):
        name = re.search(r"(\w+)>", match.group(0)).group(1)
        if "drf_format_suffix" in match.group(0):
            return ".json"
        return {"format": "json", "action": "cancel"}.get(name, str(ids.get(name, ids["pk"])))

    url = PARAM.sub(value, route)
    return "/" + url.replace("^", "").replace("$", "").replace("\\.", ".").replace("/?", "/")


def is_drf(callback) -> bool:
    return hasattr(callback, "cls")  # DRF views are csrf_exempt for Django and check CSRF themselves


def test_only_webhooks_and_one_click_unsubscribe_are_csrf_exempt():
    exempt = {route for route, p in walk_urls() if getattr(p.callback, "csrf_exempt", False) and not is_drf(p.callback)}
    assert {WEBHOOKS + "sim/", WEBHOOKS + "twilio/", UNSUBSCRIBE} <= exempt
    assert all(route.startswith(WEBHOOKS) for route in exempt - {UNSUBSCRIBE}), sorted(exempt)
    assert any(route.startswith(WEBHOOKS + "anymail/") for route in exempt)


@pytest.mark.django_db
def test_every_post_without_a_token_is_refused_and_changes_nothing(staff_b, world_b):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_b)
    ids = {"pk": world_b["batch"].pk, "invoice_pk": world_b["invoice"].pk}
    body = {
        "first_name": "Eve",
        "last_name": "Mallory",
        "channel": "sms",
        "body": "forged",
        "patient": world_b["patient"].pk,
        "email": "eve@example.com",
        "invoice": world_b["invoice"].pk,
        "amount": "1.00",
        "status": "void",
    }
    before = snapshot()
    refused, accepted = [], []
    for route, _pattern in walk_urls():
        if route.startswith(WEBHOOKS) or route == UNSUBSCRIBE:
            continue
        url = url_for(route, ids)
        status = client.post(url, body).status_code
        is_refused = status == 403 or (route.startswith(TOKEN_ONLY) and status == 401)
        (refused if is_refused else accepted).append((url, status))
    # Only endpoints that never take a POST may answer otherwise, and only with 405.
    assert all(status == 405 for _, status in accepted), accepted
    assert len(refused) > 50
    assert snapshot() == before


@pytest.mark.django_db
def test_every_form_on_the_pages_carries_a_token(staff_b, world_b):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_b)
    pages = [
        "/patients/",
        "/patients/new/",
        f"/patients/{world_b['patient'].pk}/",
        f"/patients/{world_b['patient'].pk}/edit/",
        "/messages/",
        "/messages/new/",
        f"/messages/{world_b['message'].pk}/",
        "/billing/",
        "/billing/invoices/new/",
        f"/billing/invoices/{world_b['loose_invoice'].pk}/",
        f"/billing/invoices/{world_b['loose_invoice'].pk}/edit/",
        f"/billing/batches/{world_b['batch'].pk}/",
        "/status/subscribe/",
        "/accounts/login/",
    ]
    posting = 0
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        for form in FORM.findall(response.content.decode()):
            if re.search(r"method=[\"']?post", form, re.I):
                posting += 1
                assert "csrfmiddlewaretoken" in form, (url, form[:200])
    assert posting >= len(pages) // 2
