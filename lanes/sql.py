"""lanes' raw SQL, in one place: the statements as named constants, read by column name through
kalix_site.sql. Who runs them: lanes.reindex (the per-job advisory lock), lanes.pokes (the waiting
poke), lanes.state (the claim order a domain app's claim statement uses)."""

from lanes.models import LaneOrder

# --- "Someone runs re-index job N": a session advisory lock (lanes.reindex) ---------------------------

JOB_TRY_LOCK_SQL = "SELECT pg_try_advisory_lock(%s, %s) AS locked"
JOB_UNLOCK_SQL = "SELECT pg_advisory_unlock(%s, %s)"

# --- A poke waiting in the broker, upserted (lanes.pokes) ---------------------------------------------

# The same poke waits already, sent within the resend time: a read, no lock (the usual case).
WAITING_SQL = "SELECT 1 FROM lanes_waitingpoke WHERE key = %s AND sent_at >= now() - make_interval(secs => %s)"
# A row comes back (`waiting`) unless the same poke waits already and was sent within the resend time.
MARK_WAITING_SQL = """INSERT INTO lanes_waitingpoke (key, lane, sent_at) VALUES (%s, %s, now())
               ON CONFLICT (key) DO UPDATE SET sent_at = excluded.sent_at
                WHERE lanes_waitingpoke.sent_at < now() - make_interval(secs => %s)
               RETURNING 1 AS waiting"""

# --- The ORDER BY of a claim of queued items, by the lane's order (lanes.state.claim_order_sql) ----------

CLAIM_ORDER_SQL = {LaneOrder.OLDEST: "priority, id", LaneOrder.NEWEST: "priority, id DESC"}

# --- Token buckets shared by every worker (lanes.buckets) ---------------------------------------------

# Refill by the time since the last take at the bucket's current rate (which climbs back towards
# rate_per_s by `recover` of it a second after a 429 lowered it), then grant up to `want` whole tokens.
# The database's clock: every machine measures time the same way.
TAKE_TOKENS_SQL = """
WITH b AS (
    SELECT name, greatest(burst, 1)::float8 AS burst, tokens, rate_per_s,
           greatest(0, extract(epoch FROM clock_timestamp() - refilled_at))::float8 AS elapsed,
           CASE WHEN current_rate <= 0 THEN rate_per_s ELSE least(current_rate, rate_per_s) END AS rate_was,
           extract(epoch FROM clock_timestamp() - window_started_at)::float8 AS window_s
      FROM lanes_ratebucket WHERE name = %(name)s FOR UPDATE
), f AS (
    SELECT name, window_s, least(rate_per_s, rate_was + rate_per_s * %(recover)s * elapsed) AS rate_now,
           least(burst, tokens + elapsed * rate_was) AS available
      FROM b
), g AS (
    SELECT name, window_s, rate_now, available, least(%(want)s, floor(available))::int AS granted FROM f
)
UPDATE lanes_ratebucket r
   SET tokens = g.available - g.granted, current_rate = g.rate_now, refilled_at = clock_timestamp(),
       taken = r.taken + g.granted,
       window_taken = CASE WHEN g.window_s >= %(window)s THEN g.granted ELSE r.window_taken + g.granted END,
       window_started_at = CASE WHEN g.window_s >= %(window)s THEN clock_timestamp() ELSE r.window_started_at END,
       use_per_s = CASE WHEN g.window_s >= %(window)s THEN r.window_taken / g.window_s ELSE r.use_per_s END
  FROM g
 WHERE r.name = g.name
RETURNING g.granted, g.available, g.rate_now
"""

# A 429: the provider's own bucket is empty. Ours is emptied, and its rate lowered (at most once per
# `calm` seconds, so one burst of 429s answered together lowers it once).
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
 WHERE name = %(name)s
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
