import pytest

from lanes.models import LaneHeartbeat


def test_no_workers_means_503(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["lanes"]["live"]["alive"] is False and body["lanes"]["bulk"]["alive"] is False


def test_a_503_is_one_info_line_not_an_error_per_poll(client, db, caplog):
    with caplog.at_level("INFO"):
        assert client.get("/healthz").status_code == 503
    assert not [r for r in caplog.records if r.levelname == "ERROR"], [r.getMessage() for r in caplog.records]
    assert [r.getMessage() for r in caplog.records if r.name == "kalix_site.health"] == [
        "healthz 503: database up, lanes down: ['live', 'bulk']"
    ]


def test_stale_heartbeat_counts_as_down(client, db):
    from datetime import timedelta

    from django.utils import timezone

    old = timezone.now() - timedelta(minutes=5)
    LaneHeartbeat.objects.create(
        cluster_id="x", lane="live", pid=1, workers=2, status="Idle", started_at=old, seen_at=old
    )
    assert client.get("/healthz").json()["lanes"]["live"]["alive"] is False


@pytest.mark.cluster
def test_both_lanes_alive_with_real_clusters(client, lane_cluster):
    lane_cluster("live", workers=2)
    response = client.get("/healthz")
    assert response.status_code == 503  # bulk has no workers yet
    lane_cluster("bulk", workers=1)
    response = client.get("/healthz")
    assert response.status_code == 200, response.json()
    lanes = response.json()["lanes"]
    assert lanes["live"]["workers"] == 2 and lanes["bulk"]["workers"] == 1
