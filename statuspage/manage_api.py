"""The write API for support tooling, shaped like Atlassian Statuspage's manage API (v1).

`/api/v1/pages/<page_id>/incidents` and friends: monitoring tools and chat bots open incidents, post,
correct and delete updates, backfill past incidents with their whole timeline, and set component
statuses. Token authentication (DRF's TokenAuthentication: `Authorization: Token <key>`), and the
Support group's model permissions for each write. Bodies wrap the object as Statuspage's do
({"incident": {...}}, {"incident_update": {...}}, {"component": {...}}); answers are the public API's
incident object (statuspage/v2.py) plus `backfilled` and `draft`. Every write goes through
statuspage/services.py, so the rules are the admin's: time order, no future start, backfills never
notify and never change current statuses.
"""

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from statuspage import selectors, services, states, v2
from statuspage.api import ComponentSerializer, IncidentSerializer
from statuspage.models import Component, Incident, IncidentUpdate

TAGS = ["status page (manage API, Statuspage v1 shape)"]


class SupportPermission(BasePermission):
    """The Support group's model permissions, per view and method (`required_perms`)."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        perms = view.required_perms.get(request.method, ())
        return user.has_perms(perms)


class ManageView(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [SupportPermission]
    required_perms: dict = {}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if kwargs.get("page_id") != settings.STATUSPAGE_PAGE_ID:
            raise Http404("No such page.")


# --- Bodies -------------------------------------------------------------------------------------------

ComponentStatuses = serializers.DictField(
    child=serializers.ChoiceField(choices=states.COMPONENT_STATUS_CHOICES),
    required=False,
    help_text='{component id: new status}, e.g. {"3": "partial_outage"}.',
)


class TimelineUpdateInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=states.INCIDENT_STATUS_CHOICES)
    body = serializers.CharField()
    display_at = serializers.DateTimeField(help_text="When it happened (not in the future).")
    components = ComponentStatuses


class IncidentCreateFields(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    status = serializers.ChoiceField(choices=states.INCIDENT_STATUS_CHOICES, required=False)
    impact_override = serializers.ChoiceField(choices=states.INCIDENT_IMPACT_CHOICES, required=False)
    impact = serializers.ChoiceField(choices=states.INCIDENT_IMPACT_CHOICES, required=False, help_text="Alias.")
    body = serializers.CharField(required=False)
    components = ComponentStatuses
    deliver_notifications = serializers.BooleanField(default=True)
    backfilled = serializers.BooleanField(default=False, help_text="A past incident: published resolved.")
    backfill_date = serializers.DateTimeField(
        required=False, help_text="Backfill with one update: when it happened (Statuspage's field)."
    )
    started_at = serializers.DateTimeField(required=False, help_text="When it started (not in the future).")
    incident_updates = TimelineUpdateInput(
        many=True, required=False, help_text="Backfill: every update in time order, each with its own time."
    )

    def validate(self, data):
        if data.get("incident_updates") and not data["backfilled"]:
            raise serializers.ValidationError({"incident_updates": "Only a backfilled incident takes a timeline."})
        if not data.get("incident_updates"):
            for field in ("status", "body"):
                if not data.get(field):
                    raise serializers.ValidationError({field: "This field is required."})
        return data


class IncidentCreateInput(serializers.Serializer):
    incident = IncidentCreateFields()


class IncidentPatchFields(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    impact_override = serializers.ChoiceField(choices=states.INCIDENT_IMPACT_CHOICES, required=False)
    started_at = serializers.DateTimeField(required=False)
    status = serializers.ChoiceField(choices=states.ALL_INCIDENT_STATUS_CHOICES, required=False)
    body = serializers.CharField(required=False, help_text="With `status`: posts a new update.")
    display_at = serializers.DateTimeField(required=False, help_text="The new update's time (default now).")
    components = ComponentStatuses
    deliver_notifications = serializers.BooleanField(default=True)


class IncidentPatchInput(serializers.Serializer):
    incident = IncidentPatchFields()


class UpdateFields(serializers.Serializer):
    status = serializers.ChoiceField(choices=states.ALL_INCIDENT_STATUS_CHOICES, required=False)
    body = serializers.CharField(required=False)
    display_at = serializers.DateTimeField(required=False)
    components = ComponentStatuses
    deliver_notifications = serializers.BooleanField(default=True)


class UpdateInput(serializers.Serializer):
    incident_update = UpdateFields()


class ComponentFields(serializers.Serializer):
    status = serializers.ChoiceField(choices=[c for c in states.COMPONENT_STATUS_CHOICES if c[0] in states.SEVERITY])


class ComponentInput(serializers.Serializer):
    component = ComponentFields()


class ManagedIncidentSerializer(IncidentSerializer):
    status = serializers.ChoiceField(choices=states.ALL_INCIDENT_STATUS_CHOICES)
    backfilled = serializers.BooleanField()
    draft = serializers.BooleanField()


def _components(statuses: dict | None) -> dict[Component, str]:
    if not statuses:
        return {}
    wanted = {}
    for key, value in statuses.items():
        if not str(key).isdigit():
            raise serializers.ValidationError({"components": f"Unknown component {key!r}."})
        wanted[int(key)] = value
    found = {c.pk: c for c in Component.objects.filter(pk__in=wanted)}
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise serializers.ValidationError({"components": f"Unknown components: {missing}."})
    return {found[pk]: value for pk, value in wanted.items()}


def _incident(pk: int) -> Incident:
    incident = selectors.managed_incident(pk)
    if incident is None:
        raise Http404("No such incident.")
    return incident


def _answer(pk: int, code=status.HTTP_200_OK) -> Response:
    incident = _incident(pk)
    body = v2.incident_object(incident)
    body.update(backfilled=incident.is_backfill, draft=incident.is_draft)
    return Response(body, status=code)


def _valid(serializer_class, request):
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


# --- Views --------------------------------------------------------------------------------------------


class IncidentsView(ManageView):
    required_perms = {"POST": ["statuspage.add_plainincident", "statuspage.add_incidentupdate"]}

    @extend_schema(
        operation_id="statuspage_manage_incident_create",
        summary="Create an incident (or backfill a past one with its whole timeline)",
        request=IncidentCreateInput,
        responses={201: ManagedIncidentSerializer},
        tags=TAGS,
    )
    def post(self, request, page_id):
        data = _valid(IncidentCreateInput, request)["incident"]
        impact = data.get("impact_override") or data.get("impact") or states.IMPACT_MINOR
        if data["backfilled"]:
            updates = data.get("incident_updates") or [
                {
                    "status": data.get("status") or states.RESOLVED,
                    "body": data["body"],
                    "display_at": data.get("backfill_date") or data.get("started_at"),
                    "components": data.get("components"),
                }
            ]
            if any(u["display_at"] is None for u in updates):
                raise serializers.ValidationError({"backfill_date": "A backfilled incident needs its time."})
            timeline = [{**u, "components": _components(u.get("components"))} for u in updates]
            incident = services.incident_backfill(name=data["name"], impact=impact, updates=timeline, by=request.user)
        else:
            incident = services.incident_open(
                name=data["name"],
                status=data["status"],
                body=data["body"],
                impact=impact,
                components=_components(data.get("components")),
                notify_subscribers=data["deliver_notifications"],
                started_at=data.get("started_at"),
                by=request.user,
            )
        return _answer(incident.pk, status.HTTP_201_CREATED)


class IncidentView(ManageView):
    required_perms = {
        "GET": ["statuspage.view_incident"],
        "PATCH": ["statuspage.change_incident", "statuspage.add_incidentupdate"],
        "DELETE": ["statuspage.delete_plainincident"],
    }

    @extend_schema(
        operation_id="statuspage_manage_incident_get",
        summary="One incident, drafts included",
        responses=ManagedIncidentSerializer,
        tags=TAGS,
    )
    def get(self, request, page_id, pk):
        return _answer(pk)

    @extend_schema(
        operation_id="statuspage_manage_incident_update",
        summary="Edit an incident; with status and body, post an update (as Statuspage does)",
        request=IncidentPatchInput,
        responses=ManagedIncidentSerializer,
        tags=TAGS,
    )
    def patch(self, request, page_id, pk):
        incident = _incident(pk)
        data = _valid(IncidentPatchInput, request)["incident"]
        if {"name", "impact_override", "started_at"} & data.keys():
            services.incident_edit(
                incident=incident,
                name=data.get("name", incident.name),
                impact=data.get("impact_override", incident.impact),
                postmortem_body=incident.postmortem_body,
                started_at=data.get("started_at"),
                by=request.user,
            )
        if "status" in data or "body" in data:
            services.incident_post_update(
                incident=incident,
                status=data.get("status", incident.status),
                body=data.get("body", ""),
                components=_components(data.get("components")),
                notify_subscribers=data["deliver_notifications"],
                display_at=data.get("display_at"),
                by=request.user,
            )
        return _answer(pk)

    @extend_schema(
        operation_id="statuspage_manage_incident_delete", summary="Delete an incident", responses={204: None}, tags=TAGS
    )
    def delete(self, request, page_id, pk):
        services.incident_delete(incident=_incident(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PublishView(ManageView):
    required_perms = {"POST": ["statuspage.change_incident"]}

    @extend_schema(
        operation_id="statuspage_manage_incident_publish",
        summary="Publish a backfilled draft (it must be resolved)",
        request=None,
        responses=ManagedIncidentSerializer,
        tags=TAGS,
    )
    def post(self, request, page_id, pk):
        services.incident_publish(incident=_incident(pk), by=request.user)
        return _answer(pk)


class IncidentUpdatesView(ManageView):
    required_perms = {"POST": ["statuspage.add_incidentupdate"]}

    @extend_schema(
        operation_id="statuspage_manage_incident_update_create",
        summary="Post an update to an incident",
        request=UpdateInput,
        responses={201: ManagedIncidentSerializer},
        tags=TAGS,
    )
    def post(self, request, page_id, pk):
        incident = _incident(pk)
        data = _valid(UpdateInput, request)["incident_update"]
        services.incident_post_update(
            incident=incident,
            status=data.get("status", incident.status),
            body=data.get("body", ""),
            components=_components(data.get("components")),
            notify_subscribers=data["deliver_notifications"],
            display_at=data.get("display_at"),
            by=request.user,
        )
        return _answer(pk, status.HTTP_201_CREATED)


class IncidentUpdateView(ManageView):
    required_perms = {
        "PATCH": ["statuspage.change_incidentupdate"],
        "DELETE": ["statuspage.delete_incidentupdate"],
    }

    def _update(self, pk, update_pk) -> IncidentUpdate:
        update = selectors.managed_update(pk, update_pk)
        if update is None:
            raise Http404("No such update.")
        return update

    @extend_schema(
        operation_id="statuspage_manage_incident_update_edit",
        summary="Correct a posted update (status, body, time); audited",
        request=UpdateInput,
        responses=ManagedIncidentSerializer,
        tags=TAGS,
    )
    def patch(self, request, page_id, pk, update_pk):
        data = _valid(UpdateInput, request)["incident_update"]
        services.incident_update_edit(
            update=self._update(pk, update_pk),
            status=data.get("status"),
            body=data.get("body"),
            display_at=data.get("display_at"),
            by=request.user,
        )
        return _answer(pk)

    @extend_schema(
        operation_id="statuspage_manage_incident_update_delete",
        summary="Delete a posted update; audited",
        responses=ManagedIncidentSerializer,
        tags=TAGS,
    )
    def delete(self, request, page_id, pk, update_pk):
        services.incident_update_delete(update=self._update(pk, update_pk), by=request.user)
        return _answer(pk)


class ComponentView(ManageView):
    required_perms = {"PATCH": ["statuspage.change_component"]}

    @extend_schema(
        operation_id="statuspage_manage_component_update",
        summary="Set a component's status",
        request=ComponentInput,
        responses=ComponentSerializer,
        tags=TAGS,
    )
    def patch(self, request, page_id, pk):
        component = selectors.component(pk)
        if component is None:
            raise Http404("No such component.")
        data = _valid(ComponentInput, request)["component"]
        component = services.component_status_write(
            component=component, base_status=data["status"], source="manual", reason="Manage API", by=request.user
        )
        return Response(v2.component_object(component))
