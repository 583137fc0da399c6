"""A refused phone number comes back as it was typed: the box showed what the library parsed ("0412 345
67" as "41234567", "+61 412 345 6789" as "4123456789"), so the person could not see their own mistake."""

import re

import pytest

from tests.support.patients import edit_form

pytestmark = pytest.mark.django_db


def box(html: str, name: str) -> str:
    return re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html)[1]


@pytest.mark.parametrize("typed", ["0412 345 67", "+61 412 345 6789", "04l2 345 678", "12"])
def test_a_refused_mobile_is_shown_as_typed_on_the_patient_form(client_a, patient_a, typed):
    response = client_a.post(f"/patients/{patient_a.pk}/edit/", edit_form(patient_a, mobile=typed))
    assert response.status_code == 200 and "mobile" in response.context["form"].errors
    assert box(response.content.decode(), "mobile") == typed
    patient_a.refresh_from_db()
    assert str(patient_a.mobile) == "+61412000001"


def test_a_refused_fax_is_shown_as_typed_and_a_kept_number_in_the_local_format(client_a, patient_a):
    response = client_a.post(f"/patients/{patient_a.pk}/edit/", edit_form(patient_a, fax="+61 2 9999 99"))
    html = response.content.decode()
    assert box(html, "fax") == "+61 2 9999 99"
    assert box(html, "mobile") == "0412 000 001", "a valid number in the clinic's national format"
    page = client_a.get(f"/patients/{patient_a.pk}/edit/").content.decode()
    assert box(page, "mobile") == "0412 000 001"
