"""Every staff page and API endpoint that takes an object id answers 404 to clinic A for clinic B's ids.

The URLs are enumerated from the resolver: a new view with an id parameter is probed without anyone
listing it here, and one we cannot probe fails the test until it is mapped or exempted with a reason.
"""

import re

import pytest
from rest_framework.authtoken.models import Token

from billing.views import BATCH_ACTIONS
from tests.support.probes import walk_urls

PARAM = re.compile(r"<(?:\w+:)?(?P<a>\w+)>|\(\?P<(?P<b>\w+)>[^)]*\)")

# The path segment before an id names the kind of object it is.
SEGMENT_KIND = {
    "patients": "patient",
    "messages": "message",
    "invoices": "invoice",
    "batches": "batch",
    "payers": "payer",
    "templates": "template",
    "rules": "rule",
    "appointments": "appointment",
    "bulk": "bulk_send",
    "threads": "thread",
    "remittances": "remittance",
    "claims": "remittance_claim",
}
PARAM_KIND = {"invoice_pk": "invoice"}
# Parameters that are not object ids, and the values each is probed with.
NOT_IDS = {"format": ["json"], "action": sorted(BATCH_ACTIONS)}

EXEMPT = {
    "admin/": "Django admin: Kalix operators (is_staff), not clinic staff; guarded by model permissions",
    "status/": "public status page: incidents and subscriptions are not clinic data; tokens are the secret",
    "api/v1/pages/": "status page write API (Support's tokens): incidents and components are not clinic data",
    "messages/webhooks/": "provider callbacks: signature-checked, no object id in the URL",
}


def exemption(route: str) -> str | None:
    return next((prefix for prefix in EXEMPT if route.startswith(prefix)), None)


def probes(world):
    """(route, url) for every id-taking pattern, and the routes that could not be mapped to a kind."""
    found, unmapped = [], []
    for route, _pattern in walk_urls():
        params = [m.group("a") or m.group("b") for m in PARAM.finditer(route)]
        if not [p for p in params if p not in NOT_IDS] or exemption(route):
            continue
        urls = [route]
        for match in PARAM.finditer(route):
            name = match.group("a") or match.group("b")
            if name in NOT_IDS:
                values = NOT_IDS[name]
            else:
                segment = route[: match.start()].rstrip("/").rsplit("/", 1)[-1].lstrip("^")
                kind = PARAM_KIND.get(name) or SEGMENT_KIND.get(segment)
                if kind is None:
                    unmapped.append(route)
                    break
                values = [str(world[kind].pk)]
            urls = [u.replace(match.group(0), v, 1) for u in urls for v in values]
        else:
            for url in urls:
                url = "/" + url.replace("^", "").replace("$", "").replace("\\.", ".").replace("/?", "/")
                found.append((route, url))
    return found, unmapped


def test_every_exemption_still_matches_a_route():
    routes = [route for route, _ in walk_urls()]
    for prefix in EXEMPT:
        assert any(r.startswith(prefix) for r in routes), f"stale exemption {prefix}"


@pytest.mark.django_db
def test_clinic_a_gets_404_for_every_clinic_b_object(client_a, clinic_a, staff_a, world_b):
    found, unmapped = probes(world_b)
    assert not unmapped, f"id-taking URLs neither probed nor exempt (map them in SEGMENT_KIND or EXEMPT): {unmapped}"
    api_auth = {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=staff_a).key}"}
    before = {kind: type(obj).objects.filter(pk=obj.pk).values().get() for kind, obj in world_b.items()}

    leaks = []
    for _route, url in found:
        extra = api_auth if url.startswith("/api/") else {}
        response = client_a.get(url, **extra)
        if response.status_code == 405:
            # a body that would pass validation, from a form rendered for clinic A (the session's clinic)
            body = {"invoice": world_b["invoice"].pk, "amount": "1.00", "form_clinic": clinic_a.pk}
            response = client_a.post(url, body, **extra)
        if response.status_code != 404:
            leaks.append((url, response.status_code))

    assert not leaks, f"clinic A reached clinic B's objects: {leaks}"
    assert set(SEGMENT_KIND.values()) <= set(world_b)
    probed_views = {route for route, _ in found}
    assert any("remove" in r for r in probed_views) and any("api/v1/" in r for r in probed_views)
    after = {kind: type(obj).objects.filter(pk=obj.pk).values().get() for kind, obj in world_b.items()}
    assert after == before, "a refused request changed clinic B's data"
