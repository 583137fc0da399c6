"""Header values (subject, recipient) with line breaks, NUL or other control characters are refused at
input, with a field error and nothing written, whichever way they come: service, compose form, API."""

import re

import pytest
from django.core.exceptions import ValidationError

from messaging.models import Message
from messaging.services import message_send

pytestmark = pytest.mark.django_db

POISONED = [
    ("a\r\nBcc: x@evil.example", "The subject cannot contain line breaks."),
    ("a\nb", "The subject cannot contain line breaks."),
    ("a\rb", "The subject cannot contain line breaks."),
    ("a\u2028b", "The subject cannot contain line breaks."),
    ("a\x00b", "The subject cannot contain control characters."),
    ("a\x1b[31mb", "The subject cannot contain control characters."),
]


@pytest.mark.parametrize(("subject", "error"), POISONED)
def test_the_service_refuses_a_subject_with_line_breaks_or_control_characters(clinic_a, patient_a, subject, error):
    with pytest.raises(ValidationError) as refused:
        message_send(clinic=clinic_a, patient=patient_a, channel="email", subject=subject, body="Hello")
    assert refused.value.message_dict == {"subject": [error]}
    assert not Message.objects.exists()


@pytest.mark.parametrize("channel", ["sms", "fax"])
def test_a_subject_is_checked_on_every_channel(clinic_a, patient_a, channel, pdf):
    with pytest.raises(ValidationError) as refused:
        message_send(
            clinic=clinic_a,
            channel=channel,
            recipient="+61299990000",
            subject="x\r\ny",
            body="hello",
            attachment=pdf,
        )
    assert "subject" in refused.value.message_dict
    assert not Message.objects.exists()


def test_a_recipient_address_with_a_control_character_is_refused(clinic_a):
    with pytest.raises(ValidationError) as refused:
        message_send(clinic=clinic_a, channel="email", recipient='"ada\x01"@example.com', subject="Hi", body="x")
    assert refused.value.message_dict == {"recipient": ["Enter a valid email address."]}
    assert not Message.objects.exists()


def test_a_body_with_nul_is_a_field_error_not_a_database_error(clinic_a, patient_a):
    with pytest.raises(ValidationError) as refused:
        message_send(clinic=clinic_a, patient=patient_a, channel="sms", body="See you\x00 Tuesday")
    assert refused.value.message_dict == {"body": ["The text cannot contain NUL characters."]}
    assert not Message.objects.exists()


def test_an_ordinary_subject_and_a_multi_line_body_are_fine(clinic_a, patient_a):
    message = message_send(
        clinic=clinic_a, patient=patient_a, channel="email", subject="Résultats · prêts ✓", body="Line 1\r\nLine 2\t."
    )
    assert message.subject == "Résultats · prêts ✓"


@pytest.mark.parametrize(
    ("value", "problem"),
    [("fine", ""), ("a\tb", "a control character"), ("a\x85b", "a line break"), ("a\u2029b", "a line break")],
)
def test_header_problem_names_what_is_wrong(value, problem):
    from messaging.content import header_problem

    assert header_problem(value) == problem


def hidden_fields(page: str) -> dict:
    """The compose form's hidden inputs (CSRF aside), so the post is what a browser would send."""
    fields = {}
    for tag in re.findall(r"<input[^>]*type=\"hidden\"[^>]*>", page):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name and name.group(1) != "csrfmiddlewaretoken":
            fields[name.group(1)] = value.group(1) if value else ""
    return fields


@pytest.mark.parametrize(("subject", "error"), POISONED[:3])
def test_the_compose_form_shows_the_subject_error_and_sends_nothing(client_a, patient_a, subject, error):
    form = hidden_fields(client_a.get("/messages/new/").content.decode())
    response = client_a.post(
        "/messages/new/", {**form, "patient": patient_a.pk, "channel": "email", "subject": subject, "body": "Hello"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["subject"] == [error]
    assert not Message.objects.exists()


@pytest.mark.parametrize(("subject", "error"), [POISONED[0], POISONED[3], POISONED[5]])
def test_the_api_answers_400_with_the_subject_error_and_sends_nothing(client_a, patient_a, subject, error):
    response = client_a.post(
        "/api/v1/messages/",
        {"patient": patient_a.pk, "channel": "email", "subject": subject, "body": "Hello"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {"subject": [error]}
    assert not Message.objects.exists()
