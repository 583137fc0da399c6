"""Requests to URLs that someone outside gave us (status-page subscriber webhooks): resolved once, refused
unless every address is public, and sent to the address that was checked.

Invariant: the address a request connects to is one `resolve` checked. Checking a name and then letting
the HTTP client resolve it again (as before) is a DNS-rebinding hole: a name that answers a public
address to the check and 127.0.0.1 to the request reaches inside our network. And the check refuses
every way of writing an inside address: private, loopback, link-local, multicast, reserved and
unspecified ranges, and the IPv6 spellings of IPv4 ones, IPv4-mapped (`::ffff:127.0.0.1`), IPv4-compatible
(`::127.0.0.1`, which Python's `is_global` calls global), 6to4 and Teredo.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3


class UnsafeURL(ValueError):
    """The URL may not be requested; the message is for the person who gave it."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the name, for the Host header and TLS (SNI and the certificate's name)
    port: int
    address: str  # the checked address we connect to
    path: str  # path and query


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if int(address) >> 32 == 0 and int(address) > 1:  # ::a.b.c.d, IPv4-compatible (deprecated)
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Why `address` is not one to request ("" when it is public)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return address_refusal(inner) or "an IPv4 address written as IPv6"
    if not address.is_global or address.is_multicast or address.is_reserved or address.is_unspecified:
        return "not a public address"
    return ""


def resolve(url: str, *, allow_private: bool = False) -> Target:
    """Resolve `url`'s host once; UnsafeURL unless it is http(s) and every address it has is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("Webhook URLs must be http(s) with a host name.")
    if parts.username or parts.password:
        raise UnsafeURL("Webhook URLs may not carry a user name or password.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL("The webhook URL's port is not a number.") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:
        raise UnsafeURL(f"Cannot resolve {parts.hostname}.") from error
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addresses:
        raise UnsafeURL(f"Cannot resolve {parts.hostname}.")
    if not allow_private:
        for address in addresses:
            if address_refusal(address):
                raise UnsafeURL("Webhook URLs must point to a public address.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, str(addresses[0]), path)


def post(target: Target, *, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST to the checked address (never resolving the name again), naming the host in the Host header
    and, over https, in SNI and the certificate check. No redirects, no retries. Returns the status."""
    default_port = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    host_header = host if target.port == default_port else f"{host}:{target.port}"
    options = {"timeout": urllib3.Timeout(total=timeout), "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            cert_reqs="CERT_REQUIRED",
            server_hostname=target.host,
            assert_hostname=target.host,
            **options,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **options)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            assert_same_host=False,
            preload_content=False,
        )
        response.drain_conn()
        return response.status
    finally:
        pool.close()
