from datetime import timedelta

from django import forms
from django.utils import timezone

from clinics.models import Patient, StaffMembership
from kalix_site.forms import RequestKeyField
from messaging.models import Audience, Channel, MessageTemplate, Status


class LocalDateTimeField(forms.DateTimeField):
    """A date and time typed in the clinic's time zone (the browser's datetime-local box), made aware in
    that zone whatever the server's or the browser's zone; refused when it is already past."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    clinic = None

    def to_python(self, value):
        value = super().to_python(value)
        if value is None or self.clinic is None:
            return value
        local = timezone.make_aware(value.replace(tzinfo=None), self.clinic.tzinfo)
        if local < timezone.now() - timedelta(minutes=1):
            raise forms.ValidationError("This time has passed; leave it empty to send now.")
        return local


class ComposeForm(forms.Form):
    request_key = RequestKeyField()  # the message's idempotency key: a double submit makes one message
    patient = forms.ModelChoiceField(queryset=Patient.objects.none(), required=False, empty_label="— no patient —")
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.SMS)
    recipient = forms.CharField(
        required=False, max_length=254, help_text="Leave empty to use the patient's contact for this channel."
    )
    subject = forms.CharField(required=False, max_length=200, help_text="Email only.")
    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}))
    attachment = forms.FileField(required=False, label="Fax document (PDF)")
    send_at = LocalDateTimeField(required=False, label="Send at", help_text="Leave empty to send now.")
    # "<patient id>|<channel>|<address>" when compose was opened pre-filled (?patient=): an address still
    # as pre-filled is that patient's on that channel, and must not go to another patient or channel.
    prefilled_from = forms.CharField(required=False, max_length=300, widget=forms.HiddenInput)

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = Patient.objects.filter(clinic=clinic)
        self.fields["send_at"].clinic = clinic
        self.fields["send_at"].help_text = f"In the clinic's time ({clinic.timezone}). Leave empty to send now."
        if self.data.get("send_despite_bounce"):
            self.offer_bounce_override()
        if self.data.get("send_again"):
            self.offer_send_again()

    def clean(self):
        data = super().clean()
        patient_id, _, rest = (data.get("prefilled_from") or "").partition("|")
        channel, _, address = rest.partition("|")
        data.pop("prefilled_from", None)
        patient = data.get("patient")
        changed = str(patient.pk if patient else "") != patient_id or data.get("channel") != channel
        if address and data.get("recipient", "").strip() == address and changed:
            data["recipient"] = ""  # the chosen patient's own address on the chosen channel (message_send)
        return data

    def offer_send_again(self) -> None:
        """Shown only once a send was held back as the same message this person sent moments ago."""
        self.fields["send_again"] = forms.BooleanField(required=False, label="Send it again: a second copy is meant")

    def offer_bounce_override(self) -> None:
        """Shown only once a send was refused because the address bounced: the refusal says when and why."""
        self.fields["send_despite_bounce"] = forms.BooleanField(
            required=False, label="Send anyway: the address has been fixed"
        )


DATE_BOX = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")  # a date box shows only ISO dates


class MessageFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=200)
    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Status.choices])
    channel = forms.ChoiceField(required=False, choices=[("", "Any channel"), *Channel.choices])
    date_from = forms.DateField(required=False, label="From", widget=DATE_BOX)
    date_to = forms.DateField(required=False, label="To", widget=DATE_BOX)
    before = forms.IntegerField(required=False, widget=forms.HiddenInput)


# --- Templates, rules, bulk sends, thread replies ------------------------------------------------------


class TemplateForm(forms.Form):
    name = forms.CharField(max_length=100, required=False)  # needed to save (templating.template_save), not to preview
    channel = forms.ChoiceField(choices=[(Channel.SMS, "SMS"), (Channel.EMAIL, "Email")], initial=Channel.SMS)
    subject = forms.CharField(required=False, max_length=200, help_text="Email only.")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Merge fields: {first_name}, {clinic_name}, {clinic_phone}, {appointment_date}, {appointment_time}.",
    )


class RuleForm(forms.Form):
    template = forms.ModelChoiceField(queryset=MessageTemplate.objects.none())
    hours_before = forms.IntegerField(min_value=1, max_value=24 * 60, initial=24, label="Hours before")

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = MessageTemplate.objects.filter(clinic=clinic)


class BulkForm(forms.Form):
    template = forms.ModelChoiceField(queryset=MessageTemplate.objects.none())
    audience = forms.ChoiceField(choices=Audience.choices, label="To")
    send_at = LocalDateTimeField(required=False, label="Send at")

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = MessageTemplate.objects.filter(clinic=clinic)
        self.fields["send_at"].clinic = clinic
        self.fields["send_at"].help_text = f"In the clinic's time ({clinic.timezone}). Leave empty to send now."


class ReplyForm(forms.Form):
    request_key = RequestKeyField()
    body = forms.CharField(required=False, label="Reply", widget=forms.Textarea(attrs={"rows": 3}))


class AppointmentForm(forms.Form):
    patient = forms.ModelChoiceField(queryset=Patient.objects.none())
    practitioner = forms.ModelChoiceField(queryset=StaffMembership.objects.none())
    day = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    start = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    end = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        self.fields["patient"].queryset = Patient.objects.filter(clinic=clinic)
        self.fields["practitioner"].queryset = StaffMembership.objects.filter(clinic=clinic).select_related("user")
        self.fields["practitioner"].label_from_instance = lambda m: m.user.get_full_name() or m.user.get_username()
        self.fields["start"].help_text = f"In the clinic's time ({clinic.timezone})."


class DayForm(forms.Form):
    day = forms.DateField(required=False, label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    practitioner = forms.ModelChoiceField(
        queryset=StaffMembership.objects.none(), required=False, empty_label="All practitioners"
    )

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].queryset = StaffMembership.objects.filter(clinic=clinic).select_related("user")
        self.fields["practitioner"].label_from_instance = lambda m: m.user.get_full_name() or m.user.get_username()
