"""The public status page: components, incidents (and scheduled maintenances), subscribers.

Statuses and their allowed moves live in statuspage/states.py; every write goes through
statuspage/services.py, which keeps the component status log and bumps the page generation.
"""

import secrets

from django.conf import settings
from django.db import models

from statuspage import states


def new_token() -> str:
    return secrets.token_urlsafe(24)


class PageGeneration(models.Model):
    """One row: bumped by every write, so every process knows its cached pages are stale."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    generation = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField()


class ComponentGroup(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name


class Component(models.Model):
    group = models.ForeignKey(
        ComponentGroup, null=True, blank=True, on_delete=models.SET_NULL, related_name="components"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    only_show_if_degraded = models.BooleanField(default=False)
    showcase = models.BooleanField(default=True)
    start_date = models.DateField(null=True, blank=True)
    # Lane whose backlog the queue monitor watches for this component ("" = none).
    lane = models.CharField(max_length=32, blank=True)
    # Staff pages under this path show a banner while the component has an active incident.
    staff_path = models.CharField(max_length=120, blank=True, help_text='e.g. "/messages/"')
    # Set by Support (or the queue monitor). What the page shows is `status`, see services.py.
    base_status = models.CharField(
        max_length=32, choices=states.COMPONENT_STATUS_CHOICES, default=states.OPERATIONAL, editable=False
    )
    status = models.CharField(
        max_length=32, choices=states.COMPONENT_STATUS_CHOICES, default=states.OPERATIONAL, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.name


class ComponentStatusChange(models.Model):
    """Append-only: every write of a component's status, with its effective result."""

    SOURCES = [("manual", "Manual"), ("automatic", "Automatic"), ("system", "System")]

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="status_changes")
    old_status = models.CharField(max_length=32, choices=states.COMPONENT_STATUS_CHOICES)
    new_status = models.CharField(max_length=32, choices=states.COMPONENT_STATUS_CHOICES)
    base_status = models.CharField(max_length=32, choices=states.COMPONENT_STATUS_CHOICES)
    source = models.CharField(max_length=16, choices=SOURCES)
    reason = models.CharField(max_length=255, blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    changed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["component", "changed_at"])]

    def __str__(self):
        return f"{self.component}: {self.old_status} → {self.new_status}"


class Incident(models.Model):
    """An incident, or (kind=maintenance) a scheduled maintenance, as Statuspage models them."""

    KIND_INCIDENT = "incident"
    KIND_MAINTENANCE = "maintenance"
    KINDS = [(KIND_INCIDENT, "Incident"), (KIND_MAINTENANCE, "Scheduled maintenance")]

    kind = models.CharField(max_length=16, choices=KINDS, default=KIND_INCIDENT, editable=False)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=states.ALL_INCIDENT_STATUS_CHOICES, editable=False)
    impact = models.CharField(max_length=16, choices=states.IMPACT_CHOICES, default=states.IMPACT_MINOR)
    started_at = models.DateTimeField()
    identified_at = models.DateTimeField(null=True, blank=True, editable=False)
    monitoring_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    scheduled_until = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    postmortem_body = models.TextField(blank=True, help_text="Markdown")
    postmortem_published_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A draft is proposed by the queue monitor and invisible to the public until Support publish it.
    is_draft = models.BooleanField(default=False, editable=False)
    # Entered after the fact: written as a draft with all its updates, published already resolved. It
    # never sets current component statuses and never notifies; its updates file the statuses in the
    # history (uptime bars) at their own times.
    is_backfill = models.BooleanField(default=False, editable=False)
    draft_note = models.TextField(blank=True, editable=False)
    # A proposed next update (e.g. "resolved" once a backlog drained), published by Support in one click.
    proposed_status = models.CharField(max_length=16, blank=True, editable=False)
    proposed_body = models.TextField(blank=True, editable=False)
    components = models.ManyToManyField(Component, through="IncidentComponent", related_name="incidents")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["kind", "status"])]

    def __str__(self):
        return self.name

    @property
    def is_open(self) -> bool:
        return self.status not in states.CLOSED_STATUSES


class MaintenanceManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(kind=Incident.KIND_MAINTENANCE)


class IncidentManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(kind=Incident.KIND_INCIDENT)


class PlainIncident(Incident):
    """Incidents only (the admin's "Incidents" list)."""

    objects = IncidentManager()

    class Meta:
        proxy = True
        verbose_name = "incident"


class ScheduledMaintenance(Incident):
    """A maintenance window: scheduled_for..scheduled_until; it starts and completes by itself."""

    objects = MaintenanceManager()

    class Meta:
        proxy = True
        verbose_name = "scheduled maintenance"
        verbose_name_plural = "scheduled maintenances"


class IncidentComponent(models.Model):
    """The status an incident currently sets on one component (while the incident is open)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="incident_components")
    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="incident_links")
    status = models.CharField(max_length=32, choices=states.COMPONENT_STATUS_CHOICES)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "component"], name="incident_component_once")]


class IncidentUpdate(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(max_length=16, choices=states.ALL_INCIDENT_STATUS_CHOICES)
    body = models.TextField(help_text="Markdown")
    display_at = models.DateTimeField()
    notify = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-display_at", "-id"]

    def __str__(self):
        return f"{self.incident}: {self.status}"


class IncidentRevision(models.Model):
    """Audit of corrections: who changed what on an incident or one of its updates, and when."""

    class Action(models.TextChoices):
        EDIT_INCIDENT = "edit_incident", "Edited the incident"
        EDIT_UPDATE = "edit_update", "Edited an update"
        DELETE_UPDATE = "delete_update", "Deleted an update"
        PUBLISH = "publish", "Published"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="revisions")
    update_id = models.BigIntegerField(null=True, blank=True)  # survives the update's deletion
    action = models.CharField(max_length=16, choices=Action.choices)
    changes = models.JSONField(default=dict, help_text="{field: [before, after]}")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return f"{self.incident}: {self.get_action_display()}"


class AffectedComponent(models.Model):
    update = models.ForeignKey(IncidentUpdate, on_delete=models.CASCADE, related_name="affected")
    component = models.ForeignKey(Component, on_delete=models.CASCADE)
    old_status = models.CharField(max_length=32, choices=states.COMPONENT_STATUS_CHOICES)
    new_status = models.CharField(max_length=32, choices=states.COMPONENT_STATUS_CHOICES)


class IncidentTemplate(models.Model):
    name = models.CharField(max_length=120, help_text="For Support: how to find this template.")
    title = models.CharField(max_length=200, help_text="The incident's public name.")
    body = models.TextField(help_text="Markdown: the first update's text.")
    status = models.CharField(max_length=16, choices=states.INCIDENT_STATUS_CHOICES, default=states.INVESTIGATING)
    impact = models.CharField(max_length=16, choices=states.IMPACT_CHOICES, default=states.IMPACT_MINOR)
    component_status = models.CharField(
        max_length=32, choices=states.COMPONENT_STATUS_CHOICES, default=states.DEGRADED_PERFORMANCE
    )
    components = models.ManyToManyField(Component, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Subscriber(models.Model):
    email = models.EmailField(blank=True)
    webhook_url = models.URLField(blank=True, max_length=500)
    components = models.ManyToManyField(Component, blank=True, help_text="Empty: every component.")
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    # HMAC key for webhook signatures, shown to the subscriber once when they subscribe.
    secret = models.CharField(max_length=64, default=new_token, editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # Components asked for by someone submitting a confirmed address again: applied only when that
    # address confirms (None: no change pending; [] : every component).
    pending_components = models.JSONField(null=True, blank=True, editable=False)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(~models.Q(email="") & models.Q(webhook_url=""))
                | (models.Q(email="") & ~models.Q(webhook_url="")),
                name="subscriber_email_xor_webhook",
            )
        ]

    def __str__(self):
        return self.email or self.webhook_url

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class Notice(models.Model):
    """One notification of one update to one subscriber: the durable queue of the notifier."""

    PENDING, SENT, FAILED = "pending", "sent", "failed"
    STATES = [(PENDING, "Pending"), (SENT, "Sent"), (FAILED, "Failed")]

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="notices")
    update = models.ForeignKey(IncidentUpdate, null=True, blank=True, on_delete=models.CASCADE)
    # What a notice without an update says: "confirm" (subscription) or "reminder" (maintenance).
    purpose = models.CharField(max_length=16, default="update")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.CASCADE)
    state = models.CharField(max_length=16, choices=STATES, default=PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_error = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "update", "purpose", "incident"],
                name="notice_once",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="notice_due")]


class QueueAlarm(models.Model):
    """Hysteresis memory of the queue monitor, one row per lane."""

    lane = models.CharField(max_length=32, primary_key=True)
    raised = models.BooleanField(default=False)
    last_depth = models.BigIntegerField(default=0)
    last_oldest_age_s = models.FloatField(null=True)
    last_measured_at = models.DateTimeField(null=True)
    drain_rate = models.FloatField(null=True, help_text="items/s, smoothed")
    draft = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL)
