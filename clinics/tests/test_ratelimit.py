"""The fixed-window counter behind the webhook and subscribe limits (log-ins are django-axes'
now: clinics/logins.py, clinics/tests/test_login_protection.py)."""

from clinics.ratelimit import hit


def test_counts_are_per_key_and_atomic(db):
    assert [hit("a", window_s=60) for _ in range(3)] == [1, 2, 3]
    assert hit("b", window_s=60) == 1
