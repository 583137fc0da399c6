"""The queue dashboard shows each provider account's bucket with its current use, and a provider whose
circuit is open as degraded; Operations set a bucket's rate in admin."""

import pytest
from django.urls import reverse

from lanes import buckets
from lanes.models import Circuit, CircuitState, RateBucket

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("admin:lanes_lane_changelist")


def test_the_dashboard_shows_buckets_with_their_use_and_open_circuits(client, ops):
    buckets.ensure("sim:default", rate_per_s=500, burst=50)
    RateBucket.objects.update(use_per_s=250, throttled=3)
    Circuit.objects.create(name="twilio", state=CircuitState.OPEN, failures=20, detail="Twilio answered 503")
    client.force_login(ops)
    html = client.get(DASHBOARD).content.decode()
    assert 'id="providers"' in html
    assert "sim:default" in html and "250/s (50 %)" in html and "500/s" in html
    assert "degraded: open" in html and "Twilio answered 503" in html


def test_operations_set_a_buckets_rate_in_admin_and_it_starts_at_full_speed(client, ops):
    client.force_login(ops)
    response = client.post(
        reverse("admin:lanes_ratebucket_add"), {"name": "twilio:AC1", "rate_per_s": "100", "burst": "10"}
    )
    assert response.status_code == 302
    bucket = RateBucket.objects.get()
    assert (bucket.rate_per_s, bucket.current_rate, bucket.tokens) == (100, 100, 10)
    assert buckets.take("twilio:AC1", 50) == (10, 0.0)


def test_operations_add_a_sender_bucket_and_the_dashboard_shows_it(client, ops):
    client.force_login(ops)
    add = reverse("admin:lanes_ratebucket_add")
    assert client.post(add, {"name": "twilio:AC1", "rate_per_s": "100", "burst": "10"}).status_code == 302
    sender = {"name": "twilio:AC1:+15005550006", "rate_per_s": "1", "burst": "2"}
    assert client.post(add, sender).status_code == 302
    assert buckets.take_for("twilio:AC1", {"twilio:AC1:+15005550006": 5})["twilio:AC1:+15005550006"].granted == 2
    html = client.get(DASHBOARD).content.decode()
    assert "twilio:AC1:+15005550006" in html and "sender +15005550006" in html and "account" in html


@pytest.mark.parametrize("name", ["twilio", "twilio:", "Twilio:AC1", "twilio:AC 1", "twilio::+1500"])
def test_a_bucket_name_that_names_no_account_is_a_field_error(client, ops, name):
    client.force_login(ops)
    response = client.post(reverse("admin:lanes_ratebucket_add"), {"name": name, "rate_per_s": "1", "burst": "2"})
    assert response.status_code == 200 and "name" in response.context["adminform"].form.errors
    assert not RateBucket.objects.exists()


def test_with_redis_the_dashboard_and_admin_show_the_state_redis_holds(client, ops, buckets_redis):
    buckets.ensure("twilio:AC1", rate_per_s=100, burst=10)
    assert buckets.take("twilio:AC1", 7) == (7, 0.0)
    buckets.throttled("twilio:AC1")
    assert RateBucket.objects.get().taken == 0, "the row holds the settings, Redis the state"
    client.force_login(ops)
    html = client.get(DASHBOARD).content.decode()
    assert "80/s" in html, "the rate now, lowered by the 429"
    listing = client.get(reverse("admin:lanes_ratebucket_changelist")).content.decode()
    assert ">80.0<" in listing and ">1<" in listing
    form = client.get(reverse("admin:lanes_ratebucket_change", args=["twilio:AC1"])).content.decode()
    assert ">7<" in form, "requests let through, as Redis counted them"
