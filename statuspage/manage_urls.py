"""/api/v1/pages/<page_id>/: the write API for support tooling (statuspage/manage_api.py), mounted by
kalix_site/urls.py ahead of the /api/v1/ router."""

from django.urls import path

from statuspage import manage_api

urlpatterns = [
    path("incidents", manage_api.IncidentsView.as_view(), name="statuspage-manage-incidents"),
    path("incidents/<int:pk>", manage_api.IncidentView.as_view(), name="statuspage-manage-incident"),
    path("incidents/<int:pk>/publish", manage_api.PublishView.as_view(), name="statuspage-manage-publish"),
    path(
        "incidents/<int:pk>/incident_updates",
        manage_api.IncidentUpdatesView.as_view(),
        name="statuspage-manage-updates",
    ),
    path(
        "incidents/<int:pk>/incident_updates/<int:update_pk>",
        manage_api.IncidentUpdateView.as_view(),
        name="statuspage-manage-update",
    ),
    path("components/<int:pk>", manage_api.ComponentView.as_view(), name="statuspage-manage-component"),
]
