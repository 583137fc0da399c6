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

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection

from kalix_site.sql import rows
from lanes import redis_buckets
from lanes.sql import TAKE_TOKENS_SQL, THROTTLED_SQL, WINDOW_SECONDS

log = logging.getLogger(__name__)


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
    unavailable: bool = False  # the buckets' Redis did not answer: nothing granted (fail closed)


def take_for(account: str, wants: dict[str, int]) -> dict[str, Grant]:
    """One grant from account bucket `account` for requests by sender: {sender bucket name ('' for none):
    how many it wants} -> {the same name: Grant}. One round trip, whatever the number of senders."""
    wants = {name: want for name, want in wants.items() if want > 0}
    if not wants:
        return {}
    if settings.BUCKETS_REDIS_URL:
        return _take_redis(account, wants)
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


def _take_redis(account: str, wants: dict[str, int]) -> dict[str, Grant]:
    import redis

    try:
        taken = [Taken(*row) for row in redis_buckets.take(account, wants)]
    except redis.RedisError as exc:  # fail closed: no answer is no token; the hand-off asks again later
        log.warning("the buckets' Redis did not answer (%s): nothing granted for %s", type(exc).__name__, account)
        retry = settings.BUCKETS_REDIS_RETRY_SECONDS
        return {name: Grant(0, retry, unavailable=True) for name in wants}
    return {row.name: Grant(row.granted, _wait(row, wants[row.name])) for row in taken}


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
    if settings.BUCKETS_REDIS_URL:
        _throttled_redis(name, sender)
        return
    params = {
        "name": name,
        "sender": sender,
        "calm": settings.BUCKET_BACKOFF_CALM_SECONDS,
        "floor": settings.BUCKET_MIN_SHARE,
        "factor": settings.BUCKET_BACKOFF_FACTOR,
    }
    with connection.cursor() as cursor:
        cursor.execute(THROTTLED_SQL, params)


def _throttled_redis(name: str, sender: str) -> None:
    import redis

    try:
        redis_buckets.throttled(
            name,
            sender,
            calm=settings.BUCKET_BACKOFF_CALM_SECONDS,
            floor=settings.BUCKET_MIN_SHARE,
            factor=settings.BUCKET_BACKOFF_FACTOR,
        )
    except redis.RedisError as exc:  # the rate is not lowered this time; the next grant fails closed anyway
        log.warning("the buckets' Redis did not answer (%s): a 429 for %s not recorded", type(exc).__name__, name)


def overview() -> list:
    """Every bucket (the rows) with its current state from wherever it lives (the dashboard): with
    Redis, its rate now, use, requests let through and 429s are Redis's (`state_unavailable` when Redis
    does not answer: the rows' last values are shown)."""
    from lanes.models import RateBucket

    found = list(RateBucket.objects.all())
    if not settings.BUCKETS_REDIS_URL:
        return found
    import redis

    try:
        states = redis_buckets.state([b.name for b in found])
    except redis.RedisError:
        for b in found:
            b.state_unavailable = True
        return found
    for b in found:
        s = states.get(b.name) or {}
        same_rate = s.get("set") == repr(float(b.rate_per_s))  # else its next grant starts at the new set rate
        b.current_rate = float(s.get("rate", b.rate_per_s)) if same_rate else b.rate_per_s
        b.use_per_s = float(s.get("use", 0))
        b.taken = int(s.get("taken", 0))
        b.throttled = int(s.get("throttled", 0))
        last = float(s.get("last_throttled", 0))
        b.last_throttled_at = datetime.fromtimestamp(last, tz=UTC) if last else None
    return found


def sender_bucket(account: str, sender: str) -> str:
    """The name of a sender's bucket within its account's ('' when the request names no sender)."""
    return f"{account}:{sender}" if sender else ""


def ensure(name: str, *, rate_per_s: float, burst: int) -> None:
    """Make the bucket if it does not exist (what an operator does in admin; demos and benchmarks)."""
    from lanes.models import RateBucket

    RateBucket.objects.get_or_create(
        name=name, defaults={"rate_per_s": rate_per_s, "burst": burst, "current_rate": rate_per_s, "tokens": burst}
    )
