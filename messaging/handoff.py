"""Concurrent hand-off to a per-message provider: many requests in flight, one outcome per message.

Real SMS APIs take one message per request and answer in 100-300 ms, so a worker sending one after
another manages about five a second. Here a claimed batch goes out with up to PROVIDER_CONCURRENCY
requests in flight from a thread pool over one keep-alive HTTP session (why threads and not asyncio:
docs/decisions.md). The sim and Twilio adapters share this loop; they only say how one message is
sent (PerMessageProvider.send_one) and which account's bucket it draws from.

Invariants:
- at most once: the message's send key was committed before this runs (messaging.worker.claim_batch);
  a message is requested again here only after the provider said it did not process it (429);
- every outcome is per message: whatever one request raises or answers concerns that message only;
- the rate the account allows is shared by every worker on every machine: each request takes a token
  from the account's bucket (lanes.buckets) first, and a 429 lowers the bucket's rate;
- a 429 defers only the message it answered: it waits its Retry-After here (the claim is still ours,
  no attempt is counted), or, past PROVIDER_RETRY_AFTER_MAX_SECONDS, is deferred until then, still
  without counting an attempt.

Database work (the bucket) happens on the calling thread only; the pool's threads do HTTP and nothing
else, so they never hold a database connection.
"""

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from django.conf import settings

from lanes import buckets
from messaging.models import EventKind
from messaging.outcomes import UNKNOWN, Outcome, Throttled

log = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0
_pool_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    """One thread pool per process, made after django-q2 forked its workers (a pool does not survive fork)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(max_workers=settings.PROVIDER_CONCURRENCY, thread_name_prefix="handoff")
            _pool_pid = os.getpid()
        return _pool


def send_concurrently(provider, messages: list) -> Iterator:
    """Yield one Outcome per message, as each is answered."""
    context = provider.prepare()
    bucket = provider.bucket_name()
    limit = max(1, settings.PROVIDER_CONCURRENCY)
    cap = settings.PROVIDER_RETRY_AFTER_MAX_SECONDS
    waiting: deque = deque((m, 0.0) for m in messages)  # (message, not before: monotonic seconds)
    first_throttled: dict[int, float] = {}
    in_flight: dict[Future, object] = {}
    tokens = 0
    token_wait = 0.0
    executor = pool()
    while waiting or in_flight:
        now = time.monotonic()
        ready = sum(1 for _, not_before in waiting if not_before <= now)
        free = limit - len(in_flight)
        if ready and free and tokens == 0 and now >= token_wait:
            tokens, wait_s = buckets.take(bucket, min(ready, free))
            token_wait = now + wait_s if not tokens else 0.0
        for _ in range(len(waiting)):
            if not tokens or len(in_flight) >= limit:
                break
            m, not_before = waiting.popleft()
            if not_before > now:
                waiting.append((m, not_before))
                continue
            tokens -= 1
            in_flight[executor.submit(provider.send_one, m, context)] = m
        timeout = _next_wake(waiting, token_wait, now, tokens)
        if in_flight:
            done, _ = wait(list(in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
        else:
            time.sleep(timeout if timeout is not None else 0)
            done = set()
        for future in done:
            m = in_flight.pop(future)
            try:
                result = future.result()
            except Exception as exc:  # broad on purpose: one request's bug must not touch the other messages
                log.error("provider %s raised %s for one message, left unknown", provider.name, type(exc).__name__)
                result = Outcome(m.id, UNKNOWN, detail=f"provider error ({type(exc).__name__})")
            if isinstance(result, Throttled):
                buckets.throttled(bucket)
                since = first_throttled.setdefault(m.id, time.monotonic())
                if time.monotonic() - since + result.retry_after <= cap:
                    waiting.append((m, time.monotonic() + result.retry_after))
                    continue
                result = Outcome(
                    m.id,
                    EventKind.DEFERRED,
                    detail=result.detail,
                    retry_after=result.retry_after,
                    counts_attempt=False,
                    not_taken=True,
                )
            yield result


def _next_wake(waiting: deque, token_wait: float, now: float, tokens: int) -> float | None:
    """How long to wait for a request to finish before looking again (None: until one does)."""
    moments = [nb for _, nb in waiting if nb > now]
    if waiting and not tokens and token_wait > now:
        moments.append(token_wait)
    if waiting and not moments:
        return 0.002 if not tokens else None  # waiting for tokens without a known time: look again soon
    return max(0.0, min(moments) - now) if moments else None
