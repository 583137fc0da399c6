"""Status vocabularies (Atlassian Statuspage's, value for value) and the allowed moves, as data."""

OPERATIONAL = "operational"
DEGRADED_PERFORMANCE = "degraded_performance"
PARTIAL_OUTAGE = "partial_outage"
MAJOR_OUTAGE = "major_outage"
UNDER_MAINTENANCE = "under_maintenance"

COMPONENT_STATUS_CHOICES = [
    (OPERATIONAL, "Operational"),
    (DEGRADED_PERFORMANCE, "Degraded performance"),
    (PARTIAL_OUTAGE, "Partial outage"),
    (MAJOR_OUTAGE, "Major outage"),
    (UNDER_MAINTENANCE, "Under maintenance"),
]
COMPONENT_STATUS_LABELS = dict(COMPONENT_STATUS_CHOICES)
# Worse is larger. Maintenance is not ranked: an active maintenance overrides everything.
SEVERITY = {OPERATIONAL: 0, DEGRADED_PERFORMANCE: 1, PARTIAL_OUTAGE: 2, MAJOR_OUTAGE: 3}

INVESTIGATING = "investigating"
IDENTIFIED = "identified"
MONITORING = "monitoring"
RESOLVED = "resolved"
POSTMORTEM = "postmortem"
SCHEDULED = "scheduled"
IN_PROGRESS = "in_progress"
VERIFYING = "verifying"
COMPLETED = "completed"

INCIDENT_STATUS_CHOICES = [
    (INVESTIGATING, "Investigating"),
    (IDENTIFIED, "Identified"),
    (MONITORING, "Monitoring"),
    (RESOLVED, "Resolved"),
    (POSTMORTEM, "Postmortem"),
]
MAINTENANCE_STATUS_CHOICES = [
    (SCHEDULED, "Scheduled"),
    (IN_PROGRESS, "In progress"),
    (VERIFYING, "Verifying"),
    (COMPLETED, "Completed"),
]
ALL_INCIDENT_STATUS_CHOICES = INCIDENT_STATUS_CHOICES + MAINTENANCE_STATUS_CHOICES
INCIDENT_STATUS_LABELS = dict(ALL_INCIDENT_STATUS_CHOICES)
CLOSED_STATUSES = {RESOLVED, POSTMORTEM, COMPLETED}

# Allowed moves. An update may repeat the current status (a progress note) unless it is closed.
INCIDENT_MOVES = {
    None: {INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED},
    INVESTIGATING: {INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED},
    IDENTIFIED: {INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED},
    MONITORING: {INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED},
    RESOLVED: {INVESTIGATING, RESOLVED, POSTMORTEM},  # reopen, amend, or publish the postmortem
    POSTMORTEM: {POSTMORTEM},
}
MAINTENANCE_MOVES = {
    None: {SCHEDULED, IN_PROGRESS},
    SCHEDULED: {SCHEDULED, IN_PROGRESS, COMPLETED},
    IN_PROGRESS: {IN_PROGRESS, VERIFYING, COMPLETED},
    VERIFYING: {IN_PROGRESS, VERIFYING, COMPLETED},
    COMPLETED: {COMPLETED},
}

IMPACT_NONE, IMPACT_MINOR, IMPACT_MAJOR, IMPACT_CRITICAL, IMPACT_MAINTENANCE = (
    "none",
    "minor",
    "major",
    "critical",
    "maintenance",
)
IMPACT_CHOICES = [
    (IMPACT_NONE, "None"),
    (IMPACT_MINOR, "Minor"),
    (IMPACT_MAJOR, "Major"),
    (IMPACT_CRITICAL, "Critical"),
    (IMPACT_MAINTENANCE, "Maintenance"),
]

# The page's indicator: Statuspage's none/minor/major/critical, and its descriptions.
INDICATOR_RANK = {"none": 0, "minor": 1, "major": 2, "critical": 3}
INDICATOR_DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
COMPONENT_INDICATOR = {
    OPERATIONAL: "none",
    UNDER_MAINTENANCE: "none",
    DEGRADED_PERFORMANCE: "minor",
    PARTIAL_OUTAGE: "major",
    MAJOR_OUTAGE: "critical",
}
IMPACT_INDICATOR = {
    IMPACT_NONE: "none",
    IMPACT_MINOR: "minor",
    IMPACT_MAJOR: "major",
    IMPACT_CRITICAL: "critical",
    IMPACT_MAINTENANCE: "none",
}


def worst(statuses) -> str:
    ranked = [s for s in statuses if s in SEVERITY]
    return max(ranked, key=SEVERITY.__getitem__) if ranked else OPERATIONAL


class TransitionError(ValueError):
    pass


def check_move(*, kind: str, current: str | None, new: str) -> None:
    moves = MAINTENANCE_MOVES if kind == "maintenance" else INCIDENT_MOVES
    if new not in moves.get(current, set()):
        raise TransitionError(f"Cannot move from {current or 'new'} to {new}.")


INDICATOR_CHOICES = [(value, value) for value in INDICATOR_RANK]
