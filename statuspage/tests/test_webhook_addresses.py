"""Subscriber webhooks never reach inside our network: every spelling of an inside address is refused at
subscription, and delivery connects to the address that was checked, so a name that changes its answer
between the check and the request (DNS rebinding) cannot redirect it. With a real HTTP server on loopback.
"""

import socket

import pytest

from statuspage import notify, services
from statuspage.models import Notice, Subscriber

INSIDE = [
    "http://127.0.0.1:8000/hook",
    "http://localhost:8000/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8000/",
    "http://[::127.0.0.1]:8000/",  # IPv4-compatible IPv6: Python's is_global says True
    "http://[::ffff:127.0.0.1]:8000/",  # IPv4-mapped
    "http://[::ffff:10.0.0.1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://0.0.0.0:8000/",
    "http://224.0.0.1/",
]


@pytest.mark.parametrize("url", INSIDE)
def test_every_spelling_of_an_inside_address_is_refused(url, db, client):
    response = client.post("/status/subscribe/", {"webhook_url": url})
    assert response.status_code == 200
    assert "public address" in response.content.decode()
    assert not Subscriber.objects.exists()


@pytest.mark.parametrize("url", ["ftp://example.com/", "http://user:pw@example.com/", "http:///nohost"])
def test_urls_of_another_kind_are_refused(url, db):
    with pytest.raises(Exception) as refused:
        services.subscriber_add(webhook_url=url)
    assert "webhook_url" in str(refused.value)
    assert not Subscriber.objects.exists()


@pytest.fixture
def rebinding_dns(monkeypatch):
    """hooks.test answers 127.0.0.1 the first time it is asked and 127.0.0.2 after (nothing listens
    there): a client that resolves again after the check connects somewhere else."""
    real = socket.getaddrinfo
    asked = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != "hooks.test":
            return real(host, port, *args, **kwargs)
        asked.append(host)
        address = "127.0.0.1" if len(asked) == 1 else "127.0.0.2"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_delivery_connects_to_the_address_it_checked(components, open_incident, webhook_server, rebinding_dns):
    port = webhook_server.server_address[1]
    subscriber = services.subscriber_add(webhook_url=f"http://hooks.test:{port}/hook")
    rebinding_dns.clear()  # the name is resolved afresh at delivery: its first answer there is the one used
    open_incident()

    assert notify.deliver_due() == 1

    assert len(rebinding_dns) == 1, "resolved once per delivery"
    assert len(webhook_server.received) == 1
    assert webhook_server.received[0]["headers"]["Host"] == f"hooks.test:{port}"
    assert Notice.objects.get(subscriber=subscriber).state == Notice.SENT


def test_a_name_that_turned_private_fails_at_delivery(components, open_incident, webhook_server, monkeypatch, settings):
    port = webhook_server.server_address[1]
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, p, *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", p))],
    )
    services.subscriber_add(webhook_url=f"http://hooks.test:{port}/hook")
    settings.STATUSPAGE_WEBHOOK_ALLOW_PRIVATE = False
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, p, *a, **k: [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::127.0.0.1", p, 0, 0))],
    )
    open_incident()
    notify.deliver_due()
    assert webhook_server.received == []
    assert "public address" in Notice.objects.get().last_error


def test_a_name_rebound_to_loopback_after_the_check_is_not_followed(
    components, open_incident, webhook_server, monkeypatch, settings
):
    """hooks.test answers a public address to the check and 127.0.0.1 to anyone asking after it (where
    our receiver listens). The connection goes to the public address that was checked (recorded here and
    refused: this machine has no way out), never to loopback."""
    import urllib3.util.connection

    port = webhook_server.server_address[1]
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])

    def getaddrinfo(host, p, *args, **kwargs):
        if host != "hooks.test":
            return real(host, p, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers, "127.0.0.1"), p))]

    connected = []

    def create_connection(address, *args, **kwargs):
        connected.append(address)
        if address[0] in ("127.0.0.1", "hooks.test"):
            return real_create_connection(("127.0.0.1", address[1]), *args, **kwargs)
        raise ConnectionRefusedError("no route out of the test machine")

    real_create_connection = urllib3.util.connection.create_connection
    settings.STATUSPAGE_WEBHOOK_ALLOW_PRIVATE = False
    Subscriber.objects.create(webhook_url=f"http://hooks.test:{port}/hook", confirmed_at="2026-01-01T00:00Z")
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    open_incident()

    notify.deliver_due()

    assert connected == [("93.184.216.34", port)]
    assert webhook_server.received == []
    assert Notice.objects.get().state == Notice.PENDING  # refused: retried later, resolved afresh then
