from clinics.models import Patient


def test_login_page_and_redirect_to_patients(client, staff_a):
    response = client.post("/accounts/login/", {"username": "alice", "password": "correct-horse-battery-staple"})
    assert response.status_code == 302
    assert client.get("/").url == "/patients/"


def test_anonymous_is_sent_to_login(client, db):
    response = client.get("/patients/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_user_without_clinic_is_refused(client, make_user):
    client.force_login(make_user("nobody"))
    assert client.get("/patients/").status_code == 403


def test_create_patient_stores_e164(client_a, clinic_a):
    response = client_a.post(
        "/patients/new/",
        {
            "form_clinic": clinic_a.pk,
            "first_name": "Ada",
            "last_name": "Lovelace",
            "mobile": "0412 345 678",
            "email": "ada@example.com",
            "messaging_consent": "opted_in",
        },
    )
    patient = Patient.objects.get(clinic=clinic_a, last_name="Lovelace")
    assert response.status_code == 302 and response.url == f"/patients/{patient.pk}/"
    assert str(patient.mobile) == "+61412345678"
    assert patient.consent_at is not None


def test_bad_input_gives_field_errors_and_saves_nothing(client_a, clinic_a):
    response = client_a.post(
        "/patients/new/",
        {
            "first_name": "",
            "last_name": "X",
            "mobile": "12",
            "email": "nope",
            "messaging_consent": "opted_in",
            "form_clinic": clinic_a.pk,
        },
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"first_name", "mobile", "email"}
    assert Patient.objects.count() == 0


def test_edit_with_bad_phone_changes_nothing(client_a, patient_a):
    response = client_a.post(
        f"/patients/{patient_a.pk}/edit/",
        {
            "form_clinic": patient_a.clinic_id,
            "first_name": "Changed",
            "last_name": "Lovelace",
            "mobile": "not a number",
            "messaging_consent": "opted_in",
        },
    )
    assert response.status_code == 200 and "mobile" in response.context["form"].errors
    patient_a.refresh_from_db()
    assert patient_a.first_name == "Ada"


def test_edit_saves(client_a, patient_a):
    client_a.post(
        f"/patients/{patient_a.pk}/edit/",
        {
            "form_clinic": patient_a.clinic_id,
            "first_name": "Augusta",
            "last_name": "Lovelace",
            "mobile": "+61412000001",
            "messaging_consent": "opted_in",
            "sms_opt_out": "on",
        },
    )
    patient_a.refresh_from_db()
    assert (patient_a.first_name, patient_a.sms_opt_out) == ("Augusta", True)


def test_search_by_name_and_phone(client_a, clinic_a):
    from clinics.services import patient_create

    patient_create(clinic=clinic_a, first_name="Ada", last_name="Lovelace", mobile="+61412000001")
    patient_create(clinic=clinic_a, first_name="Alan", last_name="Turing", mobile="+61499999999")
    names = lambda q: [p.last_name for p in client_a.get("/patients/", {"q": q}).context["page"]]  # noqa: E731
    assert names("love") == ["Lovelace"]
    assert names("9999") == ["Turing"]
    assert names("") == ["Lovelace", "Turing"]


def test_clinic_switcher_changes_scope(client, make_user, clinic_a, clinic_b, patient_a, patient_b):
    client.force_login(make_user("max", clinics=[clinic_a, clinic_b], role="manager"))
    listed = lambda: [p.last_name for p in client.get("/patients/").context["page"]]  # noqa: E731
    assert listed() == ["Lovelace"]
    client.post("/clinic/switch/", {"clinic": clinic_b.pk, "next": "/patients/"})
    assert listed() == ["Hopper"]


def test_cannot_switch_to_someone_elses_clinic(client_a, clinic_b):
    assert client_a.post("/clinic/switch/", {"clinic": clinic_b.pk}).status_code == 403
