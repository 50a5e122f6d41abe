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
they *do* something (retransmit, absorb, pass up).

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
StartTimer labels are the RFC letters ("A" ... "M") and ``"trying"`` for the
200 ms 100-Trying delay (§17.2.1). Every SendMessage carries
``retransmission`` (earlier sends of that same message by this transaction)
and ``timer`` (the letter that caused it, None when a received
retransmission or the TU caused it).
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

from simsip.sip.events import Action, Address, CancelTimer, SendMessage, StartTimer, StateChange
from simsip.sip.timers import TimerConfig

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
MAGIC_COOKIE = "z9hG4bK"


def has_magic_cookie(branch: str | None) -> bool:
    """True when ``branch`` is an RFC 3261 branch: the cookie *and* something after it.

    RFC 4475 §3.2.1 (``badbranch.dat``): a branch that is exactly the cookie
    carries no transaction identifier, so RFC 2543 matching is used instead.
    """
    return bool(branch) and branch.startswith(MAGIC_COOKIE) and len(branch) > len(MAGIC_COOKIE)


# ------------------------------------------------------------------ TU events


@dataclass(frozen=True, slots=True, eq=False)
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
    message: "Request | Response | None" = None
    timer: str | None = None


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
    TIMER_J = "Timer J"
    TRANSPORT_ERROR = "transport error"


NON_INVITE_SERVER_TRANSITIONS: dict[tuple[NISState, NISEvent], NISState] = {
    # §17.2.2: retransmissions in Trying are discarded.
    (NISState.TRYING, NISEvent.RECV_REQUEST): NISState.TRYING,
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


def _class_of(status: int) -> str:
    """Bucket a status code as the transaction tables see it."""
    if status < 200:
        return "1xx"
    if status < 300:
        return "2xx"
    return "300-699"


def build_non2xx_ack(invite: "Request", response: "Response") -> "Request":
    """The ACK an INVITE client transaction sends for a 3xx-6xx (RFC 3261 §17.1.1.3).

    Request-URI, Call-ID, From, CSeq number and Route are the INVITE's, the
    single Via is the INVITE's top Via (same branch), To is the response's
    (with its tag), and the CSeq method is ACK.
    """
    return build_from_invite(invite, "ACK", response.headers.get("To"))


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


class Transaction:
    """Shared machinery: fire an event through the table, keep timers, count sends."""

    machine: str = ""
    transitions: dict = {}

    def __init__(
        self,
        tid: str,
        request: "Request",
        peer: Address,
        timers: TimerConfig,
        call_id: str | None,
    ) -> None:
        """Set up the machine in its initial state (nothing is sent yet)."""
        self.id = tid
        self.request = request
        self.peer = peer
        self.timers = timers
        self.call_id = call_id
        self.reliable = peer.transport.reliable
        self.state = INITIAL_STATES[self.machine]
        self._pending: set[str] = set()
        self._intervals: dict[str, float] = {}

    # -- helpers
    def __repr__(self) -> str:
        """Show machine, id and state."""
        return f"<{type(self).__name__} {self.id} {self.state.value}>"

    @property
    def terminated(self) -> bool:
        """True once the machine reached Terminated."""
        return self.state.value == "Terminated"

    @property
    def method(self) -> str:
        """The method of the request that created the transaction."""
        return self.request.method

    def timer_name(self, letter: str) -> str:
        """The element-unique name of this transaction's timer ``letter``."""
        return f"{self.id}/{letter}"

    def _start(self, letter: str, delay: float) -> StartTimer:
        """Arm timer ``letter`` (remembering the interval for doubling timers)."""
        name = self.timer_name(letter)
        self._pending.add(name)
        self._intervals[letter] = delay
        return StartTimer(name, delay, letter, self.call_id)

    def _cancel(self, letter: str) -> list[Action]:
        """Disarm timer ``letter`` if it is pending."""
        name = self.timer_name(letter)
        if name in self._pending:
            self._pending.discard(name)
            return [CancelTimer(name)]
        return []

    def _fire(self, now: float, event: enum.Enum, message=None) -> list[Action]:
        """Take the table's transition for ``event`` and return what it does."""
        new = self.transitions.get((self.state, event))
        if new is None:
            return []  # not in the table: the input is ignored in this state
        old = self.state
        actions: list[Action] = []
        if new is not old:
            self.state = new
            actions.append(StateChange(f"{self.machine} {self.id}", old.value, new.value, self.call_id))
        actions.extend(self._on(now, old, event, new, message))
        if new is not old and new.value == "Terminated":
            for name in sorted(self._pending):
                actions.append(CancelTimer(name))
            self._pending.clear()
            actions.append(TUEvent("terminated", self))
        return actions

    def _on(self, now: float, old, event, new, message) -> list[Action]:
        """The actions of one transition (subclasses)."""
        raise NotImplementedError

    def _timer_or_now(self, now: float, letter: str, delay: float, event: enum.Enum) -> list[Action]:
        """Start a timer, or take its transition at once when it is zero (reliable transport)."""
        if delay <= 0.0:
            return self._fire(now, event)
        return [self._start(letter, delay)]

    def timer_fired(self, now: float, name: str) -> list[Action]:
        """The driver says timer ``name`` of this transaction fired."""
        if name not in self._pending:
            return []  # cancelled or stale
        self._pending.discard(name)
        letter = name.rsplit("/", 1)[1]
        return self._fire(now, self._timer_event(letter), None)

    def _timer_event(self, letter: str) -> enum.Enum:
        """Map a timer letter to this machine's event."""
        raise NotImplementedError

    def transport_error(self, now: float) -> list[Action]:
        """The transport could not deliver a message of this transaction."""
        return self._fire(now, self._transport_error_event(), None)

    def abandon(self, now: float) -> list[Action]:
        """The TU destroys the transaction (RFC 3261 §9.1: no final 64*T1 after CANCEL).

        Not a transition of the table (the figures have no such arrow): the
        machine goes to Terminated, its timers are cancelled and the layer forgets it.
        """
        if self.terminated:
            return []
        old = self.state
        self.state = type(old)("Terminated")
        actions: list[Action] = [StateChange(f"{self.machine} {self.id}", old.value, "Terminated", self.call_id)]
        actions += [CancelTimer(name) for name in sorted(self._pending)]
        self._pending.clear()
        actions.append(TUEvent("terminated", self))
        return actions

    def _transport_error_event(self) -> enum.Enum:
        """This machine's transport-error event."""
        raise NotImplementedError


# ------------------------------------------------------------------ clients


class ClientTransaction(Transaction):
    """A client transaction: sends ``request`` to ``peer`` and matches its responses."""

    def __init__(self, tid: str, request: "Request", peer: Address, timers: TimerConfig, call_id: str | None) -> None:
        """Remember the branch and method used for matching (§17.1.3)."""
        super().__init__(tid, request, peer, timers, call_id)
        self.branch = request.top_via.branch
        self.sends = 0

    @property
    def key(self) -> tuple[str, str]:
        """§17.1.3: a response matches by top-Via branch and CSeq method."""
        return (self.branch, self.request.method)

    def _send_request(self, timer: str | None) -> SendMessage:
        """Hand the request to the transport, counting transmissions."""
        message = SendMessage(self.request, self.peer, retransmission=self.sends, timer=timer)
        self.sends += 1
        return message

    def receive_response(self, now: float, response: "Response") -> list[Action]:
        """A response matched this transaction."""
        return self._fire(now, self._response_event(response.status), response)

    def _response_event(self, status: int) -> enum.Enum:
        """Map a status code to this machine's event."""
        raise NotImplementedError


class InviteClientTransaction(ClientTransaction):
    """INVITE client transaction, RFC 3261 §17.1.1 Figure 5 with RFC 6026 §7.2.

    Calling: the INVITE is sent, Timer A (UDP only) retransmits it at T1, 2T1,
    4T1 ... with no ceiling, Timer B (64*T1) gives up. A 1xx moves to
    Proceeding (retransmission stops). A 300-699 moves to Completed: the
    transaction ACKs it itself, again for each retransmission, until Timer D.
    A 2xx moves to Accepted (RFC 6026): the 2xx and any later 2xx go to the TU,
    which sends its own ACK; Timer M ends it.
    """

    machine = "INVITE client"
    transitions = INVITE_CLIENT_TRANSITIONS

    def __init__(self, tid: str, request: "Request", peer: Address, timers: TimerConfig, call_id: str | None) -> None:
        """Prepare; call :meth:`start` to send."""
        super().__init__(tid, request, peer, timers, call_id)
        self.ack: "Request | None" = None
        self.ack_sends = 0

    def start(self, now: float) -> list[Action]:
        """Enter Calling: send the INVITE, start A (UDP) and B."""
        actions: list[Action] = [self._send_request(None)]
        timer_a = self.timers.timer_a(self.reliable)
        if timer_a is not None:
            actions.append(self._start("A", timer_a))
        actions.append(self._start("B", self.timers.timer_b))
        return actions

    def _response_event(self, status: int) -> ICEvent:
        """Bucket the status code."""
        return {"1xx": ICEvent.RECV_1XX, "2xx": ICEvent.RECV_2XX, "300-699": ICEvent.RECV_300_699}[
            _class_of(status)
        ]

    def _timer_event(self, letter: str) -> ICEvent:
        """Timer letter -> event."""
        return {"A": ICEvent.TIMER_A, "B": ICEvent.TIMER_B, "D": ICEvent.TIMER_D, "M": ICEvent.TIMER_M}[letter]

    def _transport_error_event(self) -> ICEvent:
        """Transport error event."""
        return ICEvent.TRANSPORT_ERROR

    def _send_ack(self) -> SendMessage:
        """Send (or resend) the ACK of the 3xx-6xx."""
        message = SendMessage(self.ack, self.peer, retransmission=self.ack_sends, timer=None)
        self.ack_sends += 1
        return message

    def _on(self, now, old, event, new, message) -> list[Action]:
        """Actions of each Figure 5 transition."""
        actions: list[Action] = []
        if event is ICEvent.TIMER_A:
            actions.append(self._send_request("A"))
            actions.append(self._start("A", self.timers.next_timer_a(self._intervals["A"])))
        elif event is ICEvent.TIMER_B:
            actions.append(TUEvent("timeout", self, None, "B"))
        elif event is ICEvent.TRANSPORT_ERROR:
            actions.append(TUEvent("transport-error", self))
        elif old is ICState.CALLING and new is not ICState.CALLING:
            # Leaving Calling stops retransmission; Timer B has no effect any more.
            actions += self._cancel("A") + self._cancel("B")
        if event is ICEvent.RECV_1XX:
            actions.append(TUEvent("response", self, message))
        elif event is ICEvent.RECV_2XX:
            if old is not ICState.ACCEPTED:
                actions.append(self._start("M", self.timers.timer_m))
            actions.append(TUEvent("response", self, message))
        elif event is ICEvent.RECV_300_699:
            if old is ICState.COMPLETED:
                actions.append(self._send_ack())  # retransmitted final: ACK again, not up
            else:
                self.ack = build_non2xx_ack(self.request, message)
                actions.append(self._send_ack())
                actions.append(TUEvent("response", self, message))
                actions += self._timer_or_now(now, "D", self.timers.timer_d(self.reliable), ICEvent.TIMER_D)
        return actions


class NonInviteClientTransaction(ClientTransaction):
    """Non-INVITE client transaction, RFC 3261 §17.1.2 Figure 6.

    Trying: the request is sent, Timer E (UDP only) retransmits it at T1, then
    doubling up to T2; Timer F (64*T1) gives up. A 1xx moves to Proceeding,
    where E retransmits every T2. A 200-699 moves to Completed, which absorbs
    response retransmissions until Timer K (T4 over UDP, 0 over TCP).
    """

    machine = "non-INVITE client"
    transitions = NON_INVITE_CLIENT_TRANSITIONS

    def start(self, now: float) -> list[Action]:
        """Enter Trying: send the request, start E (UDP) and F."""
        actions: list[Action] = [self._send_request(None)]
        timer_e = self.timers.timer_e(self.reliable)
        if timer_e is not None:
            actions.append(self._start("E", timer_e))
        actions.append(self._start("F", self.timers.timer_f))
        return actions

    def _response_event(self, status: int) -> NICEvent:
        """Bucket the status code."""
        return NICEvent.RECV_1XX if status < 200 else NICEvent.RECV_200_699

    def _timer_event(self, letter: str) -> NICEvent:
        """Timer letter -> event."""
        return {"E": NICEvent.TIMER_E, "F": NICEvent.TIMER_F, "K": NICEvent.TIMER_K}[letter]

    def _transport_error_event(self) -> NICEvent:
        """Transport error event."""
        return NICEvent.TRANSPORT_ERROR

    def _on(self, now, old, event, new, message) -> list[Action]:
        """Actions of each Figure 6 transition."""
        actions: list[Action] = []
        if event is NICEvent.TIMER_E:
            actions.append(self._send_request("E"))
            interval = self.timers.next_timer_e(self._intervals["E"], proceeding=old is NICState.PROCEEDING)
            actions.append(self._start("E", interval))
        elif event is NICEvent.TIMER_F:
            actions += self._cancel("E")
            actions.append(TUEvent("timeout", self, None, "F"))
        elif event is NICEvent.TRANSPORT_ERROR:
            actions.append(TUEvent("transport-error", self))
        elif event is NICEvent.RECV_1XX:
            actions.append(TUEvent("response", self, message))
        elif event is NICEvent.RECV_200_699 and old is not NICState.COMPLETED:
            actions += self._cancel("E") + self._cancel("F")
            actions.append(TUEvent("response", self, message))
            actions += self._timer_or_now(now, "K", self.timers.timer_k(self.reliable), NICEvent.TIMER_K)
        return actions


# ------------------------------------------------------------------ servers


class ServerTransaction(Transaction):
    """A server transaction: answers ``request``, which arrived from ``peer``.

    Responses go back to the address the request came from (RFC 3261 §18.2.2
    with ``received``/``rport``: the source of the request).
    """

    def __init__(self, tid: str, request: "Request", peer: Address, timers: TimerConfig, call_id: str | None,
                 key: tuple) -> None:
        """Remember the matching key (§17.2.3)."""
        super().__init__(tid, request, peer, timers, call_id)
        self.key = key
        self.last_response: "Response | None" = None
        self.last_sends = 0

    def _send_response(self, response: "Response", timer: str | None) -> SendMessage:
        """Send ``response``; ``retransmission`` counts earlier sends of that same object."""
        if response is not self.last_response:
            self.last_response = response
            self.last_sends = 0
        message = SendMessage(response, self.peer, retransmission=self.last_sends, timer=timer)
        self.last_sends += 1
        return message

    def send_response(self, now: float, response: "Response", timer: str | None = None) -> list[Action]:
        """The TU hands down a response (``timer``: the TU timer causing a retransmission)."""
        self._tu_timer = timer
        return self._fire(now, self._response_event(response.status), response)

    def receive_request(self, now: float, request: "Request") -> list[Action]:
        """A retransmission of the request (or, for INVITE, an ACK) matched this transaction."""
        return self._fire(now, self._request_event(request), request)

    def _response_event(self, status: int) -> enum.Enum:
        """Map a status code to this machine's event."""
        raise NotImplementedError

    def _request_event(self, request: "Request") -> enum.Enum:
        """Map a received request to this machine's event."""
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

    machine = "INVITE server"
    transitions = INVITE_SERVER_TRANSITIONS

    def __init__(self, tid: str, request: "Request", peer: Address, timers: TimerConfig, call_id: str | None,
                 key: tuple) -> None:
        """Prepare; call :meth:`start`."""
        super().__init__(tid, request, peer, timers, call_id, key)
        self.provisional: "Response | None" = None
        self.final: "Response | None" = None
        self._tu_timer: str | None = None

    def start(self, now: float) -> list[Action]:
        """Enter Proceeding: arm the 200 ms 100-Trying timer (§17.2.1)."""
        return [self._start("trying", self.timers.trying_delay)]

    def _response_event(self, status: int) -> ISEvent:
        """Bucket the status code."""
        return {"1xx": ISEvent.SEND_1XX, "2xx": ISEvent.SEND_2XX, "300-699": ISEvent.SEND_300_699}[
            _class_of(status)
        ]

    def _request_event(self, request: "Request") -> ISEvent:
        """INVITE retransmission or ACK."""
        return ISEvent.RECV_ACK if request.method == "ACK" else ISEvent.RECV_INVITE

    def _timer_event(self, letter: str) -> ISEvent:
        """Timer letter -> event."""
        return {
            "trying": ISEvent.TIMER_TRYING,
            "G": ISEvent.TIMER_G,
            "H": ISEvent.TIMER_H,
            "I": ISEvent.TIMER_I,
            "L": ISEvent.TIMER_L,
        }[letter]

    def _transport_error_event(self) -> ISEvent:
        """Transport error event."""
        return ISEvent.TRANSPORT_ERROR

    def _on(self, now, old, event, new, message) -> list[Action]:
        """Actions of each Figure 7 transition."""
        from simsip.sip.message import make_response

        actions: list[Action] = []
        timer = self._tu_timer
        self._tu_timer = None
        if event in (ISEvent.SEND_1XX, ISEvent.SEND_2XX, ISEvent.SEND_300_699) and old is ISState.PROCEEDING:
            actions += self._cancel("trying")  # the TU answered within 200 ms
        if event is ISEvent.TIMER_TRYING:
            if self.provisional is None:
                self.provisional = make_response(self.request, 100)
                actions.append(self._send_response(self.provisional, None))
        elif event is ISEvent.RECV_INVITE:
            if old is ISState.PROCEEDING and self.provisional is not None:
                actions.append(self._send_response(self.provisional, None))
            elif old is ISState.COMPLETED:
                actions.append(self._send_response(self.final, None))
            # Accepted: absorbed silently (RFC 6026 §7.1).
        elif event is ISEvent.SEND_1XX:
            self.provisional = message
            actions.append(self._send_response(message, timer))
        elif event is ISEvent.SEND_2XX:
            self.final = message
            actions.append(self._send_response(message, timer))
            if old is ISState.PROCEEDING:
                actions.append(self._start("L", self.timers.timer_l))
        elif event is ISEvent.SEND_300_699:
            self.final = message
            actions.append(self._send_response(message, timer))
            timer_g = self.timers.timer_g(self.reliable)
            if timer_g is not None:
                actions.append(self._start("G", timer_g))
            actions.append(self._start("H", self.timers.timer_h))
        elif event is ISEvent.TIMER_G:
            actions.append(self._send_response(self.final, "G"))
            actions.append(self._start("G", self.timers.next_timer_g(self._intervals["G"])))
        elif event is ISEvent.RECV_ACK:
            if old is ISState.COMPLETED:
                actions += self._cancel("G") + self._cancel("H")
                actions += self._timer_or_now(now, "I", self.timers.timer_i(self.reliable), ISEvent.TIMER_I)
            elif old is ISState.ACCEPTED:
                actions.append(TUEvent("ack", self, message))
        elif event is ISEvent.TIMER_H:
            actions += self._cancel("G")
            actions.append(TUEvent("timeout", self, None, "H"))
        elif event is ISEvent.TRANSPORT_ERROR:
            actions.append(TUEvent("transport-error", self))
        return actions


class NonInviteServerTransaction(ServerTransaction):
    """Non-INVITE server transaction, RFC 3261 §17.2.2 Figure 8.

    Trying: the request went to the TU; retransmissions are discarded. A 1xx
    from the TU moves to Proceeding (retransmissions get the latest 1xx
    again). A 200-699 moves to Completed: retransmissions get the final again
    until Timer J (64*T1 over UDP, 0 over TCP). It never retransmits on a timer.
    """

    machine = "non-INVITE server"
    transitions = NON_INVITE_SERVER_TRANSITIONS

    def start(self, now: float) -> list[Action]:
        """Enter Trying (nothing to send or arm)."""
        return []

    def _response_event(self, status: int) -> NISEvent:
        """Bucket the status code."""
        return NISEvent.SEND_1XX if status < 200 else NISEvent.SEND_200_699

    def _request_event(self, request: "Request") -> NISEvent:
        """Any matching request is a retransmission."""
        return NISEvent.RECV_REQUEST

    def _timer_event(self, letter: str) -> NISEvent:
        """Timer letter -> event."""
        return {"J": NISEvent.TIMER_J}[letter]

    def _transport_error_event(self) -> NISEvent:
        """Transport error event."""
        return NISEvent.TRANSPORT_ERROR

    def send_response(self, now: float, response: "Response", timer: str | None = None) -> list[Action]:
        """The TU hands down a response."""
        return self._fire(now, self._response_event(response.status), response)

    def _on(self, now, old, event, new, message) -> list[Action]:
        """Actions of each Figure 8 transition."""
        actions: list[Action] = []
        if event is NISEvent.SEND_1XX:
            actions.append(self._send_response(message, None))
        elif event is NISEvent.SEND_200_699:
            actions.append(self._send_response(message, None))
            actions += self._timer_or_now(now, "J", self.timers.timer_j(self.reliable), NISEvent.TIMER_J)
        elif event is NISEvent.RECV_REQUEST and old is not NISState.TRYING:
            actions.append(self._send_response(self.last_response, None))
        elif event is NISEvent.TRANSPORT_ERROR:
            actions.append(TUEvent("transport-error", self))
        return actions


# ------------------------------------------------------------------ the layer


def server_key(request: "Request") -> tuple:
    """The §17.2.3 matching key of a request (ACK and CANCEL handled as the RFC says).

    With an RFC 3261 branch: (branch, sent-by, method) where ACK counts as
    INVITE. Without one (RFC 2543 fallback): Request-URI, From tag, Call-ID,
    CSeq number, top Via and method (ACK counts as INVITE; the ACK's To tag
    is checked separately against the tag the transaction sent).
    """
    via = request.top_via
    method = "INVITE" if request.method == "ACK" else request.method
    if has_magic_cookie(via.branch):
        return ("3261", via.branch, f"{via.host}:{via.port}", method)
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
    """

    def __init__(self, timers: TimerConfig, rng: random.Random, prefix: str = "") -> None:
        """``prefix`` keeps timer names unique if one element has several layers."""
        self.timers = timers
        self.rng = rng
        self.prefix = prefix
        self.clients: dict[tuple, ClientTransaction] = {}
        self.servers: dict[tuple, ServerTransaction] = {}
        self._by_id: dict[str, Transaction] = {}
        self._serial = 0

    def new_branch(self) -> str:
        """A fresh RFC 3261 branch (magic cookie + 64 random bits from the element's rng)."""
        return f"{MAGIC_COOKIE}{self.rng.getrandbits(64):016x}"

    def _new_id(self, kind: str, label: str) -> str:
        """An element-unique transaction id used in timer names."""
        self._serial += 1
        return f"{self.prefix}{kind}{self._serial}:{label}"

    def _after(self, actions: list[Action]) -> list[Action]:
        """Forget transactions that just terminated."""
        for action in actions:
            if isinstance(action, TUEvent) and action.kind == "terminated":
                tx = action.transaction
                self._by_id.pop(tx.id, None)
                table = self.clients if isinstance(tx, ClientTransaction) else self.servers
                if table.get(tx.key) is tx:
                    del table[tx.key]
        return actions

    # -- client side
    def send_request(
        self, now: float, request: "Request", destination: Address
    ) -> tuple[ClientTransaction, list[Action]]:
        """Create and start the client transaction for ``request`` (top Via must carry the branch)."""
        if request.method == "ACK":
            raise ValueError("ACK is not sent in a transaction (RFC 3261 §17.1.1.3, §13.2.2.4)")
        cls = InviteClientTransaction if request.method == "INVITE" else NonInviteClientTransaction
        tid = self._new_id("ict" if cls is InviteClientTransaction else "nict", request.top_via.branch)
        tx = cls(tid, request, destination, self.timers, request.call_id)
        self.clients[tx.key] = tx
        self._by_id[tid] = tx
        return tx, self._after(tx.start(now))

    def receive_response(self, now: float, response: "Response") -> list[Action]:
        """Match a response (§17.1.3) and feed it; unmatched -> a ``stray-response`` TUEvent."""
        via = response.top_via
        key = (via.branch if via is not None else None, response.cseq.method)
        tx = self.clients.get(key)
        if tx is None:
            return [TUEvent("stray-response", None, response)]
        return self._after(tx.receive_response(now, response))

    # -- server side
    def find_server(self, request: "Request") -> ServerTransaction | None:
        """The server transaction ``request`` matches (§17.2.3), if any."""
        tx = self.servers.get(server_key(request))
        if tx is None or request.method != "ACK" or tx.key[0] == "3261":
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
        tx = self.find_server(request)
        if tx is not None:
            return self._after(tx.receive_request(now, request))
        if request.method == "ACK":
            return [TUEvent("ack", None, request)]
        key = server_key(request)
        cls = InviteServerTransaction if request.method == "INVITE" else NonInviteServerTransaction
        tid = self._new_id("ist" if cls is InviteServerTransaction else "nist", str(request.top_via.branch or "2543"))
        tx = cls(tid, request, source, self.timers, request.call_id, key)
        self.servers[key] = tx
        self._by_id[tid] = tx
        actions = tx.start(now)
        actions.append(TUEvent("request", tx, request))
        return actions

    def send_response(
        self, now: float, transaction: ServerTransaction, response: "Response", timer: str | None = None
    ) -> list[Action]:
        """Send ``response`` through ``transaction``."""
        return self._after(transaction.send_response(now, response, timer))

    # -- timers
    def owns_timer(self, name: str) -> bool:
        """True when ``name`` belongs to one of this layer's live transactions."""
        return name.rsplit("/", 1)[0] in self._by_id

    def timer_fired(self, now: float, name: str) -> list[Action]:
        """Route a timer firing to its transaction (stale names give [])."""
        tx = self._by_id.get(name.rsplit("/", 1)[0])
        if tx is None:
            return []
        return self._after(tx.timer_fired(now, name))

    def transport_error(self, now: float, transaction: Transaction) -> list[Action]:
        """Tell ``transaction`` its transport failed."""
        return self._after(transaction.transport_error(now))

    def abandon(self, now: float, transaction: Transaction) -> list[Action]:
        """Destroy ``transaction`` on its TU's behalf (see :meth:`Transaction.abandon`)."""
        return self._after(transaction.abandon(now))


def split_tu_events(actions: list[Action | TUEvent]) -> tuple[list[Action], list[TUEvent]]:
    """Separate the driver's actions from the TU's events, keeping order within each."""
    out: list[Action] = []
    tu: list[TUEvent] = []
    for action in actions:
        (tu if isinstance(action, TUEvent) else out).append(action)
    return out, tu
