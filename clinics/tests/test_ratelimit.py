from clinics.ratelimit import hit


def test_login_is_rate_limited_per_client(client, staff_a, settings):
    settings.LOGIN_RATE_PER_MIN = 3
    statuses = [
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"}).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    # the limit blocks even the right password until the window passes
    right = client.post("/accounts/login/", {"username": "alice", "password": "correct-horse-battery-staple"})
    assert right.status_code == 429 and right["Retry-After"] == "60"


def test_counts_are_per_key_and_atomic(db):
    assert [hit("a", window_s=60) for _ in range(3)] == [1, 2, 3]
    assert hit("b", window_s=60) == 1
