"""Callback URLs: which are refused (SSRF into our network, cloud metadata) and which may be sent to."""

import ipaddress
import socket
from typing import Any

import pytest

from pipelines.callbacks import CallbackRefused, parse_networks, vet_callback
from pipelines.settings import Settings

# What the fake resolver answers; a name not here does not resolve.
DNS = {
    "hooks.example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "v6only.example.com": ["2a00:1450:4001:82b::200e"],
    "internal.example.com": ["10.3.4.5"],
    "half-internal.example.com": ["93.184.215.14", "10.3.4.5"],  # every address must pass
    "imds.example.com": ["169.254.169.254"],
    "imds6.example.com": ["fd00:ec2::254"],
    "ula.example.com": ["fd12:3456::1"],
    "mapped.example.com": ["::ffff:192.168.1.1"],
}


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "localhost" or host.replace(".", "").isdigit():  # /etc/hosts, inet_aton forms
            return real(host, port, *args, **kwargs)
        if host not in DNS:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answers = []
        for address in DNS[host]:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            answers.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return answers

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


ALLOWED = [
    "https://hooks.example.com/vtuber",
    "http://hooks.example.com:8080/a?b=c",
    "https://v6only.example.com/",
    "https://HOOKS.example.com./trailing-dot",
    "http://8.8.8.8/hook",
    "http://[2606:4700:4700::1111]/hook",
]

REFUSED = [
    # form
    ("ftp://hooks.example.com/", "http or https"),
    ("file:///etc/passwd", "http or https"),
    ("javascript:alert(1)", "http or https"),
    ("http:///no-host", "no host"),
    ("https://user:secret@hooks.example.com/", "credentials"),
    ("https://token@hooks.example.com/", "credentials"),
    ("https://hooks.example.com/" + "a" * 2100, "longer than"),
    ("https://hooks.example.com/a b", "whitespace"),
    ("https://hooks.example.com\\@10.0.0.1/", "backslash"),
    ("not a url", "whitespace"),
    # IPv4 literals
    ("http://127.0.0.1:8000/", "loopback"),
    ("http://127.1/", "loopback"),  # short form, resolved by the system like any name
    ("http://2130706433/", "loopback"),  # 127.0.0.1 as one number
    ("http://10.0.0.1/", "private"),
    ("http://172.16.5.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://169.254.10.10/", "link-local"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://100.100.100.200/", "metadata"),
    ("http://100.64.0.1/", "CGNAT"),
    ("http://224.0.0.251/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://240.0.0.1/", "private"),  # reserved 240/4: Python counts it private
    ("http://192.0.2.10/", "private"),  # documentation range
    # IPv6 literals
    ("http://[::1]/", "loopback"),
    ("http://[::]/", "unspecified"),
    ("http://[fc00::1]/", "private"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://[::ffff:169.254.169.254]/", "metadata"),
    ("http://[64:ff9b::a9fe:a9fe]/", "metadata"),  # NAT64 of 169.254.169.254
    ("http://[2002:c0a8:101::1]/", "private"),  # 6to4 of 192.168.1.1
    ("http://[2001:db8::1]/", "private"),  # documentation range
    # names
    ("http://localhost:8000/hook", "loopback"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata endpoint"),
    ("http://metadata/computeMetadata/v1/", "metadata endpoint"),
    ("http://internal.example.com/", "resolves to 10.3.4.5"),
    ("http://half-internal.example.com/", "resolves to 10.3.4.5"),
    ("http://imds.example.com/", "resolves to 169.254.169.254, which is a cloud metadata"),
    ("http://imds6.example.com/", "metadata"),
    ("http://ula.example.com/", "private"),
    ("http://mapped.example.com/", "private"),
    ("http://nowhere.example.com/", "does not resolve"),
]


@pytest.mark.parametrize("url", ALLOWED)
def test_public_destinations_pass(url: str) -> None:
    destination = vet_callback(url)
    assert destination.addresses and all(address.is_global for address in destination.addresses)


@pytest.mark.parametrize(("url", "reason"), REFUSED)
def test_refused_destinations_say_why(url: str, reason: str) -> None:
    with pytest.raises(CallbackRefused) as refused:
        vet_callback(url)
    assert reason in refused.value.message


def test_only_an_unresolvable_name_is_worth_trying_again() -> None:
    with pytest.raises(CallbackRefused) as unresolved:
        vet_callback("http://nowhere.example.com/")
    assert unresolved.value.transient
    with pytest.raises(CallbackRefused) as private:
        vet_callback("http://internal.example.com/")
    assert not private.value.transient


def test_the_resolved_addresses_are_the_ones_to_connect_to() -> None:
    destination = vet_callback("https://hooks.example.com/vtuber")
    assert [str(a) for a in destination.addresses] == DNS["hooks.example.com"]
    assert destination.url.host == "hooks.example.com"


def test_allowed_networks_open_private_ranges_but_never_metadata() -> None:
    allowed = parse_networks(["10.0.0.0/8", "127.0.0.0/8", "fd12:3456::/32", "169.254.0.0/16"])
    assert vet_callback("http://internal.example.com/", allowed).addresses == (
        ipaddress.ip_address("10.3.4.5"),
    )
    vet_callback("http://127.0.0.1:9000/hook", allowed)
    vet_callback("http://[::ffff:127.0.0.1]/", allowed)  # mapped: the IPv4 rules apply
    vet_callback("http://ula.example.com/", allowed)
    vet_callback("http://169.254.1.1/", allowed)
    for metadata in (
        "http://169.254.169.254/",
        "http://imds.example.com/",
        "http://metadata.google.internal/",
    ):
        with pytest.raises(CallbackRefused, match="metadata"):
            vet_callback(metadata, allowed)
    with pytest.raises(CallbackRefused, match="private"):
        vet_callback("http://192.168.1.1/", allowed)  # not in the list


def test_the_setting_takes_cidrs_and_refuses_nonsense() -> None:
    assert Settings(callback_allowed_networks=["10.20.0.0/16"]).callback_allowed_networks == ["10.20.0.0/16"]
    assert Settings().callback_allowed_networks == []
    with pytest.raises(ValueError, match="not-a-network"):
        Settings(callback_allowed_networks=["not-a-network"])
