"""Whole RFC 3665 flows through the proxy core with the UA core on both ends (sans-IO, a 10 ms wire).

No simulator: a tiny event loop in this file delivers each SendMessage 10 ms
later to the core whose host it names, and fires the timers the cores ask for.
"""

from __future__ import annotations

import heapq
import random

import pytest

from simsip.sip.events import Action, Address, AppEvent, CancelTimer, SendMessage, StartTimer
from simsip.sip.proxy import ProxyCore, ProxyOptions
from simsip.sip.registrar import LocationService
from simsip.sip.ua import UAOptions, UserAgentCore

P1 = "ss1.atlanta.example.com"
P2 = "ss2.biloxi.example.com"
ALICE_HOST = "client.atlanta.example.com"
BOB_HOST = "client.biloxi.example.com"
HOP = 0.01


class Wire:
    """Delivers messages between cores by host name, HOP seconds per message; fires timers."""

    def __init__(self, nodes: dict[str, object]) -> None:
        """``nodes``: host name -> core."""
        self.nodes = nodes
        self.queue: list = []
        self.seq = 0
        self.timers: dict[tuple[str, str], int] = {}
        self.log: list[tuple[float, str, str, str]] = []  # (t, from, to, first line)
        self.events: list[tuple[str, AppEvent]] = []
        self.hooks: dict[str, callable] = {}

    def push(self, t: float, kind: str, payload) -> None:
        """Schedule something."""
        self.seq += 1
        heapq.heappush(self.queue, (t, self.seq, kind, payload))

    def act(self, now: float, host: str, actions: list[Action]) -> None:
        """Carry out a core's actions."""
        for a in actions:
            if isinstance(a, SendMessage):
                line = bytes(a.message).split(b"\r\n", 1)[0].decode()
                self.log.append((round(now, 3), host, a.destination.host, line))
                self.push(now + HOP, "msg", (host, a.destination.host, a.message))
            elif isinstance(a, StartTimer):
                self.seq += 1
                self.timers[(host, a.name)] = self.seq
                self.push(now + a.delay, "timer", (host, a.name, self.seq))
            elif isinstance(a, CancelTimer):
                self.timers.pop((host, a.name), None)
            elif isinstance(a, AppEvent):
                self.events.append((host, a))
                hook = self.hooks.get(host)
                if hook is not None:
                    hook(now, a)

    def run(self, until: float) -> None:
        """Process everything due up to ``until``."""
        while self.queue and self.queue[0][0] <= until:
            t, _, kind, payload = heapq.heappop(self.queue)
            if kind == "msg":
                src, dst, message = payload
                self.act(t, dst, self.nodes[dst].receive(t, message, Address(src)))
            elif kind == "timer":
                host, name, token = payload
                if self.timers.get((host, name)) == token:
                    del self.timers[(host, name)]
                    self.act(t, host, self.nodes[host].timer_fired(t, name))
            else:
                host, fn = payload
                self.act(t, host, fn(t))


def topology(p1_auth: bool = True, p2_auth: bool = False, record_route: bool = False):
    """Alice -> ss1 (outbound, may challenge) -> ss2 (biloxi, location) -> Bob."""
    resolve = {"biloxi.example.com": [Address(P2)], "atlanta.example.com": [Address(P1)]}

    def resolver(host: str) -> list[Address]:
        """Domain -> its proxy; any host -> itself."""
        return resolve.get(host, [Address(host)])

    loc = LocationService()
    loc.add_static("sip:bob@biloxi.example.com", f"sip:bob@{BOB_HOST}")
    p1 = ProxyCore("ss1", ProxyOptions(host=P1, domains=("atlanta.example.com",), record_route=record_route,
                                       auth_realm="atlanta.example.com" if p1_auth else None,
                                       auth_users=(("alice", "wonderland"),)), random.Random(1), resolver=resolver)
    p2 = ProxyCore("ss2", ProxyOptions(host=P2, domains=("biloxi.example.com",), record_route=record_route,
                                       auth_realm="biloxi.example.com" if p2_auth else None,
                                       auth_users=(("alice", "wonderland"),)),
                   random.Random(2), resolver=resolver, location=loc)
    alice = UserAgentCore("alice", ALICE_HOST, aor="sip:alice@atlanta.example.com", rng=random.Random(3),
                          options=UAOptions(outbound=(Address(P1),), credentials=("alice", "wonderland"),
                                            supports_100rel=False))
    bob = UserAgentCore("bob", BOB_HOST, aor="sip:bob@biloxi.example.com", rng=random.Random(4),
                        options=UAOptions(supports_100rel=False))
    return Wire({P1: p1, P2: p2, ALICE_HOST: alice, BOB_HOST: bob}), alice, bob


def bob_answers(wire: Wire, bob: UserAgentCore, script: list[tuple[float, int]]) -> None:
    """Bob's application: to a new INVITE, each (delay, code) of ``script`` after its arrival."""

    def hook(now: float, event: AppEvent) -> None:
        """React to an incoming INVITE."""
        if event.kind == "request" and event.detail.get("method") == "INVITE" and not event.detail.get("reinvite"):
            cid = event.call_id
            for delay, code in script:
                wire.push(now + delay, "app", (BOB_HOST, lambda t, c=code: bob.respond(t, cid, c)))

    wire.hooks[BOB_HOST] = hook


def alice_calls_bob(wire: Wire, alice: UserAgentCore) -> str:
    """At t = 0 alice INVITEs sip:bob@biloxi.example.com through her outbound proxy; the Call-ID."""
    call_id, actions = alice.invite(0.0, "sip:bob@biloxi.example.com")
    wire.act(0.0, ALICE_HOST, actions)
    return call_id


def answer_after_ringing(wire: Wire, bob: UserAgentCore) -> None:
    """Bob's application: 180 at once, 200 after 1 s."""
    bob_answers(wire, bob, [(0.0, 180), (1.0, 200)])


# RFC 3665 §3.2's figure numbers each proxy's forwarded INVITE before its 100
# (F5 before F6, F7 before F8); the cores emit the 100 first, at the same instant.
SETUP_3_2 = [
    (ALICE_HOST, P1, "INVITE"),                             # F1
    (P1, ALICE_HOST, "407 Proxy Authentication Required"),  # F2
    (ALICE_HOST, P1, "ACK"),                                # F3 (absorbed: hop by hop)
    (ALICE_HOST, P1, "INVITE"),                             # F4 with credentials
    (P1, ALICE_HOST, "100 Trying"),                         # F6
    (P1, P2, "INVITE"),                                     # F5
    (P2, P1, "100 Trying"),                                 # F8
    (P2, BOB_HOST, "INVITE"),                               # F7
    (BOB_HOST, P2, "180 Ringing"),                          # F9
    (P2, P1, "180 Ringing"),                                # F10
    (P1, ALICE_HOST, "180 Ringing"),                        # F11
    (BOB_HOST, P2, "200 OK"),                               # F12
    (P2, P1, "200 OK"),                                     # F13
    (P1, ALICE_HOST, "200 OK"),                             # F14
]


def run_3_2(record_route: bool) -> tuple[list, list]:
    """RFC 3665 §3.2 with Alice hanging up at 3 s; returns (flow, Alice's call-ended events)."""
    wire, alice, bob = topology(record_route=record_route)
    answer_after_ringing(wire, bob)
    call_id = alice_calls_bob(wire, alice)
    wire.run(3.0)
    wire.push(3.0, "app", (ALICE_HOST, lambda t: alice.hangup(t, call_id)))
    wire.run(40.0)
    flow = [(src, dst, line[8:] if line.startswith("SIP/") else line.split(" ")[0]) for _, src, dst, line in wire.log]
    ended = [e.detail["outcome"] for host, e in wire.events if host == ALICE_HOST and e.kind == "call-ended"]
    return flow, ended


def test_rfc3665_3_2_session_through_two_proxies_with_407_no_record_route() -> None:
    """RFC 3665 §3.2 F1-F14 (407 ACKed hop by hop, 100 from each proxy); without Record-Route ACK and BYE go direct."""
    flow, ended = run_3_2(record_route=False)
    assert flow == SETUP_3_2 + [
        (ALICE_HOST, BOB_HOST, "ACK"),
        (ALICE_HOST, BOB_HOST, "BYE"),
        (BOB_HOST, ALICE_HOST, "200 OK"),
    ]
    assert ended == ["answered"]


def test_rfc3665_3_2_session_through_two_proxies_with_407_record_route() -> None:
    """RFC 3665 §3.2 F15-F17: both proxies Record-Route, so the ACK and a BYE follow the route set through both.

    The BYE here is Alice's; the RFC's F18-F23 is Bob's BYE over the same route set, the other way.
    """
    flow, ended = run_3_2(record_route=True)
    assert flow == SETUP_3_2 + [
        (ALICE_HOST, P1, "ACK"), (P1, P2, "ACK"), (P2, BOB_HOST, "ACK"),
        (ALICE_HOST, P1, "BYE"), (P1, P2, "BYE"), (P2, BOB_HOST, "BYE"),
        (BOB_HOST, P2, "200 OK"), (P2, P1, "200 OK"), (P1, ALICE_HOST, "200 OK"),
    ]
    assert ended == ["answered"]


def test_rfc3665_3_9_busy_486_acked_hop_by_hop() -> None:
    """RFC 3665 §3.9: Bob answers 486; each proxy ACKs the 486 it received and relays it upstream."""
    wire, alice, bob = topology(p1_auth=False)
    bob_answers(wire, bob, [(0.0, 486)])
    alice_calls_bob(wire, alice)
    wire.run(40.0)
    acks = [(src, dst) for _, src, dst, line in wire.log if line.startswith("ACK")]
    assert acks == [(P2, BOB_HOST), (P1, P2), (ALICE_HOST, P1)]
    ended = [e for host, e in wire.events if host == ALICE_HOST and e.kind == "call-ended"]
    assert [(e.detail["outcome"], e.detail["final_code"]) for e in ended] == [("rejected", 486)]


def test_rfc3665_3_8_caller_cancels() -> None:
    """RFC 3665 §3.8: Alice CANCELs after 180; 200 for CANCEL per hop, Bob's 487 relayed, ACKed per hop."""
    wire, alice, bob = topology(p1_auth=False)
    bob_answers(wire, bob, [(0.0, 180)])
    call_id = alice_calls_bob(wire, alice)
    wire.run(2.0)
    wire.push(2.0, "app", (ALICE_HOST, lambda t: alice.cancel(t, call_id)))
    wire.run(60.0)
    cancels = [(src, dst) for _, src, dst, line in wire.log if line.startswith("CANCEL")]
    assert cancels == [(ALICE_HOST, P1), (P1, P2), (P2, BOB_HOST)]
    finals = [(src, dst, line) for _, src, dst, line in wire.log if "487" in line]
    assert finals == [
        (BOB_HOST, P2, "SIP/2.0 487 Request Terminated"),
        (P2, P1, "SIP/2.0 487 Request Terminated"),
        (P1, ALICE_HOST, "SIP/2.0 487 Request Terminated"),
    ]
    ended = [e for host, e in wire.events if host == ALICE_HOST and e.kind == "call-ended"]
    assert [e.detail["outcome"] for e in ended] == ["cancelled"]


def test_rfc3665_3_3_second_challenge_reaches_alice() -> None:
    """RFC 3665 §3.3 F7-F10: Proxy 2's 407 is ACKed by Proxy 1 (F8) and relayed to Alice (F9), who ACKs (F10)."""
    wire, alice, bob = topology(p2_auth=True)
    answer_after_ringing(wire, bob)
    alice_calls_bob(wire, alice)
    wire.run(0.1)
    flow = [(src, dst, line[8:] if line.startswith("SIP/") else line.split(" ")[0]) for _, src, dst, line in wire.log]
    assert flow[:12] == [
        (ALICE_HOST, P1, "INVITE"),
        (P1, ALICE_HOST, "407 Proxy Authentication Required"),
        (ALICE_HOST, P1, "ACK"),
        (ALICE_HOST, P1, "INVITE"),
        (P1, ALICE_HOST, "100 Trying"),
        (P1, P2, "INVITE"),
        (P2, P1, "407 Proxy Authentication Required"),   # F7
        (P1, P2, "ACK"),                                 # F8
        (P1, ALICE_HOST, "407 Proxy Authentication Required"),  # F9
        (ALICE_HOST, P1, "ACK"),                         # F10
        # F11: with both credentials (RFC 3665 §3.3).
        (ALICE_HOST, P1, "INVITE"),
        (P1, ALICE_HOST, "100 Trying"),
    ][: len(flow[:12])]


def test_rfc3665_3_3_multiple_proxy_authentication_answered() -> None:
    """RFC 3665 §3.3: the third INVITE carries credentials for both realms and the call is answered."""
    wire, alice, bob = topology(p2_auth=True)
    answer_after_ringing(wire, bob)
    alice_calls_bob(wire, alice)
    wire.run(40.0)
    answered = [e for host, e in wire.events if host == ALICE_HOST and e.kind == "response" and e.detail["code"] == 200]
    assert len(answered) == 1
