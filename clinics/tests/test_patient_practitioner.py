"""A patient's own practitioner (Patient.practitioner, which `Clinic.audit_asks_reason` reads) is chosen by
the clinic's staff on the patient form and through the API, among their own clinic's practitioners only:
another clinic's user, a receptionist or manager, or garbage is a field error and nothing is saved."""

import pytest
from django.core.exceptions import ValidationError

from clinics import services
from clinics.models import Patient
from clinics.roles import CLINIC_STAFF
from tests.support.patients import edit_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague(make_user, clinic_a):
    return make_user("priya", clinics=[clinic_a], groups=[CLINIC_STAFF], first_name="Priya", last_name="Shah")


@pytest.fixture
def receptionist(make_user, clinic_a):
    return make_user("rita", clinics=[clinic_a], role="reception", groups=[CLINIC_STAFF])


@pytest.fixture
def other_clinics_practitioner(make_user, clinic_b):
    return make_user("bob", clinics=[clinic_b], groups=[CLINIC_STAFF])


def test_staff_set_and_clear_a_patients_practitioner_on_the_edit_page(client_a, patient_a, colleague):
    page = client_a.get(f"/patients/{patient_a.pk}/edit/").content.decode()
    assert f'<option value="{colleague.pk}">Priya Shah</option>' in page

    response = client_a.post(f"/patients/{patient_a.pk}/edit/", edit_form(patient_a, practitioner=colleague.pk))
    assert response.status_code == 302
    patient_a.refresh_from_db()
    assert patient_a.practitioner == colleague
    assert '<dd id="practitioner">Priya Shah</dd>' in client_a.get(f"/patients/{patient_a.pk}/").content.decode()

    response = client_a.post(f"/patients/{patient_a.pk}/edit/", edit_form(patient_a, practitioner=""))
    assert response.status_code == 302
    patient_a.refresh_from_db()
    assert patient_a.practitioner is None


def test_a_new_patient_gets_a_practitioner_on_the_new_patient_page(client_a, clinic_a, colleague):
    response = client_a.post(
        "/patients/new/",
        {
            "form_clinic": clinic_a.pk,
            "first_name": "Mary",
            "last_name": "Somerville",
            "messaging_consent": "unknown",
            "practitioner": colleague.pk,
        },
    )
    assert response.status_code == 302
    assert Patient.objects.get(last_name="Somerville").practitioner == colleague


def test_the_form_offers_only_this_clinics_practitioners(client_a, patient_a, receptionist, other_clinics_practitioner):
    form = client_a.get(f"/patients/{patient_a.pk}/edit/").context["form"]
    offered = {user.username for user in form.fields["practitioner"].queryset}
    assert offered == {"alice"}  # staff_a, the only practitioner of clinic A


@pytest.mark.parametrize("who", ["other_clinics_practitioner", "receptionist", "garbage", "huge", "negative"])
def test_anyone_but_this_clinics_practitioners_is_a_field_error_and_nothing_is_saved(client_a, patient_a, request, who):
    posted = {"garbage": "abc", "huge": "9" * 30, "negative": "-1"}.get(who) or request.getfixturevalue(who).pk
    response = client_a.post(
        f"/patients/{patient_a.pk}/edit/", edit_form(patient_a, practitioner=posted, last_name="Byron")
    )
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"practitioner"}
    patient_a.refresh_from_db()
    assert (patient_a.practitioner_id, patient_a.last_name) == (None, "Lovelace")


def test_the_service_refuses_another_clinics_user_whoever_calls_it(patient_a, other_clinics_practitioner):
    with pytest.raises(ValidationError) as refused:
        services.patient_update(patient=patient_a, practitioner=other_clinics_practitioner)
    assert set(refused.value.message_dict) == {"practitioner"}
    patient_a.refresh_from_db()
    assert patient_a.practitioner_id is None


def test_a_former_practitioner_stays_until_someone_changes_it(client_a, patient_a, colleague):
    """They set it while she worked here; she has since become a receptionist. Editing the patient's
    phone number neither refuses the form nor silently clears her."""
    services.patient_update(patient=patient_a, practitioner=colleague)
    colleague.memberships.update(role="reception")
    response = client_a.post(f"/patients/{patient_a.pk}/edit/", edit_form(patient_a, mobile="+61412000002"))
    assert response.status_code == 302
    patient_a.refresh_from_db()
    assert (patient_a.practitioner, str(patient_a.mobile)) == (colleague, "+61412000002")
    assert (
        client_a.patch(
            f"/api/v1/patients/{patient_a.pk}/", {"practitioner": colleague.pk}, "application/json"
        ).status_code
        == 200
    )


def test_the_api_sets_and_clears_the_practitioner(client_a, patient_a, colleague):
    url = f"/api/v1/patients/{patient_a.pk}/"
    response = client_a.patch(url, {"practitioner": colleague.pk}, "application/json")
    assert response.status_code == 200 and response.json()["practitioner"] == colleague.pk
    patient_a.refresh_from_db()
    assert patient_a.practitioner == colleague
    assert client_a.patch(url, {"practitioner": None}, "application/json").status_code == 200
    patient_a.refresh_from_db()
    assert patient_a.practitioner is None


@pytest.mark.parametrize("who", ["other_clinics_practitioner", "receptionist", "garbage"])
def test_the_api_refuses_anyone_but_this_clinics_practitioners_and_saves_nothing(
    client_a, clinic_a, patient_a, request, who
):
    posted = "abc" if who == "garbage" else request.getfixturevalue(who).pk
    response = client_a.patch(
        f"/api/v1/patients/{patient_a.pk}/", {"practitioner": posted, "last_name": "Byron"}, "application/json"
    )
    assert response.status_code == 400 and set(response.json()) == {"practitioner"}
    patient_a.refresh_from_db()
    assert (patient_a.practitioner_id, patient_a.last_name) == (None, "Lovelace")

    created = client_a.post("/api/v1/patients/", {"first_name": "M", "last_name": "S", "practitioner": posted})
    assert created.status_code == 400 and set(created.json()) == {"practitioner"}
    assert not Patient.objects.filter(clinic=clinic_a, last_name="S").exists()


def test_the_api_answers_another_clinics_user_as_it_answers_no_user_at_all(
    client_a, patient_a, other_clinics_practitioner
):
    """Its answer does not tell which user ids exist in other clinics."""
    from django.contrib.auth import get_user_model

    missing = get_user_model().objects.order_by("-pk").first().pk + 1
    answers = [
        client_a.patch(f"/api/v1/patients/{patient_a.pk}/", {"practitioner": pk}, "application/json").json()
        for pk in (other_clinics_practitioner.pk, missing)
    ]
    assert answers[0]["practitioner"] == [
        m.replace(str(missing), str(other_clinics_practitioner.pk)) for m in answers[1]["practitioner"]
    ]
