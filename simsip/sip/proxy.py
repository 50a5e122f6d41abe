"""The proxy core (RFC 3261 §16): stateless and transaction-stateful proxying.

Read this beside RFC 3261 §16. A request goes through the section's steps in
order, each a method below:

* §16.3 :meth:`ProxyCore._malformed` and :meth:`ProxyCore._validate` —
  syntax (400, or 505 for another SIP version, answered statelessly), URI
  scheme (416), Max-Forwards 0 (483), loop detection (482), Proxy-Require
  (420 with Unsupported, RFC 4475 §3.3.5 bext01), then proxy authentication
  (§22.3, 407 with Proxy-Authenticate; which requests: :class:`AuthScope`);
* §16.4 :meth:`ProxyCore._preprocess_route` — a Request-URI we put in a
  Record-Route (the previous hop was a strict router) is replaced by the last
  Route value; a top Route naming us is popped;
* a REGISTER for our domains goes to the registrar (when we are one); a
  request for the proxy itself (no user, no Route left) is answered: OPTIONS
  200 with Allow, anything else 405;
* §16.5 :meth:`ProxyCore._targets` — for a domain we serve, the location
  service (static entries and REGISTER bindings; none: 404, or 480 for an
  AOR that had bindings); otherwise the Request-URI;
* §16.6 :meth:`ProxyCore._forward_copy` — per target: new Request-URI,
  Max-Forwards - 1, Record-Route ``<sip:host;lr>``, strict-route fix-up,
  next hop from the top Route or the Request-URI through the engine's
  resolver (a list of addresses: the later ones are the RFC 3263 §4.3
  fallbacks tried on timeout or 503), our Via pushed with a branch whose
  first part is the loop-detection hash;
* §16.7 :class:`ResponseContext` — best-response selection: 1xx (not 100)
  and every 2xx forwarded at once; 6xx cancels the other branches; when all
  branches are done the best final goes up (6xx first, else the lowest
  class, 401/407 challenges merged, 503 turned into 500, 408 (or
  ``timeout_code``) when nothing answered, 487 after an upstream CANCEL);
  after a 2xx or 6xx pending branches get CANCEL (step 10);
* §16.8 Timer C per INVITE branch (> 3 min, reset by 101-199): CANCEL the
  branch if it had a provisional, else treat it as a 408;
* §16.10 CANCEL from upstream: 200 for the CANCEL, CANCEL for each pending
  branch (sent only once the branch had a provisional, §9.1), no new branches;
  a CANCEL matching no response context is forwarded statelessly (§16.11
  branch; its server transaction abandoned, so every retransmission is
  forwarded too) and its responses go up by their Via;
* §16.11 stateless mode: one target, a branch that is a hash so
  retransmissions and CANCEL get the same one, responses forwarded by
  popping our Via and sending to the next Via.

A transaction-stateful proxy is a transaction user with a
:class:`~simsip.sip.transaction.TransactionLayer`: a server transaction per
received request and a client transaction per branch, so non-2xx ACKs are
handled hop by hop and retransmissions (Timers A, E, G) are this proxy's own.
An ACK for a 2xx matches no transaction and is forwarded statelessly along
its Route. A response matching no client transaction is dropped (RFC 6026
§7.3, §8.2, §8.3), reported as an ``AppEvent("stray-response")``, except a
response to a CANCEL forwarded statelessly (our Via on top, another below),
which is forwarded as a stateless proxy does (§16.10, §16.11).

AppEvent kinds emitted (``detail`` keys in brackets):

* ``"proxy-forward"`` a request sent on a branch [method, branch, target, destination, stateless]
* ``"proxy-reject"`` the proxy answered a request itself [status, reason]
* ``"proxy-response"`` a response forwarded upstream [status, branch]
* ``"proxy-cancel"`` pending branches cancelled [branches, cause: 2xx|6xx|upstream|branch-timeout]
* ``"proxy-failover"`` a branch moved to its next address [target, failed, next, cause]
* ``"proxy-timer-c"`` Timer C fired on a branch [branch, action: cancel|408]
* ``"proxy-drop"`` a message dropped [reason]
* ``"stray-response"`` a response matching no client transaction, dropped [status]
* ``"registered"`` the registrar answered a REGISTER [aor, status, contacts]

StateChange machines: ``"proxy <name> context <server tx id>"`` (Idle ->
Forwarding -> Completed) and ``"proxy <name> branch <branch>"`` (Trying ->
Proceeding -> Completed), besides the transactions' own.
"""

from __future__ import annotations

import enum
import hashlib
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from simsip.sip.auth import DigestAuthenticator, challenge_headers
from simsip.sip.events import (
    Action,
    Address,
    AppEvent,
    CancelTimer,
    SendMessage,
    StartTimer,
    StateChange,
    Transport,
)
from simsip.sip.dialog import new_tag
from simsip.sip.registrar import LocationService, Registrar, aor_key
from simsip.sip.timers import TimerConfig
from simsip.sip.transaction import (
    MAGIC_COOKIE,
    ClientTransaction,
    ServerTransaction,
    TransactionLayer,
    TUEvent,
    split_tu_events,
)

if TYPE_CHECKING:
    from simsip.sip.message import URI, Request, Response, Via

__all__ = [
    "AuthScope",
    "DIALOG_CREATING",
    "ForkMode",
    "ProxyCore",
    "ProxyMode",
    "ProxyOptions",
    "Resolver",
    "ResponseContext",
    "select_best_response",
]

# RFC 3261 §8.1.1.6 / §16.6 item 3: the initial Max-Forwards.
DEFAULT_MAX_FORWARDS = 70
# Methods whose requests may create a dialog: only they get Record-Route
# (RFC 3261 §16.6 item 4; RFC 3265 SUBSCRIBE/NOTIFY, RFC 3515 REFER).
DIALOG_CREATING = frozenset({"INVITE", "SUBSCRIBE", "NOTIFY", "REFER"})
# URI schemes this proxy routes (RFC 3261 §16.3 item 2; RFC 4475 §3.3.2, §3.3.3).
ROUTABLE_SCHEMES = frozenset({"sip", "sips"})

Resolver = Callable[[str], list[Address]]
"""Engine callable: host name or domain -> addresses to try in order (RFC 3263 §4.3)."""


class ProxyMode(enum.Enum):
    """RFC 3261 §16.11 stateless, or transaction-stateful (§16.2)."""

    STATELESS = "stateless"
    STATEFUL = "stateful"


class ForkMode(enum.Enum):
    """How several targets are tried (RFC 3261 §16.6: parallel or sequential)."""

    PARALLEL = "parallel"
    SEQUENTIAL = "sequential"


class AuthScope(enum.Enum):
    """Which out-of-dialog requests a proxy with a realm challenges (RFC 3261 §22.3)."""

    ALL = "all"
    """Every one (RFC 3665 §3.3: Proxy 2 challenges Alice of atlanta too)."""
    LOCAL_USERS = "local-users"
    """Only those whose From is in a domain we serve (an outbound proxy guarding its users)."""
    REGISTER_ONLY = "register-only"
    """None: only the registrar's 401 to REGISTER (RFC 3665 §2 with §3.2's unchallenged Proxy 2)."""


@dataclass(frozen=True)
class ProxyOptions:
    """Configuration of one proxy (mirrors the scenario's ``proxy`` node)."""

    host: str
    """Host name in our Via and Record-Route; Route entries naming it are ours."""
    port: int = 5060
    transport: Transport = Transport.UDP
    """Default transport towards next hops the resolver gives no transport for."""
    mode: ProxyMode = ProxyMode.STATEFUL
    record_route: bool = False
    forking: ForkMode = ForkMode.PARALLEL
    domains: tuple[str, ...] = ()
    """Domains we are responsible for (RFC 3261 §16.5): targets from the location service."""
    registrar: bool = False
    """Answer REGISTER for our domains (RFC 3261 §10.3) and keep the bindings."""
    auth_realm: str | None = None
    """Digest realm: challenge out-of-dialog requests with 407 (and REGISTER with 401)."""
    auth_users: tuple[tuple[str, str], ...] = ()
    """(username, password) pairs accepted in our realm."""
    auth_scope: AuthScope = AuthScope.ALL
    """Which requests get a 407 (default ALL, as both proxies in RFC 3665 §3.3)."""
    timers: TimerConfig = field(default_factory=TimerConfig)
    auto_trying: bool = True
    """Stateful: answer an INVITE with 100 Trying at once (RFC 3261 §16.2), and a non-INVITE still
    unanswered when the client's Timer E reached T2 (RFC 4320 §4.1); False (``no-trying``): never."""
    timeout_code: int = 408
    """Final sent upstream when no branch gave a final response (RFC 3261 §16.7 step 6)."""
    branch_timeout: float | None = None
    """Sequential forking: give up on a branch after this many seconds (CANCEL it)."""
    supported: tuple[str, ...] = ()
    """Proxy-Require option tags we understand (anything else: 420, §16.3 item 5)."""

    def __post_init__(self) -> None:
        """Normalise domains to lower case."""
        object.__setattr__(self, "domains", tuple(d.lower() for d in self.domains))


# ------------------------------------------------------------------ helpers


def _md5(text: str) -> str:
    """Hex MD5 of ``text``: our branch hashes (not security relevant)."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _transport_of(name: str | None) -> Transport:
    """Map a Via transport token to our transports (TLS/SCTP count as reliable, like TCP)."""
    return Transport.UDP if (name or "UDP").upper() == "UDP" else Transport.TCP


def _via_address(via: "Via") -> Address:
    """Where a response for ``via`` goes (RFC 3261 §18.2.2, RFC 3581 received/rport)."""
    host = via.received or via.maddr or via.host
    port = via.port or 5060
    rport = via.params.get("rport")
    if rport:
        try:
            port = int(rport)
        except ValueError:
            pass
    return Address(host, port, _transport_of(via.transport))


def _rebuild(message: "Request | Response", name: str, values: list[str]) -> None:
    """Replace all ``name`` values by ``values``, keeping the header's position in the message."""
    from simsip.sip.message import Headers

    old = message.headers
    new = Headers()
    placed = False
    lname = name.lower()
    for hname, hvalue in old:
        if hname.lower() == lname:
            if not placed:
                for value in values:
                    new.add(name, value)
                placed = True
            continue
        new.add(hname, hvalue)
    if not placed:
        # Put a new header block right after the Via block (first header otherwise).
        new2 = Headers()
        after_via = any(h.lower() == "via" for h, _ in new)
        inserted = False
        seen_via = False
        for hname, hvalue in new:
            if after_via and seen_via and hname.lower() != "via" and not inserted:
                for value in values:
                    new2.add(name, value)
                inserted = True
            if hname.lower() == "via":
                seen_via = True
            new2.add(hname, hvalue)
        if not inserted:
            for value in values:
                new2.add(name, value)
        new = new2
    message.headers = new


def _tag_of(name_addr) -> str:
    """The tag of a From/To value, or ''."""
    return (name_addr.tag or "") if name_addr is not None else ""


def _class(status: int) -> int:
    """Response class 1..6."""
    return status // 100


# RFC 3261 §16.7 step 6: within the chosen class prefer responses that let the
# UAC resubmit: 401, 407, 415, 420, 484.
_PREFERRED_4XX = (401, 407, 415, 420, 484)


def select_best_response(responses: list["Response"]) -> "Response | None":
    """RFC 3261 §16.7 step 6: any 6xx first, else the lowest class; within 4xx prefer 401/407/415/420/484."""
    finals = [r for r in responses if r.status >= 300]
    if not finals:
        return None
    six = [r for r in finals if _class(r.status) == 6]
    if six:
        return six[0]
    lowest = min(_class(r.status) for r in finals)
    candidates = [r for r in finals if _class(r.status) == lowest]
    if lowest == 4:
        for code in _PREFERRED_4XX:
            for r in candidates:
                if r.status == code:
                    return r
    # Otherwise the lowest code of the class; ties: the first received.
    return min(candidates, key=lambda r: r.status)


# ------------------------------------------------------------------ state


class BranchState(enum.Enum):
    """Where one branch (client transaction towards one target) stands."""

    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"


@dataclass(eq=False)
class Branch:
    """One target being tried (RFC 3261 §16.6) and its client transaction."""

    index: int
    target: str
    request: "Request"
    destination: Address
    fallbacks: list[Address]
    tx: ClientTransaction | None = None
    state: BranchState = BranchState.TRYING
    final: "Response | None" = None
    cancel_wanted: bool = False
    cancel_sent: bool = False
    timer_c: str | None = None
    timer_limit: str | None = None

    @property
    def branch_id(self) -> str | None:
        """The Via branch of our copy of the request."""
        return self.request.top_via.branch


@dataclass(eq=False)
class ResponseContext:
    """RFC 3261 §16.7: the response context of one proxied request (stateful mode)."""

    server_tx: ServerTransaction
    request: "Request"
    pending_targets: list[str]
    branches: list[Branch] = field(default_factory=list)
    responses: list["Response"] = field(default_factory=list)
    got_2xx: bool = False
    got_6xx: bool = False
    cancelled: bool = False
    final_sent: bool = False
    forwarded_2xx: list["Response"] = field(default_factory=list)

    @property
    def call_id(self) -> str:
        """Call-ID of the proxied request."""
        return self.request.call_id or ""

    @property
    def no_new_branches(self) -> bool:
        """§16.7 steps 5 and 10, §16.10: after a 2xx (INVITE), 6xx or CANCEL, no new branches."""
        return self.got_6xx or self.cancelled or self.got_2xx

    def active(self) -> list[Branch]:
        """Branches without a final response yet."""
        return [b for b in self.branches if b.state is not BranchState.COMPLETED]


# ------------------------------------------------------------------ the core


class ProxyCore:
    """A SIP proxy (RFC 3261 §16), sans-IO: ``receive`` / ``timer_fired`` return actions."""

    def __init__(
        self,
        name: str,
        options: ProxyOptions,
        rng: random.Random,
        resolver: Resolver | None = None,
        location: LocationService | None = None,
    ) -> None:
        """A proxy ``name``; ``rng`` for tags, nonces and transaction branches of CANCELs."""
        self.name = name
        self.options = options
        self.rng = rng
        self.timers = options.timers
        self.resolver: Resolver = resolver or (lambda host: [Address(host, 5060, options.transport)])
        self.location = location if location is not None else LocationService()
        self.authenticator: DigestAuthenticator | None = None
        if options.auth_realm is not None:
            self.authenticator = DigestAuthenticator(options.auth_realm, dict(options.auth_users), rng)
        self.registrar: Registrar | None = None
        if options.registrar:
            self.registrar = Registrar(
                options.domains + (options.host.lower(),), self.location, rng, authenticator=self.authenticator
            )
        # RFC 4320 §4.1: a forwarded non-INVITE may wait on its branches, so it may need the layer's 100.
        self.layer = TransactionLayer(self.timers, rng, prefix=f"{name}:", non_invite_trying=options.auto_trying)
        self._contexts: dict[str, ResponseContext] = {}
        self._branches: dict[str, tuple[ResponseContext, Branch]] = {}
        self._cancels: set[str] = set()
        self._timers: dict[str, tuple[ResponseContext, Branch, str]] = {}
        self._serial = 0
        # Counters the engine may report (each proxy counts its own work).
        self.forwarded = 0
        self.stray = 0

    def release(self) -> None:
        """Forget this finished run's transactions and response contexts (they point back at the core's layer)."""
        self.layer.release()
        self._contexts = {}
        self._branches = {}
        self._cancels = set()
        self._timers = {}

    # ----------------------------------------------------------- entry points

    @property
    def stateful(self) -> bool:
        """True in transaction-stateful mode."""
        return self.options.mode is ProxyMode.STATEFUL

    def receive(self, now: float, message: "Request | Response", source: Address) -> list[Action]:
        """A message arrived from ``source``; return what to do."""
        from simsip.sip.message import Request

        broken = self._malformed(message)
        if broken is not None:
            return self._on_malformed(now, message, source, *broken)
        if isinstance(message, Request):
            if not self.stateful:
                return self._on_request(now, message, source, None)
            return self._tu(now, self.layer.receive_request(now, message, source), source)
        if not self.stateful:
            return self._stateless_response(now, message)
        return self._tu(now, self.layer.receive_response(now, message), source)

    @staticmethod
    def _malformed(message: "Request | Response") -> tuple[int, str] | None:
        """RFC 3261 §16.3 item 1: (status, why) when ``message`` lacks what a proxy needs, else None."""
        from simsip.sip.message import Request

        if message.version.upper() != "SIP/2.0":
            # RFC 4475 §3.1.2.16 badvers: 505, never forwarded.
            return 505, f"version {message.version} not supported"
        try:
            _ = message.vias, message.call_id, message.cseq, message.from_, message.to, message.max_forwards
            if isinstance(message, Request):
                if message.cseq.method != message.method:
                    return 400, "CSeq method does not match the request method"
                _ = message.routes
        except ValueError as error:  # SipParseError is a ValueError
            return 400, str(error)
        return None

    def _on_malformed(
        self, now: float, message: "Request | Response", source: Address, status: int, why: str
    ) -> list[Action]:
        """Answer a malformed request statelessly (400, or 505) when possible; drop anything else (RFC 4475 §3.3.1)."""
        from simsip.sip.message import Request, make_response

        call_id = message.headers.get("Call-ID") or ""
        if isinstance(message, Request) and message.method != "ACK":
            try:
                reason = None if status == 505 else f"Bad Request ({why})"[:120]
                response = make_response(message, status, reason, to_tag=self._new_tag())
                _ = response.top_via
            except ValueError:
                pass
            else:
                return [SendMessage(response, source),
                        AppEvent("proxy-reject", call_id, response, {"status": status, "reason": response.reason})]
        return [AppEvent("proxy-drop", call_id, message, {"reason": why})]

    def _new_tag(self) -> str:
        """A To tag for responses we generate (RFC 3261 §19.3: 32 random bits or more)."""
        return new_tag(self.rng)

    def timer_fired(self, now: float, name: str) -> list[Action]:
        """Timer ``name`` (one we asked for) fired."""
        if name in self._timers:
            ctx, branch, kind = self._timers.pop(name)
            if kind == "C":
                return self._on_timer_c(now, ctx, branch)
            return self._on_branch_limit(now, ctx, branch)
        if self.layer.owns_timer(name):
            return self._tu(now, self.layer.timer_fired(now, name), None)
        return []

    # ------------------------------------------------------- TU event dispatch

    def _tu(self, now: float, results: list, source: Address | None) -> list[Action]:
        """Pass driver actions through and act on the transaction layer's TU events."""
        actions, events = split_tu_events(results)
        # The §17.2.1 200 ms 100-Trying timer is never needed: this TU answers every
        # INVITE at once (100, or a final), and with ``no-trying`` it must stay silent.
        actions = [
            a for a in actions
            if not (isinstance(a, StartTimer) and a.label == "trying")
            and not (isinstance(a, CancelTimer) and a.name.endswith("/trying"))
        ]
        out: list[Action] = list(actions)
        for event in events:
            out += self._on_tu_event(now, event, source)
        return out

    def _on_tu_event(self, now: float, event: TUEvent, source: Address | None) -> list[Action]:
        """One TUEvent from our transaction layer."""
        if event.kind == "request":
            assert source is not None
            return self._on_request(now, event.message, source, event.transaction)
        if event.kind == "ack":
            return self._forward_ack(now, event.message, source)
        if event.kind == "stray-response":
            msg = event.message
            if msg.cseq.method == "CANCEL" and self._forwarded_by_us(msg):
                return self._stateless_response(now, msg)  # a CANCEL forwarded statelessly (§16.10)
            self.stray += 1
            return [AppEvent("stray-response", msg.call_id or "", msg, {"status": msg.status})]
        tx = event.transaction
        if tx is None:
            return []
        if event.kind == "terminated":
            self._branches.pop(tx.id, None)
            self._cancels.discard(tx.id)
            self._contexts.pop(tx.id, None)
            return []
        if tx.id in self._cancels:
            return []  # our CANCELs' responses and timeouts change nothing (§16.10)
        if tx.id in self._branches:
            ctx, branch = self._branches[tx.id]
            if event.kind == "response":
                return self._on_branch_response(now, ctx, branch, event.message)
            if event.kind in ("timeout", "transport-error"):
                return self._on_branch_failure(now, ctx, branch, event.kind)
        return []

    # ------------------------------------------------------- requests

    def _reply(
        self,
        now: float,
        request: "Request",
        source: Address,
        server_tx: ServerTransaction | None,
        status: int,
        reason: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        event: bool = True,
    ) -> list[Action]:
        """Answer ``request`` ourselves (through its server transaction when stateful)."""
        from simsip.sip.message import make_response

        if request.method == "ACK":
            return [AppEvent("proxy-drop", request.call_id or "", request, {"reason": f"ACK not answered ({status})"})]
        to_tag = None
        if status > 100 and not _tag_of(request.to):
            to_tag = self._new_tag()
        response = make_response(request, status, reason, to_tag=to_tag)
        for name, value in headers or []:
            response.headers.add(name, value)
        actions: list[Action] = []
        if event:
            actions.append(
                AppEvent("proxy-reject", request.call_id or "", response, {"status": status, "reason": response.reason})
            )
        if server_tx is not None:
            actions = self._tu(now, self.layer.send_response(now, server_tx, response), None) + actions
        else:
            actions.insert(0, SendMessage(response, source))
        return actions

    def _on_request(
        self, now: float, request: "Request", source: Address, server_tx: ServerTransaction | None
    ) -> list[Action]:
        """A new request (RFC 3261 §16.3-16.6)."""
        from simsip.sip.message import Request

        assert isinstance(request, Request)
        request = request.copy()
        self._mark_received(request, source)
        rejection = self._validate(request)
        if rejection is not None:
            status, reason, headers = rejection
            return self._reply(now, request, source, server_tx, status, reason, headers)
        if request.method == "CANCEL" and server_tx is not None:
            invite_tx = self.layer.find_invite_for_cancel(request)
            if invite_tx is not None and invite_tx.id in self._contexts:
                return self._on_cancel(now, request, source, server_tx, self._contexts[invite_tx.id])
        challenge = self._authenticate(request)
        if challenge is not None:
            status, headers = challenge
            return self._reply(now, request, source, server_tx, status, None, headers)
        self._preprocess_route(request)
        if self._is_local_register(request):
            return self._register(now, request, source, server_tx)
        if self._addressed_to_us(request):
            return self._local(now, request, source, server_tx)
        targets, error = self._targets(now, request)
        if error is not None:
            return self._reply(now, request, source, server_tx, error)
        if not self.stateful or server_tx is None:
            return self._forward_stateless(now, request, targets[0])
        if request.method == "CANCEL":
            # §16.10: no response context, so nothing to apply the CANCEL to: it MUST be forwarded
            # statelessly. Its server transaction goes at once (no 100 Trying, no final of ours), so
            # each retransmission is forwarded again; the response goes up by its Via (§16.11).
            actions = self._tu(now, self.layer.abandon(now, server_tx), None)
            return actions + self._forward_stateless(now, request, targets[0])
        return self._forward_stateful(now, request, source, server_tx, targets)

    def _addressed_to_us(self, request: "Request") -> bool:
        """The Request-URI names this element (our host, or a served domain, no user) and no Route is left."""
        uri = request.uri
        return not request.routes and not uri.user and "maddr" not in uri.params and self._is_ours(uri)

    def _local(
        self, now: float, request: "Request", source: Address, server_tx: ServerTransaction | None
    ) -> list[Action]:
        """A request for the proxy itself: OPTIONS gets 200 with Allow (RFC 3261 §11.2), others 405."""
        allow = ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"] + (["REGISTER"] if self.registrar else [])
        status = 200 if request.method == "OPTIONS" else 405
        return self._reply(now, request, source, server_tx, status, headers=[("Allow", ", ".join(allow))],
                           event=status != 200)

    def _mark_received(self, request: "Request", source: Address) -> None:
        """RFC 3261 §18.2.1: add ``received`` when the top Via's host is not the source's."""
        top = request.top_via
        if top.host.lower() != source.host.lower() and top.received is None:
            top = top.copy()  # parsed values are shared with copies: never change them in place
            top.params["received"] = source.host
            request.headers.set_first("Via", str(top))

    def _is_ours(self, uri: "URI") -> bool:
        """A URI naming this proxy: our host (and port), or a served domain with no user part."""
        host = (uri.host or "").lower()
        if host == self.options.host.lower():
            return uri.port in (None, self.options.port)
        return not uri.user and host in self.options.domains

    def _validate(self, request: "Request") -> tuple[int, str | None, list[tuple[str, str]]] | None:
        """RFC 3261 §16.3 items 1-5: None if the request may be proxied, else (status, reason, headers)."""
        # Item 1 (reasonable syntax) was checked on arrival (_malformed).
        # Item 2: URI scheme (RFC 4475 §3.3.2 unkscm: 416, never route on To).
        if request.uri.scheme.lower() not in ROUTABLE_SCHEMES:
            return 416, None, []
        # Item 3: Max-Forwards (RFC 4475 §3.3.11 zeromf: 483).
        max_forwards = request.max_forwards
        if max_forwards is not None and max_forwards <= 0:
            return 483, None, []
        # Item 4: loop detection (§16.3 item 4, using the §16.6 item 8 hash).
        if request.method not in ("ACK", "CANCEL") and self._is_loop(request):
            return 482, None, []
        # Item 5: Proxy-Require (RFC 4475 §3.3.5 bext01: 420 listing the Proxy-Require tags).
        unknown = [tag for tag in request.proxy_require if tag.lower() not in self.options.supported]
        if unknown and request.method not in ("ACK", "CANCEL"):
            return 420, None, [("Unsupported", ", ".join(unknown))]
        return None

    def _authenticate(self, request: "Request") -> tuple[int, list[tuple[str, str]]] | None:
        """RFC 3261 §16.3 item 6, §22.3: 407 unless the request carries valid credentials for our realm.

        Only out-of-dialog requests (no To tag) are challenged; ACK and CANCEL
        never are (§22.1); a REGISTER we answer ourselves is challenged by the
        registrar with 401 instead. Valid credentials of our realm are removed
        before forwarding (they mean nothing downstream).
        """
        auth = self.authenticator
        if auth is None or request.method in ("ACK", "CANCEL") or _tag_of(request.to):
            return None
        if self._is_local_register(request):
            return None
        scope = self.options.auth_scope
        if scope is AuthScope.REGISTER_ONLY:
            return None
        if scope is AuthScope.LOCAL_USERS and (request.from_.uri.host or "").lower() not in self.options.domains:
            return None
        values = request.headers.get_all("Proxy-Authorization")
        creds = auth.find_credentials(values)
        verdict = "none" if creds is None else auth.check(creds, request.method)
        if verdict == "ok":
            from simsip.sip.auth import parse_credentials

            keep = []
            for value in values:
                try:
                    parsed = parse_credentials(value)
                except ValueError:
                    keep.append(value)
                    continue
                if not (parsed.is_digest and parsed.realm == auth.realm):
                    keep.append(value)
            if keep:
                _rebuild(request, "Proxy-Authorization", keep)
            else:
                request.headers.remove("Proxy-Authorization")
            return None
        status, header, _ = challenge_headers(proxy=True)
        return status, [(header, auth.challenge(stale=verdict == "stale"))]

    def _is_local_register(self, request: "Request") -> bool:
        """A REGISTER for a domain we are registrar of, with no Route beyond us."""
        if self.registrar is None or request.method != "REGISTER":
            return False
        routes = [r for r in request.routes if not self._is_ours(r.uri)]
        return not routes and self.registrar.serves(request.uri.host)

    def _preprocess_route(self, request: "Request") -> None:
        """RFC 3261 §16.4: undo a strict router's rewrite; pop a top Route that names us."""
        routes = request.routes
        if routes and self._is_ours(request.uri) and self.options.record_route and not request.uri.user:
            # The previous hop was a strict router: our Record-Route URI is the
            # Request-URI and the real one is the last Route value.
            request.uri = routes[-1].uri.copy()
            _rebuild(request, "Route", request.headers.get_all("Route")[:-1])
            routes = request.routes
        if routes and self._is_ours(routes[0].uri):
            request.headers.pop_first("Route")

    def _targets(self, now: float, request: "Request") -> tuple[list[str], int | None]:
        """RFC 3261 §16.5: the target set, or an error status when it is empty.

        With Route headers left, the request follows them and the Request-URI
        is the only target. For a domain we serve the location service gives
        the targets (404 if it never heard of the AOR, 480 if nobody is
        registered now); otherwise the Request-URI is the only target.
        """
        uri = request.uri
        if request.headers.get("Route") is not None:
            return [str(uri)], None
        host = (uri.host or "").lower()
        if "maddr" in uri.params or host not in self.options.domains or not uri.user:
            return [str(uri)], None
        aor = aor_key(uri)
        contacts = self.location.lookup(aor, now)
        if contacts:
            return contacts, None
        return [], 480 if self.location.known(aor) else 404

    # ------------------------------------------------------- forwarding (§16.6)

    def _loop_hash(self, request: "Request", top_via: str) -> str:
        """The loop-detection part of our branch (§16.6 item 8), over what a loop leaves unchanged.

        Request-URI, From and To tags, Call-ID, CSeq number, the Via the
        request arrived with on top, and the Route set — identical for an
        INVITE and its CANCEL (§9.1), so a stateless CANCEL gets the INVITE's branch.
        A stateless proxy leaves the To tag out: the ACK of a non-2xx carries the
        tag its INVITE lacked, yet must leave with the INVITE's branch (§16.11) for
        the next hop to match it to the INVITE (§17.1.1.3, §17.2.3); the Via it
        arrived with, whose branch the UAC gave both, already tells transactions apart.
        """
        parts = [
            self.options.host.lower(),
            str(request.uri),
            _tag_of(request.from_),
            _tag_of(request.to) if self.stateful else "",
            request.call_id or "",
            str(request.cseq.seq),
            top_via,
            "|".join(request.headers.get_all("Route")),
        ]
        return _md5("\n".join(parts))[:10]

    def _is_loop(self, request: "Request") -> bool:
        """§16.3 item 4: one of our Vias carries the branch hash this request would get now."""
        raw = request.headers.get_all("Via")
        vias = request.vias
        probe: "Request | None" = None
        for i, via in enumerate(vias):
            if not self._is_our_via(via):
                continue
            branch = via.branch or ""
            if not branch.startswith(MAGIC_COOKIE) or "." not in branch:
                continue
            if probe is None:
                # The branch was hashed after §16.4 (our Route popped, a strict router's rewrite
                # undone): hash this request the same way, or one back with our Route is missed.
                probe = request.copy()
                self._preprocess_route(probe)
            below = raw[i + 1] if i + 1 < len(raw) else ""
            if branch[len(MAGIC_COOKIE):].split(".", 1)[0] == self._loop_hash(probe, below):
                return True
        return False

    def _via_value(self, branch: str, transport: Transport) -> str:
        """Our Via header value (RFC 3261 §16.6 item 8)."""
        port = "" if self.options.port == 5060 else f":{self.options.port}"
        return f"SIP/2.0/{transport.value} {self.options.host}{port};branch={branch}"

    def _record_route_value(self, request: "Request") -> str:
        """``<sip:host;lr>`` (sips when the Request-URI is sips, §16.6 item 4)."""
        scheme = "sips" if request.uri.scheme.lower() == "sips" else "sip"
        port = "" if self.options.port == 5060 else f":{self.options.port}"
        transport = ";transport=tcp" if self.options.transport is Transport.TCP else ""
        return f"<{scheme}:{self.options.host}{port}{transport};lr>"

    def _next_hop(self, request: "Request", strict: bool = False) -> list[Address]:
        """§16.6 item 7: addresses for the top Route, else (or after a strict fix-up) the Request-URI."""
        routes = request.routes
        uri = routes[0].uri if routes and not strict else request.uri
        host = uri.maddr or uri.host or ""
        addresses = list(self.resolver(host))
        transport = uri.params.get("transport")
        result = []
        for address in addresses:
            port = uri.port if uri.port is not None else address.port
            tr = _transport_of(transport) if transport else address.transport
            result.append(Address(address.host, port, tr))
        return result

    def _forward_copy(self, request: "Request", target: str) -> tuple["Request", bool]:
        """§16.6 items 1-6: the copy for ``target`` (Via not yet pushed), and whether it goes to a strict router."""
        from simsip.sip.message import URI

        copy = request.copy()
        copy.uri = URI.parse(target)
        # Item 3: Max-Forwards.
        mf = request.max_forwards
        copy.headers.set("Max-Forwards", str(DEFAULT_MAX_FORWARDS if mf is None else mf - 1))
        # Item 4: Record-Route for dialog-creating requests outside a dialog.
        if self.options.record_route and request.method in DIALOG_CREATING and not _tag_of(request.to):
            _rebuild(copy, "Record-Route", [self._record_route_value(request)] + copy.headers.get_all("Record-Route"))
        # Item 6: the next hop is a strict router: it wants its URI as Request-URI.
        routes = copy.routes
        if routes and not routes[0].uri.lr:
            values = copy.headers.get_all("Route")[1:] + [f"<{copy.uri}>"]
            copy.uri = routes[0].uri.copy()
            _rebuild(copy, "Route", values)
            return copy, True
        return copy, False

    def _push_via(self, copy: "Request", branch: str, transport: Transport) -> None:
        """§16.6 item 8: our Via on top."""
        copy.headers.prepend("Via", self._via_value(branch, transport))

    def _forward_stateless(self, now: float, request: "Request", target: str) -> list[Action]:
        """§16.11: forward to one target; the branch is a hash, the same for every retransmission."""
        copy, strict = self._forward_copy(request, target)
        addresses = self._next_hop(copy, strict)
        if not addresses:
            return [AppEvent("proxy-drop", request.call_id or "", request, {"reason": "no route to next hop"})]
        destination = addresses[0]
        raw_vias = request.headers.get_all("Via")
        loop = self._loop_hash(request, raw_vias[0])
        suffix = _md5("\n".join([raw_vias[0], target, str(destination)]))[:10]
        branch = f"{MAGIC_COOKIE}{loop}.{suffix}"
        self._push_via(copy, branch, destination.transport)
        self.forwarded += 1
        return [
            SendMessage(copy, destination),
            AppEvent(
                "proxy-forward", request.call_id or "", copy,
                {"method": request.method, "branch": branch, "target": target,
                 "destination": str(destination), "stateless": True},
            ),
        ]

    def _forward_ack(self, now: float, ack: "Request", source: Address | None) -> list[Action]:
        """An ACK matching no transaction (the ACK of a 2xx): forward statelessly along its Route."""
        ack = ack.copy()
        if source is not None:
            self._mark_received(ack, source)
        mf = ack.max_forwards
        if mf is not None and mf <= 0:
            return [AppEvent("proxy-drop", ack.call_id or "", ack, {"reason": "ACK with Max-Forwards 0"})]
        self._preprocess_route(ack)
        targets, error = self._targets(now, ack)
        if error is not None:
            return [AppEvent("proxy-drop", ack.call_id or "", ack, {"reason": f"ACK has no target ({error})"})]
        return self._forward_stateless(now, ack, targets[0])

    # ------------------------------------------------------- stateful forwarding

    def _forward_stateful(
        self, now: float, request: "Request", source: Address, server_tx: ServerTransaction, targets: list[str]
    ) -> list[Action]:
        """§16.6-16.7: create the response context and the first branch(es)."""
        actions: list[Action] = []
        if request.method == "INVITE" and self.options.auto_trying:
            from simsip.sip.message import make_response

            # §16.2: a stateful proxy answers an INVITE with 100 at once.
            actions += self._tu(now, self.layer.send_response(now, server_tx, make_response(request, 100)), None)
        ctx = ResponseContext(server_tx, request, list(targets))
        self._contexts[server_tx.id] = ctx
        actions.append(StateChange(f"proxy {self.name} context {server_tx.id}", "Idle", "Forwarding", ctx.call_id))
        actions += self._start_branches(now, ctx)
        return actions

    def _start_branches(self, now: float, ctx: ResponseContext) -> list[Action]:
        """Start the next target (sequential) or every remaining one (parallel), then settle."""
        actions: list[Action] = []
        while ctx.pending_targets and not ctx.no_new_branches:
            if self.options.forking is ForkMode.SEQUENTIAL and ctx.active():
                break
            target = ctx.pending_targets.pop(0)
            actions += self._new_branch(now, ctx, target)
        return actions + self._maybe_finish(now, ctx)

    def _new_branch(
        self, now: float, ctx: ResponseContext, target: str, addresses: list[Address] | None = None
    ) -> list[Action]:
        """One branch to ``target`` (§16.6 items 1-11), through a new client transaction."""
        copy, strict = self._forward_copy(ctx.request, target)
        if addresses is None:
            addresses = self._next_hop(copy, strict)
        if not addresses:
            # No address for the next hop: as if the branch got 503 (RFC 3263 §4.3 exhausted).
            synthetic = self._synthetic(ctx, 503, target)
            ctx.responses.append(synthetic)
            return [AppEvent("proxy-drop", ctx.call_id, ctx.request, {"reason": f"no address for {target}"})]
        destination, fallbacks = addresses[0], list(addresses[1:])
        self._serial += 1
        loop = self._loop_hash(ctx.request, ctx.request.headers.get_all("Via")[0])
        branch_id = f"{MAGIC_COOKIE}{loop}.{self._serial}"
        self._push_via(copy, branch_id, destination.transport)
        branch = Branch(len(ctx.branches), target, copy, destination, fallbacks)
        ctx.branches.append(branch)
        return self._send_branch(now, ctx, branch)

    def _send_branch(self, now: float, ctx: ResponseContext, branch: Branch) -> list[Action]:
        """Hand the branch's request to a client transaction; arm Timer C for INVITE (§16.6 item 11)."""
        tx, results = self.layer.send_request(now, branch.request, branch.destination)
        branch.tx = tx
        self._branches[tx.id] = (ctx, branch)
        self.forwarded += 1
        actions = self._tu(now, results, None)
        actions.append(
            AppEvent(
                "proxy-forward", ctx.call_id, branch.request,
                {"method": branch.request.method, "branch": branch.branch_id, "target": branch.target,
                 "destination": str(branch.destination), "stateless": False},
            )
        )
        if branch.request.method == "INVITE":
            branch.timer_c = f"{self.name}:C:{branch.branch_id}"
            self._timers[branch.timer_c] = (ctx, branch, "C")
            actions.append(StartTimer(branch.timer_c, self.timers.timer_c, "C", ctx.call_id))
        if self.options.forking is ForkMode.SEQUENTIAL and self.options.branch_timeout is not None:
            branch.timer_limit = f"{self.name}:branch:{branch.branch_id}"
            self._timers[branch.timer_limit] = (ctx, branch, "limit")
            actions.append(StartTimer(branch.timer_limit, self.options.branch_timeout, "branch", ctx.call_id))
        return actions

    def _set_state(self, ctx: ResponseContext, branch: Branch, new: BranchState) -> list[Action]:
        """Move a branch to ``new`` and report it (for traces and ladders)."""
        old = branch.state
        if old is new:
            return []
        branch.state = new
        return [StateChange(f"proxy {self.name} branch {branch.branch_id}", old.value, new.value, ctx.call_id)]

    def _stop_branch_timers(self, branch: Branch) -> list[Action]:
        """Disarm Timer C and the sequential limit of a branch."""
        actions: list[Action] = []
        for name in (branch.timer_c, branch.timer_limit):
            if name is not None and name in self._timers:
                del self._timers[name]
                actions.append(CancelTimer(name))
        return actions

    def _synthetic(self, ctx: ResponseContext, status: int, target: str) -> "Response":
        """A response the proxy makes up for a branch (408 on timeout, 503 on transport failure)."""
        from simsip.sip.message import make_response

        return make_response(ctx.request, status, to_tag=self._new_tag())

    # ------------------------------------------------------- responses (§16.7)

    def _upstream(self, response: "Response") -> "Response":
        """§16.7 step 3: the response with our Via (the top one) removed."""
        copy = response.copy()
        copy.headers.pop_first("Via")
        return copy

    def _send_upstream(self, now: float, ctx: ResponseContext, response: "Response", branch: str | None) -> list[Action]:
        """Forward ``response`` through the server transaction (§16.7 step 8)."""
        if response.status >= 200 and _class(response.status) != 2:
            ctx.final_sent = True
        elif _class(response.status) == 2:
            ctx.final_sent = True
            # A retransmitted 2xx forwarded again counts as a retransmission.
            for earlier in ctx.forwarded_2xx:
                if earlier == response:
                    response = earlier
                    break
            else:
                ctx.forwarded_2xx.append(response)
        actions = self._tu(now, self.layer.send_response(now, ctx.server_tx, response), None)
        if any(isinstance(a, SendMessage) for a in actions):
            actions.append(
                AppEvent("proxy-response", ctx.call_id, response, {"status": response.status, "branch": branch})
            )
        else:  # the server transaction is past the point of sending it (e.g. Completed)
            actions.append(AppEvent("proxy-drop", ctx.call_id, response, {"reason": "server transaction done"}))
        return actions

    def _on_branch_response(self, now: float, ctx: ResponseContext, branch: Branch, response: "Response") -> list[Action]:
        """A response on one branch (RFC 3261 §16.7 steps 1-10)."""
        actions: list[Action] = []
        status = response.status
        if status < 200:
            if branch.state is BranchState.TRYING:
                actions += self._set_state(ctx, branch, BranchState.PROCEEDING)
            if branch.cancel_wanted and not branch.cancel_sent:
                actions += self._send_cancel(now, ctx, branch)
            if status == 100 or branch.state is BranchState.COMPLETED:
                return actions  # §16.7 step 5: 100 is not forwarded
            if branch.timer_c is not None and branch.timer_c in self._timers:
                # §16.7 step 2: Timer C restarts on every 101-199.
                actions.append(StartTimer(branch.timer_c, self.timers.timer_c, "C", ctx.call_id))
            if not ctx.final_sent:
                actions += self._send_upstream(now, ctx, self._upstream(response), branch.branch_id)
            return actions
        if _class(status) == 2:
            # §16.7 step 5: every 2xx goes up at once, even after an earlier 2xx.
            actions += self._set_state(ctx, branch, BranchState.COMPLETED)
            branch.final = response
            actions += self._stop_branch_timers(branch)
            if ctx.final_sent and not ctx.got_2xx:
                return actions + [AppEvent("proxy-drop", ctx.call_id, response, {"reason": "2xx after final sent"})]
            actions += self._send_upstream(now, ctx, self._upstream(response), branch.branch_id)
            # The context's first 2xx, even on a branch we had already given up (branch-timeout or
            # Timer C made it a 408): the 2xx went up, so the other branches are cancelled (step 10).
            if not ctx.got_2xx:
                ctx.got_2xx = True
                actions.append(StateChange(f"proxy {self.name} context {ctx.server_tx.id}", "Forwarding",
                                           "Completed", ctx.call_id))
                if ctx.request.method == "INVITE":
                    actions += self._cancel_pending(now, ctx, "2xx")
            return actions + self._maybe_finish(now, ctx)
        if branch.state is BranchState.COMPLETED:
            return actions  # the branch already ended (e.g. Timer C acted as a 408)
        if status == 503 and branch.fallbacks and branch.state is BranchState.TRYING and not ctx.no_new_branches:
            return self._failover(now, ctx, branch, "503")
        actions += self._set_state(ctx, branch, BranchState.COMPLETED)
        branch.final = response
        actions += self._stop_branch_timers(branch)
        # Kept with our Via already popped, like the responses we make up.
        ctx.responses.append(self._upstream(response))
        if _class(status) == 6 and not ctx.got_6xx:
            # §16.7 step 5: a 6xx ends forking; cancel what is pending.
            ctx.got_6xx = True
            actions += self._cancel_pending(now, ctx, "6xx")
        return actions + self._start_branches(now, ctx)

    def _on_branch_failure(self, now: float, ctx: ResponseContext, branch: Branch, kind: str) -> list[Action]:
        """A branch's client transaction timed out or failed (§16.7 step 6, §8.1.3.1)."""
        if branch.state is BranchState.COMPLETED:
            return []
        if branch.fallbacks and branch.state is BranchState.TRYING and not ctx.no_new_branches:
            return self._failover(now, ctx, branch, kind)
        actions = self._set_state(ctx, branch, BranchState.COMPLETED)
        if kind == "timeout" and ctx.request.method != "INVITE":
            # RFC 4320 §4.2: no 408 to a non-INVITE; its client timed out as this branch did.
            return actions + self._stop_branch_timers(branch) + self._start_branches(now, ctx)
        # A timeout counts as a 408 (§16.7 step 6; or the configured code, RFC 3665 §3.10's 480).
        status = self.options.timeout_code if kind == "timeout" else 503
        branch.final = self._synthetic(ctx, status, branch.target)
        ctx.responses.append(branch.final)
        return actions + self._stop_branch_timers(branch) + self._start_branches(now, ctx)

    def _failover(self, now: float, ctx: ResponseContext, branch: Branch, cause: str) -> list[Action]:
        """RFC 3263 §4.3: try the branch's next address with a new client transaction."""
        actions = self._stop_branch_timers(branch) + self._set_state(ctx, branch, BranchState.COMPLETED)
        failed = branch.destination
        addresses = branch.fallbacks
        actions.append(
            AppEvent("proxy-failover", ctx.call_id, branch.request,
                     {"target": branch.target, "failed": str(failed), "next": str(addresses[0]), "cause": cause})
        )
        return actions + self._new_branch(now, ctx, branch.target, addresses)

    def _maybe_finish(self, now: float, ctx: ResponseContext) -> list[Action]:
        """§16.7 step 4/6: with no branch pending and no target left, send the best final."""
        if ctx.active() or (ctx.pending_targets and not ctx.no_new_branches) or ctx.final_sent:
            return []
        actions: list[Action] = [
            StateChange(f"proxy {self.name} context {ctx.server_tx.id}", "Forwarding", "Completed", ctx.call_id)
        ]
        best = select_best_response(ctx.responses)
        if ctx.cancelled and best is not None and _class(best.status) == 4:
            # §16.10: cancelled upstream: the 487 of a cancelled branch answers the INVITE.
            best = next((r for r in ctx.responses if r.status == 487), best)
        if best is None:
            if ctx.got_2xx:
                return actions
            if ctx.request.method != "INVITE":
                # RFC 4320 §4.2: a non-INVITE nobody answered in time gets no final response at
                # all (never a 408); the server transaction ends without one.
                actions.append(AppEvent("proxy-drop", ctx.call_id, ctx.request,
                                        {"reason": "no final response in time (RFC 4320 §4.2: no 408)"}))
                return actions + self._tu(now, self.layer.abandon(now, ctx.server_tx), None)
            # §16.7 step 6: no final at all: 408 (or the configured code, RFC 3665 §3.10's 480).
            best = self._synthetic(ctx, self.options.timeout_code, "")
            return actions + self._send_upstream(now, ctx, best, None)
        chosen = best.copy()
        if chosen.status in (401, 407):
            # §16.7 step 7: collect every challenge of every 401/407 into the chosen one.
            for name in ("WWW-Authenticate", "Proxy-Authenticate"):
                values = [v for r in ctx.responses if r.status in (401, 407) for v in r.headers.get_all(name)]
                if values:
                    chosen.headers.set(name, values[0])
                    for value in values[1:]:
                        chosen.headers.add(name, value)
        if chosen.status == 503:
            # §16.7 step 6: a 503 is not passed upstream; 500 instead.
            from simsip.sip.message import make_response

            replacement = make_response(ctx.request, 500, to_tag=_tag_of(chosen.to) or None)
            chosen = replacement
        return actions + self._send_upstream(now, ctx, chosen, None)

    # ------------------------------------------------------- CANCEL (§16.10, step 10)

    def _cancel_pending(self, now: float, ctx: ResponseContext, cause: str) -> list[Action]:
        """CANCEL every branch still without a final (§16.7 step 10, §16.10)."""
        actions: list[Action] = []
        cancelled = []
        for branch in ctx.active():
            if branch.cancel_wanted:
                continue
            branch.cancel_wanted = True
            cancelled.append(branch.branch_id)
            actions += self._stop_branch_timers(branch) if branch.request.method != "INVITE" else []
            if branch.state is BranchState.PROCEEDING:
                actions += self._send_cancel(now, ctx, branch)
        ctx.pending_targets.clear()
        if cancelled:
            actions.append(AppEvent("proxy-cancel", ctx.call_id, None, {"branches": cancelled, "cause": cause}))
        return actions

    def _send_cancel(self, now: float, ctx: ResponseContext, branch: Branch) -> list[Action]:
        """Build and send the CANCEL of one branch (RFC 3261 §9.1) in its own client transaction."""
        from simsip.sip.message import CSeq, Headers, Request

        if branch.request.method != "INVITE":
            return []
        invite = branch.request
        headers = Headers()
        headers.add("Via", invite.headers.get_all("Via")[0])
        for route in invite.headers.get_all("Route"):
            headers.add("Route", route)
        headers.add("Max-Forwards", str(DEFAULT_MAX_FORWARDS))
        headers.add("From", invite.headers.get("From"))
        headers.add("To", invite.headers.get("To"))
        headers.add("Call-ID", invite.headers.get("Call-ID"))
        headers.add("CSeq", str(CSeq(invite.cseq.seq, "CANCEL")))
        cancel = Request("CANCEL", invite.uri, headers)
        branch.cancel_sent = True
        tx, results = self.layer.send_request(now, cancel, branch.destination)
        self._cancels.add(tx.id)
        return self._tu(now, results, None)

    def _on_cancel(
        self, now: float, cancel: "Request", source: Address, cancel_tx: ServerTransaction, ctx: ResponseContext
    ) -> list[Action]:
        """§16.10: 200 for the CANCEL, then CANCEL every pending branch."""
        actions = self._reply(now, cancel, source, cancel_tx, 200, event=False)
        ctx.cancelled = True
        return actions + self._cancel_pending(now, ctx, "upstream") + self._maybe_finish(now, ctx)

    def _on_timer_c(self, now: float, ctx: ResponseContext, branch: Branch) -> list[Action]:
        """§16.8: Timer C fired: CANCEL a branch that had a provisional, else treat it as 408."""
        branch.timer_c = None
        if branch.state is BranchState.COMPLETED:
            return []
        if branch.state is BranchState.PROCEEDING and not branch.cancel_sent:
            actions: list[Action] = [
                AppEvent("proxy-timer-c", ctx.call_id, None, {"branch": branch.branch_id, "action": "cancel"})
            ]
            branch.cancel_wanted = True
            return actions + self._send_cancel(now, ctx, branch)
        actions = [AppEvent("proxy-timer-c", ctx.call_id, None, {"branch": branch.branch_id, "action": "408"})]
        actions += self._set_state(ctx, branch, BranchState.COMPLETED)
        branch.final = self._synthetic(ctx, self.options.timeout_code, branch.target)
        ctx.responses.append(branch.final)
        return actions + self._stop_branch_timers(branch) + self._start_branches(now, ctx)

    def _on_branch_limit(self, now: float, ctx: ResponseContext, branch: Branch) -> list[Action]:
        """Sequential forking: the branch had its time (``branch_timeout``): CANCEL it, go on."""
        branch.timer_limit = None
        if branch.state is BranchState.COMPLETED or branch.cancel_sent:
            # Already CANCELled (upstream CANCEL, a 2xx or 6xx elsewhere, Timer C): its 487 ends the
            # branch. A second CANCEL would be a second client transaction with the same branch and
            # method, which no response can match (§17.1.3): it would retransmit until Timer F.
            return []
        actions = self._stop_branch_timers(branch)
        branch.cancel_wanted = True
        if branch.state is BranchState.PROCEEDING:
            actions += self._send_cancel(now, ctx, branch)
        actions += self._set_state(ctx, branch, BranchState.COMPLETED)
        branch.final = self._synthetic(ctx, self.options.timeout_code, branch.target)
        ctx.responses.append(branch.final)
        actions.append(AppEvent("proxy-cancel", ctx.call_id, None, {"branches": [branch.branch_id], "cause": "branch-timeout"}))
        return actions + self._start_branches(now, ctx)

    # ------------------------------------------------------- stateless responses

    def _is_our_via(self, via: "Via") -> bool:
        """The Via names this proxy: our host and port (5060 when it has none)."""
        return via.host.lower() == self.options.host.lower() and (via.port or 5060) == self.options.port

    def _forwarded_by_us(self, response: "Response") -> bool:
        """Our Via on top and another below: the response to a request we forwarded (not one we sent)."""
        vias = response.vias
        return len(vias) >= 2 and self._is_our_via(vias[0])

    def _stateless_response(self, now: float, response: "Response") -> list[Action]:
        """§16.11: pop our Via and send to the next one's address; drop what is not ours."""
        vias = response.vias
        call_id = response.call_id or ""
        if not vias:
            return [AppEvent("proxy-drop", call_id, response, {"reason": "response without Via"})]
        top = vias[0]
        if top.host.lower() != self.options.host.lower():
            return [AppEvent("proxy-drop", call_id, response, {"reason": "top Via is not ours"})]
        if len(vias) < 2:
            return [AppEvent("proxy-drop", call_id, response, {"reason": "response for the proxy itself"})]
        copy = self._upstream(response)
        return [
            SendMessage(copy, _via_address(vias[1])),
            AppEvent("proxy-response", call_id, copy, {"status": response.status, "branch": top.branch}),
        ]

    # ------------------------------------------------------- registrar

    def _register(
        self, now: float, request: "Request", source: Address, server_tx: ServerTransaction | None
    ) -> list[Action]:
        """A REGISTER for our domain: the registrar answers (RFC 3261 §10.3)."""
        assert self.registrar is not None
        response = self.registrar.handle(now, request)
        event = AppEvent(
            "registered", request.call_id or "", response,
            {"aor": aor_key(request.to.uri), "status": response.status,
             "contacts": response.headers.get_all("Contact")},
        )
        if server_tx is not None:
            return self._tu(now, self.layer.send_response(now, server_tx, response), None) + [event]
        return [SendMessage(response, source), event]

