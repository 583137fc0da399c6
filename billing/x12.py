"""X12 837P (005010X222A1) professional claim files for US payers.

One interchange (ISA/IEA) and one functional group (GS/GE) per batch, both numbered with the batch's
control number; one transaction set (ST/SE) per 5,000 claims, as the implementation guide advises.
The billing provider is the clinic (BillingProvider); each invoice is one claim (CLM) under its own
subscriber (the patient, identified by the invoice's member id) and payer.
"""

import re
from itertools import groupby

from django.conf import settings
from django.utils import timezone

from billing import selectors
from billing.models import BillingBatch, BillingProvider, Payer

MAX_CLAIMS_PER_TRANSACTION = 5000
VERSION = "005010X222A1"
_NOT_ALLOWED = re.compile(r"[*~:^\r\n]")


class MissingProviderDetails(Exception):
    pass


def supports(batch: BillingBatch) -> bool:
    """837P is offered when every payer in the batch takes X12 claims."""
    if batch.payer_id:
        return batch.payer.claim_format == Payer.ClaimFormat.X12_837P
    formats = set(batch.items.filter(active=True).values_list("invoice__payer__claim_format", flat=True).distinct()[:2])
    return formats == {Payer.ClaimFormat.X12_837P}


def _clean(value, limit: int = 60) -> str:
    return _NOT_ALLOWED.sub(" ", str(value or "")).strip().upper()[:limit]


def _amount(value) -> str:
    text = f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _provider(batch: BillingBatch) -> BillingProvider:
    provider = BillingProvider.objects.filter(clinic=batch.clinic).first()
    missing = [
        label
        for label, value in [
            ("legal name", provider and provider.legal_name),
            ("NPI", provider and provider.npi),
            ("tax id", provider and provider.tax_id),
            ("address", provider and provider.address_line),
            ("city", provider and provider.city),
            ("state", provider and provider.state),
            ("postal code", provider and provider.postal_code),
            ("contact phone", provider and provider.contact_phone),
        ]
        if not value
    ]
    if missing:
        raise MissingProviderDetails(f"Complete the clinic's billing provider details first: {', '.join(missing)}.")
    return provider


def batch_837p(batch: BillingBatch, *, now=None) -> str:
    provider = _provider(batch)
    now = (now or timezone.now()).astimezone(batch.clinic.tzinfo)
    sender = _clean(provider.x12_sender_id or provider.tax_id, 15)
    receiver = _clean(settings.BILLING_X12_RECEIVER_ID, 15)
    control = f"{batch.control_number:09d}"
    segments = [
        "ISA*00*          *00*          *ZZ*{:<15}*ZZ*{:<15}*{}*{}*^*00501*{}*0*{}*:".format(
            sender, receiver, now.strftime("%y%m%d"), now.strftime("%H%M"), control, _clean(settings.BILLING_X12_USAGE)
        ),
        f"GS*HC*{sender}*{receiver}*{now:%Y%m%d}*{now:%H%M}*{batch.control_number}*X*{VERSION}",
    ]
    by_invoice = groupby(selectors.batch_lines(batch=batch), key=lambda line: line.invoice)
    claims = [(invoice, list(lines)) for invoice, lines in by_invoice]
    numbers = selectors.provider_numbers(batch=batch)
    sets = 0
    for start in range(0, max(len(claims), 1), MAX_CLAIMS_PER_TRANSACTION):
        sets += 1
        chunk = claims[start : start + MAX_CLAIMS_PER_TRANSACTION]
        segments += _transaction(batch, provider, chunk, sets, now, numbers)
    segments += [f"GE*{sets}*{batch.control_number}", f"IEA*1*{control}"]
    return "~\n".join(segments) + "~\n"


def _transaction(batch, provider, claims, number: int, now, numbers: dict) -> list[str]:
    st = f"{number:04d}"
    body = [
        f"ST*837*{st}*{VERSION}",
        f"BHT*0019*00*{batch.control_number}{st}*{now:%Y%m%d}*{now:%H%M}*CH",
        f"NM1*41*2*{_clean(provider.legal_name)}*****46*{_clean(provider.x12_sender_id or provider.tax_id, 15)}",
        f"PER*IC*{_clean(provider.contact_name or provider.legal_name)}*TE*{_digits(provider.contact_phone)}",
        f"NM1*40*2*{_clean(settings.BILLING_X12_RECEIVER_ID)}*****46*{_clean(settings.BILLING_X12_RECEIVER_ID, 15)}",
        "HL*1**20*1",
        f"NM1*85*2*{_clean(provider.legal_name)}*****XX*{_digits(provider.npi)}",
        f"N3*{_clean(provider.address_line, 55)}",
        f"N4*{_clean(provider.city, 30)}*{_clean(provider.state, 2)}*{_digits(provider.postal_code)}",
        f"REF*EI*{_digits(provider.tax_id)}",
    ]
    for hl, (invoice, lines) in enumerate(claims, start=2):
        patient, payer = invoice.patient, invoice.payer
        body += [
            f"HL*{hl}*1*22*0",
            "SBR*P*18*******CI",
            f"NM1*IL*1*{_clean(patient.last_name)}*{_clean(patient.first_name, 35)}****MI*{_clean(invoice.member_id)}",
        ]
        if patient.date_of_birth:
            body.append(f"DMG*D8*{patient.date_of_birth:%Y%m%d}*U")
        body += [
            f"NM1*PR*2*{_clean(payer.name)}*****PI*{_clean(payer.payer_identifier)}",
            f"CLM*{_clean(invoice.number, 38)}*{_amount(invoice.total)}***11:B:1*Y*A*Y*Y",
            f"HI*ABK:{_clean(invoice.diagnosis_code).replace('.', '')}",
        ]
        npi = numbers.get((invoice.practitioner_id, invoice.payer_id))
        if npi and invoice.practitioner:  # 2310B: who rendered the service, by their own NPI
            person = invoice.practitioner
            last = _clean(person.last_name or person.get_username(), 60)
            body.append(f"NM1*82*1*{last}*{_clean(person.first_name, 35)}****XX*{_digits(npi)}")
        for n, line in enumerate(lines, start=1):
            body += [
                f"LX*{n}",
                f"SV1*HC:{_clean(line.service_code, 48)}*{_amount(line.amount)}*UN*{_amount(line.units)}***1",
                f"DTP*472*D8*{line.date_of_service:%Y%m%d}",
            ]
    body.append(f"SE*{len(body) + 1}*{st}")
    return body


def _digits(value) -> str:
    return re.sub(r"\D", "", str(value or ""))
