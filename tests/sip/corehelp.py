"""A hand-stepped clock for the sans-IO cores (aioquic ``test_connection`` style).

No simulator: :class:`Timers` keeps the timers one machine asked for and pops
the earliest; :class:`Net` joins several cores by fixed-delay links, records
every action, and steps time by taking the earliest pending delivery or timer.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable

from simsip.sip.events import Address, AppEvent, CancelTimer, SendMessage, StartTimer, StateChange


class Timers:
    """The pending timers of one machine; ``now`` moves only when a timer is popped."""

    def __init__(self) -> None:
        """Start at t = 0 with nothing pending."""
        self.now = 0.0
        self.pending: dict[str, tuple[float, int]] = {}
        self._seq = itertools.count()

    def apply(self, actions: list) -> list:
        """Record StartTimer / CancelTimer actions; return the rest."""
        rest = []
        for action in actions:
            if isinstance(action, StartTimer):
                self.pending[action.name] = (self.now + action.delay, next(self._seq))
            elif isinstance(action, CancelTimer):
                self.pending.pop(action.name, None)
            else:
                rest.append(action)
        return rest

    def next(self) -> tuple[float, str]:
        """Pop the earliest timer (FIFO among equal times) and move ``now`` to it."""
        name = min(self.pending, key=lambda n: self.pending[n])
        due, _ = self.pending.pop(name)
        self.now = due
        return due, name

    def due(self, suffix: str) -> float | None:
        """When the pending timer whose name ends with ``suffix`` fires."""
        for name, (due, _) in self.pending.items():
            if name.endswith(suffix):
                return due
        return None


@dataclass
class Sent:
    """One SendMessage seen by the network."""

    t: float
    node: str
    message: Any
    destination: Address
    retransmission: int
    timer: str | None

    @property
    def label(self) -> str:
        """"INVITE" or "180"."""
        return getattr(self.message, "method", None) or str(self.message.status)


@dataclass
class Net:
    """Cores joined by links of fixed one-way ``delay``; ``drop(sent) -> bool`` loses messages."""

    cores: dict[str, Any]
    delay: float = 0.01
    drop: Callable[[Sent], bool] | None = None
    now: float = 0.0
    sent: list[Sent] = field(default_factory=list)
    events: list[tuple[float, str, AppEvent]] = field(default_factory=list)
    states: list[tuple[float, str, StateChange]] = field(default_factory=list)
    timers_started: list[tuple[float, str, StartTimer]] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Empty queue."""
        self._heap: list = []
        self._seq = itertools.count()
        self._timers: dict[tuple[str, str], int] = {}

    def apply(self, node: str, actions: list) -> None:
        """Carry out one core's actions at ``now``."""
        for action in actions:
            if isinstance(action, SendMessage):
                sent = Sent(self.now, node, action.message, action.destination, action.retransmission, action.timer)
                self.sent.append(sent)
                if self.drop is not None and self.drop(sent):
                    continue
                if action.destination.host in self.cores:
                    heapq.heappush(self._heap, (self.now + self.delay, next(self._seq), "msg", node, action))
            elif isinstance(action, StartTimer):
                seq = next(self._seq)
                self._timers[(node, action.name)] = seq
                self.timers_started.append((self.now, node, action))
                heapq.heappush(self._heap, (self.now + action.delay, seq, "timer", node, action))
            elif isinstance(action, CancelTimer):
                self._timers.pop((node, action.name), None)
            elif isinstance(action, AppEvent):
                self.events.append((self.now, node, action))
            elif isinstance(action, StateChange):
                self.states.append((self.now, node, action))
            else:
                raise AssertionError(f"unexpected action {action!r}")

    def step(self) -> bool:
        """Deliver the earliest message or fire the earliest live timer; False when idle."""
        while self._heap:
            t, seq, kind, node, action = heapq.heappop(self._heap)
            if kind == "timer":
                if self._timers.get((node, action.name)) != seq:
                    continue  # cancelled or re-armed
                del self._timers[(node, action.name)]
                self.now = t
                self.apply(node, self.cores[node].timer_fired(t, action.name))
                return True
            self.now = t
            dest = action.destination.host
            source = Address(node, 5060, action.destination.transport)
            self.apply(dest, self.cores[dest].receive(t, action.message, source))
            return True
        return False

    def _peek(self) -> float | None:
        """Time of the next live item (dropping cancelled timers), None when idle."""
        while self._heap:
            t, seq, kind, node, action = self._heap[0]
            if kind == "timer" and self._timers.get((node, action.name)) != seq:
                heapq.heappop(self._heap)
                continue
            return t
        return None

    def run(self, until: float | None = None) -> None:
        """Step until idle or until the next item is later than ``until`` (then ``now = until``)."""
        while True:
            t = self._peek()
            if t is None or (until is not None and t > until + 1e-12):
                break
            self.step()
        if until is not None:
            self.now = max(self.now, until)

    def do(self, node: str, call: Callable[[float], Any]) -> Any:
        """Run an application call on ``node`` at ``now``; returns its non-action part if any."""
        result = call(self.now)
        if isinstance(result, tuple):
            value, actions = result
            self.apply(node, actions)
            return value
        self.apply(node, result)
        return None

    def pending_timer(self, node: str, label: str) -> list[float]:
        """Due times of ``node``'s live timers labelled ``label``."""
        return sorted(t for t, seq, kind, n, a in self._heap
                      if kind == "timer" and n == node and a.label == label and self._timers.get((n, a.name)) == seq)

    # -- queries
    def sends(self, node: str | None = None, label: str | None = None) -> list[Sent]:
        """Sends filtered by node and label ("INVITE", "180")."""
        return [s for s in self.sent if (node is None or s.node == node) and (label is None or s.label == label)]

    def times(self, node: str, label: str) -> list[float]:
        """Send times of ``label`` by ``node``, rounded to the ms."""
        return [round(s.t, 3) for s in self.sends(node, label)]

    def app(self, node: str | None = None, kind: str | None = None) -> list[AppEvent]:
        """AppEvents filtered by node and kind."""
        return [e for _, n, e in self.events if (node is None or n == node) and (kind is None or e.kind == kind)]

    def app_at(self, node: str, kind: str) -> list[tuple[float, AppEvent]]:
        """(time, AppEvent) pairs of ``kind`` at ``node``."""
        return [(round(t, 3), e) for t, n, e in self.events if n == node and e.kind == kind]


def drop_first(label: str) -> Callable[[Sent], bool]:
    """A ``drop=`` predicate that loses only the first transmission labelled ``label`` ("ACK", "180")."""
    lost: list[Sent] = []

    def drop(sent: Sent) -> bool:
        if sent.label == label and not lost:
            lost.append(sent)
            return True
        return False

    return drop


def doubling_times(t1: float, cap: float | None) -> list[float]:
    """TIMERS.md §2: send times doubling from T1 (with or without a cap) up to the first time >= 64*T1."""
    times, t, interval = [0.0], 0.0, t1
    while t + interval < 64 * t1:
        t += interval
        times.append(round(t, 3))
        interval = 2 * interval if cap is None else min(2 * interval, cap)
    return times


# ------------------------------------------------------------------ UA pairs


def make_ua(name: str, seed: int, transport=None, t1: float = 0.5, **options):
    """A UA core whose resolver maps a host name to the same-named node."""
    import random

    from simsip.sip.events import Transport
    from simsip.sip.timers import TimerConfig
    from simsip.sip.ua import UAOptions, UserAgentCore

    transport = transport or Transport.UDP
    opts = UAOptions(resolver=lambda host: Address(host, 5060, transport), **options)
    return UserAgentCore(name, name, aor=f"sip:{name}@{name}.example.com", timers=TimerConfig(t1=t1),
                         transport=transport, rng=random.Random(seed), options=opts)


def pair(transport=None, t1: float = 0.5, alice: dict | None = None, bob: dict | None = None, **net):
    """alice and bob joined by a 10 ms link: (net, alice, bob)."""
    a = make_ua("alice", 1, transport, t1, **(alice or {}))
    b = make_ua("bob", 2, transport, t1, **(bob or {}))
    return Net({"alice": a, "bob": b}, **net), a, b


def wait_request(net: Net, node: str, method: str = "INVITE") -> AppEvent:
    """Step until ``node`` gets a new request event for ``method``; return it."""
    before = len([e for e in net.app(node, "request") if e.detail["method"] == method])
    while True:
        found = [e for e in net.app(node, "request") if e.detail["method"] == method]
        if len(found) > before:
            return found[-1]
        assert net.step(), f"{method} never arrived at {node}"


def answer_on(net: Net, node: str, ua, script: list[tuple[float, int, dict]]) -> str:
    """Wait for the INVITE at ``node`` then answer per ``script`` (delay after arrival, code, kwargs)."""
    invite = wait_request(net, node)
    start = net.now
    for delay, code, kwargs in script:
        net.run(until=start + delay)
        net.do(node, lambda now, c=code, k=kwargs: ua.respond(now, invite.call_id, c, **k))
    return invite.call_id


def dial(net: Net, alice, bob, script: list[tuple[float, int, dict]], **invite) -> str:
    """alice INVITEs bob (at ``net.now``); bob answers per ``script`` (see :func:`answer_on`)."""
    net.do("alice", lambda now: alice.invite(now, "sip:bob@bob", **invite))
    return answer_on(net, "bob", bob, script)


def established(**net) -> tuple[Net, Any, Any, str]:
    """alice has called bob, answered 200 and ACKed; the clock at 1 s: (net, alice, bob, call_id)."""
    network, alice, bob = pair(**net)
    call_id = dial(network, alice, bob, [(0.0, 200, {})])
    network.run(until=1.0)
    return network, alice, bob, call_id
