"""Which queued messages a live-lane worker may claim now: the claim's CTEs, honouring what operators
set on the lane (lanes.state: pause, order, backlog share). messaging.worker.claim_batch runs them."""

from django.conf import settings

from lanes.state import claim_order_sql, lane_state
from messaging.models import Dispatch


def claim_batch_cte(*, lane: str, limit: int, where: str = "TRUE") -> tuple[str, dict]:
    """CTEs (without the leading WITH) ending in `batch(id)`: up to `limit` queued messages of `lane`
    that a worker may claim now, locked FOR UPDATE SKIP LOCKED, honouring the lane's pause, order and
    backlog share. `where` is extra SQL over messaging_message (e.g. "next_attempt_at <= now()").

    Returns (sql, params) with named %(claim_*)s parameters, to merge into the caller's own.
    """
    state = lane_state(lane)
    order = claim_order_sql(lane)
    reserved = 0
    if state.backlog_share > 0:
        reserved = max(1, round(limit * min(state.backlog_share, 1.0)))
    base = f"""SELECT id FROM messaging_message
                WHERE dispatch = %(claim_queued)s AND lane = %(claim_lane)s AND ({where})
                  AND NOT EXISTS (SELECT 1 FROM lanes_lane WHERE name = %(claim_lane)s AND paused)"""
    sql = f"""
        claim_backlog_share AS MATERIALIZED (
            {base} AND priority >= %(claim_backlog)s
            ORDER BY {order} LIMIT %(claim_reserved)s FOR UPDATE SKIP LOCKED
        ),
        claim_primary AS MATERIALIZED (
            {base} AND priority < %(claim_backlog)s
            ORDER BY {order}
            LIMIT greatest(0, %(claim_limit)s - (SELECT count(*) FROM claim_backlog_share))
            FOR UPDATE SKIP LOCKED
        ),
        claim_backlog_rest AS MATERIALIZED (
            {base} AND priority >= %(claim_backlog)s AND id NOT IN (SELECT id FROM claim_backlog_share)
            ORDER BY {order}
            LIMIT greatest(0, %(claim_limit)s - (SELECT count(*) FROM claim_backlog_share)
                                              - (SELECT count(*) FROM claim_primary))
            FOR UPDATE SKIP LOCKED
        ),
        batch AS (
            SELECT id FROM claim_backlog_share
            UNION ALL SELECT id FROM claim_primary
            UNION ALL SELECT id FROM claim_backlog_rest
        )"""
    params = {
        "claim_queued": str(Dispatch.QUEUED),
        "claim_lane": lane,
        "claim_backlog": settings.LANE_BACKLOG_PRIORITY,
        "claim_reserved": reserved,
        "claim_limit": limit,
    }
    return sql, params
