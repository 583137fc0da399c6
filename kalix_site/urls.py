from csp.constants import SELF
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from kalix_site import health, landing


def queue_dashboard(request):
    """/admin/lanes/: the queue dashboard (the Lane admin's change list), under a name operators remember."""
    from lanes.models import Lane

    return admin.site._registry[Lane].changelist_view(request)


# ReDoc's bundle inserts two fixed <style> elements before its nonce option takes effect (an empty one and its
# base styles): those two, by hash, and nothing else inline (sidecar 2026.10.1; a new ReDoc fails the browser
# test). Its search runs in a Web Worker it makes from a blob: URL; workers from blob: on this page only.
REDOC_STYLE_HASHES = [
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
]
redoc_view = csp_update({"style-src": REDOC_STYLE_HASHES, "worker-src": [SELF, "blob:"]})(
    SpectacularRedocView.as_view(url_name="schema")
)

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/lanes/", admin.site.admin_view(queue_dashboard), name="queue-dashboard"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/pages/<str:page_id>/", include("statuspage.manage_urls")),  # Statuspage-shaped write API
    # Namespaced: the router's names (patient-list, billing-invoice-list) are also the staff pages' names,
    # and the API root reversed them to the staff pages.
    path("api/v1/", include(("kalix_site.api_urls", "api"), namespace="api")),
    path("api/v2/", include("statuspage.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", redoc_view, name="api-redoc"),
    path("status/", include("statuspage.urls")),
    path("messages/", include("messaging.urls")),
    path("billing/", include("billing.urls")),
    path("", landing.home, name="home"),
    path("", include("clinics.urls")),
]
