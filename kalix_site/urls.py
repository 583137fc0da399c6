from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from clinics.ratelimit import ratelimit
from kalix_site import health


def queue_dashboard(request):
    """/admin/lanes/: the queue dashboard (the Lane admin's change list), under a name operators remember."""
    from lanes.models import Lane

    return admin.site._registry[Lane].changelist_view(request)


login_view = ratelimit(scope="login", rate_setting="LOGIN_RATE_PER_MIN")(auth_views.LoginView.as_view())

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("admin/lanes/", admin.site.admin_view(queue_dashboard), name="queue-dashboard"),
    path("admin/", admin.site.urls),
    path("accounts/login/", login_view, name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Namespaced: the router's names (patient-list, billing-invoice-list) are also the staff pages' names,
    # and the API root reversed them to the staff pages.
    path("api/v1/", include(("kalix_site.api_urls", "api"), namespace="api")),
    path("api/v2/", include("statuspage.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("status/", include("statuspage.urls")),
    path("messages/", include("messaging.urls")),
    path("billing/", include("billing.urls")),
    path("", include("clinics.urls")),
]
