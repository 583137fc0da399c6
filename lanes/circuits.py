"""Circuit breakers: a provider that keeps failing is not sent to until a probe gets through.

Invariant: while a provider's circuit is open, no message is claimed for its channels (the claim
skips them), so messages wait Pending ("Waiting for the SMS provider") instead of burning their
attempts against an outage; other providers and channels go on. One probe at a time: when the
cool-down has passed, one worker takes the probe (a compare-and-set on probe_at) and claims a single
message for that provider; if it reaches the provider the circuit closes, otherwise it stays open
and the next probe waits twice as long (up to CIRCUIT_COOLDOWN_MAX_SECONDS).

What counts: a hand-off the provider answered (accepted, sent, or rejected for that message) is a
success; a deferral for an unreachable or failing provider, or an unknown outcome, is a failure; a
429 is neither (the provider is up, and lanes.buckets deals with it). CIRCUIT_FAILURES failures with
no success in between open the circuit.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from kalix_site.sql import fetch, rows
from lanes.sql import CIRCUIT_FAILED_SQL, CIRCUIT_OK_SQL, CIRCUIT_ROW_SQL, OPEN_CIRCUITS_SQL, TAKE_PROBE_SQL

OK_KINDS = {"accepted", "sent", "rejected"}
FAILED_KINDS = {"deferred", "unknown"}


@dataclass
class Tally:
    ok: int = 0
    failed: int = 0
    detail: str = ""

    def add(self, outcome) -> None:
        if outcome.kind in OK_KINDS:
            self.ok += 1
        elif outcome.kind in FAILED_KINDS and getattr(outcome, "counts_attempt", True):
            self.failed += 1
            self.detail = outcome.detail[:200]


@dataclass(frozen=True)
class OpenCircuit:
    name: str
    probe_due: bool


@dataclass(frozen=True)
class _Name:
    name: str


def report(name: str, tally: Tally) -> bool:
    """Record a hand-off's successes and failures for provider `name`; True when its circuit is open."""
    with connection.cursor() as cursor:
        if tally.ok:
            cursor.execute(CIRCUIT_OK_SQL, {"name": name})
            return False
        if tally.failed:
            cursor.execute(CIRCUIT_ROW_SQL, {"name": name})
            cursor.execute(
                CIRCUIT_FAILED_SQL,
                {
                    "name": name,
                    "failed": tally.failed,
                    "threshold": settings.CIRCUIT_FAILURES,
                    "cooldown": settings.CIRCUIT_COOLDOWN_SECONDS,
                    "cooldown_max": settings.CIRCUIT_COOLDOWN_MAX_SECONDS,
                    "detail": tally.detail,
                },
            )
    return name in {c.name for c in open_circuits()}


def open_circuits() -> list[OpenCircuit]:
    with connection.cursor() as cursor:
        cursor.execute(OPEN_CIRCUITS_SQL)
        return rows(cursor, OpenCircuit)


def take_probe(name: str) -> bool:
    """True when this worker got the due probe for provider `name` (nobody else has it)."""
    with connection.cursor() as cursor:
        cursor.execute(TAKE_PROBE_SQL, {"name": name, "cooldown": settings.CIRCUIT_COOLDOWN_MAX_SECONDS})
        return fetch(cursor, _Name) is not None


def degraded() -> list[str]:
    """Names of the providers whose circuit is open (for /healthz and the dashboard)."""
    return sorted(c.name for c in open_circuits())
