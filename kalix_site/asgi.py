import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kalix_site.settings")
application = get_asgi_application()

from messaging.checks import refuse_to_serve_without_secrets  # noqa: E402 - needs Django set up first

refuse_to_serve_without_secrets()
