"""The one way to build an absolute URL to Kalix: settings.PUBLIC_URL (KALIX_PUBLIC_URL) and a path.

Invariant: every link that leaves a request's reach (status emails and webhooks, the Atom feed, the
status API's `shortlink`, the callback URLs carriers post delivery reports to) starts with our one
public base, never with the Host of whatever request happened to build it. A worker has no request; a
cached feed or API body serves every host; and a Host header is the client's to choose, so a link in an
email must not be steerable by a forged one.

The exception is on purpose: Twilio's signature check (messaging/webhooks.py) uses the URL Twilio
called, request.build_absolute_uri(), because that is what Twilio signs.
"""

from django.conf import settings
from django.urls import reverse


def absolute_url(path_or_name: str, *args) -> str:
    """PUBLIC_URL + `path_or_name` when it is a path ("/status/"), else + reverse(path_or_name, args)."""
    path = path_or_name if path_or_name.startswith("/") else reverse(path_or_name, args=args)
    return settings.PUBLIC_URL.rstrip("/") + path
