"""billing's raw SQL, in one place: the statements as named constants or the functions that build them,
each beside the dataclass of what it returns (read by column name through kalix_site.sql).

Raw SQL where it earns its speed: a batch is built in one statement (claim the invoices, insert the
batch items, move the invoices, write their history), many invoices move with their history rows in
one statement, and the per-clinic number sequences are one atomic upsert. `make bench SCENARIO=batch`
measures the build. Who runs them: billing.batches (build, totals), billing.lifecycle (move_invoices),
billing.services (next_number).
"""

from dataclasses import dataclass
from decimal import Decimal

from billing.models import BillingCounter

# --- A batch built in one statement (billing.batches.build_batch) ----------------------------------

BUILD_SQL = """
WITH picked AS (
    SELECT i.id, i.total FROM billing_invoice i
    WHERE i.clinic_id = %(clinic)s AND i.status = %(ready)s AND NOT i.has_critical_errors
      AND i.last_service_date <= %(cutoff)s {payer} {selection}
    ORDER BY i.id
    FOR UPDATE OF i SKIP LOCKED
), inserted AS (
    INSERT INTO billing_batchitem (batch_id, invoice_id, active, amount, paid_amount)
    SELECT %(batch)s, picked.id, true, picked.total, 0 FROM picked
    ON CONFLICT (invoice_id) WHERE active DO NOTHING
    RETURNING invoice_id
), moved AS (
    UPDATE billing_invoice SET status = %(batched)s, updated_at = %(now)s
    FROM inserted WHERE billing_invoice.id = inserted.invoice_id
    RETURNING billing_invoice.id
)
INSERT INTO billing_invoicehistory (invoice_id, at, by_id, from_status, to_status, batch_id, note)
SELECT id, %(now)s, NULL, %(ready)s, %(batched)s, %(batch)s, %(note)s FROM moved
"""


def build_sql(*, by_payer: bool, by_selection: bool) -> str:
    """BUILD_SQL for a batch limited to its payer and/or to the invoices it selected."""
    return BUILD_SQL.format(
        payer="AND i.payer_id = %(payer)s" if by_payer else "",
        selection="AND i.id = ANY(%(selection)s)" if by_selection else "",
    )


TOTALS_SQL = """
SELECT count(*) AS invoices, coalesce(sum(b.amount), 0) AS total,
       (SELECT count(*) FROM billing_invoiceline l JOIN billing_batchitem b2 ON b2.invoice_id = l.invoice_id
        WHERE b2.batch_id = %(batch)s AND b2.active) AS lines
FROM billing_batchitem b WHERE b.batch_id = %(batch)s AND b.active
"""


@dataclass(frozen=True)
class BatchTotals:
    """TOTALS_SQL: a batch's active invoices, their amount, and their lines."""

    invoices: int
    total: Decimal
    lines: int


# --- Many invoices moved at once, with their history (billing.lifecycle.move_invoices) --------------

MOVE_INVOICES_SQL = """
WITH moved AS (
    UPDATE billing_invoice SET status = %(to)s, updated_at = %(now)s
    WHERE id = ANY(%(ids)s) AND status = %(from)s
    RETURNING id
)
INSERT INTO billing_invoicehistory (invoice_id, at, by_id, from_status, to_status, batch_id, note)
SELECT id, %(now)s, %(by)s, %(from)s, %(to)s, %(batch)s, %(note)s FROM moved
"""


# --- Per-clinic number sequences (billing.services.next_number) ------------------------------------

COUNTER_FIELDS = ("last_invoice_number", "last_control_number")
COUNTER_ROW_SQL = (
    f"INSERT INTO {BillingCounter._meta.db_table} (clinic_id, last_invoice_number, last_control_number) "
    "VALUES (%s, 0, 0) ON CONFLICT (clinic_id) DO NOTHING"
)


def counter_next_sql(field: str) -> str:
    """Reserve values of one sequence (`field`, one of COUNTER_FIELDS): add %s, RETURNING the last."""
    if field not in COUNTER_FIELDS:
        raise ValueError(field)
    table = BillingCounter._meta.db_table
    return f"UPDATE {table} SET {field} = {field} + %s WHERE clinic_id = %s RETURNING {field}"  # noqa: S608


# --- One snapshot for a page that reads a batch and its rows (billing.views) -------------------------

# The first statement of a transaction: every later read in it sees the same committed state.
REPEATABLE_READ_SQL = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"


# --- Remittance: match claim payments to batched invoices, post them (billing.remittance) -----------

MATCH_SQL = """
SELECT i.id AS invoice_id, i.number, i.member_id, i.status, i.total, i.paid_amount,
       b.id AS item_id, b.batch_id, bb.status AS batch_status
FROM billing_invoice i
LEFT JOIN billing_batchitem b ON b.invoice_id = i.id AND b.active
LEFT JOIN billing_billingbatch bb ON bb.id = b.batch_id
WHERE i.clinic_id = %(clinic)s AND i.number = ANY(%(numbers)s)
FOR UPDATE OF i
"""


@dataclass(frozen=True)
class MatchRow:
    """MATCH_SQL: an invoice named by a claim payment, locked, with its active batch item if any."""

    invoice_id: int
    number: str
    member_id: str
    status: str
    total: Decimal
    paid_amount: Decimal
    item_id: int | None
    batch_id: int | None
    batch_status: str | None


# Every matched claim payment posted at once: the batch items' and invoices' paid amounts, the invoices'
# moves (a conditional UPDATE on the status read under lock), and their history rows.
POST_PAYMENTS_SQL = """
WITH posted AS (
    SELECT * FROM unnest(%(invoices)s::bigint[], %(paid)s::numeric[], %(from)s::text[], %(to)s::text[],
                         %(batches)s::bigint[])
        AS p(invoice_id, paid, from_status, to_status, batch_id)
), items AS (
    UPDATE billing_batchitem b SET paid_amount = b.paid_amount + posted.paid
    FROM posted WHERE b.invoice_id = posted.invoice_id AND b.active
    RETURNING b.invoice_id
), moved AS (
    UPDATE billing_invoice i
    SET paid_amount = i.paid_amount + posted.paid, status = posted.to_status, updated_at = %(now)s
    FROM posted WHERE i.id = posted.invoice_id AND i.status = posted.from_status
    RETURNING i.id, posted.from_status, posted.to_status, posted.batch_id
)
INSERT INTO billing_invoicehistory (invoice_id, at, by_id, from_status, to_status, batch_id, note)
SELECT id, %(now)s, %(by)s, from_status, to_status, batch_id, %(note)s FROM moved
"""

# How many invoices of each batch a remittance has answered, and how many are still waiting for one.
BATCH_SETTLEMENT_SQL = """
SELECT b.batch_id,
       count(*) FILTER (WHERE i.status = ANY(%(settled)s)) AS settled,
       count(*) FILTER (WHERE i.status = %(paid)s) AS paid,
       count(*) FILTER (WHERE i.status <> ALL(%(settled)s)) AS waiting
FROM billing_batchitem b JOIN billing_invoice i ON i.id = b.invoice_id
WHERE b.active AND b.batch_id = ANY(%(batches)s)
GROUP BY b.batch_id
"""


@dataclass(frozen=True)
class Settlement:
    """BATCH_SETTLEMENT_SQL: one batch's invoices answered by a remittance, paid in full, and waiting."""

    batch_id: int
    settled: int
    paid: int
    waiting: int


# A remittance's claim payments and their adjustments, inserted from arrays (10,000 rows in one statement
# each: bulk_create spent seconds building the rows in Python).
INSERT_CLAIMS_SQL = """
INSERT INTO billing_remittanceclaim (remittance_id, clinic_id, invoice_id, batch_id, claim_number,
    payer_claim_number, member_id, status_code, charged, paid, patient_responsibility, outcome, reason,
    resolution)
SELECT %(remittance)s, %(clinic)s, c.invoice_id, c.batch_id, c.claim_number, c.payer_claim_number, c.member_id,
       c.status_code, c.charged, c.paid, c.patient_responsibility, c.outcome, c.reason, ''
FROM unnest(%(invoice)s::bigint[], %(batch)s::bigint[], %(claim_number)s::text[], %(payer_claim_number)s::text[],
            %(member_id)s::text[], %(status_code)s::text[], %(charged)s::numeric[], %(paid)s::numeric[],
            %(patient_responsibility)s::numeric[], %(outcome)s::text[], %(reason)s::text[])
     WITH ORDINALITY AS c(invoice_id, batch_id, claim_number, payer_claim_number, member_id, status_code, charged,
                          paid, patient_responsibility, outcome, reason, n)
ORDER BY c.n
RETURNING id
"""

INSERT_ADJUSTMENTS_SQL = """
INSERT INTO billing_remittanceadjustment (claim_id, "group", reason_code, amount)
SELECT * FROM unnest(%(claim)s::bigint[], %(group)s::text[], %(reason)s::text[], %(amount)s::numeric[])
"""
