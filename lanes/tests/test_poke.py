"""Pokes are coalesced per transaction and across transactions while one waits in the broker, and
forgotten with a transaction that rolls back."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone
from django_q.models import OrmQ

from lanes.models import WaitingPoke
from lanes.pokes import poke

pytestmark = pytest.mark.django_db(transaction=True)


class Rollback(Exception):
    pass


def test_a_poke_is_sent_once_per_transaction():
    with transaction.atomic():
        poke("lanes.reindex.run_pending", lane="bulk")
        poke("lanes.reindex.run_pending", lane="bulk")
        poke("lanes.reindex.run", lane="bulk", job_id=1)

    assert OrmQ.objects.filter(key="bulk").count() == 2


def test_a_rolled_back_poke_does_not_swallow_the_next_one():
    with pytest.raises(Rollback), transaction.atomic():
        poke("lanes.reindex.run_pending", lane="bulk")
        raise Rollback
    assert OrmQ.objects.count() == 0

    with transaction.atomic():
        poke("lanes.reindex.run_pending", lane="bulk")

    assert OrmQ.objects.filter(key="bulk").count() == 1


def test_a_poke_waiting_in_the_broker_absorbs_the_same_poke_from_later_transactions():
    for _ in range(5):
        with transaction.atomic():
            poke("lanes.reindex.run_pending", lane="bulk")
    poke("lanes.reindex.run", lane="bulk", job_id=1)  # a different poke is sent
    poke("lanes.reindex.run", lane="bulk", job_id=2)

    assert OrmQ.objects.filter(key="bulk").count() == 3
    assert WaitingPoke.objects.count() == 3


def test_once_the_task_starts_the_next_commit_pokes_again():
    from lanes import pokes as lanes

    poke("lanes.reindex.run_pending", lane="bulk")
    (waiting,) = WaitingPoke.objects.all()
    with mock.patch("lanes.reindex.run_pending", return_value=7) as run_pending:
        assert lanes.run_poke("lanes.reindex.run_pending", waiting.key) == 7  # what the worker runs
    run_pending.assert_called_once_with()
    assert not WaitingPoke.objects.exists()

    poke("lanes.reindex.run_pending", lane="bulk")
    assert OrmQ.objects.filter(key="bulk").count() == 2


def test_the_task_runs_the_poked_function_with_its_arguments():
    # django-q2's sync mode runs the enqueued payload through its own worker code at once
    with mock.patch("django_q.conf.Conf.SYNC", True), mock.patch("lanes.reindex.run", return_value="done") as run:
        poke("lanes.reindex.run", lane="bulk", job_id=42)
    run.assert_called_once_with(job_id=42)
    assert not WaitingPoke.objects.exists()


def test_a_poke_waiting_longer_than_the_resend_time_is_sent_again(settings):
    settings.LANE_POKE_RESEND_SECONDS = 30
    poke("lanes.reindex.run_pending", lane="bulk")
    WaitingPoke.objects.update(sent_at=timezone.now() - timedelta(seconds=31))  # its task may be lost

    poke("lanes.reindex.run_pending", lane="bulk")
    poke("lanes.reindex.run_pending", lane="bulk")

    assert OrmQ.objects.filter(key="bulk").count() == 2


def test_a_poke_waiting_longer_than_its_callers_resend_time_is_sent_again():
    """A safety net that knows the work has stalled that long: the waiting poke may be stranded with a
    killed worker. One younger than that may only be queued behind a busy lane: it absorbs the poke."""
    poke("lanes.reindex.run", lane="bulk", job_id=1)
    poke("lanes.reindex.run", lane="bulk", resend_after=10, job_id=1)
    assert OrmQ.objects.filter(key="bulk").count() == 1

    WaitingPoke.objects.update(sent_at=timezone.now() - timedelta(seconds=11))
    poke("lanes.reindex.run", lane="bulk", resend_after=10, job_id=1)

    assert OrmQ.objects.filter(key="bulk").count() == 2
    assert WaitingPoke.objects.count() == 1


def test_a_poke_the_broker_refused_leaves_nothing_waiting():
    with (
        mock.patch("lanes.pokes.async_task", side_effect=ConnectionError("broker down")),
        pytest.raises(ConnectionError),
    ):
        poke("lanes.reindex.run_pending", lane="bulk")
    assert not WaitingPoke.objects.exists()

    poke("lanes.reindex.run_pending", lane="bulk")
    assert OrmQ.objects.filter(key="bulk").count() == 1


def test_work_committed_while_the_poked_task_runs_pokes_a_fresh_task():
    """The lost wakeup the row must not cause: the task forgets its row before it starts working, so a
    commit that lands while it works (after it last looked) is drained by a new task."""
    from lanes import pokes as lanes

    poke("lanes.reindex.run_pending", lane="bulk")
    (waiting,) = WaitingPoke.objects.all()

    def drain_while_a_send_commits():
        poke("lanes.reindex.run_pending", lane="bulk")  # a commit during the drain
        return 0

    with mock.patch("lanes.reindex.run_pending", side_effect=drain_while_a_send_commits):
        lanes.run_poke("lanes.reindex.run_pending", waiting.key)

    assert OrmQ.objects.filter(key="bulk").count() == 2  # the first task's, and a fresh one
    assert WaitingPoke.objects.count() == 1
