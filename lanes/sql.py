"""lanes' raw SQL, in one place: the statements as named constants, read by column name through
kalix_site.sql. Who runs them: lanes.reindex (the per-job advisory lock), lanes.pokes (the waiting
poke), lanes.state (the claim order a domain app's claim statement uses)."""

from lanes.models import LaneOrder

# --- "Someone runs re-index job N": a session advisory lock (lanes.reindex) ---------------------------

JOB_TRY_LOCK_SQL = "SELECT pg_try_advisory_lock(%s, %s) AS locked"
JOB_UNLOCK_SQL = "SELECT pg_advisory_unlock(%s, %s)"

# --- A poke waiting in the broker, upserted (lanes.pokes) ---------------------------------------------

# The same poke waits already, sent within the resend time: a read, no lock (the usual case).
WAITING_SQL = (
    "SELECT 1 AS waiting FROM lanes_waitingpoke WHERE key = %s AND sent_at >= now() - make_interval(secs => %s)"
)
# A row comes back (`waiting`) unless the same poke waits already and was sent within the resend time.
MARK_WAITING_SQL = """INSERT INTO lanes_waitingpoke (key, lane, sent_at) VALUES (%s, %s, now())
               ON CONFLICT (key) DO UPDATE SET sent_at = excluded.sent_at
                WHERE lanes_waitingpoke.sent_at < now() - make_interval(secs => %s)
               RETURNING 1 AS waiting"""

# --- The ORDER BY of a claim of queued items, by the lane's order (lanes.state.claim_order_sql) ----------

CLAIM_ORDER_SQL = {LaneOrder.OLDEST: "priority, id", LaneOrder.NEWEST: "priority, id DESC"}

# --- Token buckets shared by every worker (lanes.buckets) ---------------------------------------------

WINDOW_SECONDS = 5.0  # the window of the dashboard's "current use" (here and in lanes.redis_buckets)

# One grant for a hand-off's ready requests, by sender: `names` are their senders' bucket names ('' for
# a request with no sender bucket) and `wants` how many each wants. Every row involved (the account's
# and the senders' that exist) is locked in name order (an account's name sorts before its senders', so
# two grants never deadlock) and refilled by the time since its last take at its current rate (which
# climbs back towards rate_per_s by `recover` of it a second after a 429 lowered it). A sender gets at
# most its own whole tokens, and the senders together at most the account's, handed out in the order
# given; the account gives exactly what its senders get, so a request takes from both or from neither.
# A sender with no row is limited by the account alone; an account with no row by its senders alone
# (no account: nothing to share out, each sender gets its own cap).
# The database's clock: every machine measures time the same way.
TAKE_TOKENS_SQL = """
WITH want AS (
    SELECT w.name, w.want, w.n FROM unnest(%(names)s::text[], %(wants)s::int[]) WITH ORDINALITY AS w(name, want, n)
), b AS (
    SELECT name, greatest(burst, 1)::float8 AS burst, tokens, rate_per_s,
           greatest(0, extract(epoch FROM clock_timestamp() - refilled_at))::float8 AS elapsed,
           CASE WHEN current_rate <= 0 THEN rate_per_s ELSE least(current_rate, rate_per_s) END AS rate_was,
           extract(epoch FROM clock_timestamp() - window_started_at)::float8 AS window_s
      FROM lanes_ratebucket WHERE name = %(account)s OR name = ANY(%(names)s::text[])
     ORDER BY name FOR UPDATE
), f AS (
    SELECT name, window_s, least(rate_per_s, rate_was + rate_per_s * %(recover)s * elapsed) AS rate_now,
           least(burst, tokens + elapsed * rate_was) AS available
      FROM b
), account AS (
    SELECT floor(available)::int AS can, available, rate_now FROM f WHERE name = %(account)s
), capped AS (
    SELECT w.name, w.n, least(w.want, coalesce(floor(f.available)::int, w.want)) AS cap, f.available, f.rate_now
      FROM want w LEFT JOIN f ON f.name = w.name AND w.name <> %(account)s
), g AS (
    SELECT c.name, c.available, c.rate_now,
           greatest(0, least(c.cap, coalesce((SELECT can FROM account), 2147483647)
                                    - (sum(c.cap) OVER (ORDER BY c.n) - c.cap)))::int AS granted
      FROM capped c
), per_row AS (
    SELECT name, granted FROM g WHERE available IS NOT NULL
    UNION ALL
    SELECT %(account)s, (SELECT coalesce(sum(granted), 0) FROM g)::int WHERE EXISTS (SELECT FROM account)
), taken AS (
    UPDATE lanes_ratebucket r
       SET tokens = f.available - p.granted, current_rate = f.rate_now, refilled_at = clock_timestamp(),
           taken = r.taken + p.granted,
           window_taken = CASE WHEN f.window_s >= %(window)s THEN p.granted ELSE r.window_taken + p.granted END,
           window_started_at = CASE WHEN f.window_s >= %(window)s THEN clock_timestamp() ELSE r.window_started_at END,
           use_per_s = CASE WHEN f.window_s >= %(window)s THEN r.window_taken / f.window_s ELSE r.use_per_s END
      FROM f JOIN per_row p ON p.name = f.name
     WHERE r.name = f.name
)
SELECT g.name, g.granted, g.available AS sender_available, g.rate_now AS sender_rate,
       a.available - (SELECT sum(granted) FROM g) AS account_left, a.rate_now AS account_rate
  FROM g LEFT JOIN account a ON true
"""

# A 429: the provider's own bucket is empty. Ours is emptied, and its rate lowered (at most once per
# `calm` seconds, so one burst of 429s answered together lowers it once). Which of ours: the sender's
# when it has a row (a 429 cannot say whether the sender's limit or the account's answered it, and
# lowering the account would slow every other sender), else the account's.
THROTTLED_SQL = """
UPDATE lanes_ratebucket
   SET throttled = throttled + 1, tokens = least(tokens, 0),
       current_rate = CASE
           WHEN last_throttled_at > clock_timestamp() - make_interval(secs => %(calm)s)
           THEN current_rate
           ELSE greatest(rate_per_s * %(floor)s,
                         (CASE WHEN current_rate <= 0 THEN rate_per_s ELSE current_rate END) * %(factor)s) END,
       last_throttled_at = CASE
           WHEN last_throttled_at > clock_timestamp() - make_interval(secs => %(calm)s)
           THEN last_throttled_at ELSE clock_timestamp() END
 WHERE name = (SELECT name FROM lanes_ratebucket WHERE name IN (%(sender)s, %(name)s)
                ORDER BY name = %(sender)s DESC LIMIT 1)
"""

# --- Circuit breakers (lanes.circuits) ------------------------------------------------------------------

# A hand-off that reached the provider: the circuit closes and its count of failures starts again.
CIRCUIT_OK_SQL = """
UPDATE lanes_circuit SET state = 'closed', failures = 0, detail = '', opened_at = NULL, probe_at = NULL,
       updated_at = clock_timestamp()
 WHERE name = %(name)s AND (state <> 'closed' OR failures > 0)
"""
# Failures with no success: counted; at the threshold the circuit opens (a failed probe keeps it open,
# waiting twice as long for the next one, up to the max).
CIRCUIT_ROW_SQL = """
INSERT INTO lanes_circuit (name, state, failures, detail, updated_at)
VALUES (%(name)s, 'closed', 0, '', clock_timestamp())
ON CONFLICT (name) DO NOTHING
"""
CIRCUIT_FAILED_SQL = """
UPDATE lanes_circuit
   SET failures = failures + %(failed)s,
       state = CASE WHEN failures + %(failed)s >= %(threshold)s THEN 'open' ELSE state END,
       opened_at = CASE WHEN state = 'closed' AND failures + %(failed)s >= %(threshold)s
                        THEN clock_timestamp() ELSE opened_at END,
       probe_at = CASE WHEN failures + %(failed)s < %(threshold)s THEN probe_at
                       WHEN state = 'open' THEN clock_timestamp() + make_interval(secs => least(
                            %(cooldown_max)s, %(cooldown)s * power(2, least(20, (failures - %(threshold)s + 1)))))
                       ELSE clock_timestamp() + make_interval(secs => %(cooldown)s) END,
       detail = %(detail)s, updated_at = clock_timestamp()
 WHERE name = %(name)s
RETURNING name
"""
# The open circuits' names (claims skip their channels), and whether a probe is due for each.
OPEN_CIRCUITS_SQL = """
SELECT name, probe_at <= clock_timestamp() AS probe_due FROM lanes_circuit WHERE state = 'open'
"""
# One worker takes the due probe (compare and set): nobody else probes until it has answered.
TAKE_PROBE_SQL = """
UPDATE lanes_circuit SET probe_at = clock_timestamp() + make_interval(secs => %(cooldown)s)
 WHERE name = %(name)s AND state = 'open' AND probe_at <= clock_timestamp()
RETURNING name
"""
