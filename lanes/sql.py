"""lanes' raw SQL, in one place: the statements as named constants, read by column name through
kalix_site.sql. Who runs them: lanes.reindex (the per-job advisory lock), lanes.pokes (the waiting
poke), lanes.state (the claim order a domain app's claim statement uses)."""

from lanes.models import LaneOrder

# --- "Someone runs re-index job N": a session advisory lock (lanes.reindex) ---------------------------

JOB_TRY_LOCK_SQL = "SELECT pg_try_advisory_lock(%s, %s) AS locked"
JOB_UNLOCK_SQL = "SELECT pg_advisory_unlock(%s, %s)"

# --- A poke waiting in the broker, upserted (lanes.pokes) ---------------------------------------------

# A row comes back (`waiting`) unless the same poke waits already and was sent within the resend time.
MARK_WAITING_SQL = """INSERT INTO lanes_waitingpoke (key, lane, sent_at) VALUES (%s, %s, now())
               ON CONFLICT (key) DO UPDATE SET sent_at = excluded.sent_at
                WHERE lanes_waitingpoke.sent_at < now() - make_interval(secs => %s)
               RETURNING 1 AS waiting"""

# --- The ORDER BY of a claim of queued items, by the lane's order (lanes.state.claim_order_sql) ----------

CLAIM_ORDER_SQL = {LaneOrder.OLDEST: "priority, id", LaneOrder.NEWEST: "priority, id DESC"}
