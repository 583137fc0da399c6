"""A re-index on a real bulk-lane cluster survives SIGKILL: it resumes from its checkpoint and ends with
every status equal to what the bare set-based statement computes."""

import pytest
from django.db import connection

from lanes import reindex
from lanes.models import ReindexChunk, ReindexJob, ReindexState
from tests.support.processes import wait_for
from tests.support.seed import derived_columns, seeded

pytestmark = [pytest.mark.cluster]


def job_lock_held(job_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s",
            [reindex.LOCK_CLASS, job_id],
        )
        return cursor.fetchone()[0] > 0


def test_killed_reindex_resumes_from_its_checkpoint(lane_cluster, clinic_a, settings):
    settings.REINDEX_SLICE_SECONDS = 2
    first, last, expected = seeded(clinic_a, 20_000)
    job = reindex.reindex_start(chunk_size=500, throttle=2_500)
    bulk = lane_cluster("bulk", KALIX_REINDEX_SLICE_SECONDS=2)

    wait_for(lambda: ReindexJob.objects.get(pk=job.pk).cursor >= first + 4_000, timeout=60, message="progress")
    bulk.kill()  # SIGKILL to the whole cluster, mid-job

    job.refresh_from_db()
    assert job.state == ReindexState.RUNNING and job.cursor < last
    now = derived_columns(first, last)
    assert all(now[i] == expected[i] for i in range(first, job.cursor + 1)), "checkpointed chunks are done"
    assert all(now[i] != expected[i] for i in range(job.cursor + 1, last + 1)), "nothing after the checkpoint"
    wait_for(lambda: not job_lock_held(job.pk), timeout=30, message="the killed worker's session to end")

    lane_cluster("bulk")

    # what the safety-net schedule does: once the job has not moved for a time slice, poke it. A poke
    # the killed slice had already queued may get there first; either way the job must resume by itself.
    def resumed():
        if job_lock_held(job.pk) or ReindexJob.objects.get(pk=job.pk).cursor > job.cursor:
            return True
        return reindex.run_pending() == 1

    wait_for(resumed, timeout=30, interval=1, message="the job to resume (queued poke or safety net)")

    wait_for(lambda: ReindexJob.objects.get(pk=job.pk).state == ReindexState.DONE, timeout=60, message="done")
    assert derived_columns(first, last) == expected
    chunks = list(ReindexChunk.objects.filter(job=job).values_list("first_id", "last_id"))
    assert [c[0] for c in chunks] == list(range(first, last + 1, 500)), "every chunk once, none skipped"
