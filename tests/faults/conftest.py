"""Fault-injection fixtures: the live lane's safety-net schedule (the carrier and the rest are shared,
tests/support/fixtures/)."""

import pytest


@pytest.fixture
def safety_net(transactional_db):
    """The live lane's safety-net schedule as every migrate upserts it (a transactional test database
    is flushed between tests, which drops the schedules)."""
    from lanes.schedules import upsert_schedules

    upsert_schedules(names=["messaging: live-lane safety drain"])
