import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
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
        "SMS sender name", max_length=11, blank=True, help_text="Up to 11 letters or digits, shown as the sender."
    )
    fax_number = PhoneNumberField("fax sender number", blank=True)
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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index("clinic", Lower("last_name"), Lower("first_name"), name="patient_clinic_name_idx"),
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
