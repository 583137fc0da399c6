"""History for every month since the first incident, by month and year, per component; each incident
links to its month."""

from datetime import timedelta

from django.utils import timezone

from statuspage import selectors, services, states


def test_an_incident_from_years_ago_is_reachable_by_month_and_year(client, components, open_incident):
    old_start = timezone.now() - timedelta(days=3 * 365)
    old = open_incident(name="Ancient outage", started_at=old_start)
    services.incident_post_update(
        incident=old, status=states.RESOLVED, body="Done.", display_at=old_start + timedelta(hours=2)
    )
    local = old_start.astimezone(selectors.page_zone())
    index = client.get("/status/history/").content.decode()
    month_url = f"/status/history/{local.year}/{local.month}/"
    assert month_url in index  # the archive lists every month since the first incident
    assert str(local.year) in index and str(local.year + 1) in index
    month = client.get(month_url)
    assert month.status_code == 200 and "Ancient outage" in month.content.decode()
    html = month.content.decode()
    previous_year = f"/status/history/{local.year - 1}/{local.month}/"
    assert previous_year in html and 'rel="next"' in html  # navigable by month and by year
    page = client.get(f"/status/incidents/{old.pk}/").content.decode()
    assert f'href="{month_url}"' in page  # the incident links to its month


def test_history_filters_by_component(client, components, open_incident):
    open_incident(name="Email slow", components={components["email"]: states.DEGRADED_PERFORMANCE})
    open_incident(name="SMS down", components={components["sms"]: states.MAJOR_OUTAGE})
    html = client.get(f"/status/history/?component={components['sms'].pk}").content.decode()
    assert "SMS down" in html and "Email slow" not in html
    local = timezone.now().astimezone(selectors.page_zone())
    month = client.get(f"/status/history/{local.year}/{local.month}/?component={components['email'].pk}")
    assert "Email slow" in month.content.decode() and "SMS down" not in month.content.decode()
    assert client.get("/status/history/").content.decode().count("<article") == 2


def test_bad_history_input_is_a_404_never_a_500(client, components):
    assert client.get("/status/history/?component=abc").status_code == 404
    assert client.get("/status/history/?component=999999").status_code == 404
    assert client.get("/status/history/2020/13/").status_code == 404
    assert client.get("/status/history/99999/1/").status_code == 404
