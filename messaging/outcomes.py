"""What a provider answers for one message: an Outcome (or, from a per-message API, Throttled).

UNKNOWN is never `deferred`: a deferral sends the message again, and a message the provider may hold
must not be resent blindly. It stays 'handing off' and messaging.worker.recover_interrupted settles it.
"""

from dataclasses import dataclass

# The provider may have the message (the request went out, no usable answer came back). Nothing is
# recorded; the message stays 'handing off' for recover_interrupted (lookup, or 'interrupted').
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Outcome:
    message_id: int
    kind: str  # accepted | sent | deferred | rejected | unknown
    provider_message_id: str = ""
    detail: str = ""
    retry_after: float | None = None  # deferred until then (a 429's Retry-After), not by backoff
    # False: waits `retry_after` (no backoff) and never fails at MESSAGING_MAX_ATTEMPTS (a 429, an open circuit)
    counts_attempt: bool = True
    # The provider refused the request unprocessed (429): the hand-off gives its attempt back, so the
    # number staff see and the attempts budget are as if it had not happened (messaging.worker).
    not_taken: bool = False


@dataclass(frozen=True)
class Throttled:
    """The provider answered 429: it did not process the request; try again after `retry_after` s."""

    retry_after: float
    detail: str
