"""Rate limits as data: one token bucket per provider account (lanes.models.RateBucket), shared by
every worker on every machine through PostgreSQL.

Invariant: over any interval of t seconds the requests let through for a bucket are at most
burst + rate_per_s * t, whichever worker or machine sends them, because every grant is one
row-locked UPDATE that refills by the database's clock and subtracts what it grants.

A worker asks for as many tokens as it has requests ready (`take`), so a grant costs one round trip
per up to PROVIDER_CONCURRENCY requests, not one per request. A 429 from the provider (`throttled`)
empties the bucket and multiplies its current rate by BUCKET_BACKOFF_FACTOR; it climbs back by
BUCKET_RECOVER_PER_S of rate_per_s a second (additive increase, multiplicative decrease), so a
provider that allows less than we were told settles the bucket just under what it allows.

A provider account without a bucket row is not limited by us (the provider still answers 429s).
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from kalix_site.sql import fetch
from lanes.sql import TAKE_TOKENS_SQL, THROTTLED_SQL

WINDOW_SECONDS = 5.0  # the window of the dashboard's "current use"


@dataclass(frozen=True)
class Taken:
    granted: int
    available: float
    rate_now: float


def take(name: str, want: int) -> tuple[int, float]:
    """Take up to `want` tokens from bucket `name`: (granted, seconds until the next token when none)."""
    if want <= 0:
        return 0, 0.0
    params = {"name": name, "want": want, "recover": settings.BUCKET_RECOVER_PER_S, "window": WINDOW_SECONDS}
    with connection.cursor() as cursor:
        cursor.execute(TAKE_TOKENS_SQL, params)
        row = fetch(cursor, Taken)
    if row is None:  # no bucket for this account: not limited here
        return want, 0.0
    if row.granted:
        return row.granted, 0.0
    return 0, max(0.001, (1 - row.available) / max(row.rate_now, 0.001))


def throttled(name: str) -> None:
    """The provider answered 429 for this account: empty the bucket and lower its rate."""
    params = {
        "name": name,
        "calm": settings.BUCKET_BACKOFF_CALM_SECONDS,
        "floor": settings.BUCKET_MIN_SHARE,
        "factor": settings.BUCKET_BACKOFF_FACTOR,
    }
    with connection.cursor() as cursor:
        cursor.execute(THROTTLED_SQL, params)


def ensure(name: str, *, rate_per_s: float, burst: int) -> None:
    """Make the bucket if it does not exist (what an operator does in admin; demos and benchmarks)."""
    from lanes.models import RateBucket

    RateBucket.objects.get_or_create(
        name=name, defaults={"rate_per_s": rate_per_s, "burst": burst, "current_rate": rate_per_s, "tokens": burst}
    )
