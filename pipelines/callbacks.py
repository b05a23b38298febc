"""Callback URLs a client gives us: where a webhook may go, so it cannot reach into our network.

A URL passes if it is http(s), names a host, carries no credentials, is not too long, and every
address its host resolves to is public: not loopback, private, link-local, shared (CGNAT),
multicast, unspecified or reserved, written as IPv4, IPv6 or IPv4 inside IPv6. An operator may
allow networks (``VTUBER_CALLBACK_ALLOWED_NETWORKS``), e.g. the private network its receivers live
in; cloud metadata endpoints stay refused even then.

The check runs twice: when the work is submitted (a quick 422 for the client) and when the webhook
is sent, where the sender connects only to the addresses it checked, since DNS may answer
differently the second time (pipelines/webhook_sender.py).
"""

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}

METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
    )
)
SHARED_CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
BROADCAST = ipaddress.ip_address("255.255.255.255")


class CallbackRefused(ValueError):
    """The URL or its destination is not allowed. ``transient``: its name did not resolve, which
    may pass; anything else will be refused again."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


@dataclass(frozen=True)
class Destination:
    """A vetted URL and the addresses it may be sent to (nothing else)."""

    url: httpx.URL
    addresses: tuple[IPAddress, ...]


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def check_url(raw: str) -> httpx.URL:
    """The URL's form only: scheme, host, no credentials, no control characters, length."""
    if len(raw) > MAX_URL_LENGTH:
        raise CallbackRefused(f"callback_url is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in raw):
        raise CallbackRefused("callback_url contains whitespace, control characters or backslashes")
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError) as exc:
        raise CallbackRefused(f"callback_url is not a URL: {exc}") from exc
    if url.scheme not in DEFAULT_PORTS:
        raise CallbackRefused("callback_url must be an http or https URL")
    if not url.raw_host:
        raise CallbackRefused("callback_url has no host")
    if url.userinfo:
        raise CallbackRefused("callback_url must not carry credentials")
    return url


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), whose rules then apply."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def refusal(address: IPAddress, allowed: Iterable[IPNetwork] = ()) -> str | None:
    """Why ``address`` may not receive a webhook, or None if it may."""
    allowed = tuple(allowed)
    inner = embedded_ipv4(address)
    if inner is not None:
        return refusal(inner, allowed)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if any(address in network for network in allowed):
        return None
    checks = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address in SHARED_CGNAT, "shared address space (CGNAT)"),
        (address == BROADCAST, "broadcast"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not publicly routable"),
    )
    return next((reason for refused, reason in checks if refused), None)


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    """Every address ``host`` names (an IP literal names itself); blocking DNS."""
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackRefused(f"callback host {host} does not resolve", transient=True) from exc
    addresses: dict[IPAddress, None] = {}
    for _family, _type, _proto, _name, sockaddr in infos:
        addresses[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
    if not addresses:
        raise CallbackRefused(f"callback host {host} does not resolve", transient=True)
    return tuple(addresses)


def vet_callback(raw: str, allowed: Iterable[IPNetwork] = ()) -> Destination:
    """Check ``raw`` and every address its host resolves to; blocking DNS (use a thread in async
    code). Raises CallbackRefused."""
    url = check_url(raw)
    host = url.raw_host.decode("ascii").rstrip(".").lower()
    if host in METADATA_HOSTS:
        raise CallbackRefused(f"callback host {host} is a cloud metadata endpoint")
    allowed = tuple(allowed)
    addresses = resolve(host, url.port or DEFAULT_PORTS[url.scheme])
    resolved = not is_ip_literal(host)
    for address in addresses:
        reason = refusal(address, allowed)
        if reason is not None:
            if resolved:
                raise CallbackRefused(f"callback host {host} resolves to {address}, which is {reason}")
            raise CallbackRefused(f"callback address {host} is {reason}")
    return Destination(url=url, addresses=addresses)
