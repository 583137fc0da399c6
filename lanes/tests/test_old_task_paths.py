"""Tasks queued by the release before the move still run: their dotted paths resolve to the same code."""

from django.utils.module_loading import import_string

from lanes import pokes, reindex


def test_tasks_queued_before_the_move_resolve_to_the_moved_functions():
    assert import_string("messaging.lanes.run_poke") is pokes.run_poke
    assert import_string("messaging.reindex.run") is reindex.run
    assert import_string("messaging.reindex.run_pending") is reindex.run_pending
