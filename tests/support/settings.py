"""Settings for the test suite: the environment's settings, with test defaults for what is unset.

The defaults go into os.environ (not only into this module) so that processes the tests start
(django-q2 clusters, gunicorn) see the same SECRET_KEY and database.
"""

import os

os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
# Playwright's sync API keeps an event loop in the test thread; ORM calls beside it stay synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from kalix_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests only
