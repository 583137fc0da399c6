"""A date of birth is never in the future (in the clinic's own time zone): a field error on the staff
form and in the API, nothing saved."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.authtoken.models import Token

from clinics import services
from clinics.models import Patient

pytestmark = pytest.mark.django_db


def tomorrow():
    return timezone.localdate() + timedelta(days=2)


def test_the_service_refuses_a_future_date_of_birth(clinic_a, patient_a):
    with pytest.raises(ValidationError) as refused:
        services.patient_create(clinic=clinic_a, first_name="Ada", last_name="Lee", date_of_birth=tomorrow())
    assert "date_of_birth" in refused.value.message_dict
    with pytest.raises(ValidationError):
        services.patient_update(patient=patient_a, date_of_birth=tomorrow())
    patient_a.refresh_from_db()
    assert patient_a.date_of_birth != tomorrow()


def test_a_date_of_birth_more_than_125_years_ago_is_a_year_typed_wrong(clinic_a, patient_a):
    """The new-user walk: admin took 14/06/1892."""
    with pytest.raises(ValidationError) as refused:
        services.patient_update(patient=patient_a, date_of_birth=timezone.localdate().replace(year=1892, day=1))
    assert refused.value.message_dict["date_of_birth"] == ["A date of birth more than 125 years ago: check the year."]
    year = timezone.localdate().year - 125
    kept = services.patient_update(patient=patient_a, date_of_birth=timezone.localdate().replace(year=year, day=1))
    assert kept.date_of_birth.year == year


def test_the_staff_form_shows_it_on_the_field(client_a, clinic_a):
    body = {
        "first_name": "Ada",
        "last_name": "Lee",
        "date_of_birth": tomorrow().isoformat(),
        "messaging_consent": "unknown",
        "form_clinic": clinic_a.pk,
    }
    response = client_a.post("/patients/new/", body)
    assert response.status_code == 200
    assert response.context["form"].errors["date_of_birth"] == ["A date of birth cannot be in the future."]
    assert not Patient.objects.filter(last_name="Lee").exists()


def test_the_api_answers_400_on_the_field(client, staff_a, clinic_a, patient_a):
    auth = {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=staff_a).key}"}
    body = {"first_name": "Ada", "last_name": "Lee", "date_of_birth": tomorrow().isoformat()}
    response = client.post("/api/v1/patients/", body, content_type="application/json", **auth)
    assert response.status_code == 400
    assert "date_of_birth" in response.json()
    response = client.patch(
        f"/api/v1/patients/{patient_a.pk}/",
        {"date_of_birth": tomorrow().isoformat()},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 400
    assert not Patient.objects.filter(last_name="Lee").exists()
