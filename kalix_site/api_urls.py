"""/api/v1/: each app registers its viewsets on one router."""

from rest_framework.routers import DefaultRouter

from billing import api as billing_api
from clinics import api as clinics_api
from messaging import api as messaging_api

router = DefaultRouter(trailing_slash="/?")
for app_api in (clinics_api, messaging_api, billing_api):
    app_api.register(router)

urlpatterns = router.urls
