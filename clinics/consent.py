"""Consent by address: may this clinic message this address on this channel, whoever it belongs to?

The invariant: nothing is sent to an address that, in its clinic, is opted out at the address level,
or that belongs to a patient who opted out of the channel or (email and SMS) declined; an address that
hard-bounced is messaged again only by someone who was told when and why it bounced. A typed address
counts as much as a chosen patient's, because the harm (a message to someone who said no) is the same.

Every change (staff, a patient's STOP or START, an ESP's complaint, unsubscribe or bounce) goes through
`record`, which appends an AddressConsentChange and moves the state by MOVES, under the row's lock, so
two reports at once cannot lose either one's history. The latest change by its own time wins: a report
that arrives late is kept in the history but does not undo a newer change (staff's changes always apply).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from clinics.models import AddressConsent, AddressConsentChange, Clinic, ContactChannel, Patient
from clinics.sql import WITHHELD_SQL, Withheld
from kalix_site.sql import rows

State = AddressConsent.State
Source = AddressConsent.Source

# The allowed moves, as data: {move: {state before: state after}}.
MOVES: dict[str, dict[str, str]] = {
    "opt_out": {State.ALLOWED: State.OPTED_OUT, State.BOUNCING: State.OPTED_OUT, State.OPTED_OUT: State.OPTED_OUT},
    "allow": {State.ALLOWED: State.ALLOWED, State.BOUNCING: State.ALLOWED, State.OPTED_OUT: State.ALLOWED},
    # A bounce never lifts an opt-out; a delivery proves the mailbox works again, but is no consent.
    "bounce": {State.ALLOWED: State.BOUNCING, State.BOUNCING: State.BOUNCING, State.OPTED_OUT: State.OPTED_OUT},
    "delivered": {State.ALLOWED: State.ALLOWED, State.BOUNCING: State.ALLOWED, State.OPTED_OUT: State.OPTED_OUT},
    # Recorded for the history (a patient texting HELP), changing nothing.
    "note": {State.ALLOWED: State.ALLOWED, State.BOUNCING: State.BOUNCING, State.OPTED_OUT: State.OPTED_OUT},
}
# Moves that leave no history when they change nothing: every delivery would otherwise be a row.
QUIET_MOVES = {"delivered"}

CONTACT_FIELD = {ContactChannel.EMAIL: "email", ContactChannel.SMS: "mobile", ContactChannel.FAX: "fax"}


def address_key(channel: str, address: str) -> str:
    """The stored form: E.164 numbers as given (callers normalise them), email addresses in lower case.

    Lower case for the whole email address (local part too): a mailbox that said no under one spelling
    is not asked again under another.
    """
    address = (address or "").strip()
    return address.lower() if channel == ContactChannel.EMAIL else address


def channel_words(channel: str) -> str:
    return ContactChannel(channel).label


def when(clinic: Clinic, at: datetime | None) -> str:
    """A time as staff read it: in the clinic's time zone, e.g. '28 Nov 2026 21:00'."""
    if at is None:
        return "an unknown date"
    local = timezone.localtime(at, clinic.tzinfo)
    return f"{local.day} {local:%b %Y %H:%M}"


# --- Writes -------------------------------------------------------------------------------------------


def record(
    *,
    clinic_id: int,
    channel: str,
    address: str,
    move: str,
    source: str,
    reason: str = "",
    occurred_at: datetime | None = None,
    event_id: str = "",
    message_pk: int | None = None,
    by=None,
) -> bool:
    """Apply one consent event to an address; returns whether anything was recorded.

    A repeated `event_id` for the same address records nothing (providers and carriers resend).
    """
    if move not in MOVES:
        raise ValueError(f"unknown consent move {move!r}")
    key = address_key(channel, address)
    now = timezone.now()
    # Nothing happened after we heard of it: a clock ahead of ours must not make a change permanent.
    occurred_at = min(occurred_at or now, now)
    with transaction.atomic():
        # INSERT ... ON CONFLICT DO NOTHING, then lock: concurrent first reports for one address agree.
        AddressConsent.objects.bulk_create(
            [AddressConsent(clinic_id=clinic_id, channel=channel, address=key)], ignore_conflicts=True
        )
        consent = AddressConsent.objects.select_for_update().get(clinic_id=clinic_id, channel=channel, address=key)
        if event_id and consent.changes.filter(event_id=event_id).exists():
            return False
        # Staff decide now, whatever a provider's clock said; reports count in the order they happened.
        current = source == Source.STAFF or consent.changed_at is None or occurred_at >= consent.changed_at
        after = MOVES[move][consent.state] if current else consent.state
        # A newer bounce replaces the reason shown; other moves to the same state keep the first one.
        rewrite = current and (after != consent.state or (move == "bounce" and after == State.BOUNCING))
        if move in QUIET_MOVES and not rewrite:
            return False
        AddressConsentChange.objects.create(
            consent=consent,
            state=after,
            source=source,
            reason=reason[:200],
            occurred_at=occurred_at,
            recorded_at=now,
            event_id=event_id[:200],
            message_pk=message_pk,
            changed_by=by,
        )
        if rewrite:
            AddressConsent.objects.filter(pk=consent.pk, state=consent.state).update(
                state=after, source=source, reason=reason[:200], changed_at=occurred_at
            )
    return True


def address_opt_out(*, clinic: Clinic, channel: str, address: str, reason: str = "", by=None) -> bool:
    """Staff record that this address must not be messaged on this channel (e.g. asked by phone)."""
    return record(
        clinic_id=clinic.pk,
        channel=channel,
        address=address,
        move="opt_out",
        source=Source.STAFF,
        reason=reason or "recorded by staff",
        by=by,
    )


def address_allow(*, clinic: Clinic, channel: str, address: str, reason: str = "", by=None) -> bool:
    """Staff clear an address-level opt-out or bounce (the patient asked again, the mailbox was fixed)."""
    return record(
        clinic_id=clinic.pk,
        channel=channel,
        address=address,
        move="allow",
        source=Source.STAFF,
        reason=reason or "allowed again by staff",
        by=by,
    )


# --- Reads --------------------------------------------------------------------------------------------


def address_state(*, clinic: Clinic, channel: str, address: str) -> AddressConsent | None:
    return AddressConsent.objects.filter(clinic=clinic, channel=channel, address=address_key(channel, address)).first()


def patients_at(*, clinic: Clinic, channel: str, address: str):
    """The clinic's patients whose contact for this channel is this address (normalised)."""
    field = CONTACT_FIELD[channel]
    lookup = {f"{field}__iexact" if channel == ContactChannel.EMAIL else field: address}
    # The explicit "not empty" lets the planner use the partial contact indexes.
    return Patient.objects.filter(clinic=clinic, **lookup).exclude(**{field: ""}).order_by("pk")


def refusal(*, clinic: Clinic, channel: str, address: str) -> str | None:
    """Why this address must not be messaged on this channel by this clinic, or None.

    `address` is normalised (messaging.content.normalise_recipient).
    """
    consent = address_state(clinic=clinic, channel=channel, address=address)
    if consent is not None and consent.state == State.OPTED_OUT:
        why = consent.reason or consent.get_source_display()
        return (
            f"{address} has opted out of {channel_words(channel)} at this clinic: "
            f"{why}, {when(clinic, consent.changed_at)}."
        )
    for patient in patients_at(clinic=clinic, channel=channel, address=address):
        if patient.opted_out_of(channel):
            return f"{address} belongs to {patient.full_name}, who has opted out of {channel_words(channel)}."
        if channel != ContactChannel.FAX and patient.messaging_consent == Patient.Consent.DECLINED:
            return f"{address} belongs to {patient.full_name}, who declined electronic messages."
    return None


@dataclass(frozen=True)
class Bounce:
    at: datetime | None
    reason: str
    words: str  # "This address bounced on 28 Nov 2026 21:00: 550 5.1.1 mailbox unknown"


def bounce(*, clinic: Clinic, channel: str, address: str) -> Bounce | None:
    """The address's last hard bounce, while it is marked as bouncing; else None."""
    consent = address_state(clinic=clinic, channel=channel, address=address)
    if consent is None or consent.state != State.BOUNCING:
        return None
    reason = consent.reason or "no reason given"
    return Bounce(consent.changed_at, reason, f"This address bounced on {when(clinic, consent.changed_at)}: {reason}")


def consents_of(patient: Patient) -> list[AddressConsent]:
    """Address-level consent records for this patient's contacts, with their history prefetched."""
    addresses = []
    for channel, field in CONTACT_FIELD.items():
        value = getattr(patient, field)
        if value:
            addresses.append((channel, address_key(channel, str(value))))
    if not addresses:
        return []
    found = AddressConsent.objects.filter(clinic_id=patient.clinic_id, address__in=[a for _, a in addresses])
    wanted = set(addresses)
    return [c for c in found.prefetch_related("changes") if (c.channel, c.address) in wanted]


# --- The same rule set-based, for the worker's hand-off -------------------------------------------------

WITHHELD_WORDS = {
    "address": "the recipient opted out of {channel} at this clinic",
    "patient": "the patient opted out of {channel}",
    "declined": "the patient declined electronic messages",
}


@dataclass(frozen=True)
class Outgoing:
    id: int  # the caller's key (a message id)
    clinic_id: int
    patient_id: int | None
    channel: str
    address: str  # normalised


def withheld(outgoing: list[Outgoing]) -> dict[int, str]:
    """{id: why} for the rows that must not be sent now; one query, whatever the number of rows."""
    if not outgoing:
        return {}
    columns = [[r.id for r in outgoing], [r.clinic_id for r in outgoing], [r.patient_id for r in outgoing]]
    columns += [[r.channel for r in outgoing], [r.address for r in outgoing]]
    with connection.cursor() as cursor:
        cursor.execute(WITHHELD_SQL, [*columns, State.OPTED_OUT, Patient.Consent.DECLINED])
        found = rows(cursor, Withheld)
    channel_of = {r.id: r.channel for r in outgoing}
    return {
        w.id: WITHHELD_WORDS[w.why].format(channel=channel_words(channel_of[w.id])) for w in found if w.why is not None
    }


# --- Per channel, for the patient page -----------------------------------------------------------------


@dataclass(frozen=True)
class ChannelConsent:
    channel: str
    address: str
    may_send: bool
    words: str  # "Yes", or why not ("No: the patient opted out of SMS")

    @property
    def label(self) -> str:
        return channel_words(self.channel)


def channel_consents(patient: Patient) -> list[ChannelConsent]:
    """Whether the clinic may write to the patient on each channel now, and why not: the patient's own
    answers and the consent of the address itself (clinics.consent.refusal)."""
    found = []
    for channel, field in CONTACT_FIELD.items():
        address = str(getattr(patient, field) or "")
        if not address:
            found.append(ChannelConsent(channel, "", False, f"No {channel_words(channel)} contact on file"))
            continue
        why = refusal(clinic=patient.clinic, channel=channel, address=address_key(channel, address))
        if why is None and channel != ContactChannel.FAX and patient.messaging_consent == Patient.Consent.UNKNOWN:
            found.append(ChannelConsent(channel, address, False, "Held until the patient opts in"))
        elif why is None:
            found.append(ChannelConsent(channel, address, True, "Yes"))
        else:
            found.append(ChannelConsent(channel, address, False, f"No: {why}"))
    return found
