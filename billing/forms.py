from decimal import Decimal

from django import forms
from django.forms.utils import pretty_name

from billing import selectors
from billing.models import Invoice, Payer
from clinics import selectors as clinic_selectors
from clinics.models import Patient
from kalix_site.forms import RequestKeyField


class InvoiceForm(forms.ModelForm):
    request_key = RequestKeyField()  # creating only: a double submit makes one invoice

    class Meta:
        model = Invoice
        fields = ["patient", "payer", "practitioner", "member_id", "diagnosis_code"]

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            del self.fields["request_key"]  # saving an edit twice saves the same thing twice
        self.fields["patient"].queryset = Patient.objects.filter(clinic=clinic)
        self.fields["payer"].queryset = selectors.payer_list(clinic=clinic)
        self.fields["practitioner"].queryset = clinic_selectors.practitioner_list(clinic=clinic)
        self.fields["payer"].required = False  # an invoice without payer is a draft with an error to fix
        self.fields["practitioner"].required = False


class InvoiceLineForm(forms.Form):
    service_code = forms.CharField(max_length=20)
    description = forms.CharField(max_length=200)
    date_of_service = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    units = forms.DecimalField(
        max_digits=7,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        widget=forms.NumberInput(attrs={"placeholder": "1"}),
    )
    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=0, help_text="Line total")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():  # the table header is the visible label
            field.widget.attrs.setdefault("aria-label", field.label or pretty_name(name))


InvoiceLineFormSet = forms.formset_factory(InvoiceLineForm, extra=2, can_delete=True)


def line_dicts(formset) -> list[dict]:
    return [
        {name: form.cleaned_data[name] for name in InvoiceLineForm.base_fields}
        for form in formset.forms
        if form.cleaned_data and not form.cleaned_data.get("DELETE")  # an untouched extra form has none
    ]


class BatchRequestForm(forms.Form):
    payer = forms.ModelChoiceField(queryset=Payer.objects.none(), required=False, empty_label="Mixed: every payer")
    cutoff_date = forms.DateField(
        label="Cut-off date", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    invoices = forms.ModelMultipleChoiceField(queryset=Invoice.objects.none(), required=False)
    request_key = RequestKeyField()

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payer"].queryset = selectors.payer_list(clinic=clinic)
        self.fields["invoices"].queryset = selectors.ready_pool(clinic=clinic)


class PaymentForm(forms.Form):
    invoice = forms.ModelChoiceField(queryset=Invoice.objects.none())
    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))

    def __init__(self, *args, batch, **kwargs):
        super().__init__(*args, **kwargs)
        invoices = Invoice.objects.filter(clinic=batch.clinic, batch_items__batch=batch, batch_items__active=True)
        self.fields["invoice"].queryset = invoices
        only = list(invoices[:2])
        if len(only) == 1:  # nothing to choose: the batch's one invoice, chosen already
            self.fields["invoice"].initial = only[0].pk


class RemittanceForm(forms.Form):
    file = forms.FileField(
        label="Remittance file", help_text="An X12 835 (ERA) from the payer or clearinghouse, or a CSV remittance."
    )
    payer = forms.ModelChoiceField(queryset=Payer.objects.none(), required=False, empty_label="As the file says")

    def __init__(self, *args, clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payer"].queryset = selectors.payer_list(clinic=clinic)


class ResolveForm(forms.Form):
    note = forms.CharField(max_length=500, label="How it was resolved")


class DuplicateAcceptForm(forms.Form):
    reason = forms.CharField(
        max_length=400,
        label="Why this is not a duplicate claim",
        help_text="Recorded in the invoice's history (for example: a second visit the same day).",
    )
