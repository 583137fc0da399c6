"""/api/v2/: Atlassian Statuspage's public API v2, served from cache. Public, no login.

The serializers only describe the documents for the OpenAPI schema; the bodies are built by
statuspage/v2.py and cached as bytes per page generation.
"""

import json

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from statuspage import cache, states, v2

COMPONENT_STATUSES = states.COMPONENT_STATUS_CHOICES
INCIDENT_STATUSES = states.ALL_INCIDENT_STATUS_CHOICES


class PageSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    url = serializers.URLField()
    time_zone = serializers.CharField()
    updated_at = serializers.DateTimeField()


class StatusSerializer(serializers.Serializer):
    indicator = serializers.ChoiceField(choices=states.INDICATOR_CHOICES)
    description = serializers.CharField()


class ComponentSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=COMPONENT_STATUSES)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    position = serializers.IntegerField()
    description = serializers.CharField(allow_null=True)
    showcase = serializers.BooleanField()
    start_date = serializers.DateField(allow_null=True)
    group_id = serializers.CharField(allow_null=True)
    page_id = serializers.CharField()
    group = serializers.BooleanField()
    only_show_if_degraded = serializers.BooleanField()
    components = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Only on groups: the ids of their components."
    )


class AffectedComponentSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    old_status = serializers.ChoiceField(choices=COMPONENT_STATUSES)
    new_status = serializers.ChoiceField(choices=COMPONENT_STATUSES)


class IncidentUpdateSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=INCIDENT_STATUSES)
    body = serializers.CharField(help_text="Markdown.")
    incident_id = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    display_at = serializers.DateTimeField()
    affected_components = AffectedComponentSerializer(many=True, allow_null=True)
    deliver_notifications = serializers.BooleanField()
    custom_tweet = serializers.CharField(allow_null=True)
    tweet_id = serializers.CharField(allow_null=True)


class IncidentSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=states.INCIDENT_STATUS_CHOICES)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    monitoring_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    impact = serializers.ChoiceField(choices=states.IMPACT_CHOICES)
    shortlink = serializers.URLField()
    started_at = serializers.DateTimeField()
    page_id = serializers.CharField()
    incident_updates = IncidentUpdateSerializer(many=True)
    components = ComponentSerializer(many=True)


class ScheduledMaintenanceSerializer(IncidentSerializer):
    status = serializers.ChoiceField(choices=states.MAINTENANCE_STATUS_CHOICES)
    reminder_intervals = serializers.CharField(
        help_text='Hours before the start when subscribers are reminded, as Statuspage writes it: "[1]".'
    )
    scheduled_for = serializers.DateTimeField()
    scheduled_until = serializers.DateTimeField()


class StatusDocument(serializers.Serializer):
    page = PageSerializer()
    status = StatusSerializer()


class ComponentsDocument(serializers.Serializer):
    page = PageSerializer()
    components = ComponentSerializer(many=True)


class IncidentsDocument(serializers.Serializer):
    page = PageSerializer()
    incidents = IncidentSerializer(many=True)


class MaintenancesDocument(serializers.Serializer):
    page = PageSerializer()
    scheduled_maintenances = ScheduledMaintenanceSerializer(many=True)


class SummaryDocument(serializers.Serializer):
    page = PageSerializer()
    components = ComponentSerializer(many=True)
    incidents = IncidentSerializer(many=True)
    scheduled_maintenances = ScheduledMaintenanceSerializer(many=True)
    status = StatusSerializer()


def cached_json(name: str, request=None) -> HttpResponse:
    body = cache.get_or_build(f"v2:{name}", lambda: json.dumps(v2.document(name), separators=(",", ":")).encode())
    return cache.response(body, "json", request)


class AlwaysJSON(BaseContentNegotiation):
    """Statuspage's documents are JSON whatever the Accept header says: one answer per URL, cached or not."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def endpoint(name: str, document, summary: str):
    @extend_schema(
        operation_id=f"status_v2_{name.replace('/', '_').replace('-', '_')}",
        summary=summary,
        responses=document,
        tags=["status page (Statuspage API v2)"],
        auth=[],
    )
    def get(self, request):
        return cached_json(name, request)

    def options(self, request, *args, **kwargs):
        return cache.preflight(request)

    return type(
        f"V2{name.title().replace('/', '').replace('-', '')}View",
        (APIView,),
        {
            "get": get,
            "options": extend_schema(exclude=True)(options),
            "authentication_classes": [],
            "permission_classes": [AllowAny],
            "renderer_classes": [JSONRenderer],
            "content_negotiation_class": AlwaysJSON,
            "__doc__": summary,
        },
    )


SummaryView = endpoint("summary", SummaryDocument, "Page, status, components, unresolved incidents, maintenances")
StatusView = endpoint("status", StatusDocument, "The page's overall status indicator")
ComponentsView = endpoint("components", ComponentsDocument, "Every component and group")
IncidentsView = endpoint("incidents", IncidentsDocument, "The 50 most recent incidents")
UnresolvedView = endpoint("incidents/unresolved", IncidentsDocument, "Incidents not yet resolved")
MaintenancesView = endpoint("scheduled-maintenances", MaintenancesDocument, "The 50 most recent maintenances")
UpcomingView = endpoint("scheduled-maintenances/upcoming", MaintenancesDocument, "Maintenances still scheduled")
ActiveView = endpoint("scheduled-maintenances/active", MaintenancesDocument, "Maintenances in progress")
