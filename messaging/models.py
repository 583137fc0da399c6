from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from messaging.vocabulary import EventKind, Status, staff_status  # noqa: F401  (the vocabulary's choices, used here)


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    FAX = "fax", "Fax"


class Dispatch(models.TextChoices):
    """Where a message is in our own send pipeline (the durable queue); moves in messaging.dispatch."""

    HELD = "held", "Held until the patient opts in"
    QUEUED = "queued", "Queued for the live lane"
    HANDING_OFF = "handing_off", "Being handed to the provider"
    HANDED_OFF = "handed_off", "Handed to the provider"
    DONE = "done", "Done (cancelled or failed before hand-off)"


class Message(models.Model):
    # Indexed by message_clinic_list_idx (clinic, -id); a separate FK index would only cost writes.
    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.PROTECT, related_name="messages", db_index=False)
    patient = models.ForeignKey(
        "clinics.Patient", on_delete=models.PROTECT, related_name="messages", null=True, blank=True
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = models.CharField(max_length=254, help_text="Normalised: lower-case email or E.164 number.")
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    attachment = models.FileField(upload_to="messaging/fax/%Y/%m/", blank=True)
    segments = models.PositiveSmallIntegerField(default=0, help_text="SMS parts; 0 for other channels.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    retry_of = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="retries")

    # The durable queue: claimed in (lane, priority, id) order; lower priority numbers go first.
    lane = models.CharField(max_length=32, default="live")
    priority = models.SmallIntegerField(default=100)
    dispatch = models.CharField(max_length=12, choices=Dispatch.choices, default=Dispatch.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.BigIntegerField(null=True, blank=True, help_text="Batch that holds the hand-off.")
    send_key = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    idempotency_key = models.CharField(max_length=100, blank=True)
    provider = models.CharField(max_length=32, blank=True)
    provider_message_id = models.CharField(max_length=128, blank=True)

    # Derived from the events (and the patient's name) by messaging.status; never written elsewhere.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    status_detail = models.CharField(max_length=255, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)
    search = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="message_idempotency_key_per_clinic",
            ),
            # A failed message is sent again at most once, however many Retry presses race (migration 0012).
            models.UniqueConstraint(
                fields=["retry_of"], condition=Q(retry_of__isnull=False), name="message_one_retry_per_message"
            ),
        ]
        indexes = [
            models.Index(fields=["lane", "priority", "id"], condition=Q(dispatch="queued"), name="message_claim_idx"),
            models.Index(fields=["claim_token"], condition=Q(dispatch="handing_off"), name="message_handoff_idx"),
            models.Index(fields=["patient"], condition=Q(dispatch="held"), name="message_held_idx"),
            # Partial: most messages have no provider id (held, cancelled, not handed off yet), and on the
            # whole table the planner would take a seq scan for each report matched by provider id.
            models.Index(
                fields=["provider", "provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="message_provider_ref_idx",
            ),
            models.Index(fields=["clinic", "-id"], name="message_clinic_list_idx"),
            models.Index(fields=["clinic", "status", "-id"], name="message_clinic_status_idx"),
            GinIndex(fields=["search"], name="message_search_gin"),
        ]

    def __str__(self):
        return f"{self.get_channel_display()} #{self.pk}"

    @property
    def staff_status(self):
        """The status in staff words (messaging.vocabulary.staff_status)."""
        return staff_status(channel=self.channel, status=self.status, detail=self.status_detail)


class EventSource(models.TextChoices):
    SYSTEM = "system", "Kalix"
    STAFF = "staff", "Staff"
    WORKER = "worker", "Live-lane worker"
    PROVIDER = "provider", "Provider report"


class DeliveryEvent(models.Model):
    """One thing that happened to a message. Append-only: rows are inserted, never updated or deleted."""

    # Indexed by event_message_idx (message, occurred_at); a separate FK index would only cost writes.
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    occurred_at = models.DateTimeField(help_text="When it happened, by the provider's clock where it says.")
    received_at = models.DateTimeField(help_text="When we learned of it.")
    source = models.CharField(max_length=10, choices=EventSource.choices)
    event_id = models.CharField(max_length=200, unique=True, help_text="A repeated report carries the same id.")
    detail = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="The provider's report, patient data removed.")

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["message", "occurred_at"], name="event_message_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} for message {self.message_id}"


class WebhookInbox(models.Model):
    """Delivery reports as received, before they are applied: the webhook only inserts here.

    The live lane applies them in batches (messaging.inbox). A report it cannot apply (no message
    matches it yet: the provider answered faster than we recorded its id) waits until `next_attempt_at`
    and is tried again, at most MESSAGING_INBOX_MAX_TRIES times, then parked with its reason for an
    operator: parked rows are never picked again and never count as live-lane lag.
    """

    provider = models.CharField(max_length=32)
    provider_message_id = models.CharField(max_length=128, blank=True)
    send_key = models.UUIDField(null=True, blank=True)
    event_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    detail = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    # Bounded by MESSAGING_INBOX_MAX_TRIES (a report is parked on reaching it) and capped at the
    # column's maximum in the UPDATE, so it can never overflow.
    tries = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_default=Now(), help_text="Not picked before this time.")
    parked_at = models.DateTimeField(null=True, blank=True, help_text="Set: given up on, waits for an operator.")
    reason = models.CharField(max_length=200, blank=True, help_text="Why the last try could not apply it.")

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "webhook inbox"
        indexes = [
            # apply_batch's pick: due, unparked rows in due order
            models.Index(fields=["next_attempt_at", "id"], condition=Q(parked_at__isnull=True), name="inbox_due_idx"),
            models.Index(fields=["parked_at"], condition=Q(parked_at__isnull=False), name="inbox_parked_idx"),
        ]

    def __str__(self):
        return f"{self.provider} report {self.event_id}"


class QueuedMessage(Message):
    """Messages waiting in a lane, as operators see them in admin: claim order, backlog, promote."""

    class Meta:
        proxy = True
        ordering = ["lane", "priority", "id"]
        verbose_name = "queued message"


class WebhookReceipt(models.Model):
    """One authenticated webhook delivery already filed: the same delivery again is answered 2xx (so the
    sender stops retrying) and stores nothing (messaging.authenticity).

    Inserted in the transaction that files the delivery's reports; kept for twice the replay window (a
    signed request verifies from its timestamp minus the window to its timestamp plus it), then purged.
    """

    digest = models.CharField(max_length=64, primary_key=True, help_text="SHA-256 of provider and delivery.")
    received_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"webhook receipt {self.digest[:12]}"
