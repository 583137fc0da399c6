"""Races, made to happen every time: the tests of "two presses, one message" and its kin."""

import importlib
import threading
from unittest import mock

from django.db import connection


def at_once(count: int, action, *, meet_at: str, before: bool = False, timeout: float = 20) -> list:
    """Run `action` in `count` threads that all reach `meet_at` (a dotted path, patched for the while)
    before any goes past it, so each has done what comes before it (looked for an earlier message, say)
    before any does what comes after (inserts its own): the race users hit, on purpose. The real
    function runs first and then each waits, or each waits first with `before=True`.

    Returns the answers in the order the threads finished; an exception in any thread fails the test.
    """
    module, _, name = meet_at.rpartition(".")
    real = getattr(importlib.import_module(module), name)
    everyone = threading.Barrier(count, timeout=timeout)

    def meet(*args, **kwargs):
        if before:
            everyone.wait()
        result = real(*args, **kwargs)
        if not before:
            everyone.wait()
        return result

    answers, errors = [], []

    def run():
        try:
            answers.append(action())
        except Exception as exc:  # noqa: BLE001  (reported by the test, not swallowed)
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection; the test database must drop it

    with mock.patch(meet_at, side_effect=meet):
        threads = [threading.Thread(target=run) for _ in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    return answers
