"""The one transition helper: moves as data, each move a conditional UPDATE that exactly one racer wins."""

import copy
import pickle
import threading

import pytest
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import connection, transaction

from kalix_site.transitions import Machine, TransitionRefused
from lanes.models import ReindexJob

# A table over a real model's state field (ReindexJob.state), so moves run against PostgreSQL.
JOB = Machine(
    "job",
    "state",
    {
        "start": ({"queued"}, "running"),
        "pause": ({"queued", "running"}, "paused"),
        "finish": ({"running"}, "done"),
    },
    states={"queued", "running", "paused", "done"},
)


def job(state: str = "queued") -> ReindexJob:
    return ReindexJob.objects.create(chunk_size=10, state=state)


def test_the_table_answers_what_may_move_from_where():
    assert JOB.can("pause", "running") and not JOB.can("finish", "queued")
    assert JOB.allowed("queued") == ["start", "pause"]  # in the table's order
    assert JOB.allowed("done") == []
    assert JOB.sources("pause") == {"queued", "running"} and JOB.target("pause") == "paused"
    assert JOB.by_state() == {
        "queued": {"running", "paused"},
        "running": {"paused", "done"},
        "paused": set(),
        "done": set(),
    }
    assert JOB.move_between("running", "paused") == "pause" and JOB.move_between("done", "paused") is None
    with pytest.raises(KeyError):
        JOB.can("strat", "queued")  # a typo in code fails loudly instead of never allowing anything


def test_a_table_naming_a_state_that_does_not_exist_is_refused_when_built():
    with pytest.raises(ValueError, match="done_"):
        Machine("job", "state", {"finish": ({"running"}, "done_")}, states={"running", "done"})


@pytest.mark.django_db
def test_a_move_updates_only_rows_in_a_from_state_and_writes_its_fields_with_it():
    queued, running, done = job("queued"), job("running"), job("done")
    assert JOB.move(ReindexJob.objects.all(), "pause", waiting="paused by test") == 2
    states = dict(ReindexJob.objects.values_list("pk", "state"))
    assert states == {queued.pk: "paused", running.pk: "paused", done.pk: "done"}
    done.refresh_from_db()
    assert done.waiting == ""  # a row not moved gets none of the move's fields


@pytest.mark.django_db
def test_a_move_that_finds_nothing_to_move_is_refused_and_changes_nothing():
    done = job("done")
    with pytest.raises(TransitionRefused) as refused:
        JOB.move_or_refuse(ReindexJob.objects.filter(pk=done.pk), "start", "Only a queued job starts.", waiting="x")
    assert isinstance(refused.value, ValidationError)
    assert str(refused.value) == "Only a queued job starts."
    assert refused.value.message_dict == {NON_FIELD_ERRORS: ["Only a queued job starts."]}
    assert refused.value.move == "start"
    done.refresh_from_db()
    assert (done.state, done.waiting) == ("done", "")


def test_a_refusal_names_its_field_and_reads_as_any_form_error():
    with pytest.raises(TransitionRefused) as refused:
        JOB.check("finish", "queued", field="status")
    assert refused.value.message_dict == {"status": ["A queued job cannot finish."]}
    with pytest.raises(TransitionRefused):
        JOB.check("no such move", "queued")  # a move from input that is not in the table: refused, not KeyError

    class StatusForm(forms.Form):
        status = forms.CharField()

    form = StatusForm({"status": "done"})
    assert form.is_valid()
    form.add_error(None, JOB.refusal("finish", "queued"))
    form.add_error(None, JOB.refusal("finish", "paused", field="status"))
    assert form.non_field_errors() == ["A queued job cannot finish."]
    assert form.errors["status"] == ["A paused job cannot finish."]


@pytest.mark.parametrize("again", [copy.deepcopy, lambda e: pickle.loads(pickle.dumps(e))])  # noqa: S301 (our own bytes)
def test_a_refusal_survives_copying_and_pickling(again):
    """Its own __init__ must not break what copy and pickle do with exceptions (django-q2 pickles, forms copy)."""
    again = again(JOB.refusal("start", "done", field="state"))
    assert (type(again), str(again), again.message_dict, again.move, again.state) == (
        TransitionRefused,
        "A done job cannot start.",
        {"state": ["A done job cannot start."]},
        "start",
        "done",
    )


def _race(pk: int, *, rounds_barrier: threading.Barrier, results: list, move: str) -> None:
    try:
        rounds_barrier.wait(10)
        with transaction.atomic():
            results.append(JOB.move(ReindexJob.objects.filter(pk=pk), move))
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(10))
def test_two_threads_racing_the_same_move_exactly_one_wins(round_):
    target = job("queued")
    barrier, results = threading.Barrier(2), []
    threads = [
        threading.Thread(
            target=_race, args=(target.pk,), kwargs={"rounds_barrier": barrier, "results": results, "move": "start"}
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(results) == [0, 1]
    target.refresh_from_db()
    assert target.state == "running"


@pytest.mark.django_db(transaction=True)
def test_the_loser_waits_for_the_winner_and_then_finds_nothing_to_move():
    """Deterministic: the first mover holds its row uncommitted while the second moves, so the second's
    UPDATE blocks on the row lock, re-reads the row once the first commits, and no longer matches."""
    target = job("queued")
    first_moved, second_started, results = threading.Event(), threading.Event(), {}

    def first():
        try:
            with transaction.atomic():
                results["first"] = JOB.move(ReindexJob.objects.filter(pk=target.pk), "start")
                first_moved.set()
                second_started.wait(10)
                threading.Event().wait(0.3)  # the second is blocked on our row lock by now
        finally:
            connection.close()

    def second():
        try:
            first_moved.wait(10)
            second_started.set()
            with transaction.atomic():
                results["second"] = JOB.move(ReindexJob.objects.filter(pk=target.pk), "start")
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert results == {"first": 1, "second": 0}
    target.refresh_from_db()
    assert target.state == "running"
