"""A superuser editing a patient in admin keeps to the staff form's rules (clinics.services): admin saved
the model directly, so another clinic's user could be made a patient's practitioner, a date of birth could
be in the future and a consent change went unstamped."""

from datetime import date, timedelta

import pytest
from django.urls import reverse

from clinics.models import Patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client, make_user):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def admin_form(patient, **changes) -> dict:
    data = {
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "date_of_birth": patient.date_of_birth.isoformat() if patient.date_of_birth else "",
        "email": patient.email,
        "mobile": str(patient.mobile or ""),
        "fax": str(patient.fax or ""),
        "messaging_consent": patient.messaging_consent,
        "practitioner": patient.practitioner_id or "",
    }
    return {**data, **changes}


def change(root, patient, **changes):
    response = root.post(reverse("admin:clinics_patient_change", args=[patient.pk]), admin_form(patient, **changes))
    errors = response.context["adminform"].form.errors if response.status_code == 200 else {}
    return response.status_code, errors


def test_another_clinics_user_cannot_be_made_a_patients_practitioner(root, patient_a, staff_b):
    page = root.get(reverse("admin:clinics_patient_change", args=[patient_a.pk])).content.decode()
    assert f'value="{staff_b.pk}"' not in page, "not offered"
    status, errors = change(root, patient_a, practitioner=staff_b.pk)
    assert status == 200 and "practitioner" in errors
    patient_a.refresh_from_db()
    assert patient_a.practitioner_id is None


def test_the_clinics_own_practitioner_is_kept(root, patient_a, staff_a):
    assert change(root, patient_a, practitioner=staff_a.pk) == (302, {})
    patient_a.refresh_from_db()
    assert patient_a.practitioner_id == staff_a.pk


def test_a_date_of_birth_in_the_future_is_a_field_error(root, patient_a):
    status, errors = change(root, patient_a, date_of_birth=(date.today() + timedelta(days=400)).isoformat())
    assert status == 200 and errors["date_of_birth"] == ["A date of birth cannot be in the future."]
    patient_a.refresh_from_db()
    assert patient_a.date_of_birth is None


def test_a_consent_change_in_admin_is_stamped_as_on_the_staff_form(root, patient_a):
    before = Patient.objects.get(pk=patient_a.pk).consent_at
    new = "declined" if patient_a.messaging_consent != "declined" else "opted_in"
    assert change(root, patient_a, messaging_consent=new) == (302, {})
    patient_a.refresh_from_db()
    assert patient_a.messaging_consent == new and patient_a.consent_at and patient_a.consent_at != before


def test_a_patient_cannot_be_moved_to_another_clinic_in_admin(root, patient_a, clinic_b):
    assert change(root, patient_a, clinic=clinic_b.pk) == (302, {})
    patient_a.refresh_from_db()
    assert patient_a.clinic_id != clinic_b.pk


def test_a_patient_added_in_admin_gets_the_same_checks(root, clinic_a, staff_b, staff_a):
    add = reverse("admin:clinics_patient_add")
    fields = {"clinic": clinic_a.pk, "first_name": "Grace", "last_name": "Hopper", "messaging_consent": "opted_in"}
    response = root.post(add, {**fields, "practitioner": staff_b.pk})
    assert response.status_code == 200 and "practitioner" in response.context["adminform"].form.errors
    assert not Patient.objects.filter(last_name="Hopper").exists()
    assert root.post(add, {**fields, "practitioner": staff_a.pk}).status_code == 302
    grace = Patient.objects.get(last_name="Hopper")
    assert (grace.clinic_id, grace.practitioner_id) == (clinic_a.pk, staff_a.pk) and grace.consent_at


def test_a_landline_is_refused_as_a_mobile_in_admin(root, patient_a):
    from clinics.services import MOBILE_INVALID

    status, errors = change(root, patient_a, mobile="02 9000 0000")
    assert status == 200 and errors["mobile"] == [MOBILE_INVALID]
    status, errors = change(root, patient_a, mobile="0412 345 67")
    assert status == 200 and errors["mobile"] == [MOBILE_INVALID]
    patient_a.refresh_from_db()
    assert str(patient_a.mobile) == "+61412000001"


def test_opening_a_patient_in_admin_is_in_the_clinics_access_audit(root, patient_a, manager_a):
    from clinics.models import AccessRecord

    assert root.get(reverse("admin:clinics_patient_change", args=[patient_a.pk])).status_code == 200
    row = AccessRecord.objects.get()
    assert (row.clinic_id, row.username, row.action, row.kind, row.patient_id, row.object_id, row.via) == (
        patient_a.clinic_id,
        "root",
        "view",
        "patient",
        patient_a.pk,
        patient_a.pk,
        "admin",
    )
    root.force_login(manager_a)
    page = root.get("/audit/").content.decode()
    assert "root" in page and patient_a.full_name in page and "Opened: Patient record" in page


def test_saving_a_patient_in_admin_is_an_edit_in_the_access_audit(root, patient_a, clinic_a, staff_a, manager_a):
    from clinics.models import AccessRecord

    assert change(root, patient_a, first_name="Renamed") == (302, {})
    row = AccessRecord.objects.get(action="edit")
    assert (row.clinic_id, row.username, row.kind, row.patient_id, row.via) == (
        patient_a.clinic_id,
        "root",
        "patient",
        patient_a.pk,
        "admin",
    )
    fields = {"clinic": clinic_a.pk, "first_name": "Grace", "last_name": "Hopper", "messaging_consent": "opted_in"}
    assert root.post(reverse("admin:clinics_patient_add"), {**fields, "practitioner": staff_a.pk}).status_code == 302
    grace = Patient.objects.get(last_name="Hopper")
    assert AccessRecord.objects.filter(action="edit", patient_id=grace.pk, object_id=grace.pk).count() == 1
    root.force_login(manager_a)
    assert "Edited: Patient record" in root.get("/audit/").content.decode()


def test_a_refused_save_in_admin_leaves_no_edit(root, patient_a, staff_b):
    from clinics.models import AccessRecord

    status, errors = change(root, patient_a, practitioner=staff_b.pk)
    assert status == 200 and "practitioner" in errors
    assert not AccessRecord.objects.filter(action="edit").exists()


def test_add_patient_offers_only_practitioners(root, staff_a, staff_b, manager_a, reception_a, ops, support):
    page = root.get(reverse("admin:clinics_patient_add")).content.decode()
    for practitioner in (staff_a, staff_b):
        assert f'<option value="{practitioner.pk}">' in page
    for other in (manager_a, reception_a, ops, support):
        assert f'<option value="{other.pk}">' not in page, other.username


def test_two_admin_tabs_keep_each_others_saves_and_a_clash_saves_nothing(root, patient_a):
    """The new-user walk: a stale admin tab saving only the email put back the mobile the other had changed."""
    import re

    url = reverse("admin:clinics_patient_change", args=[patient_a.pk])

    def tab() -> dict:
        opened = re.search(r'name="opened" value="([^"]+)"', root.get(url).content.decode())[1]
        return {**admin_form(Patient.objects.get(pk=patient_a.pk)), "opened": opened}

    tab_a, tab_b, tab_c = tab(), tab(), tab()
    assert root.post(url, {**tab_a, "mobile": "0412 222 333"}).status_code == 302
    assert root.post(url, {**tab_b, "email": "ada.l@example.com"}).status_code == 302
    patient_a.refresh_from_db()
    assert (str(patient_a.mobile), patient_a.email) == ("+61412222333", "ada.l@example.com")

    clash = root.post(url, {**tab_c, "mobile": "0412 444 555"})
    assert clash.status_code == 200
    assert clash.context["adminform"].form.errors["mobile"] == ["Saved meanwhile as: 0412 222 333."]
    patient_a.refresh_from_db()
    assert str(patient_a.mobile) == "+61412222333", "nothing saved"
