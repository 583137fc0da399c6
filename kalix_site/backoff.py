"""The one exponential backoff: the wait before try n + 1 after n failed ones is base * 2^(n-1) seconds,
at most `cap`.

Invariant: always capped and always finite. A retry count that only grows (a receiver down for a day,
an operator who raised the attempt limit) must never produce a wait of years, nor a number too large
for timedelta: the exponent is bounded before it is raised, so even 2^(n-1) is never computed for a
large n. Callers pass their own base and cap from their settings.
"""

from datetime import timedelta

# Past 2^64 any base is over any cap we could be given: bound the exponent, not only the result.
MAX_DOUBLINGS = 64


def backoff(attempts: int, *, base: float, cap: float) -> timedelta:
    """The wait after `attempts` failed tries (1: the first failure waits `base`)."""
    doublings = min(max(attempts - 1, 0), MAX_DOUBLINGS)
    return timedelta(seconds=min(base * 2**doublings, cap))
