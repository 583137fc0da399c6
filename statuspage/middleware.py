"""Fast path for the hottest public URLs: answer a cached body before sessions, auth and URL routing.

Sits right after SecurityMiddleware and WhiteNoise (so their headers still apply) and answers only
anonymous-safe GETs of fixed URLs whose body is already cached for the current generation; anything
else (first request after a change, query strings, other URLs) goes down the normal stack, whose view
builds and caches the same body with the same headers (statuspage.cache.response).
"""

from statuspage import cache

FAST_PATHS = {
    "/api/v2/summary.json": ("v2:summary", "json"),
    "/api/v2/status.json": ("v2:status", "json"),
    "/api/v2/components.json": ("v2:components", "json"),
    "/api/v2/incidents.json": ("v2:incidents", "json"),
    "/api/v2/incidents/unresolved.json": ("v2:incidents/unresolved", "json"),
    "/api/v2/scheduled-maintenances.json": ("v2:scheduled-maintenances", "json"),
    "/api/v2/scheduled-maintenances/upcoming.json": ("v2:scheduled-maintenances/upcoming", "json"),
    "/api/v2/scheduled-maintenances/active.json": ("v2:scheduled-maintenances/active", "json"),
    "/status/": ("page:home", "html"),
    "/status/history/": ("page:history", "html"),
}


def cached_status_pages(get_response):
    def middleware(request):
        if request.method == "GET" and not request.META.get("QUERY_STRING"):
            route = FAST_PATHS.get(request.path_info)
            if route:
                body = cache.peek(route[0])
                if body is not None:
                    response = cache.response(body, route[1])
                    response["X-Frame-Options"] = "DENY"  # XFrameOptionsMiddleware sits further in
                    return response
        return get_response(request)

    return middleware
