"""Two tabs (or two people) editing one patient: a save changes only what that person changed, so the
other's save in between is kept; where both changed the same field differently, nothing is saved and the
page says what was saved meanwhile. Before, the later save silently put back every field of its page."""

import re

import pytest

from clinics.models import Patient
from tests.support.patients import edit_form

pytestmark = pytest.mark.django_db


def opened_tab(client, patient) -> dict:
    """The edit page as a tab opens it: its fields as they would be posted, with its snapshot."""
    html = client.get(f"/patients/{patient.pk}/edit/").content.decode()
    opened = re.search(r'name="opened" value="([^"]+)"', html)[1]
    return {**edit_form(Patient.objects.get(pk=patient.pk)), "opened": opened}


def save(client, patient, tab: dict, **changes):
    return client.post(f"/patients/{patient.pk}/edit/", {**tab, **changes})


def test_the_later_tab_keeps_what_the_earlier_one_saved(client_a, patient_a):
    tab_a, tab_b = opened_tab(client_a, patient_a), opened_tab(client_a, patient_a)
    assert save(client_a, patient_a, tab_a, mobile="0412 222 333").status_code == 302
    assert save(client_a, patient_a, tab_b, email="ada.l@example.com").status_code == 302
    patient_a.refresh_from_db()
    assert (str(patient_a.mobile), patient_a.email) == ("+61412222333", "ada.l@example.com")


def test_both_changing_one_field_saves_nothing_and_says_what_was_saved(client_a, patient_a):
    tab_a, tab_b = opened_tab(client_a, patient_a), opened_tab(client_a, patient_a)
    assert save(client_a, patient_a, tab_a, mobile="0412 222 333", first_name="Augusta").status_code == 302
    answer = save(client_a, patient_a, tab_b, mobile="0412 444 555", email="ada.l@example.com")

    assert answer.status_code == 200
    form = answer.context["form"]
    assert "nothing was saved" in str(form.non_field_errors())
    assert form.errors["mobile"] == ["Saved meanwhile as: 0412 222 333."]
    patient_a.refresh_from_db()
    assert (str(patient_a.mobile), patient_a.email, patient_a.first_name) == (
        "+61412222333",
        "ada@example.com",
        "Augusta",
    ), "tab B saved nothing"
    html = answer.content.decode()
    assert 'value="0412 444 555"' in html, "what tab B typed stays in its box"
    assert 'name="first_name" value="Augusta"' in html, "what tab B left alone shows what was saved meanwhile"

    again = {**tab_b, "mobile": "0412 444 555", "email": "ada.l@example.com", "first_name": "Augusta"}
    again["opened"] = re.search(r'name="opened" value="([^"]+)"', html)[1]
    assert save(client_a, patient_a, again).status_code == 302  # saved again, having seen it
    patient_a.refresh_from_db()
    assert (str(patient_a.mobile), patient_a.email, patient_a.first_name) == (
        "+61412444555",
        "ada.l@example.com",
        "Augusta",
    )


def test_both_making_the_same_change_is_no_conflict(client_a, patient_a):
    tab_a, tab_b = opened_tab(client_a, patient_a), opened_tab(client_a, patient_a)
    assert save(client_a, patient_a, tab_a, mobile="0412 222 333").status_code == 302
    assert save(client_a, patient_a, tab_b, mobile="+61 412 222 333", last_name="King").status_code == 302
    patient_a.refresh_from_db()
    assert (str(patient_a.mobile), patient_a.last_name) == ("+61412222333", "King")


def test_a_tampered_snapshot_is_refused_and_saves_nothing(client_a, patient_a):
    tab = opened_tab(client_a, patient_a)
    answer = save(client_a, patient_a, tab, opened=tab["opened"][:-2] + "xx", last_name="Byron")
    assert answer.status_code == 200
    assert answer.context["form"].errors["opened"] == ["This page is out of date: open the patient again."]
    patient_a.refresh_from_db()
    assert patient_a.last_name == "Lovelace"
