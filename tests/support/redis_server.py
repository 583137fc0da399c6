"""The machine's Redis for the tests that need one (the Redis broker, Redis buckets): one database of it,
emptied first. Without a Redis server the test is skipped with the reason shown, except in CI, where
it fails."""

import os

import pytest


def empty_database(url: str, variable: str):
    """A client of the Redis database at `url` (named by the environment variable `variable`), emptied."""
    import redis

    client = redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError:
        message = f"no Redis server at {url} (set {variable})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    client.flushdb()
    return client
