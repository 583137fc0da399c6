"""A patient's STOP, START and HELP texts, signed by the carrier and posted over real HTTP, set and clear
the SMS opt-out of their number in the clinics that texted it; forged, malformed and repeated texts
change nothing. (Every text is also kept in its clinic's SMS thread: messaging/tests/test_two_way.py.)"""

import json

import pytest
import requests
from django.core.exceptions import ValidationError
from twilio.request_validator import RequestValidator

from clinics.models import AddressConsent, AddressConsentChange
from messaging import worker
from messaging.authenticity import sim_headers
from messaging.services import message_send
from tests.support.channels import SIM_SECRET
from tests.support.ledger import assert_ledger

NUMBER = "+61412000001"  # Ada's mobile (patient_a)
SHARED = "+61400000000"  # a sender number all clinics share


def sends(**fields) -> bool:
    try:
        message_send(body="Your appointment is tomorrow", channel="sms", **fields)
    except ValidationError:
        return False
    return True


@pytest.mark.django_db(transaction=True)
def test_stop_over_http_opts_the_number_out_and_start_allows_it_again(over_http, clinic_a, clinic_b, patient_a):
    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Reminder")
    worker.drain()
    assert over_http.send_text(over_http.inbound_url, sender="0412 000 001", to=SHARED, text=" Stop ") == 204

    with pytest.raises(ValidationError) as error:
        message_send(clinic=clinic_a, channel="sms", recipient=NUMBER, body="Typed in")
    assert error.value.message_dict["recipient"][0].startswith(
        "+61412000001 has opted out of SMS at this clinic: texted STOP, "
    )
    assert not sends(clinic=clinic_a, patient=patient_a)  # the chosen patient's number is the same number
    assert sends(clinic=clinic_b, recipient=NUMBER)  # Beta never texted this number: nobody told Beta no

    assert over_http.send_text(over_http.inbound_url, sender=NUMBER, to=SHARED, text="HELP") == 204
    assert not sends(clinic=clinic_a, recipient=NUMBER)  # HELP is recorded, changes nothing
    assert over_http.send_text(over_http.inbound_url, sender=NUMBER, to=SHARED, text="start") == 204
    assert sends(clinic=clinic_a, recipient=NUMBER)

    history = AddressConsent.objects.get(clinic=clinic_a, channel="sms", address=NUMBER).changes.all()
    assert [(c.state, c.reason) for c in history] == [
        ("opted_out", "texted STOP"),
        ("opted_out", "texted HELP"),
        ("allowed", "texted START"),
    ]
    worker.drain()
    assert_ledger(expected=3, carrier=over_http)


@pytest.mark.django_db(transaction=True)
def test_stop_to_a_clinics_own_sender_stops_that_clinic_only(over_http, clinic_a, clinic_b, patient_a):
    for clinic in (clinic_a, clinic_b):
        message_send(clinic=clinic, channel="sms", recipient=NUMBER, body="Reminder")
    assert over_http.send_text(over_http.inbound_url, sender=NUMBER, to="BetaPhysio", text="STOP") == 204
    assert sends(clinic=clinic_a, recipient=NUMBER)
    assert not sends(clinic=clinic_b, recipient=NUMBER)


@pytest.mark.django_db(transaction=True)
def test_a_stop_on_a_shared_number_reaches_every_clinic_that_texted_it(over_http, clinic_a, clinic_b):
    for clinic in (clinic_a, clinic_b):
        message_send(clinic=clinic, channel="sms", recipient=NUMBER, body="Reminder")
    assert over_http.send_text(over_http.inbound_url, sender=NUMBER, to=SHARED, text="UNSUBSCRIBE") == 204
    assert not sends(clinic=clinic_a, recipient=NUMBER)
    assert not sends(clinic=clinic_b, recipient=NUMBER)


@pytest.mark.django_db(transaction=True)
def test_forged_malformed_and_repeated_texts_change_nothing_more(over_http, clinic_a, patient_a):
    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Reminder")
    url = over_http.inbound_url
    body = json.dumps({"inbound": [{"id": "t1", "from": NUMBER, "to": SHARED, "text": "STOP"}]}).encode()
    forged = requests.post(url, data=body, headers=sim_headers(body, "not-the-secret"), timeout=10)
    assert forged.status_code == 403
    for bad in (b"{nope", b'{"inbound": {}}', b'{"inbound": [{"id": "t2", "from": "12", "text": "STOP"}]}'):
        assert requests.post(url, data=bad, headers=sim_headers(bad, SIM_SECRET), timeout=10).status_code == 400
    assert not AddressConsent.objects.exists()
    assert sends(clinic=clinic_a, recipient=NUMBER)

    assert over_http.send_text(url, sender=NUMBER, to=SHARED, text="STOP", text_id="t3") == 204
    assert over_http.send_text(url, sender=NUMBER, to=SHARED, text="START", text_id="t4") == 204
    assert over_http.send_text(url, sender=NUMBER, to=SHARED, text="STOP", text_id="t3") == 204  # resent
    assert sends(clinic=clinic_a, recipient=NUMBER)  # the resent STOP did not undo the START
    assert AddressConsentChange.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_text_that_is_no_keyword_changes_no_consent(over_http, clinic_a, patient_a):
    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Reminder")
    text = "Please stop by at 3, Ada Lovelace"
    assert over_http.send_text(over_http.inbound_url, sender=NUMBER, to=SHARED, text=text) == 204
    assert not AddressConsent.objects.exists()
    assert sends(clinic=clinic_a, recipient=NUMBER)


# --- Twilio's incoming-message webhook -----------------------------------------------------------------

TWILIO_TOKEN = "twilio-test-token"  # noqa: S105


def post_twilio(url, params, token=TWILIO_TOKEN):
    signature = RequestValidator(token).compute_signature(url, params)
    return requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_stop_through_twilio_opts_out_and_answers_empty_twiml(live_server, settings, clinic_a, patient_a):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="Reminder")
    url = live_server.url + "/messages/webhooks/twilio/inbound/"
    stop = {"MessageSid": "SM" + "a" * 32, "AccountSid": "AC1", "From": NUMBER, "To": SHARED, "Body": "STOP"}
    assert post_twilio(url, stop, token="wrong").status_code == 403
    assert sends(clinic=clinic_a, recipient=NUMBER)

    response = post_twilio(url, stop)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/xml")
    assert response.text.endswith("<Response></Response>")
    assert not sends(clinic=clinic_a, recipient=NUMBER)
    assert post_twilio(url, {**stop, "MessageSid": "SM" + "b" * 32, "Body": "UNSTOP"}).status_code == 200
    assert sends(clinic=clinic_a, recipient=NUMBER)
    assert post_twilio(url, {**stop, "From": "not a number"}).status_code == 400
