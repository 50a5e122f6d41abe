"""What every SimPy agent shares: timers by token, sending through the network, crash/restart.

An agent is the SimPy driver of one sans-IO core (UA or proxy) at one node.
It carries out the core's actions: :class:`SendMessage` goes to the network
(the destination host mapped to its node), :class:`StartTimer` queues a
:class:`PendingTimer` (a SimPy event on the run's :class:`~simsip.net.network.Clock`)
whose callback feeds ``timer_fired`` back to the core, :class:`CancelTimer`
forgets the timer. The agent keeps ``name -> PendingTimer`` for its pending
timers (the engine's (node, name) key, one dict per node); cancelling or
re-arming a timer kills its queued event (no callback left), so it never
fires, and a run whose queue holds only such events is over. No process is
started per timer or per message.
"""

from __future__ import annotations

from heapq import heappush
from typing import TYPE_CHECKING, Any, Callable

import simpy

from simsip.sip.events import (
    Address,
    AppEvent,
    CancelTimer,
    SendMessage,
    SipCore,
    StartTimer,
    StateChange,
    Transport,
)

from simsip.metrics.trace import TraceEvent, describe
from simsip.net.network import DEAD, DROP_FAULT, NORMAL, QueuedEvent

if TYPE_CHECKING:
    from simsip.metrics.trace import TraceSink
    from simsip.net.network import Network


class Describer:
    """``describe(message)`` for trace events, cached per message object.

    A message is described when sent and again when delivered (the network
    hands the receiver the same object), and a retransmission is the same
    object again, so one run shares one describer. The cache is keyed by
    identity, checked with ``is`` (ids are reused after garbage collection)
    and cleared when it grows past :attr:`LIMIT` so long runs stay small.
    The agents' hot paths read :attr:`cache` themselves (``(message, label,
    call_id, cseq, rseq, rack)`` by ``id``) and call :meth:`fill` on a miss.
    """

    __slots__ = ("cache",)
    LIMIT = 4096

    def __init__(self) -> None:
        """Empty cache."""
        self.cache: dict[int, tuple] = {}

    def __call__(self, message: Any) -> tuple:
        """``(label, call_id, cseq, rseq, rack)`` of ``message``."""
        entry = self.cache.get(id(message))
        if entry is None or entry[0] is not message:
            entry = self.fill(message)
        return entry[1:]

    def fill(self, message: Any) -> tuple:
        """Describe ``message`` and cache ``(message, label, call_id, cseq, rseq, rack)``."""
        # Unpacked and rebuilt, not (message, *describe(message)): compiled, no list in between.
        label, call_id, cseq, rseq, rack = describe(message)
        entry = (message, label, call_id, cseq, rseq, rack)
        cache = self.cache
        if len(cache) >= self.LIMIT:
            cache.clear()
        cache[id(message)] = entry
        return entry


class DropRule:
    """A ``drop`` fault: lose the first ``count`` matching transmissions ``node -> target``."""

    __slots__ = ("pattern", "target", "remaining", "after")

    def __init__(self, pattern: Any, target: str, count: int | None, after: float) -> None:
        """``pattern`` has ``matches(method, code, cseq_method)``; ``count`` None drops all."""
        self.pattern = pattern
        self.target = target
        self.remaining = count
        self.after = after

    def take(self, now: float, target: str, message: Any) -> bool:
        """True if this transmission is to be dropped (and count it)."""
        if target != self.target or now < self.after or self.remaining == 0:
            return False
        method = getattr(message, "method", None)
        code = None if method is not None else message.status
        # The CSeq method lets `drop 200 to PRACK` tell that 200 from the INVITE's.
        cseq = getattr(getattr(message, "cseq", None), "method", None)
        if not self.pattern.matches(method, code, cseq):
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


class PendingTimer(QueuedEvent):
    """One armed timer of one agent; queued as its own SimPy event until it fires or dies.

    No ``__init__``: :meth:`Agent.execute` fills ``name``, ``label`` (for the
    trace), ``call_id`` and ``callbacks`` itself, saving a call per timer.
    """

    __slots__ = ("name", "label", "call_id")
    name: str
    label: str
    call_id: str | None


# ``transport._value_`` below: the plain attribute behind ``Transport.value``, whose
# descriptor costs a Python call on every message.


class Agent:
    """Drives one core at one node: timers, sends, receives, faults."""

    # Defaults an instance overrides only when they change (crash/restart, watch_early):
    # fewer attributes per instance keep its __dict__ within CPython's shared-key limit
    # (30 keys; past it every instance gets its own dict and attribute reads slow down).
    up = True
    # Set by each subclass (or a test) once built: a core needs the agent's streams first.
    core: SipCore
    # Builds a fresh core: the first one and one per restart (set with ``core``).
    core_factory: Callable[[], Any]
    # Called with each message about to be sent, before it is (None: nothing watches).
    _watch: Callable[[Any], None] | None = None
    # What release drops (mypyc lets a compiled class delete only the attributes listed here).
    __deletable__ = ("_timer_callbacks",)

    def __init__(self, name: str, host: str, env: simpy.Environment, network: "Network",
                 hosts: dict[str, str], sink: "TraceSink", describer: Describer) -> None:
        """Agent ``name`` (its node) known on the wire as ``host``; ``hosts`` maps host -> node."""
        self.name = name
        self.host = host
        self.env = env
        self.network = network
        self.hosts = hosts
        self.sink = sink
        self.keep_states = sink.level == "full"
        # The AppEvent kinds the sink does anything with (None: every kind).
        self._app_kinds: frozenset[str] | None = getattr(sink, "app_kinds", None)
        # The AppEvent kinds on_app_event can act on (None: every kind); subclasses narrow it.
        self._app_interest: frozenset[str] | None = None
        self.describe = describer
        self._described = describer.cache
        self._fill = describer.fill
        self.drop_rules: list[DropRule] = []
        self._timers: dict[str, PendingTimer] = {}
        self.clock = network.clock
        self._queue = self.clock.queue
        self._next_eid = self.clock.next_eid
        self._sources: dict[str, Address] = {}
        # The callbacks of every timer this agent queues, one list for all: a queued event's list is
        # only read (Clock.run and SimPy's step replace it, never add to it), so none is made per timer.
        self._timer_callbacks: list[Callable[..., Any]] = [self._timer_fired]
        network.attach(name, self.deliver)

    def release(self) -> None:
        """Break this finished run's cycles through the agent (core, timers, own bound methods): see ``_Run.release``.

        The network drops its receivers and the clock its queued events itself;
        what else the agent points at (network, sink, clock) points back at no agent.
        """
        self.core.release()
        self._watch = None
        self._timers.clear()
        del self._timer_callbacks

    # ------------------------------------------------------------ actions

    def execute(self, actions: list) -> None:
        """Carry out a core's actions in order."""
        # Read once: no time passes while actions are carried out (a SimPy attribute read is generic);
        # a float local, so that compiled, timer deadlines are native sums.
        now: float = self.env._now
        # Branches in order of frequency (state changes and timers outnumber sends).
        for action in actions:
            kind = type(action)
            if kind is StateChange:
                if self.keep_states:  # no measure uses them: skipped when tracing is off
                    self.sink.state(now, self.name, action.call_id, action.machine,
                                    action.old, action.new)
            elif kind is StartTimer:
                # A typed local per kind: compiled, its fields are read natively.
                start: StartTimer = action
                name = start.name
                timers = self._timers
                old = timers.get(name)
                if old is not None:  # re-armed: the queued event of the old one dies
                    old.callbacks = DEAD
                    self.clock.dead += 1
                timer = timers[name] = PendingTimer()
                timer.name = name
                timer.label = start.label
                timer.call_id = start.call_id
                timer.callbacks = self._timer_callbacks
                heappush(self._queue, (now + start.delay, NORMAL, self._next_eid(), timer))
            elif kind is CancelTimer:
                cancel: CancelTimer = action
                timers = self._timers
                cancelled = timers.get(cancel.name)
                if cancelled is not None:  # get and del: compiled, dict.pop is a generic method call
                    del timers[cancel.name]
                    cancelled.callbacks = DEAD
                    self.clock.dead += 1
            elif kind is AppEvent:
                event: AppEvent = action
                app_kinds = self._app_kinds
                if app_kinds is None or event.kind in app_kinds:
                    message = event.message
                    if message is not None:
                        entry = self._described.get(id(message))
                        if entry is None or entry[0] is not message:
                            entry = self._fill(message)
                        label = entry[1]
                        cseq = entry[3]
                    else:
                        label = cseq = None
                    self.sink.app(now, self.name, event.call_id, event.kind,
                                  event.detail, label, cseq, message)
                interest = self._app_interest
                if interest is None or event.kind in interest:
                    self.on_app_event(event)
            elif kind is SendMessage:
                send: SendMessage = action
                # Agent.send inlined (one Python call fewer per message); the same steps.
                if self._watch is not None:
                    self._watch(send.message)
                destination = send.destination
                node = self.hosts.get(destination.host)
                message = send.message
                transport = destination.transport
                entry = self._described.get(id(message))
                if entry is None or entry[0] is not message:
                    entry = self._fill(message)
                _, label, call_id, cseq, rseq, rack = entry
                self.sink.send(now, self.name, node or destination.host, label, call_id, cseq,
                               rseq, rack, send.retransmission, send.timer, transport._value_,
                               message)
                if node is None:
                    self._drop(destination.host, message, send.retransmission, transport,
                               f"unknown host {destination.host}")
                    continue
                if self.drop_rules:
                    for rule in self.drop_rules:
                        if rule.take(now, node, message):
                            self._drop(node, message, send.retransmission, transport, DROP_FAULT)
                            break
                    else:
                        self.network.send(self.name, node, message, transport,
                                          send.retransmission)
                    continue
                self.network.send(self.name, node, message, transport, send.retransmission)
            else:
                self.on_other_action(action)

    def send(self, action: SendMessage) -> None:
        """Hand one message to the network toward the node owning the destination host."""
        self.execute([action])

    def _drop(self, dst: str, message: Any, retransmission: int, transport: Transport,
              reason: str) -> None:
        """A message this node sent never reached any link: a ``drop`` without a link, saying why."""
        label, call_id, cseq, rseq, rack = self.describe(message)
        now = self.env._now
        if self.sink.level == "full":
            self.sink.emit(TraceEvent(self.sink.run, now, "drop", self.name, self.name, dst, label,
                                      call_id, cseq, rseq, rack, retransmission, None, None,
                                      transport._value_, reason, message))
        else:
            self.sink.drop(now, self.name, self.name, dst, None, label, call_id, cseq, rseq, rack,
                           retransmission, transport._value_, message)

    def deliver(self, message: Any, source: str, transport: Transport) -> None:
        """The network delivered ``message`` from node ``source``: record it, feed the core."""
        if not self.up:
            return
        now = self.env._now
        entry = self._described.get(id(message))
        if entry is None or entry[0] is not message:
            entry = self._fill(message)
        _, label, call_id, cseq, rseq, rack = entry
        self.sink.recv(now, self.name, source, label, call_id, cseq, rseq, rack,
                       transport._value_, message)
        address = self._sources.get(source)
        if address is None or address.transport is not transport:
            address = self._sources[source] = Address(self.network_host(source), 5060, transport)
        self.execute(self.core.receive(now, message, address))

    def network_host(self, node: str) -> str:
        """The host name of ``node`` (inverse of ``hosts``; the node name by default).

        Not cached: it is asked once per source node, whose Address ``_sources`` keeps.
        """
        for host, owner in self.hosts.items():
            if owner == node:
                return host
        return node

    def _timer_fired(self, timer: PendingTimer) -> None:
        """One of our timers fired (cancelled and re-armed ones are dead and never get here)."""
        name = timer.name
        del self._timers[name]
        now = self.env._now
        self.sink.timer(now, self.name, timer.label, timer.call_id)
        actions = self.core.timer_fired(now, name)
        if actions:  # most firings (Timers K, J, L, M, D, I) only end a transaction: nothing to do here
            self.execute(actions)

    def pending_timers(self) -> dict[str, str]:
        """Names and labels of the timers now armed (for tests and ladders)."""
        return {name: timer.label for name, timer in self._timers.items()}

    # ------------------------------------------------------------ hooks

    def on_app_event(self, event: AppEvent) -> None:
        """An application event from the core (UA agents run behaviours here)."""

    def on_other_action(self, action: Any) -> None:
        """An action type this driver does not know; cores may add their own."""

    # ------------------------------------------------------------ faults

    def crash(self) -> None:
        """The node crashes: every pending timer is forgotten and the core's state is lost."""
        self.up = False
        for timer in self._timers.values():
            timer.callbacks = DEAD
            self.clock.dead += 1
        self._timers.clear()
        self.network.set_node_up(self.name, False)
        # In the trace, so the ladder's notes and explain show why messages stop reaching it.
        self.sink.app(self.env._now, self.name, None, "node-crash")

    def restart(self) -> None:
        """The node comes back with a fresh core (no transaction or dialog survives)."""
        self.up = True
        self.network.set_node_up(self.name, True)
        self.core = self.new_core()
        self.sink.app(self.env._now, self.name, None, "node-restart")

    def new_core(self) -> SipCore:
        """Build this agent's core from scratch (with ``core_factory``)."""
        return self.core_factory()
