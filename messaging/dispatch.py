"""The send pipeline's states (Message.dispatch) and the only moves allowed between them, as data.

This is our own work state, not the staff status (which is derived from events, messaging.status).
Every move is a conditional UPDATE: a row that is no longer in an allowed `from` state is simply not
updated, so two processes can never both make the same move.
"""

from django.db.models import QuerySet

from messaging.models import Dispatch

MOVES: dict[str, set[str]] = {
    "queue": {Dispatch.HELD},  # the patient opted in
    "claim": {Dispatch.QUEUED},  # a worker takes it for hand-off (send key committed first)
    "handed_off": {Dispatch.HANDING_OFF},  # the provider answered: accepted or rejected
    "retry_later": {Dispatch.HANDING_OFF},  # a temporary problem: back in the queue with a delay
    "give_up": {Dispatch.HANDING_OFF},  # a hard failure, or retries exhausted
    "recover": {Dispatch.HANDING_OFF},  # its worker died; what the provider knows decides the rest
    "cancel": {Dispatch.HELD, Dispatch.QUEUED},  # staff, before any hand-off
    "withhold": {Dispatch.QUEUED},  # a worker, at the claim: consent changed after it was queued
}
TARGET: dict[str, str] = {
    "queue": Dispatch.QUEUED,
    "claim": Dispatch.HANDING_OFF,
    "handed_off": Dispatch.HANDED_OFF,
    "retry_later": Dispatch.QUEUED,
    "give_up": Dispatch.DONE,
    "recover": Dispatch.DONE,
    "cancel": Dispatch.DONE,
    "withhold": Dispatch.DONE,
}


def move(messages: QuerySet, move_name: str, **fields) -> int:
    """Apply a move to every message of `messages` that is in an allowed state; returns rows moved."""
    return messages.filter(dispatch__in=MOVES[move_name]).update(dispatch=TARGET[move_name], **fields)


def can(move_name: str, dispatch: str) -> bool:
    return dispatch in MOVES[move_name]
