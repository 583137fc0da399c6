"""Concurrent hand-off to a per-message provider: many requests in flight, one outcome per message.

Real SMS APIs take one message per request and answer in 100-300 ms, so a worker sending one after
another manages about five a second. Here a claimed batch goes out with up to PROVIDER_CONCURRENCY
requests in flight from a thread pool over one keep-alive HTTP session (why threads and not asyncio:
docs/decisions.md). The sim and Twilio adapters share this loop; they only say how one message is
sent (PerMessageProvider.send_one), which account's bucket it draws from, and each message's sender.

Invariants:
- at most once: the message's send key was committed before this runs (messaging.worker.claim_batch);
  a message is requested again here only after the provider said it did not process it (429);
- every outcome is per message: whatever one request raises or answers concerns that message only;
- the rate the account allows, and each of its senders, is shared by every worker on every machine:
  each request takes a token from its account's bucket and its sender's (lanes.buckets) first, in one
  grant for every sender of the batch, and a 429 lowers the rate of the sender's bucket (or account's);
- a sender at its limit holds back only its own messages: the others of the batch go on;
- a rate limiter that does not answer (the buckets' Redis) lets nothing through: the hand-off asks again
  and, past PROVIDER_RETRY_AFTER_MAX_SECONDS, defers what it has not sent, without counting an attempt;
- a 429 defers only the message it answered: it waits its Retry-After here (the claim is still ours,
  no attempt is counted), or, past PROVIDER_RETRY_AFTER_MAX_SECONDS, is deferred until then, still
  without counting an attempt;
- a hand-off ends within PROVIDER_HANDOFF_MAX_SECONDS (well inside the live lane's task timeout): what a
  slow bucket (a sender allowed 1 a second, a claim of 128) has not let out by then is deferred, not
  requested, without counting an attempt, so the worker is never killed mid-claim and the queue's order
  (a message a person just wrote) comes round again.

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
    account = provider.bucket_name()
    sender_of = {m.id: buckets.sender_bucket(account, provider.sender(m, context)) for m in messages}
    limit = max(1, settings.PROVIDER_CONCURRENCY)
    cap = settings.PROVIDER_RETRY_AFTER_MAX_SECONDS
    waiting: deque = deque((m, 0.0) for m in messages)  # (message, not before: monotonic seconds)
    first_throttled: dict[int, float] = {}
    in_flight: dict[Future, object] = {}
    tokens: dict[str, int] = {}  # by sender bucket ('' for none): granted, not yet used
    token_wait: dict[str, float] = {}  # by sender bucket: ask again not before (monotonic seconds)
    limiter_down_since: float | None = None  # the buckets' Redis stopped answering (fail closed)
    give_back_at = time.monotonic() + settings.PROVIDER_HANDOFF_MAX_SECONDS
    executor = pool()
    while waiting or in_flight:
        now = time.monotonic()
        if waiting and now >= give_back_at:  # what the buckets have not let out goes back to the queue
            yield from (_out_of_time(m, token_wait.get(sender_of[m.id], 0.0) - now) for m, _ in waiting)
            waiting.clear()
            continue
        free = limit - len(in_flight) - sum(tokens.values())
        wants = _wants(waiting, sender_of, tokens, token_wait, now, free)
        if wants:  # one round trip for every sender's ready requests
            grants = buckets.take_for(account, wants)
            for sender, grant in grants.items():
                tokens[sender] = tokens.get(sender, 0) + grant.granted
                wait_s = min(grant.wait_s, cap) if grant.unavailable else grant.wait_s  # ask again by the cap
                token_wait[sender] = now + wait_s if grant.granted < wants[sender] else 0.0
            down = any(g.unavailable for g in grants.values())
            limiter_down_since = (limiter_down_since or now) if down else None
            if down and now - limiter_down_since >= cap:  # give the claim back: nothing of it was sent
                yield from (_limiter_down(m) for m, _ in waiting)
                waiting.clear()
        for _ in range(len(waiting)):
            if not any(tokens.values()) or len(in_flight) >= limit:
                break
            m, not_before = waiting.popleft()
            sender = sender_of[m.id]
            if not_before > now or not tokens.get(sender):  # not yet, or its sender is at its limit
                waiting.append((m, not_before))
                continue
            tokens[sender] -= 1
            in_flight[executor.submit(provider.send_one, m, context)] = m
        timeout = _next_wake(waiting, sender_of, tokens, token_wait, now, full=len(in_flight) >= limit)
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
                buckets.throttled(account, sender_of[m.id])
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


def _limiter_down(m) -> Outcome:
    """Not sent: the rate limiter did not answer for PROVIDER_RETRY_AFTER_MAX_SECONDS. Deferred, no attempt."""
    return Outcome(
        m.id,
        EventKind.DEFERRED,
        detail="waiting for the rate limiter (its Redis does not answer)",
        retry_after=settings.BUCKETS_REDIS_RETRY_SECONDS,
        counts_attempt=False,
        not_taken=True,
    )


def _out_of_time(m, wait_s: float) -> Outcome:
    """Not sent: its bucket let it out neither within the hand-off's time. Deferred until about its next
    token, no attempt counted."""
    return Outcome(
        m.id,
        EventKind.DEFERRED,
        detail="waiting for the provider's rate limit",
        retry_after=max(1.0, wait_s),
        counts_attempt=False,
        not_taken=True,
    )


def _wants(waiting: deque, sender_of: dict, tokens: dict, token_wait: dict, now: float, free: int) -> dict:
    """How many tokens to ask for, by sender: its ready requests, in the queue's order, up to the free
    places in flight; none for a sender holding tokens or told to wait."""
    wants: dict[str, int] = {}
    for m, not_before in waiting:
        if sum(wants.values()) >= free:
            break
        sender = sender_of[m.id]
        if not_before <= now and not tokens.get(sender) and token_wait.get(sender, 0.0) <= now:
            wants[sender] = wants.get(sender, 0) + 1
    return wants


def _next_wake(
    waiting: deque, sender_of: dict, tokens: dict, token_wait: dict, now: float, *, full: bool
) -> float | None:
    """How long to wait for a request to finish before looking again (None: until one does)."""
    moments = []
    for m, not_before in waiting:
        sender = sender_of[m.id]
        if not_before > now:
            moments.append(not_before)
        elif not tokens.get(sender):
            wait_until = token_wait.get(sender, 0.0)
            if wait_until > now:
                moments.append(wait_until)
            elif not full:  # waiting for tokens without a known time: look again soon
                moments.append(now + 0.002)
    return max(0.0, min(moments) - now) if moments else None
