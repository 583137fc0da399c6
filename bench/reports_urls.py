"""Kalix's URLs plus /bench/bare/, a Django view that answers 204 and does nothing: the ceiling of the
web tier under the same server, for `make bench SCENARIO=reports`."""

from django.http import HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def bare(request):
    return HttpResponse(status=204)


urlpatterns = [path("bench/bare/", bare), path("", include("kalix_site.urls"))]
