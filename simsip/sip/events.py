"""The sans-IO vocabulary: what a SIP machine is fed and what it asks for.

Every machine in :mod:`simsip.sip` (transactions, the UA core, the proxy core)
takes ``now`` and one input, and returns a list of actions. It never reads a
clock or a socket: the simulator (or a test, or a real socket adapter) carries
out the actions and feeds back timer firings. See aioquic's
``handle_timer(now)`` / ``get_timer()`` for the shape.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, Union

if TYPE_CHECKING:
    from simsip.sip.message import Request, Response


class Transport(enum.Enum):
    """Transport protocol of a hop (RFC 3261 §18)."""

    UDP = "UDP"
    TCP = "TCP"

    @property
    def reliable(self) -> bool:
        """True for transports that retransmit themselves (RFC 3261 §17)."""
        return self is not Transport.UDP


@dataclass(frozen=True, slots=True)
class Address:
    """Where a message goes: a host (a node name in the simulator), port and transport."""

    host: str
    port: int = 5060
    transport: Transport = Transport.UDP

    def __str__(self) -> str:
        """Render as ``host:port;transport=udp``."""
        return f"{self.host}:{self.port};transport={self.transport.value.lower()}"


# ---------------------------------------------------------------- actions
# Actions are values: compared and hashed by their fields like frozen
# dataclasses, and never changed once built. They are not ``frozen=True``
# only because a frozen dataclass pays an ``object.__setattr__`` per field on
# every construction, and several are built per simulated message. For the
# same reason each writes its own ``__init__`` (``init=False``; the defaults
# live there only): in the mypyc build the one @dataclass generates stays
# interpreted Python, about five times slower than a compiled one.


@dataclass(slots=True, unsafe_hash=True, init=False)
class SendMessage:
    """Hand ``message`` to the transport for ``destination``.

    ``retransmission`` counts earlier transmissions of the same message by this
    element (0 for the first); ``timer`` names the timer that caused a
    retransmission ("A", "E", "G", "2xx", "1xx-rel") or None when a received
    retransmission triggered it. ``call_id`` keys the call for measures.
    """

    # Compared but not hashed: a Request or Response is mutable and unhashable.
    message: "Request | Response" = field(hash=False)
    destination: Address
    retransmission: int
    timer: str | None

    def __init__(self, message: "Request | Response", destination: Address, retransmission: int = 0,
                 timer: str | None = None) -> None:
        """The fields in order, with their defaults (see above)."""
        self.message = message
        self.destination = destination
        self.retransmission = retransmission
        self.timer = timer


@dataclass(slots=True, unsafe_hash=True, init=False)
class StartTimer:
    """Arm (or re-arm, replacing any pending one) the timer ``name`` to fire after ``delay`` s.

    ``name`` is unique within the machine that asked (e.g. ``"z9hG4bK77/A"``);
    ``label`` is the RFC's letter or role ("A", "B", "2xx", "1xx-rel", "prack-wait").
    """

    name: str
    delay: float
    label: str
    call_id: str | None

    def __init__(self, name: str, delay: float, label: str = "", call_id: str | None = None) -> None:
        """The fields in order, with their defaults (see above)."""
        self.name = name
        self.delay = delay
        self.label = label
        self.call_id = call_id


@dataclass(slots=True, unsafe_hash=True, init=False)
class CancelTimer:
    """Disarm the timer ``name`` if it is pending."""

    name: str

    def __init__(self, name: str) -> None:
        """The field (see above)."""
        self.name = name


@dataclass(slots=True, unsafe_hash=True, init=False)
class StateChange:
    """A transaction or dialog changed state (for traces, ladders and teaching)."""

    machine: str  # e.g. "INVITE client z9hG4bK77" or "dialog <id>"
    old: str
    new: str
    call_id: str | None

    def __init__(self, machine: str, old: str, new: str, call_id: str | None = None) -> None:
        """The fields in order, with their defaults (see above)."""
        self.machine = machine
        self.old = old
        self.new = new
        self.call_id = call_id


@dataclass(slots=True, unsafe_hash=True, init=False)
class AppEvent:
    """Something the application (a scenario behaviour) may react to.

    ``kind`` is one of: ``"request"`` (a request arrived for the application,
    e.g. INVITE, ACK, BYE, CANCEL, OPTIONS, PRACK), ``"response"`` (a response
    to one of our requests), ``"timeout"`` (a transaction timed out, RFC 3261
    §8.1.3.1), ``"call-ended"`` (a call reached its end; ``detail`` gives the
    outcome), ``"reliability-failure"`` (RFC 3262 §3: no PRACK within 64*T1),
    ``"discarded"`` (a message dropped or rejected on purpose; ``detail["reason"]``),
    ``"app-error"`` (an application call that did not fit the call's state).
    The proxy core adds its own kinds. The ``detail`` keys of each UA kind are
    listed in :mod:`simsip.sip.ua`.

    Equality compares every field; the hash takes ``kind`` and ``call_id`` only,
    since ``message`` (a Request or Response) and ``detail`` (a dict) are
    mutable and unhashable: events stay usable in sets and as dict keys.
    """

    kind: str
    call_id: str
    message: "Request | Response | None" = field(hash=False)
    detail: dict[str, Any] = field(hash=False)

    def __init__(self, kind: str, call_id: str, message: "Request | Response | None" = None,
                 detail: dict[str, Any] | None = None) -> None:
        """The fields in order, with their defaults (``detail`` a new dict when not given; see above)."""
        self.kind = kind
        self.call_id = call_id
        self.message = message
        self.detail = {} if detail is None else detail


Action = Union[SendMessage, StartTimer, CancelTimer, StateChange, AppEvent]


class SipCore(Protocol):
    """A sans-IO core an agent drives (UA, proxy, redirect server): fed inputs, returns actions."""

    def receive(self, now: float, message: "Request | Response", source: Address) -> list[Action]:
        """A message arrived from ``source``."""
        ...

    def timer_fired(self, now: float, name: str) -> list[Action]:
        """Timer ``name`` (from one of our StartTimer actions) fired."""
        ...

    def release(self) -> None:
        """Forget a finished run's state (it points back at the core)."""
        ...
