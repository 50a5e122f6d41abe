"""The four SIP transaction state machines (RFC 3261 §17, as updated by RFC 6026).

Read this module beside RFC 3261 Figures 5-8. Each machine is one transition
table, keyed by ``(state, event)`` and giving the next state, in the spirit of
h11's ``_state.py``: the tables below are the whole behaviour, the classes
only add what is *sent* on each transition. The viz engineer draws the
statecharts from these tables:

=============================  ==============================  =================
table                          machine                         RFC figure
=============================  ==============================  =================
``INVITE_CLIENT_TRANSITIONS``  :class:`InviteClientTransaction`    Figure 5 + RFC 6026 §7.2
``NON_INVITE_CLIENT_TRANSITIONS`` :class:`NonInviteClientTransaction` Figure 6
``INVITE_SERVER_TRANSITIONS``  :class:`InviteServerTransaction`    Figure 7 + RFC 6026 §7.1
``NON_INVITE_SERVER_TRANSITIONS`` :class:`NonInviteServerTransaction` Figure 8
=============================  ==============================  =================

A ``(state, event)`` pair missing from a table means "ignore the input in
that state" (e.g. a 1xx arriving in Completed). Self-loops are listed because
they *do* something (retransmit, absorb, pass up). At import each table is
compiled into per-state rows keyed by plain strings, each entry naming the
handler method of its event (:meth:`Transaction._compile`): the tables stay
the single source of the behaviour, and an input costs one string lookup.

Unreliable (UDP) versus reliable (TCP) transport changes the machines exactly
as §17 says: Timers A, E and G are never started over a reliable transport,
and Timers D, I, J and K are zero, so their transition is taken at once
(the StateChange to Terminated follows the one into Completed/Confirmed in
the same action list). Timers B, F, H, L and M run on every transport.

Transactions are transport-neutral machines: they take ``now`` and one input
and return actions. Besides the driver's actions (:mod:`simsip.sip.events`)
they return :class:`TUEvent` objects addressed to their transaction user
(the UA core or a proxy core), which consumes them and never passes them to
the driver. :class:`TransactionLayer` owns the transactions of one SIP
element: it creates them, matches incoming messages to them (RFC 3261
§17.1.3 and §17.2.3 by branch, with the RFC 2543 fallback of §17.2.3 for
requests whose branch lacks the magic cookie, e.g. RFC 4475 ``badbranch.dat``
and ``inv2543.dat``), routes timer firings and forgets terminated ones.

Timer names are ``"<transaction id>/<letter>"``, unique within the element;
StartTimer labels are the RFC letters ("A" ... "M"), ``"trying"`` for the
200 ms 100-Trying delay of an INVITE server (§17.2.1) and ``"nit-trying"``
for a non-INVITE server's (RFC 4320 §4.1: it answers 100 Trying once a
client's Timer E would have reached T2 with no response sent). Every SendMessage carries
``retransmission`` (earlier sends of that same message by this transaction)
and ``timer`` (the letter that caused it, None when a received
retransmission or the TU caused it).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, ClassVar, Final, Optional

from simsip.sip.events import Action, Address, CancelTimer, SendMessage, StartTimer, StateChange, Transport
from simsip.sip.timers import TimerConfig, TransactionTimers

if TYPE_CHECKING:
    from simsip.sip.message import Request, Response

__all__ = [
    "MAGIC_COOKIE",
    "ClientTransaction",
    "ServerTransaction",
    "Transaction",
    "TUEvent",
    "TransactionLayer",
    "InviteClientTransaction",
    "NonInviteClientTransaction",
    "InviteServerTransaction",
    "NonInviteServerTransaction",
    "ICState",
    "ICEvent",
    "NICState",
    "NICEvent",
    "ISState",
    "ISEvent",
    "NISState",
    "NISEvent",
    "INVITE_CLIENT_TRANSITIONS",
    "NON_INVITE_CLIENT_TRANSITIONS",
    "INVITE_SERVER_TRANSITIONS",
    "NON_INVITE_SERVER_TRANSITIONS",
    "MACHINES",
    "INITIAL_STATES",
    "has_magic_cookie",
    "build_non2xx_ack",
    "build_from_invite",
    "server_key",
    "split_tu_events",
]

# RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this cookie.
MAGIC_COOKIE: Final = "z9hG4bK"
_COOKIE_LEN: Final = len(MAGIC_COOKIE)


def has_magic_cookie(branch: str | None) -> bool:
    """True when ``branch`` is an RFC 3261 branch: the cookie *and* something after it.

    RFC 4475 §3.2.1 (``badbranch.dat``): a branch that is exactly the cookie
    carries no transaction identifier, so RFC 2543 matching is used instead.
    """
    return branch is not None and branch[:_COOKIE_LEN] == MAGIC_COOKIE and branch != MAGIC_COOKIE


# One entry of a compiled row (see Transaction): new state, its row, handler, old and new state
# values, and whether the new state is Terminated. Typed: compiled, _fire unpacks it natively.
_Transition = tuple[enum.Enum, dict, Optional[Callable[..., None]], str, str, bool]


# ------------------------------------------------------------------ TU events


@dataclass(slots=True, eq=False, init=False)  # its own __init__: see the actions in events.py
class TUEvent:
    """What a transaction hands up to its transaction user (never to the driver).

    ``kind`` is one of:

    * ``"response"``: a response the TU must see (client transactions);
    * ``"request"``: a new request that created a server transaction;
    * ``"ack"``: an ACK the TU must see (a 2xx ACK in Accepted, RFC 6026 §7.1,
      or an ACK matching no transaction);
    * ``"stray-response"``: a response matching no client transaction; RFC 6026
      §7.2 says an element other than a stateless proxy drops it;
    * ``"timeout"``: Timer B, F or H fired (RFC 3261 §8.1.3.1: a 408 to the TU);
    * ``"transport-error"``: the transport failed (a 503 to the TU);
    * ``"terminated"``: the transaction reached Terminated and is forgotten.
    """

    kind: str
    transaction: "Transaction | None"
    message: "Request | Response | None"
    timer: str | None

    def __init__(self, kind: str, transaction: "Transaction | None", message: "Request | Response | None" = None,
                 timer: str | None = None) -> None:
        """The fields in order, with their defaults (see :mod:`simsip.sip.events`)."""
        self.kind = kind
        self.transaction = transaction
        self.message = message
        self.timer = timer


# -------------------------------------------------------- states and events


class ICState(enum.Enum):
    """INVITE client transaction states (Figure 5, RFC 6026 §7.2)."""

    CALLING = "Calling"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class ICEvent(enum.Enum):
    """Inputs of the INVITE client transaction."""

    RECV_1XX = "1xx"
    RECV_2XX = "2xx"
    RECV_300_699 = "300-699"
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_M = "Timer M"
    TRANSPORT_ERROR = "transport error"


INVITE_CLIENT_TRANSITIONS: dict[tuple[ICState, ICEvent], ICState] = {
    # §17.1.1.2: retransmit on Timer A, only in Calling.
    (ICState.CALLING, ICEvent.TIMER_A): ICState.CALLING,
    # Timer B: timeout reported to the TU, no ACK.
    (ICState.CALLING, ICEvent.TIMER_B): ICState.TERMINATED,
    (ICState.CALLING, ICEvent.TRANSPORT_ERROR): ICState.TERMINATED,
    (ICState.CALLING, ICEvent.RECV_1XX): ICState.PROCEEDING,
    # RFC 6026 §7.2: a 2xx moves to Accepted (RFC 3261 went to Terminated).
    (ICState.CALLING, ICEvent.RECV_2XX): ICState.ACCEPTED,
    (ICState.CALLING, ICEvent.RECV_300_699): ICState.COMPLETED,
    (ICState.PROCEEDING, ICEvent.RECV_1XX): ICState.PROCEEDING,
    (ICState.PROCEEDING, ICEvent.RECV_2XX): ICState.ACCEPTED,
    (ICState.PROCEEDING, ICEvent.RECV_300_699): ICState.COMPLETED,
    # Completed: every retransmitted final is ACKed again, not passed up.
    (ICState.COMPLETED, ICEvent.RECV_300_699): ICState.COMPLETED,
    (ICState.COMPLETED, ICEvent.TIMER_D): ICState.TERMINATED,
    (ICState.COMPLETED, ICEvent.TRANSPORT_ERROR): ICState.TERMINATED,
    # RFC 6026 §7.2: every 2xx (retransmitted or from another fork) goes up.
    (ICState.ACCEPTED, ICEvent.RECV_2XX): ICState.ACCEPTED,
    (ICState.ACCEPTED, ICEvent.TIMER_M): ICState.TERMINATED,
}


class NICState(enum.Enum):
    """Non-INVITE client transaction states (Figure 6)."""

    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


class NICEvent(enum.Enum):
    """Inputs of the non-INVITE client transaction."""

    RECV_1XX = "1xx"
    RECV_200_699 = "200-699"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_K = "Timer K"
    TRANSPORT_ERROR = "transport error"


NON_INVITE_CLIENT_TRANSITIONS: dict[tuple[NICState, NICEvent], NICState] = {
    # §17.1.2.2: E doubles capped at T2 in Trying, is T2 in Proceeding.
    (NICState.TRYING, NICEvent.TIMER_E): NICState.TRYING,
    (NICState.TRYING, NICEvent.RECV_1XX): NICState.PROCEEDING,
    (NICState.TRYING, NICEvent.RECV_200_699): NICState.COMPLETED,
    (NICState.TRYING, NICEvent.TIMER_F): NICState.TERMINATED,
    (NICState.TRYING, NICEvent.TRANSPORT_ERROR): NICState.TERMINATED,
    (NICState.PROCEEDING, NICEvent.TIMER_E): NICState.PROCEEDING,
    (NICState.PROCEEDING, NICEvent.RECV_1XX): NICState.PROCEEDING,
    (NICState.PROCEEDING, NICEvent.RECV_200_699): NICState.COMPLETED,
    (NICState.PROCEEDING, NICEvent.TIMER_F): NICState.TERMINATED,
    (NICState.PROCEEDING, NICEvent.TRANSPORT_ERROR): NICState.TERMINATED,
    # Completed absorbs response retransmissions until Timer K.
    (NICState.COMPLETED, NICEvent.RECV_200_699): NICState.COMPLETED,
    (NICState.COMPLETED, NICEvent.TIMER_K): NICState.TERMINATED,
}


class ISState(enum.Enum):
    """INVITE server transaction states (Figure 7, RFC 6026 §7.1)."""

    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class ISEvent(enum.Enum):
    """Inputs of the INVITE server transaction."""

    RECV_INVITE = "INVITE"
    RECV_ACK = "ACK"
    SEND_1XX = "1xx from TU"
    SEND_2XX = "2xx from TU"
    SEND_300_699 = "300-699 from TU"
    TIMER_TRYING = "200 ms, TU silent"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_L = "Timer L"
    TRANSPORT_ERROR = "transport error"


INVITE_SERVER_TRANSITIONS: dict[tuple[ISState, ISEvent], ISState] = {
    # §17.2.1: a retransmitted INVITE gets the latest provisional again.
    (ISState.PROCEEDING, ISEvent.RECV_INVITE): ISState.PROCEEDING,
    # §17.2.1: 100 Trying unless the TU answers within 200 ms.
    (ISState.PROCEEDING, ISEvent.TIMER_TRYING): ISState.PROCEEDING,
    (ISState.PROCEEDING, ISEvent.SEND_1XX): ISState.PROCEEDING,
    # RFC 6026 §7.1: 2xx -> Accepted, Timer L (RFC 3261 went to Terminated).
    (ISState.PROCEEDING, ISEvent.SEND_2XX): ISState.ACCEPTED,
    (ISState.PROCEEDING, ISEvent.SEND_300_699): ISState.COMPLETED,
    # RFC 6026 §8.8: a transport error informs the TU, the state stays.
    (ISState.PROCEEDING, ISEvent.TRANSPORT_ERROR): ISState.PROCEEDING,
    (ISState.COMPLETED, ISEvent.RECV_INVITE): ISState.COMPLETED,
    (ISState.COMPLETED, ISEvent.TIMER_G): ISState.COMPLETED,
    (ISState.COMPLETED, ISEvent.RECV_ACK): ISState.CONFIRMED,
    (ISState.COMPLETED, ISEvent.TIMER_H): ISState.TERMINATED,
    (ISState.COMPLETED, ISEvent.TRANSPORT_ERROR): ISState.COMPLETED,
    # Confirmed absorbs ACK retransmissions until Timer I.
    (ISState.CONFIRMED, ISEvent.RECV_ACK): ISState.CONFIRMED,
    (ISState.CONFIRMED, ISEvent.TIMER_I): ISState.TERMINATED,
    # RFC 6026 §7.1: absorb INVITE retransmissions, send the TU's 2xx
    # retransmissions, pass every ACK up.
    (ISState.ACCEPTED, ISEvent.RECV_INVITE): ISState.ACCEPTED,
    (ISState.ACCEPTED, ISEvent.SEND_2XX): ISState.ACCEPTED,
    (ISState.ACCEPTED, ISEvent.RECV_ACK): ISState.ACCEPTED,
    (ISState.ACCEPTED, ISEvent.TIMER_L): ISState.TERMINATED,
    (ISState.ACCEPTED, ISEvent.TRANSPORT_ERROR): ISState.ACCEPTED,
}


class NISState(enum.Enum):
    """Non-INVITE server transaction states (Figure 8)."""

    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


class NISEvent(enum.Enum):
    """Inputs of the non-INVITE server transaction."""

    RECV_REQUEST = "request"
    SEND_1XX = "1xx from TU"
    SEND_200_699 = "200-699 from TU"
    TIMER_TRYING = "Timer E at T2, TU silent"
    TIMER_J = "Timer J"
    TRANSPORT_ERROR = "transport error"


NON_INVITE_SERVER_TRANSITIONS: dict[tuple[NISState, NISEvent], NISState] = {
    # §17.2.2: retransmissions in Trying are discarded.
    (NISState.TRYING, NISEvent.RECV_REQUEST): NISState.TRYING,
    # RFC 4320 §4.1: 100 Trying once the client's Timer E has reached T2 with nothing sent.
    (NISState.TRYING, NISEvent.TIMER_TRYING): NISState.PROCEEDING,
    (NISState.TRYING, NISEvent.SEND_1XX): NISState.PROCEEDING,
    (NISState.TRYING, NISEvent.SEND_200_699): NISState.COMPLETED,
    (NISState.PROCEEDING, NISEvent.SEND_1XX): NISState.PROCEEDING,
    (NISState.PROCEEDING, NISEvent.RECV_REQUEST): NISState.PROCEEDING,
    (NISState.PROCEEDING, NISEvent.SEND_200_699): NISState.COMPLETED,
    (NISState.PROCEEDING, NISEvent.TRANSPORT_ERROR): NISState.TERMINATED,
    # Completed: answer retransmissions with the final again until Timer J.
    (NISState.COMPLETED, NISEvent.RECV_REQUEST): NISState.COMPLETED,
    (NISState.COMPLETED, NISEvent.TIMER_J): NISState.TERMINATED,
    (NISState.COMPLETED, NISEvent.TRANSPORT_ERROR): NISState.TERMINATED,
}

INITIAL_STATES: dict[str, enum.Enum] = {
    "INVITE client": ICState.CALLING,
    "non-INVITE client": NICState.TRYING,
    "INVITE server": ISState.PROCEEDING,
    "non-INVITE server": NISState.TRYING,
}

MACHINES: dict[str, dict] = {
    "INVITE client": INVITE_CLIENT_TRANSITIONS,
    "non-INVITE client": NON_INVITE_CLIENT_TRANSITIONS,
    "INVITE server": INVITE_SERVER_TRANSITIONS,
    "non-INVITE server": NON_INVITE_SERVER_TRANSITIONS,
}
"""Machine name -> transition table, for diagrams (initial states in INITIAL_STATES)."""


# ------------------------------------------------------------ base machinery


def build_non2xx_ack(invite: "Request", response: "Response") -> "Request":
    """The ACK an INVITE client transaction sends for a 3xx-6xx (RFC 3261 §17.1.1.3).

    Request-URI, Call-ID, From, CSeq number and Route are the INVITE's, the
    single Via is the INVITE's top Via (same branch), To is the response's
    (with its tag), and the CSeq method is ACK.
    """
    return build_from_invite(invite, "ACK", response.headers.get("To"))


def _trying(request: "Request", delay: float) -> "Response":
    """The transaction's own 100 Trying, ``delay`` seconds after ``request`` arrived.

    RFC 3261 §8.2.6.1: the 100 copies the request's Timestamp, and "If there is a delay in
    generating the response, the UAS SHOULD add a delay value into the Timestamp value in the
    response ... the difference between the time of sending of the response and receipt of
    the request, measured in seconds" (§20.38: ``Timestamp: 54 0.2``).
    """
    from simsip.sip.message import make_response

    response = make_response(request, 100)
    stamp = (response.headers.get("Timestamp") or "").split()
    if stamp:
        # The request's own delay, if it had one, is not ours: only its time value is kept.
        response.headers.set("Timestamp", f"{stamp[0]} {f'{delay:.6f}'.rstrip('0').rstrip('.')}")
    return response


def build_from_invite(invite: "Request", method: str, to: str | None) -> "Request":
    """An ACK (§17.1.1.3) or CANCEL (§9.1) on the INVITE's Request-URI, top Via, Route, From, Call-ID, CSeq number."""
    from simsip.sip.message import CSeq, Headers, Request

    headers = Headers()
    headers.add("Via", invite.headers.get_all("Via")[0])
    headers.add("Max-Forwards", "70")
    for route in invite.headers.get_all("Route"):
        headers.add("Route", route)
    headers.add("From", invite.headers.get("From"))
    headers.add("To", to)
    headers.add("Call-ID", invite.headers.get("Call-ID"))
    headers.add("CSeq", str(CSeq(invite.cseq.seq, method)))
    return Request(method, invite.uri, headers)


_UDP: Final = Transport.UDP
# States the handlers compare against, bound once (a module global is the cheapest lookup).
_IC_CALLING: Final = ICState.CALLING
_IC_COMPLETED: Final = ICState.COMPLETED
_IC_ACCEPTED: Final = ICState.ACCEPTED
_NIC_PROCEEDING: Final = NICState.PROCEEDING
_NIC_COMPLETED: Final = NICState.COMPLETED
_IS_PROCEEDING: Final = ISState.PROCEEDING
_IS_COMPLETED: Final = ISState.COMPLETED
_IS_ACCEPTED: Final = ISState.ACCEPTED
_NIS_TRYING: Final = NISState.TRYING


class Transaction:
    """Shared machinery: fire an input through the compiled table, keep timers, count sends.

    Each class's ``transitions`` table is compiled once, at import
    (:meth:`_compile`), into one *row* per state: a dict from a plain-string
    input key to ``(new state, the new state's row, handler, old state value,
    new state value, new state is Terminated)``. The keys are given by the
    class's ``_INPUTS`` (event -> keys and handler): a response's status class
    (``"1xx"``, ``"2xx"``, ``"300-699"``), a timer's letter, ``"INVITE"`` /
    ``"ACK"`` / ``"request"`` for a received request, ``"transport error"``,
    and ``"abandon"`` (:meth:`abandon`) in every state but Terminated.
    Firing an input is then one dict lookup on a string (no Enum hash, no
    ``.value``) and one call of the handler that does what the transition
    sends, appending to the caller's action list. The handler's ``message``
    is the message received or sent, or for a timer the :class:`StartTimer`
    that fired (a doubling timer doubles its ``delay``).
    """

    __slots__ = ("id", "request", "peer", "timers", "call_id", "reliable", "state", "terminated", "key",
                 "_row", "_label", "_states", "_pending", "_t", "_layer")

    key: tuple  # set by each side's __init__ (the layer's table key)
    machine: ClassVar[str] = ""
    transitions: ClassVar[dict] = {}
    # event -> (input keys, handler method name or None for "nothing to do")
    _INPUTS: ClassVar[dict] = {}
    _initial: ClassVar[enum.Enum]
    _initial_row: ClassVar[dict[str, _Transition]]
    _client: ClassVar[bool]

    def __init__(
        self,
        tid: str,
        request: "Request",
        peer: Address,
        timers: TimerConfig,
        call_id: str | None,
        *,
        layer: "TransactionLayer | None" = None,
    ) -> None:
        """Set up the machine in its initial state (nothing is sent yet), in ``layer`` if given.

        The layer's ``states`` says whether StateChange actions are built; the
        layer forgets the transaction when it reaches Terminated.
        """
        self.id = tid
        self.request = request
        self.peer = peer
        self.timers = timers
        self.call_id = call_id
        self.reliable = reliable = peer.transport is not _UDP
        self.state = self._initial
        self.terminated = False
        self._row = self._initial_row
        self._layer = layer
        self._states = states = layer is None or layer.states
        self._label = f"{self.machine} {tid}" if states else ""
        # Armed timer letter -> its StartTimer (whose name the driver knows it by, and whose delay
        # is the interval a doubling timer doubles). Keyed by the letter: a cancel then builds no
        # name, and looks up a string whose hash is known.
        self._pending: dict[str, StartTimer] = {}
        self._t: TransactionTimers = timers.transaction[reliable]

    @classmethod
    def _compile(cls) -> None:
        """Compile ``transitions`` into the per-state rows described in the class docstring."""
        states = type(INITIAL_STATES[cls.machine])
        events: type[enum.Enum] = type(next(iter(cls.transitions))[1])
        if set(cls._INPUTS) != set(events):
            raise AssertionError(f"{cls.__name__}._INPUTS must give keys and a handler for every {events.__name__}")
        rows: dict = {state: {} for state in states}
        for (state, event), new in cls.transitions.items():
            keys, handler = cls._INPUTS[event]
            entry = (new, rows[new], None if handler is None else getattr(cls, handler),
                     state.value, new.value, new.value == "Terminated")
            for key in keys:
                rows[state][key] = entry
        # Abandon (RFC 3261 §9.1) is no arrow of the figures, but takes any live state to Terminated.
        terminated = states("Terminated")
        for state, row in rows.items():
            if state is not terminated:
                row["abandon"] = (terminated, rows[terminated], None, state.value, terminated.value, True)
        cls._initial = INITIAL_STATES[cls.machine]
        cls._initial_row = rows[cls._initial]

    # -- helpers
    def __repr__(self) -> str:
        """Show machine, id and state."""
        return f"<{type(self).__name__} {self.id} {self.state.value}>"

    @property
    def method(self) -> str:
        """The method of the request that created the transaction."""
        return self.request.method

    def timer_name(self, letter: str) -> str:
        """The element-unique name of this transaction's timer ``letter``."""
        return f"{self.id}/{letter}"

    def _start(self, letter: str, delay: float, actions: list) -> None:
        """Arm timer ``letter``."""
        timer = self._pending[letter] = StartTimer(self.timer_name(letter), delay, letter, self.call_id)
        actions.append(timer)

    def _cancel(self, letter: str, actions: list) -> None:
        """Disarm timer ``letter`` if it is pending."""
        # get and del, not pop(letter, None): compiled, dict.pop is a generic method call.
        pending = self._pending
        timer = pending.get(letter)
        if timer is not None:
            del pending[letter]
            actions.append(CancelTimer(timer.name))

    def _fire(self, now: float, key: str, message, actions: list) -> list:
        """Take the transition for input ``key`` (not in the row: ignored), appending what it does to ``actions``."""
        entry = self._row.get(key)
        if entry is None:
            return actions  # not in the table: the input is ignored in this state
        new, row, handler, old_value, new_value, terminal = entry
        old = self.state
        if new is not old:
            self.state = new
            self._row = row
            if self._states:
                actions.append(StateChange(self._label, old_value, new_value, self.call_id))
        if handler is not None:
            handler(self, now, old, message, actions)
        if not terminal:
            return actions
        # Entering Terminated (here, not in a method of its own: a call fewer per transaction):
        # cancel every pending timer, tell the TU, leave the layer's tables.
        pending = self._pending
        if pending:
            # In the order of their names (which share this transaction's prefix: the letters' order).
            for letter in sorted(pending):
                actions.append(CancelTimer(pending[letter].name))
            pending.clear()
        self.terminated = True
        actions.append(TUEvent("terminated", self))
        layer = self._layer
        if layer is not None:
            # Forgotten at once: termination is the last thing a layer call does with a transaction.
            by_id = layer._by_id
            if self.id in by_id:
                del by_id[self.id]
            table = layer.clients if self._client else layer.servers
            if table.get(self.key) is self:
                del table[self.key]
        return actions

    def _timer_or_now(self, now: float, letter: str, delay: float, actions: list) -> None:
        """Start a timer, or take its transition at once when it is zero (reliable transport)."""
        if delay <= 0.0:
            self._fire(now, letter, None, actions)
        else:
            self._start(letter, delay, actions)

    def _transport_error(self, now: float, old, message, actions: list) -> None:
        """A transport error: the TU is told (a 503, RFC 3261 §8.1.3.1)."""
        actions.append(TUEvent("transport-error", self))

    def start(self, now: float) -> list[Action]:
        """Enter the initial state: the first send and timers (each machine its own)."""
        raise NotImplementedError

    def timer_fired(self, now: float, name: str) -> list[Action]:
        """The driver says timer ``name`` of this transaction fired."""
        letter = name[name.rfind("/") + 1:]  # what follows this transaction's id
        pending = self._pending
        timer = pending.get(letter)
        if timer is None or timer.name != name:
            return []  # cancelled or stale
        del pending[letter]
        return self._fire(now, letter, timer, [])

    def transport_error(self, now: float) -> list[Action]:
        """The transport could not deliver a message of this transaction."""
        return self._fire(now, "transport error", None, [])

    def abandon(self, now: float) -> list[Action]:
        """The TU destroys the transaction (RFC 3261 §9.1: no final 64*T1 after CANCEL).

        Not a transition of the table (the figures have no such arrow): the
        machine goes to Terminated, its timers are cancelled and the layer forgets it.
        """
        return self._fire(now, "abandon", None, [])  # ignored once Terminated


# ------------------------------------------------------------------ clients


class ClientTransaction(Transaction):
    """A client transaction: sends ``request`` to ``peer`` and matches its responses."""

    __slots__ = ("branch", "sends", "ack", "ack_sends")
    _client = True

    def __init__(self, tid: str, request: "Request", peer: Address, timers: TimerConfig, call_id: str | None,
                 key: tuple[str | None, str], *, layer: "TransactionLayer | None" = None) -> None:
        """Remember the matching key (§17.1.3: a response matches by top-Via branch and CSeq method)."""
        super().__init__(tid, request, peer, timers, call_id, layer=layer)
        self.key = key
        self.branch = key[0]
        self.sends = 0
        # The INVITE machine's ACK of a 3xx-6xx (set here: one __init__ per side, fewer calls per transaction).
        self.ack: "Request | None" = None
        self.ack_sends = 0

    def _send_request(self, timer: str | None, actions: list) -> None:
        """Hand the request to the transport, counting transmissions."""
        actions.append(SendMessage(self.request, self.peer, self.sends, timer))
        self.sends += 1

    def receive_response(self, now: float, response: "Response") -> list[Action]:
        """A response matched this transaction."""
        status = response.status
        return self._fire(now, "1xx" if status < 200 else "2xx" if status < 300 else "300-699", response, [])


class InviteClientTransaction(ClientTransaction):
    """INVITE client transaction, RFC 3261 §17.1.1 Figure 5 with RFC 6026 §7.2.

    Calling: the INVITE is sent, Timer A (UDP only) retransmits it at T1, 2T1,
    4T1 ... with no ceiling, Timer B (64*T1) gives up. A 1xx moves to
    Proceeding (retransmission stops). A 300-699 moves to Completed: the
    transaction ACKs it itself, again for each retransmission, until Timer D.
    A 2xx moves to Accepted (RFC 6026): the 2xx and any later 2xx go to the TU,
    which sends its own ACK; Timer M ends it.
    """

    __slots__ = ()
    machine = "INVITE client"
    transitions = INVITE_CLIENT_TRANSITIONS
    _INPUTS = {
        ICEvent.RECV_1XX: (("1xx",), "_recv_1xx"),
        ICEvent.RECV_2XX: (("2xx",), "_recv_2xx"),
        ICEvent.RECV_300_699: (("300-699",), "_recv_final"),
        ICEvent.TIMER_A: (("A",), "_timer_a"),
        ICEvent.TIMER_B: (("B",), "_timer_b"),
        ICEvent.TIMER_D: (("D",), None),
        ICEvent.TIMER_M: (("M",), None),
        ICEvent.TRANSPORT_ERROR: (("transport error",), "_transport_error"),
    }

    def start(self, now: float) -> list[Action]:
        """Enter Calling: send the INVITE, start A (UDP) and B."""
        actions: list[Action] = [SendMessage(self.request, self.peer, self.sends, None)]
        self.sends += 1
        t = self._t
        if t.a is not None:
            self._start("A", t.a, actions)
        self._start("B", t.b, actions)
        return actions

    def _send_ack(self, actions: list) -> None:
        """Send (or resend) the ACK of the 3xx-6xx."""
        ack = self.ack
        assert ack is not None  # built on the 3xx-6xx, before any send
        actions.append(SendMessage(ack, self.peer, self.ack_sends, None))
        self.ack_sends += 1

    def _leave_calling(self, actions: list) -> None:
        """Leaving Calling stops retransmission; Timer B has no effect any more."""
        self._cancel("A", actions)
        self._cancel("B", actions)

    def _timer_a(self, now: float, old, message, actions: list) -> None:
        """Timer A in Calling: retransmit the INVITE, re-arm A at twice the interval (§17.1.1.2)."""
        self._send_request("A", actions)
        self._start("A", self.timers.next_timer_a(message.delay), actions)

    def _timer_b(self, now: float, old, message, actions: list) -> None:
        """Timer B: the INVITE timed out (a 408 to the TU, §17.1.1.2)."""
        actions.append(TUEvent("timeout", self, None, "B"))

    def _recv_1xx(self, now: float, old, message, actions: list) -> None:
        """A provisional: leaving Calling stops retransmission and Timer B; the TU sees it."""
        if old is _IC_CALLING:
            self._leave_calling(actions)
        actions.append(TUEvent("response", self, message))

    def _recv_2xx(self, now: float, old, message, actions: list) -> None:
        """A 2xx: into Accepted, Timer M (RFC 6026 §7.2); every 2xx goes to the TU."""
        if old is _IC_CALLING:
            self._leave_calling(actions)
        if old is not _IC_ACCEPTED:
            self._start("M", self._t.m, actions)
        actions.append(TUEvent("response", self, message))

    def _recv_final(self, now: float, old, message, actions: list) -> None:
        """A 300-699: ACKed here (§17.1.1.3); the first goes to the TU and arms Timer D."""
        if old is _IC_COMPLETED:
            self._send_ack(actions)  # retransmitted final: ACK again, not up
            return
        if old is _IC_CALLING:
            self._leave_calling(actions)
        self.ack = build_non2xx_ack(self.request, message)
        self._send_ack(actions)
        actions.append(TUEvent("response", self, message))
        self._timer_or_now(now, "D", self._t.d, actions)


class NonInviteClientTransaction(ClientTransaction):
    """Non-INVITE client transaction, RFC 3261 §17.1.2 Figure 6.

    Trying: the request is sent, Timer E (UDP only) retransmits it at T1, then
    doubling up to T2; Timer F (64*T1) gives up. A 1xx moves to Proceeding,
    where E retransmits every T2. A 200-699 moves to Completed, which absorbs
    response retransmissions until Timer K (T4 over UDP, 0 over TCP).
    """

    __slots__ = ()
    machine = "non-INVITE client"
    transitions = NON_INVITE_CLIENT_TRANSITIONS
    _INPUTS = {
        NICEvent.RECV_1XX: (("1xx",), "_recv_1xx"),
        NICEvent.RECV_200_699: (("2xx", "300-699"), "_recv_final"),
        NICEvent.TIMER_E: (("E",), "_timer_e"),
        NICEvent.TIMER_F: (("F",), "_timer_f"),
        NICEvent.TIMER_K: (("K",), None),
        NICEvent.TRANSPORT_ERROR: (("transport error",), "_transport_error"),
    }

    def start(self, now: float) -> list[Action]:
        """Enter Trying: send the request, start E (UDP) and F."""
        actions: list[Action] = [SendMessage(self.request, self.peer, self.sends, None)]
        self.sends += 1
        t = self._t
        if t.e is not None:
            self._start("E", t.e, actions)
        self._start("F", t.f, actions)
        return actions

    def _timer_e(self, now: float, old, message, actions: list) -> None:
        """Timer E: retransmit; E doubles capped at T2 in Trying, is T2 in Proceeding (§17.1.2.2)."""
        self._send_request("E", actions)
        interval = self.timers.next_timer_e(message.delay, proceeding=old is _NIC_PROCEEDING)
        self._start("E", interval, actions)

    def _timer_f(self, now: float, old, message, actions: list) -> None:
        """Timer F: the request timed out (a 408 to the TU)."""
        self._cancel("E", actions)
        actions.append(TUEvent("timeout", self, None, "F"))

    def _recv_1xx(self, now: float, old, message, actions: list) -> None:
        """A provisional goes to the TU."""
        actions.append(TUEvent("response", self, message))

    def _recv_final(self, now: float, old, message, actions: list) -> None:
        """The first 200-699 stops E and F, goes up and arms K; retransmissions are absorbed."""
        if old is _NIC_COMPLETED:
            return
        self._cancel("E", actions)
        self._cancel("F", actions)
        actions.append(TUEvent("response", self, message))
        self._timer_or_now(now, "K", self._t.k, actions)


# ------------------------------------------------------------------ servers


class ServerTransaction(Transaction):
    """A server transaction: answers ``request``, which arrived from ``peer``.

    Responses go back to the address the request came from (RFC 3261 §18.2.2
    with ``received``/``rport``: the source of the request).
    """

    __slots__ = ("last_response", "last_sends", "_tu_timer", "provisional", "final")
    _client = False

    def __init__(self, tid: str, request: "Request", peer: Address, timers: TimerConfig, call_id: str | None,
                 key: tuple, *, layer: "TransactionLayer | None" = None) -> None:
        """Remember the matching key (§17.2.3)."""
        super().__init__(tid, request, peer, timers, call_id, layer=layer)
        self.key = key
        self.last_response: "Response | None" = None
        self.last_sends = 0
        self._tu_timer: str | None = None
        # The INVITE machine's latest provisional and its final (set here: one __init__ per side).
        self.provisional: "Response | None" = None
        self.final: "Response | None" = None

    def _send_response(self, response: "Response", timer: str | None, actions: list) -> None:
        """Send ``response``; ``retransmission`` counts earlier sends of that same object."""
        if response is not self.last_response:
            self.last_response = response
            self.last_sends = 0
        actions.append(SendMessage(response, self.peer, self.last_sends, timer))
        self.last_sends += 1

    def send_response(self, now: float, response: "Response", timer: str | None = None) -> list[Action]:
        """The TU hands down a response (``timer``: the TU timer causing a retransmission)."""
        self._tu_timer = timer
        status = response.status
        return self._fire(now, "1xx" if status < 200 else "2xx" if status < 300 else "300-699", response, [])

    def receive_request(self, now: float, request: "Request") -> list[Action]:
        """A retransmission of the request (or, for INVITE, an ACK) matched this transaction."""
        raise NotImplementedError


class InviteServerTransaction(ServerTransaction):
    """INVITE server transaction, RFC 3261 §17.2.1 Figure 7 with RFC 6026 §7.1.

    Proceeding: the INVITE went to the TU; if the TU sends nothing within
    200 ms the transaction sends 100 Trying. Provisionals from the TU are sent
    (and resent for each INVITE retransmission). A 300-699 moves to Completed:
    Timer G (UDP only) resends it at T1, doubling to T2, until the ACK (->
    Confirmed, Timer I) or Timer H (64*T1, failure to the TU). A 2xx moves to
    Accepted (RFC 6026): INVITE retransmissions are absorbed, the TU's 2xx
    retransmissions are sent, ACKs go up to the TU, Timer L ends it.
    """

    __slots__ = ()
    machine = "INVITE server"
    transitions = INVITE_SERVER_TRANSITIONS
    _INPUTS = {
        ISEvent.RECV_INVITE: (("INVITE",), "_recv_invite"),
        ISEvent.RECV_ACK: (("ACK",), "_recv_ack"),
        ISEvent.SEND_1XX: (("1xx",), "_send_1xx"),
        ISEvent.SEND_2XX: (("2xx",), "_send_2xx"),
        ISEvent.SEND_300_699: (("300-699",), "_send_final"),
        ISEvent.TIMER_TRYING: (("trying",), "_timer_trying"),
        ISEvent.TIMER_G: (("G",), "_timer_g"),
        ISEvent.TIMER_H: (("H",), "_timer_h"),
        ISEvent.TIMER_I: (("I",), None),
        ISEvent.TIMER_L: (("L",), None),
        ISEvent.TRANSPORT_ERROR: (("transport error",), "_transport_error"),
    }

    def start(self, now: float) -> list[Action]:
        """Enter Proceeding: arm the 200 ms 100-Trying timer (§17.2.1)."""
        actions: list[Action] = []
        self._start("trying", self._t.trying, actions)
        return actions

    def receive_request(self, now: float, request: "Request") -> list[Action]:
        """An INVITE retransmission or an ACK matched this transaction."""
        return self._fire(now, "ACK" if request.method == "ACK" else "INVITE", request, [])

    def _timer_trying(self, now: float, old, message, actions: list) -> None:
        """200 ms and the TU is silent: send 100 Trying (§17.2.1)."""
        if self.provisional is None:
            self.provisional = _trying(self.request, self._t.trying)
            self._send_response(self.provisional, None, actions)

    def _recv_invite(self, now: float, old, message, actions: list) -> None:
        """An INVITE retransmission gets the latest provisional (Proceeding) or the final (Completed) again."""
        if old is _IS_PROCEEDING and self.provisional is not None:
            self._send_response(self.provisional, None, actions)
        elif old is _IS_COMPLETED and self.final is not None:
            self._send_response(self.final, None, actions)
        # Accepted: absorbed silently (RFC 6026 §7.1).

    def _send_1xx(self, now: float, old, message, actions: list) -> None:
        """A provisional from the TU: the 100-Trying timer is moot; send it and keep it for retransmissions."""
        if old is _IS_PROCEEDING:
            self._cancel("trying", actions)  # the TU answered within 200 ms
        self.provisional = message
        self._send_response(message, self._tu_timer, actions)

    def _send_2xx(self, now: float, old, message, actions: list) -> None:
        """A 2xx from the TU: sent; the first moves to Accepted and arms Timer L (RFC 6026 §7.1)."""
        if old is _IS_PROCEEDING:
            self._cancel("trying", actions)
        self.final = message
        self._send_response(message, self._tu_timer, actions)
        if old is _IS_PROCEEDING:
            self._start("L", self._t.l, actions)

    def _send_final(self, now: float, old, message, actions: list) -> None:
        """A 300-699 from the TU: sent; G (UDP only) resends it, H waits for the ACK (§17.2.1)."""
        if old is _IS_PROCEEDING:
            self._cancel("trying", actions)
        self.final = message
        self._send_response(message, self._tu_timer, actions)
        t = self._t
        if t.g is not None:
            self._start("G", t.g, actions)
        self._start("H", t.h, actions)

    def _timer_g(self, now: float, old, message, actions: list) -> None:
        """Timer G: resend the final, G doubles capped at T2."""
        final = self.final
        assert final is not None  # Timer G is armed only when a final is sent
        self._send_response(final, "G", actions)
        self._start("G", self.timers.next_timer_g(message.delay), actions)

    def _recv_ack(self, now: float, old, message, actions: list) -> None:
        """ACK: in Completed stops G and H and arms I; in Accepted goes to the TU (RFC 6026 §7.1)."""
        if old is _IS_COMPLETED:
            self._cancel("G", actions)
            self._cancel("H", actions)
            self._timer_or_now(now, "I", self._t.i, actions)
        elif old is _IS_ACCEPTED:
            actions.append(TUEvent("ack", self, message))

    def _timer_h(self, now: float, old, message, actions: list) -> None:
        """Timer H: no ACK came (a failure to the TU)."""
        self._cancel("G", actions)
        actions.append(TUEvent("timeout", self, None, "H"))


class NonInviteServerTransaction(ServerTransaction):
    """Non-INVITE server transaction, RFC 3261 §17.2.2 Figure 8.

    Trying: the request went to the TU; retransmissions are discarded. A 1xx
    from the TU moves to Proceeding (retransmissions get the latest 1xx
    again). A 200-699 moves to Completed: retransmissions get the final again
    until Timer J (64*T1 over UDP, 0 over TCP). It never retransmits on a timer.
    RFC 4320 §4.1: if the TU has sent nothing by the time the client's Timer E
    is reset to T2 (3.5 s with the default timers), on any transport, the
    transaction sends 100 Trying itself and moves to Proceeding.
    """

    __slots__ = ()
    machine = "non-INVITE server"
    transitions = NON_INVITE_SERVER_TRANSITIONS
    _INPUTS = {
        NISEvent.RECV_REQUEST: (("request",), "_recv_request"),
        NISEvent.SEND_1XX: (("1xx",), "_send_1xx"),
        NISEvent.SEND_200_699: (("2xx", "300-699"), "_send_final"),
        NISEvent.TIMER_TRYING: (("nit-trying",), "_timer_trying"),
        NISEvent.TIMER_J: (("J",), None),
        NISEvent.TRANSPORT_ERROR: (("transport error",), "_transport_error"),
    }

    def start(self, now: float) -> list[Action]:
        """Enter Trying: arm the RFC 4320 §4.1 100-Trying timer (unless the layer says it can't be needed)."""
        actions: list[Action] = []
        layer = self._layer
        if layer is None or layer.non_invite_trying:
            self._start("nit-trying", self._t.nit_trying, actions)
        return actions

    def receive_request(self, now: float, request: "Request") -> list[Action]:
        """Any matching request is a retransmission."""
        return self._fire(now, "request", request, [])

    def _timer_trying(self, now: float, old, message, actions: list) -> None:
        """The TU is silent until the client's Timer E reached T2: send 100 Trying (RFC 4320 §4.1)."""
        self._send_response(_trying(self.request, self._t.nit_trying), None, actions)

    def _send_1xx(self, now: float, old, message, actions: list) -> None:
        """A provisional from the TU is sent (the RFC 4320 timer is moot)."""
        if old is _NIS_TRYING:
            self._cancel("nit-trying", actions)
        self._send_response(message, None, actions)

    def _send_final(self, now: float, old, message, actions: list) -> None:
        """A 200-699 from the TU is sent; Timer J (0 over TCP) ends Completed."""
        if old is _NIS_TRYING:
            self._cancel("nit-trying", actions)
        self._send_response(message, None, actions)
        self._timer_or_now(now, "J", self._t.j, actions)

    def _recv_request(self, now: float, old, message, actions: list) -> None:
        """A retransmission: discarded in Trying, answered with the latest response after."""
        if old is not _NIS_TRYING and self.last_response is not None:
            self._send_response(self.last_response, None, actions)


for _cls in (InviteClientTransaction, NonInviteClientTransaction, InviteServerTransaction, NonInviteServerTransaction):
    _cls._compile()
del _cls


# ------------------------------------------------------------------ the layer


def server_key(request: "Request") -> tuple:
    """The §17.2.3 matching key of a request (ACK and CANCEL handled as the RFC says).

    With an RFC 3261 branch: (branch, sent-by host, sent-by port, method) where
    ACK counts as INVITE (the sent-by in its two parts: no string built per
    request). Without one (RFC 2543 fallback): Request-URI, From tag, Call-ID,
    CSeq number, top Via and method (ACK counts as INVITE; the ACK's To tag
    is checked separately against the tag the transaction sent).
    """
    via = request.top_via
    method = request.method
    if method == "ACK":
        method = "INVITE"
    branch = via.params.get("branch")
    # has_magic_cookie(branch), spelt out: no call on the path of every request.
    if branch and branch[:_COOKIE_LEN] == MAGIC_COOKIE and branch != MAGIC_COOKIE:
        return ("3261", branch, via.host, via.port, method)
    return (
        "2543",
        str(request.uri),
        request.from_.tag,
        request.call_id,
        request.cseq.seq,
        str(via),
        method,
    )


class TransactionLayer:
    """All transactions of one SIP element (a UA core or a proxy core is its TU).

    The TU calls :meth:`send_request`, :meth:`send_response`,
    :meth:`receive_response`, :meth:`receive_request` and :meth:`timer_fired`;
    each returns actions for the driver mixed with :class:`TUEvent` objects for
    the TU, which the TU must take out (see :func:`split_tu_events`).
    A transaction that reaches Terminated is forgotten before the call returns.
    """

    def __init__(self, timers: TimerConfig, rng: random.Random, prefix: str = "", *, states: bool = True,
                 non_invite_trying: bool = True) -> None:
        """``prefix`` keeps timer names unique if one element has several layers.

        ``states=False`` (also settable later as :attr:`states`, for the
        transactions created after): transactions return no StateChange
        actions, for a driver that records none (tracing off).
        ``non_invite_trying=False``: non-INVITE server transactions arm no
        RFC 4320 §4.1 100-Trying timer, for a TU that answers every non-INVITE
        in the step it arrives (the timer could never fire) or that must send
        no 100 Trying of its own (``no-trying``).
        """
        self.timers = timers
        self.rng = rng
        self.prefix = prefix
        self.states = states
        self.non_invite_trying = non_invite_trying
        self.clients: dict[tuple, ClientTransaction] = {}
        self.servers: dict[tuple, ServerTransaction] = {}
        self._by_id: dict[str, Transaction] = {}
        self._serial = 0

    def release(self) -> None:
        """Forget every transaction (each points back at this layer), so refcounting frees them."""
        self.clients = {}
        self.servers = {}
        self._by_id = {}

    def new_branch(self) -> str:
        """A fresh RFC 3261 branch (magic cookie + 64 random bits from the element's rng)."""
        # "%016x" rather than an f-string format spec, which compiled code runs through str.format.
        return MAGIC_COOKIE + "%016x" % self.rng.getrandbits(64)

    # -- client side
    def send_request(
        self, now: float, request: "Request", destination: Address
    ) -> tuple[ClientTransaction, list[Action]]:
        """Create and start the client transaction for ``request`` (top Via must carry the branch)."""
        method = request.method
        if method == "ACK":
            raise ValueError("ACK is not sent in a transaction (RFC 3261 §17.1.1.3, §13.2.2.4)")
        self._serial += 1
        branch = request.top_via.params.get("branch")
        if method == "INVITE":
            tx: ClientTransaction = InviteClientTransaction(
                f"{self.prefix}ict{self._serial}:{branch}", request, destination, self.timers, request.call_id,
                (branch, method), layer=self)
        else:
            tx = NonInviteClientTransaction(
                f"{self.prefix}nict{self._serial}:{branch}", request, destination, self.timers, request.call_id,
                (branch, method), layer=self)
        self.clients[tx.key] = tx
        self._by_id[tx.id] = tx
        return tx, tx.start(now)  # starting never terminates

    def receive_response(self, now: float, response: "Response") -> list[Action]:
        """Match a response (§17.1.3) and feed it; unmatched -> a ``stray-response`` TUEvent."""
        tx = self.clients.get((response.top_via.params.get("branch"), response.cseq.method))
        if tx is None:
            return [TUEvent("stray-response", None, response)]
        status = response.status
        # tx.receive_response(now, response), without the extra call.
        return tx._fire(now, "1xx" if status < 200 else "2xx" if status < 300 else "300-699", response, [])

    # -- server side
    def find_server(self, request: "Request") -> ServerTransaction | None:
        """The server transaction ``request`` matches (§17.2.3), if any."""
        return self._match(request, server_key(request))

    def _match(self, request: "Request", key: tuple) -> ServerTransaction | None:
        """:meth:`find_server` for a request whose :func:`server_key` is ``key``."""
        tx = self.servers.get(key)
        if tx is None or key[0] == "3261" or request.method != "ACK":
            return tx
        # RFC 2543 ACK matching: the To tag must be the one our response carried.
        sent = tx.final or tx.last_response if isinstance(tx, InviteServerTransaction) else None
        if sent is not None and sent.to.tag == request.to.tag:
            return tx
        return None

    def find_invite_for_cancel(self, cancel: "Request") -> ServerTransaction | None:
        """§9.2: the INVITE server transaction a CANCEL refers to (same key with method INVITE)."""
        key = server_key(cancel)
        return self.servers.get(key[:-1] + ("INVITE",))

    def receive_request(self, now: float, request: "Request", source: Address) -> list[Action]:
        """Match a request; a retransmission is absorbed or answered, a new one creates a transaction.

        Returns a ``request`` TUEvent (with the new transaction) for a new
        request, an ``ack`` TUEvent for an ACK matching no transaction (the
        2xx ACK once the INVITE transaction is gone).
        """
        method = request.method
        via = request.top_via
        branch = via.params.get("branch")
        if branch and branch[:_COOKIE_LEN] == MAGIC_COOKIE and branch != MAGIC_COOKIE:
            # server_key(request) for an RFC 3261 branch, without the second read of the top Via.
            key: tuple = ("3261", branch, via.host, via.port, "INVITE" if method == "ACK" else method)
            tx = self.servers.get(key)
        else:
            key = server_key(request)
            tx = self._match(request, key)
            branch = str(branch or "2543")  # the id carries "2543" when there is no branch
        if tx is not None:
            return tx.receive_request(now, request)
        if method == "ACK":
            return [TUEvent("ack", None, request)]
        self._serial += 1
        if method == "INVITE":
            tx = InviteServerTransaction(f"{self.prefix}ist{self._serial}:{branch}", request, source, self.timers,
                                         request.call_id, key, layer=self)
        else:
            tx = NonInviteServerTransaction(f"{self.prefix}nist{self._serial}:{branch}", request, source,
                                            self.timers, request.call_id, key, layer=self)
        self.servers[key] = tx
        self._by_id[tx.id] = tx
        actions = tx.start(now)
        actions.append(TUEvent("request", tx, request))
        return actions

    def send_response(
        self, now: float, transaction: ServerTransaction, response: "Response", timer: str | None = None
    ) -> list[Action]:
        """Send ``response`` through ``transaction``."""
        return transaction.send_response(now, response, timer)

    # -- timers
    def owns_timer(self, name: str) -> bool:
        """True when ``name`` belongs to one of this layer's live transactions."""
        return name.rsplit("/", 1)[0] in self._by_id

    def timer_fired(self, now: float, name: str) -> list[Action]:
        """Route a timer firing to its transaction (stale names give [])."""
        tx = self._by_id.get(name.rsplit("/", 1)[0])  # the transaction id before "/letter"
        if tx is None:
            return []
        return tx.timer_fired(now, name)

    def transport_error(self, now: float, transaction: Transaction) -> list[Action]:
        """Tell ``transaction`` its transport failed."""
        return transaction.transport_error(now)

    def abandon(self, now: float, transaction: Transaction) -> list[Action]:
        """Destroy ``transaction`` on its TU's behalf (see :meth:`Transaction.abandon`)."""
        return transaction.abandon(now)


def split_tu_events(actions: list[Action | TUEvent]) -> tuple[list[Action], list[TUEvent]]:
    """Separate the driver's actions from the TU's events, keeping order within each."""
    out: list[Action] = []
    tu: list[TUEvent] = []
    for action in actions:
        (tu if type(action) is TUEvent else out).append(action)  # TUEvent has no subclasses
    return out, tu
