"""Helpers for the proxy, registrar and redirect tests: wire-text messages and a hand-stepped clock."""

from __future__ import annotations

import random
from collections.abc import Iterable

from simsip.sip.events import Action, Address, AppEvent, CancelTimer, SendMessage, StartTimer, Transport
from simsip.sip.message import parse
from simsip.sip.proxy import ProxyCore, ProxyOptions
from simsip.sip.registrar import LocationService

P1 = "ss1.atlanta.example.com"
P2 = "ss2.biloxi.example.com"
ALICE = Address("client.atlanta.example.com", 5060, Transport.UDP)
BOB = Address("client.biloxi.example.com", 5060, Transport.UDP)


def msg(text: str):
    """Parse a message written with ``\\n`` line ends (CRLF added, Content-Length from the body)."""
    head, _, body = text.lstrip("\n").partition("\n\n")
    lines = [line for line in head.split("\n") if line]
    if not any(line.lower().startswith(("content-length:", "l:")) for line in lines):
        lines.append(f"Content-Length: {len(body.encode())}")
    return parse(("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode())


def invite(
    uri: str = "sip:bob@biloxi.example.com",
    branch: str = "z9hG4bK74bf9",
    extra: str = "",
    max_forwards: int = 70,
    via_host: str = "client.atlanta.example.com",
    cseq: int = 1,
    method: str = "INVITE",
):
    """An RFC 3665 §3.2 F1-like INVITE from Alice."""
    return msg(
        f"""{method} {uri} SIP/2.0
Via: SIP/2.0/UDP {via_host}:5060;branch={branch}
Max-Forwards: {max_forwards}
{extra}From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: {cseq} {method}
Contact: <sip:alice@client.atlanta.example.com;transport=udp>

"""
    )


def ack_of_non_2xx(to_tag: str = "314159"):
    """Alice's ACK of a non-2xx final to :func:`invite` (RFC 3261 §17.1.1.3: the INVITE's branch, the response's To tag)."""
    return msg(
        f"""ACK sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>;tag={to_tag}
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 ACK

"""
    )


def response_to(request, status: int, to_tag: str | None = "314159", extra: list[tuple[str, str]] = ()):
    """The downstream element's response to ``request`` (Via stack copied, §8.2.6)."""
    from simsip.sip.message import make_response

    resp = make_response(request, status, to_tag=to_tag if status > 100 else None)
    for name, value in extra:
        resp.headers.add(name, value)
    return resp


def sends(actions: Iterable[Action]) -> list[SendMessage]:
    """The SendMessage actions."""
    return [a for a in actions if isinstance(a, SendMessage)]


def app(actions: Iterable[Action], kind: str) -> list[AppEvent]:
    """The AppEvents of one kind."""
    return [a for a in actions if isinstance(a, AppEvent) and a.kind == kind]


def first_line(message) -> str:
    """``INVITE sip:...`` or ``180 Ringing`` for compact assertions."""
    return bytes(message).split(b"\r\n", 1)[0].decode()


class Clock:
    """Keeps the timers a core asked for and fires them in time order, by hand."""

    def __init__(self, core) -> None:
        """Drive ``core`` (anything with ``receive`` and ``timer_fired``)."""
        self.core = core
        self.now = 0.0
        self.pending: dict[str, float] = {}
        self._seq = 0
        self._order: dict[str, int] = {}

    def take(self, actions: list[Action]) -> list[Action]:
        """Record StartTimer/CancelTimer actions; return the actions unchanged."""
        for a in actions:
            if isinstance(a, StartTimer):
                self.pending[a.name] = self.now + a.delay
                self._seq += 1
                self._order[a.name] = self._seq
            elif isinstance(a, CancelTimer):
                self.pending.pop(a.name, None)
        return actions

    def receive(self, message, source: Address, at: float | None = None) -> list[Action]:
        """Deliver ``message`` at ``at`` (default: now), firing earlier timers first."""
        out: list[Action] = []
        if at is not None:
            out += self.advance(at)
        return out + self.take(self.core.receive(self.now, message, source))

    def advance(self, until: float) -> list[Action]:
        """Fire every timer due up to ``until`` (inclusive), in order; time stops at ``until``."""
        out: list[Action] = []
        while True:
            due = [(t, self._order[n], n) for n, t in self.pending.items() if t <= until + 1e-9]
            if not due:
                break
            t, _, name = min(due)
            del self.pending[name]
            self.now = t
            out += self.take(self.core.timer_fired(t, name))
        self.now = until
        return out


def resolver_from(table: dict[str, list[Address]]):
    """A resolver: known hosts from ``table``, any other host as itself on 5060/UDP."""

    def resolve(host: str) -> list[Address]:
        """Look the host up."""
        return list(table.get(host, [Address(host, 5060, Transport.UDP)]))

    return resolve


def make_proxy(
    host: str = P2,
    rng_seed: int = 1,
    resolver: dict[str, list[Address]] | None = None,
    location: LocationService | None = None,
    **options,
) -> ProxyCore:
    """A proxy with the given options, a seeded rng and a table resolver."""
    options.setdefault("domains", ("biloxi.example.com",) if host == P2 else ("atlanta.example.com",))
    return ProxyCore(
        host.split(".")[0], ProxyOptions(host=host, **options), random.Random(rng_seed),
        resolver=resolver_from(resolver or {}), location=location,
    )
