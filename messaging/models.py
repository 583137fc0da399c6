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
    # The recipient was the patient's own contact on this channel when the message was made (not a typed
    # one-off): a held message is released to the patient's contact as it is then (services.message_release).
    to_patient_contact = models.BooleanField(default=False, db_default=False)
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
    # Hand-offs the provider did not take (a 429, a rate bucket out of time or down): no attempts, but each has its own
    # events, so a hand-off's number (its event ids) is attempts + throttles (messaging.worker).
    # An IntegerField: a Positive one adds a CHECK that PostgreSQL validates over every message while the
    # new column's ALTER TABLE holds the table locked; it only ever goes up from 0.
    throttles = models.IntegerField(default=0, db_default=0)
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


# --- Templates, reminders, bulk sends, two-way SMS (docs/messaging.md, "Reminders and two-way SMS") -----


class MessageTemplate(models.Model):
    """A clinic's reusable text with merge fields ({first_name}, ...; messaging.templating renders them:
    plain substitution, never Django's template language, so staff text stays text)."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.CASCADE, related_name="message_templates")
    name = models.CharField(max_length=100)
    channel = models.CharField(max_length=8, choices=[(Channel.SMS, "SMS"), (Channel.EMAIL, "Email")])
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="one_template_name_per_clinic")]

    def __str__(self):
        return self.name


class ReminderRule(models.Model):
    """ "Send template X, N hours before every booked appointment"; a clinic may have several."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.CASCADE, related_name="reminder_rules")
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="rules")
    hours_before = models.PositiveIntegerField(help_text="How long before the appointment's start it is sent.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-hours_before", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(hours_before__gte=1) & Q(hours_before__lte=24 * 60), name="reminder_rule_hours_range"
            ),
        ]

    def __str__(self):
        return f"{self.template} {self.hours_before} h before"


class Reminder(models.Model):
    """What one rule did for one appointment: the message it made, or why it made none. At most one per
    (appointment, rule), held by the database: the reminder drain inserts these first (ON CONFLICT DO
    NOTHING) and makes a message only for the rows it inserted, so two drains never send one twice."""

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Not sent"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.CASCADE, related_name="+", db_index=False)
    appointment = models.ForeignKey("clinics.Appointment", on_delete=models.CASCADE, related_name="reminders")
    rule = models.ForeignKey(ReminderRule, on_delete=models.CASCADE, related_name="reminders", db_index=False)
    due_at = models.DateTimeField()
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    detail = models.CharField(max_length=200, blank=True)
    message = models.OneToOneField(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="reminder")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["appointment", "rule"], name="one_reminder_per_appointment_and_rule"),
        ]

    def __str__(self):
        return f"reminder for appointment {self.appointment_id} ({self.get_outcome_display()})"


class Audience(models.TextChoices):
    ALL = "all", "All patients"
    TOMORROW = "tomorrow", "Patients with an appointment tomorrow"
    RECALL = "recall", "Recall: no appointment in the last 6 months"


class BulkSend(models.Model):
    """One template to a filtered patient list, made into messages asynchronously by the bulk lane
    (messaging.bulk). Each patient gets at most one message per job (BulkRecipient's constraint), so a
    job run again, or twice at once, makes nothing more."""

    class State(models.TextChoices):
        QUEUED = "queued", "Waiting to be prepared"
        PREPARING = "preparing", "Preparing messages"
        READY = "ready", "Messages made"
        CANCELLED = "cancelled", "Cancelled"

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.CASCADE, related_name="bulk_sends")
    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="bulk_sends")
    audience = models.CharField(max_length=10, choices=Audience.choices)
    send_at = models.DateTimeField(help_text="When the messages go out (now, or later).")
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    expected = models.PositiveIntegerField(default=0, help_text="Patients in the list when it was asked for.")
    made = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["state"], condition=Q(state__in=["queued", "preparing"]), name="bulk_todo_idx")]

    def __str__(self):
        return f"bulk send #{self.pk}"


class BulkRecipient(models.Model):
    """One patient of one bulk send: its message, or why none was made (consent)."""

    job = models.ForeignKey(BulkSend, on_delete=models.CASCADE, related_name="recipients", db_index=False)
    patient = models.ForeignKey("clinics.Patient", on_delete=models.CASCADE, related_name="+")
    message = models.OneToOneField(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    skipped = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "patient"], name="one_bulk_message_per_patient")]


class SmsThread(models.Model):
    """The SMS conversation of one clinic with one number (attached to the clinic's patient with that
    mobile when there is one): its incoming texts, and the messages we sent to the number."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.CASCADE, related_name="sms_threads", db_index=False)
    number = models.CharField(max_length=32, help_text="E.164")
    patient = models.ForeignKey("clinics.Patient", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_inbound_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_inbound_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["clinic", "number"], name="one_thread_per_number")]
        indexes = [models.Index(fields=["clinic", "-last_inbound_at"], name="thread_inbox_idx")]

    def __str__(self):
        return f"SMS thread {self.number}"


class InboundMessage(models.Model):
    """A text a patient sent us, as the carrier's signed webhook gave it. Patient data: never logged."""

    clinic = models.ForeignKey("clinics.Clinic", on_delete=models.CASCADE, related_name="+", db_index=False)
    thread = models.ForeignKey(SmsThread, on_delete=models.CASCADE, related_name="texts", db_index=False)
    inbound_id = models.CharField(max_length=160, help_text="The carrier's id: a repeated webhook stores it once.")
    sender = models.CharField(max_length=32)
    to = models.CharField(max_length=32, blank=True)
    text = models.TextField()
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    meaning = models.CharField(max_length=40, blank=True, help_text="What we did with it (a keyword, a reply).")

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [models.UniqueConstraint(fields=["clinic", "inbound_id"], name="one_inbound_per_carrier_id")]
        indexes = [
            models.Index(fields=["thread", "occurred_at"], name="inbound_thread_idx"),
            models.Index(fields=["thread"], condition=Q(read_at__isnull=True), name="inbound_unread_idx"),
        ]

    def __str__(self):
        return f"text from {self.sender}"
