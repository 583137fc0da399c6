"""X12 835 (ERA) and CSV remittance files as payers send them, for the remittance tests and the benchmark.

Each claim payment is (invoice number, member id, charge, paid, status, adjustments), adjustments being
(group, CARC reason, amount). The file is what a payer's 835 5010 (005010X221A1) holds: one payment (BPR,
TRN), the payer and payee, and a CLP loop per claim with its patient (NM1*QC) and adjustments (CAS).
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass
class ClaimPayment:
    invoice_number: str
    member_id: str
    charge: Decimal
    paid: Decimal
    status: str = "1"  # 1 processed as primary, 4 denied
    adjustments: list[tuple[str, str, Decimal]] = field(default_factory=list)
    last_name: str = "PATIENT"
    first_name: str = "ANY"


def _amount(value: Decimal) -> str:
    text = f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def make_835(claims: list[ClaimPayment], *, trace: str = "TRACE0001", paid_on: date | None = None, control=1) -> str:
    paid_on = paid_on or date.today()
    total = sum((c.paid for c in claims), start=Decimal("0"))
    body = [
        "ST*835*0001",
        f"BPR*I*{_amount(total)}*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*{paid_on:%Y%m%d}",
        f"TRN*1*{trace}*1512345678",
        f"DTM*405*{paid_on:%Y%m%d}",
        "N1*PR*ACME HEALTH",
        "N3*1 PAYER WAY",
        "N4*CHICAGO*IL*60601",
        "PER*BL*CLAIMS*TE*3125551212",
        "N1*PE*ALPHA DIETETICS*XX*1234567893",
        "LX*1",
    ]
    for c in claims:
        patient_owes = sum((a[2] for a in c.adjustments if a[0] == "PR"), start=Decimal("0"))
        body.append(
            f"CLP*{c.invoice_number}*{c.status}*{_amount(c.charge)}*{_amount(c.paid)}*"
            f"{_amount(patient_owes)}*12*PCN{c.invoice_number}"
        )
        for group, reason, amount in c.adjustments:
            body.append(f"CAS*{group}*{reason}*{_amount(amount)}")
        body.append(f"NM1*QC*1*{c.last_name}*{c.first_name}****MI*{c.member_id}")
    body.append(f"SE*{len(body) + 1}*0001")
    segments = [
        f"ISA*00*          *00*          *ZZ*ACMEHEALTH     *ZZ*ALPHA          *{paid_on:%y%m%d}*1200*^*00501*"
        f"{control:09d}*0*T*:",
        f"GS*HP*ACMEHEALTH*ALPHA*{paid_on:%Y%m%d}*1200*{control}*X*005010X221A1",
        *body,
        f"GE*1*{control}",
        f"IEA*1*{control:09d}",
    ]
    return "~\n".join(segments) + "~\n"


def make_csv(claims: list[ClaimPayment]) -> str:
    """The CSV remittance (payers without 835): one row per claim, adjustments as group-reason:amount."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["invoice_number", "member_id", "charged", "paid", "status", "adjustments"])
    for c in claims:
        adjustments = ";".join(f"{g}-{r}:{a:.2f}" for g, r, a in c.adjustments)
        status = "denied" if c.status == "4" else "processed"
        writer.writerow([c.invoice_number, c.member_id, f"{c.charge:.2f}", f"{c.paid:.2f}", status, adjustments])
    return out.getvalue()
