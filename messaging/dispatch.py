"""The send pipeline's states (Message.dispatch) and the only moves allowed between them, as data.

This is our own work state, not the staff status (which is derived from events, messaging.status).
Every move is a conditional UPDATE (kalix_site.transitions): a row that is no longer in an allowed
`from` state is simply not updated, so two processes can never both make the same move. The worker's
set-based statements (claim, withhold, record outcomes) read their from- and to-states from this table.
"""

from kalix_site.transitions import Machine
from messaging.models import Dispatch

DISPATCH = Machine(
    "message",
    "dispatch",
    {
        "queue": ({Dispatch.HELD}, Dispatch.QUEUED),  # the patient opted in
        "claim": ({Dispatch.QUEUED}, Dispatch.HANDING_OFF),  # a worker takes it for hand-off (send key committed first)
        "handed_off": ({Dispatch.HANDING_OFF}, Dispatch.HANDED_OFF),  # the provider answered: accepted or rejected
        "retry_later": ({Dispatch.HANDING_OFF}, Dispatch.QUEUED),  # a temporary problem: back in the queue, delayed
        "give_up": ({Dispatch.HANDING_OFF}, Dispatch.DONE),  # a hard failure, or retries exhausted
        "recover": ({Dispatch.HANDING_OFF}, Dispatch.DONE),  # its worker died; what the provider knows decides the rest
        "cancel": ({Dispatch.HELD, Dispatch.QUEUED}, Dispatch.DONE),  # staff, before any hand-off
        "withhold": ({Dispatch.QUEUED}, Dispatch.DONE),  # a worker, at the claim: consent changed after it was queued
    },
    states=Dispatch.values,
)
