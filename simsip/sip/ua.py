"""The user agent core (RFC 3261 §8, §12-15, RFC 3262), sans-IO.

:class:`UserAgentCore` is the transaction user of one UA: it owns a
:class:`~simsip.sip.transaction.TransactionLayer`, the dialogs
(:mod:`simsip.sip.dialog`) and the per-call state, makes every automatic
protocol decision (ACK, PRACK, 100rel negotiation, 2xx and reliable-1xx
retransmission, CANCEL/487, error answers) and reports what the application
may react to as :class:`~simsip.sip.events.AppEvent` actions.

Driving it (the engine, or a test)::

    ua = UserAgentCore("alice", "alice", aor="sip:alice@atlanta.example.com",
                       timers=TimerConfig(), rng=random.Random(1),
                       options=UAOptions(resolver=lambda host: Address(host)))
    call_id, actions = ua.invite(now, "sip:bob@biloxi.example.com")
    actions = ua.receive(now, message, source_address)
    actions = ua.timer_fired(now, timer_name)

Every call returns ``list[Action]`` (:mod:`simsip.sip.events`): SendMessage,
StartTimer / CancelTimer (names unique in this core), StateChange (every
transaction, dialog and reliable-1xx state change; none at all while
``layer.states`` is False, for a driver that records none) and AppEvent.

Application calls (``now`` first; ``call_id`` is the Call-ID):

* ``invite(now, target, *, call_id=None, require_100rel=None, sdp=None)
  -> (call_id, actions)``: new call. ``sdp=None`` sends a generated SDP
  offer, ``sdp=""`` no body.
* ``respond(now, call_id, code, *, reliable=False, sdp=None, reason=None, headers=())``:
  answer the pending incoming INVITE (initial or re-INVITE) of the call.
  1xx: ``reliable=True`` sends it reliably if the INVITE allows (forced when
  it carried ``Require: 100rel``; never for 100); ``sdp`` is its body. 2xx:
  the body the offer/answer model requires (answer, or offer when the INVITE
  had none) is put in unless a reliable 1xx already carried it; ``sdp``
  bytes replace the generated one. A 2xx asked for while a reliable 1xx with
  SDP awaits its PRACK is held and sent when the PRACK arrives (RFC 3262 §3).
  3xx-6xx: ``headers`` (name, value) pairs are added (a B2BUA relaying a 420
  passes its ``Unsupported``, §8.2.2.3).
* ``hangup(now, call_id)``: BYE on confirmed dialogs; as UAC before the
  final response CANCEL (deferred until a provisional arrived, §9.1); as
  UAS before answering, 603 Decline.
* ``bye(now, call_id)``: BYE in the caller's early or confirmed dialogs even
  before the final response (§15, RFC 5407 §3.1.3); as callee, like hangup
  on a confirmed dialog (never in an early one).
* ``cancel(now, call_id)``: CANCEL the pending outgoing INVITE (§9.1).
* ``reinvite(now, call_id, sdp=None, contact=None)``: re-INVITE in the
  confirmed dialog; a 491 is retried after the §14.1 random backoff.
  ``contact`` (URI) becomes this call's Contact from then on (a target
  refresh after an address change, RFC 3665 §3.7).
* ``ack(now, call_id)``: send the ACK of the call's 2xx held by
  ``UAOptions.hold_2xx_ack`` (a B2BUA relaying its peer leg's ACK).
* ``answer_bye(now, call_id)``: answer 200 the BYE held by
  ``UAOptions.hold_bye_answer`` (a B2BUA relaying the BYE); the call ends then.
* ``prack(now, call_id)``: send the PRACK for the newest reliable 1xx not yet
  PRACKed (for ``auto_prack=False`` UAs).
* ``options(now, target) -> (call_id, actions)``,
  ``register(now, registrar, expires=3600, contacts=None) -> (call_id, actions)``.

An application call that does not fit the call's state returns an
``"app-error"`` AppEvent instead of raising.

AppEvent kinds and their ``detail`` keys:

* ``"request"``: a request for the application: INVITE (initial or re),
  ACK, BYE, CANCEL, OPTIONS, PRACK. detail: ``method``, ``cseq``,
  ``in_dialog`` (bool), ``reinvite`` (bool), for INVITE ``require_100rel``
  and ``supports_100rel``; ``auto_answered`` (OPTIONS, and re-INVITEs when
  ``UAOptions.auto_answer_reinvite``); for PRACK ``rseq``. Only requests the
  core accepted are reported; ones the §8.2 checks rejected (400, 405, 415,
  420, 482, ...) give "discarded"; ones rejected by dialog or transaction
  matching (481, 491, a 500 for an out-of-order CSeq) show only as that
  response.
* ``"response"``: a response to one of our requests (each 1xx, every fork's
  first 2xx, 3xx-6xx; not 2xx retransmissions, not reliable-1xx
  retransmissions). detail: ``method``, ``code``, ``reason``, ``to_tag``,
  ``reliable`` (RFC 3262), ``rseq``, ``reinvite``, ``fork`` (a 2xx for a
  second dialog, which the core ACKs and ends with BYE), ``auth_retry``
  (a 401/407 the core answers with credentials); ``redirect`` (only present,
  True, on a 3xx whose Contacts the core follows, §8.1.3.4); ``next_target``
  (only present, True, on a 4xx/5xx after which the core tries the next
  Contact of an earlier 3xx, §8.1.3.4); ``interval_retry`` (only present,
  True, on a 423 to REGISTER that the core sends again with every interval
  raised to the Min-Expires, §10.2.8).
* ``"timeout"``: a client transaction timed out. detail: ``method``,
  ``timer`` ("B" or "F"), ``failover`` (True when the next outbound proxy, or
  the next Contact of an earlier 3xx, is tried).
* ``"reliability-failure"``: RFC 3262 §3, no PRACK within 64*T1; the core
  rejected the INVITE. detail: ``rseq``, ``code``.
* ``"call-ended"``: the call is over. detail: ``outcome`` ("answered",
  "rejected", "timeout", "reliability_failure", "cancelled"; at the UAC in
  the order of :mod:`simsip.metrics.measures`: 2xx, reliability-failure 5xx,
  CANCEL sent, Timer B or 408, other 3xx-6xx),
  ``final_code`` (the INVITE's final status, 408 for a timeout), ``by``
  ("local", "remote" or None), ``reason``.
* ``"discarded"``: a message dropped on purpose. detail: ``reason``. Among them a 1xx
  with a To tag or a 2xx to the initial INVITE that would create a dialog but has no
  Contact (:data:`NO_CONTACT_REASON`): it creates no dialog and gets no ACK or PRACK.
* ``"app-error"``: an application call that did not fit. detail: ``reason``.

StartTimer labels of the core (transaction timers use the RFC letters, see
:mod:`simsip.sip.transaction`): ``"2xx"`` (§13.3.1.4 retransmission),
``"ack-wait"`` (64*T1 without ACK: stop, then BYE), ``"1xx-rel"`` (RFC 3262
retransmission), ``"prack-wait"`` (64*T1 without PRACK: 5xx),
``"491-retry"`` (§14.1 backoff), ``"ack-hold"`` (``ack_relay_wait`` after a 2xx
whose ACK is held: it goes anyway), ``"invite-complete"`` (§13.2.2.4, 64*T1
after the first 2xx: unanswered early dialogs end), ``"cancel-wait"``
(§9.1, 64*T1 after CANCEL, or after a BYE ended the early dialog, with no
final response: the INVITE client transaction is then destroyed). SendMessage ``timer``
values set by the core: ``"2xx"`` and ``"1xx-rel"``.

Each reliable provisional the UAS sends follows :data:`RELIABLE_1XX_TRANSITIONS`
(Pending -> Unacknowledged -> PRACKed, or Stopped by a final, Failed after
64*T1, Discarded when still queued at the final), reported as StateChange
actions named ``"reliable <code> #<n> <Call-ID>"``.

The reliability-failure 5xx is ``500 Reliable Provisional Unacknowledged``
(RFC 3262 leaves the code open); a UAC seeing exactly that reason phrase
reports the outcome ``reliability_failure``.

Digest authentication (RFC 3261 §22) uses :mod:`simsip.sip.auth`: a 401/407
to INVITE, REGISTER, OPTIONS or BYE is answered once per request with a new
request carrying credentials for each challenged realm we hold some for
(``UAOptions.realm_credentials`` for that realm, else ``UAOptions.credentials``).
"""

from __future__ import annotations

import enum
import random
import re
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Final

from simsip.sip.abnf import CALLID_RE, SipParseError
from simsip.sip.dialog import MAX_CSEQ, Dialog, DialogEvent, DialogState, new_tag
from simsip.sip.events import Action, Address, AppEvent, CancelTimer, SendMessage, StartTimer, StateChange, Transport
from simsip.sip.message import (
    URI,
    CSeq,
    Headers,
    NameAddr,
    Request,
    Response,
    Via,
    make_response,
    name_addr_with_tag,
    via_with_branch,
)
from simsip.sip.timers import TimerConfig
from simsip.sip.transaction import (
    ClientTransaction,
    InviteServerTransaction,
    ServerTransaction,
    TransactionLayer,
    MAGIC_COOKIE,
    TUEvent,
    build_from_invite,
    has_magic_cookie,
    server_key,
)

__all__ = [
    "UAOptions",
    "UserAgentCore",
    "RELIABILITY_FAILURE_REASON",
    "NO_CONTACT_REASON",
    "RELIABLE_1XX_TRANSITIONS",
    "RELIABLE_1XX_INITIAL",
    "Rel1xxState",
    "Rel1xxEvent",
    "simple_sdp",
]

# RFC 3261 §8.2.1 / §11.2: what this UA implements.
ALLOWED_METHODS = ("INVITE", "ACK", "CANCEL", "BYE", "PRACK", "OPTIONS")
# Methods of RFC 3261 and common extensions: known (405 when not allowed) versus unknown (501).
KNOWN_METHODS = frozenset(
    ALLOWED_METHODS + ("REGISTER", "SUBSCRIBE", "NOTIFY", "REFER", "INFO", "UPDATE", "MESSAGE", "PUBLISH")
)
ALLOW: Final = ", ".join(ALLOWED_METHODS)  # the Allow header value
_ALLOWED: Final = frozenset(ALLOWED_METHODS)
_NO_TAGS: Final[frozenset[str]] = frozenset()
_100REL = frozenset(("100rel",))
RELIABILITY_FAILURE_REASON = "Reliable Provisional Unacknowledged"
SDP: Final = "application/sdp"
# RFC 3261 §8.2.3 / RFC 4475 §3.3.15: Accept values that admit our SDP.
_SDP_ACCEPTED: Final = frozenset((SDP, "application/*", "*/*"))
# RFC 3262 §3: the first RSeq is in 1 .. 2^31 - 1.
RSEQ_MAX_START: Final = 2**31 - 1
MAX_REDIRECTS: Final = 5  # RFC 3261 §8.1.3.4: bound 3xx recursion (each address tried counts)
MAX_AUTH_TRIES: Final = 4  # one answer per challenging realm along the path (RFC 3665 §3.3: two)
# RFC 3261 §12.1.1: the UAS MUST put a Contact in a response that creates a dialog; §12.1.2: the
# UAC takes the remote target from it. Without one the dialog could address no request (ACK,
# PRACK, BYE), so the UAC discards such a response as malformed (as §8.1.3.3 does a response
# with two Vias): as if it never came, the UAS retransmits it and then gives up.
NO_CONTACT_REASON: Final = "no Contact in a response creating a dialog (RFC 3261 §12.1.1)"


def simple_sdp(user: str, host: str, session_id: int, version: int = 1) -> bytes:
    """A minimal RFC 4566 audio session description for ``host`` (offer or answer)."""
    return (
        "v=0\r\n"
        f"o={user} {session_id} {version} IN IP4 {host}\r\n"
        "s=-\r\n"
        f"c=IN IP4 {host}\r\n"
        "t=0 0\r\n"
        "m=audio 49170 RTP/AVP 0\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
    ).encode()


@dataclass(frozen=True)
class UAOptions:
    """Per-UA configuration (scenario options such as ``supports 100rel``, ``no-auto-prack``)."""

    supports_100rel: bool = True
    """Advertise ``Supported: 100rel`` and accept ``Require: 100rel`` (else 420)."""
    require_100rel: bool = False
    """As UAC, put ``Require: 100rel`` in every INVITE."""
    auto_prack: bool = True
    """PRACK each new reliable provisional automatically (RFC 3262 §4)."""
    outbound: tuple[Address, ...] = ()
    """Outbound proxies for out-of-dialog requests; later ones are failovers after a timeout."""
    credentials: tuple[str, str] | None = None
    """(username, password) for Digest challenges of any realm not in ``realm_credentials`` (RFC 3261 §22)."""
    realm_credentials: tuple[tuple[str, str, str], ...] = ()
    """(realm, username, password): what a challenge of that realm is answered with (§22.1: the realm
    names the protection domain, so each proxy on the path can ask for its own, RFC 3665 §3.3)."""
    resolver: Callable[[str], Address | None] | None = None
    """host name -> Address (the engine's DNS); None or a None answer: Address(host, port, transport)."""
    display_name: str | None = None
    auto_answer_reinvite: bool = True
    """Answer re-INVITEs 200 by itself (the app still gets the request event)."""
    bye_on_ack_timeout: bool = True
    """§13.3.1.4: end the session with BYE when the ACK of our 2xx never came."""
    bye_forked_2xx: bool = True
    """RFC 5407 App. E: ACK then BYE a 2xx from a second fork branch."""
    auto_trying: bool = True
    """§17.2.1: the INVITE server transaction sends 100 Trying when the TU is silent for 200 ms, and
    (RFC 4320 §4.1) a BYE held by ``hold_bye_answer`` gets 100 Trying once the client's Timer E reached
    T2 (``no-trying``: never; the TU's own responses only)."""
    answer_sdp: bool = True
    """§13.2.1: put the generated SDP answer (or offer) in our 2xx to an INVITE (``no-answer-sdp``: no body
    unless the application passes one)."""
    hold_2xx_ack: bool = False
    """A B2BUA relaying the ACK (RFC 3665 §3.5 F12/F13): the ACK for the 2xx to an initial INVITE waits for
    ``ack(call_id)``, at most ``TimerConfig.ack_relay_wait`` so it still lands in the UAS's 64*T1 (§13.3.1.4)."""
    hold_bye_answer: bool = False
    """A B2BUA relaying the BYE (RFC 3665 §3.5 F14-F17): a BYE in a dialog is answered by ``answer_bye(call_id)``."""


class Rel1xxState(enum.Enum):
    """Life of one reliable provisional at the UAS (RFC 3262 §3)."""

    PENDING = "Pending"
    UNACKNOWLEDGED = "Unacknowledged"
    PRACKED = "PRACKed"
    STOPPED = "Stopped"
    FAILED = "Failed"
    DISCARDED = "Discarded"


class Rel1xxEvent(enum.Enum):
    """Inputs of the reliable-provisional machine."""

    SEND = "sent with the next RSeq"
    TIMER = "1xx-rel timer (T1, doubling, no cap)"
    PRACK = "matching PRACK"
    FINAL = "final response sent"
    PRACK_WAIT = "64*T1 without PRACK"


RELIABLE_1XX_TRANSITIONS: dict[tuple[Rel1xxState, Rel1xxEvent], Rel1xxState] = {
    # §3: a second reliable 1xx waits (Pending) until the first one is PRACKed.
    (Rel1xxState.PENDING, Rel1xxEvent.SEND): Rel1xxState.UNACKNOWLEDGED,
    # §3: after a final response no new reliable provisional may be sent.
    (Rel1xxState.PENDING, Rel1xxEvent.FINAL): Rel1xxState.DISCARDED,
    (Rel1xxState.UNACKNOWLEDGED, Rel1xxEvent.TIMER): Rel1xxState.UNACKNOWLEDGED,
    (Rel1xxState.UNACKNOWLEDGED, Rel1xxEvent.PRACK): Rel1xxState.PRACKED,
    # §3: a final sent first stops the retransmissions; a late PRACK is still answered 200.
    (Rel1xxState.UNACKNOWLEDGED, Rel1xxEvent.FINAL): Rel1xxState.STOPPED,
    (Rel1xxState.STOPPED, Rel1xxEvent.PRACK): Rel1xxState.PRACKED,
    # §3: no PRACK within 64*T1: the INVITE is rejected with a 5xx.
    (Rel1xxState.UNACKNOWLEDGED, Rel1xxEvent.PRACK_WAIT): Rel1xxState.FAILED,
}
RELIABLE_1XX_INITIAL = Rel1xxState.PENDING
# The same table keyed by member names: hashing an Enum member is a Python call, a name's hash is cached.
_REL1XX_NEXT: Final[dict[tuple[str, str], Rel1xxState]] = {
    (state._name_, event._name_): new for (state, event), new in RELIABLE_1XX_TRANSITIONS.items()
}


# The per-call records below are plain classes, not dataclasses: compiled, the __init__
# @dataclass generates stays interpreted Python, and several are built per call.


class _Reliable1xx:
    """One reliable provisional of a UAS INVITE (RFC 3262 §3) and its machine state."""

    def __init__(self, response: "Response", call_id: str, serial: int, has_sdp: bool, states: bool = True) -> None:
        """A reliable provisional not sent yet (Pending)."""
        self.response = response
        self.call_id = call_id
        self.serial = serial
        self.has_sdp = has_sdp
        self.states = states  # False: feed builds no StateChange (see UserAgentCore: the layer's states)
        self.rseq: int | None = None
        self.interval = 0.0
        self.sends = 0
        self.state = RELIABLE_1XX_INITIAL

    @property
    def retransmitting(self) -> bool:
        """True while the 1xx-rel timer runs."""
        return self.state is Rel1xxState.UNACKNOWLEDGED

    def feed(self, event: Rel1xxEvent) -> list[StateChange]:
        """Take the RELIABLE_1XX_TRANSITIONS transition (a StateChange when the state moves)."""
        old = self.state
        key = (old._name_, event._name_)
        if key not in _REL1XX_NEXT:
            return []
        new = _REL1XX_NEXT[key]
        if new is old:
            return []
        self.state = new
        if not self.states:
            return []
        name = f"reliable {self.response.status} #{self.serial} {self.call_id}"
        return [StateChange(name, old._value_, new._value_, self.call_id)]


class _UasInvite:
    """An INVITE (initial or re-INVITE) we are answering."""

    def __init__(self, request: "Request", tx: InviteServerTransaction, reinvite: bool, to_tag: str,
                 dialog: Dialog | None = None, offer_in_request: bool = False) -> None:
        """Nothing answered yet."""
        self.request = request
        self.tx = tx
        self.reinvite = reinvite
        self.to_tag = to_tag
        self.dialog = dialog
        self.offer_in_request = offer_in_request
        self.answer_sent = False
        self.early_sdp = b""  # the body of our last unreliable 1xx: the 2xx's answer repeats it (§13.2.1)
        self.rseq_next: int | None = None
        self.unacked: _Reliable1xx | None = None
        self.queue: list[_Reliable1xx] = []
        self.reliable_count = 0
        self.withheld: "Response | None" = None
        self.final: "Response | None" = None
        self.ok_sends = 0
        self.ok_interval = 0.0
        self.acked = False
        self.cancelled = False
        self.reliability_failed = False


class _UacInvite:
    """An INVITE (initial or re-INVITE) we sent."""

    def __init__(self, request: "Request", tx: ClientTransaction, destination: Address, reinvite: bool,
                 sdp: bytes = b"", *, cancel_wanted: bool = False, outbound_index: int = 0, auth_tries: int = 0,
                 redirects: int = 0, targets: tuple["URI", ...] = ()) -> None:
        """Sent, nothing received yet; ``targets``: the rest of a 3xx's target set, tried if this one fails."""
        self.request = request
        self.tx = tx
        self.destination = destination
        self.reinvite = reinvite
        self.sdp = sdp
        self.provisional = False
        self.final_code: int | None = None
        self.cancel_wanted = cancel_wanted
        self.cancel_sent = False
        self.first_2xx_tag: str | None = None
        self.outbound_index = outbound_index
        self.auth_tries = auth_tries
        self.redirects = redirects
        self.targets = targets


class _Call:
    """Everything this UA knows about one Call-ID."""

    def __init__(self, call_id: str, owner: bool, local_tag: str) -> None:
        """A new call: no dialog, no INVITE yet."""
        self.call_id = call_id
        self.owner = owner
        self.local_tag = local_tag
        self.dialogs: dict[str, Dialog] = {}
        self.uac: _UacInvite | None = None
        self.uas: _UasInvite | None = None
        self.uas_by_cseq: dict[int, _UasInvite] = {}
        self.uac_by_cseq: dict[int, _UacInvite] = {}
        self.outcome: str | None = None
        self.final_code: int | None = None
        self.ended = False
        self.bye_after_ack = False
        self.local_contact: str | None = None
        self.held_ack: tuple[Dialog, int] | None = None  # (dialog, INVITE CSeq) whose ACK waits (hold_2xx_ack)
        self.held_bye: tuple | None = None  # (server tx, BYE, dialog, was confirmed) awaiting answer_bye
        self.session_version = 1
        # RFC 3261 §8.1.3.4: every URI put in the call's 3xx target set (none twice); None until a 3xx.
        self.redirect_targets: set[str] | None = None


class _ClientRole:
    """Why we sent a non-INVITE request, to route its responses."""

    def __init__(self, call_id: str, method: str, dialog: Dialog | None, auth_tries: int = 0,
                 rack: tuple[int, int] | None = None) -> None:
        """The call, method and dialog of the request; ``rack`` for a PRACK."""
        self.call_id = call_id
        self.method = method
        self.dialog = dialog
        self.auth_tries = auth_tries
        self.rack = rack


class _Registration:
    """Our REGISTERs to one registrar (RFC 3261 §10.2): one Call-ID, CSeq one higher each, one at a time."""

    def __init__(self, call_id: str) -> None:
        """A registration with nothing sent yet."""
        self.call_id = call_id
        self.cseq = 0  # the highest CSeq used (counted when sent)
        self.challenge: "Response | None" = None  # the last 401/407: its credentials go along (§22.3)
        self.pending = False  # a REGISTER awaits its final response (or timeout)
        # Asked for while one was pending (expires, contacts), sent in order (§10.2 "MUST NOT send").
        self.waiting: list[tuple[int, list[str] | None]] = []

    def next_cseq(self) -> int:
        """Count one more REGISTER sent and return its CSeq."""
        self.cseq += 1
        return self.cseq


_DEFAULT_OPTIONS: Final = UAOptions()


class UserAgentCore:
    """RFC 3261 UA core plus RFC 3262: the transaction user of one user agent."""

    def __init__(
        self,
        name: str,
        host: str,
        *,
        aor: "URI | str | None" = None,
        timers: TimerConfig | None = None,
        transport: Transport = Transport.UDP,
        rng: random.Random,
        options: UAOptions | None = None,
    ) -> None:
        """``aor`` defaults to ``sip:<name>@<host>``; ``rng`` draws tags, branches, RSeq, backoffs."""
        self.name = name
        self.host = host
        self.aor = URI.parse(aor) if type(aor) is str else (aor or URI.parse(f"sip:{name}@{host}"))
        self.timers = timers or TimerConfig()
        self.transport = transport
        self.rng = rng
        # Header values that are the same in every message of this core, rendered once per
        # node (our Via for a new transaction is _via_sent_by + ";branch=" + branch).
        value, user = transport._value_, self.aor.user
        rendered = _RENDERED.get((host, value, user))
        if rendered is None:
            rendered = _render_constants(host, value, user)
        self._via_sent_by, self._via_prefix, self._contact_value = rendered
        self.layer = TransactionLayer(self.timers, rng)
        self.config = options or _DEFAULT_OPTIONS  # after the layer: the setter sets its non_invite_trying
        self.calls: dict[str, _Call] = {}
        self._roles: dict[str, _ClientRole] = {}
        # Registrar URI -> our registration there (§10.2, §22.3).
        self._registrations: dict[str, _Registration] = {}
        # (realm, nonce) -> requests sent with that nonce: the nonce-count, nc
        # (RFC 2617 §3.2.2), so a re-used challenge is answered nc=2, 3, ...
        self._nonce_counts: dict[tuple[str, str], int] = {}
        self._core_timers: dict[str, tuple[Callable[..., list[Action]], tuple]] = {}  # name -> (callback, args)
        self._merged: dict[tuple, tuple] = {}
        self._merged_keys: dict[Any, tuple] = {}  # server tx id -> its key in _merged

    def release(self) -> None:
        """Forget this finished run's calls, core timers and transactions (they point back at the core)."""
        self.layer.release()
        self.calls = {}
        self._core_timers = {}
        self._merged = {}
        self._merged_keys = {}

    @property
    def config(self) -> UAOptions:
        """The UA's options (assigning new ones re-derives what the core keeps from them)."""
        return self._config

    @config.setter
    def config(self, options: UAOptions) -> None:
        """Take new options."""
        self._config = options
        self._quiet = not options.auto_trying
        # RFC 4320 §4.1's 100 Trying can only be due for a BYE whose answer is held: every other
        # non-INVITE is answered in the step it arrives, so its timer would never fire.
        self.layer.non_invite_trying = options.hold_bye_answer and options.auto_trying
        self._rel_tags = _100REL if options.supports_100rel else _NO_TAGS
        self._from_value: str | None = None  # rendered on first use: a UA that only answers never needs it

    # ================================================================ helpers

    def _contact(self, call: "_Call | None" = None) -> str:
        """Our Contact header value (the call's own after ``reinvite(contact=...)``)."""
        if call is not None and call.local_contact is not None:
            return call.local_contact
        return self._contact_value

    def _new_via(self) -> tuple[str, list[Via]]:
        """Our Via for a new transaction: its text and ``[Via.parse(text)]``, built from the parsed prefix."""
        branch = self.layer.new_branch()
        via = via_with_branch(self._via_sent_by, branch)
        # None: the sent-by does not parse on its own, so Headers parses the text.
        return self._via_prefix + branch, None if via is None else [via]  # type: ignore[return-value]

    def _from_nameaddr(self) -> str:
        """Our From header value without tag."""
        value = self._from_value
        if value is None:
            display = f'"{self._config.display_name}" ' if self._config.display_name else ""
            value = self._from_value = f"{display}<{self.aor}>"
        return value

    def _resolve(self, uri: "URI") -> Address:
        """The Address to send a request for ``uri`` to (resolver, then the URI itself)."""
        if self._config.resolver is not None:
            found = self._config.resolver(uri.host)
            if found is not None:
                return found
        transport = self.transport
        if uri.params.get("transport", "") and uri.params["transport"].upper() in ("TCP", "UDP"):
            transport = Transport[uri.params["transport"].upper()]
        return Address(uri.host, uri.port or 5060, transport)

    def _out_of_dialog_destination(self, uri: "URI", index: int = 0) -> Address:
        """Outbound proxy ``index`` if configured, else the Request-URI's host (RFC 3263 style)."""
        if self._config.outbound:
            return self._config.outbound[index]
        return self._resolve(uri)

    def _sdp(self, call: _Call) -> bytes:
        """Our generated session description for ``call``."""
        user = self.aor.user or self.name
        # A stable session id (crc32 of the Call-ID): str hash() differs between processes.
        return simple_sdp(user, self.host, zlib.crc32(call.call_id.encode()), call.session_version)

    def _app_error(self, call_id: str, reason: str) -> list[Action]:
        """An application call that does not fit the state."""
        return [AppEvent("app-error", call_id, None, {"reason": reason})]

    def _start_timer(self, name: str, delay: float, label: str, call_id: str,
                     callback: Callable[..., list[Action]], *args: Any) -> StartTimer:
        """Arm a core timer whose firing runs ``callback(now, *args)`` (no closure per timer)."""
        self._core_timers[name] = (callback, args)
        return StartTimer(name, delay, label, call_id)

    def _cancel_timer(self, name: str) -> list[Action]:
        """Disarm a core timer if armed."""
        core_timers = self._core_timers
        if name in core_timers:
            del core_timers[name]
            return [CancelTimer(name)]
        return []

    def _end_call(self, call: _Call, outcome: str, final_code: int | None, by: str | None,
                  reason: str) -> list[Action]:
        """Emit call-ended once per call."""
        if call.ended:
            return []
        call.ended = True
        call.outcome = call.outcome or outcome
        call.final_code = call.final_code if call.final_code is not None else final_code
        return [AppEvent("call-ended", call.call_id, None, {
            "outcome": call.outcome, "final_code": call.final_code, "by": by, "reason": reason})]

    # ---------------------------------------------------- the transaction layer

    def _layer(self, now: float, actions: list) -> list[Action]:
        """Consume TUEvents from a layer call, returning only driver actions."""
        quiet = self._quiet
        for action in actions:
            kind = type(action)
            if kind is TUEvent or quiet and (kind is StartTimer or kind is CancelTimer):
                break
        else:
            # Nothing for the TU (the common case of a timer or a retransmission): pass the list on.
            return actions if actions else []
        out: list[Action] = []
        for action in actions:
            kind = type(action)
            if kind is TUEvent:
                event: TUEvent = action  # typed: compiled, its fields are read natively
                if event.kind == "terminated":  # the most frequent event, handled here
                    # A transaction is gone: forget its role, or its merged-request key (§8.2.2.2;
                    # only this transaction's own key: scanning all of _merged made calls O(n^2)).
                    tx = event.transaction
                    assert tx is not None  # "terminated" comes from the transaction itself
                    tid = tx.id
                    if tid in self._roles:
                        del self._roles[tid]
                    elif tid in self._merged_keys:
                        key = self._merged_keys[tid]
                        del self._merged_keys[tid]
                        merged = self._merged
                        if key in merged and merged[key][1] is tx:
                            del merged[key]
                else:
                    # Dispatch by a table of the handlers, not a chain of string comparisons.
                    out += _TU_HANDLERS[event.kind](self, now, event)
            elif quiet and (kind is StartTimer and action.label == "trying"
                            or kind is CancelTimer and action.name.endswith("/trying")):
                continue  # ``no-trying``: the §17.2.1 timer never runs, so no 100 Trying of its own
            else:
                out.append(action)
        return out

    def _on_stray_response(self, now: float, ev: TUEvent) -> list[Action]:
        """RFC 6026 §7.2: a response matching no client transaction is dropped."""
        msg = ev.message
        return [AppEvent("discarded", _safe_call_id(msg), msg, {"reason": "no matching client transaction"})]

    def _send_request(self, now: float, request: "Request", destination: Address,
                      role: _ClientRole | None) -> tuple[ClientTransaction, list[Action]]:
        """Start a client transaction for ``request``."""
        if destination.transport is not self.transport:
            # Our Vias are rendered with our transport; only a request to a destination reached
            # over another one (or copying such a request's Via: CANCEL) can need the change.
            _stamp_transport(request, destination)
        tx, actions = self.layer.send_request(now, request, destination)
        if role is not None:
            self._roles[tx.id] = role
        return tx, self._layer(now, actions)

    def _respond_tx(self, now: float, tx: ServerTransaction, response: "Response",
                    timer: str | None = None) -> list[Action]:
        """Send a response through its server transaction."""
        return self._layer(now, self.layer.send_response(now, tx, response, timer))

    def _make_response(self, request: "Request", code: int, to_tag: str | None,
                       reason: str | None = None) -> "Response":
        """§8.2.6: a response to ``request`` (a To tag on everything but 100, unless the To has one)."""
        # make_response leaves a To that has a tag as it is.
        return make_response(request, code, reason, to_tag=None if code == 100 else to_tag)

    def _to_tag_for(self, request: "Request") -> str | None:
        """A new To tag for our response to ``request``; None when its To already has one (§8.2.6.2)."""
        return None if request.to.tag else new_tag(self.rng)

    # ================================================================ receive

    def receive(self, now: float, message: "Request | Response", source: Address) -> list[Action]:
        """Feed a message that arrived from ``source``."""
        kind = type(message)
        if kind is Request or kind is not Response and isinstance(message, Request):
            # Match a request to a transaction, or answer a request too broken for one.
            problem = _transaction_problem(message)
            if problem is not None:
                return self._stateless_error(message, source, problem)
            return self._layer(now, self.layer.receive_request(now, message, source))
        # A response: check it (§8.1.3.3) and match it to a client transaction.
        problem = _response_problem(message)
        if problem is not None:
            return [AppEvent("discarded", _safe_call_id(message), message, {"reason": problem})]
        return self._layer(now, self.layer.receive_response(now, message))

    def timer_fired(self, now: float, name: str) -> list[Action]:
        """Feed the firing of timer ``name`` (stale or cancelled names give [])."""
        core_timers = self._core_timers
        if name in core_timers:
            callback, args = core_timers[name]
            del core_timers[name]
            return callback(now, *args)
        return self._layer(now, self.layer.timer_fired(now, name))

    # ---------------------------------------------------------- requests in

    def _stateless_error(self, request: "Request", source: Address, reason: str) -> list[Action]:
        """Answer 400 without a transaction (never to an ACK), copying what headers there are (§8.2.6)."""
        call_id = _safe_call_id(request)
        if request.method == "ACK":
            return [AppEvent("discarded", call_id, request, {"reason": reason})]
        headers = Headers()
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            for value in request.headers.get_all(name):
                if name == "To" and not _HAS_TAG_PARAM(value):
                    value = f"{value};tag={new_tag(self.rng)}"
                headers.add(name, value)
        if not request.headers.get_all("Via"):
            return [AppEvent("discarded", call_id, request, {"reason": reason})]
        response = Response(400, f"Bad Request ({reason})", headers)
        return [SendMessage(response, source), AppEvent("discarded", call_id, request, {"reason": reason})]

    def _on_new_request(self, now: float, ev: TUEvent) -> list[Action]:
        """A request that created a server transaction: validate (§8.2), then dispatch."""
        tx = ev.transaction
        request = ev.message
        check = self._validate(request, tx)
        if check is not None:
            code, reason, extra = check
            response = self._make_response(request, code, new_tag(self.rng), reason)
            for name, value in extra:
                response.headers.add(name, value)
            actions = self._respond_tx(now, tx, response)
            return actions + [AppEvent("discarded", request.call_id, request, {
                "reason": f"{code} {reason or ''}".strip()})]
        method = request.method
        if method == "INVITE":
            return self._on_invite(now, tx, request)
        if method == "BYE":
            return self._on_bye(now, tx, request)
        if method == "PRACK":
            return self._on_prack(now, tx, request)
        if method == "CANCEL":
            return self._on_cancel(now, tx, request)
        if method == "OPTIONS":
            return self._on_options(now, tx, request)
        raise AssertionError(f"validated method {method} has no handler")

    def _validate(self, request: "Request", tx: ServerTransaction) -> tuple[int, str | None, list] | None:
        """RFC 3261 §8.2 (and RFC 4475 §3.1.2-3.4) checks; (code, reason, extra headers) or None.

        Only requests :func:`_transaction_problem` let through get here, so exactly one
        To, From, Call-ID and CSeq (§8.1.1; RFC 4475 §3.3.1 insuf, §3.3.8 multi01) is
        already known.
        """
        if request.version != "SIP/2.0":
            return 505, None, []
        method = request.method
        # §8.2.1: unknown method -> 501, known but not ours -> 405 (both with Allow).
        if method not in _ALLOWED:
            return (501 if method not in KNOWN_METHODS else 405), None, [("Allow", ALLOW)]
        typed = request.headers._typed
        # Typed locals: compiled, the comparisons below are native.
        cseq: CSeq
        to: NameAddr
        from_: NameAddr
        try:
            # What .cseq/.to/.from_ return when parsed and single (as _transaction_problem found them).
            (cseq,) = typed["cseq"]
            (to,) = typed["to"]
            (from_,) = typed["from"]
        except (KeyError, ValueError):
            try:
                cseq = request.cseq
                to, from_ = request.to, request.from_
            except Exception:
                return 400, "Bad Request (unparseable header)", []
        uri = request.uri
        if cseq.method != method:
            return 400, "Bad Request (CSeq method does not match)", []
        if not 0 <= cseq.seq <= MAX_CSEQ:
            return 400, "Bad Request (CSeq out of range)", []
        # §8.2.2.1: a scheme we do not understand -> 416.
        scheme = uri.scheme if type(uri) is URI else getattr(uri, "scheme", "")
        if scheme != "sip" and scheme != "sips" and scheme.lower() not in ("sip", "sips"):
            return 416, None, []
        # §8.2.2.2: merged request (same From tag, Call-ID, CSeq, different branch) -> 482.
        to_params = to.params
        if "tag" not in to_params or not to_params["tag"]:  # not to.tag
            key = (from_.tag, request.call_id, cseq.seq, method)
            seen = self._merged.get(key)
            if seen is not None and seen[0] != tx.key:
                return 482, None, []
            self._merged[key] = (tx.key, tx)
            self._merged_keys[tx.id] = key  # one key per server transaction (this check runs once for it)
        # §8.2.2.3: Require with tags we do not support -> 420 + Unsupported (not for CANCEL).
        if method != "CANCEL":
            require = request.require
            if require:
                supported = self._rel_tags
                unknown = [tag for tag in require if tag.lower() not in supported]
                if unknown:
                    return 420, None, [("Unsupported", ", ".join(unknown))]
        body = request.body
        if body or method == "INVITE":
            # §8.2.3, for every method (a PRACK's body is an offer or answer too, and §11.2 answers an
            # OPTIONS as an INVITE): a body we cannot read -> 415 with Accept (RFC 4475 §3.3.6 invut).
            # An INVITE's is read even without a body: a malformed one raises, as before. It reads as
            # lower-case type/subtype without parameters.
            content_type = request.content_type
            if body and content_type is not None and content_type != SDP:
                return 415, None, [("Accept", SDP)]
            # §8.2.3: a content coding we cannot undo -> 415 with Accept-Encoding (we undo none).
            if body:
                codings = request.headers.get_all("Content-Encoding")
                if codings and {coding.lower() for coding in codings} - {"identity"}:
                    return 415, None, [("Accept-Encoding", "identity")]
        if method == "INVITE":
            # RFC 4475 §3.3.15 sdp01: Accept without application/sdp -> 406.
            accept = request.headers.get_all("Accept")
            if accept:
                types = {value.split(";")[0].strip().lower() for value in accept}
                if not types & _SDP_ACCEPTED:
                    return 406, None, [("Warning", f'399 {self.host} "only application/sdp is possible"')]
        return None

    # -------------------------------------------------------------- INVITE in

    def _find_dialog(self, request: "Request") -> tuple[_Call | None, Dialog | None]:
        """The dialog of an in-dialog request (To tag = local tag, From tag = remote tag)."""
        call = self.calls.get(request.call_id)
        if call is None or call.local_tag != request.to.tag:
            return call, None
        return call, call.dialogs.get(request.from_.tag or "")

    def _on_invite(self, now: float, tx: InviteServerTransaction, request: "Request") -> list[Action]:
        """An initial INVITE or a re-INVITE."""
        if request.to.tag:
            return self._on_reinvite(now, tx, request)
        call_id = request.call_id
        call = self.calls.get(call_id)
        if call is not None and not call.ended:
            # §8.2.2.2: the same call is still going on here: a copy that came by another path.
            response = self._make_response(request, 482, new_tag(self.rng))
            return self._respond_tx(now, tx, response)
        # A new INVITE for an ended Call-ID (e.g. after a 3xx, 401 or failover) starts afresh.
        call = _Call(call_id, owner=False, local_tag=new_tag(self.rng))
        self.calls[call_id] = call
        uas = _UasInvite(request, tx, reinvite=False, to_tag=call.local_tag,
                         offer_in_request=bool(request.body))
        call.uas = uas
        seq = request.cseq.seq
        call.uas_by_cseq[seq] = uas
        require = _has_100rel(request.require)
        supports = _has_100rel(request.supported)
        return [AppEvent("request", call_id, request, {
            "method": "INVITE", "cseq": seq, "in_dialog": False, "reinvite": False,
            "require_100rel": require, "supports_100rel": supports or require})]

    def _on_reinvite(self, now: float, tx: InviteServerTransaction, request: "Request") -> list[Action]:
        """§14.2: a re-INVITE in an existing dialog (491 on glare, 500 while one is pending)."""
        call, dialog = self._find_dialog(request)
        if dialog is None or dialog.state is DialogState.MORGUE:
            return self._respond_tx(now, tx, self._make_response(request, 481, None))
        if dialog.state is DialogState.MORTAL:
            # RFC 5407 §3.2.2: only BYE is accepted in Mortal.
            return self._respond_tx(now, tx, self._make_response(request, 481, None))
        if not dialog.accept_remote_seq(request):
            return self._respond_tx(now, tx, self._make_response(request, 500, None))
        if call.uac is not None and call.uac.reinvite and call.uac.final_code is None:
            # §14.2: we have our own re-INVITE pending -> 491 (glare).
            return self._respond_tx(now, tx, self._make_response(request, 491, None))
        pending = call.uas
        if (pending is not None and pending.final is not None and pending.final.status < 300
                and not pending.acked and not pending.offer_in_request and pending.final.body):
            # RFC 5407 §3.1.5, RFC 3261 §14.2: our offer went in the 2xx and its answer (in the
            # ACK) has not come; a new offer now collides with it -> 491 Request Pending.
            return self._respond_tx(now, tx, self._make_response(request, 491, None))
        if call.uas is not None and call.uas.final is None:
            # §14.2: an INVITE of theirs still pending -> 500 with Retry-After (0-10 s).
            response = self._make_response(request, 500, None)
            response.headers.add("Retry-After", str(self.rng.randint(0, 10)))
            return self._respond_tx(now, tx, response)
        dialog.refresh_target(request)  # §12.2: a re-INVITE is a target refresh
        uas = _UasInvite(request, tx, reinvite=True, to_tag=call.local_tag, dialog=dialog,
                         offer_in_request=bool(request.body))
        call.uas = uas
        call.uas_by_cseq[request.cseq.seq] = uas
        actions = [AppEvent("request", call.call_id, request, {
            "method": "INVITE", "cseq": request.cseq.seq, "in_dialog": True, "reinvite": True,
            "auto_answered": self._config.auto_answer_reinvite})]
        if self._config.auto_answer_reinvite:
            actions += self.respond(now, call.call_id, 200)
        return actions

    # ------------------------------------------------------------ respond

    def respond(self, now: float, call_id: str, code: int, *, reliable: bool = False,
                sdp: bytes | str | None = None, reason: str | None = None,
                headers: tuple[tuple[str, str], ...] = ()) -> list[Action]:
        """Answer the pending incoming INVITE of ``call_id`` with ``code`` (see module doc)."""
        call = self.calls.get(call_id)
        uas = call.uas if call is not None else None
        if uas is None:
            return self._app_error(call_id, "no incoming INVITE to respond to")
        if uas.final is not None or uas.withheld is not None:
            return self._app_error(call_id, f"INVITE already answered {uas.final.status if uas.final else 'withheld'}")
        if not 100 <= code <= 699:
            return self._app_error(call_id, f"bad status code {code}")
        body = b"" if sdp is None else _body(sdp)
        if code == 100:
            return self._respond_tx(now, uas.tx, self._make_response(uas.request, 100, None, reason))
        if code < 200:
            return self._send_provisional(now, call, uas, code, reliable, body, reason)
        if code < 300:
            return self._send_2xx(now, call, uas, code, body, reason)
        return self._send_failure(now, call, uas, code, reason, outcome="rejected", by="local", headers=headers)

    def _ensure_uas_dialog(self, call: _Call, uas: _UasInvite) -> Dialog:
        """The UAS dialog of the initial INVITE, created on the first 1xx/2xx with a To tag (§12.1.1)."""
        if uas.dialog is None:
            dialog = Dialog.from_uas(uas.request, uas.to_tag, states=self.layer.states)
            call.dialogs[dialog.remote_tag] = dialog
            uas.dialog = dialog
        return uas.dialog

    def _invite_answer(self, call: _Call, uas: _UasInvite, code: int, body: bytes, reason: str | None) -> "Response":
        """A 101-299 for the INVITE, with our Contact (it may create a dialog) and Record-Route."""
        response = self._make_response(uas.request, code, uas.to_tag, reason)
        _copy_record_route(uas.request, response)
        response.headers.add("Contact", self._contact(call))
        if body:
            response.headers.add("Content-Type", SDP)
            response.body = body
        return response

    def _send_provisional(self, now: float, call: _Call, uas: _UasInvite, code: int, reliable: bool,
                          body: bytes, reason: str | None) -> list[Action]:
        """§13.3.1.1 / RFC 3262 §3: send a 101-199, reliably when asked and allowed (or required)."""
        request = uas.request
        require = _has_100rel(request.require)
        supports = require or _has_100rel(request.supported)
        # RFC 3262 §3: Require -> every non-100 provisional reliable; neither -> never.
        reliable = self._config.supports_100rel and (require or (reliable and supports))
        actions: list[Action] = []
        dialog = self._ensure_uas_dialog(call, uas)
        if not uas.reinvite:
            actions += dialog.feed(DialogEvent.PROVISIONAL)
        response = self._invite_answer(call, uas, code, body, reason)
        if not reliable:
            if body:
                uas.early_sdp = body
            return actions + self._respond_tx(now, uas.tx, response)
        response.headers.add("Require", "100rel")
        uas.reliable_count += 1
        rel = _Reliable1xx(response, call.call_id, uas.reliable_count, has_sdp=bool(response.body),
                           states=self.layer.states)
        if uas.unacked is not None:
            # RFC 3262 §3: no second reliable 1xx before the first is PRACKed; queue it.
            uas.queue.append(rel)
            return actions
        return actions + self._send_reliable(now, call, uas, rel)

    def _send_reliable(self, now: float, call: _Call, uas: _UasInvite, rel: _Reliable1xx) -> list[Action]:
        """Number (RSeq), send and start retransmitting a reliable provisional (RFC 3262 §3)."""
        if uas.rseq_next is None:
            uas.rseq_next = self.rng.randint(1, RSEQ_MAX_START)
        rseq = rel.rseq = uas.rseq_next
        uas.rseq_next += 1
        response = rel.response
        if not rel.has_sdp and not uas.offer_in_request and not uas.answer_sent and self._config.answer_sdp:
            # RFC 3261 §13.2.1, RFC 3262 §5: an INVITE without offer gets it in the first reliable
            # non-failure response, so this 1xx carries it (the answer comes in the PRACK), not the 2xx.
            response.headers.add("Content-Type", SDP)
            response.body = self._sdp(call)
            rel.has_sdp = True
        response.headers.add("RSeq", str(rseq))  # built in _send_provisional without one: add == set
        if rel.has_sdp:
            uas.answer_sent = True
        uas.unacked = rel
        rel.interval = self.timers.first_reliable_1xx_retransmit()
        rel.sends = 1
        actions: list[Action] = rel.feed(Rel1xxEvent.SEND)
        actions += self._respond_tx(now, uas.tx, response)
        cid = call.call_id
        actions.append(self._start_timer(f"{cid}/1xx-rel/{rseq}", rel.interval, "1xx-rel", cid,
                                         self._retransmit_reliable, call, uas, rel))
        actions.append(self._start_timer(f"{cid}/prack-wait/{rseq}", self.timers.prack_wait, "prack-wait", cid,
                                         self._prack_timeout, call, uas, rel))
        return actions

    def _retransmit_reliable(self, now: float, call: _Call, uas: _UasInvite, rel: _Reliable1xx) -> list[Action]:
        """RFC 3262 §3: resend the reliable 1xx; the interval doubles with no T2 cap."""
        if uas.unacked is not rel or not rel.retransmitting or uas.final is not None:
            return []
        actions: list[Action] = rel.feed(Rel1xxEvent.TIMER)
        actions += self._respond_tx(now, uas.tx, rel.response, timer="1xx-rel")
        rel.sends += 1
        rel.interval = self.timers.next_reliable_1xx_retransmit(rel.interval)
        cid = call.call_id
        actions.append(self._start_timer(f"{cid}/1xx-rel/{rel.rseq}", rel.interval, "1xx-rel", cid,
                                         self._retransmit_reliable, call, uas, rel))
        return actions

    def _prack_timeout(self, now: float, call: _Call, uas: _UasInvite, rel: _Reliable1xx) -> list[Action]:
        """RFC 3262 §3: no PRACK within 64*T1 -> reject the INVITE with a 5xx."""
        if uas.unacked is not rel or uas.final is not None:
            return []
        actions = self._cancel_timer(f"{call.call_id}/1xx-rel/{rel.rseq}")
        actions += rel.feed(Rel1xxEvent.PRACK_WAIT)
        uas.reliability_failed = True
        uas.withheld = None
        actions.append(AppEvent("reliability-failure", call.call_id, rel.response, {"rseq": rel.rseq, "code": 500}))
        return actions + self._send_failure(now, call, uas, 500, RELIABILITY_FAILURE_REASON,
                                            outcome="reliability_failure", by="local")

    def _stop_reliable(self, call: _Call, uas: _UasInvite) -> list[Action]:
        """RFC 3262 §3: after a final, stop retransmitting (PRACKs are still answered)."""
        actions: list[Action] = []
        if uas.unacked is not None:
            actions += uas.unacked.feed(Rel1xxEvent.FINAL)
            actions += self._cancel_timer(f"{call.call_id}/1xx-rel/{uas.unacked.rseq}")
            actions += self._cancel_timer(f"{call.call_id}/prack-wait/{uas.unacked.rseq}")
        for queued in uas.queue:  # §3: no new reliable provisionals after the final
            actions += queued.feed(Rel1xxEvent.FINAL)
        uas.queue.clear()
        return actions

    def _send_2xx(self, now: float, call: _Call, uas: _UasInvite, code: int, body: bytes,
                  reason: str | None) -> list[Action]:
        """§13.3.1.4: send the 2xx and retransmit it (T1 doubling, cap T2) until the ACK."""
        if not body and not uas.answer_sent and self._config.answer_sdp:
            # RFC 3261 §13.2.1: the 2xx carries the answer (or our offer when the INVITE had
            # none) unless a reliable 1xx already did; an unreliable 1xx may only have shown
            # "that same exact answer", so the 2xx repeats its body.
            body = uas.early_sdp or self._sdp(call)
        response = self._invite_answer(call, uas, code, body, reason)
        if uas.unacked is not None and uas.unacked.has_sdp:
            # RFC 3262 §3: no 2xx while a reliable 1xx with SDP awaits its PRACK.
            uas.withheld = response
            return []
        return self._release_2xx(now, call, uas, response)

    def _release_2xx(self, now: float, call: _Call, uas: _UasInvite, response: "Response") -> list[Action]:
        """Actually send a 2xx to INVITE and arm its retransmission."""
        uas.withheld = None
        uas.final = response
        actions = self._stop_reliable(call, uas) if uas.unacked is not None or uas.queue else []
        dialog = self._ensure_uas_dialog(call, uas)
        if not uas.reinvite:
            actions += dialog.feed(DialogEvent.SUCCESS)
            call.outcome = "answered"
            call.final_code = response.status
        uas.ok_sends = 1
        uas.ok_interval = self.timers.first_2xx_retransmit()
        actions += self._respond_tx(now, uas.tx, response)
        cid, seq = call.call_id, uas.request.cseq.seq
        actions.append(self._start_timer(f"{cid}/2xx/{seq}", uas.ok_interval, "2xx", cid,
                                         self._retransmit_2xx, call, uas))
        actions.append(self._start_timer(f"{cid}/ack-wait/{seq}", self.timers.ack_wait_2xx, "ack-wait", cid,
                                         self._ack_timeout, call, uas))
        return actions

    def _retransmit_2xx(self, now: float, call: _Call, uas: _UasInvite) -> list[Action]:
        """§13.3.1.4: resend the 2xx, interval doubling up to T2."""
        if uas.acked:
            return []
        if uas.tx.terminated:
            # After Timer L the transaction is gone; the core still owns the 2xx.
            actions: list[Action] = [SendMessage(uas.final, uas.tx.peer, retransmission=uas.ok_sends, timer="2xx")]
        else:
            actions = self._respond_tx(now, uas.tx, uas.final, timer="2xx")
        uas.ok_sends += 1
        uas.ok_interval = self.timers.next_2xx_retransmit(uas.ok_interval)
        cid, seq = call.call_id, uas.request.cseq.seq
        actions.append(self._start_timer(f"{cid}/2xx/{seq}", uas.ok_interval, "2xx", cid,
                                         self._retransmit_2xx, call, uas))
        return actions

    def _ack_timeout(self, now: float, call: _Call, uas: _UasInvite) -> list[Action]:
        """§13.3.1.4: no ACK within 64*T1: stop, consider the dialog confirmed, end it with BYE."""
        if uas.acked:
            return []
        actions = self._cancel_timer(f"{call.call_id}/2xx/{uas.request.cseq.seq}")
        dialog = uas.dialog
        if dialog is not None:
            actions += dialog.feed(DialogEvent.ACK)
            if self._config.bye_on_ack_timeout or call.bye_after_ack:
                call.bye_after_ack = False
                actions += self._send_bye(now, call, dialog, reason="no ACK for 2xx (§13.3.1.4)")
        return actions

    def _send_failure(self, now: float, call: _Call, uas: _UasInvite, code: int, reason: str | None,
                      outcome: str, by: str | None, headers: tuple[tuple[str, str], ...] = ()) -> list[Action]:
        """Send a 3xx-6xx to the INVITE (the transaction retransmits it on Timer G)."""
        response = self._make_response(uas.request, code, uas.to_tag, reason)
        for name, value in headers:
            response.headers.add(name, value)
        uas.final = response
        actions = self._stop_reliable(call, uas)
        actions += self._respond_tx(now, uas.tx, response)
        if uas.reinvite:
            return actions
        if uas.dialog is not None:
            actions += uas.dialog.feed(DialogEvent.FAILURE)
        call.outcome, call.final_code = outcome, code
        return actions + self._end_call(call, outcome, code, by, f"{code} sent")

    # ----------------------------------------------------------- ACK in

    def _on_ack(self, now: float, ev: TUEvent) -> list[Action]:
        """An ACK for a 2xx (passed up by the Accepted INVITE server transaction or matching none)."""
        request = ev.message
        call = self.calls.get(request.call_id)
        try:
            seq = request.cseq.seq
        except Exception:
            return [AppEvent("discarded", request.call_id, request, {"reason": "unparseable ACK"})]
        uas = call.uas_by_cseq.get(seq) if call is not None else None
        if uas is None or uas.final is None or uas.final.status >= 300:
            return [AppEvent("discarded", _safe_call_id(request), request, {"reason": "ACK matches no 2xx"})]
        if uas.acked:
            return []  # an ACK retransmission (or the transaction's copy)
        uas.acked = True
        actions = self._cancel_timer(f"{call.call_id}/2xx/{seq}")
        actions += self._cancel_timer(f"{call.call_id}/ack-wait/{seq}")
        if uas.dialog is not None:
            actions += uas.dialog.feed(DialogEvent.ACK)
        actions.append(AppEvent("request", call.call_id, request, {
            "method": "ACK", "cseq": seq, "in_dialog": True, "reinvite": uas.reinvite}))
        if call.bye_after_ack and uas.dialog is not None:
            call.bye_after_ack = False
            actions += self._send_bye(now, call, uas.dialog, reason="hangup before ACK")
        return actions

    # ----------------------------------------------------------- CANCEL in

    def _on_cancel(self, now: float, tx: ServerTransaction, request: "Request") -> list[Action]:
        """§9.2: 200 to the CANCEL; 487 to the INVITE if it has no final response yet."""
        invite_tx = self.layer.find_invite_for_cancel(request)
        call = self.calls.get(request.call_id)
        uas = None
        if call is not None and invite_tx is not None:
            uas = next((u for u in call.uas_by_cseq.values() if u.tx is invite_tx), None)
        if uas is None:
            final = invite_tx.final if invite_tx is not None else None
            if final is not None:
                # An INVITE the core answered itself (a §8.2 check, 482): the CANCEL changes nothing, but
                # it matched a transaction, so 200 with the To tag of that answer.
                return self._respond_tx(now, tx, self._make_response(request, 200, final.to.tag))
            return self._respond_tx(now, tx, self._make_response(request, 481, self._to_tag_for(request)))
        actions = self._respond_tx(now, tx, self._make_response(request, 200, uas.to_tag))
        actions.append(AppEvent("request", call.call_id, request, {
            "method": "CANCEL", "cseq": request.cseq.seq, "in_dialog": False, "reinvite": uas.reinvite}))
        if uas.final is None:
            uas.cancelled = True
            uas.withheld = None
            actions += self._send_failure(now, call, uas, 487, None, outcome="cancelled", by="remote")
        return actions

    # ------------------------------------------------------------- BYE in

    def _on_bye(self, now: float, tx: ServerTransaction, request: "Request") -> list[Action]:
        """§15.1.2: 200 to a BYE in a dialog (481 outside one); the session ends."""
        call, dialog = self._find_dialog(request)
        if dialog is None or dialog.state is DialogState.MORGUE:
            return self._respond_tx(now, tx, self._make_response(request, 481, self._to_tag_for(request)))
        if not dialog.accept_remote_seq(request):
            return self._respond_tx(now, tx, self._make_response(request, 500, None))
        was_confirmed = dialog.confirmed
        # §13.2.2.4: the 2xx is ACKed even so
        actions = self._send_held_ack(now, call) if call.held_ack is not None else []
        actions += dialog.feed(DialogEvent.BYE)
        event = AppEvent("request", call.call_id, request, {
            "method": "BYE", "cseq": request.cseq.seq, "in_dialog": True, "reinvite": False})
        if self._config.hold_bye_answer and call.held_bye is None:
            # RFC 3665 §3.5 F14-F17: the B2BUA answers once its peer leg's BYE is answered (answer_bye).
            call.held_bye = (tx, request, dialog, was_confirmed)
            return actions + [event]
        return actions + self._answer_bye(now, call, tx, request, dialog, was_confirmed, event)

    def _answer_bye(self, now: float, call: _Call, tx: ServerTransaction, request: "Request", dialog: Dialog,
                    was_confirmed: bool, event: AppEvent | None) -> list[Action]:
        """§15.1.2: 200 to the BYE, dialog Morgue, a pending INVITE 487, the call over."""
        actions = self._respond_tx(now, tx, self._make_response(request, 200, None))
        actions += dialog.feed(DialogEvent.BYE_DONE)
        if event is not None:
            actions.append(event)
        uas = call.uas
        if uas is not None and uas.final is None:
            # §15.1.2: "The UAS MUST still respond to any pending requests received for that dialog":
            # answer the pending INVITE, initial or re-INVITE, 487 (the application can no longer).
            uas.withheld = None
            actions += self._send_failure(now, call, uas, 487, None, outcome="cancelled", by="remote")
        actions += self._stop_call_timers(call)
        if call.outcome is not None or was_confirmed:
            outcome = call.outcome or "answered"
        else:
            # An early dialog ended by the callee's BYE before any final response (RFC 5407 App. A).
            outcome = "cancelled" if call.uac is not None and call.uac.cancel_sent else "rejected"
            uac = call.uac
            if uac is not None and uac.final_code is None and not uac.cancel_sent and not uac.reinvite:
                # The INVITE may never get its final now: give it 64*T1, then destroy it (as §9.1).
                cid = call.call_id
                actions.append(self._start_timer(f"{cid}/cancel-wait", self.timers.cancel_wait, "cancel-wait",
                                                 cid, self._abandon_invite, uac))
        return actions + self._end_call(call, outcome, call.final_code, "remote", "BYE received")

    def answer_bye(self, now: float, call_id: str) -> list[Action]:
        """Answer the BYE held by ``hold_bye_answer`` with 200 (RFC 3665 §3.5 F17)."""
        call = self.calls.get(call_id)
        if call is None or call.held_bye is None:
            return self._app_error(call_id, "no BYE awaiting an answer")
        held, call.held_bye = call.held_bye, None
        return self._answer_bye(now, call, *held, None)

    def _stop_call_timers(self, call: _Call) -> list[Action]:
        """Cancel the core timers of a call that ended."""
        actions: list[Action] = []
        prefix = f"{call.call_id}/"
        for name in [n for n in self._core_timers if n.startswith(prefix)]:
            if "/ack-wait/" in name or "/invite-complete" in name or "/cancel-wait" in name:
                continue  # these still clean up after the BYE
            if "/2xx/" in name:
                # §13.3.1.4: the 2xx is retransmitted until its ACK (or ack-wait), BYE or not: a 2xx lost
                # as it crossed the BYE would leave the peer's INVITE without a final (RFC 5407 §3.1.3, §3.2.3).
                continue
            actions += self._cancel_timer(name)
        return actions

    # ------------------------------------------------------------ PRACK in

    def _on_prack(self, now: float, tx: ServerTransaction, request: "Request") -> list[Action]:
        """RFC 3262 §3: 200 for a PRACK matching the unacknowledged reliable 1xx, else 481 (500 out of order)."""
        call, dialog = self._find_dialog(request)
        rack = None
        try:
            rack = request.rack
        except Exception:
            rack = None
        uas = call.uas if call is not None else None
        rel = uas.unacked if uas is not None else None
        if (dialog is None or rack is None or uas is None or rel is None or rack.rseq != rel.rseq
                or rack.cseq != (invite_cseq := uas.request.cseq).seq or rack.method != invite_cseq.method):
            return self._respond_tx(now, tx, self._make_response(request, 481, self._to_tag_for(request)))
        if not dialog.accept_remote_seq(request):
            # §12.2.2: out of order -> 500; the 1xx stays unacknowledged (a later PRACK can still ack it).
            return self._respond_tx(now, tx, self._make_response(request, 500, None))
        uas.unacked = None
        cid = call.call_id
        actions: list[Action] = rel.feed(Rel1xxEvent.PRACK)
        actions += self._cancel_timer(f"{cid}/1xx-rel/{rel.rseq}") + self._cancel_timer(f"{cid}/prack-wait/{rel.rseq}")
        response = self._make_response(request, 200, None)
        if request.body and (not rel.has_sdp or uas.offer_in_request):
            # RFC 3262 §5: an offer in the PRACK is answered in its 2xx. A body is an answer only when
            # the 1xx carried our offer (offerless INVITE); after a 1xx with the answer it is a new offer.
            response.headers.add("Content-Type", SDP)
            response.body = self._sdp(call)
        actions += self._respond_tx(now, tx, response)
        actions.append(AppEvent("request", cid, request, {
            "method": "PRACK", "cseq": request.cseq.seq, "in_dialog": True, "reinvite": False, "rseq": rel.rseq}))
        if uas.final is None:
            if uas.queue:
                actions += self._send_reliable(now, call, uas, uas.queue.pop(0))
            elif uas.withheld is not None:
                actions += self._release_2xx(now, call, uas, uas.withheld)
        return actions

    # ---------------------------------------------------------- OPTIONS in

    def _on_options(self, now: float, tx: ServerTransaction, request: "Request") -> list[Action]:
        """§11.2: answer OPTIONS 200 with Allow, Accept and Supported."""
        response = self._make_response(request, 200, self._to_tag_for(request))
        response.headers.add("Allow", ALLOW)
        response.headers.add("Accept", SDP)
        if self._config.supports_100rel:
            response.headers.add("Supported", "100rel")
        response.headers.add("Contact", self._contact())
        actions = self._respond_tx(now, tx, response)
        in_dialog = bool(request.to.tag)
        actions.append(AppEvent("request", request.call_id, request, {
            "method": "OPTIONS", "cseq": request.cseq.seq, "in_dialog": in_dialog, "reinvite": False,
            "auto_answered": True}))
        return actions

    # ------------------------------------------------------------ responses in

    def _uac_of(self, tx: ClientTransaction) -> tuple[_Call, _UacInvite] | None:
        """The call and INVITE that ``tx`` is the current transaction of (None once replaced or gone)."""
        call = self.calls.get(tx.call_id)
        if call is None:
            return None
        uac = call.uac_by_cseq.get(tx.request.cseq.seq)
        return (call, uac) if uac is not None and uac.tx is tx else None

    def _on_response(self, now: float, ev: TUEvent) -> list[Action]:
        """A response passed up by one of our client transactions."""
        tx = ev.transaction
        response = ev.message
        if tx.request.method == "INVITE":
            # §13.2.2: 1xx, 2xx and 3xx-6xx to our INVITE (initial or re-INVITE).
            found = self._uac_of(tx)
            if found is None:
                return []
            call, uac = found
            code = response.status
            to_tag = response.to.tag
            if code < 200:
                return self._on_invite_provisional(now, call, uac, response, to_tag)
            if code < 300:
                return self._on_invite_2xx(now, call, uac, response, to_tag)
            return self._on_invite_failure(now, call, uac, response, to_tag)
        role = self._roles.get(tx.id)
        if role is None:
            return []
        return self._on_non_invite_response(now, tx, role, response)

    def _on_invite_failure(self, now: float, call: _Call, uac: _UacInvite, response: "Response",
                           to_tag: str | None) -> list[Action]:
        """§13.2.2.3: a 3xx-6xx to our INVITE (the transaction ACKs it); ``to_tag`` is its To tag."""
        code = response.status
        cid = call.call_id
        actions: list[Action] = []
        first_final = uac.final_code is None
        uac.final_code = code
        if code in (401, 407) and self._can_authenticate(response, uac.auth_tries, uac.request) and not uac.reinvite:
            actions.append(AppEvent("response", cid, response, {
                "method": "INVITE", "code": code, "reason": response.reason, "to_tag": to_tag, "reliable": False,
                "rseq": None, "reinvite": uac.reinvite, "fork": False, "auth_retry": True}))
            return actions + self._resend_invite(now, call, uac, response=response)
        if 300 <= code < 400 and not uac.reinvite and uac.redirects < MAX_REDIRECTS:
            targets = self._target_set(call, uac, response)
            if targets:
                # RFC 3261 §8.1.3.4: recurse on the target set, highest q first: a new INVITE to it,
                # same Call-ID, CSeq + 1; the rest are tried in turn if it fails.
                actions.append(AppEvent("response", cid, response, {
                    "method": "INVITE", "code": code, "reason": response.reason, "to_tag": to_tag,
                    "reliable": False, "rseq": None, "reinvite": False, "fork": False, "auth_retry": False,
                    "redirect": True}))
                return actions + self._resend_invite(now, call, uac, targets=targets)
        if 400 <= code < 600 and self._tries_next_target(uac):
            # §8.1.3.4: a failure (> 399; a 6xx is definitive for the user, §21.6) moves to the next address.
            actions.append(AppEvent("response", cid, response, {
                "method": "INVITE", "code": code, "reason": response.reason, "to_tag": to_tag, "reliable": False,
                "rseq": None, "reinvite": False, "fork": False, "auth_retry": False, "next_target": True}))
            return actions + self._resend_invite(now, call, uac, targets=uac.targets)
        actions.append(AppEvent("response", cid, response, {
            "method": "INVITE", "code": code, "reason": response.reason, "to_tag": to_tag, "reliable": False,
            "rseq": None, "reinvite": uac.reinvite, "fork": False, "auth_retry": False}))
        if uac.reinvite:
            if code == 491:
                actions += self._schedule_491_retry(now, call, uac)
            elif code in (408, 481):
                # §14.1: 481 or 408 to a re-INVITE ends the dialog with BYE.
                dialog = call.dialogs.get(to_tag or "")
                if dialog is not None and dialog.confirmed:
                    actions += self._send_bye(now, call, dialog, reason=f"{code} to re-INVITE")
            return actions
        if not first_final:
            return actions
        actions += self._cancel_timer(f"{cid}/cancel-wait")
        for dialog in call.dialogs.values():
            if dialog.early:
                actions += dialog.feed(DialogEvent.FAILURE)
        # Same precedence as simsip.metrics.measures: reliability failure, CANCEL sent,
        # 408 (a timeout somewhere on the path, §8.1.3.1), other rejection.
        if 500 <= code < 600 and response.reason == RELIABILITY_FAILURE_REASON:
            outcome = "reliability_failure"
        elif uac.cancel_sent:
            outcome = "cancelled"
        elif code == 408:
            outcome = "timeout"
        else:
            outcome = "rejected"
        call.outcome, call.final_code = outcome, code
        return actions + self._end_call(call, outcome, code, "remote", f"{code} received")

    def _target_set(self, call: _Call, uac: _UacInvite, response: "Response") -> tuple["URI", ...]:
        """§8.1.3.4: the 3xx's Contacts by q (highest first, absent = 1), then the untried rest of the set.

        A URI already in the call's target set (the Request-URI the first 3xx answered included) is not added
        again (§8.1.3.4 "MUST NOT add any given URI to the target set more than once"), so a 3xx
        pointing back at a target already tried ends the recursion.
        """
        seen = call.redirect_targets
        if seen is None:
            seen = call.redirect_targets = {str(uac.request.uri)}  # the URI this first 3xx answered
        ranked = []
        for order, contact in enumerate(response.contacts):
            key = str(contact.uri)
            if key in seen:
                continue
            seen.add(key)
            try:
                q = float(contact.params.get("q") or 1.0)
            except ValueError:
                q = 0.0
            ranked.append((-q, order, contact.uri))
        return tuple(uri for _, _, uri in sorted(ranked)) + uac.targets

    def _tries_next_target(self, uac: _UacInvite) -> bool:
        """§8.1.3.4: this initial INVITE failed and an address of an earlier 3xx is left to try."""
        return bool(uac.targets) and not uac.reinvite and not uac.cancel_sent and not uac.cancel_wanted

    def _on_invite_provisional(self, now: float, call: _Call, uac: _UacInvite, response: "Response",
                               to_tag: str | None) -> list[Action]:
        """§13.2.2.1 and RFC 3262 §4: early dialogs, PRACK, deferred CANCEL (``to_tag``: the 1xx's To tag)."""
        cid = call.call_id
        code = response.status
        actions: list[Action] = []
        reliable = code > 100 and _has_100rel(response.require)
        rseq = response.rseq if reliable else None
        if reliable and rseq is None:
            reliable = False  # Require: 100rel without RSeq cannot be PRACKed
        # RFC 3262 §4: we PRACK when this INVITE offered 100rel: always when we support it, and
        # when the call alone offered or required it (invite() then put Supported in, see there).
        pracks = reliable and (self._config.supports_100rel or _has_100rel(uac.request.supported))
        dialog = None
        if to_tag and code > 100:
            dialog = call.dialogs.get(to_tag)
            if dialog is None and uac.final_code is None and not uac.reinvite:
                dialog = Dialog.from_uac(uac.request, response, states=self.layer.states)
                if dialog.remote_target is None:
                    return actions + [AppEvent("discarded", cid, response, {"reason": NO_CONTACT_REASON})]
                call.dialogs[to_tag] = dialog
                actions += dialog.feed(DialogEvent.PROVISIONAL)
        if pracks and dialog is not None:
            seq = uac.request.cseq.seq
            if dialog.last_rseq_cseq != seq:
                dialog.last_rseq, dialog.last_rseq_cseq = None, seq
            if dialog.last_rseq is not None and rseq <= dialog.last_rseq:
                # RFC 3262 §4: a retransmission (same RSeq): discard, do not PRACK again.
                return actions + [AppEvent("discarded", cid, response, {"reason": "reliable 1xx retransmission"})]
            if dialog.last_rseq is not None and rseq != dialog.last_rseq + 1:
                # RFC 3262 §4: out of order: neither PRACK nor process it.
                return actions + [AppEvent("discarded", cid, response, {"reason": "reliable 1xx out of order"})]
            dialog.last_rseq = rseq
        if not uac.provisional:
            uac.provisional = True
        actions.append(AppEvent("response", cid, response, {
            "method": "INVITE", "code": code, "reason": response.reason, "to_tag": to_tag, "reliable": reliable,
            "rseq": rseq, "reinvite": uac.reinvite, "fork": False, "auth_retry": False}))
        if pracks and dialog is not None:
            dialog.pending_prack = response
            if self._config.auto_prack:
                actions += self._send_prack(now, call, dialog, response)
        if uac.cancel_wanted and not uac.cancel_sent and uac.final_code is None:
            actions += self._send_cancel(now, call, uac)
        return actions

    def _on_invite_2xx(self, now: float, call: _Call, uac: _UacInvite, response: "Response",
                       to_tag: str | None) -> list[Action]:
        """§13.2.2.4: ACK every 2xx (again for each retransmission); extra fork branches get BYE.

        ``to_tag`` is the 2xx's To tag.
        """
        cid = call.call_id
        to_tag = to_tag or ""
        dialog = call.dialogs.get(to_tag)
        seq = uac.request.cseq.seq
        if dialog is not None and seq in dialog.acks:
            # A 2xx retransmission: resend the same ACK, do not bother the application.
            entry = dialog.acks[seq]
            if entry[1] == 0:
                return []  # the ACK is held for the peer leg (hold_2xx_ack) and goes out once
            message = SendMessage(entry[0], self._dialog_destination(dialog), retransmission=entry[1])
            entry[1] += 1
            return [message]
        created = dialog is None and not uac.reinvite
        if created:
            # §13.2.2.4: a 2xx of no dialog yet constructs one (§12.1.2); first, so that one the
            # UAC discards (no Contact) leaves the INVITE waiting for its final response.
            dialog = Dialog.from_uac(uac.request, response, states=self.layer.states)
            if dialog.remote_target is None:
                return [AppEvent("discarded", cid, response, {"reason": NO_CONTACT_REASON})]
            call.dialogs[to_tag] = dialog
        actions: list[Action] = []
        first_final = uac.final_code is None
        if first_final:
            uac.final_code = response.status
        fork = False
        if uac.reinvite:
            if dialog is None:
                return [AppEvent("discarded", cid, response, {"reason": "2xx to re-INVITE for unknown dialog"})]
            dialog.refresh_target(response)
        else:
            if not created:
                dialog.refresh_from_2xx(response)
            actions += dialog.feed(DialogEvent.SUCCESS)
            fork = uac.first_2xx_tag is not None and uac.first_2xx_tag != to_tag
            if uac.first_2xx_tag is None:
                uac.first_2xx_tag = to_tag
                actions += self._cancel_timer(f"{cid}/cancel-wait")
                actions.append(self._start_timer(f"{cid}/invite-complete", self.timers.timer_m, "invite-complete",
                                                 cid, self._invite_complete, call))
        # Build and send the ACK (§13.2.2.4): new branch, CSeq number of the INVITE.
        body = b""
        if response.body and not uac.sdp:
            body = self._sdp(call)  # the 2xx carried the offer: answer in the ACK
        via, via_parsed = self._new_via()
        ack = dialog.build_request("ACK", via, cseq=seq, body=body, via_parsed=via_parsed)
        destination = self._dialog_destination(dialog)
        if destination.transport is not self.transport:
            _stamp_transport(ack, destination)
        if uac.auth_tries:  # only an INVITE answering a challenge carries credentials (§22.2)
            for name in ("Authorization", "Proxy-Authorization"):
                for value in uac.request.headers.get_all(name):
                    ack.headers.add(name, value)
        if self._config.hold_2xx_ack and not uac.reinvite and not fork and first_final:
            # RFC 3665 §3.5: a B2BUA sends this ACK when its peer leg's ACK arrives (ack()).
            dialog.acks[seq] = [ack, 0]
            call.held_ack = (dialog, seq)
            actions.append(self._start_timer(f"{cid}/ack-hold", self.timers.ack_relay_wait, "ack-hold", cid,
                                             self._send_held_ack, call))
        else:
            dialog.acks[seq] = [ack, 1]
            actions.append(SendMessage(ack, destination))
            if not uac.reinvite:
                actions += dialog.feed(DialogEvent.ACK)
        actions.append(AppEvent("response", cid, response, {
            "method": "INVITE", "code": response.status, "reason": response.reason, "to_tag": to_tag,
            "reliable": False, "rseq": None, "reinvite": uac.reinvite, "fork": fork, "auth_retry": False}))
        if uac.reinvite:
            return actions
        if first_final:
            call.outcome, call.final_code = "answered", response.status
        if fork and self._config.bye_forked_2xx:
            actions += self._send_bye(now, call, dialog, reason="second 2xx from a forked INVITE")
        elif uac.cancel_wanted or call.bye_after_ack:
            # §9.1: the 2xx crossed our CANCEL (or we hung up): ACK, then BYE.
            call.bye_after_ack = False
            actions += self._send_bye(now, call, dialog, reason="hangup crossed the 2xx")
        return actions

    def _send_held_ack(self, now: float, call: _Call) -> list[Action]:
        """Send the ACK held by ``hold_2xx_ack`` (asked for, its ack-hold time is up, or a BYE follows)."""
        if call.held_ack is None:
            return []
        dialog, seq = call.held_ack
        call.held_ack = None
        actions = self._cancel_timer(f"{call.call_id}/ack-hold")
        entry = dialog.acks[seq]
        entry[1] = 1
        actions.append(SendMessage(entry[0], self._dialog_destination(dialog)))
        return actions + dialog.feed(DialogEvent.ACK)

    def _invite_complete(self, now: float, call: _Call) -> list[Action]:
        """§13.2.2.4: 64*T1 after the first 2xx, early dialogs still waiting end."""
        actions: list[Action] = []
        for dialog in call.dialogs.values():
            if dialog.early:
                actions += dialog.feed(DialogEvent.ABANDON)
        return actions

    def _dialog_destination(self, dialog: Dialog) -> Address:
        """Where requests of ``dialog`` go (§12.2.1.1, §8.1.2)."""
        return self._resolve(dialog.next_hop())

    # ------------------------------------------------------ non-INVITE responses

    def _on_non_invite_response(self, now: float, tx: ClientTransaction, role: _ClientRole,
                                response: "Response") -> list[Action]:
        """Responses to BYE, CANCEL, PRACK, OPTIONS, REGISTER."""
        code = response.status
        if role.method == "REGISTER" and code in (401, 407):
            # register() made the entry and counts the CSeqs as it sends; a challenge is kept for the next.
            self._registrations[str(tx.request.uri)].challenge = response
        call = self.calls.get(role.call_id)
        actions: list[Action] = []
        auth = (code in (401, 407) and role.method in ("BYE", "OPTIONS", "REGISTER")
                and self._can_authenticate(response, role.auth_tries))
        longer = self._longer_register(tx.request, response) if code == 423 and role.method == "REGISTER" else None
        detail = {"method": role.method, "code": code, "reason": response.reason, "to_tag": response.to.tag,
                  "reliable": False, "rseq": None, "reinvite": False, "fork": False, "auth_retry": auth}
        if longer is not None:
            detail["interval_retry"] = True
        actions.append(AppEvent("response", role.call_id, response, detail))
        if auth:
            return actions + self._resend_with_auth(now, tx, role, response)
        if longer is not None:
            return actions + self._resend_register(now, tx, role, longer)
        if code >= 200 and role.method == "BYE" and role.dialog is not None:
            actions += self._bye_done(call, role.dialog)
        if code >= 200 and role.method == "REGISTER":
            actions += self._register_done(now, tx.request)
        return actions

    def _bye_done(self, call: _Call | None, dialog: Dialog) -> list[Action]:
        """Our BYE transaction ended (answered or timed out): dialog Morgue, call over."""
        actions = dialog.feed(DialogEvent.BYE_DONE)
        if call is not None:
            for other in call.dialogs.values():
                if other.alive:
                    break
            else:
                actions += self._end_call(call, call.outcome or "answered", call.final_code, "local", "BYE sent")
        return actions

    def _on_tx_failure(self, now: float, ev: TUEvent) -> list[Action]:
        """Timer B/F/H or a transport error (§8.1.3.1: timeout = 408, transport error = 503)."""
        tx, kind, timer = ev.transaction, ev.kind, ev.timer
        if isinstance(tx, ServerTransaction):
            # Timer H: the ACK for our 3xx-6xx never came; nothing more to do.
            return []
        code = 408 if kind == "timeout" else 503
        if tx.method == "INVITE":
            found = self._uac_of(tx)
            if found is None:
                return []
            call, uac = found
            uac.final_code = code
            if (not uac.reinvite and kind == "timeout" and not uac.provisional
                    and uac.outbound_index + 1 < len(self._config.outbound)):
                # RFC 3665 §3.4 / RFC 3263 §4.3: try the next outbound proxy.
                actions = [AppEvent("timeout", call.call_id, tx.request, {
                    "method": "INVITE", "timer": timer, "failover": True})]
                return actions + self._resend_invite(now, call, uac, next_outbound=True)
            if self._tries_next_target(uac):
                # §8.1.3.4: a timeout or transport error is a failure too: the next address of the 3xx.
                actions = [AppEvent("timeout", call.call_id, tx.request, {
                    "method": "INVITE", "timer": timer, "failover": True})]
                return actions + self._resend_invite(now, call, uac, targets=uac.targets)
            actions = [AppEvent("timeout", call.call_id, tx.request, {
                "method": "INVITE", "timer": timer, "failover": False})]
            if uac.reinvite:
                dialog = call.dialogs.get(tx.request.to.tag or "")
                if dialog is not None and dialog.confirmed:
                    actions += self._send_bye(now, call, dialog, reason="re-INVITE timed out (§14.1)")
                return actions
            for dialog in call.dialogs.values():
                if dialog.early:
                    actions += dialog.feed(DialogEvent.FAILURE)
            outcome = "rejected" if kind != "timeout" else "cancelled" if uac.cancel_sent else "timeout"
            call.outcome, call.final_code = outcome, code
            return actions + self._end_call(call, outcome, code, None, f"Timer {timer}" if timer else kind)
        role = self._roles.get(tx.id)
        if role is None:
            return []
        actions = [AppEvent("timeout", role.call_id, tx.request, {
            "method": role.method, "timer": timer, "failover": False})]
        if role.method == "BYE" and role.dialog is not None:
            actions += self._bye_done(self.calls.get(role.call_id), role.dialog)
        if role.method == "REGISTER":
            actions += self._register_done(now, tx.request)
        return actions

    # ------------------------------------------------------------- auth

    def _has_credentials(self) -> bool:
        """True when some realm's challenge can be answered."""
        config = self._config
        return config.credentials is not None or bool(config.realm_credentials)

    def _credentials_for(self, realm: str) -> tuple[str, str] | None:
        """(username, password) answering a challenge of ``realm``: that realm's, else the any-realm pair."""
        for name, username, password in self._config.realm_credentials:
            if name == realm:
                return username, password
        return self._config.credentials

    def _can_authenticate(self, response: "Response", tries: int, request: "Request | None" = None) -> bool:
        """True when we hold credentials for a challenged realm that this request has not already answered."""
        if not self._has_credentials() or tries >= MAX_AUTH_TRIES or (tries and request is None):
            return False
        name = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        challenges = response.headers.get_all(name)
        if not challenges:
            return False
        # §22.3, RFC 3665 §3.3 F9-F11: a challenge for a realm the request carried no
        # credentials for (a second proxy's) is answered too; a realm already answered
        # means the credentials were refused, so trying again is pointless, unless only
        # the nonce was (stale=TRUE, RFC 2617 §3.2.1; §22.4 "may be retried if the nonce was stale").
        from simsip.sip.auth import AuthError, parse_challenge, parse_credentials

        answered = set()
        if request is not None and tries:
            for header in ("Authorization", "Proxy-Authorization"):
                for value in request.headers.get_all(header):
                    try:
                        answered.add(parse_credentials(value).realm)
                    except AuthError:
                        continue
        for value in challenges:
            try:
                challenge = parse_challenge(value)
            except AuthError:
                continue
            if self._credentials_for(challenge.realm) is None:
                continue  # a realm we hold nothing for (§22.1)
            if challenge.stale or challenge.realm not in answered:
                return True
        return False

    def _add_credentials(self, request: "Request", answering: "Request", response: "Response") -> None:
        """§22.2-22.3: add to ``request`` the Authorization / Proxy-Authorization answering ``response``.

        Credentials ``request`` already carries for a realm answered anew are dropped: §22.4 says the
        credentials just rejected are not sent again, and a registrar or proxy reads the first
        value for its realm (after a stale=TRUE challenge the old one holds the nonce it refused).
        ``answering`` is the request the challenge answered (method and Request-URI of the digest).
        """
        from simsip.sip.auth import (AuthError, authorization_header, credentials_header_name, parse_challenge,
                                     parse_credentials)

        challenge_name = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        header = credentials_header_name(challenge_name)
        new: list[str] = []
        realms: set[str] = set()
        for challenge in response.headers.get_all(challenge_name):
            try:
                parsed = parse_challenge(challenge)
                found = self._credentials_for(parsed.realm)
                if found is None:
                    continue  # not ours to answer: another realm's credentials may still be
                username, password = found
                key = (parsed.realm, parsed.nonce)
                nc = self._nonce_counts.get(key, 0) + 1
                value = authorization_header(challenge, answering.method, str(answering.uri), username, password,
                                             self.rng, nc)
            except AuthError:
                continue
            self._nonce_counts[key] = nc
            new.append(value)
            realms.add(parsed.realm)
        if not new:
            return
        kept = []
        for value in request.headers.get_all(header):
            try:
                if parse_credentials(value).realm in realms:
                    continue
            except AuthError:
                pass
            kept.append(value)
        request.headers.remove(header)
        for value in kept + new:
            request.headers.add(header, value)

    def _resend_with_auth(self, now: float, tx: ClientTransaction, role: _ClientRole,
                          response: "Response") -> list[Action]:
        """Re-send a non-INVITE request with credentials (new branch, CSeq + 1)."""
        old = tx.request
        request = old.copy()
        request.headers.set("Via", self._via_prefix + self.layer.new_branch())
        new_seq = old.cseq.seq + 1
        if role.dialog is not None:
            new_seq = role.dialog.next_local_seq()
        elif old.method == "REGISTER":
            # §10.2: the registration's next CSeq, past any REGISTER sent since this one.
            new_seq = self._registrations[str(old.uri)].next_cseq()
        request.headers.set("CSeq", str(CSeq(new_seq, old.method)))
        self._add_credentials(request, old, response)
        new_role = _ClientRole(role.call_id, role.method, role.dialog, role.auth_tries + 1, role.rack)
        _, actions = self._send_request(now, request, tx.peer, new_role)
        return actions

    def _longer_register(self, old: "Request", response: "Response") -> "Request | None":
        """§10.2.8: a copy of REGISTER ``old`` with every interval under the 423's Min-Expires raised to it.

        None when the 423 names no usable Min-Expires or no interval was below it (a registrar
        asking again for what it already got is not answered again: no loop).
        """
        try:
            minimum = response.min_expires
            contacts = old.contacts
            header = old.expires
        except SipParseError:  # a malformed Min-Expires: no floor to meet
            return None
        if minimum is None:
            return None
        request = old.copy()
        raised = False
        if header is not None and 0 < header < minimum:
            request.headers.set("Expires", str(minimum))
            raised = True
        values = []
        for contact in contacts:
            expires = contact.expires
            if expires is not None and 0 < expires < minimum:
                contact = NameAddr(contact.display, contact.uri, {**contact.params, "expires": str(minimum)})
                raised = True
            values.append(str(contact))
        if not raised:
            return None
        if contacts:
            request.headers.remove("Contact")
            for value in values:
                request.headers.add("Contact", value)
        return request

    def _resend_register(self, now: float, tx: ClientTransaction, role: _ClientRole,
                         request: "Request") -> list[Action]:
        """§10.2.8 / §10.2: send ``request`` (a REGISTER redone after 423): new branch, the registration's next CSeq."""
        request.headers.set("Via", self._via_prefix + self.layer.new_branch())
        # §22.4: the copy's credentials were used once; the last challenge is answered afresh (next nc).
        self._number_register(request, self._registrations[str(request.uri)])
        _, actions = self._send_request(now, request, tx.peer, _ClientRole(role.call_id, "REGISTER", None,
                                                                           role.auth_tries))
        return actions

    # ============================================================ UAC: INVITE

    def invite(self, now: float, target: "URI | str", *, call_id: str | None = None,
               require_100rel: bool | None = None, supports_100rel: bool | None = None,
               sdp: bytes | str | None = None) -> tuple[str, list[Action]]:
        """Start a call to ``target`` (§8.1.1, §13.2.1); returns (Call-ID, actions).

        ``require_100rel`` / ``supports_100rel``: this INVITE's Require / Supported 100rel (None: the UA's own).
        """
        if type(target) is str:
            uri, to_value = _TARGETS[target] if target in _TARGETS else _parse_target(target)
        else:
            uri, to_value = target, f"<{target}>"
        call_id = call_id or "%016x@%s" % (self.rng.getrandbits(64), self.host)  # % : see new_branch
        if call_id in self.calls:
            return call_id, self._app_error(call_id, "Call-ID already in use")
        call = _Call(call_id, owner=True, local_tag=new_tag(self.rng))
        self.calls[call_id] = call
        config = self._config
        body = self._sdp(call) if sdp is None else _body(sdp)
        require = config.require_100rel if require_100rel is None else require_100rel
        offers = config.supports_100rel if supports_100rel is None else supports_100rel
        # The header list in one go (what one add per line builds); the fresh Via and
        # From come parsed from their parsed prefixes, not through the line memo.
        via, via_parsed = self._new_via()
        from_prefix = self._from_nameaddr()
        tag = call.local_tag
        lines = [
            ("via", "Via", via),
            ("max-forwards", "Max-Forwards", "70"),
            ("from", "From", f"{from_prefix};tag={tag}"),
            ("to", "To", to_value),
            ("call-id", "Call-ID", call_id),
            ("cseq", "CSeq", "1 INVITE"),
            ("contact", "Contact", self._contact_value),
            ("allow", "Allow", ALLOW),
        ]
        if offers or require:
            lines.append(("supported", "Supported", "100rel"))  # RFC 3262 §4: SHOULD in every INVITE
        if require:
            lines.append(("require", "Require", "100rel"))
        if body:
            lines.append(("content-type", "Content-Type", SDP))
        given: dict[str, list[Any]] = {}
        if via_parsed is not None:
            given["via"] = via_parsed
        if _CALLID_FULLMATCH(call_id):
            given["call-id"] = [call_id]  # what _parse_call_id gives: the text, checked
        from_ = name_addr_with_tag(from_prefix, tag)
        if from_ is not None:
            given["from"] = [from_]
        request = Request("INVITE", uri, Headers._known(lines, given), body)
        destination = config.outbound[0] if config.outbound else self._resolve(uri)  # _out_of_dialog_destination
        tx, actions = self._send_request(now, request, destination, None)
        uac = _UacInvite(request, tx, destination, reinvite=False, sdp=body)
        call.uac = uac
        call.uac_by_cseq[1] = uac
        return call_id, actions

    def _resend_invite(self, now: float, call: _Call, uac: _UacInvite, *, response: "Response | None" = None,
                       next_outbound: bool = False, targets: "tuple[URI, ...] | None" = None) -> list[Action]:
        """A new INVITE transaction for the same call: after a challenge, to the next outbound proxy or a 3xx contact.

        ``targets``: the 3xx target set still to try, the first now (None: the same target, the old INVITE's rest).
        """
        old = uac.request
        request = old.copy()
        request.headers.set("Via", self._via_prefix + self.layer.new_branch())
        seq = old.cseq.seq + 1
        request.headers.set("CSeq", str(CSeq(seq, "INVITE")))
        index = uac.outbound_index + (1 if next_outbound else 0)
        if response is not None:
            self._add_credentials(request, old, response)
        destination = self._out_of_dialog_destination(old.uri, index) if next_outbound else uac.destination
        if targets is not None:
            request.uri = targets[0]
            destination = self._out_of_dialog_destination(targets[0], index)
        tx, actions = self._send_request(now, request, destination, None)
        new = _UacInvite(request, tx, destination, reinvite=False, sdp=uac.sdp,
                         outbound_index=index, auth_tries=uac.auth_tries + (1 if response is not None else 0),
                         cancel_wanted=uac.cancel_wanted, redirects=uac.redirects + (targets is not None),
                         targets=uac.targets if targets is None else targets[1:])
        call.uac = new
        call.uac_by_cseq[seq] = new
        return actions

    # ---------------------------------------------------------- PRACK out

    def _send_prack(self, now: float, call: _Call, dialog: Dialog, response: "Response") -> list[Action]:
        """RFC 3262 §7.2: PRACK in the dialog of the 1xx with RAck: <RSeq> <CSeq num> <method>."""
        uac = call.uac
        cseq = response.cseq
        rseq = response.rseq
        body = b""
        if response.body and uac is not None and not uac.sdp:
            body = self._sdp(call)  # RFC 3262 §5: the 1xx carried the offer, answer in the PRACK
        via, via_parsed = self._new_via()
        request = dialog.build_request("PRACK", via, body=body, via_parsed=via_parsed,
                                       extra=[("RAck", f"{rseq} {cseq.seq} {cseq.method}")])  # str(RAck(...))
        dialog.pending_prack = None
        role = _ClientRole(call.call_id, "PRACK", dialog, rack=(rseq, cseq.seq))
        _, actions = self._send_request(now, request, self._dialog_destination(dialog), role)
        return actions

    def ack(self, now: float, call_id: str) -> list[Action]:
        """Send the ACK held by ``hold_2xx_ack`` (RFC 3665 §3.5 F13); nothing when it already went."""
        call = self.calls.get(call_id)
        if call is None or call.uac is None or call.uac.final_code is None:
            return self._app_error(call_id, "no 2xx to ACK")
        return self._send_held_ack(now, call)

    def prack(self, now: float, call_id: str) -> list[Action]:
        """PRACK the newest reliable provisional not PRACKed yet (``auto_prack=False`` UAs)."""
        call = self.calls.get(call_id)
        if call is None:
            return self._app_error(call_id, "unknown call")
        for dialog in call.dialogs.values():
            pending = dialog.pending_prack
            if pending is not None:
                return self._send_prack(now, call, dialog, pending)
        return self._app_error(call_id, "no reliable provisional awaiting PRACK")

    # ---------------------------------------------------------- CANCEL out

    def cancel(self, now: float, call_id: str) -> list[Action]:
        """§9.1: CANCEL our pending INVITE (held back until a provisional has arrived)."""
        call = self.calls.get(call_id)
        uac = call.uac if call is not None else None
        if uac is None or uac.final_code is not None:
            return self._app_error(call_id, "no pending outgoing INVITE to cancel")
        if uac.cancel_wanted:
            return []
        uac.cancel_wanted = True
        if not uac.provisional:
            return []  # §9.1: MUST NOT send CANCEL before a provisional
        return self._send_cancel(now, call, uac)

    def _send_cancel(self, now: float, call: _Call, uac: _UacInvite) -> list[Action]:
        """§9.1: the CANCEL copies Request-URI, Call-ID, To, From, CSeq number, Route and top Via."""
        invite = uac.request
        request = build_from_invite(invite, "CANCEL", invite.headers.get("To"))
        uac.cancel_sent = True
        role = _ClientRole(call.call_id, "CANCEL", None)
        _, actions = self._send_request(now, request, uac.destination, role)
        cid = call.call_id
        actions.append(self._start_timer(f"{cid}/cancel-wait", self.timers.cancel_wait, "cancel-wait", cid,
                                         self._cancel_expired, call, uac))
        return actions

    def _cancel_expired(self, now: float, call: _Call, uac: _UacInvite) -> list[Action]:
        """§9.1: no final response 64*T1 after CANCEL: consider the INVITE cancelled."""
        if uac.final_code is not None:
            return []
        uac.final_code = 487
        actions: list[Action] = []
        for dialog in call.dialogs.values():
            if dialog.early:
                actions += dialog.feed(DialogEvent.FAILURE)
        call.outcome, call.final_code = "cancelled", None
        actions += self._end_call(call, "cancelled", None, "local", "no final response after CANCEL")
        # §9.1: the INVITE transaction is treated as cancelled and destroyed.
        return actions + self._layer(now, self.layer.abandon(now, uac.tx))

    def _abandon_invite(self, now: float, uac: _UacInvite) -> list[Action]:
        """Destroy an INVITE client transaction that never got its final response."""
        if uac.final_code is not None:
            return []
        return self._layer(now, self.layer.abandon(now, uac.tx))

    # ---------------------------------------------------------- BYE out

    def _send_bye(self, now: float, call: _Call, dialog: Dialog, reason: str) -> list[Action]:
        """§15.1.1: BYE in ``dialog``; it goes Mortal now and Morgue when the BYE ends."""
        if not dialog.alive:
            return []
        # §13.2.2.4: the 2xx is ACKed before the BYE
        actions = self._send_held_ack(now, call) if call.held_ack is not None else []
        actions += dialog.feed(DialogEvent.BYE)
        via, via_parsed = self._new_via()
        request = dialog.build_request("BYE", via, via_parsed=via_parsed)
        role = _ClientRole(call.call_id, "BYE", dialog)
        _, sent = self._send_request(now, request, self._dialog_destination(dialog), role)
        return actions + sent

    def hangup(self, now: float, call_id: str) -> list[Action]:
        """End the call as the state allows: BYE, CANCEL (§9.1) or 603 (see module doc)."""
        call = self.calls.get(call_id)
        if call is None or call.ended:
            return self._app_error(call_id, "no call to hang up")
        actions: list[Action] = []
        uac = call.uac
        if uac is not None and not uac.reinvite and uac.final_code is None:
            return self.cancel(now, call_id)
        uas = call.uas
        if uas is not None and not uas.reinvite and uas.final is None and uas.withheld is None:
            return self.respond(now, call_id, 603)
        confirmed = [d for d in call.dialogs.values() if d.confirmed]
        if not confirmed:
            if uas is not None and uas.withheld is not None:
                # A 2xx is waiting for a PRACK: reject instead.
                uas.withheld = None
                return self._send_failure(now, call, uas, 603, None, outcome="rejected", by="local")
            return self._app_error(call_id, "no confirmed dialog")
        for dialog in confirmed:
            if (uas is not None and uas.dialog is dialog and uas.final is not None
                    and uas.final.status < 300 and not uas.acked):
                # §15: the callee must not BYE before the ACK (or the ACK timeout).
                call.bye_after_ack = True
                continue
            actions += self._send_bye(now, call, dialog, reason="hangup")
        return actions

    def bye(self, now: float, call_id: str) -> list[Action]:
        """§15: BYE the call's early (caller only) and confirmed dialogs; the INVITE is left to finish.

        "The caller's UA MAY send a BYE for either confirmed or early dialogs, and the
        callee's UA MAY send a BYE on confirmed dialogs, but MUST NOT send a BYE on
        early dialogs." A 2xx arriving after an early BYE is still ACKed, and no session
        follows (RFC 5407 §3.1.3: the dialog is Mortal).
        """
        call = self.calls.get(call_id)
        if call is None or call.ended:
            return self._app_error(call_id, "no call to send BYE in")
        if not call.owner:
            if not any(d.confirmed for d in call.dialogs.values()):
                return self._app_error(call_id, "a callee must not BYE an early dialog (§15)")
            return self.hangup(now, call_id)  # confirmed: BYE, after the ACK of our 2xx (§15)
        dialogs = [d for d in call.dialogs.values() if d.confirmed or d.state is DialogState.EARLY]
        if not dialogs:
            return self._app_error(call_id, "no dialog to send BYE in")
        actions: list[Action] = []
        for dialog in dialogs:
            actions += self._send_bye(now, call, dialog, reason="bye")
        return actions

    # ---------------------------------------------------------- re-INVITE out

    def reinvite(self, now: float, call_id: str, sdp: bytes | str | None = None,
                 contact: "URI | str | None" = None) -> list[Action]:
        """§14.1: re-INVITE in the confirmed dialog of ``call_id`` (``contact``: our new Contact, RFC 3665 §3.7)."""
        call = self.calls.get(call_id)
        if call is None:
            return self._app_error(call_id, "unknown call")
        dialog = next((d for d in call.dialogs.values() if d.confirmed), None)
        if dialog is None:
            return self._app_error(call_id, "no confirmed dialog")
        if call.uac is not None and call.uac.final_code is None:
            return self._app_error(call_id, "an INVITE of ours is still pending (§14.1)")
        if _incoming_invite_pending(call):
            return self._app_error(call_id, "an INVITE of theirs is still pending (§14.1)")
        call.session_version += 1
        if contact is not None:
            text = str(contact)
            call.local_contact = text if text.startswith("<") else f"<{text}>"
        body = self._sdp(call) if sdp is None else _body(sdp)
        return self._send_reinvite(now, call, dialog, body)

    def _send_reinvite(self, now: float, call: _Call, dialog: Dialog, body: bytes) -> list[Action]:
        """Build and send the re-INVITE."""
        extra = [("Allow", ALLOW)]
        if self._config.supports_100rel:
            extra.append(("Supported", "100rel"))
        via, via_parsed = self._new_via()
        request = dialog.build_request("INVITE", via, via_parsed=via_parsed,
                                       contact=self._contact(call), body=body, extra=extra)
        destination = self._dialog_destination(dialog)
        tx, actions = self._send_request(now, request, destination, None)
        uac = _UacInvite(request, tx, destination, reinvite=True, sdp=body)
        call.uac = uac
        call.uac_by_cseq[request.cseq.seq] = uac
        return actions

    def _schedule_491_retry(self, now: float, call: _Call, uac: _UacInvite) -> list[Action]:
        """§14.1: after 491, retry after 2.1-4.0 s (Call-ID owner) or 0-2.0 s, in 10 ms units."""
        if call.owner:
            delay = self.rng.randint(210, 400) / 100.0
        else:
            delay = self.rng.randint(0, 200) / 100.0
        cid = call.call_id
        body = uac.sdp

        def retry(t: float) -> list[Action]:
            dialog = next((d for d in call.dialogs.values() if d.confirmed), None)
            if dialog is None or (call.uac is not None and call.uac.final_code is None):
                return []
            if _incoming_invite_pending(call):
                # §14.1: "MUST NOT initiate a new INVITE transaction within a dialog while another INVITE
                # transaction is in progress in either direction": the peer's (typically its own
                # retry) is still unanswered here, so back off once more rather than cause another 491.
                return self._schedule_491_retry(t, call, uac)
            return self._send_reinvite(t, call, dialog, body)

        return [self._start_timer(f"{cid}/491-retry", delay, "491-retry", cid, retry)]

    # ---------------------------------------------------------- OPTIONS / REGISTER out

    def _out_of_dialog_request(self, method: str, uri: "URI", to: str, call_id: str,
                               extra: list[tuple[str, str]]) -> "Request":
        """§8.1.1: a request outside any dialog."""
        headers = Headers()
        headers.add("Via", self._via_prefix + self.layer.new_branch())
        headers.add("Max-Forwards", "70")
        headers.add("From", f"{self._from_nameaddr()};tag={new_tag(self.rng)}")
        headers.add("To", to)
        headers.add("Call-ID", call_id)
        headers.add("CSeq", str(CSeq(1, method)))
        for name, value in extra:
            headers.add(name, value)
        return Request(method, uri, headers)

    def options(self, now: float, target: "URI | str") -> tuple[str, list[Action]]:
        """§11.1: OPTIONS to ``target``; returns (Call-ID, actions)."""
        uri = URI.parse(target) if isinstance(target, str) else target
        call_id = f"{self.rng.getrandbits(64):016x}@{self.host}"
        request = self._out_of_dialog_request("OPTIONS", uri, f"<{uri}>", call_id,
                                              [("Contact", self._contact()), ("Accept", SDP)])
        role = _ClientRole(call_id, "OPTIONS", None)
        _, actions = self._send_request(now, request, self._out_of_dialog_destination(uri), role)
        return call_id, actions

    def register(self, now: float, registrar: "URI | str", expires: int = 3600,
                 contacts: list[str] | None = None) -> tuple[str, list[Action]]:
        """§10.2: REGISTER our AOR at ``registrar`` (``contacts`` default: our Contact).

        While an earlier REGISTER to the same registrar awaits its final response this one
        waits, and goes out when that one ends (answered or timed out): §10.2 "UAs MUST NOT
        send a new registration ... until they have received a final response from the
        registrar for the previous one or the previous REGISTER request has timed out."
        """
        uri = URI.parse(registrar) if isinstance(registrar, str) else registrar
        key = str(uri)
        registration = self._registrations.get(key)
        if registration is None:
            registration = self._registrations[key] = _Registration(
                f"{self.rng.getrandbits(64):016x}@{self.host}")
        if registration.pending:
            registration.waiting.append((expires, contacts))
            return registration.call_id, []
        return registration.call_id, self._send_register(now, uri, registration, expires, contacts)

    def _send_register(self, now: float, uri: URI, registration: _Registration, expires: int,
                       contacts: list[str] | None) -> list[Action]:
        """Send one REGISTER of ``registration``: its Call-ID, the next CSeq, the last challenge answered."""
        # §10.2: REGISTERs to one registrar share the Call-ID, CSeq one higher each time;
        # §22.3: the last challenge's credentials go along at once (RFC 3665 §2.2-2.4).
        extra = [("Contact", c) for c in (contacts if contacts is not None else [self._contact()])]
        extra.append(("Expires", str(expires)))
        request = self._out_of_dialog_request("REGISTER", uri, f"<{self.aor}>", registration.call_id, extra)
        self._number_register(request, registration)
        registration.pending = True
        role = _ClientRole(registration.call_id, "REGISTER", None)
        _, actions = self._send_request(now, request, self._out_of_dialog_destination(uri), role)
        return actions

    def _number_register(self, request: "Request", registration: _Registration) -> None:
        """Give REGISTER ``request`` the registration's next CSeq and the last challenge's credentials."""
        request.headers.set("CSeq", str(CSeq(registration.next_cseq(), "REGISTER")))
        if registration.challenge is not None and self._has_credentials():
            self._add_credentials(request, request, registration.challenge)

    def _register_done(self, now: float, request: "Request") -> list[Action]:
        """A REGISTER ended (final response not retried, or timeout): send the next one waiting (§10.2)."""
        registration = self._registrations[str(request.uri)]
        registration.pending = False
        if not registration.waiting:
            return []
        expires, contacts = registration.waiting.pop(0)
        return self._send_register(now, request.uri, registration, expires, contacts)


# TUEvent kind -> the UserAgentCore method taking it (``_layer`` dispatches through this table;
# it handles "terminated" itself).
_TU_HANDLERS: Final[dict[str, Callable[[UserAgentCore, float, TUEvent], list[Action]]]] = {
    "request": UserAgentCore._on_new_request,
    "response": UserAgentCore._on_response,
    "ack": UserAgentCore._on_ack,
    "stray-response": UserAgentCore._on_stray_response,
    "timeout": UserAgentCore._on_tx_failure,
    "transport-error": UserAgentCore._on_tx_failure,
}

# ---------------------------------------------------------------- helpers


# A To (maybe malformed, so not parsed) that has a tag parameter: parameter names are
# case-insensitive and SEMI and EQUAL allow whitespace around them (RFC 3261 §7.3.1, §25.1).
_HAS_TAG_PARAM: Final = re.compile(r";[ \t\r\n]*tag[ \t\r\n]*=", re.IGNORECASE).search


def _incoming_invite_pending(call: _Call) -> bool:
    """True while an INVITE the peer sent in this call has no final response from us yet (§14.1)."""
    uas = call.uas
    return uas is not None and uas.final is None


def _copy_record_route(request: "Request", response: "Response") -> None:
    """§12.1.1: a dialog-creating response carries the request's Record-Route values, in order."""
    for value in request.headers.get_all("Record-Route"):
        response.headers.add("Record-Route", value)


def _has_100rel(tags: list[str]) -> bool:
    """True when the option tags (Require or Supported) hold ``100rel``, in any case."""
    return "100rel" in tags or tags != [] and "100rel" in [t.lower() for t in tags]


# Call targets given as text -> (parsed URI, To value): a scenario calls the same few
# targets in every run. URIs are values (never changed in place), so one can be shared.
_TARGETS: Final[dict[str, tuple[URI, str]]] = {}
_TARGETS_MAX: Final = 1024


# (host, transport, AOR user) -> the core's Via sent-by, Via prefix and Contact value: the
# same for every core of a node, and each run makes its own cores.
_RENDERED: Final[dict[tuple[str, str, str | None], tuple[str, str, str]]] = {}
_RENDERED_MAX: Final = 1024


def _render_constants(host: str, transport: str, user: str | None) -> tuple[str, str, str]:
    """Render a core's constant header values and remember them (the cache is cleared when full)."""
    sent_by = f"SIP/2.0/{transport} {host}"
    params = ";transport=tcp" if transport == "TCP" else ""
    at = f"{user}@" if user else ""
    if len(_RENDERED) >= _RENDERED_MAX:
        _RENDERED.clear()
    hit = _RENDERED[(host, transport, user)] = (sent_by, f"{sent_by};branch=", f"<sip:{at}{host}{params}>")
    return hit


def _stamp_transport(request: "Request", destination: Address) -> None:
    """Make the top Via name the transport ``request`` is sent over (RFC 3261 §8.1.1.7, §18.1.1).

    Our Via is rendered with the core's transport, but the resolver may pick
    another one for this destination (the engine's transport is per path).
    """
    transport = destination.transport._value_  # not .value: see agents/base.py
    via = request.top_via
    if via.transport != transport:
        via = via.copy()  # parsed values are shared with copies: never change them in place
        via.transport = transport
        request.headers.set_first("Via", via)


def _parse_target(target: str) -> tuple[URI, str]:
    """Parse a call target and remember it (the cache is cleared when full)."""
    uri = URI.parse(target)
    if len(_TARGETS) >= _TARGETS_MAX:
        _TARGETS.clear()
    hit = _TARGETS[target] = (uri, f"<{uri}>")
    return hit


def _body(sdp: bytes | str | None) -> bytes:
    """Normalise an application body argument."""
    if sdp is None:
        return b""
    return sdp.encode() if isinstance(sdp, str) else bytes(sdp)


def _safe_call_id(message) -> str:
    """The Call-ID of a possibly broken message ("" when unreadable)."""
    try:
        return message.call_id or ""
    except Exception:
        return ""


_COOKIE_LEN: Final = len(MAGIC_COOKIE)
_CALLID_FULLMATCH = CALLID_RE.fullmatch


def _response_problem(response: "Response") -> str | None:
    """Why a response is discarded before it is matched to a client transaction (None: it is not)."""
    # The common case read from the parsed values at once (what .vias and .cseq find):
    # one Via and one CSeq, parsed. Anything else is read through the accessors.
    typed = response.headers._typed
    try:
        (_,) = typed["via"]
        (_,) = typed["cseq"]
    except (KeyError, ValueError):
        try:
            vias, _ = response.vias, response.cseq  # reading the CSeq is the check
        except Exception:
            return "unparseable response"
        if len(vias) != 1:
            return "more than one Via"  # §8.1.3.3: a UAC discards it (RFC 4475 bcast)
    if not 100 <= response.status <= 699:
        return "bad status code"
    return None


def _transaction_problem(request: "Request") -> str | None:
    """Why ``request`` cannot get a server transaction (None when it can).

    A transaction needs a top Via, a CSeq and, for RFC 2543 matching, the
    Call-ID and From; RFC 4475 §3.3.1 (insuf) and §3.3.8 (multi01) are
    answered 400 without one.
    """
    # The common case read from the parsed values at once (what the accessors below
    # find, without a call each): a top Via with an RFC 3261 branch, exactly one
    # CSeq/Call-ID/From/To (typed only when they parsed) and at most one
    # Content-Length. Anything else goes the whole way below.
    h = request.headers
    typed = h._typed
    via: Via  # typed: compiled, its params and the branch are read natively
    try:
        via = typed["via"][0]
        params = via.params
        (_,) = typed["cseq"]
        (_,) = typed["call-id"]
        (_,) = typed["from"]
        (_,) = typed["to"]
    except (KeyError, IndexError, ValueError):
        pass
    else:
        branch = params["branch"] if "branch" in params else None
        if branch and branch[:_COOKIE_LEN] == MAGIC_COOKIE and branch != MAGIC_COOKIE:  # has_magic_cookie
            if "content-length" in typed:
                if not typed["content-length"][1:]:
                    return None
            else:
                index = h._index
                if index is not None and "content-length" not in index:
                    return None
    return _transaction_problem_full(request)


def _transaction_problem_full(request: "Request") -> str | None:
    """``_transaction_problem`` read through the typed accessors, one check after the other."""
    try:
        via = request.top_via
        if via is None:
            return "no Via"
        _ = request.cseq  # reading each header is the check
        if not has_magic_cookie(via.branch):
            _ = request.call_id, request.from_
            server_key(request)
        # (With an RFC 3261 branch the §17.2.3 key is the parsed top Via's branch, host and
        # port and the method: nothing left that could fail.)
    except Exception as exc:  # any malformed header the key needs
        return f"malformed {type(exc).__name__}"
    try:
        # A typed accessor reads exactly one value or raises (and messages carry their
        # headers parsed): when all three read, each header is there once. CSeq was read above.
        _ = request.call_id, request.from_, request.to
        counted = True
    except Exception:
        counted = False
    if not counted:  # (outside the handler: a loop that returns inside one crashes mypyc)
        for name in ("Call-ID", "CSeq", "From", "To"):
            if len(request.headers.get_all(name)) != 1:
                return f"need exactly one {name}"
    try:
        _ = request.content_length  # RFC 4475 §3.3.9 mcl01: conflicting Content-Length values
    except Exception:
        return "conflicting Content-Length"
    return None
