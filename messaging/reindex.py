"""Old task paths, kept for one release (see messaging/lanes.py): re-index pokes and schedules queued
before the move name `messaging.reindex.run` / `run_pending`. Remove after the release that moved them."""

from lanes.reindex import run, run_pending  # noqa: F401
