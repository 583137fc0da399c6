"""The test run's start-up, and where the shared fixtures come from.

The shared fixtures (clinics, staff and patients, a browser, lane clusters, providers on loopback,
payers and invoices, status page components) live in tests/support/fixtures/, registered here; an
app's own fixtures live in its tests/conftest.py. Helpers tests import live in tests/support/.

The embedded PostgreSQL (when DATABASE_URL is unset) is started here, before any test connects, since
settings only say where it listens.
"""

import os
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.support.fixtures.tenancy",
    "tests.support.fixtures.browser",
    "tests.support.fixtures.clusters",
    "tests.support.fixtures.providers",
    "tests.support.fixtures.billing",
    "tests.support.fixtures.statuspage",
]


def pytest_configure(config):
    if os.environ.get("DATABASE_URL"):
        return
    from django.conf import settings

    from kalix_site.embedded_db import start

    # pytest-django read the settings before this conftest was loaded; nothing has connected yet, so
    # the connection settings can still be brought in line with the server as started (they differ
    # only for a data directory too long for a socket path that did not exist until now).
    settings.DATABASES["default"].update(start(Path(__file__).resolve().parent))


def pytest_collection_modifyitems(config, items):
    """Mark tests by the fixtures they use, so `make test-fast` (-m "not browser and not cluster")
    leaves out every test that drives Chromium or starts a django-q2 cluster, marked by hand or not."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & {"browser", "page", "login"}:
            item.add_marker(pytest.mark.browser)
        if "lane_cluster" in fixtures:
            item.add_marker(pytest.mark.cluster)
