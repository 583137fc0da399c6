"""Pokes are coalesced per transaction, and forgotten with a transaction that rolls back."""

import pytest
from django.db import transaction
from django_q.models import OrmQ

from messaging.lanes import poke

pytestmark = pytest.mark.django_db(transaction=True)


class Rollback(Exception):
    pass


def test_a_poke_is_sent_once_per_transaction():
    with transaction.atomic():
        poke("messaging.reindex.run_pending", lane="bulk")
        poke("messaging.reindex.run_pending", lane="bulk")
        poke("messaging.reindex.run", lane="bulk", job_id=1)

    assert OrmQ.objects.filter(key="bulk").count() == 2


def test_a_rolled_back_poke_does_not_swallow_the_next_one():
    with pytest.raises(Rollback), transaction.atomic():
        poke("messaging.reindex.run_pending", lane="bulk")
        raise Rollback
    assert OrmQ.objects.count() == 0

    with transaction.atomic():
        poke("messaging.reindex.run_pending", lane="bulk")

    assert OrmQ.objects.filter(key="bulk").count() == 1
