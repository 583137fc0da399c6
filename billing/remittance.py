"""Remittance: what payers paid, imported from an X12 835 (ERA) file or a CSV, matched and posted.

Invariants:
- A file is parsed and validated before anything is written: an 835 must pass pyx12's 835 5010
  (005010X221A1) validation, a CSV must have every column and amount right; else field errors, nothing
  changed.
- Importing the same file twice changes nothing: Remittance's SHA-256 (and TRN02 trace number) is unique
  per clinic, so a second import, even one racing the first, finds the first one and posts nothing.
- A claim payment is posted only to the invoice it names (CLP01, the claim control number we sent as
  CLM01: the invoice number) when the patient account matches too (NM1*QC member id = the invoice's member
  id), the invoice is in a submitted batch, and the payment is not more than is owed. Anything else is
  kept, unposted, with its reason, for a person to resolve: a payer's file is never trusted to move money
  onto the wrong claim.
- Matched payments are posted set-based (billing.sql.POST_PAYMENTS_SQL): one statement for 10,000 claims.
  Each invoice moves along the INVOICE machine (pay, pay_in_part, deny); a batch whose every invoice is
  answered is reconciled.
"""

import csv
import hashlib
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing import lifecycle, roles, x12_validate
from billing.batches import refresh_totals
from billing.lifecycle import BATCH, INVOICE
from billing.models import (
    BillingBatch,
    Invoice,
    Payer,
    Remittance,
    RemittanceClaim,
)
from billing.money import plural, to_money
from billing.sql import (
    BATCH_SETTLEMENT_SQL,
    INSERT_ADJUSTMENTS_SQL,
    INSERT_CLAIMS_SQL,
    MATCH_SQL,
    POST_PAYMENTS_SQL,
    MatchRow,
    Settlement,
)
from clinics.models import Clinic
from kalix_site.sql import rows, scalars

log = logging.getLogger(__name__)

I = Invoice.Status  # noqa: E741
Outcome = RemittanceClaim.Outcome
SETTLED = (I.PAID, I.PARTIALLY_PAID, I.DENIED)
MAX_ERRORS_SHOWN = 20
CLAIM_COLUMNS = (
    "invoice",
    "batch",
    "claim_number",
    "payer_claim_number",
    "member_id",
    "status_code",
    "charged",
    "paid",
    "patient_responsibility",
    "outcome",
    "reason",
)
DENIED_STATUS = "4"  # CLP02: denied
REVERSAL_STATUS = "22"  # CLP02: reversal of a previous payment


@dataclass
class ClaimPayment:
    claim_number: str
    status_code: str
    charged: Decimal
    paid: Decimal
    patient_responsibility: Decimal = Decimal("0")
    payer_claim_number: str = ""
    member_id: str = ""
    adjustments: list[tuple[str, str, Decimal]] = field(default_factory=list)


@dataclass
class ParsedRemittance:
    format: str
    claims: list[ClaimPayment]
    trace_number: str = ""
    payment_amount: Decimal = Decimal("0")
    paid_on: date | None = None
    payer_name: str = ""


# --- Parsing ------------------------------------------------------------------------------------


def validate_835(text: str) -> list[str]:
    """pyx12's findings on an 835 (empty: valid), over BILLING_REMITTANCE_VALIDATE_WORKERS processes."""
    return x12_validate.validate(text, workers=settings.BILLING_REMITTANCE_VALIDATE_WORKERS)


def _money(value: str, what: str) -> Decimal:
    try:
        return to_money(Decimal(value or "0"))
    except (InvalidOperation, ValueError):
        raise ValidationError({"file": f"{what}: {value!r} is not an amount."}) from None


def parse_835(text: str) -> ParsedRemittance:
    """The claim payments of an 835: CLP loops with their CAS and NM1*QC. Read with the separators the
    ISA declares (pyx12 validates the same text, so this only reads what it accepts)."""
    try:
        element, _ = x12_validate.separators(text)
    except ValueError:
        raise ValidationError({"file": "This is not an X12 file."}) from None
    parsed = ParsedRemittance(format=Remittance.Format.X12_835, claims=[])
    claim = None
    for segment in x12_validate.segments(text):
        e = segment.split(element)
        e += [""] * (20 - len(e))
        seg_id = e[0]
        if seg_id == "ST" and e[1] != "835":
            raise ValidationError({"file": "This X12 file is not an 835 remittance advice."})
        if seg_id == "BPR":
            parsed.payment_amount = _money(e[2], "BPR02")
            try:
                parsed.paid_on = datetime.strptime(e[16], "%Y%m%d").date() if e[16] else None
            except ValueError:
                raise ValidationError({"file": f"BPR16: {e[16]!r} is not a date."}) from None
        elif seg_id == "TRN":
            parsed.trace_number = e[2]
        elif seg_id == "N1" and e[1] == "PR":
            parsed.payer_name = e[2]
        elif seg_id == "CLP":
            claim = ClaimPayment(
                claim_number=e[1],
                status_code=e[2],
                charged=_money(e[3], "CLP03"),
                paid=_money(e[4], "CLP04"),
                patient_responsibility=_money(e[5], "CLP05"),
                payer_claim_number=e[7],
            )
            parsed.claims.append(claim)
        elif seg_id == "CAS" and claim is not None:
            for n in range(2, 19, 3):  # up to six (reason, amount, quantity) triples
                if e[n]:
                    claim.adjustments.append((e[1], e[n], _money(e[n + 1], "CAS")))
        elif seg_id == "NM1" and claim is not None and e[1] == "QC":
            claim.member_id = e[9]
    if not parsed.claims:
        raise ValidationError({"file": "The remittance has no claim payments (CLP)."})
    return parsed


CSV_COLUMNS = ("invoice_number", "member_id", "charged", "paid", "status", "adjustments")


def parse_csv(text: str) -> ParsedRemittance:
    """A CSV remittance: CSV_COLUMNS, one row per claim; status processed or denied; adjustments as
    GROUP-REASON:AMOUNT separated by semicolons (CO-45:20.50;PR-2:10.00)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationError(
            {"file": f"The CSV needs the columns {', '.join(CSV_COLUMNS)} (missing {', '.join(missing)})."}
        )
    claims, errors = [], []
    for n, row in enumerate(reader, start=2):
        try:
            adjustments = []
            for part in filter(None, (p.strip() for p in (row["adjustments"] or "").split(";"))):
                code, amount = part.split(":")
                group, reason = code.split("-", 1)
                adjustments.append((group.strip().upper(), reason.strip().upper(), to_money(Decimal(amount))))
            status = (row["status"] or "").strip().lower()
            if status not in ("processed", "denied"):
                raise ValueError("status")
            claims.append(
                ClaimPayment(
                    claim_number=(row["invoice_number"] or "").strip(),
                    status_code=DENIED_STATUS if status == "denied" else "1",
                    charged=to_money(Decimal(row["charged"])),
                    paid=to_money(Decimal(row["paid"])),
                    patient_responsibility=sum((a[2] for a in adjustments if a[0] == "PR"), start=Decimal("0")),
                    member_id=(row["member_id"] or "").strip(),
                    adjustments=adjustments,
                )
            )
        except (InvalidOperation, ValueError, TypeError, KeyError):
            errors.append(f"Row {n}: check its amounts, status (processed or denied) and adjustments.")
    if errors:
        raise ValidationError({"file": errors[:MAX_ERRORS_SHOWN]})
    if not claims:
        raise ValidationError({"file": "The CSV has no claim rows."})
    return ParsedRemittance(
        format=Remittance.Format.CSV, claims=claims, payment_amount=sum((c.paid for c in claims), start=Decimal(0))
    )


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"file": "The file is not text (UTF-8)."}) from None


def _is_x12(text: str) -> bool:
    return text.lstrip().startswith("ISA")


def _refuse_invalid(errors: list[str]) -> None:
    if errors:
        raise ValidationError({"file": ["The 835 does not pass X12 validation:", *errors[:MAX_ERRORS_SHOWN]]})


def _balanced(parsed: ParsedRemittance, text: str) -> None:
    claimed = sum((c.paid for c in parsed.claims), start=Decimal("0"))
    if "PLB" not in text and claimed != parsed.payment_amount:
        raise ValidationError(
            {"file": f"The payment (BPR02 {parsed.payment_amount}) is not the sum of its claims ({claimed})."}
        )


def parse(content: bytes) -> ParsedRemittance:
    """An 835 (validated by pyx12, its payment balanced against its claims) or a CSV remittance."""
    text = _text(content)
    if not _is_x12(text):
        return parse_csv(text)
    _refuse_invalid(validate_835(text))
    parsed = parse_835(text)
    _balanced(parsed, text)
    return parsed


# --- Import ---------------------------------------------------------------------------------------


def remittance_import(
    *, clinic: Clinic, by, content: bytes, file_name: str = "", payer: Payer | None = None
) -> tuple[Remittance, bool]:
    """Import a remittance file: (the remittance, whether this call imported it). The same file again
    returns the first import and changes nothing."""
    roles.require_manager(clinic=clinic, user=by, action="import remittances")
    if payer is not None and payer.clinic_id != clinic.pk:
        raise ValidationError({"payer": "Not a payer of this clinic."})
    digest = hashlib.sha256(content).hexdigest()
    existing = Remittance.objects.filter(clinic=clinic, file_sha256=digest).first()
    if existing:
        return existing, False
    text = _text(content)
    if not _is_x12(text):
        return _import(clinic=clinic, by=by, parsed=parse_csv(text), digest=digest, file_name=file_name, payer=payer)
    # pyx12's validation (the slow part, in worker processes) runs while this process parses, matches and
    # posts in a transaction; nothing is committed unless the file passes.
    with ThreadPoolExecutor(max_workers=1) as runner:
        checking = runner.submit(validate_835, text)
        try:
            parsed = parse_835(text)
            _balanced(parsed, text)
        except ValidationError:
            _refuse_invalid(checking.result())  # the validator's words say more than the parser's
            raise
        return _import(
            clinic=clinic, by=by, parsed=parsed, digest=digest, file_name=file_name, payer=payer, checking=checking
        )


def _import(*, clinic, by, parsed, digest, file_name, payer, checking=None) -> tuple[Remittance, bool]:
    if parsed.trace_number:
        same_payment = Remittance.objects.filter(clinic=clinic, trace_number=parsed.trace_number).first()
        if same_payment:
            return same_payment, False
    try:
        with transaction.atomic():
            made = _post(clinic=clinic, by=by, parsed=parsed, digest=digest, file_name=file_name, payer=payer)
            if checking is not None:
                _refuse_invalid(checking.result())  # rolls the posting back
            return made, True
    except IntegrityError:
        # The same file (or payment) imported at the same moment: the other import posted it.
        existing = Remittance.objects.filter(clinic=clinic, file_sha256=digest).first() or (
            Remittance.objects.filter(clinic=clinic, trace_number=parsed.trace_number).first()
            if parsed.trace_number
            else None
        )
        if existing is None:
            raise
        return existing, False


def _post(*, clinic, by, parsed: ParsedRemittance, digest: str, file_name: str, payer) -> Remittance:
    now = timezone.now()
    remittance = Remittance.objects.create(
        clinic=clinic,
        payer=payer,
        format=parsed.format,
        file_name=file_name[:200],
        file_sha256=digest,
        trace_number=parsed.trace_number[:50],
        payment_amount=parsed.payment_amount,
        paid_on=parsed.paid_on,
        payer_name=parsed.payer_name[:120],
        imported_by=by,
        imported_at=now,
        claim_count=len(parsed.claims),
    )
    with connection.cursor() as cursor:
        cursor.execute(MATCH_SQL, {"clinic": clinic.pk, "numbers": sorted({c.claim_number for c in parsed.claims})})
        found = {row.number: row for row in rows(cursor, MatchRow)}
    columns = {name: [] for name in CLAIM_COLUMNS}
    adjustments, posting, seen = [], [], set()
    for payment in parsed.claims:
        match = found.get(payment.claim_number)
        outcome, reason, to_status = _decide(payment, match, seen)
        posted = outcome != Outcome.UNMATCHED
        for name, value in (
            ("invoice", match.invoice_id if match else None),
            ("batch", match.batch_id if posted else None),
            ("claim_number", payment.claim_number[:40]),
            ("payer_claim_number", payment.payer_claim_number[:50]),
            ("member_id", payment.member_id[:80]),
            ("status_code", payment.status_code[:3]),
            ("charged", payment.charged),
            ("paid", payment.paid),
            ("patient_responsibility", payment.patient_responsibility),
            ("outcome", str(outcome)),
            ("reason", reason[:300]),
        ):
            columns[name].append(value)
        adjustments.append(payment.adjustments)
        if posted:
            seen.add(match.invoice_id)
            posting.append((match, payment.paid, to_status))
    with connection.cursor() as cursor:
        cursor.execute(INSERT_CLAIMS_SQL, {"remittance": remittance.pk, "clinic": clinic.pk, **columns})
        claim_ids = scalars(cursor, "id")
        flat = [
            (claim_id, group[:2], reason[:5], amount)
            for claim_id, found_adjustments in zip(claim_ids, adjustments, strict=True)
            for group, reason, amount in found_adjustments
        ]
        cursor.execute(
            INSERT_ADJUSTMENTS_SQL,
            {
                "claim": [a[0] for a in flat],
                "group": [a[1] for a in flat],
                "reason": [a[2] for a in flat],
                "amount": [a[3] for a in flat],
            },
        )
    with connection.cursor() as cursor:
        cursor.execute(
            POST_PAYMENTS_SQL,
            {
                "invoices": [m.invoice_id for m, _, _ in posting],
                "paid": [paid for _, paid, _ in posting],
                "from": [m.status for m, _, _ in posting],
                "to": [to for _, _, to in posting],
                "batches": [m.batch_id for m, _, _ in posting],
                "now": now,
                "by": by.pk if by else None,
                "note": f"Remittance {parsed.trace_number or file_name}"[:500],
            },
        )
    remittance.matched_count = len(posting)
    remittance.unmatched_count = len(parsed.claims) - len(posting)
    remittance.posted_amount = to_money(sum((paid for _, paid, _ in posting), start=Decimal("0")))
    remittance.save(update_fields=["matched_count", "unmatched_count", "posted_amount"])
    _reconcile(sorted({m.batch_id for m, _, _ in posting}), remittance=remittance, by=by, now=now)
    log.info(
        "remittance %s imported: %s claims, %s unmatched", remittance.pk, len(parsed.claims), remittance.unmatched_count
    )
    return remittance


def _decide(payment: ClaimPayment, match: MatchRow | None, seen: set) -> tuple[str, str, str]:
    """(outcome, why it did not match, the invoice's new status) for one claim payment."""
    if match is None:
        return Outcome.UNMATCHED, "No invoice of this clinic has this claim number.", ""
    if payment.member_id.strip().upper() != match.member_id.strip().upper():
        return Outcome.UNMATCHED, "The patient account (member id) is not the invoice's.", ""
    if match.batch_id is None or match.batch_status not in (
        BillingBatch.Status.SUBMITTED,
        BillingBatch.Status.PARTIALLY_PAID,
    ):
        return Outcome.UNMATCHED, "The invoice is not in a submitted batch.", ""
    if match.invoice_id in seen:
        return Outcome.UNMATCHED, "The file pays this claim twice.", ""
    if payment.status_code == REVERSAL_STATUS or payment.paid < 0:
        return Outcome.UNMATCHED, "A reversal of an earlier payment: post it by hand.", ""
    owed = match.total - match.paid_amount
    if payment.paid > owed:
        return Outcome.UNMATCHED, f"Pays {payment.paid}, more than the {owed} still owed.", ""
    if payment.status_code == DENIED_STATUS or payment.paid == 0:
        to_status = I.DENIED
    elif payment.paid == owed:
        to_status = I.PAID
    else:
        to_status = I.PARTIALLY_PAID
    if match.status != to_status and INVOICE.move_between(match.status, to_status) is None:
        return (
            Outcome.UNMATCHED,
            f"A {Invoice.Status(match.status).label.lower()} invoice cannot become {to_status}.",
            "",
        )
    return Outcome(to_status), "", to_status


def _reconcile(batch_ids: list[int], *, remittance: Remittance, by, now) -> None:
    """Totals, status and reconciliation of every batch the remittance paid into."""
    if not batch_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(BATCH_SETTLEMENT_SQL, {"batches": batch_ids, "settled": list(SETTLED), "paid": I.PAID})
        settlement = {row.batch_id: row for row in rows(cursor, Settlement)}
    for batch in BillingBatch.objects.select_for_update().filter(pk__in=batch_ids).order_by("pk"):
        refresh_totals(batch)
        state = settlement[batch.pk]
        reconciled = state.waiting == 0
        note = f"{remittance}: {plural(state.settled, 'invoice')} answered" + (", reconciled" if reconciled else "")
        fields = {"reconciled_at": now} if reconciled else {}
        move = "pay_in_full" if state.paid == state.settled + state.waiting else "pay_in_part"
        if batch.paid_amount > 0 and BATCH.target(move) != batch.status and BATCH.can(move, batch.status):
            lifecycle.move_batch(batch, move, by=by, note=note, **fields)
        else:
            if fields:
                BillingBatch.objects.filter(pk=batch.pk).update(**fields)
            lifecycle.record(batch, from_status=batch.status, to_status=batch.status, by=by, note=note)


def remittance_resolve(*, claim: RemittanceClaim, by, note: str) -> RemittanceClaim:
    """A person settled an unmatched claim payment (posted by hand, refund asked, payer called): say how."""
    roles.require_manager(clinic=claim.clinic, user=by, action="resolve remittance claims")
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say how this was resolved."})
    if len(note) > 500:
        raise ValidationError({"note": "At most 500 characters."})
    updated = RemittanceClaim.objects.filter(pk=claim.pk, outcome=Outcome.UNMATCHED, resolved_at=None).update(
        resolved_at=timezone.now(), resolved_by=by, resolution=note
    )
    if not updated:
        raise ValidationError("This claim payment was already resolved.")
    claim.refresh_from_db()
    return claim
