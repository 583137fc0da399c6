"""Message admin for support staff: look, filter, search; act only through the services."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinics.models import Appointment, StaffMembership
from kalix_site.admin import PatientDataAdmin, ReadOnlyInline
from kalix_site.transitions import TransitionRefused
from lanes import controls as lane_controls
from lanes.models import LaneAction
from lanes.stats import duration
from messaging import bulk, inbox, reminders, services, templating
from messaging.models import (
    BulkSend,
    DeliveryEvent,
    InboundMessage,
    Message,
    MessageTemplate,
    QueuedMessage,
    Reminder,
    ReminderRule,
    SmsThread,
    Status,
    WebhookInbox,
)
from messaging.selectors import search_query
from messaging.status import recompute_status


class DeliveryEventInline(ReadOnlyInline):
    model = DeliveryEvent
    fields = ["occurred_at", "kind", "detail", "source", "received_at", "event_id"]
    ordering = ["occurred_at", "id"]


@admin.register(Message)
class MessageAdmin(PatientDataAdmin):
    patient_fields = ("recipient", "subject", "body", "attachment", "patient")
    list_display = ["id", "clinic", "channel", "recipient", "status", "status_detail", "status_at", "created_at"]
    list_filter = ["status", "channel", "dispatch", "lane", ("created_at", admin.DateFieldListFilter), "clinic"]
    search_fields = ["recipient"]  # replaced by the indexed search document below
    search_help_text = "Patient name, recipient or subject (word prefixes)."
    list_select_related = ["clinic"]
    show_full_result_count = False  # no COUNT(*) over millions of rows
    inlines = [DeliveryEventInline]
    actions = ["retry_failed", "cancel_pending", "rederive_status"]
    readonly_fields = [f.name for f in Message._meta.fields if f.name != "search"]
    exclude = ["search"]

    def get_search_results(self, request, queryset, search_term):
        if self._hidden(request):
            return queryset, False
        query = search_query(search_term)
        return (queryset.filter(search=query) if query is not None else queryset), False

    def has_add_permission(self, request):
        return False  # messages are sent through the staff pages or the API (message_send)

    def has_delete_permission(self, request, obj=None):
        return False  # the record of what was sent is kept

    @admin.action(description="Retry selected failed messages (as new messages)", permissions=["change"])
    def retry_failed(self, request, queryset):
        retryable = list(
            queryset.filter(status=Status.FAILED, retries__isnull=True).select_related("clinic", "patient")
        )
        done, skipped = 0, queryset.count() - len(retryable)
        for message in retryable:
            try:
                services.message_retry(message=message, user=request.user)
                done += 1
            except ValidationError:
                skipped += 1
        self.message_user(
            request,
            f"Retried {done} message(s); {skipped} skipped (not failed, already sent again, or no longer valid).",
        )

    @admin.action(description="Cancel selected pending messages", permissions=["change"])
    def cancel_pending(self, request, queryset):
        done, skipped = 0, 0
        for message in queryset:
            try:
                services.message_cancel(message=message, user=request.user)
                done += 1
            except ValidationError:
                skipped += 1
        level = messages.SUCCESS if not skipped else messages.WARNING
        self.message_user(request, f"Cancelled {done}; {skipped} already with the provider.", level)

    @admin.action(description="Re-derive status from events", permissions=["change"])
    def rederive_status(self, request, queryset):
        changed = recompute_status(list(queryset.values_list("pk", flat=True)), search=True)
        self.message_user(request, f"Re-derived {queryset.count()} message(s); {changed} changed.")


class InboxStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("parked", "Parked (given up on)"), ("waiting", "Waiting to be tried")]

    def queryset(self, request, queryset):
        if self.value() == "parked":
            return queryset.filter(parked_at__isnull=False)
        if self.value() == "waiting":
            return queryset.filter(parked_at__isnull=True)
        return queryset


@admin.register(WebhookInbox)
class WebhookInboxAdmin(PatientDataAdmin):
    """Reports not applied yet; parked ones with their reason. Discarding or re-applying them is a queue
    operation: it needs lanes.control_lane (Operations) and is recorded as a lane action."""

    list_display = [
        "id",
        "provider",
        "kind",
        "event_id",
        "received_at",
        "tries",
        "next_attempt_at",
        "parked_at",
        "reason",
    ]
    list_filter = [InboxStateFilter, "provider", "kind"]
    patient_fields = ("payload",)  # the provider's own report: recipients, sometimes the text
    readonly_fields = [f.name for f in WebhookInbox._meta.fields]
    actions = ["discard", "reapply"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # Discard (parked reports only, recorded) instead of Django's delete

    def has_control_permission(self, request):
        return request.user.has_perm(lane_controls.CONTROL_PERMISSION)

    @admin.action(description="Discard selected parked reports", permissions=["control"])
    def discard(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        done = inbox.reports_discard(ids=ids, actor=request.user)
        skipped = len(ids) - done
        note = f"; {skipped} not parked, left alone." if skipped else "."
        self.message_user(request, f"Discarded {done} parked report(s){note}")

    @admin.action(description="Re-apply now (selected parked reports)", permissions=["control"])
    def reapply(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        done = inbox.reports_reapply(ids=ids, actor=request.user)
        skipped = len(ids) - done
        note = f"; {skipped} not parked, left alone." if skipped else "."
        self.message_user(request, f"Re-applying {done} parked report(s): due now, tries reset, live lane poked{note}")


# --- Queued messages: promote, backlog, restore on a selection --------------------------------------


@admin.register(QueuedMessage)
class QueuedMessageAdmin(PatientDataAdmin):
    """Queued messages in claim order. No recipient, subject or body: operators steer, they do not read."""

    patient_fields = MessageAdmin.patient_fields
    exclude = ["search"]  # the patient's name and the message's words, as a search document
    list_display = ["id", "clinic", "channel", "lane", "priority", "in_backlog", "created_at", "waiting"]
    list_filter = ["lane", "channel"]
    list_select_related = ["clinic"]
    actions = ["promote", "to_backlog", "restore"]
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(dispatch="queued").order_by("lane", "priority", "id")

    @admin.display(boolean=True, description="backlog")
    def in_backlog(self, obj):
        return obj.priority >= settings.LANE_BACKLOG_PRIORITY

    @admin.display(description="waiting")
    def waiting(self, obj):
        return duration((timezone.now() - obj.created_at).total_seconds())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_control_permission(self, request):
        return request.user.has_perm(lane_controls.CONTROL_PERMISSION)

    def _by_lane(self, queryset) -> dict[str, list[int]]:
        lanes: dict[str, list[int]] = {}
        for pk, lane in queryset.values_list("id", "lane"):
            lanes.setdefault(lane, []).append(pk)
        return lanes

    def _report(self, request, done: list[LaneAction]):
        for action in done:
            self.message_user(request, f"{action.lane}: {action.detail} ({action.rows} rows), action #{action.pk}.")

    @admin.action(permissions=["control"], description="Promote selected to the front")
    def promote(self, request, queryset):
        try:
            done = [
                lane_controls.lane_promote(lane=lane, ids=ids, actor=request.user)
                for lane, ids in self._by_lane(queryset).items()
            ]
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return
        self._report(request, done)

    @admin.action(permissions=["control"], description="Move selected to the backlog")
    def to_backlog(self, request, queryset):
        self._report(
            request,
            [
                lane_controls.lane_move_to_backlog(lane=lane, ids=ids, actor=request.user)
                for lane, ids in self._by_lane(queryset).items()
            ],
        )

    @admin.action(permissions=["control"], description="Put selected back from the backlog")
    def restore(self, request, queryset):
        self._report(
            request,
            [
                lane_controls.lane_restore_backlog(lane=lane, ids=ids, actor=request.user)
                for lane, ids in self._by_lane(queryset).items()
            ],
        )


# --- Templates, reminders, bulk sends, SMS threads -------------------------------------------------------


class MessageTemplateForm(forms.ModelForm):
    """The same checks as the staff pages (messaging.templating): unknown merge fields are field errors."""

    class Meta:
        model = MessageTemplate
        fields = ["clinic", "name", "channel", "subject", "body"]

    def clean(self):
        data = super().clean()
        for field in ("body", "subject"):
            try:
                templating.check(data.get(field) or "", field=field)
            except ValidationError as exc:
                for name, problems in exc.message_dict.items():
                    for problem in problems:
                        self.add_error(name, problem)
        return data


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = MessageTemplateForm
    list_display = ["name", "clinic", "channel", "updated_at"]
    list_filter = ["channel", "clinic"]
    search_fields = ["name"]


@admin.register(ReminderRule)
class ReminderRuleAdmin(admin.ModelAdmin):
    list_display = ["template", "hours_before", "active", "clinic"]
    list_filter = ["active", "clinic"]
    raw_id_fields = ["template"]


@admin.register(Reminder)
class ReminderAdmin(PatientDataAdmin):
    """What each rule did for each appointment; written only by the reminder drain."""

    patient_fields = ("appointment",)  # named by its patient
    list_display = ["appointment", "rule", "due_at", "outcome", "detail", "message"]
    list_filter = ["outcome"]
    raw_id_fields = ["appointment", "rule", "message"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PractitionerLookup(ForeignKeyRawIdWidget):
    """The practitioner box's lookup lists practitioners' memberships only, not reception or managers."""

    def url_parameters(self):
        return {**super().url_parameters(), "role": StaffMembership.Role.PRACTITIONER}


@admin.register(Appointment)
class AppointmentAdmin(PatientDataAdmin):
    """A clinics model registered here: cancelling an appointment withdraws its reminder messages not yet
    handed to the carrier (reminders.appointment_cancel, which the staff page calls too), and clinics
    cannot reach messages. Status is read-only: it moves through that service and clinics.appointments.
    Who sees whom, when, and the notes: superusers only."""

    patient_data_only = True
    list_display = ["starts_at", "patient", "practitioner", "clinic", "status", "reply"]
    list_filter = ["status", "reply", "clinic"]
    list_select_related = ["patient", "practitioner__user", "clinic"]
    raw_id_fields = ["patient", "practitioner"]
    readonly_fields = ["status", "reply", "replied_at", "created_at", "updated_at"]
    date_hierarchy = "starts_at"
    actions = ["cancel"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "practitioner":
            kwargs["queryset"] = StaffMembership.objects.filter(role=StaffMembership.Role.PRACTITIONER)
            kwargs["widget"] = PractitionerLookup(db_field.remote_field, self.admin_site)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.action(description="Cancel (booked appointments only; their reminders are not sent)", permissions=["change"])
    def cancel(self, request, queryset):
        cancelled = withdrawn = unchanged = 0
        for appointment in queryset.order_by("pk"):
            try:  # each its own transaction, as on the staff page: one moved meanwhile leaves the rest to go
                withdrawn += reminders.appointment_cancel(appointment=appointment, user=request.user)
                cancelled += 1
            except TransitionRefused:  # not booked (attended, missed, cancelled already), or moved meanwhile
                unchanged += 1
        said = f"Cancelled {cancelled} appointment(s); {withdrawn} reminder(s) not sent."
        if unchanged:
            said += f" {unchanged} not booked (or changed meanwhile), left as they were."
        self.message_user(request, said, messages.WARNING if unchanged else messages.SUCCESS)


@admin.register(BulkSend)
class BulkSendAdmin(admin.ModelAdmin):
    list_display = ["id", "clinic", "template", "audience", "send_at", "state", "expected", "made", "skipped"]
    list_filter = ["state", "audience", "clinic"]
    readonly_fields = [
        "clinic",
        "template",
        "audience",
        "send_at",
        "state",
        "expected",
        "made",
        "skipped",
        "created_by",
    ]
    actions = ["cancel"]

    def has_add_permission(self, request):
        return False  # made by messaging.bulk.bulk_create (the staff page), which counts and pokes

    @admin.action(description="Cancel, with their messages not yet sent", permissions=["change"])
    def cancel(self, request, queryset):
        cancelled = 0
        for job in queryset:
            try:
                cancelled += bulk.bulk_cancel(job=job, user=request.user)
            except ValidationError:
                continue  # already cancelled
        self.message_user(request, f"Cancelled; {cancelled} message(s) not yet sent were cancelled.")


class InboundMessageInline(ReadOnlyInline):
    model = InboundMessage
    fields = ["occurred_at", "sender", "text", "meaning", "read_at"]
    ordering = ["occurred_at", "id"]


@admin.register(SmsThread)
class SmsThreadAdmin(PatientDataAdmin):
    """A patient's number and what they wrote: superusers only."""

    patient_data_only = True
    list_display = ["number", "clinic", "patient", "last_inbound_at"]
    list_filter = ["clinic"]
    search_fields = ["=number"]  # exact: numbers are patient data, not browsed by fragment
    raw_id_fields = ["patient"]
    readonly_fields = ["clinic", "number", "last_inbound_at"]
    inlines = [InboundMessageInline]

    def has_add_permission(self, request):
        return False
