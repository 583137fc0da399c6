from django import forms
from django.core import signing

from clinics.models import Clinic, Patient
from clinics.selectors import practitioner_choices
from clinics.services import MOBILE_INVALID, PATIENT_FIELDS, comparable, patient_snapshot
from kalix_site.forms import PhoneNumberBox


class PractitionerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user):
        return user.get_full_name() or user.get_username()


OPENED_SALT = "clinics.patient-edit.opened"


def opened_token(patient: Patient) -> str:
    """The signed snapshot of what an edit page shows of `patient` ('' for a new one)."""
    return signing.dumps(patient_snapshot(patient), salt=OPENED_SALT) if patient.pk else ""


class OpenedField(forms.CharField):
    """What the page showed, signed (clinics.services.patient_snapshot): a save then changes only what this
    person changed, and another tab's or colleague's save in between is kept, not silently undone. None
    from a page without one (nothing to merge)."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        try:
            return signing.loads(value, salt=OPENED_SALT)
        except signing.BadSignature:
            raise forms.ValidationError("This page is out of date: open the patient again.") from None


def show_conflict(form, conflict) -> None:
    """Nothing was saved: say which fields someone else saved meanwhile and to what, keep what this person
    typed in the boxes, and take the page's snapshot forward so that Save again keeps theirs over those."""
    current, opened = conflict.current, form.cleaned_data["opened"]
    form.data = form.data.copy()
    form.data["opened"] = opened_token(current)
    for name in PATIENT_FIELDS:  # what this person left alone shows what was saved meanwhile, not the old
        untouched = comparable(form.cleaned_data.get(name)) == opened.get(name)
        if untouched and comparable(getattr(current, name)) != opened.get(name):
            _put(form.data, name, getattr(current, name))
    form.add_error(
        None,
        "Someone else saved this patient after you opened this page, so nothing was saved. The fields marked "
        "below were changed to something else meanwhile; check them, then save again to keep what you typed.",
    )
    for name in conflict.fields:
        form.add_error(name, f"Saved meanwhile as: {_shown(current, name) or '(empty)'}.")


def _put(data, name: str, value) -> None:
    """`value` into posted form data as the form's box would send it."""
    if isinstance(value, bool):
        if value:
            data[name] = "on"
        else:
            data.pop(name, None)
    else:
        data[name] = comparable(value)


def _shown(patient, name: str) -> str:
    value = getattr(patient, name)
    if hasattr(patient, f"get_{name}_display"):
        return getattr(patient, f"get_{name}_display")()
    if isinstance(value, bool):
        return "ticked" if value else "not ticked"
    if name == "practitioner":
        return (value.get_full_name() or value.get_username()) if value else ""
    if hasattr(value, "as_national"):
        return value.as_national
    return "" if value is None else str(value)


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

    opened = OpenedField()

    def __init__(self, *args, clinic: Clinic, **kwargs):
        super().__init__(*args, **kwargs)
        # Another id is "Select a valid choice"; the service checks it again for every caller.
        self.fields["practitioner"].queryset = practitioner_choices(clinic=clinic, patient=self.instance)
        self.fields["opened"].initial = opened_token(self.instance)


class ClinicSwitchForm(forms.Form):
    clinic = forms.IntegerField()
