"""Durations as the public reads them, and Markdown that cannot carry script."""

from datetime import timedelta

import pytest

from statuspage.text import format_duration, render_markdown


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(minutes=7), "0h 7m"),
        (timedelta(hours=23, minutes=59, seconds=59), "23h 59m"),  # just under a day: hours and minutes
        (timedelta(days=1), "1d 0h"),  # a day: days and hours
        (timedelta(days=1, minutes=59), "1d 0h"),
        (timedelta(days=7, hours=4, minutes=30), "7d 4h"),
    ],
)
def test_duration_format_on_both_sides_of_a_day(duration, text):
    assert format_duration(duration) == text


def test_duration_labels_say_lasting_once_resolved_and_ongoing_while_open(components, open_incident):
    from django.utils import timezone

    from statuspage import selectors, services, states

    start = timezone.now() - timedelta(days=7, hours=4, minutes=10)
    incident = open_incident(started_at=start)
    assert selectors.duration_label(incident, now=start + timedelta(hours=5)) == "ongoing for 5h 0m"
    services.incident_post_update(
        incident=incident, status=states.RESOLVED, body="Done.", display_at=start + timedelta(days=7, hours=4)
    )
    incident.refresh_from_db()
    assert selectors.duration_label(incident) == "lasting 7d 4h"


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        '<iframe src="https://evil.example"></iframe>',
        "<svg onload=alert(1)>",
    ],
)
def test_markdown_script_injection_is_rendered_inert(attack):
    html = render_markdown(f"Update\n\n{attack}")
    lowered = html.lower()
    for bad in ("<script", "onerror", "onload", "javascript:", "<iframe", "<svg", "<img"):
        assert bad not in lowered


def test_markdown_keeps_ordinary_formatting():
    html = render_markdown("**Fixed** the [queue](https://example.com/q)\n\n- one\n- two")
    assert "<strong>Fixed</strong>" in html
    assert '<a href="https://example.com/q" rel="nofollow noopener">queue</a>' in html
    assert "<li>one</li>" in html


def test_a_scheduled_maintenance_has_no_duration_yet(components):
    from django.utils import timezone

    from statuspage import selectors, services, states

    now = timezone.now()
    maintenance = services.incident_open(
        kind="maintenance", name="Later", status=states.SCHEDULED, body="Planned.",
        scheduled_for=now + timedelta(days=1), scheduled_until=now + timedelta(days=1, hours=2),
    )  # fmt: skip
    assert selectors.duration_label(maintenance) == "not started yet"
