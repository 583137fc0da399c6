"""/api/v1/ billing endpoints: payers, invoices (with lines) and batches, scoped to the caller's clinic.

A service's Django ValidationError is left to the API's exception handler (kalix_site/errors.py): 400 with
its field errors."""

from decimal import Decimal

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from billing import batches, exports, selectors, services
from billing.lifecycle import InvalidTransition
from billing.models import BillingBatch, Invoice, InvoiceLine, Payer
from clinics import audit
from clinics import selectors as clinic_selectors
from clinics.api import AuditedRetrieveMixin, ClinicScopedMixin
from clinics.models import Patient


class ClinicScopedSerializer(serializers.ModelSerializer):
    """Related fields only offer the current clinic's rows: another clinic's id is a field error."""

    scoped = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        clinic = self.context.get("clinic")
        for name, queryset in self.scoped_querysets(clinic).items():
            if name in self.fields:
                self.fields[name].queryset = queryset

    def scoped_querysets(self, clinic) -> dict:
        return {}


class PayerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payer
        fields = ["id", "name", "kind", "payer_identifier", "country", "claim_format", "requires_member_id", "active"]


class InvoiceLineSerializer(serializers.ModelSerializer):
    units = serializers.DecimalField(max_digits=7, decimal_places=2, min_value=Decimal("0.01"), required=False)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)

    class Meta:
        model = InvoiceLine
        fields = ["service_code", "description", "date_of_service", "units", "amount"]


class InvoiceSerializer(ClinicScopedSerializer):
    lines = InvoiceLineSerializer(many=True)
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.none())
    payer = serializers.PrimaryKeyRelatedField(queryset=Payer.objects.none(), allow_null=True, required=False)
    practitioner = serializers.PrimaryKeyRelatedField(
        queryset=Invoice.practitioner.field.related_model.objects.none(), allow_null=True, required=False
    )

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "patient",
            "payer",
            "practitioner",
            "member_id",
            "diagnosis_code",
            "status",
            "total",
            "paid_amount",
            "validation_errors",
            "has_critical_errors",
            "lines",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "number",
            "status",
            "total",
            "paid_amount",
            "validation_errors",
            "has_critical_errors",
            "created_at",
            "updated_at",
        ]

    def scoped_querysets(self, clinic) -> dict:
        if clinic is None:
            return {}
        return {
            "patient": Patient.objects.filter(clinic=clinic),
            "payer": selectors.payer_list(clinic=clinic),
            "practitioner": clinic_selectors.practitioner_list(clinic=clinic),
        }


class InvoiceStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["draft", "ready", "void"])


class BatchSerializer(ClinicScopedSerializer):
    payer = serializers.PrimaryKeyRelatedField(queryset=Payer.objects.none(), allow_null=True, required=False)
    selection = serializers.ListField(child=serializers.IntegerField(), required=False, allow_null=True)
    request_key = serializers.CharField(max_length=64, required=False)
    queue_position = serializers.SerializerMethodField()
    waiting_s = serializers.SerializerMethodField()

    class Meta:
        model = BillingBatch
        fields = [
            "id",
            "payer",
            "status",
            "control_number",
            "request_key",
            "cutoff_date",
            "selection",
            "requested_at",
            "build_started_at",
            "built_at",
            "submitted_at",
            "invoice_count",
            "line_count",
            "total_amount",
            "paid_amount",
            "error",
            "queue_position",
            "waiting_s",
        ]
        read_only_fields = [f for f in fields if f not in ("payer", "cutoff_date", "selection", "request_key")]

    def scoped_querysets(self, clinic) -> dict:
        return {"payer": selectors.payer_list(clinic=clinic)} if clinic else {}

    def get_queue_position(self, batch) -> int | None:
        waiting = batches.queue_position(batch)
        return waiting[0] if waiting else None

    def get_waiting_s(self, batch) -> float | None:
        waiting = batches.queue_position(batch)
        return round(waiting[1], 1) if waiting else None


class BatchInvoiceSerializer(serializers.Serializer):
    invoice = serializers.IntegerField()


class PaymentSerializer(BatchInvoiceSerializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))


class BillingViewSet(ClinicScopedMixin, viewsets.GenericViewSet):
    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["clinic"] = self.clinic
        return context


class PayerViewSet(BillingViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Payers of your clinic (managed in admin)."""

    serializer_class = PayerSerializer

    def get_queryset(self):
        return selectors.payer_list(clinic=self.clinic, active_only=False) if self.clinic else Payer.objects.none()


class InvoiceViewSet(
    AuditedRetrieveMixin,
    BillingViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
):
    """Invoices with their lines. Saving recomputes the total and the validation errors."""

    serializer_class = InvoiceSerializer
    audit_kind = audit.Kind.CLAIM

    def get_queryset(self):
        if self.clinic is None:
            return Invoice.objects.none()
        invoices = selectors.invoice_list(clinic=self.clinic, status=self.request.query_params.get("status", ""))
        return invoices.prefetch_related("lines")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        lines = data.pop("lines")
        serializer.instance = services.invoice_create(clinic=self.clinic, lines=lines, by=self.request.user, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        lines = data.pop("lines", None)
        serializer.instance = services.invoice_update(invoice=serializer.instance, lines=lines, **data)

    @extend_schema(request=InvoiceStatusSerializer, responses=InvoiceSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None, format=None):
        """Mark an invoice ready, back to draft, or void."""
        invoice = self.get_object()
        payload = InvoiceStatusSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            invoice = services.invoice_set_status(
                invoice=invoice, status=payload.validated_data["status"], by=request.user
            )
        except InvalidTransition as exc:
            raise ValidationError({"status": str(exc)}) from None
        return Response(InvoiceSerializer(invoice, context=self.get_serializer_context()).data)


class BatchViewSet(BillingViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin):
    """Billing batches. POST records a request that the live lane builds; the same request_key (or
    Idempotency-Key header) always returns the same batch (201 the first time, 200 after)."""

    serializer_class = BatchSerializer

    def get_queryset(self):
        if self.clinic is None:
            return BillingBatch.objects.none()
        return selectors.batch_list(clinic=self.clinic, status=self.request.query_params.get("status", ""))

    @extend_schema(
        parameters=[OpenApiParameter("Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)]
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        batch, created = batches.batch_request(
            clinic=self.clinic,
            requested_by=request.user,
            payer=data.get("payer"),
            cutoff_date=data["cutoff_date"],
            selection=data.get("selection"),
            request_key=data.get("request_key") or request.headers.get("Idempotency-Key"),
        )
        body = self.get_serializer(batch).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def _act(self, service, *, batch=None, **kwargs):
        batch = batch or self.get_object()
        try:
            batch = service(batch=batch, by=self.request.user, **kwargs)
        except InvalidTransition as exc:
            raise ValidationError({"status": str(exc)}) from None
        batch.refresh_from_db()
        return Response(self.get_serializer(batch).data)

    def _invoice(self, payload) -> Invoice:
        payload.is_valid(raise_exception=True)
        invoice = Invoice.objects.filter(clinic=self.clinic, pk=payload.validated_data["invoice"]).first()
        if invoice is None:
            raise ValidationError({"invoice": "No such invoice in this clinic."})
        return invoice

    @extend_schema(request=None, responses=BatchSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None, format=None):
        return self._act(batches.batch_cancel)

    @extend_schema(request=None, responses=BatchSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None, format=None):
        return self._act(batches.batch_mark_submitted)

    @extend_schema(request=None, responses=BatchSerializer)
    @action(detail=True, methods=["post"])
    def rebuild(self, request, pk=None, format=None):
        return self._act(batches.batch_rebuild)

    @extend_schema(request=BatchInvoiceSerializer, responses=BatchSerializer)
    @action(detail=True, methods=["post"], url_path="remove-invoice")
    def remove_invoice(self, request, pk=None, format=None):
        batch = self.get_object()  # another clinic's batch is 404 whatever the body says
        invoice = self._invoice(BatchInvoiceSerializer(data=request.data))
        return self._act(batches.batch_remove_invoice, batch=batch, invoice=invoice)

    @extend_schema(request=PaymentSerializer, responses=BatchSerializer)
    @action(detail=True, methods=["post"])
    def payments(self, request, pk=None, format=None):
        batch = self.get_object()  # another clinic's batch is 404 whatever the body says
        payload = PaymentSerializer(data=request.data)
        invoice = self._invoice(payload)
        return self._act(
            batches.batch_record_payment, batch=batch, invoice=invoice, amount=payload.validated_data["amount"]
        )

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], url_path="csv")
    def export_csv(self, request, pk=None, format=None):
        batch = self.get_object()
        if not exports.exportable(batch):
            return Response({"detail": "This batch has nothing to export."}, status=status.HTTP_409_CONFLICT)
        response = HttpResponse(exports.batch_csv(batch), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{exports.export_filename(batch, "csv")}"'
        audit.exported(request, kind=audit.Kind.CLAIMS, obj=batch, patient_ids=selectors.batch_patient_ids(batch=batch))
        return response


def register(router) -> None:
    """Register this app's viewsets under /api/v1/."""
    router.register("billing/payers", PayerViewSet, basename="billing-payer")
    router.register("billing/invoices", InvoiceViewSet, basename="billing-invoice")
    router.register("billing/batches", BatchViewSet, basename="billing-batch")
