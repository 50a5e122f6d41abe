"""The scenario model (IR): what a `.sip` or YAML scenario means, fully resolved.

Both surfaces (the Lark `.sip` language and YAML) compile to these frozen,
typed dataclasses; the engine consumes nothing else. Conventions:

* Durations are float **seconds**; percentages are **fractions** (10 % -> 0.1);
  rates are per second; bandwidth is bits per second.
* ``$param`` references are resolved at load time (with ``--param`` overrides
  applied). Which field came from which param is kept in ``refs`` (field name ->
  param name) so ``simsip convert`` writes ``$param`` back; ``refs`` take part in
  equality, ``span`` does not, so the `.sip` and `.yaml` of one scenario are equal.
* Every item carries ``span`` (file, line, col) of the text it came from, so the
  engine can point at a line ("file:3:1: handler never fired").

Routing, as agreed in TEAM.md ("How calls find their way"): every node has a
``host`` (default: its name); a UA's address-of-record is
``sip:<name>@<domain or host>``; a proxy serves ``domains`` and finds contacts in
``Scenario.locations`` and in REGISTER bindings when it is a ``registrar``.

Main classes: :class:`Scenario` (the root), :class:`Param`, :class:`Timers`,
nodes (:class:`UserAgent`, :class:`Proxy`, :class:`RedirectServer`,
:class:`B2BUA`), :class:`Location`, :class:`Link` with a delay
:data:`Distribution` and a :data:`Loss`, :class:`Handler` (an :class:`Event`
and a tuple of :data:`Action`), the workload (:class:`Call`,
:class:`CallStream`, :class:`Registration`, :class:`StandaloneRequest`),
faults (:class:`LinkDown`, :class:`LinkUp`, :class:`NodeCrash`,
:class:`NodeRestart`, :class:`Drop`), :class:`Expectation` and
:class:`RunLimits`.
"""

from __future__ import annotations

import enum
import math
import operator
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Callable, Union

from simsip.sip.events import Transport
from simsip.sip.timers import DEFAULT_T1, DEFAULT_T2, DEFAULT_T4, TimerConfig

__all__ = [
    "Span", "NOWHERE", "Item", "ParamKind", "Param", "Timers", "Transport",
    "NodeKind", "Credentials", "UserAgent", "ProxyMode", "Forking", "ProxyAuth",
    "Proxy", "RedirectServer", "B2BUA", "SipNode", "Location",
    "Constant", "Uniform", "Normal", "LogNormal", "Exponential", "Distribution",
    "Bernoulli", "GilbertForm", "GilbertElliott", "Loss", "Link",
    "EventKind", "Event", "MessagePattern",
    "SendResponse", "Wait", "Hangup", "Bye", "Cancel", "Reinvite", "Ignore", "SendPrack",
    "RegisterMode", "Register", "Action", "Handler",
    "Pick", "Pool", "Arrival", "Call", "CallStream", "Registration",
    "StandaloneRequest", "WorkloadItem",
    "LinkDown", "LinkUp", "NodeCrash", "NodeRestart", "Drop", "Fault",
    "Outcome", "MeasureKind", "MEASURES", "Statistic", "Comparison", "Expectation",
    "RunLimits", "Scenario", "to_json",
]


# ----------------------------------------------------------------- positions


@dataclass(frozen=True)
class Span:
    """Where an item was written: file name, 1-based line and column."""

    file: str
    """The file name as given to ``load`` (``"<text>"`` for a string)."""
    line: int
    """1-based line number."""
    col: int
    """1-based column number."""

    def __str__(self) -> str:
        """Render as ``file:line:col``."""
        return f"{self.file}:{self.line}:{self.col}"


NOWHERE = Span("<built>", 0, 0)
"""The span of items built in code rather than read from a file."""


@dataclass(frozen=True, kw_only=True)
class Item:
    """Base of every model item: a source position and the param references."""

    span: Span = field(default=NOWHERE, compare=False, repr=False)
    """Source position; excluded from equality so both surfaces compare equal."""
    refs: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """``(field name, param name)`` for each field whose value came from ``$param``."""

    def ref(self, field_name: str) -> str | None:
        """The param a field was written as (``"delay"`` for ``$delay``), or None."""
        for name, param in self.refs:
            if name == field_name:
                return param
        return None


# -------------------------------------------------------------------- params


class ParamKind(enum.Enum):
    """The type of a param, taken from how its default is written."""

    DURATION = "duration"
    """``50ms``, ``2s``, ``1min``: stored as float seconds."""
    PERCENT = "percent"
    """``10%``: stored as a fraction (0.1)."""
    RATE = "rate"
    """``20/s``, ``600/min``: stored as events per second."""
    BANDWIDTH = "bandwidth"
    """``64kbps``, ``2Mbps``: stored as bits per second."""
    INTEGER = "integer"
    """``1000``: a whole number (counts, response codes)."""
    NUMBER = "number"
    """``1.5``: a plain real number (Gilbert burst lengths, lognormal sigma)."""
    STRING = "string"
    """``"text"``: a quoted string."""


@dataclass(frozen=True)
class Param(Item):
    """``param NAME = DEFAULT``: a value users override (``--param name=value``)."""

    name: str
    """The param's name, used as ``$name``."""
    kind: ParamKind
    """Its type, fixed by the default; overrides must have the same type."""
    default: float | int | str
    """The default in model units (seconds, fraction, per second, bit/s)."""
    value: float | int | str
    """The value in effect for this load: the override if given, else the default."""
    text: str
    """The default as written (``"10%"``), so ``convert`` writes it back unchanged."""


# -------------------------------------------------------------------- timers


@dataclass(frozen=True)
class Timers(Item):
    """``timers T1=500ms T2=4s T4=5s``: the RFC 3261 base timers for every element."""

    t1: float = DEFAULT_T1
    """T1, RTT estimate (s); RFC 3261 §17.1.1.1."""
    t2: float = DEFAULT_T2
    """T2, cap on non-INVITE / 2xx retransmit interval (s)."""
    t4: float = DEFAULT_T4
    """T4, max time a message stays in the network (s)."""

    def config(self) -> TimerConfig:
        """The :class:`simsip.sip.timers.TimerConfig` these values define."""
        return TimerConfig(t1=self.t1, t2=self.t2, t4=self.t4)


# --------------------------------------------------------------------- nodes


class NodeKind(enum.Enum):
    """What kind of SIP element a node is."""

    UA = "ua"
    PROXY = "proxy"
    REDIRECT = "redirect"
    B2BUA = "b2bua"


@dataclass(frozen=True)
class Credentials(Item):
    """A digest user name and password (``bob:secret``), optionally for one realm."""

    user: str
    """Digest user name."""
    password: str
    """Digest password (a UA sends it; a proxy/registrar checks it)."""
    realm: str | None = None
    """Realm the credentials are for; None: answer any realm's challenge."""


class _HostNamed:
    """A node's ``host_name``: its ``host`` if set, else its name (Via, Contact, Record-Route)."""

    @property
    def host_name(self) -> str:
        """The host used in Via/Contact/Record-Route: ``host`` or the node name."""
        return self.host or self.name  # type: ignore[attr-defined]


@dataclass(frozen=True)
class UserAgent(Item, _HostNamed):
    """``ua NAME [options]``: an endpoint that places and answers calls."""

    name: str
    """Node name, unique in the scenario; also the user part of its AOR."""
    host: str | None = None
    """Host name in Via/Contact (``host pc33.atlanta.example.com``); None: the name."""
    domain: str | None = None
    """Domain of its address-of-record; None: its host."""
    supports: tuple[str, ...] = ()
    """Option tags put in Supported (``supports 100rel``)."""
    requires: tuple[str, ...] = ()
    """Option tags put in Require of the INVITEs it sends (as UAS it answers without 100rel
    support unreliably rather than 421: RFC 3261 §8.2.2.3 calls that 421 NOT RECOMMENDED)."""
    auto_prack: bool = True
    """Send PRACK automatically for reliable provisionals (``no-auto-prack``: off)."""
    auto_trying: bool = True
    """UAS sends 100 Trying if the application has not answered within 200 ms."""
    answer_sdp: bool = True
    """Put an SDP answer (or offer, if the INVITE had none) in its 2xx (``no-answer-sdp``)."""
    outbound: tuple[str, ...] = ()
    """Outbound proxy node names in order; later ones are the fallback (RFC 3263 §4.3)."""
    credentials: tuple[Credentials, ...] = ()
    """Digest credentials it answers 401/407 challenges with."""
    kind: NodeKind = field(default=NodeKind.UA, init=False)
    """Always :attr:`NodeKind.UA`."""

    @property
    def aor(self) -> str:
        """The address-of-record ``sip:name@domain`` (domain defaults to the host)."""
        return f"sip:{self.name}@{self.domain or self.host_name}"


class ProxyMode(enum.Enum):
    """Whether a proxy keeps transaction state (RFC 3261 §16.11 vs §16)."""

    STATELESS = "stateless"
    STATEFUL = "stateful"


class Forking(enum.Enum):
    """How a proxy tries several contacts of one AOR (RFC 3261 §16.6)."""

    PARALLEL = "parallel"
    SEQUENTIAL = "sequential"


@dataclass(frozen=True)
class ProxyAuth(Item):
    """``auth realm R users a:pw, b:pw``: digest challenges (407 by a proxy, 401 by a registrar)."""

    realm: str
    """The realm in the challenge."""
    users: tuple[Credentials, ...] = ()
    """Accepted user names and passwords."""


@dataclass(frozen=True)
class Proxy(Item, _HostNamed):
    """``proxy NAME stateless|stateful [options]``: a proxy, optionally registrar."""

    name: str
    """Node name, unique in the scenario."""
    mode: ProxyMode = ProxyMode.STATEFUL
    """Stateless or transaction-stateful."""
    host: str | None = None
    """Host name in Via/Record-Route; None: the node name."""
    domains: tuple[str, ...] = ()
    """Domains it is responsible for (``domain biloxi.example.com``)."""
    record_route: bool = False
    """Insert Record-Route so in-dialog requests pass through it."""
    forking: Forking = Forking.PARALLEL
    """How several contacts are tried."""
    registrar: bool = False
    """Also a registrar for its domains: accepts REGISTER and keeps bindings."""
    auth: ProxyAuth | None = None
    """Digest authentication it demands; None: no challenges."""
    auto_trying: bool = True
    """A stateful proxy answers INVITE with 100 Trying, and a non-INVITE still unanswered when the
    client's Timer E reached T2 (RFC 4320 §4.1) (``no-trying``: off)."""
    timeout_code: int = 408
    """Response it sends when no branch answered (RFC 3261 §16.7: 408; RFC 3665 §3.10 shows 480)."""
    branch_timeout: float | None = None
    """Sequential forking: give up on a branch after this many seconds; None: Timer C / B."""
    kind: NodeKind = field(default=NodeKind.PROXY, init=False)
    """Always :attr:`NodeKind.PROXY`."""


@dataclass(frozen=True)
class RedirectServer(Item, _HostNamed):
    """``redirect NAME [options]``: answers INVITE with 3xx listing the location's contacts."""

    name: str
    """Node name, unique in the scenario."""
    host: str | None = None
    """Host name; None: the node name."""
    domains: tuple[str, ...] = ()
    """Domains it answers for."""
    code: int = 302
    """The 3xx code it sends (RFC 3665 §3.6: 302 Moved Temporarily)."""
    kind: NodeKind = field(default=NodeKind.REDIRECT, init=False)
    """Always :attr:`NodeKind.REDIRECT`."""


@dataclass(frozen=True)
class B2BUA(Item, _HostNamed):
    """``b2bua NAME [options]``: a back-to-back UA such as RFC 3665 §3.5's SIP ALG."""

    name: str
    """Node name, unique in the scenario (``alg`` in RFC 3665 §3.5)."""
    host: str | None = None
    """Host name; None: the node name."""
    domains: tuple[str, ...] = ()
    """Domains it serves."""
    outbound: tuple[str, ...] = ()
    """Next-hop proxies for its outgoing leg; empty: resolve the Request-URI."""
    rewrite_sdp: bool = True
    """Rewrite SDP connection addresses to itself (an ALG anchoring media)."""
    kind: NodeKind = field(default=NodeKind.B2BUA, init=False)
    """Always :attr:`NodeKind.B2BUA`."""


SipNode = Union[UserAgent, Proxy, RedirectServer, B2BUA]
"""Any node of the scenario (discriminate with ``.kind``)."""


@dataclass(frozen=True)
class Location(Item):
    """``location AOR -> contact, ...``: a static location-service entry (several = forking)."""

    aor: str
    """The address-of-record, normalised to ``sip:user@domain``."""
    contacts: tuple[str, ...]
    """Contacts in priority order: node names (their contact) or ``sip:`` URIs."""


# ------------------------------------------------------------- distributions


@dataclass(frozen=True)
class Constant(Item):
    """A fixed value (seconds for delays)."""

    value: float
    """The value (s)."""

    @property
    def mean(self) -> float:
        """The mean (the value itself)."""
        return self.value


@dataclass(frozen=True)
class Uniform(Item):
    """``uniform(low, high)``: uniform on [low, high]."""

    low: float
    """Smallest value (s)."""
    high: float
    """Largest value (s), >= low."""

    @property
    def mean(self) -> float:
        """The mean (low + high) / 2."""
        return (self.low + self.high) / 2


@dataclass(frozen=True)
class Normal(Item):
    """``normal(mean, sd)``: Gaussian; the engine truncates draws below 0 to 0."""

    mean: float
    """Mean (s)."""
    sd: float
    """Standard deviation (s)."""


@dataclass(frozen=True)
class LogNormal(Item):
    """``lognormal(mean, sd)``: log-normal with this mean and standard deviation (not mu/sigma)."""

    mean: float
    """Mean of the draws (s), > 0."""
    sd: float
    """Standard deviation of the draws (s)."""

    def mu_sigma(self) -> tuple[float, float]:
        """``(mu, sigma)`` of the underlying normal, for ``random.lognormvariate``.

        sigma is 0 when there is no spread (or no mean): the delay is then the mean.
        """
        if self.sd <= 0.0 or self.mean <= 0.0:
            return (math.log(self.mean) if self.mean > 0.0 else -math.inf), 0.0
        sigma = math.sqrt(math.log(1.0 + (self.sd / self.mean) ** 2))
        return math.log(self.mean) - 0.5 * sigma * sigma, sigma


@dataclass(frozen=True)
class Exponential(Item):
    """``exponential(mean)``: exponential with this mean (rate 1/mean)."""

    mean: float
    """Mean (s), > 0."""


Distribution = Union[Constant, Uniform, Normal, LogNormal, Exponential]
"""A random (or constant) duration in seconds: link delays, ``wait``."""


# ---------------------------------------------------------------------- loss


@dataclass(frozen=True)
class Bernoulli(Item):
    """``loss 5%``: each message is lost independently with probability ``p``."""

    p: float = 0.0
    """Loss probability (fraction)."""


class GilbertForm(enum.Enum):
    """How a Gilbert–Elliott loss was written (``convert`` keeps the form)."""

    PR = "pr"
    """``gilbert(p=.., r=..)``."""
    RATE_BURST = "rate_burst"
    """``gilbert(rate=.., burst=..)``."""


@dataclass(frozen=True)
class GilbertElliott(Item):
    """Two-state bursty loss; pure Gilbert (default): every message in Bad is lost, none in Good.

    ``p`` = P(Good -> Bad) per message, ``r`` = P(Bad -> Good); mean loss
    ``rate = p / (p + r)``, mean burst length ``burst = 1 / r`` messages.
    Both pairs are stored, whichever was written.
    """

    p: float
    """P(Good -> Bad) per message (fraction)."""
    r: float
    """P(Bad -> Good) per message (fraction)."""
    rate: float
    """Stationary loss rate p / (p + r) (fraction)."""
    burst: float
    """Mean burst length 1 / r (messages)."""
    form: GilbertForm = GilbertForm.PR
    """Which pair the author wrote."""
    loss_good: float = 0.0
    """Loss probability in the Good state (``good=`` in ``gilbert(...)``; pure Gilbert: 0)."""
    loss_bad: float = 1.0
    """Loss probability in the Bad state (``bad=``; pure Gilbert: 1)."""


Loss = Union[Bernoulli, GilbertElliott]
"""A link's loss model."""


# --------------------------------------------------------------------- links


@dataclass(frozen=True)
class Link(Item):
    """``link a <-> b delay D [jitter J] [loss L] [duplicate P] [reorder P] [bandwidth B] [transport T]``.

    A one-way ``link a -> b`` describes only that direction. Each message's
    one-way delay is ``delay`` drawn, plus jitter uniform in +-``jitter``
    (clipped at 0), plus size/bandwidth (as simsip.net implements it).
    """

    a: str
    """One end (node name)."""
    b: str
    """The other end (node name)."""
    bidirectional: bool = True
    """``<->`` (both directions, each with its own random streams) or ``->`` (a to b only)."""
    delay: Distribution = field(default_factory=lambda: Constant(0.0))
    """One-way propagation delay (s)."""
    jitter: float = 0.0
    """Delay variation: uniform in +-jitter per message, total clipped at 0 (s); can reorder."""
    loss: Loss = field(default_factory=Bernoulli)
    """Loss model."""
    duplicate: float = 0.0
    """Probability a message is delivered twice (fraction)."""
    reorder: float = 0.0
    """Probability a message is held back by ``reorder_delay`` so later ones overtake it."""
    reorder_delay: float | None = None
    """Hold-back time for reordered messages (s, ``reorder 5% by 30ms``); None: one mean delay."""
    bandwidth: float | None = None
    """Serialisation rate in bit/s; None: infinite."""
    transport: Transport | None = None
    """Transport of SIP hops over this link; None: the scenario's transport."""


# -------------------------------------------------------------- behaviours


class EventKind(enum.Enum):
    """What a handler (``on NODE EVENT:``) reacts to."""

    REQUEST = "request"
    """An initial (out-of-dialog) request of ``method`` was received (``INVITE``, ``CANCEL``)."""
    REINVITE = "reinvite"
    """An in-dialog INVITE was received (``re-INVITE``); the handler answers it (else the core sends 200)."""
    RESPONSE = "response"
    """A response with exactly ``code`` to a ``method`` request was received (``180``)."""
    RESPONSE_CLASS = "response_class"
    """A response in ``code_class`` (``2xx``, ``18x``) to a ``method`` request was received."""
    TIMEOUT = "timeout"
    """A client transaction of this node timed out (Timer B/F)."""
    CALL_ENDED = "call_ended"
    """One of the node's calls ended (BYE done, rejected, cancelled, timed out)."""


@dataclass(frozen=True)
class Event(Item):
    """The trigger of a handler. Responses match only responses to ``method``."""

    kind: EventKind
    """Which kind of event."""
    method: str | None = None
    """REQUEST: the method; RESPONSE/_CLASS: the request method (CSeq) answered, default INVITE."""
    code: int | None = None
    """RESPONSE: the exact status code."""
    code_class: str | None = None
    """RESPONSE_CLASS: the pattern as written, ``"2xx"`` or ``"18x"``."""
    reinvite: bool = False
    """RESPONSE/_CLASS: answers to re-INVITEs (``on alice 200 to re-INVITE``); False: answers to
    ``method`` outside re-INVITEs, so ``on alice 200`` is the call's initial INVITE only."""

    def matches_code(self, code: int) -> bool:
        """True if a response ``code`` matches this event's code or class."""
        if self.kind is EventKind.RESPONSE:
            return code == self.code
        if self.kind is EventKind.RESPONSE_CLASS and self.code_class:
            return _class_matches(self.code_class, code)
        return False


def _class_matches(pattern: str, code: int) -> bool:
    """True if ``code`` fits a class pattern such as ``2xx`` or ``18x``."""
    text = str(code)
    return len(text) == len(pattern) and all(p == "x" or p == c for p, c in zip(pattern, text))


@dataclass(frozen=True)
class MessagePattern(Item):
    """Which message a ``drop`` fault matches: a method, a code or a class."""

    method: str | None = None
    """A request method (``ACK``), or None."""
    code: int | None = None
    """An exact response code (``180``), or None."""
    code_class: str | None = None
    """A response class (``18x``, ``2xx``), or None."""
    cseq_method: str | None = None
    """Responses only: the method they answer (``drop 200 to PRACK``); None: any."""

    def matches(self, method: str | None, code: int | None, cseq_method: str | None = None) -> bool:
        """True if a request ``method`` or a response ``code`` (to ``cseq_method``) matches."""
        if self.method is not None:
            return method == self.method and code is None
        if code is None:
            return False
        if self.cseq_method is not None and cseq_method != self.cseq_method:
            return False
        if self.code is not None:
            return code == self.code
        return self.code_class is not None and _class_matches(self.code_class, code)


@dataclass(frozen=True)
class SendResponse(Item):
    """``send CODE ["reason"] [reliable] [sdp]``: answer the request that triggered the handler."""

    code: int
    """Status code 100–699 (not 100 when reliable)."""
    reliable: bool = False
    """Send a 1xx reliably (RFC 3262: Require: 100rel, RSeq, retransmit until PRACK)."""
    sdp: bool = False
    """Put SDP in it (early media with 183; in a 2xx the answer is automatic unless ``no-answer-sdp``)."""
    reason: str | None = None
    """Reason phrase; None: the standard one for the code."""


@dataclass(frozen=True)
class Wait(Item):
    """``wait DURATION``: pause the handler (a constant or a random duration)."""

    duration: Distribution
    """How long (s)."""


@dataclass(frozen=True)
class Hangup(Item):
    """``hangup``: end the call (BYE, or before the final response CANCEL / 603).

    BYE on a confirmed dialog; before the final response the caller CANCELs
    (RFC 3261 §9.1, §15) and the callee answers 603.
    """


@dataclass(frozen=True)
class Bye(Item):
    """``bye``: BYE the call's early or confirmed dialogs, leaving the INVITE transaction to finish.

    RFC 3261 §15: a caller MAY BYE an early dialog (RFC 5407 §3.1.3); the
    INVITE transaction then finishes on its own.
    """


@dataclass(frozen=True)
class Cancel(Item):
    """``cancel``: CANCEL the node's pending INVITE."""


@dataclass(frozen=True)
class Reinvite(Item):
    """``reinvite [no-sdp] [contact URI]``: send a re-INVITE in the node's dialog."""

    sdp: bool = True
    """Carry a new SDP offer (version incremented)."""
    contact: str | None = None
    """New Contact URI, for a re-INVITE after an address change (RFC 3665 §3.7); None: unchanged."""


@dataclass(frozen=True)
class Ignore(Item):
    """``ignore``: do not answer the triggering request (no automatic response)."""


@dataclass(frozen=True)
class SendPrack(Item):
    """``prack``: PRACK the triggering reliable provisional (for ``no-auto-prack`` UAs)."""


class RegisterMode(enum.Enum):
    """What a REGISTER asks for (RFC 3261 §10.2)."""

    BIND = "bind"
    """Add/refresh bindings: Contact = ``contacts`` (or the UA's own contact)."""
    QUERY = "query"
    """No Contact header: ask for the current bindings (RFC 3665 §2.3)."""
    REMOVE_ALL = "remove_all"
    """``Contact: *`` with Expires 0 (RFC 3665 §2.4)."""


@dataclass(frozen=True)
class Register(Item):
    """``register [query|remove-all] [contact URI, ...] [expires D]`` as a handler action."""

    mode: RegisterMode = RegisterMode.BIND
    """Bind, query or remove all."""
    contacts: tuple[str, ...] = ()
    """Contact URIs to bind; empty: the UA's own contact."""
    expires: float | None = None
    """Expires (s); None: leave it to the registrar's default (3600 s)."""


Action = Union[SendResponse, Wait, Hangup, Bye, Cancel, Reinvite, Ignore, SendPrack, Register]
"""An application decision inside a handler."""


@dataclass(frozen=True)
class Handler(Item):
    """``on NODE EVENT:`` and an indented block of actions, run in order."""

    node: str
    """The node whose application reacts."""
    event: Event
    """What triggers it."""
    actions: tuple[Action, ...]
    """What it does, in order (``wait`` pauses)."""


# ------------------------------------------------------------------ workload


class Pick(enum.Enum):
    """How a stream picks a member of a pool for each call."""

    ROUND_ROBIN = "round-robin"
    RANDOM = "random"


@dataclass(frozen=True)
class Pool(Item):
    """Callers or callees of a stream: ``alice``, ``agent*`` or ``[alice, carol]``."""

    members: tuple[str, ...]
    """Node names (patterns already expanded, in scenario order), or one ``sip:`` URI."""
    pattern: str | None = None
    """The glob as written (``agent*``), or None for a name or list."""


class Arrival(enum.Enum):
    """Arrival process of a call stream."""

    POISSON = "poisson"
    """Exponential inter-arrival times with mean 1/rate."""
    FIXED = "fixed"
    """One call every ``interval`` seconds."""


@dataclass(frozen=True)
class Call(Item):
    """``call a -> b at T [require 100rel] [supported 100rel] [no-sdp]``: one INVITE."""

    caller: str
    """The calling UA (node name)."""
    callee: str
    """A UA node name (its AOR is called) or a ``sip:`` URI."""
    at: float = 0.0
    """When the INVITE is sent (s)."""
    require: tuple[str, ...] = ()
    """Option tags for Require (added to the caller's own)."""
    supported: tuple[str, ...] = ()
    """Option tags for Supported (added to the caller's own)."""
    sdp: bool = True
    """Offer in the INVITE; False: no SDP, offer in 2xx, answer in ACK (RFC 3665 §3.6)."""


@dataclass(frozen=True)
class CallStream(Item):
    """``calls POOL -> POOL poisson RATE | every D [at T] [for D] [count N] [pick random]``."""

    callers: Pool
    """Who calls."""
    callees: Pool
    """Who is called."""
    arrival: Arrival
    """Poisson or fixed-interval arrivals."""
    rate: float | None = None
    """POISSON: calls per second."""
    interval: float | None = None
    """FIXED: seconds between calls."""
    start: float = 0.0
    """Time of the first possible arrival (s)."""
    duration: float | None = None
    """Stop generating after this long (s); None: only ``count`` limits."""
    count: int | None = None
    """Stop after this many calls; None: only ``duration`` limits."""
    pick: Pick = Pick.ROUND_ROBIN
    """How callers/callees are chosen from their pools."""
    require: tuple[str, ...] = ()
    """Option tags for Require."""
    supported: tuple[str, ...] = ()
    """Option tags for Supported."""
    sdp: bool = True
    """Offer in the INVITE."""


@dataclass(frozen=True)
class Registration(Item):
    """``register UA at T [query|remove-all] [contact ...] [expires D]``: one REGISTER."""

    ua: str
    """The registering UA."""
    at: float = 0.0
    """When it is sent (s)."""
    mode: RegisterMode = RegisterMode.BIND
    """Bind, query or remove all."""
    contacts: tuple[str, ...] = ()
    """Contact URIs; empty with BIND: the UA's own contact."""
    expires: float | None = None
    """Expires (s); None: registrar default."""
    registrar: str | None = None
    """Registrar node; None: the registrar serving the UA's domain."""


@dataclass(frozen=True)
class StandaloneRequest(Item):
    """``request METHOD a -> b at T [rack "1 1 INVITE"]``: an OPTIONS probe or a forged request.

    A PRACK with ``rack`` is forged: it copies Call-ID and tags from the
    target's newest early dialog and carries this RAck (RFC 3262 §9 attack).
    """

    method: str
    """The request method (``OPTIONS``, ``PRACK``, ...)."""
    source: str
    """Sending node."""
    target: str
    """A node name or ``sip:`` URI."""
    at: float = 0.0
    """When it is sent (s)."""
    rack: str | None = None
    """RAck value for a forged PRACK (``"1 1 INVITE"``)."""


WorkloadItem = Union[Call, CallStream, Registration, StandaloneRequest]
"""Anything the workload starts."""


# -------------------------------------------------------------------- faults


@dataclass(frozen=True)
class LinkDown(Item):
    """``at T link a <-> b down [for D]``: both directions drop everything."""

    a: str
    """One end of the link."""
    b: str
    """The other end."""
    at: float
    """When it goes down (s)."""
    duration: float | None = None
    """Up again after this long (s); None: stays down (until a ``LinkUp``)."""


@dataclass(frozen=True)
class LinkUp(Item):
    """``at T link a <-> b up``: a link that was down carries messages again."""

    a: str
    """One end of the link."""
    b: str
    """The other end."""
    at: float
    """When it comes up (s)."""


@dataclass(frozen=True)
class NodeCrash(Item):
    """``at T node x crash [for D]``: the node loses all state and ignores messages."""

    node: str
    """The node that crashes."""
    at: float
    """When (s)."""
    duration: float | None = None
    """Restarts (empty) after this long (s); None: stays down (until a ``NodeRestart``)."""


@dataclass(frozen=True)
class NodeRestart(Item):
    """``at T node x restart``: a crashed node comes back with no state."""

    node: str
    """The node that restarts."""
    at: float
    """When (s)."""


@dataclass(frozen=True)
class Drop(Item):
    """``drop [all] MSG [to METHOD] a -> b [count N] [after T]``: lose chosen transmissions of one SIP hop.

    Matches each transmission (retransmissions count) sent by node ``source``
    to node ``target`` from time ``after`` on; drops the first ``count``.
    """

    message: MessagePattern
    """Which messages."""
    source: str
    """Sending node."""
    target: str
    """Receiving node (the SIP next hop)."""
    count: int | None = 1
    """How many to drop; None: all of them (``drop all``)."""
    after: float = 0.0
    """Only transmissions at or after this time (s)."""


Fault = Union[LinkDown, LinkUp, NodeCrash, NodeRestart, Drop]
"""A scheduled fault."""


# -------------------------------------------------------------- expectations


class Outcome(enum.Enum):
    """Per-call outcome (DESIGN.md "Measures")."""

    ANSWERED = "answered"
    REJECTED = "rejected"
    TIMEOUT = "timeout"
    RELIABILITY_FAILURE = "reliability_failure"
    CANCELLED = "cancelled"
    INCOMPLETE = "incomplete"
    """The run ended before the call did (``stop at``, ``--until``, ``max events``)."""


class MeasureKind(enum.Enum):
    """The type of a measure, which fixes how ``expect`` values are written."""

    DURATION_MS = "duration_ms"
    """Milliseconds; ``expect`` accepts units (``4s``) and converts to ms."""
    COUNT = "count"
    """A whole number."""
    CODE = "code"
    """A SIP status code."""
    OUTCOME = "outcome"
    """An :class:`Outcome`."""


MEASURES: dict[str, MeasureKind] = {
    "outcome": MeasureKind.OUTCOME,
    "final_code": MeasureKind.CODE,
    "final_ms": MeasureKind.DURATION_MS,
    "pdd_ms": MeasureKind.DURATION_MS,
    "invite_retransmissions": MeasureKind.COUNT,
    "reliable_1xx_retransmissions": MeasureKind.COUNT,
    "prack_retransmissions": MeasureKind.COUNT,
    "prack_count": MeasureKind.COUNT,
    "ok_retransmissions": MeasureKind.COUNT,
    "messages_sent": MeasureKind.COUNT,
    "messages_lost": MeasureKind.COUNT,
}
"""Every measure ``expect`` may name (DESIGN.md "Measures"), with its type."""


class Statistic(enum.Enum):
    """A summary statistic over all calls of all runs (``expect mean final_ms < 1s``)."""

    N = "n"
    MEAN = "mean"
    SD = "sd"
    MIN = "min"
    P50 = "p50"
    P90 = "p90"
    P99 = "p99"
    MAX = "max"
    SHARE = "share"
    """Fraction of calls whose outcome is ``Expectation.value`` (compared with ``share``)."""


class Comparison(enum.Enum):
    """A comparison operator in ``expect``."""

    LT = "<"
    LE = "<="
    EQ = "=="
    NE = "!="
    GE = ">="
    GT = ">"

    def holds(self, left: Any, right: Any) -> bool:
        """Apply the operator: ``left OP right``."""
        return self.function(left, right)

    @property
    def function(self) -> Callable[[Any, Any], bool]:
        """The operator as a function of ``(left, right)`` (``operator.lt`` ...): no Python call per use."""
        return _OPERATORS[self]


_OPERATORS: dict[Comparison, Callable[[Any, Any], bool]] = {
    Comparison.LT: operator.lt,
    Comparison.LE: operator.le,
    Comparison.EQ: operator.eq,
    Comparison.NE: operator.ne,
    Comparison.GE: operator.ge,
    Comparison.GT: operator.gt,
}


@dataclass(frozen=True)
class Expectation(Item):
    """``expect [call N] [STAT] MEASURE [OP] VALUE``: a claim checked after the runs.

    Without ``statistic`` it holds for each call (or only call ``call``);
    with one it is about the summary. ``expect outcome answered`` means ``==``.
    ``expect share answered >= 95%``: measure ``outcome``, statistic SHARE,
    ``value`` the outcome, ``share`` 0.95.
    """

    measure: str
    """A key of :data:`MEASURES`."""
    comparison: Comparison
    """The operator."""
    value: float | int | Outcome
    """Right-hand side in the measure's unit: ms for ``*_ms``, an int, a code, an Outcome."""
    statistic: Statistic | None = None
    """None: per call; else a summary statistic."""
    share: float | None = None
    """SHARE only: the fraction the outcome's share is compared with."""
    call: int | None = None
    """Only the N-th ``call`` statement's call (1-based); None: every call."""


# ------------------------------------------------------------------- limits


@dataclass(frozen=True)
class RunLimits(Item):
    """``stop at T`` / ``max events N``: when a run ends even if events remain."""

    stop_at: float | None = None
    """Simulated time to stop at (s); None: when no event is left."""
    max_events: int | None = None
    """Stop after this many simulation events; None: no limit."""


# --------------------------------------------------------------------- root


@dataclass(frozen=True)
class Scenario(Item):
    """A whole scenario: the root of the model, as ``simsip.scenario.load`` returns it."""

    name: str = ""
    """``scenario "name"``."""
    description: str = ""
    """``description "..."``: what it shows (may be empty)."""
    params: tuple[Param, ...] = ()
    """Declared params, in order, with the values in effect."""
    timers: Timers = field(default_factory=Timers)
    """T1, T2, T4."""
    transport: Transport = Transport.UDP
    """Default transport (``transport udp|tcp``); links may override."""
    nodes: tuple[SipNode, ...] = ()
    """Every node, in declaration order."""
    locations: tuple[Location, ...] = ()
    """Static location-service entries."""
    links: tuple[Link, ...] = ()
    """Links between nodes."""
    handlers: tuple[Handler, ...] = ()
    """Behaviours, in source order."""
    calls: tuple[Call, ...] = ()
    """Single calls, in source order (``expect call N`` counts these)."""
    streams: tuple[CallStream, ...] = ()
    """Call streams (Poisson / fixed rate)."""
    registrations: tuple[Registration, ...] = ()
    """Scheduled REGISTERs."""
    requests: tuple[StandaloneRequest, ...] = ()
    """Scheduled standalone requests (OPTIONS, forged PRACK)."""
    faults: tuple[Fault, ...] = ()
    """Scheduled faults, in source order."""
    expectations: tuple[Expectation, ...] = ()
    """``expect`` lines, in source order."""
    limits: RunLimits = field(default_factory=RunLimits)
    """Run limits."""
    source: str = field(default="<text>", compare=False)
    """File the scenario was read from (``"<text>"`` for a string)."""

    def node(self, name: str) -> SipNode | None:
        """The node called ``name``, or None."""
        for node in self.nodes:
            if node.name == name:
                return node
        return None

    def param(self, name: str) -> Param | None:
        """The param called ``name``, or None."""
        for param in self.params:
            if param.name == name:
                return param
        return None

    @property
    def user_agents(self) -> tuple[UserAgent, ...]:
        """The UA nodes."""
        return tuple(n for n in self.nodes if isinstance(n, UserAgent))

    @property
    def proxies(self) -> tuple[Proxy, ...]:
        """The proxy nodes."""
        return tuple(n for n in self.nodes if isinstance(n, Proxy))

    def handlers_for(self, node: str) -> tuple[Handler, ...]:
        """The handlers of one node, in source order."""
        return tuple(h for h in self.handlers if h.node == node)


# ---------------------------------------------------------------- JSON view


def to_json(value: Any) -> Any:
    """A JSON-ready view of a model value: dataclasses as dicts with ``"type"``, spans left out."""
    if is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"type": type(value).__name__}
        for f in fields(value):
            if not f.compare:
                continue
            item = getattr(value, f.name)
            if f.name == "refs":
                if item:
                    out["refs"] = {k: v for k, v in item}
                continue
            out[f.name] = to_json(item)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value
