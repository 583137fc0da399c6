import pytest

from statuspage.models import Subscriber


@pytest.mark.django_db
def test_subscribe_form_is_rate_limited_per_client(client, settings):
    settings.STATUSPAGE_SUBSCRIBE_RATE_PER_MIN = 2
    statuses = [client.post("/status/subscribe/", {"email": f"reader{n}@example.com"}).status_code for n in range(3)]
    assert statuses == [200, 200, 429]
    assert sorted(Subscriber.objects.values_list("email", flat=True)) == ["reader0@example.com", "reader1@example.com"]
    assert client.get("/status/subscribe/").status_code == 200  # reading the form is never limited
