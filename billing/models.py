"""Billing: payers, invoices with their lines, and the batches that carry them to a payer.

Money is Decimal with two places everywhere (billing.money.to_money quantises). The patient's payer
member id lives on the invoice: a claim is a snapshot of the card shown for that visit, so a later
change of cover never rewrites an invoice already sent.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from clinics.models import Clinic, Patient

MONEY = {"max_digits": 12, "decimal_places": 2}


class Payer(models.Model):
    class Kind(models.TextChoices):
        INSURER = "insurer", "Insurer"
        HEALTH_FUND = "health_fund", "Health fund"
        SELF_PAY = "self_pay", "Self-pay"

    class ClaimFormat(models.TextChoices):
        CSV = "csv", "CSV"
        X12_837P = "x12_837p", "X12 837P (5010)"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="payers")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.INSURER)
    payer_identifier = models.CharField(
        max_length=40, help_text="The payer's id for claims (US payer id, fund code, or any id for self-pay)."
    )
    country = models.CharField(max_length=2, default="AU", help_text="ISO country code.")
    claim_format = models.CharField(max_length=20, choices=ClaimFormat.choices, default=ClaimFormat.CSV)
    requires_member_id = models.BooleanField(default=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "payer_identifier"], name="payer_identifier_unique_per_clinic")
        ]

    def __str__(self):
        return self.name


class BillingProvider(models.Model):
    """The clinic as a billing provider on claim files (name, NPI or provider number, tax id, address)."""

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="billing_provider")
    legal_name = models.CharField(max_length=60)
    npi = models.CharField("NPI / provider number", max_length=15, blank=True)
    tax_id = models.CharField(max_length=15, blank=True)
    address_line = models.CharField(max_length=55, blank=True)
    city = models.CharField(max_length=30, blank=True)
    state = models.CharField(max_length=2, blank=True)
    postal_code = models.CharField(max_length=15, blank=True)
    contact_name = models.CharField(max_length=60, blank=True)
    contact_phone = models.CharField(max_length=15, blank=True)
    x12_sender_id = models.CharField("X12 sender id", max_length=15, blank=True)
    currency = models.CharField(
        max_length=3, blank=True, help_text="ISO 4217 code of the clinic's money (empty: BILLING_DEFAULT_CURRENCY)."
    )

    def __str__(self):
        return self.legal_name


class ProviderNumber(models.Model):
    """A practitioner's provider number with one payer (for US 837P payers, the NPI): payers register the
    person who rendered the service, not only the clinic, and each payer keeps its own number."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="provider_numbers")
    practitioner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    payer = models.ForeignKey("Payer", on_delete=models.CASCADE, related_name="provider_numbers")
    number = models.CharField("provider number / NPI", max_length=20)

    class Meta:
        ordering = ["practitioner_id", "payer_id"]
        constraints = [
            models.UniqueConstraint(fields=["practitioner", "payer"], name="provider_number_per_practitioner_payer")
        ]

    def __str__(self):
        return self.number


class BillingCounter(models.Model):
    """Per-clinic sequences for invoice numbers and batch control numbers (row-locked on use)."""

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_invoice_number = models.PositiveIntegerField(default=0)
    last_control_number = models.PositiveIntegerField(default=0)


class Invoice(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        READY = "ready", "Ready"
        BATCHED = "batched", "Batched"
        SUBMITTED = "submitted", "Submitted"
        PARTIALLY_PAID = "partially_paid", "Partially paid"
        PAID = "paid", "Paid"
        DENIED = "denied", "Denied"
        VOID = "void", "Void"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(max_length=20)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="invoices")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="invoices")
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    member_id = models.CharField("payer member id", max_length=40, blank=True)
    diagnosis_code = models.CharField("diagnosis code (ICD-10)", max_length=10, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    total = models.DecimalField(**MONEY, default=0)
    paid_amount = models.DecimalField(**MONEY, default=0)
    last_service_date = models.DateField(null=True, blank=True)
    validation_errors = models.JSONField(default=list, blank=True)
    has_critical_errors = models.BooleanField(default=True)
    request_key = models.CharField(
        max_length=64, blank=True, editable=False, help_text="Idempotency key of the create form: one invoice per key."
    )
    # A manager's acceptance of a duplicate-claim error, with the reason recorded (also in the history).
    duplicate_override_reason = models.CharField(max_length=500, blank=True, editable=False)
    duplicate_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )
    duplicate_override_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "number"], name="invoice_number_unique_per_clinic"),
            models.UniqueConstraint(
                fields=["clinic", "request_key"],
                condition=~Q(request_key=""),
                name="invoice_request_key_unique_per_clinic",
            ),
        ]
        indexes = [
            # The ready pool, and what a batch build selects from.
            models.Index(
                fields=["clinic", "payer", "last_service_date"],
                name="invoice_ready_pool_idx",
                condition=Q(status="ready", has_critical_errors=False),
            ),
        ]

    def __str__(self):
        return self.number

    @property
    def critical_errors(self) -> list[dict]:
        return [e for e in self.validation_errors if e.get("critical")]

    @property
    def balance(self):
        return self.total - self.paid_amount


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    service_code = models.CharField(max_length=20)
    description = models.CharField(max_length=200)
    date_of_service = models.DateField()
    units = models.DecimalField(max_digits=7, decimal_places=2, default=1)
    amount = models.DecimalField(**MONEY, help_text="Line total.")

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"{self.service_code} {self.amount}"


class BillingBatch(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        BUILDING = "building", "Building"
        OPEN = "open", "Open"
        SUBMITTED = "submitted", "Submitted"
        PAID = "paid", "Paid"
        PARTIALLY_PAID = "partially_paid", "Partially paid"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="billing_batches")
    payer = models.ForeignKey(
        Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="batches", help_text="Empty: mixed."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    control_number = models.PositiveIntegerField(
        null=True, blank=True, help_text="Given when the batch builds: a request that never builds holds none."
    )
    request_key = models.CharField(max_length=64, help_text="Idempotency key: one batch per key per clinic.")
    cutoff_date = models.DateField(help_text="Only invoices whose services all fall on or before this date.")
    selection = models.JSONField(null=True, blank=True, help_text="Invoice ids to restrict the batch to.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_at = models.DateTimeField()
    build_started_at = models.DateTimeField(null=True, blank=True)
    built_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    invoice_count = models.PositiveIntegerField(default=0)
    line_count = models.PositiveIntegerField(default=0)
    total_amount = models.DecimalField(**MONEY, default=0)
    paid_amount = models.DecimalField(**MONEY, default=0)
    error = models.TextField(blank=True)
    reconciled_at = models.DateTimeField(
        null=True, blank=True, help_text="When a remittance answered the last of its claims (paid, in part or denied)."
    )

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "billing batches"
        constraints = [
            models.UniqueConstraint(fields=["clinic", "control_number"], name="batch_control_unique_per_clinic"),
            models.UniqueConstraint(fields=["clinic", "request_key"], name="batch_request_key_unique_per_clinic"),
        ]
        indexes = [
            models.Index(
                fields=["requested_at", "id"],
                name="batch_waiting_idx",
                condition=Q(status__in=["requested", "building"]),
            ),
        ]

    def __str__(self):
        if self.control_number is None:
            return f"Batch request {self.pk}"
        return f"Batch {self.control_number:09d}"

    @property
    def is_mixed(self) -> bool:
        return self.payer_id is None


class BatchItem(models.Model):
    """An invoice in a batch. `active` turns false when the invoice is removed or the batch cancelled."""

    batch = models.ForeignKey(BillingBatch, on_delete=models.CASCADE, related_name="items")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="batch_items")
    active = models.BooleanField(default=True)
    amount = models.DecimalField(**MONEY)
    paid_amount = models.DecimalField(**MONEY, default=0)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # The rule the whole lifecycle leans on: an invoice is in at most one batch not cancelled.
            models.UniqueConstraint(fields=["invoice"], condition=Q(active=True), name="invoice_in_one_active_batch"),
        ]
        indexes = [models.Index(fields=["batch", "active"], name="batchitem_batch_active_idx")]

    def __str__(self):
        return f"{self.batch} / {self.invoice}"


class BatchHistory(models.Model):
    batch = models.ForeignKey(BillingBatch, on_delete=models.CASCADE, related_name="history")
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "batch history"

    def __str__(self):
        return f"{self.from_status or '-'} → {self.to_status}"


class InvoiceHistory(models.Model):
    """Append-only log of an invoice's moves. A batch build writes thousands of rows in one statement;
    without FK constraints (the rows it points to are never deleted) that costs little, with them the
    build took about three times as long."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="history", db_constraint=False)
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    batch = models.ForeignKey(
        BillingBatch,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "invoice history"

    def __str__(self):
        return f"{self.from_status or '-'} → {self.to_status}"


class Remittance(models.Model):
    """A payer's remittance advice as imported: an X12 835 (ERA) file or, for payers without one, a CSV.

    Importing the same file twice changes nothing: its SHA-256 is unique per clinic (and so is the payment's
    trace number, TRN02), so a second import, even racing the first, finds the first and posts nothing.
    """

    class Format(models.TextChoices):
        X12_835 = "x12_835", "X12 835 (ERA)"
        CSV = "csv", "CSV"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="remittances")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="remittances")
    format = models.CharField(max_length=10, choices=Format.choices)
    file_name = models.CharField(max_length=200, blank=True)
    file_sha256 = models.CharField(max_length=64)
    trace_number = models.CharField("payment trace number", max_length=50, blank=True)
    payment_amount = models.DecimalField(**MONEY, default=0)
    paid_on = models.DateField(null=True, blank=True)
    payer_name = models.CharField(max_length=120, blank=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    imported_at = models.DateTimeField()
    claim_count = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(default=0)
    unmatched_count = models.PositiveIntegerField(default=0)
    posted_amount = models.DecimalField(**MONEY, default=0)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["clinic", "file_sha256"], name="remittance_file_once_per_clinic"),
            models.UniqueConstraint(
                fields=["clinic", "trace_number"],
                condition=~Q(trace_number=""),
                name="remittance_trace_once_per_clinic",
            ),
        ]

    def __str__(self):
        return f"Remittance {self.trace_number or self.pk}"


class RemittanceClaim(models.Model):
    """One claim payment of a remittance: matched to a batched invoice (and posted), or left for a person."""

    class Outcome(models.TextChoices):
        PAID = "paid", "Paid"
        PARTIALLY_PAID = "partially_paid", "Partially paid"
        DENIED = "denied", "Denied"
        UNMATCHED = "unmatched", "Did not match"

    remittance = models.ForeignKey(Remittance, on_delete=models.CASCADE, related_name="claims")
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="remittances")
    batch = models.ForeignKey(BillingBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    claim_number = models.CharField("claim control number (CLP01)", max_length=40)
    payer_claim_number = models.CharField(max_length=50, blank=True)
    member_id = models.CharField(max_length=80, blank=True)
    status_code = models.CharField(max_length=3, blank=True)
    charged = models.DecimalField(**MONEY, default=0)
    paid = models.DecimalField(**MONEY, default=0)
    patient_responsibility = models.DecimalField(**MONEY, default=0)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=300, blank=True, help_text="Why it did not match.")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolution = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["clinic", "id"],
                name="remittance_unresolved_idx",
                condition=Q(outcome="unmatched", resolved_at=None),
            ),
        ]

    def __str__(self):
        return self.claim_number


class RemittanceAdjustment(models.Model):
    """A CAS adjustment: group (CO contractual, PR patient responsibility, OA other, PI payer initiated, CR
    correction), its CARC reason code and amount. The words for the code are in billing.carc."""

    claim = models.ForeignKey(RemittanceClaim, on_delete=models.CASCADE, related_name="adjustments")
    group = models.CharField(max_length=2)
    reason_code = models.CharField(max_length=5)
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["id"]
