"""kalix_site.backoff: base * 2^(n-1), capped, finite for any count of tries."""

from datetime import timedelta

from kalix_site.backoff import backoff


def test_the_wait_doubles_from_base_per_failed_try():
    waits = [backoff(n, base=30, cap=3600).total_seconds() for n in range(1, 6)]
    assert waits == [30, 60, 120, 240, 480]


def test_the_wait_stops_growing_at_the_cap():
    assert backoff(7, base=30, cap=1000) == timedelta(seconds=1000)  # 30 * 2^6 = 1920 is over it
    assert backoff(8, base=30, cap=1000) == timedelta(seconds=1000)


def test_any_count_of_tries_gives_a_finite_capped_wait():
    # 2^(10^6) seconds is no timedelta: the exponent is bounded before it is raised
    assert backoff(1_000_000, base=2.0, cap=120.0) == timedelta(seconds=120)
    assert backoff(0, base=2.0, cap=120.0) == timedelta(seconds=2)  # no failure yet: the first wait
