"""Demo billing data: payers, a billing provider, invoices in every state, and one built batch.

Idempotent: payers and providers are updated in place; invoices are made only for a clinic that has
none yet. `manage.py demo` calls `billing.demo.load(clinics)` with the demo clinics.
"""

from datetime import timedelta
from decimal import Decimal

from django.db import transaction

from billing import batches, services
from billing.models import BillingProvider, Invoice, Payer
from billing.validation import clinic_today
from clinics.models import Clinic, StaffMembership

PAYERS = [
    {"payer_identifier": "MBP", "name": "Medibank Private", "kind": "health_fund", "country": "AU"},
    {"payer_identifier": "BUPA", "name": "Bupa", "kind": "health_fund", "country": "AU"},
    {
        "payer_identifier": "87726",
        "name": "Acme Health (US)",
        "kind": "insurer",
        "country": "US",
        "claim_format": "x12_837p",
    },
    {"payer_identifier": "SELF", "name": "Self-pay", "kind": "self_pay", "country": "AU", "requires_member_id": False},
]

SERVICES = [("DIET-INIT", "Initial dietetic consultation", "120.00"), ("DIET-REV", "Review consultation", "85.50")]


@transaction.atomic
def load(clinics) -> None:
    for clinic in clinics.values() if isinstance(clinics, dict) else clinics:
        _load_clinic(clinic)


def _load_clinic(clinic: Clinic) -> None:
    payers = []
    for spec in PAYERS:
        payer, _ = Payer.objects.update_or_create(
            clinic=clinic, payer_identifier=spec["payer_identifier"], defaults=spec
        )
        payers.append(payer)
    BillingProvider.objects.update_or_create(
        clinic=clinic,
        defaults={
            "legal_name": clinic.name,
            "npi": "1234567893",
            "tax_id": "123456789",
            "address_line": "1 Harbour St",
            "city": "Springfield",
            "state": "IL",
            "postal_code": "627011234",
            "contact_name": "Billing office",
            "contact_phone": "5555551234",
        },
    )
    practitioners = [
        m.user for m in StaffMembership.objects.filter(clinic=clinic, role=StaffMembership.Role.PRACTITIONER)
    ]
    for n, person in enumerate(practitioners):
        for payer in payers:  # an NPI for the US payer, a provider number for the funds
            number = "1234567893" if payer.claim_format == Payer.ClaimFormat.X12_837P else f"{2423450 + n}T"
            services.provider_number_set(clinic=clinic, practitioner=person, payer=payer, number=number)
    if Invoice.objects.filter(clinic=clinic).exists():
        return
    patients = list(clinic.patients.all()[:4])
    if not patients or not practitioners:
        return
    practitioner = practitioners[0]  # only a practitioner renders services
    today = clinic_today(clinic)

    def invoice(n, payer, *, ready=True, member_id="M-{n:05d}", days_ago=3, diagnosis="R69"):
        code, description, amount = SERVICES[n % len(SERVICES)]
        return services.invoice_create(
            clinic=clinic,
            patient=patients[n % len(patients)],
            payer=payer,
            practitioner=practitioner,
            member_id=member_id.format(n=n),
            diagnosis_code=diagnosis,
            ready=ready,
            lines=[
                {
                    "service_code": code,
                    "description": description,
                    "date_of_service": today - timedelta(days=days_ago),
                    "amount": Decimal(amount),
                }
            ],
        )

    fund, other_fund, us, _ = payers
    for n in range(4):
        invoice(n, fund)
    batches.batch_request(
        clinic=clinic, requested_by=practitioner, payer=fund, cutoff_date=today, request_key="demo-first-batch"
    )
    batches.drain_batch_requests()  # built here so the demo opens with one batch ready to download
    for n in range(4, 8):
        invoice(n, [fund, other_fund, us][n % 3])
    invoice(8, other_fund, member_id="")  # shows in the "fix these" banner
    invoice(9, fund, ready=False)  # a draft
