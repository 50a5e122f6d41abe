"""The simulated IP network: nodes, directed link hops, routing, UDP and TCP delivery.

Topology is a :class:`networkx.DiGraph` of the scenario's nodes; each link
adds one hop per direction, each with its own parameters, loss-model state and
random stream. A message between non-adjacent nodes follows the lowest mean
delay path (computed once per pair, static: faults do not re-route); nodes in
between act as IP routers, not SIP elements.

Per hop a packet meets, in this order: the hop being down (dropped), its loss
model, its delay sample, jitter (uniform in +-jitter, clipped at 0), a
serialisation queue when the hop has a bandwidth (size from the real wire
bytes), reordering (with probability ``reorder`` an extra ``reorder_delay``)
and duplication (with probability ``duplicate`` a second copy with its own
delay). A packet in flight when its hop goes down, or arriving at a node that
is down, is dropped.

Deliveries are SimPy events: the packet itself is the event (it has the
``callbacks`` list and ``_ok`` flag :meth:`simpy.Environment.step` reads) and
is pushed straight onto the environment's queue with one bound method as
callback, exactly as ``env.timeout(delay)`` would order it (same time,
priority and event-id counter): no process, no closure and no Timeout object
per message. :class:`Clock` does the same for the agents' timers and counts
the events that were cancelled while queued, so a run can end as soon as
only those are left (:meth:`Clock.run`).

TCP (RFC 793 / RFC 6298 model): a connection per ordered pair of nodes gives
each message a sequence number; the receiving end delivers to SIP strictly in
sequence (reassembly), so SIP never sees loss, duplication or reordering. A
segment lost on any hop is sent again from the source after the retransmission
timeout, doubled at each further loss of the same segment (RFC 6298 §5.5). The
RTO is RFC 6298's value after the first RTT measurement R (the path's mean
round trip): SRTT = R, RTTVAR = R/2, RTO = SRTT + 4*RTTVAR = 3R, rounded up to
the 1 s minimum of §2.4 (also the initial RTO of §2.1). After
:data:`TCP_MAX_RETRANSMISSIONS` losses of one segment the connection gives the
message up (reported as a drop) and goes on with the next one. A crash of the
sender closes its connections: a segment it sent before is given up the same way
when due again (even if the node is up again by then), and what it sends after
its restart goes on a new connection, not held behind those.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from heapq import heappop, heappush
from typing import Any, Callable, ClassVar, Final, Protocol

import networkx as nx
import simpy

from simsip.net.models import BernoulliLoss, ConstantDelay, Delay, LossModel, NoLoss
from simsip.sip.events import Transport

# RFC 6298 §2.4: "Whenever RTO is computed, if it is less than 1 second, then
# the RTO SHOULD be rounded up to 1 second" (also the initial RTO, §2.1).
TCP_MIN_RTO: Final = 1.0
# RFC 6298 §2.3: after the first measurement R, RTO = R + K*(R/2) with K = 4.
TCP_RTO_RTT_FACTOR: Final = 3.0
# Losses of one segment before the connection gives the message up
# (1+2+4+8+16+32 s of back-off: past 64*T1, the longest SIP transaction timer).
TCP_MAX_RETRANSMISSIONS: Final = 6


@dataclass(frozen=True, slots=True)
class HopSpec:
    """Parameters of one direction of a link."""

    delay: Delay = field(default_factory=lambda: ConstantDelay(0.0))
    jitter: float = 0.0
    loss: LossModel = field(default_factory=NoLoss)
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: float | None = None  # None: one more mean delay
    bandwidth: float | None = None  # bits per second; None: no serialisation delay


# simpy.events.NORMAL: the priority of every Timeout (URGENT ones go first at equal times).
NORMAL: Final = 1
# The callbacks of a cancelled event: it stays queued, and processing it does nothing.
DEAD: Final[tuple[()]] = ()
# Two reasons a drop event gives that the views tell apart: a link's random loss, and a
# scenario's `drop` statement (the other reasons are faults the views show as they are).
RANDOM_LOSS: Final = "loss"
DROP_FAULT: Final = "drop fault"


class QueuedEvent:
    """An event this project pushes on the SimPy queue itself: what ``Environment.step`` reads of one.

    ``callbacks`` and ``_ok`` as :class:`simpy.Event` has them; one base class
    so that :meth:`Clock.run` reads them as fields when compiled. Such an event
    never fails.
    """

    __slots__ = ("callbacks",)
    callbacks: list[Callable[..., Any]] | tuple[()] | None  # DEAD once cancelled, None once processed
    _ok: ClassVar[bool] = True


class Wakeup(QueuedEvent):
    """A SimPy event scheduled directly on the queue: ``callbacks``, ``_value`` and ``_ok``.

    What :meth:`simpy.Environment.step` needs of an event, without
    :class:`simpy.Timeout`'s two Python-level calls (``__init__`` and
    ``schedule``) per event.
    """

    __slots__ = ("_value",)
    _value: Any


class Clock:
    """The run's SimPy environment seen from the hot path: its queue, event ids and dead events.

    ``dead`` counts events cancelled while queued (their callbacks replaced by
    :data:`DEAD`); they are popped and do nothing. When every queued event is
    dead nothing can happen any more, so :meth:`run` ends there instead of
    popping them one by one (the clock then stays at the last live event).
    """

    __slots__ = ("env", "queue", "next_eid", "dead")

    def __init__(self, env: simpy.Environment) -> None:
        """Share ``env``'s queue and event-id counter (SimPy 4's ``_queue`` and ``_eid``)."""
        self.env = env
        # simpy annotates its queue as holding Events; ours hold event-like objects too (PendingTimer, Packet).
        self.queue: list[tuple[float, int, int, Any]] = env._queue  # type: ignore[assignment]
        # The next event id, as ``next(env._eid)``: the counter's own method, bound once
        # (compiled, ``next(...)`` would look the builtin up on every event).
        self.next_eid: Callable[[], int] = env._eid.__next__
        self.dead = 0

    def call_in(self, delay: float, callback: Callable[[Any], None], value: Any = None) -> Wakeup:
        """Call ``callback(wakeup)`` after ``delay`` (ordered as ``env.timeout(delay)`` would be)."""
        wakeup = Wakeup()
        wakeup.callbacks = [callback]
        wakeup._value = value
        heappush(self.queue, (self.env._now + delay, NORMAL, self.next_eid(), wakeup))
        return wakeup

    def release(self) -> None:
        """Drop the events a finished run left queued (their callbacks point at its agents and run)."""
        self.queue.clear()

    def kill(self, event: Any) -> None:
        """Cancel a queued event: it stays in the queue but does nothing when its time comes."""
        event.callbacks = DEAD
        self.dead += 1

    def run(self) -> None:
        """Process events until none is left that can still do something.

        The same steps as ``env.run()`` (pop, set the time, call the callbacks
        in order) inlined; it stops at the first dead event after which only
        dead ones are queued (the clock stays at the last live event).
        """
        env = self.env
        queue = self.queue
        pop = heappop  # a local: the compiled loop would look the module's global up per event
        while queue:
            now, _, _, event = pop(queue)
            if isinstance(event, QueuedEvent):
                callbacks = event.callbacks
                event.callbacks = None
                # Live: a list (DEAD once cancelled); a list, so the compiled loop iterates it natively.
                if isinstance(callbacks, list) and callbacks:
                    env._now = now
                    for callback in callbacks:
                        callback(event)
                    continue
            elif self._process(event, now):
                continue
            self.dead -= 1
            if len(queue) == self.dead:  # only dead ones left: nothing more can happen
                break

    def _process(self, event: Any, now: float) -> bool:
        """Process one of SimPy's own events (a Timeout, ...) as ``env.step`` would; False if it was dead."""
        callbacks = event.callbacks
        event.callbacks = None
        if not callbacks:
            return False
        self.env._now = now
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc
        return True


class Receiver(Protocol):
    """What a node attaches to the network: called once per delivered message."""

    def __call__(self, message: Any, source: str, transport: Transport) -> None:
        """Take one message from ``source`` (a node name) over ``transport``."""
        ...


DropHook = Callable[["Packet", "Hop | None", str], None]
"""Called as ``hook(packet, hop, reason)`` for every packet a hop loses."""


class Hop:
    """One direction of one link, with its own random stream and loss-model state."""

    __slots__ = (
        "name", "src", "dst", "spec", "rng", "loss", "delay", "const_delay",
        "jitter", "reorder", "reorder_delay", "duplicate", "bandwidth",
        "up", "epoch", "busy_until", "sent", "lost",
    )

    def __init__(self, name: str, src: str, dst: str, spec: HopSpec, rng: random.Random) -> None:
        """Create the hop ``src`` -> ``dst`` of link ``name``."""
        self.name = name
        self.src = src
        self.dst = dst
        self.spec = spec
        self.rng = rng
        loss = spec.loss
        # None for NoLoss: the hot path skips a call that can only say "kept". A stateless
        # model's fresh() is itself, so every run's hop shares the spec's.
        self.loss: LossModel | None = None if isinstance(loss, NoLoss) else loss.fresh()
        self.delay = spec.delay
        # Constant delays skip the method call on the hot path.
        self.const_delay: float | None = (
            spec.delay.value if isinstance(spec.delay, ConstantDelay) else None
        )
        self.jitter = spec.jitter
        self.reorder = spec.reorder
        self.reorder_delay = (
            spec.reorder_delay if spec.reorder_delay is not None else spec.delay.mean
        )
        self.duplicate = spec.duplicate
        self.bandwidth = spec.bandwidth
        self.up = True
        self.epoch = 0  # bumped when the hop goes down: packets in flight are lost
        self.busy_until = 0.0
        self.sent = 0
        self.lost = 0

    def fresh(self, rng: random.Random) -> "Hop":
        """The same hop with fresh state (up, no packets, loss model reset) drawing from ``rng``."""
        return Hop(self.name, self.src, self.dst, self.spec, rng)

    @property
    def mean_delay(self) -> float:
        """Mean one-way delay (routing weight)."""
        return self.delay.mean

    def set_up(self, up: bool) -> None:
        """Bring the hop up or down (down: every packet in flight is lost)."""
        if self.up and not up:
            self.epoch += 1
        self.up = up


class Packet(QueuedEvent):
    """One transmission of one message across the network (a copy per duplicate).

    While it crosses a hop the packet is itself the queued SimPy event
    (``callbacks``, ``_ok``): its arrival calls the network back with it.
    """

    __slots__ = (
        "message", "src", "dst", "transport", "path", "hop", "epoch", "size",
        "conn", "seq", "attempt", "attempt_start", "meta",
    )
    # Not set by __init__: seq, attempt and attempt_start by a TCP send, callbacks when queued.
    seq: int
    attempt: int
    attempt_start: float

    def __init__(self, message: Any, src: str, dst: str, transport: Transport,
                 path: tuple[Hop, ...], meta: Any) -> None:
        """A packet about to enter the first hop of ``path``."""
        self.message = message
        self.src = src
        self.dst = dst
        self.transport = transport
        self.path = path
        self.hop = 0
        self.epoch = 0
        self.size = -1  # wire bytes, rendered on first need
        self.conn: "_TcpConnection | None" = None  # TCP only; then seq, attempt, attempt_start too
        self.meta = meta  # opaque to the network: the sender's trace context

    def copy(self) -> "Packet":
        """An independent copy at the same point of the same path (duplication)."""
        other = Packet(self.message, self.src, self.dst, self.transport, self.path, self.meta)
        other.hop = self.hop
        other.size = self.size
        return other


class _TcpConnection:
    """One direction of a TCP connection: sequence numbers and in-order reassembly."""

    __slots__ = ("next_seq", "expect", "pending", "rto")

    def __init__(self, rto: float) -> None:
        """Empty connection with retransmission timeout ``rto``."""
        self.next_seq = 0
        self.expect = 0
        self.pending: dict[int, Packet | None] = {}
        self.rto = rto


def wire_size(message: Any) -> int:
    """Size in bytes of ``message`` on the wire (its rendering, CRLF line ends, Content-Length)."""
    return len(bytes(message))


class Network:
    """Nodes joined by links; moves messages with delay, loss and faults on a SimPy clock."""

    def __init__(self, env: simpy.Environment, on_drop: DropHook | None = None,
                 routes: dict[tuple[str, str], list[str] | None] | None = None,
                 clock: Clock | None = None) -> None:
        """An empty network on ``env``; ``on_drop`` hears of every lost packet.

        ``routes`` caches node paths by (src, dst); runs of one topology may share
        one dict so the shortest paths are computed once, not once per run.
        ``clock`` is the run's :class:`Clock` on ``env`` (a new one if None); the
        agents attached share it.
        """
        self.env = env
        self.clock = clock if clock is not None else Clock(env)
        self._queue = self.clock.queue
        self._next_eid = self.clock.next_eid
        self.routes = routes if routes is not None else {}
        # Built on first use (a route not in ``routes``): runs sharing a routes dict never need it.
        self._graph: nx.DiGraph | None = None
        self.on_drop = on_drop
        self._receivers: dict[str, Receiver] = {}
        self._node_up: dict[str, bool] = {}
        self._hops: dict[tuple[str, str], Hop] = {}
        # src -> dst -> path: two lookups on node names, cheaper per message than one on a (src, dst) tuple.
        self._paths: dict[str, dict[str, tuple[Hop, ...] | None]] = {}
        # A fork's topology and its hop -> the fork's hop: the fork maps the topology's (cached)
        # paths instead of working each out again in every run.
        self._origin: Network | None = None
        self._renewed: dict[Hop, Hop] = {}
        # Links added so far; a fork keeps its topology's count from when it was made: a
        # topology that has grown since routes over hops the fork does not have.
        self._links_added = 0
        self._origin_links = 0
        self._tcp: dict[tuple[str, str], _TcpConnection] = {}
        # Connections of senders that crashed: kept for the segments they still hold.
        self._closed: list[_TcpConnection] = []
        self.links: dict[str, tuple[Hop | None, Hop | None]] = {}
        # Wire sizes by message identity: a retransmission is the same object, rendered
        # once. Forgotten on delivery, since a proxy may edit what it received and forward it.
        self._sizes: dict[int, tuple[Any, int]] = {}
        # Bound once: every delivery reuses these callbacks; a packet's callbacks are one list
        # for all of them (only read, as the agents' timer callbacks, see Agent).
        self._arrive_callbacks: list[Callable[..., Any]] = [self._arrive]
        self._tcp_retry_cb = self._tcp_retry
        self._local_cb = self._local

    # What release drops (mypyc lets a compiled class delete only the attributes listed here).
    __deletable__ = ("_arrive_callbacks", "_tcp_retry_cb", "_local_cb")

    def release(self) -> None:
        """Drop this finished run's cycles (queue, receivers, held TCP segments, bound methods): see ``_Run.release``."""
        self.clock.release()
        self.on_drop = None
        self._receivers = {}
        # A segment held for in-order delivery points back at its connection (``packet.conn``).
        for conn in [*self._tcp.values(), *self._closed]:
            conn.pending.clear()
        self._tcp = {}
        self._closed = []
        self._sizes = {}
        del self._arrive_callbacks, self._tcp_retry_cb, self._local_cb

    def fork(self, env: simpy.Environment, on_drop: DropHook | None,
             rngs: list[random.Random]) -> "Network":
        """A network with this one's nodes, links and routes on ``env``, every hop fresh.

        ``rngs[i]`` is the stream of the i-th hop (in the order the links made them).
        Nothing is attached; runs of one topology fork it instead of rebuilding it. A link
        added to the fork later is the fork's alone (it then routes on routes of its own).
        """
        net = Network(env, on_drop, self.routes)
        net._node_up = {node: True for node in self._node_up}
        net._origin = self
        net._origin_links = self._links_added
        hops = net._hops
        renewed = net._renewed  # this network's hop -> the fork's
        for (key, hop), rng in zip(self._hops.items(), rngs):
            hops[key] = renewed[hop] = hop.fresh(rng)
        net.links = {
            name: (None if a is None else renewed[a], None if b is None else renewed[b])
            for name, (a, b) in self.links.items()
        }
        return net

    def held(self) -> list[Packet]:
        """Packets TCP holds for in-order delivery (arrived, not yet handed to SIP)."""
        return [packet for conn in [*self._tcp.values(), *self._closed] for packet in conn.pending.values()
                if packet is not None]

    def hops(self) -> list[Hop]:
        """Every hop, in the order the links made them (the order :meth:`fork` takes streams in)."""
        return list(self._hops.values())

    # ------------------------------------------------------------ topology

    def add_node(self, name: str) -> None:
        """Add a node (a SIP element or a router)."""
        self._node_up[name] = True
        self._graph = None

    def add_link(self, a: str, b: str, forward: HopSpec | None, backward: HopSpec | None,
                 rng_forward: random.Random, rng_backward: random.Random,
                 name: str | None = None) -> tuple[Hop | None, Hop | None]:
        """Join ``a`` and ``b``: hop a->b with ``forward``, hop b->a with ``backward``.

        A None spec leaves that direction out (a one-way link): no hop, no route.
        """
        for node in (a, b):
            if node not in self._node_up:
                self.add_node(node)
        link_name = name or f"{a}-{b}"
        if (a, b) in self._hops or (b, a) in self._hops:
            raise ValueError(f"duplicate link {a} <-> {b}")
        hops: list[Hop | None] = []
        for src, dst, spec, rng in ((a, b, forward, rng_forward), (b, a, backward, rng_backward)):
            if spec is None:
                hops.append(None)
                continue
            hop = Hop(link_name, src, dst, spec, rng)
            self._hops[(src, dst)] = hop
            hops.append(hop)
        pair = (hops[0], hops[1])
        self.links[link_name] = pair
        self._links_added += 1
        self._graph = None
        self._paths.clear()
        # Forks share ``routes`` with their topology: whichever of them grows gets routes of
        # its own, and the others' stay as they were.
        self.routes = {}
        self._origin = None  # a fork's paths are its own from now on
        return pair

    def attach(self, node: str, receiver: Receiver) -> None:
        """Make ``receiver`` the SIP element at ``node``."""
        if node not in self._node_up:
            self.add_node(node)
        self._receivers[node] = receiver

    @property
    def graph(self) -> nx.DiGraph:
        """The topology as a directed graph weighted by mean hop delay (nodes and edges in insertion order)."""
        if self._graph is None:
            graph = nx.DiGraph()
            graph.add_nodes_from(self._node_up)
            for (src, dst), hop in self._hops.items():
                graph.add_edge(src, dst, delay=hop.mean_delay)
            self._graph = graph
        return self._graph

    def hop(self, a: str, b: str) -> Hop:
        """The hop a -> b (KeyError when there is no such link)."""
        return self._hops[(a, b)]

    def path(self, src: str, dst: str) -> tuple[Hop, ...] | None:
        """Hops of the lowest mean-delay path from ``src`` to ``dst`` (None: unreachable)."""
        by_dst = self._paths.get(src)
        if by_dst is None:
            by_dst = self._paths[src] = {}
        elif dst in by_dst:
            return by_dst[dst]
        hops: tuple[Hop, ...] | None = None
        origin = self._origin
        if origin is not None and origin._links_added != self._origin_links:
            self._origin = origin = None  # the topology grew after this fork: route on the fork's own links
        if origin is not None:  # a fork: the topology's path, through this run's hops
            path = origin.path(src, dst)
            if path is not None:
                renewed = self._renewed
                hops = tuple([renewed[hop] for hop in path])
            by_dst[dst] = hops
            return hops
        key = (src, dst)
        if key in self.routes:
            nodes = self.routes[key]
        else:
            try:
                nodes = nx.shortest_path(self.graph, src, dst, weight="delay")
            except (nx.NetworkXNoPath, nx.NodeNotFound):
                nodes = None
            self.routes[key] = nodes
        if nodes is not None:
            links = self._hops
            hops = tuple([links[pair] for pair in zip(nodes, nodes[1:])])
        by_dst[dst] = hops
        return hops

    def round_trip(self, src: str, dst: str) -> float:
        """Mean round-trip time between two nodes (s); inf when unreachable."""
        there, back = self.path(src, dst), self.path(dst, src)
        if there is None or back is None:
            return float("inf")
        # 0.0 start: a float (not int 0) for an empty path too; the same value otherwise.
        return sum((h.mean_delay for h in there), 0.0) + sum((h.mean_delay for h in back), 0.0)

    # ------------------------------------------------------------ faults

    def set_link_up(self, name: str, up: bool) -> None:
        """Bring both directions of link ``name`` up or down."""
        for hop in self.links[name]:
            if hop is not None:
                hop.set_up(up)

    def set_node_up(self, node: str, up: bool) -> None:
        """Bring a node up or down (down: it neither receives nor forwards, and its TCP connections close)."""
        if not up and self._node_up.get(node, False):
            # The crash loses the node's send buffers: its segments are not resent, and
            # after a restart it sends on new connections (see _tcp_retry).
            for key in [key for key in self._tcp if key[0] == node]:
                self._closed.append(self._tcp.pop(key))
        self._node_up[node] = up

    def node_up(self, node: str) -> bool:
        """Whether ``node`` is up."""
        return self._node_up.get(node, False)

    # ------------------------------------------------------------ sending

    def send(self, src: str, dst: str, message: Any, transport: Transport, meta: Any = None) -> None:
        """Transmit ``message`` from node ``src`` to node ``dst``; ``meta`` rides along for hooks."""
        by_dst = self._paths.get(src)
        path = by_dst.get(dst) if by_dst is not None else None
        if path is None:
            path = self.path(src, dst)
        if src == dst:
            packet = Packet(message, src, dst, transport, (), meta)
            self.env.timeout(0.0, packet).callbacks.append(self._local_cb)
            return
        if path is None:
            packet = Packet(message, src, dst, transport, (), meta)
            self._drop(packet, None, "no route")
            return
        packet = Packet(message, src, dst, transport, path, meta)
        if transport is Transport.UDP:
            self._enter(packet)
            return
        conn = self._tcp.get((src, dst))
        if conn is None:
            rto = max(TCP_MIN_RTO, TCP_RTO_RTT_FACTOR * self.round_trip(src, dst))
            conn = self._tcp[(src, dst)] = _TcpConnection(rto)
        packet.conn = conn
        packet.seq = conn.next_seq
        conn.next_seq += 1
        packet.attempt = 0
        packet.attempt_start = self.env._now
        self._enter(packet)

    def _enter(self, packet: Packet) -> None:
        """Put ``packet`` on hop number ``packet.hop`` of its path."""
        hop = packet.path[packet.hop]
        hop.sent += 1
        if not hop.up:
            self._lose(packet, hop, "link down")
            return
        rng = hop.rng
        loss = hop.loss
        if loss is not None:
            if type(loss) is BernoulliLoss:
                # Its one uniform drawn here, without the method call; a typed local, so that
                # compiled, ``p`` is read natively.
                bernoulli: BernoulliLoss = loss
                lost = rng.random() < bernoulli.p
            else:
                lost = loss.lost(rng)
            if lost:
                self._lose(packet, hop, RANDOM_LOSS)
                return
        delay = hop.const_delay
        if delay is None:
            delay = hop.delay.sample(rng)
        if hop.jitter:
            delay += hop.jitter * (2.0 * rng.random() - 1.0)
            if delay < 0.0:
                delay = 0.0
        now: float = self.env._now  # a float local: compiled, the arrival times below are native sums
        if hop.bandwidth is not None:
            if packet.size < 0:
                packet.size = self._size(packet.message)
            start = hop.busy_until if hop.busy_until > now else now
            hop.busy_until = start + packet.size * 8.0 / hop.bandwidth
            delay += hop.busy_until - now
        reliable = packet.conn is not None
        if hop.reorder and rng.random() < hop.reorder:
            delay += hop.reorder_delay
        if hop.duplicate and rng.random() < hop.duplicate and not reliable:
            # TCP discards duplicate segments: only UDP duplicates reach SIP.
            twin = packet.copy()
            twin.epoch = hop.epoch
            extra = hop.const_delay if hop.const_delay is not None else hop.delay.sample(rng)
            twin.callbacks = self._arrive_callbacks
            heappush(self._queue, (now + (extra if extra > delay else delay), NORMAL,
                                   self._next_eid(), twin))
        packet.epoch = hop.epoch
        packet.callbacks = self._arrive_callbacks
        heappush(self._queue, (now + delay, NORMAL, self._next_eid(), packet))

    def _size(self, message: Any) -> int:
        """Wire size of ``message``, rendered once per object while the sender holds it."""
        entry = self._sizes.get(id(message))
        if entry is not None and entry[0] is message:
            return entry[1]
        size = wire_size(message)
        if len(self._sizes) >= 4096:
            self._sizes.clear()
        self._sizes[id(message)] = (message, size)
        return size

    def _arrive(self, packet: Packet) -> None:
        """A packet reached the far end of its current hop (the packet is the event)."""
        hop = packet.path[packet.hop]
        if hop.epoch != packet.epoch:
            self._lose(packet, hop, "link down")
            return
        node = hop.dst
        if not self._node_up[node]:
            self._lose(packet, hop, "node down")
            return
        packet.hop += 1
        if packet.hop < len(packet.path):
            self._enter(packet)
            return
        if packet.size >= 0:
            self._sizes.pop(id(packet.message), None)
        conn = packet.conn
        if conn is None:
            receiver = self._receivers.get(node)
            if receiver is not None:
                receiver(packet.message, packet.src, packet.transport)
            return
        # TCP reassembly: deliver strictly in sequence.
        if packet.seq != conn.expect:
            conn.pending[packet.seq] = packet
            return
        self._tcp_deliver(conn, packet)

    def _tcp_deliver(self, conn: _TcpConnection, packet: Packet | None) -> None:
        """Deliver ``packet`` (None: a given-up gap) and every queued successor."""
        while True:
            conn.expect += 1
            if packet is not None:
                if self._node_up[packet.dst]:
                    receiver = self._receivers.get(packet.dst)
                    if receiver is not None:
                        receiver(packet.message, packet.src, packet.transport)
                else:
                    # Held behind a gap that closed while its node is down: lost at that node,
                    # reported as a UDP packet arriving there would be (TCP will not resend it).
                    hop = packet.path[-1]
                    hop.lost += 1
                    self._drop(packet, hop, "node down")
            if conn.expect not in conn.pending:
                return
            packet = conn.pending.pop(conn.expect)

    def _lose(self, packet: Packet, hop: Hop, reason: str) -> None:
        """``hop`` lost ``packet``: UDP drops it; TCP retransmits the segment after the RTO."""
        hop.lost += 1
        conn = packet.conn
        if conn is None:
            self._drop(packet, hop, reason)
            return
        packet.attempt += 1
        if packet.attempt > TCP_MAX_RETRANSMISSIONS:
            self._drop(packet, hop, f"{reason}; TCP gave up after "
                       f"{TCP_MAX_RETRANSMISSIONS} retransmissions")
            if packet.seq == conn.expect:
                self._tcp_deliver(conn, None)
            else:
                conn.pending[packet.seq] = None
            return
        self._drop(packet, hop, f"{reason}; TCP retransmits the segment")
        # RFC 6298 §5.5: back off, doubling the RTO for each further loss.
        retry_at = packet.attempt_start + conn.rto * (2 ** (packet.attempt - 1))
        delay = retry_at - self.env._now
        self.env.timeout(delay if delay > 0.0 else 0.0, packet).callbacks.append(self._tcp_retry_cb)

    def _tcp_retry(self, event: simpy.Event) -> None:
        """The sender's retransmission timer fired: send the segment again from the start."""
        packet: Packet = event._value
        # Its connection closed: the sender crashed since it sent the segment (down, or up again).
        if self._tcp.get((packet.src, packet.dst)) is not packet.conn:
            self._drop(packet, None, "node down")
            if packet.conn is not None:
                conn = packet.conn
                if packet.seq == conn.expect:
                    self._tcp_deliver(conn, None)
                else:
                    conn.pending[packet.seq] = None
            return
        packet.hop = 0
        packet.attempt_start = self.env._now
        self._enter(packet)

    def _local(self, event: simpy.Event) -> None:
        """Deliver a message a node sent to itself."""
        packet: Packet = event._value
        receiver = self._receivers.get(packet.dst)
        if receiver is not None and self._node_up[packet.dst]:
            receiver(packet.message, packet.src, packet.transport)

    def _drop(self, packet: Packet, hop: Hop | None, reason: str) -> None:
        """Report a lost packet to the hook."""
        if self.on_drop is not None:
            self.on_drop(packet, hop, reason)
