"""Rate limits as data: one token bucket per provider account, and one per sender where a provider
limits senders too (lanes.models.RateBucket: "<provider>:<account>" and "<provider>:<account>:<from>"),
shared by every worker on every machine through PostgreSQL.

Invariant: over any interval of t seconds the requests let through for a bucket are at most
burst + rate_per_s * t, whichever worker or machine sends them, because every grant is one
row-locked UPDATE that refills by the database's clock and subtracts what it grants. A request takes
from its account's bucket and its sender's in the same statement, both or neither, so it keeps both
limits; a sender at its limit gets nothing while the other senders of the same grant go on.

A worker asks for as many tokens as it has requests ready (`take_for`, by sender), so a grant costs one
round trip per up to PROVIDER_CONCURRENCY requests, not one per request or per sender.

A 429 from the provider (`throttled`) empties the sender's bucket (the account's when the sender has
none) and multiplies its current rate by BUCKET_BACKOFF_FACTOR; it climbs back by BUCKET_RECOVER_PER_S
of rate_per_s a second (additive increase, multiplicative decrease), so a provider that allows less
than we were told settles the bucket just under what it allows.

A provider account (or sender) without a bucket row is not limited by us (the provider still answers 429s).
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from kalix_site.sql import rows
from lanes.sql import TAKE_TOKENS_SQL, THROTTLED_SQL

WINDOW_SECONDS = 5.0  # the window of the dashboard's "current use"


@dataclass(frozen=True)
class Taken:
    name: str
    granted: int
    sender_available: float | None
    sender_rate: float | None
    account_left: float | None
    account_rate: float | None


@dataclass(frozen=True)
class Grant:
    granted: int
    wait_s: float  # when fewer than wanted were granted: seconds until the next token, else 0


def take_for(account: str, wants: dict[str, int]) -> dict[str, Grant]:
    """One grant from account bucket `account` for requests by sender: {sender bucket name ('' for none):
    how many it wants} -> {the same name: Grant}. One round trip, whatever the number of senders."""
    wants = {name: want for name, want in wants.items() if want > 0}
    if not wants:
        return {}
    params = {
        "account": account,
        "names": list(wants),
        "wants": list(wants.values()),
        "recover": settings.BUCKET_RECOVER_PER_S,
        "window": WINDOW_SECONDS,
    }
    with connection.cursor() as cursor:
        cursor.execute(TAKE_TOKENS_SQL, params)
        return {row.name: Grant(row.granted, _wait(row, wants[row.name])) for row in rows(cursor, Taken)}


def _wait(row: Taken, want: int) -> float:
    """Seconds until the bucket that stopped the grant has a whole token again (0: all were granted)."""
    if row.granted >= want:
        return 0.0
    waits = [0.001]
    if row.sender_available is not None and row.sender_available - row.granted < 1:
        waits.append((1 - (row.sender_available - row.granted)) / max(row.sender_rate, 0.001))
    if row.account_left is not None and row.account_left < 1:
        waits.append((1 - row.account_left) / max(row.account_rate, 0.001))
    return max(waits)


def take(name: str, want: int) -> tuple[int, float]:
    """Take up to `want` tokens from bucket `name`: (granted, seconds until the next token when none)."""
    if want <= 0:
        return 0, 0.0
    grant = take_for(name, {"": want})[""]
    return grant.granted, 0.0 if grant.granted else grant.wait_s


def throttled(name: str, sender: str = "") -> None:
    """The provider answered 429 for this account (and sender bucket `sender`, '' for none): empty the
    sender's bucket when it has one, else the account's, and lower its rate."""
    params = {
        "name": name,
        "sender": sender,
        "calm": settings.BUCKET_BACKOFF_CALM_SECONDS,
        "floor": settings.BUCKET_MIN_SHARE,
        "factor": settings.BUCKET_BACKOFF_FACTOR,
    }
    with connection.cursor() as cursor:
        cursor.execute(THROTTLED_SQL, params)


def sender_bucket(account: str, sender: str) -> str:
    """The name of a sender's bucket within its account's ('' when the request names no sender)."""
    return f"{account}:{sender}" if sender else ""


def ensure(name: str, *, rate_per_s: float, burst: int) -> None:
    """Make the bucket if it does not exist (what an operator does in admin; demos and benchmarks)."""
    from lanes.models import RateBucket

    RateBucket.objects.get_or_create(
        name=name, defaults={"rate_per_s": rate_per_s, "burst": burst, "current_rate": rate_per_s, "tokens": burst}
    )
