"""Fault-injection fixtures: the messaging fixtures, and the live lane's safety-net schedule."""

import pytest

from messaging.tests.conftest import carrier, sim_settings  # noqa: F401  (fixtures)


@pytest.fixture
def safety_net(transactional_db):
    """The live lane's safety-net schedule as data migration 0004 creates it (a transactional test
    database is flushed between tests, which drops the migration's rows)."""
    from importlib import import_module

    from django.apps import apps

    import_module("messaging.migrations.0004_safety_drain_schedule").create(apps, None)
