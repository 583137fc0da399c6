"""Messaging's section of the patient page (clinics.hub): the communication history and the Send
buttons, which open compose pre-filled with the patient, the channel and its address."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.http import urlencode

from clinics.hub import Section, register
from messaging import selectors, sending
from messaging.models import Channel
from messaging.services import CONTACT_FIELD


@dataclass(frozen=True)
class SendButton:
    channel: str
    label: str  # "Send SMS"
    url: str  # "" when the patient has no address for it
    missing: str  # "no fax number"


SEND_LABEL = {Channel.EMAIL: "Send email", Channel.SMS: "Send SMS", Channel.FAX: "Send fax"}
MISSING = {Channel.EMAIL: "no email address", Channel.SMS: "no mobile number", Channel.FAX: "no fax number"}


def compose_url(patient, channel: str) -> str:
    return f"{reverse('messaging:compose')}?{urlencode({'patient': patient.pk, 'channel': channel})}"


def send_buttons(patient) -> list[SendButton]:
    buttons = []
    for channel in (Channel.SMS, Channel.EMAIL, Channel.FAX):
        has_address = bool(getattr(patient, CONTACT_FIELD[channel]))
        url = compose_url(patient, channel) if has_address else ""
        buttons.append(SendButton(channel, SEND_LABEL[channel], url, MISSING[channel]))
    return buttons


def history_section(request, patient) -> dict:
    return {
        "patient": patient,
        "history": selectors.patient_history(clinic=request.clinic, patient=patient),
        "held": selectors.held_count(clinic=request.clinic, patient=patient),
        "send_buttons": send_buttons(patient),
        **sending.notice_context(request),
    }


def register_section() -> None:
    register(
        Section(
            name="messaging",
            template="messaging/_patient_history.html",
            actions_template="messaging/_patient_actions.html",
            context=history_section,
        )
    )
