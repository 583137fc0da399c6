from django import forms

from clinics.models import Clinic, Patient
from clinics.selectors import practitioner_choices
from clinics.services import MOBILE_INVALID, PATIENT_FIELDS
from kalix_site.forms import PhoneNumberBox


class PractitionerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        return user.get_full_name() or user.get_username()


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

    def __init__(self, *args, clinic: Clinic, **kwargs):
        super().__init__(*args, **kwargs)
        # Another id is "Select a valid choice"; the service checks it again for every caller.
        self.fields["practitioner"].queryset = practitioner_choices(clinic=clinic, patient=self.instance)


class ClinicSwitchForm(forms.Form):
    clinic = forms.IntegerField()
