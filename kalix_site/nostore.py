"""Cache-Control: no-store on every authenticated answer and every export.

Clinic computers are shared and the pages are health data: a signed-in page kept in the browser's cache
(or a proxy's) can be shown again to the next person with the Back button or read from disk. Signed in
means a session user, or an API request with an Authorization header (DRF authenticates the token
inside the view, after this middleware's request phase, so the header is what we can see); an export is
any answer sent as an attachment. The public status page stays cacheable for anonymous visitors.
"""

from django.utils.cache import add_never_cache_headers


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (
            (user is not None and user.is_authenticated)
            or "HTTP_AUTHORIZATION" in request.META
            or response.get("Content-Disposition", "").startswith("attachment")
        ):
            add_never_cache_headers(response)  # no-store, no-cache, must-revalidate, private, max-age=0
        return response
