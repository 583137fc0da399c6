from django.contrib import admin

from clinics import consent
from clinics.models import AddressConsent, AddressConsentChange, Clinic, Patient, StaffMembership
from kalix_site.admin import ReadOnlyInline, ValidIdAutocomplete


class StaffMembershipInline(ValidIdAutocomplete, admin.TabularInline):
    model = StaffMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Clinic)
class ClinicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "timezone", "email_from", "sms_sender"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [StaffMembershipInline]


@admin.register(StaffMembership)
class StaffMembershipAdmin(ValidIdAutocomplete, admin.ModelAdmin):
    list_display = ["user", "clinic", "role"]
    list_filter = ["role", "clinic"]
    search_fields = ["user__username", "clinic__name"]
    autocomplete_fields = ["user", "clinic"]


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "clinic", "messaging_consent"]
    list_filter = ["clinic", "messaging_consent"]
    search_fields = ["last_name", "first_name"]
    list_select_related = ["clinic"]


class AddressConsentChangeInline(ReadOnlyInline):
    model = AddressConsentChange
    fields = ["occurred_at", "state", "source", "reason", "changed_by", "message_pk", "event_id", "recorded_at"]
    ordering = ["occurred_at", "id"]


@admin.register(AddressConsent)
class AddressConsentAdmin(admin.ModelAdmin):
    """Read-only, with its history; changes only through clinics.consent (the action below)."""

    list_display = ["address", "channel", "clinic", "state", "source", "reason", "changed_at"]
    list_filter = ["state", "channel", "source", "clinic"]
    search_fields = ["=address"]  # exact: addresses are patient data, not browsed by fragment
    list_select_related = ["clinic"]
    readonly_fields = ["clinic", "channel", "address", "state", "source", "reason", "changed_at"]
    inlines = [AddressConsentChangeInline]
    actions = ["allow_again"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the history of who said no is kept

    @admin.action(description="Allow again (the patient asked, or the mailbox was fixed)", permissions=["change"])
    def allow_again(self, request, queryset):
        done = 0
        for row in queryset.select_related("clinic"):
            done += consent.address_allow(clinic=row.clinic, channel=row.channel, address=row.address, by=request.user)
        self.message_user(request, f"Allowed {done} address(es) again; the history keeps why they were stopped.")
