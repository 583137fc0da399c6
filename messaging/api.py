"""/api/v1/messages: send (honouring Idempotency-Key), list, and detail with the event timeline."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from clinics import audit
from clinics.api import AuditedRetrieveMixin, ClinicScopedMixin
from clinics.models import Patient
from messaging import selectors, services
from messaging.models import Channel, DeliveryEvent, Message, Status


class DeliveryEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryEvent
        fields = ["kind", "occurred_at", "received_at", "source", "detail"]
        read_only_fields = fields


MESSAGE_FIELDS = [
    "id",
    "patient",
    "channel",
    "recipient",
    "subject",
    "body",
    "segments",
    "status",
    "status_detail",
    "status_at",
    "created_at",
    "retry_of",
]


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = MESSAGE_FIELDS
        read_only_fields = MESSAGE_FIELDS


class MessageDetailSerializer(serializers.ModelSerializer):
    events = DeliveryEventSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = [*MESSAGE_FIELDS, "events"]
        read_only_fields = fields


class MessageCreateSerializer(serializers.Serializer):
    patient = serializers.IntegerField(required=False, help_text="A patient of your clinic; or give `recipient`.")
    channel = serializers.ChoiceField(choices=Channel.choices)
    recipient = serializers.CharField(required=False, allow_blank=True, max_length=254)
    subject = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    body = serializers.CharField(required=False, allow_blank=True, default="")
    attachment = serializers.FileField(required=False, help_text="The PDF for a fax (multipart upload).")
    send_despite_bounce = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Send even though the address hard-bounced (the 400 without it says when and why).",
    )


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Repeat a POST with the same key (per clinic) to get the first message back instead of a new one.",
)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("q", OpenApiTypes.STR, description="Search patient name, recipient and subject."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=Status.values),
            OpenApiParameter("channel", OpenApiTypes.STR, enum=Channel.values),
            OpenApiParameter("date_from", OpenApiTypes.DATE),
            OpenApiParameter("date_to", OpenApiTypes.DATE),
        ]
    ),
    create=extend_schema(
        parameters=[IDEMPOTENCY_KEY],
        request={"application/json": MessageCreateSerializer, "multipart/form-data": MessageCreateSerializer},
        responses={
            201: MessageDetailSerializer,
            200: OpenApiResponse(MessageDetailSerializer, description="Replay of an earlier Idempotency-Key"),
        },
    ),
)
class MessageViewSet(
    AuditedRetrieveMixin, ClinicScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Messages of the clinic you act for. Status is derived from the delivery events."""

    audit_kind = audit.Kind.MESSAGE

    def get_serializer_class(self):
        if self.action == "create":
            return MessageCreateSerializer
        return MessageDetailSerializer if self.action == "retrieve" else MessageSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Message.objects.none()
        params = self.request.query_params
        dates = {}
        for name in ("date_from", "date_to"):
            if params.get(name):
                try:
                    dates[name] = serializers.DateField().to_internal_value(params[name])
                except serializers.ValidationError as exc:
                    raise ValidationError({name: exc.detail}) from None
        queryset = selectors.message_list(
            clinic=self.clinic,
            query=params.get("q", ""),
            status=params.get("status", ""),
            channel=params.get("channel", ""),
            **dates,
        )
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("events")
        return queryset

    def create(self, request, *args, **kwargs):
        data = MessageCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        patient = None
        if "patient" in fields:
            patient = Patient.objects.filter(clinic=self.clinic, pk=fields.pop("patient")).first()
            if patient is None:
                raise ValidationError({"patient": "No such patient in this clinic."})
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 100:
            raise ValidationError({"Idempotency-Key": "At most 100 characters."})
        # A refusal is a Django ValidationError: the API's exception handler answers it 400 with its fields.
        message, created = services.message_send_or_replay(
            clinic=self.clinic, patient=patient, created_by=request.user, idempotency_key=key, **fields
        )
        body = MessageDetailSerializer(message).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def register(router) -> None:
    router.register("messages", MessageViewSet, basename="message")
