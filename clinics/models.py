import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Upper
from phonenumber_field.modelfields import PhoneNumberField


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone.")


class Clinic(models.Model):
    """A tenant. Every clinical or billing row belongs to exactly one clinic."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="Australia/Sydney", validators=[validate_timezone])
    email_from = models.EmailField("email sender address", blank=True)
    sms_sender = models.CharField(
        "SMS sender name",
        max_length=11,
        blank=True,
        help_text="A name of up to 11 letters, digits or spaces with a letter among them, or the clinic's own "
        "number in digits (61412345678), shown as the sender.",
        validators=[
            RegexValidator(
                r"^(\d{3,11}|(?=.*[A-Za-z])[A-Za-z0-9]([A-Za-z0-9 ]*[A-Za-z0-9])?)$",
                "A name of up to 11 letters, digits or spaces with a letter among them, or a number in digits "
                "(carriers refuse other senders).",
            )
        ],
    )
    fax_number = PhoneNumberField("fax sender number", blank=True)
    phone = PhoneNumberField("phone number", blank=True, help_text="Given to patients in templates ({clinic_phone}).")
    audit_asks_reason = models.BooleanField(
        "ask for a reason before another practitioner's patient opens",
        default=False,
        help_text="The reason is kept in the access audit, which the clinic's managers see.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class StaffMembership(models.Model):
    class Role(models.TextChoices):
        PRACTITIONER = "practitioner", "Practitioner"
        RECEPTION = "reception", "Reception"
        MANAGER = "manager", "Practice manager"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["clinic__name"]
        constraints = [models.UniqueConstraint(fields=["user", "clinic"], name="one_membership_per_clinic")]

    def __str__(self):
        return f"{self.user} — {self.get_role_display()} at {self.clinic}"


class Patient(models.Model):
    class Consent(models.TextChoices):
        UNKNOWN = "unknown", "Not asked yet"
        OPTED_IN = "opted_in", "Opted in"
        DECLINED = "declined", "Declined"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True, blank=True)
    email = models.EmailField(blank=True)
    mobile = PhoneNumberField(blank=True)
    fax = PhoneNumberField(blank=True)
    email_opt_out = models.BooleanField("no email", default=False)
    sms_opt_out = models.BooleanField("no SMS", default=False)
    fax_opt_out = models.BooleanField("no fax", default=False)
    messaging_consent = models.CharField(
        "electronic messaging consent", max_length=10, choices=Consent.choices, default=Consent.UNKNOWN
    )
    consent_at = models.DateTimeField(null=True, blank=True)
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The patient's own practitioner; others may be asked why they open the record.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index("clinic", Lower("last_name"), Lower("first_name"), name="patient_clinic_name_idx"),
            # Consent by address looks patients up by contact (clinics.consent.patients_at, withheld); iexact is
            # UPPER(). Partial: most patients lack a fax (and some a mobile or email), and an index full of ''
            # makes the planner read the whole table for an address nobody has.
            models.Index("clinic", Upper("email"), name="patient_clinic_email_idx", condition=~Q(email="")),
            models.Index(fields=["clinic", "mobile"], name="patient_clinic_mobile_idx", condition=~Q(mobile="")),
            models.Index(fields=["clinic", "fax"], name="patient_clinic_fax_idx", condition=~Q(fax="")),
        ]

    def __str__(self):
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def opted_out_of(self, channel: str) -> bool:
        return bool(getattr(self, f"{channel}_opt_out", False))


class RateLimitBucket(models.Model):
    """Hits per key per fixed window, counted atomically in PostgreSQL (see clinics/ratelimit.py)."""

    key = models.CharField(max_length=200)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="one_bucket_per_window")]
        indexes = [models.Index(fields=["window_start"], name="ratelimit_window_idx")]


class ContactChannel(models.TextChoices):
    """The channels a patient can be reached on (the same values as messaging's Channel)."""

    EMAIL = "email", "email"
    SMS = "sms", "SMS"
    FAX = "fax", "fax"


class AddressConsent(models.Model):
    """Whether one address may be messaged on one channel by one clinic, whoever it belongs to.

    Consent belongs to the address, not only to a linked patient: a number that texted STOP or a mailbox
    that reported spam must not be reached by typing it in. One row per (clinic, channel, address); the
    address is normalised (E.164, or the email address in lower case). The state moves only through
    clinics.consent, which appends an AddressConsentChange for every change, so staff can see when and why.
    """

    class State(models.TextChoices):
        ALLOWED = "allowed", "Allowed"
        BOUNCING = "bouncing", "Bouncing"
        OPTED_OUT = "opted_out", "Opted out"

    class Source(models.TextChoices):
        STAFF = "staff", "Staff"
        SMS_KEYWORD = "sms_keyword", "Text from the patient"
        COMPLAINT = "complaint", "Spam complaint"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribe"
        BOUNCE = "bounce", "Hard bounce"
        DELIVERY = "delivery", "Delivered again"

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="address_consents")
    channel = models.CharField(max_length=8, choices=ContactChannel.choices)
    address = models.CharField(max_length=254, help_text="E.164 number, or email address in lower case.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.ALLOWED)
    source = models.CharField(max_length=12, choices=Source.choices, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    changed_at = models.DateTimeField(null=True, blank=True, help_text="When the current state began.")

    class Meta:
        verbose_name = "address consent"
        constraints = [
            models.UniqueConstraint(fields=["clinic", "channel", "address"], name="one_consent_per_address"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} {self.address}: {self.get_state_display()}"


class AddressConsentChange(models.Model):
    """One thing that happened to an address's consent. Append-only: inserted, never updated or deleted.

    `event_id` is the provider's (or the inbound text's) id: a repeated report records nothing twice.
    """

    consent = models.ForeignKey(AddressConsent, on_delete=models.CASCADE, related_name="changes")
    state = models.CharField(max_length=10, choices=AddressConsent.State.choices, help_text="The state after it.")
    source = models.CharField(max_length=12, choices=AddressConsent.Source.choices)
    reason = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField(help_text="When it happened, by the provider's clock where it says.")
    recorded_at = models.DateTimeField()
    event_id = models.CharField(max_length=200, blank=True)
    message_pk = models.BigIntegerField(null=True, blank=True, help_text="The message it was about, if any.")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["consent", "event_id"], condition=~models.Q(event_id=""), name="one_change_per_event"
            ),
        ]
        indexes = [models.Index(fields=["consent", "occurred_at"], name="consent_change_order_idx")]

    def __str__(self):
        return f"{self.consent}: {self.get_state_display()} ({self.get_source_display()})"


class Appointment(models.Model):
    """A patient's appointment with a practitioner (one of the clinic's staff), start and end stored in UTC
    and shown and entered in the clinic's time zone.

    Here in clinics, the tenancy app, because every domain app may need it (messaging reminds of it,
    billing may one day invoice an attended one) and a domain app may import only clinics. `status` moves
    only through clinics.appointments.STATUS (a Machine); a patient's reply to a reminder sets `reply`.
    """

    class Status(models.TextChoices):
        BOOKED = "booked", "Booked"
        CANCELLED = "cancelled", "Cancelled"
        ATTENDED = "attended", "Attended"
        NO_SHOW = "no_show", "Did not attend"

    class Reply(models.TextChoices):
        NONE = "", "No reply"
        CONFIRMED = "confirmed", "Confirmed by the patient"
        DECLINED = "declined", "Patient said they cannot come"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="appointments")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    practitioner = models.ForeignKey(StaffMembership, on_delete=models.PROTECT, related_name="appointments")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    reply = models.CharField(max_length=10, choices=Reply.choices, default=Reply.NONE, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="appointment_ends_after_start"),
        ]
        indexes = [
            # The reminder drain's scan: booked appointments by start time (a partial index: past and
            # cancelled ones are never reminded of).
            models.Index(fields=["starts_at"], condition=Q(status="booked"), name="appointment_booked_start_idx"),
            models.Index(fields=["clinic", "practitioner", "starts_at"], name="appointment_day_idx"),
            models.Index(fields=["clinic", "patient", "starts_at"], name="appointment_patient_idx"),
        ]

    def __str__(self):
        return f"{self.patient} at {self.starts_at:%Y-%m-%d %H:%M} UTC"


class AccessRecord(models.Model):
    """Someone opened, edited or exported a patient's record, message or claims. Append-only: a trigger refuses
    every UPDATE and DELETE (migration clinics 0008_access_audit), since an audit its subjects could edit
    proves nothing. Users and patients are referenced without a database constraint and the username is
    copied, so the audit outlives them and never blocks their removal. Written by clinics.audit, read by
    the clinic's managers."""

    class Action(models.TextChoices):
        VIEW = "view", "Opened"
        EDIT = "edit", "Edited"
        EXPORT = "export", "Exported"

    class Kind(models.TextChoices):
        PATIENT = "patient", "Patient record"
        MESSAGE = "message", "Message"
        CLAIM = "claim", "Claim"
        CLAIMS = "claims", "Claims export"

    clinic = models.ForeignKey(Clinic, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    at = models.DateTimeField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=8, choices=Action.choices)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    object_id = models.BigIntegerField()
    patient = models.ForeignKey(Patient, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+")
    via = models.CharField(max_length=8, help_text="page, api or admin")
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["clinic", "-at"], name="access_clinic_at_idx"),
            models.Index(fields=["clinic", "patient", "-at"], name="access_clinic_patient_idx"),
        ]

    def __str__(self):
        return (
            f"{self.username} {self.get_action_display().lower()} {self.get_kind_display().lower()} #{self.object_id}"
        )
