"""The token buckets' state in Redis (KALIX_BUCKETS_REDIS_URL), for lanes.buckets.

Invariant, as in PostgreSQL: over any t seconds at most burst + rate * t requests are let through for a
bucket, whichever worker or machine asks, because every grant is one Lua script (Redis runs one script
at a time, nothing else in between) that refills by Redis's own clock (TIME, one clock for every
machine) and subtracts what it grants; an account's bucket and its senders' are granted in the same
script, both or neither. A 429 lowers the rate the same way (AIMD, lanes.buckets).

The buckets' settings stay rows in PostgreSQL, edited in admin; each process reads them all (one small
query) at most every BUCKETS_CONFIG_SECONDS and passes them to the script. Why a cache and not a push
on save: the rows stay the one truth, a Redis flushed or replaced refills itself from them on the next
grant, and nothing (a migration, a bulk update, `ensure`) can change a row without Redis seeing it; the
cost is that an edit takes effect within those seconds. A set rate that changed since a bucket's last
grant starts again at full speed, as saving it in admin does in PostgreSQL.

Keys: "kalix:bucket:{<provider>:<account>}" and "...}:<from>" for its senders, hashes; the account in
braces is the hash tag, so an account and its senders live in one Redis Cluster slot (one script).
A Redis that does not answer raises redis.RedisError here; lanes.buckets fails closed on it.
"""

import os
import threading
import time

from django.conf import settings

from lanes.sql import WINDOW_SECONDS

# KEYS[1] the account, KEYS[2..] its senders (a placeholder for a request with no sender bucket).
# ARGV: recover, window, the account's set rate ('-1': no row) and burst, then per sender: want, set
# rate ('-1': no row), burst. Returns per sender: granted, available, rate now ('' without a row);
# then the account's tokens left and rate now ('' without a row). Numbers as strings (Lua's numbers
# would come back as integers).
TAKE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local recover, window = tonumber(ARGV[1]), tonumber(ARGV[2])

local function refill(key, set_s, burst)
  local set = tonumber(set_s)
  local h = redis.call('HMGET', key, 'tokens', 'at', 'rate', 'set')
  local b = {key = key, set_s = set_s, burst = math.max(burst, 1)}
  if not h[1] or not h[2] then
    b.tokens, b.at, b.rate = b.burst, now, set
  else
    b.tokens, b.at, b.rate = tonumber(h[1]), tonumber(h[2]), tonumber(h[3]) or set
    if h[4] ~= set_s then b.rate = set end
  end
  local elapsed = math.max(0, now - b.at)
  local was = b.rate
  if was <= 0 then was = set else was = math.min(was, set) end
  b.rate_now = math.min(set, was + set * recover * elapsed)
  b.available = math.min(b.burst, b.tokens + elapsed * was)
  return b
end

local function save(b, granted)
  local h = redis.call('HMGET', b.key, 'win_start', 'win_taken', 'use')
  local win_start, win_taken, use = tonumber(h[1]) or now, tonumber(h[2]) or 0, tonumber(h[3]) or 0
  if now - win_start >= window then
    use = win_taken / (now - win_start)
    win_start, win_taken = now, granted
  else
    win_taken = win_taken + granted
  end
  redis.call('HSET', b.key, 'tokens', tostring(b.available - granted), 'at', tostring(now),
             'rate', tostring(b.rate_now), 'set', b.set_s, 'win_start', tostring(win_start),
             'win_taken', tostring(win_taken), 'use', tostring(use))
  redis.call('HINCRBY', b.key, 'taken', granted)
end

local account = nil
if tonumber(ARGV[3]) >= 0 then account = refill(KEYS[1], ARGV[3], tonumber(ARGV[4])) end
local can = math.huge
if account then can = math.floor(account.available) end
local out, total = {}, 0
for i = 2, #KEYS do
  local j = 5 + (i - 2) * 3
  local want, burst = tonumber(ARGV[j]), tonumber(ARGV[j + 2])
  local s = nil
  if tonumber(ARGV[j + 1]) >= 0 then s = refill(KEYS[i], ARGV[j + 1], burst) end
  local cap = want
  if s then cap = math.min(cap, math.floor(s.available)) end
  local granted = math.max(0, math.min(cap, can - total))
  total = total + granted
  table.insert(out, tostring(granted))
  if s then
    save(s, granted)
    table.insert(out, tostring(s.available)); table.insert(out, tostring(s.rate_now))
  else
    table.insert(out, ''); table.insert(out, '')
  end
end
if account then
  save(account, total)
  table.insert(out, tostring(account.available - total)); table.insert(out, tostring(account.rate_now))
else
  table.insert(out, ''); table.insert(out, '')
end
return out
"""

# A 429 (lanes.sql.THROTTLED_SQL's rule): KEYS[1] the bucket to lower; ARGV: calm, floor, factor, set rate.
THROTTLED_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local set = tonumber(ARGV[4])
local h = redis.call('HMGET', KEYS[1], 'rate', 'last_throttled', 'set', 'tokens', 'at')
local rate = tonumber(h[1]) or set
if h[3] ~= ARGV[4] or rate <= 0 then rate = set end
local last = tonumber(h[2]) or 0
if now - last >= tonumber(ARGV[1]) then
  rate = math.max(set * tonumber(ARGV[2]), rate * tonumber(ARGV[3]))
  last = now
end
local tokens = math.min(tonumber(h[4]) or 0, 0)
redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'last_throttled', tostring(last), 'tokens', tostring(tokens),
           'set', ARGV[4], 'at', h[5] or tostring(now))
redis.call('HINCRBY', KEYS[1], 'throttled', 1)
return 1
"""

_lock = threading.Lock()
_client = None
_client_pid = 0
_scripts: dict = {}
_config: dict[str, tuple[str, int]] = {}
_config_at = float("-inf")


def client():
    """One Redis client per process (after django-q2's fork), with short timeouts and no retries: a grant
    waits for Redis at most BUCKETS_REDIS_TIMEOUT_SECONDS, then fails closed. No retries, said outright
    (redis-py 8.1 retries nothing unless told, but its retry defaults have changed between releases): the
    hand-off asks again anyway, and retries with backoff would make a grant wait seconds."""
    global _client, _client_pid
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    with _lock:
        if _client is None or _client_pid != os.getpid():
            timeout = settings.BUCKETS_REDIS_TIMEOUT_SECONDS
            _client = redis.Redis.from_url(
                settings.BUCKETS_REDIS_URL,
                socket_connect_timeout=timeout,
                socket_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
                retry_on_timeout=False,
            )
            _scripts["take"] = _client.register_script(TAKE_LUA)
            _scripts["throttled"] = _client.register_script(THROTTLED_LUA)
            _client_pid = os.getpid()
        return _client


def forget() -> None:
    """Drop the cached settings and client (tests changing the URL or the rows)."""
    global _client, _config_at
    with _lock:
        _client, _config_at = None, float("-inf")
        _config.clear()


def config() -> dict[str, tuple[str, int]]:
    """{bucket name: (set rate as the script stores it, burst)}, read again after BUCKETS_CONFIG_SECONDS."""
    global _config_at
    if time.monotonic() - _config_at < settings.BUCKETS_CONFIG_SECONDS:
        return _config
    from lanes.models import RateBucket

    fresh = {
        name: (repr(float(rate)), burst)
        for name, rate, burst in RateBucket.objects.values_list("name", "rate_per_s", "burst")
    }
    with _lock:
        _config.clear()
        _config.update(fresh)
        _config_at = time.monotonic()
    return _config


def key(name: str) -> str:
    """The Redis key of bucket `name`: its account in braces (the hash tag), then its sender if any."""
    provider, _, rest = name.partition(":")
    account, _, sender = rest.partition(":")
    return f"kalix:bucket:{{{provider}:{account}}}" + (f":{sender}" if sender else "")


def take(account: str, wants: dict[str, int]) -> list[tuple]:
    """One script for the grant: [(sender name, granted, sender available, sender rate, account left,
    account rate)], None where there is no row (lanes.buckets.Taken's fields)."""
    known = config()
    c = client()
    keys, args = [key(account)], [settings.BUCKET_RECOVER_PER_S, WINDOW_SECONDS]
    rate, burst = known.get(account, ("-1", 0))
    args += [rate, burst]
    for name, want in wants.items():
        rate, burst = known.get(name, ("-1", 0)) if name else ("-1", 0)
        keys.append(key(name) if name else key(account))  # a placeholder, never read without a row
        args += [want, rate, burst]
    out = [v.decode() if isinstance(v, bytes) else v for v in _scripts["take"](keys=keys, args=args, client=c)]
    account_left, account_rate = _number(out[-2]), _number(out[-1])
    return [
        (name, int(float(out[3 * i])), _number(out[3 * i + 1]), _number(out[3 * i + 2]), account_left, account_rate)
        for i, name in enumerate(wants)
    ]


def throttled(account: str, sender: str, *, calm: float, floor: float, factor: float) -> None:
    known = config()
    target = sender if sender in known else account
    if target not in known:
        return  # neither has a row: not limited by us
    c = client()
    _scripts["throttled"](keys=[key(target)], args=[calm, floor, factor, known[target][0]], client=c)


def state(names: list[str]) -> dict[str, dict[str, str]]:
    """Each bucket's state as Redis holds it (rate now, use, taken, 429s, last 429), one round trip."""
    c = client()
    pipe = c.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(key(name))
    return {
        name: {k.decode(): v.decode() for k, v in found.items()}
        for name, found in zip(names, pipe.execute(), strict=True)
    }


def _number(value: str) -> float | None:
    return None if value in ("", None) else float(value)
