from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import PermissionDenied

from clinics import selectors, services
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


class PatientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", *services.PATIENT_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class PatientViewSet(
    ClinicScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Patients of the clinic you act for (your only clinic, or the one named by `X-Clinic`)."""

    serializer_class = PatientSerializer

    def get_queryset(self):
        return selectors.patient_list(clinic=self.clinic, query=self.request.query_params.get("q", ""))

    def perform_create(self, serializer):
        serializer.instance = services.patient_create(clinic=self.clinic, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.patient_update(patient=serializer.instance, **serializer.validated_data)


def register(router) -> None:
    router.register("patients", PatientViewSet, basename="patient")
