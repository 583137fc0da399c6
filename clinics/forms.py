from django import forms
from django.core import signing

from clinics.models import Clinic, Patient
from clinics.selectors import practitioner_choices
from clinics.services import MOBILE_INVALID, PATIENT_FIELDS, patient_snapshot
from kalix_site.forms import PhoneNumberBox


class PractitionerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        return user.get_full_name() or user.get_username()


OPENED_SALT = "clinics.patient-edit.opened"


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = list(PATIENT_FIELDS)
        # A date box takes and shows only ISO dates; in the locale's format it shows empty and saves none.
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "mobile": PhoneNumberBox,
            "fax": PhoneNumberBox,
        }
        help_texts = {"mobile": "International (+61 4…) or local format.", "fax": "Optional."}
        error_messages = {"mobile": {"invalid": MOBILE_INVALID}}  # not the field's landline example
        field_classes = {"practitioner": PractitionerChoiceField}

    # What the page showed, signed (clinics.services.patient_snapshot): a save then changes only what this
    # person changed, and another tab's or colleague's save in between is kept, not silently undone.
    opened = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, clinic: Clinic, **kwargs):
        super().__init__(*args, **kwargs)
        # Another id is "Select a valid choice"; the service checks it again for every caller.
        self.fields["practitioner"].queryset = practitioner_choices(clinic=clinic, patient=self.instance)
        if self.instance.pk:
            self.fields["opened"].initial = signing.dumps(patient_snapshot(self.instance), salt=OPENED_SALT)

    def clean_opened(self) -> dict | None:
        """The snapshot the page was rendered with; None from a page without one (nothing to merge)."""
        value = self.cleaned_data["opened"]
        if not value:
            return None
        try:
            return signing.loads(value, salt=OPENED_SALT)
        except signing.BadSignature:
            raise forms.ValidationError("This page is out of date: open the patient again.") from None


class ClinicSwitchForm(forms.Form):
    clinic = forms.IntegerField()
