"""Kalix's URLs plus /bench/bare/, a Django view that answers 204 and does nothing: the ceiling of the
web tier under the same server, for `make bench SCENARIO=reports`."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from kalix_site.urls import urlpatterns as kalix


@csrf_exempt
def bare(request):
    return HttpResponse(status=204)


urlpatterns = [path("bench/bare/", bare), *kalix]
