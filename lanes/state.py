"""What operators set per lane (paused, order, backlog share), as the workers read it.

Lane rows change only through lanes.controls. A queued item whose priority is at or above
LANE_BACKLOG_PRIORITY is in its lane's backlog: claimed only when the primary queue is empty, or at the
lane's backlog share. Every drainer of a kind that honours pause asks lane_paused() before each claim.
"""

from lanes.models import Lane, LaneOrder
from lanes.sql import CLAIM_ORDER_SQL


def lane_state(lane: str) -> Lane:
    """The Lane row for `lane` (an unsaved default one if nobody has set anything yet)."""
    return Lane.objects.filter(name=lane).first() or Lane(name=lane)


def lane_paused(lane: str) -> bool:
    return Lane.objects.filter(name=lane, paused=True).exists()


def claim_order_sql(lane: str) -> str:
    """The ORDER BY a claim of queued items in `lane` must use (priority first, then age)."""
    order = lane_state(lane).order
    return CLAIM_ORDER_SQL.get(order, CLAIM_ORDER_SQL[LaneOrder.OLDEST])  # anything else: oldest first
