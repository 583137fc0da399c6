"""`manage.py lanes`: see and steer the lanes, as the admin dashboard does. Every change is recorded."""

import re
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from lanes import controls as lane_controls
from lanes.models import LaneAction, LaneOrder
from lanes.stats import dashboard

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _duration(value: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([smhd])", value)
    if not match:
        raise CommandError(f"{value!r} is not a duration like 90s, 30m, 2h or 1d")
    return timedelta(**{UNITS[match[2]]: int(match[1])})


class Command(BaseCommand):
    help = "Lane status and controls: status, pause, resume, order, backlog, restore, share, promote, undo, log."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="command", required=True)
        sub.add_parser("status")
        pause = sub.add_parser("pause", help="Stops every kind the lane carries, for every clinic.")
        pause.add_argument("lane")
        pause.add_argument("--reason", help="Why (required; kept in the audit log).")
        resume = sub.add_parser("resume")
        resume.add_argument("lane")
        resume.add_argument("--reason", default="", help="Why (kept in the audit log).")
        sub.add_parser("restore").add_argument("lane")
        order = sub.add_parser("order")
        order.add_argument("lane")
        order.add_argument("order", choices=LaneOrder.values)
        backlog = sub.add_parser("backlog", help="Move queued items older than --older-than to the backlog.")
        backlog.add_argument("lane")
        backlog.add_argument("--older-than", required=True, help="e.g. 30m, 2h, 1d")
        share = sub.add_parser("share", help="Share of each batch taken from the backlog (0..1).")
        share.add_argument("lane")
        share.add_argument("share", type=float)
        promote = sub.add_parser("promote")
        promote.add_argument("lane")
        promote.add_argument("ids", type=int, nargs="+")
        undo = sub.add_parser("undo")
        undo.add_argument("action_id", type=int)
        undo.add_argument("--reason", default="", help="Why (required when the undo pauses a lane).")
        sub.add_parser("log")

    def handle(self, *args, command, **o):
        try:
            if command == "status":
                return self.status()
            if command == "log":
                return self.log()
            action = self.act(command, o)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        why = f", because {action.reason}" if action.reason else ""
        self.stdout.write(f"#{action.pk} {action.lane}: {action.action}, {action.rows} rows ({action.detail}{why})")

    def act(self, command, o) -> LaneAction:
        if command == "pause":
            return lane_controls.lane_pause(lane=o["lane"], reason=o["reason"])
        if command == "resume":
            return lane_controls.lane_resume(lane=o["lane"], reason=o["reason"])
        if command == "restore":
            return lane_controls.lane_restore_backlog(lane=o["lane"])
        if command == "order":
            return lane_controls.lane_set_order(lane=o["lane"], order=o["order"])
        if command == "backlog":
            return lane_controls.lane_move_to_backlog(lane=o["lane"], older_than=_duration(o["older_than"]))
        if command == "share":
            return lane_controls.lane_set_backlog_share(lane=o["lane"], share=o["share"])
        if command == "promote":
            return lane_controls.lane_promote(lane=o["lane"], ids=o["ids"])
        action = LaneAction.objects.filter(pk=o["action_id"]).first()
        if action is None:
            raise CommandError(f"No lane action #{o['action_id']}")
        return lane_controls.lane_action_undo(action=action, reason=o["reason"])

    def status(self):
        for lane in dashboard():
            state = lane["state"]
            age = f"{lane['oldest_age_s']:.0f}s" if lane["oldest_age_s"] is not None else "-"
            rates = "/".join(f"{lane['per_min'][m]:.0f}" for m in (1, 5, 15))
            steering = []
            if "order" in lane["controls"]:
                steering.append(f"{state.order} first")
            if "backlog" in lane["controls"]:
                steering.append(f"backlog share {state.backlog_share:.0%}")
            self.stdout.write(
                f"{lane['name']:5} {'PAUSED' if state.paused else 'running'}"
                f"{' ' + ', '.join(steering) if steering else ''}; depth {lane['depth']} {lane['kinds']}, "
                f"oldest {age}, done/min (1/5/15) {rates}, workers {lane['health']['workers']}; "
                f"a pause stops {', '.join(lane['stops_on_pause']) or 'nothing'}"
            )

    def log(self):
        for a in LaneAction.objects.select_related("actor")[:30]:
            who = a.actor.username if a.actor else "command line"
            when = f"{a.at:%Y-%m-%d %H:%M:%S}"
            why = f" ({a.reason})" if a.reason else ""
            self.stdout.write(f"#{a.pk} {when} {who:12} {a.lane:5} {a.action:14} {a.rows:7} {a.detail}{why}")
