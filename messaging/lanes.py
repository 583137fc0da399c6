"""Old task paths, kept for one release: django-q2 tasks queued before the queue platform moved to the
`lanes` app name `messaging.lanes.run_poke` (and pokes of `messaging.reindex.run`). Without these they
would fail once at upgrade, and their waiting-poke rows would hold back the same pokes for a minute.
Remove after the release that moved them.
"""

from lanes.pokes import run_poke  # noqa: F401
