"""/api/v2/: the Statuspage-compatible public API (mounted by kalix_site/urls.py)."""

from django.urls import path

from statuspage import api

urlpatterns = [
    path("summary.json", api.SummaryView.as_view(), name="statuspage-v2-summary"),
    path("status.json", api.StatusView.as_view(), name="statuspage-v2-status"),
    path("components.json", api.ComponentsView.as_view(), name="statuspage-v2-components"),
    path("incidents.json", api.IncidentsView.as_view(), name="statuspage-v2-incidents"),
    path("incidents/unresolved.json", api.UnresolvedView.as_view(), name="statuspage-v2-unresolved"),
    path("scheduled-maintenances.json", api.MaintenancesView.as_view(), name="statuspage-v2-maintenances"),
    path(
        "scheduled-maintenances/upcoming.json", api.UpcomingView.as_view(), name="statuspage-v2-maintenances-upcoming"
    ),
    path("scheduled-maintenances/active.json", api.ActiveView.as_view(), name="statuspage-v2-maintenances-active"),
]
