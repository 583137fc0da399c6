"""Status vocabularies (Atlassian Statuspage's, value for value) and the allowed moves, as data."""

from kalix_site.transitions import Machine

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

NEW = ""  # an incident's status before its first update

# Allowed moves, as data (kalix_site.transitions): posting an update with status X is move X, from
# the statuses listed. An update may repeat the current status (a progress note) unless it is closed.
# A resolved incident may be reopened, amended, or get its postmortem.
INCIDENT = Machine(
    "incident",
    "status",
    {
        INVESTIGATING: ({NEW, INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED}, INVESTIGATING),
        IDENTIFIED: ({NEW, INVESTIGATING, IDENTIFIED, MONITORING}, IDENTIFIED),
        MONITORING: ({NEW, INVESTIGATING, IDENTIFIED, MONITORING}, MONITORING),
        RESOLVED: ({NEW, INVESTIGATING, IDENTIFIED, MONITORING, RESOLVED}, RESOLVED),
        POSTMORTEM: ({RESOLVED, POSTMORTEM}, POSTMORTEM),
    },
    states={NEW} | {status for status, _ in INCIDENT_STATUS_CHOICES},
)
MAINTENANCE = Machine(
    "maintenance",
    "status",
    {
        SCHEDULED: ({NEW, SCHEDULED}, SCHEDULED),
        IN_PROGRESS: ({NEW, SCHEDULED, IN_PROGRESS, VERIFYING}, IN_PROGRESS),
        VERIFYING: ({IN_PROGRESS, VERIFYING}, VERIFYING),
        COMPLETED: ({SCHEDULED, IN_PROGRESS, VERIFYING, COMPLETED}, COMPLETED),
        # The window's own moves (services.maintenance_tick): only from where the window was, so of two
        # ticks at once one moves it and the other finds nothing to move.
        "start": ({SCHEDULED}, IN_PROGRESS),
        "complete": ({IN_PROGRESS, VERIFYING}, COMPLETED),
    },
    states={NEW} | {status for status, _ in MAINTENANCE_STATUS_CHOICES},
)


def machine(kind: str) -> Machine:
    """The moves of an incident of this kind ("incident" or "maintenance")."""
    return MAINTENANCE if kind == "maintenance" else INCIDENT


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
INCIDENT_IMPACT_CHOICES = IMPACT_CHOICES[:4]  # what an incident may declare (maintenance is its own kind)

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


INDICATOR_CHOICES = [(value, value) for value in INDICATOR_RANK]
