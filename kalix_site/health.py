import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from lanes.circuits import degraded
from lanes.heartbeats import lane_health

log = logging.getLogger(__name__)


@never_cache
def healthz(request):
    """Database reachable and every lane has live workers: 200, else 503. No secrets, no patient data.

    A provider whose circuit is open (lanes.circuits) makes the service `degraded`, still 200: we are
    up and queueing, the provider is not; a load balancer must not take us out for it."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = {"ok": True}
        checks["lanes"] = lane_health()
        down = degraded()
    except Exception as exc:  # the point of a health check is to report, not to crash
        checks["database"] = {"ok": False, "error": exc.__class__.__name__}
        checks["lanes"] = {}
        down = []
    checks["degraded"] = bool(down)
    checks["providers"] = {name: {"ok": False, "circuit": "open"} for name in down}
    ok = checks["database"]["ok"] and bool(checks["lanes"]) and all(lane["alive"] for lane in checks["lanes"].values())
    response = JsonResponse({"ok": ok, **checks}, status=200 if ok else 503)
    if not ok:
        # Load balancers and `make run` poll this while a lane starts: an ERROR line per poll would bury
        # real errors. One INFO line says what is down; the access log has the 503.
        response._has_been_logged = True  # Django's request logger skips a response marked so
        down = [name for name, lane in checks["lanes"].items() if not lane["alive"]]
        log.info("healthz 503: database %s, lanes down: %s", "up" if checks["database"]["ok"] else "down", down)
    return response
