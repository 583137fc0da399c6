"""Patient search as staff type it: phone numbers in local and international formats, and names as
the list shows them ("Last, First")."""

import pytest

from clinics import selectors
from clinics.services import patient_create

pytestmark = pytest.mark.django_db

PHONE_FORMATS = ["0412 345 001", "0412345001", "+61412345001", "+61 412 345 001", "(04) 1234 5001", "0412 345"]


@pytest.fixture
def ada(clinic_a):
    patient_create(clinic=clinic_a, first_name="Alan", last_name="Turing", mobile="+61412999999")
    return patient_create(
        clinic=clinic_a,
        first_name="Ada",
        last_name="Lovelace",
        mobile="+61412345001",
        messaging_consent="opted_in",
    )


@pytest.mark.parametrize("typed", PHONE_FORMATS)
def test_a_patient_is_found_by_mobile_in_any_format(ada, clinic_a, typed):
    assert list(selectors.patient_list(clinic=clinic_a, query=typed)) == [ada]


@pytest.mark.parametrize("typed", ["Lovelace, Ada", "lovelace,ada", "Ada Lovelace", "Love"])
def test_a_patient_is_found_by_name_as_the_list_shows_it(ada, clinic_a, typed):
    assert list(selectors.patient_list(clinic=clinic_a, query=typed)) == [ada]


def test_another_clinics_patient_is_not_found_by_number(ada, clinic_b):
    assert list(selectors.patient_list(clinic=clinic_b, query="0412 345 001")) == []
