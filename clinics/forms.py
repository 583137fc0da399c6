from django import forms

from clinics.models import Patient
from clinics.services import PATIENT_FIELDS


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = list(PATIENT_FIELDS)
        # A date box takes and shows only ISO dates; in the locale's format it shows empty and saves none.
        widgets = {"date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
        help_texts = {"mobile": "International (+61 4…) or local format.", "fax": "Optional."}


class ClinicSwitchForm(forms.Form):
    clinic = forms.IntegerField()
