from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from clinics import audit, consent, selectors, services
from clinics import forms as clinic_forms
from clinics.models import AddressConsent, AddressConsentChange, Clinic, Patient, StaffMembership
from kalix_site.admin import PatientDataAdmin, ReadOnlyInline, ValidIdAutocomplete


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


class PatientAdminForm(forms.ModelForm):
    """The staff form's rules in admin (clinics.services): the practitioner one of the patient's clinic's,
    no date of birth in the future, consent changes stamped. Admin saved the model directly, so a
    superuser could give a patient another clinic's practitioner."""

    class Meta:
        model = Patient
        fields = ["clinic", *services.PATIENT_FIELDS]
        error_messages = {"mobile": {"invalid": services.MOBILE_INVALID}}

    opened = clinic_forms.OpenedField()  # two tabs: a save keeps what was saved meanwhile (clinics.forms)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["opened"].initial = clinic_forms.opened_token(self.instance)
        if "practitioner" in self.fields:
            self.fields["practitioner"].queryset = (
                selectors.practitioner_choices(clinic=self.instance.clinic, patient=self.instance)
                if self.instance.pk
                else selectors.practitioners_anywhere()
            )
        self._was_practitioner, self._was_mobile = Patient.objects.filter(pk=self.instance.pk).values_list(
            "practitioner_id", "mobile"
        ).first() or (None, "")

    def _post_clean(self):
        super()._post_clean()  # the fields onto the instance, and its own full_clean
        if self.instance.clinic_id is None or self.errors:
            return
        try:
            services.patient_check(
                self.instance, was_practitioner=self._was_practitioner, was_mobile=str(self._was_mobile or "")
            )
        except ValidationError as exc:
            self._update_errors(exc)
            return
        if self.cleaned_data.get("opened") and self.instance.pk:
            typed = {name: self.cleaned_data[name] for name in services.PATIENT_FIELDS if name in self.cleaned_data}
            try:
                services.patient_merge(
                    Patient.objects.get(pk=self.instance.pk), opened=self.cleaned_data["opened"], fields=typed
                )
            except services.PatientConflict as conflict:
                clinic_forms.show_conflict(self, conflict)


@admin.register(Patient)
class PatientAdmin(PatientDataAdmin):
    """Opening a patient's change page and saving one leave rows in the clinic's access audit
    (clinics.audit), as the staff pages do: a superuser's look is no less a look. Superusers only: clinic
    staff's clinics.*_patient permissions are for their own clinic's staff pages, not every clinic's here."""

    patient_data_only = True
    form = PatientAdminForm
    list_display = ["last_name", "first_name", "clinic", "messaging_consent"]
    list_filter = ["clinic", "messaging_consent"]
    search_fields = ["last_name", "first_name"]
    list_select_related = ["clinic"]

    def get_readonly_fields(self, request, obj=None):
        # a patient's messages, appointments and claims stay with their clinic: no moving them in admin
        return ["clinic", "consent_at"] if obj else ["consent_at"]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        shown = getattr(response, "context_data", None) or {}
        if request.method == "GET" and response.status_code == 200 and shown.get("original") is not None:
            audit.patient_admin_opened(request, patient=shown["original"])
        return response

    def save_model(self, request, obj, form, change):
        """Through the services, as the staff form: consent changes are stamped there."""
        fields = {name: form.cleaned_data[name] for name in services.PATIENT_FIELDS if name in form.cleaned_data}
        if change:
            saved = services.patient_update(
                patient=Patient.objects.get(pk=obj.pk), opened=form.cleaned_data.get("opened"), **fields
            )
        else:
            saved = services.patient_create(clinic=form.cleaned_data["clinic"], **fields)
        audit.patient_edited(request, patient=saved)
        obj.pk, obj.consent_at, obj.updated_at = saved.pk, saved.consent_at, saved.updated_at


class AddressConsentChangeInline(ReadOnlyInline):
    model = AddressConsentChange
    fields = ["occurred_at", "state", "source", "reason", "changed_by", "message_pk", "event_id", "recorded_at"]
    ordering = ["occurred_at", "id"]


@admin.register(AddressConsent)
class AddressConsentAdmin(PatientDataAdmin):
    """Read-only, with its history; changes only through clinics.consent (the action below). A patient's
    email address or number and who said no: superusers only."""

    patient_data_only = True
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
