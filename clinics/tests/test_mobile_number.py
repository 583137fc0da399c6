"""A patient's mobile must be a mobile: "02 9000 0000" was saved as one (and the patient counted as
reachable by SMS), and a bad mobile's error gave a landline as its example. Any region's mobiles pass,
those of +1 too (their numbers do not tell mobile from landline)."""

import pytest
from django.core.exceptions import ValidationError

from clinics.models import Patient
from clinics.services import MOBILE_INVALID, patient_create, patient_update
from tests.support.patients import edit_form

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("typed", ["02 9000 0000", "+61 2 9000 0000", "0412 345 67", "+44 20 7946 0000"])
def test_the_patient_form_refuses_what_is_not_a_mobile_with_a_mobile_example(client_a, patient_a, typed):
    response = client_a.post(f"/patients/{patient_a.pk}/edit/", edit_form(patient_a, mobile=typed))
    assert response.status_code == 200
    assert response.context["form"].errors["mobile"] == [MOBILE_INVALID]
    assert "1234 5678" not in response.content.decode()
    patient_a.refresh_from_db()
    assert str(patient_a.mobile) == "+61412000001"


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("0412 345 678", "+61412345678"),
        ("+61 412 345 678", "+61412345678"),
        ("+44 7400 123456", "+447400123456"),
        ("+1 201 555 0123", "+12015550123"),
        ("+1 613 555 0123", "+16135550123"),
    ],
)
def test_mobiles_of_any_region_are_kept(clinic_a, typed, stored):
    patient = patient_create(clinic=clinic_a, first_name="M", last_name="Obile", mobile=typed)
    assert str(Patient.objects.get(pk=patient.pk).mobile) == stored


def test_the_service_refuses_a_landline_for_every_caller(clinic_a, patient_a):
    with pytest.raises(ValidationError) as refused:
        patient_create(clinic=clinic_a, first_name="L", last_name="Andline", mobile="02 9000 0000")
    assert refused.value.message_dict == {"mobile": [MOBILE_INVALID]}
    with pytest.raises(ValidationError):
        patient_update(patient=patient_a, mobile="+61290000000")


def test_a_landline_saved_before_the_check_does_not_block_other_changes(clinic_a, patient_a):
    Patient.objects.filter(pk=patient_a.pk).update(mobile="+61290000000")
    patient = Patient.objects.get(pk=patient_a.pk)
    patient_update(patient=patient, sms_opt_out=True)
    assert Patient.objects.get(pk=patient_a.pk).sms_opt_out
