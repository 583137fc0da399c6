"""Where each kind of user lands and what their menu offers: clinic staff their patients, Support the
status-page admin, Operations the queue dashboard; a menu names only pages its user may open. Refusals
and missing pages are styled pages with a way back, and a refusal is logged without a traceback."""

import logging
from datetime import UTC, datetime

import pytest
from django.test import override_settings

from clinics.services import patient_create

pytestmark = pytest.mark.django_db

MENU_LINKS = ("/patients/", "/messages/", "/billing/", "/audit/", "/admin/statuspage/", "/admin/lanes/", "/admin/")


def menu_of(client) -> list[str]:
    """The links of the menu on one of our pages (for a user without a clinic, the refusal of one)."""
    html = client.get("/patients/").content.decode()
    nav = html[html.index('<nav aria-label="Main">') : html.index("</nav>")]
    return [link for link in MENU_LINKS if f'href="{link}"' in nav]


@pytest.mark.parametrize(
    "who, home",
    [
        ("support", "/admin/statuspage/"),
        ("ops", "/admin/lanes/"),
        ("staff_a", "/patients/"),
        ("manager_a", "/patients/"),
    ],
)
def test_each_role_lands_on_its_own_page_and_every_menu_link_opens(client, request, who, home):
    client.force_login(request.getfixturevalue(who))
    landing = client.get("/")
    assert landing.status_code == 302 and landing.url == home
    assert client.get(home).status_code == 200
    links = menu_of(client)
    assert links, "a menu with no links"
    for link in links:
        assert client.get(link).status_code == 200, link


def test_the_clinics_managers_find_the_access_audit_in_their_menu_and_other_staff_do_not(client, manager_a, staff_a):
    client.force_login(manager_a)
    assert "/audit/" in menu_of(client)
    client.force_login(staff_a)  # a practitioner: the page refuses them, so the menu does not offer it
    assert "/audit/" not in menu_of(client)
    assert client.get("/audit/").status_code == 403


def test_the_access_audit_link_follows_the_role_in_the_clinic_acted_for(client, manager_a, clinic_a, clinic_b):
    """A manager of one clinic who is a practitioner at another sees the link only while acting for the first."""
    from clinics.models import StaffMembership

    StaffMembership.objects.create(user=manager_a, clinic=clinic_b, role=StaffMembership.Role.PRACTITIONER)
    client.force_login(manager_a)
    for clinic, offered, status in [(clinic_a, True, 200), (clinic_b, False, 403)]:
        client.post("/clinic/switch/", {"clinic": clinic.pk, "next": "/"})
        assert ("/audit/" in menu_of(client)) is offered, clinic
        assert client.get("/audit/").status_code == status, clinic


def test_support_and_operations_menus_leave_out_clinic_pages(client, support, ops):
    client.force_login(support)
    assert "/patients/" not in menu_of(client) and "/admin/lanes/" not in menu_of(client)
    client.force_login(ops)
    assert "/patients/" not in menu_of(client) and "/admin/statuspage/" not in menu_of(client)


def test_a_clinic_page_refused_to_support_is_styled_and_logs_no_traceback(client, support, caplog):
    client.force_login(support)
    with caplog.at_level(logging.WARNING):
        response = client.get("/patients/")
    assert response.status_code == 403
    html = response.content.decode()
    assert '<nav aria-label="Main">' in html and 'href="/admin/statuspage/"' in html  # the way back
    assert not [r for r in caplog.records if r.exc_info]


@override_settings(DEBUG=False)
def test_not_found_is_a_styled_page_with_a_way_back(client_a):
    response = client_a.get("/patients/999999/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Not found" in html and 'href="/patients/"' in html


@override_settings(LOGIN_RATE_PER_MIN=1)
def test_a_locked_login_is_a_styled_page_with_a_way_back(client, staff_a, settings):
    settings.LOGIN_FAILURE_LIMIT = 2  # django-axes (clinics/logins.py) locks the username at this address
    for _ in range(2):
        response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 429 and int(response["Retry-After"]) == settings.LOGIN_COOLOFF_MINUTES * 60
    html = response.content.decode()
    assert "<title>" in html and 'href="/accounts/login/"' in html and "minutes" in html


def test_switching_clinic_on_a_detail_page_goes_to_the_new_clinics_list(client, make_user, clinic_a, clinic_b):
    from clinics.roles import CLINIC_STAFF

    client.force_login(make_user("sam", clinics=[clinic_a, clinic_b], groups=[CLINIC_STAFF]))
    patient = patient_create(clinic=clinic_a, first_name="Ada", last_name="Lovelace")
    for page in [
        f"/patients/{patient.pk}/",
        f"/patients/{patient.pk}/edit/",
        f"http://testserver/patients/{patient.pk}/",
    ]:
        response = client.post("/clinic/switch/", {"clinic": clinic_b.pk, "next": page})
        assert response.status_code == 302 and response.url == "/patients/"
        assert client.get(response.url).status_code == 200
        client.post("/clinic/switch/", {"clinic": clinic_a.pk, "next": "/"})
    response = client.post("/clinic/switch/", {"clinic": clinic_b.pk, "next": "/messages/?q=ada"})
    assert response.url == "/messages/?q=ada"  # a list stays as it was


def test_consent_times_on_the_patient_page_are_in_the_clinics_time(client_a, clinic_a):
    patient = patient_create(clinic=clinic_a, first_name="Ada", last_name="Lovelace", messaging_consent="opted_in")
    type(patient).objects.filter(pk=patient.pk).update(consent_at=datetime(2026, 11, 28, 0, 0, tzinfo=UTC))
    html = client_a.get(f"/patients/{patient.pk}/").content.decode()
    assert "28 Nov 2026 11:00" in html  # Sydney, AEDT
