import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kalix_site.settings")
application = get_wsgi_application()

from messaging.checks import refuse_to_serve_without_secrets  # noqa: E402 - needs Django set up first

refuse_to_serve_without_secrets()  # gunicorn runs no system checks; a worker that raises here never boots

from statuspage.wsgi import status_fast_path  # noqa: E402 - needs Django set up first

application = status_fast_path(application)  # cached public status bodies, see statuspage/wsgi.py
