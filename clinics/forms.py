from django import forms

from clinics.models import Patient


class PatientForm(forms.ModelForm):
    class Meta:
        model = Patient
        fields = [
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "mobile",
            "fax",
            "messaging_consent",
            "email_opt_out",
            "sms_opt_out",
            "fax_opt_out",
        ]
        widgets = {"date_of_birth": forms.DateInput(attrs={"type": "date"})}
        help_texts = {"mobile": "International (+61 4…) or local format.", "fax": "Optional."}


class ClinicSwitchForm(forms.Form):
    clinic = forms.IntegerField()
