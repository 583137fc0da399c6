"""Writes to messages: send, cancel, retry, release a held message. Views, API and admin call these."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinics import consent
from clinics.models import Clinic, Patient
from lanes.pokes import LIVE, poke
from messaging import content
from messaging.dispatch import DISPATCH
from messaging.events import NewEvent, own_event_id, record_events
from messaging.models import Channel, Dispatch, EventKind, EventSource, Message, Status

DRAIN = "messaging.worker.drain"
CONTACT_FIELD = {Channel.EMAIL: "email", Channel.SMS: "mobile", Channel.FAX: "fax"}
CONTACT_WORDS = {Channel.EMAIL: "email address", Channel.SMS: "mobile number", Channel.FAX: "fax number"}


def _is_patient_contact(patient: Patient | None, channel: str, recipient: str) -> bool:
    """Whether the (normalised) recipient is the patient's own contact on the channel, as on their record."""
    contact = str(getattr(patient, CONTACT_FIELD[channel]) or "") if patient else ""
    try:
        return bool(contact) and content.normalise_recipient(channel, contact) == recipient
    except ValidationError:  # a contact saved before today's checks: not the address being sent to
        return False


def _consent_hold(patient: Patient | None, channel: str) -> bool:
    """Email and SMS wait for the patient's opt-in; fax (clinical correspondence) does not."""
    return patient is not None and channel != Channel.FAX and patient.messaging_consent != "opted_in"


def _check_patient(patient: Patient | None, channel: str) -> None:
    if patient is None:
        return
    if patient.opted_out_of(channel):
        raise ValidationError({"channel": f"{patient.full_name} has opted out of {Channel(channel).label}."})
    if channel != Channel.FAX and patient.messaging_consent == "declined":
        raise ValidationError({"channel": f"{patient.full_name} declined electronic messages."})


class BouncedAddress(ValidationError):
    """The recipient hard-bounced; sending again needs send_despite_bounce (the sender has seen why)."""


def _check_address(clinic: Clinic, channel: str, recipient: str, send_despite_bounce: bool) -> None:
    """Consent by address: whoever the address belongs to, and whether or not a patient is chosen."""
    refused = consent.refusal(clinic=clinic, channel=channel, address=recipient)
    if refused:
        raise ValidationError({"recipient": refused})
    bounced = consent.bounce(clinic=clinic, channel=channel, address=recipient)
    if bounced and not send_despite_bounce:
        raise BouncedAddress({"recipient": f"{bounced.words}. Send anyway only if the address has been fixed."})


def message_send(**fields) -> Message:
    """Validate and queue a message; the live lane is poked when the transaction commits.

    With an idempotency key already used in this clinic for the same message, the message made then is
    returned unchanged; for a different message, ValidationError. Takes message_send_or_replay's arguments.
    """
    return message_send_or_replay(**fields)[0]


def message_send_or_replay(
    *,
    clinic: Clinic,
    channel: str,
    body: str = "",
    patient: Patient | None = None,
    recipient: str = "",
    subject: str = "",
    attachment=None,
    created_by=None,
    idempotency_key: str = "",
    priority: int = 100,
    retry_of: Message | None = None,
    send_despite_bounce: bool = False,
    send_at=None,
) -> tuple[Message, bool]:
    """message_send, also saying whether this call made the message (False: a replay of the idempotency
    key, including when a concurrent call with the same key committed first). With `send_at` (aware, in
    the future) it waits in the queue until then: the claim takes only messages whose next_attempt_at has
    come, and the safety drain finds it within a minute of that time."""
    asked = {"channel": channel, "patient_id": patient.pk if patient else None, "subject": subject, "body": body}

    def replay(existing: Message) -> tuple[Message, bool]:
        """The message made earlier with this key, if this call asks for the same message."""
        same = all(getattr(existing, field) == value for field, value in asked.items())
        if same and recipient:
            try:
                same = existing.recipient == content.normalise_recipient(channel, recipient)
            except ValidationError:
                same = False
        if not same:
            raise ValidationError({"idempotency_key": "This key was already used for a different message."})
        return existing, False

    if idempotency_key:
        existing = Message.objects.filter(clinic=clinic, idempotency_key=idempotency_key).first()
        if existing:
            return replay(existing)
    if patient is not None and patient.clinic_id != clinic.pk:
        raise ValidationError({"patient": "No such patient in this clinic."})
    if channel not in Channel.values:
        raise ValidationError({"channel": "Choose email, SMS or fax."})
    if not recipient and patient is not None:
        recipient = str(getattr(patient, CONTACT_FIELD[channel]) or "")
        if not recipient:
            raise ValidationError({"recipient": f"{patient.full_name} has no {Channel(channel).label} contact."})
    if not recipient:
        raise ValidationError({"recipient": "Choose a patient or enter a recipient."})
    recipient = content.normalise_recipient(channel, recipient)
    to_patient_contact = _is_patient_contact(patient, channel, recipient)
    _check_patient(patient, channel)
    _check_address(clinic, channel, recipient, send_despite_bounce)
    segments = content.check_content(channel=channel, subject=subject, body=body, attachment=attachment)

    held = _consent_hold(patient, channel)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                clinic=clinic,
                patient=patient,
                channel=channel,
                recipient=recipient,
                to_patient_contact=to_patient_contact,
                subject=subject,
                body=body,
                segments=segments,
                created_by=created_by,
                idempotency_key=idempotency_key,
                priority=priority,
                retry_of=retry_of,
                dispatch=Dispatch.HELD if held else Dispatch.QUEUED,
                next_attempt_at=max(send_at, timezone.now()) if send_at else timezone.now(),
            )
            if attachment:
                message.attachment.save(f"message-{message.pk}.pdf", attachment, save=True)
            kind = EventKind.HELD if held else EventKind.QUEUED
            detail = f"retry of message {retry_of.pk}" if retry_of else ""
            if send_at and send_at > timezone.now():
                detail = "scheduled for " + timezone.localtime(send_at, clinic.tzinfo).strftime("%d %b %Y %H:%M")
            record_events([NewEvent(message.pk, kind, own_event_id(message.pk, kind), detail=detail)], search=True)
            if not held:
                poke(DRAIN, lane=LIVE)
    except IntegrityError:
        if idempotency_key:  # a concurrent request with the same key won the race
            return replay(Message.objects.get(clinic=clinic, idempotency_key=idempotency_key))
        raise
    message.refresh_from_db()
    return message, True


@transaction.atomic
def message_cancel(*, message: Message, user=None) -> Message:
    """Cancel a message that has not been handed to a provider yet."""
    DISPATCH.move_or_refuse(
        Message.objects.filter(pk=message.pk),
        "cancel",
        "Only a pending message can be cancelled; this one is already with the provider.",
        updated_at=timezone.now(),
    )
    by = f"by {user.get_username()}" if user else ""
    record_events(
        [
            NewEvent(
                message.pk,
                EventKind.CANCELLED,
                own_event_id(message.pk, "cancelled"),
                source=EventSource.STAFF,
                detail=by,
            )
        ]
    )
    message.refresh_from_db()
    return message


def message_retry(*, message: Message, user=None, send_despite_bounce: bool = False, recipient: str = "") -> Message:
    """A failed message is sent again as a new message, linked to the old one (checks run again; a
    bounced address only with send_despite_bounce, given by a caller that showed the bounce). With
    `recipient`, to that corrected address instead (checked like any address).

    Once only: the database holds one retry per message (message_one_retry_per_message), so of several
    Retry presses at once one makes the retry and the others get that same retry back.
    """
    existing = message.retries.first()
    if existing:
        return existing
    if message.status != Status.FAILED:
        raise ValidationError("Only a failed message can be retried.")
    try:
        return message_send(
            clinic=message.clinic,
            patient=message.patient,
            channel=message.channel,
            recipient=recipient.strip() or message.recipient,
            subject=message.subject,
            body=message.body,
            attachment=message.attachment.open("rb") if message.attachment else None,
            created_by=user,
            priority=message.priority,
            retry_of=message,
            send_despite_bounce=send_despite_bounce,
        )
    except IntegrityError:
        existing = message.retries.first()  # a concurrent Retry committed first
        if existing is None:
            raise
        return existing


def release_recipient(message: Message) -> str:
    """Where a release sends this held message: to the patient's contact on its channel as their record has
    it now when the message was addressed to the patient's own (staff expect a corrected mobile to be used),
    else to the address typed for it. ValidationError when the patient no longer has one on that channel."""
    patient = message.patient
    if not message.to_patient_contact or patient is None:
        return message.recipient
    contact = str(getattr(patient, CONTACT_FIELD[message.channel]) or "")
    if not contact:
        raise ValidationError(
            {
                "recipient": f"{patient.full_name} has no {CONTACT_WORDS[message.channel]} on their record now, "
                "so the message stays held: add one on their page, or cancel this message."
            }
        )
    return content.normalise_recipient(message.channel, contact)


@transaction.atomic
def message_release(*, message: Message, user=None) -> Message:
    """Send a message held for the patient's opt-in, now that they have opted in: a staff decision.

    An opt-in never releases held messages by itself: a message written weeks ago ("see you tomorrow")
    may be wrong by then, so a person who can read it decides (docs/decisions.md). The checks of a new
    message run again: consent may have changed the other way since. A message to the patient's own
    contact goes to that contact as it is now (release_recipient), and the timeline says so if it changed.
    """
    patient = message.patient
    if patient is not None:
        patient.refresh_from_db()
    if patient is None or patient.messaging_consent != "opted_in":
        name = patient.full_name if patient else "The recipient"
        raise ValidationError(f"{name} has not opted in yet; the message stays held.")
    recipient = release_recipient(message)
    _check_patient(patient, message.channel)
    _check_address(message.clinic, message.channel, recipient, send_despite_bounce=False)
    DISPATCH.move_or_refuse(
        Message.objects.filter(pk=message.pk),
        "queue",
        "This message is no longer held: it was released or cancelled already.",
        recipient=recipient,
        next_attempt_at=timezone.now(),
        updated_at=timezone.now(),
    )
    by = f"released by {user.get_username()}" if user else "released"
    if recipient != message.recipient:  # no address in the event: its detail is the status Operations see
        by += f" to the patient's {CONTACT_WORDS[message.channel]} as it is now (changed since it was written)"
    record_events(
        [NewEvent(message.pk, EventKind.QUEUED, own_event_id(message.pk, "queued"), detail=by)],
        search=recipient != message.recipient,
    )
    poke(DRAIN, lane=LIVE)
    message.refresh_from_db()
    return message
