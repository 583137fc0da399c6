"""Fault-injection fixtures: the messaging fixtures, and the live lane's safety-net schedule."""

import pytest

from messaging.tests.conftest import carrier, sim_settings  # noqa: F401  (fixtures)


@pytest.fixture
def safety_net(transactional_db):
    """The live lane's safety-net schedule as every migrate upserts it (a transactional test database
    is flushed between tests, which drops the schedules)."""
    from lanes.schedules import upsert_schedules

    upsert_schedules(names=["messaging: live-lane safety drain"])
