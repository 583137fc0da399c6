from django.contrib.auth import get_user_model
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from clinics import audit, selectors, services
from clinics.models import Patient
from clinics.tenancy import resolve_clinic


class ClinicScopedMixin:
    """Resolves the clinic after DRF authentication (token users are unknown to the middleware)."""

    @property
    def clinic(self):
        if getattr(self, "swagger_fake_view", False):
            return None  # schema generation: no request user, an empty queryset is enough
        if not hasattr(self, "_clinic"):
            request = self.request
            self._clinic = resolve_clinic(
                request.user,
                clinic_id=request.session.get("clinic_id") if hasattr(request, "session") else None,
                slug=request.headers.get("X-Clinic"),
            )
            if self._clinic is None:
                raise PermissionDenied("You are not on the staff of any clinic (or of the one in X-Clinic).")
        return self._clinic


class AuditedRetrieveMixin:
    """GET of one object carrying a patient's data leaves an access-audit row (clinics/audit.py), as the
    staff pages do. `audit_kind` names what it is; the object's patient is `patient_id` (or itself)."""

    audit_kind: str

    def retrieve(self, request, *args, **kwargs):
        obj = self.get_object()
        patient_id = obj.pk if self.audit_kind == audit.Kind.PATIENT else obj.patient_id
        audit.opened(request, kind=self.audit_kind, obj=obj, patient_id=patient_id)
        return Response(self.get_serializer(obj).data)


class PatientSerializer(serializers.ModelSerializer):
    practitioner = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.none(), allow_null=True, required=False
    )

    class Meta:
        model = Patient
        fields = ["id", *services.PATIENT_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"mobile": {"validators": [services.validate_mobile]}}  # in the staff form's words

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        clinic = self.context.get("clinic")
        if clinic is not None:  # any other id "does not exist", as another clinic's patient does not
            patient = self.instance if isinstance(self.instance, Patient) else None
            self.fields["practitioner"].queryset = selectors.practitioner_choices(clinic=clinic, patient=patient)


class PatientViewSet(
    AuditedRetrieveMixin,
    ClinicScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Patients of the clinic you act for (your only clinic, or the one named by `X-Clinic`)."""

    serializer_class = PatientSerializer
    audit_kind = audit.Kind.PATIENT

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False):
            context["clinic"] = self.clinic
        return context

    def get_queryset(self):
        return selectors.patient_list(clinic=self.clinic, query=self.request.query_params.get("q", ""))

    def perform_create(self, serializer):
        serializer.instance = services.patient_create(clinic=self.clinic, **serializer.validated_data)
        audit.patient_edited(self.request, patient=serializer.instance)

    def perform_update(self, serializer):
        serializer.instance = services.patient_update(patient=serializer.instance, **serializer.validated_data)
        audit.patient_edited(self.request, patient=serializer.instance)
        # the answer carries the whole record, as a GET's does: recorded the same way
        audit.opened(self.request, kind=audit.Kind.PATIENT, obj=serializer.instance, patient_id=serializer.instance.pk)


def register(router) -> None:
    router.register("patients", PatientViewSet, basename="patient")
