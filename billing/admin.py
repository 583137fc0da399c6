from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied

from billing import batches
from billing.lifecycle import InvalidTransition
from billing.models import (
    BatchHistory,
    BatchItem,
    BillingBatch,
    BillingProvider,
    Invoice,
    InvoiceHistory,
    InvoiceLine,
    Payer,
    ProviderNumber,
)
from kalix_site.admin import PatientDataAdmin, ReadOnlyInline


@admin.register(Payer)
class PayerAdmin(admin.ModelAdmin):
    list_display = ["name", "clinic", "kind", "payer_identifier", "country", "claim_format", "active"]
    list_filter = ["kind", "claim_format", "country", "active", "clinic"]
    search_fields = ["name", "payer_identifier"]


@admin.register(BillingProvider)
class BillingProviderAdmin(admin.ModelAdmin):
    list_display = ["legal_name", "clinic", "npi", "tax_id", "currency"]


@admin.register(ProviderNumber)
class ProviderNumberAdmin(admin.ModelAdmin):
    """Practitioners' numbers per payer; saved through services.provider_number_set (NPIs are checked)."""

    list_display = ["practitioner", "payer", "number", "clinic"]
    list_filter = ["clinic", "payer"]
    list_select_related = ["practitioner", "payer", "clinic"]

    def save_model(self, request, obj, form, change):
        from billing import services

        saved = services.provider_number_set(
            clinic=obj.payer.clinic, practitioner=obj.practitioner, payer=obj.payer, number=obj.number
        )
        obj.pk, obj.clinic = saved.pk, saved.clinic


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    readonly_fields = ["service_code", "description", "date_of_service", "units", "amount"]
    can_delete = False


class InvoiceHistoryInline(ReadOnlyInline):
    model = InvoiceHistory
    fields = ["at", "by", "from_status", "to_status", "batch", "note"]


@admin.register(Invoice)
class InvoiceAdmin(PatientDataAdmin):
    """Read-mostly: invoices are written through the staff pages or the API, which validate them. A claim
    is patient data throughout (patient, member id, diagnosis): superusers only (kalix_site/admin.py)."""

    patient_data_only = True

    list_display = ["number", "clinic", "payer", "status", "total", "paid_amount", "has_critical_errors", "updated_at"]
    list_filter = ["status", "has_critical_errors", "payer__claim_format", "clinic"]
    search_fields = ["number", "member_id"]
    list_select_related = ["clinic", "payer"]
    readonly_fields = [f.name for f in Invoice._meta.fields]
    inlines = [InvoiceLineInline, InvoiceHistoryInline]

    def has_add_permission(self, request):
        return False


class BatchItemInline(ReadOnlyInline):
    model = BatchItem
    fields = ["invoice", "active", "amount", "paid_amount", "removed_at"]


class BatchHistoryInline(ReadOnlyInline):
    model = BatchHistory
    fields = ["at", "by", "from_status", "to_status", "note"]


@admin.register(BillingBatch)
class BillingBatchAdmin(admin.ModelAdmin):
    list_display = ["__str__", "clinic", "payer", "status", "invoice_count", "total_amount", "requested_at", "built_at"]
    list_filter = ["status", "clinic", "payer", "requested_at"]
    search_fields = ["control_number", "request_key"]
    list_select_related = ["clinic", "payer"]
    readonly_fields = [f.name for f in BillingBatch._meta.fields]
    inlines = [BatchHistoryInline, BatchItemInline]
    # No export here: it merged every clinic's batches with patient details. Claims leave Kalix only through
    # the clinic's own staff pages (billing/views.py), one clinic at a time.
    actions = ["rebuild_failed", "cancel"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _each(self, request, queryset, service, done: str):
        ok, refused = 0, []
        for batch in queryset:
            try:
                service(batch=batch, by=request.user)
                ok += 1
            except (InvalidTransition, PermissionDenied) as exc:  # the service's refusal, shown as pages show it
                refused.append(f"{batch}: {exc}")
        if ok:
            self.message_user(request, f"{ok} batch(es) {done}.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not changed: " + "; ".join(refused), messages.WARNING)

    @admin.action(description="Rebuild failed batches", permissions=["change"])
    def rebuild_failed(self, request, queryset):
        self._each(request, queryset, batches.batch_rebuild, "queued for a rebuild")

    @admin.action(description="Cancel batches (invoices return to the pool)", permissions=["change"])
    def cancel(self, request, queryset):
        self._each(request, queryset, batches.batch_cancel, "cancelled")
