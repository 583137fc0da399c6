"""The patient page is the hub: contact details, consent per channel, the whole communication history
newest first with statuses (messaging.selectors.patient_history), and Send buttons that open compose
pre-filled with the patient, the channel and the address; the picker's search is scoped by clinic."""

import pytest

from clinics.services import patient_create
from messaging.events import NewEvent, record_events
from messaging.models import EventKind, Message
from messaging.selectors import patient_history
from messaging.services import message_send

pytestmark = pytest.mark.django_db


def test_history_is_every_message_of_the_patient_newest_first_with_its_status(clinic_a, patient_a, clinic_b, patient_b):
    first = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="First")
    second = message_send(clinic=clinic_a, patient=patient_a, channel="email", subject="Second", body="x")
    record_events([NewEvent(first.pk, EventKind.FAILED, "f1", detail="no route")])
    message_send(clinic=clinic_a, recipient="+61412000099", channel="sms", body="Someone else")
    message_send(clinic=clinic_b, patient=patient_b, channel="sms", body="Other clinic")
    entries = patient_history(clinic=clinic_a, patient=patient_a)
    assert [e.message_id for e in entries] == [second.pk, first.pk]
    assert [(e.direction, e.channel, e.status) for e in entries] == [
        ("out", "email", "pending"),
        ("out", "sms", "failed"),
    ]
    assert entries[0].summary == "Second" and entries[1].summary == "First"
    assert entries[1].url == f"/messages/{first.pk}/"
    assert patient_history(clinic=clinic_b, patient=patient_a) == []


def test_history_holds_the_patients_texts_to_the_clinic_beside_what_we_sent(client_a, clinic_a, patient_a, clinic_b):
    from messaging import threads

    sent = message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Your results are in")
    threads.receive(
        inbound_id="sim:in-1", sender=patient_a.mobile.as_e164, to="", text="Thanks, see you", occurred_at=None
    )
    entries = patient_history(clinic=clinic_a, patient=patient_a)
    assert [(e.direction, e.summary) for e in entries] == [("in", "Thanks, see you"), ("out", "Your results are in")]
    assert entries[0].url.startswith("/messages/threads/") and entries[1].message_id == sent.pk
    assert patient_history(clinic=clinic_b, patient=patient_a) == []
    html = client_a.get(f"/patients/{patient_a.pk}/").content.decode()
    assert "From patient" in html and "Thanks, see you" in html


def test_the_patient_page_lists_the_history_and_send_buttons(client_a, clinic_a, patient_a):
    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="See you on Tuesday")
    html = client_a.get(f"/patients/{patient_a.pk}/").content.decode()
    assert 'id="history"' in html and "See you on Tuesday" in html and "badge pending" in html
    assert f'href="/messages/new/?patient={patient_a.pk}&amp;channel=sms"' in html
    assert f'href="/messages/new/?patient={patient_a.pk}&amp;channel=email"' in html
    assert "Send fax" in html and "no fax number" in html  # no fax on file: said, not linked
    assert 'id="channel-consent"' in html


def test_compose_is_pre_filled_from_the_patient(client_a, clinic_a, patient_a):
    form = client_a.get("/messages/new/", {"patient": patient_a.pk, "channel": "email"}).context["form"]
    assert (form["patient"].value(), form["channel"].value(), form["recipient"].value()) == (
        patient_a.pk,
        "email",
        "ada@example.com",
    )
    form = client_a.get("/messages/new/", {"patient": patient_a.pk}).context["form"]
    assert (form["channel"].value(), form["recipient"].value()) == ("sms", "+61412000001")


def test_compose_ignores_another_clinics_patient_or_nonsense(client_a, patient_b):
    for asked in [{"patient": patient_b.pk}, {"patient": "x'1"}, {"patient": "1", "channel": "pigeon"}]:
        response = client_a.get("/messages/new/", asked)
        assert response.status_code == 200
        assert response.context["form"]["patient"].value() in (None, "")
        assert "Hopper" not in response.content.decode()


def test_the_picker_search_finds_this_clinics_patients_only(client_a, clinic_a, patient_a, patient_b):
    patient_create(clinic=clinic_a, first_name="Alan", last_name="Turing", mobile="+61412999999")
    found = client_a.get("/patients/search/", {"q": "love"}).json()["results"]
    assert [p["id"] for p in found] == [patient_a.pk]
    assert found[0]["label"] == "Lovelace, Ada" and "+61412000001" in found[0]["detail"]
    assert client_a.get("/patients/search/", {"q": "hopper"}).json()["results"] == []
    assert client_a.get("/patients/search/", {"q": "0412 000 001"}).json()["results"][0]["id"] == patient_a.pk
    assert client_a.get("/patients/search/", {"q": ""}).json()["results"] == []


def test_the_picker_search_needs_clinic_staff(client, patient_a):
    assert client.get("/patients/search/", {"q": "love"}).status_code == 302  # to the login page


def test_a_pre_filled_address_follows_a_patient_changed_without_javascript(client_a, clinic_a, patient_a):
    alan = patient_create(
        clinic=clinic_a, first_name="Alan", last_name="Turing", mobile="+61412999999", messaging_consent="opted_in"
    )
    form = client_a.get("/messages/new/", {"patient": patient_a.pk, "channel": "sms"}).context["form"]
    typed = {name: form[name].value() for name in ("request_key", "channel", "recipient", "prefilled_from")}
    # The plain select changed to another patient; the address box still holds Ada's number.
    client_a.post("/messages/new/", {**typed, "form_clinic": clinic_a.pk, "patient": alan.pk, "body": "Hello Alan"})
    sent = Message.objects.get()
    assert (sent.patient, sent.recipient) == (alan, "+61412999999")


def test_an_address_typed_over_the_pre_filled_one_is_kept(client_a, clinic_a, patient_a):
    form = client_a.get("/messages/new/", {"patient": patient_a.pk, "channel": "sms"}).context["form"]
    typed = {name: form[name].value() for name in ("request_key", "channel", "prefilled_from")}
    body = {**typed, "form_clinic": clinic_a.pk, "patient": patient_a.pk, "recipient": "0412 345 678", "body": "Hi"}
    client_a.post("/messages/new/", body)
    assert Message.objects.get().recipient == "+61412345678"
