from django.contrib import admin

from clinics.models import Clinic, Patient, StaffMembership


class StaffMembershipInline(admin.TabularInline):
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
class StaffMembershipAdmin(admin.ModelAdmin):
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
