"""Whether sending is running as it should, in the words staff need while it is not.

Operations can pause the live lane (lanes.controls); staff then see their message as "Pending ·
Queued" with no reason. This reads the lane's state through lanes' public API, and this clinic's own
queue for a delay (a queued message due longer ago than MESSAGING_LATE_AFTER_SECONDS), and says what
that means for the message just written. One cheap query each: it runs on every messaging page.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from clinics.models import Clinic
from lanes.pokes import LIVE
from lanes.state import lane_paused
from messaging.models import Dispatch, Message

PAUSED = "Sending is paused by operations; your message is queued and goes out when it resumes."
LATE = (
    "Sending is running late: messages are waiting longer than usual. "
    "Your message is queued and goes out as soon as it can."
)


def sending_notice(*, clinic: Clinic | None) -> str:
    """What staff should know about sending now, or ""."""
    if lane_paused(LIVE):
        return PAUSED
    if clinic is None:
        return ""
    late = timezone.now() - timedelta(seconds=settings.MESSAGING_LATE_AFTER_SECONDS)
    waiting = Message.objects.filter(clinic=clinic, lane=LIVE, dispatch=Dispatch.QUEUED, next_attempt_at__lt=late)
    return LATE if waiting.exists() else ""


def notice_context(request) -> dict:
    return {"sending_notice": sending_notice(clinic=request.clinic)}
