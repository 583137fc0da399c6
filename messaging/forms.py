from django import forms

from clinics.models import Patient
from kalix_site.forms import RequestKeyField
from messaging.models import Channel, Status


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
    # "<patient id>|<channel>|<address>" when compose was opened pre-filled (?patient=): an address still
    # as pre-filled is that patient's on that channel, and must not go to another patient or channel.
    prefilled_from = forms.CharField(required=False, max_length=300, widget=forms.HiddenInput)

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = Patient.objects.filter(clinic=clinic)
        if self.data.get("send_despite_bounce"):
            self.offer_bounce_override()

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
