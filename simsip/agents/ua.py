"""The UA agent: runs a :class:`~simsip.sip.ua.UserAgentCore` and the scenario's behaviours.

Behaviours are the scenario's ``on NODE EVENT:`` handlers. The core reports
what the application may react to as AppEvents; the agent picks the FIRST
handler of this node (in source order) whose event matches and runs its
actions in order as a small script: ``send`` (respond to the call's pending
INVITE), ``wait`` (a SimPy timeout callback resumes the script; no process),
``hangup``, ``cancel``, ``reinvite``, ``prack``, ``register``, ``ignore`` (stop
here and do not answer), ``bye`` (BYE in the early or confirmed dialogs). Matching:

* a received initial request -> ``on X METHOD`` (``REQUEST``); a re-INVITE ->
  ``on X re-INVITE`` (``REINVITE``) only, never ``on X INVITE`` (a handler
  written to answer the initial INVITE must not answer re-INVITEs too);
* a response -> ``on X 180`` / ``on X 2xx`` whose request method (default
  INVITE) is the response's CSeq method, and which answers a re-INVITE
  exactly when the handler says ``to re-INVITE``: ``on alice 200`` is the
  initial INVITE's 200 only, so a handler that re-INVITEs does not fire
  again on the re-INVITE's 200. A handler fires once per response per
  dialog: the core does not report 2xx and reliable-1xx retransmissions,
  and the agent skips copies of an unreliable 1xx it already handled;
* a client transaction timeout -> ``on X timeout``; a call's end -> ``on X call-ended``.

A UA with no handler for an initial INVITE answers it ``200`` at once (the
simplest application: every call is accepted); write ``ignore`` to leave an
INVITE unanswered. Requests the core answers itself (BYE, OPTIONS, CANCEL,
re-INVITEs) need no handler; a UA with an ``on X re-INVITE`` handler answers
its re-INVITEs there (the engine turns the core's automatic 200 off).

Each handler draws its random ``wait`` durations from its own stream.
"""

from __future__ import annotations

import random
from heapq import heappush
from typing import TYPE_CHECKING, Any, Callable

import simpy

from simsip.agents.base import Agent, Describer
from simsip.net.models import ConstantDelay
from simsip.net.network import NORMAL, QueuedEvent
from simsip.scenario import model as m
# The handler actions _run dispatches on, by name: compiled, each ``m.Wait`` would read an
# attribute of the (interpreted) model module per comparison.
from simsip.scenario.model import (
    Bye, Cancel, Hangup, Ignore, Register, Reinvite, SendPrack, SendResponse, Wait,
)
from simsip.sip.events import Address, AppEvent, SendMessage
from simsip.sip.ua import UserAgentCore, simple_sdp

if TYPE_CHECKING:
    from simsip.metrics.trace import TraceSink
    from simsip.net.models import Delay
    from simsip.net.network import Network


class CompiledHandler:
    """A handler ready to run: its actions and wait samplers (the same in every run).

    ``draws`` is False when every ``wait`` is constant: such a handler never
    draws, and runs give it no random stream.
    """

    __slots__ = ("index", "handler", "actions", "waits", "draws")

    def __init__(self, index: int, handler: m.Handler, waits: dict[int, "Delay"]) -> None:
        """``waits`` maps the position of each ``wait`` action to its sampler."""
        self.index = index
        self.handler = handler
        self.actions = handler.actions
        self.waits = waits
        self.draws = not all(isinstance(w, ConstantDelay) for w in waits.values())


class Behaviours:
    """One UA node's handlers indexed for dispatch: built once per scenario, shared by every run."""

    __slots__ = ("handlers", "by_key", "responses", "response_cache", "interest", "drawing")

    def __init__(self, handlers: list[CompiledHandler]) -> None:
        """Index ``handlers`` (in source order: the first match wins)."""
        self.handlers = handlers
        # Indexes of the handlers that draw (each gets a stream per run).
        self.drawing = tuple(h.index for h in handlers if h.draws)
        self.by_key: dict[tuple[str, ...], CompiledHandler] = {}
        self.responses: list[CompiledHandler] = []
        # (method, re-INVITE?, code) -> the first matching response handler, or None.
        self.response_cache: dict[tuple[str, bool, int], CompiledHandler | None] = {}
        for handler in handlers:
            event = handler.handler.event
            kind = event.kind
            if kind is m.EventKind.REQUEST:
                self.by_key.setdefault(("request", event.method or ""), handler)
            elif kind is m.EventKind.REINVITE:
                self.by_key.setdefault(("reinvite",), handler)
            elif kind is m.EventKind.TIMEOUT:
                self.by_key.setdefault(("timeout",), handler)
            elif kind is m.EventKind.CALL_ENDED:
                self.by_key.setdefault(("call-ended",), handler)
            else:
                self.responses.append(handler)
        # The AppEvent kinds UAAgent.on_app_event can act on with these handlers: requests
        # always (the default application answers INVITEs); responses, and call ends
        # (which forget the provisionals seen), only with response handlers.
        interest = {"request"}
        if self.responses:
            interest.update(("response", "call-ended"))
        if ("timeout",) in self.by_key:
            interest.add("timeout")
        if ("call-ended",) in self.by_key:
            interest.add("call-ended")
        self.interest = frozenset(interest)

    def response(self, method: str, reinvite: bool, code: int) -> CompiledHandler | None:
        """The first response handler for a ``code`` answering ``method`` (a re-INVITE or not)."""
        key = (method, reinvite, code)
        try:
            return self.response_cache[key]
        except KeyError:
            pass
        found = None
        for candidate in self.responses:
            ev = candidate.handler.event
            if (ev.method or "INVITE") == method and ev.reinvite == reinvite and ev.matches_code(code):
                found = candidate
                break
        if len(self.response_cache) < 1024:  # codes and methods are few
            self.response_cache[key] = found
        return found


class Script(QueuedEvent):
    """One run of one handler for one call; resumable after ``wait``.

    While it waits the script is itself the queued SimPy event (``callbacks``, ``_ok``).
    """

    __slots__ = ("handler", "call_id", "pc")
    handler: Any  # a CompiledHandler (Any: _run dispatches on type(action), which mypy does not narrow)
    call_id: str
    pc: int
    # No __init__: on_app_event sets handler, call_id and pc = 0 itself (a call saved per run).


class UAAgent(Agent):
    """A user agent node: the UA core plus the scenario's behaviours for it."""

    # Class-level until first changed (see Agent: per-instance attributes are kept few).
    _sdp_version = 0
    # Newest provisional with a To tag sent, kept once a scenario forges a PRACK
    # at this UA (``watch_early``, RFC 3262 §9): its newest early dialog.
    last_early: Any = None
    _forged = 0

    def __init__(self, spec: m.UserAgent, host: str, env: simpy.Environment, network: "Network",
                 hosts: dict[str, str], sink: "TraceSink", describer: Describer, core_factory: Any,
                 behaviours: Behaviours, handler_rngs: dict[int, random.Random],
                 registrar_uri: str | None) -> None:
        """``core_factory()`` builds a fresh :class:`UserAgentCore` (also after a restart).

        ``host`` is ``spec.host_name``, worked out once per scenario (the property is interpreted
        Python). ``handler_rngs`` maps the index of each handler that draws to its stream for this run.
        """
        super().__init__(spec.name, host, env, network, hosts, sink, describer)
        self.spec = spec
        self.core_factory = core_factory
        self.core = core_factory()
        self.registrar_uri = registrar_uri
        # A ``wait`` ends by running the script on (the script is the event); one list for all
        # scripts, as the timers' (see Agent).
        self._resume_callbacks: list[Callable[..., Any]] = [self._run]
        self.behaviours = behaviours
        self._app_interest = behaviours.interest
        self._by_key = behaviours.by_key
        self._handler_rngs = handler_rngs
        # Call-ID -> provisionals to the pending INVITE already handled: (re-INVITE?, To tag, code, RSeq).
        # The core reports every copy of an unreliable 1xx (resent for an INVITE retransmission
        # §17.2.1, or duplicated by the network); a handler fires once per response per dialog.
        self._provisionals: dict[str, set[tuple[Any, ...]]] = {}

    @property
    def watch_early(self) -> bool:
        """True once a scenario forges a PRACK at this UA: sends then keep :attr:`last_early`."""
        return self._watch is not None

    @watch_early.setter
    def watch_early(self, value: bool) -> None:
        """Turn watching on (every send passes through :meth:`_watch_sent`) or off."""
        self._watch = self._watch_sent if value else None

    __deletable__ = ("_resume_callbacks",)

    def release(self) -> None:
        """Break this finished run's cycles through the agent, its script-resuming bound method too."""
        super().release()
        del self._resume_callbacks

    # ------------------------------------------------------------ application calls

    def call(self, target: str, require_100rel: bool | None, supports_100rel: bool | None,
             sdp: bool) -> str | None:
        """Place a call to ``target`` now; the Call-ID (None when the node is down)."""
        if not self.up:
            return None
        core = self.core
        assert type(core) is UserAgentCore  # new_core builds only those
        call_id, actions = core.invite(self.env._now, target, require_100rel=require_100rel,
                                       supports_100rel=supports_100rel, sdp=None if sdp else "")
        self.execute(actions)
        return call_id

    def register(self, mode: m.RegisterMode, contacts: tuple[str, ...], expires: float | None,
                 registrar: str | None = None) -> str | None:
        """Send a REGISTER now (bind, query or remove all); the Call-ID."""
        target = registrar or self.registrar_uri
        if not self.up or target is None:
            return None
        if mode is m.RegisterMode.QUERY:
            contact_list: list[str] | None = []
            seconds = 3600 if expires is None else int(expires)
        elif mode is m.RegisterMode.REMOVE_ALL:
            contact_list, seconds = ["*"], 0
        else:
            contact_list = list(contacts) or None
            seconds = 3600 if expires is None else int(expires)
        core = self.core
        assert type(core) is UserAgentCore
        call_id, actions = core.register(self.env._now, target, seconds, contact_list)
        self.execute(actions)
        return call_id

    def options(self, target: str) -> str | None:
        """Send an OPTIONS now; the Call-ID."""
        if not self.up:
            return None
        core = self.core
        assert type(core) is UserAgentCore
        call_id, actions = core.options(self.env._now, target)
        self.execute(actions)
        return call_id

    def _watch_sent(self, message: Any) -> None:
        """Remember our newest early dialog (``watch_early``) from a message being sent."""
        status = getattr(message, "status", 0)
        if 100 < status < 200 and message.to.tag:
            self.last_early = message

    def forge_prack(self, target: "UAAgent", rack: str, transport: Any) -> None:
        """Send a PRACK forged from ``target``'s newest early dialog with this RAck (RFC 3262 §9).

        Call-ID, From and To (both tags) come from the provisional ``target`` sent
        last; the Request-URI is its Contact. Nothing happens when it has none.
        """
        from simsip.sip.message import Request

        early = target.last_early
        if not self.up or early is None:
            return
        self._forged += 1
        contact = early.contacts[0].uri if early.contacts else early.to.uri
        request = Request("PRACK", contact, [
            ("Via", f"SIP/2.0/{transport.value} {self.host};branch=z9hG4bKforged{self._forged}"),
            ("Max-Forwards", "70"),
            ("From", str(early.from_)),
            ("To", str(early.to)),
            ("Call-ID", early.call_id),
            ("CSeq", f"{early.cseq.seq + 1} PRACK"),
            ("RAck", rack),
        ])
        self.execute([SendMessage(request, Address(target.host, 5060, transport))])

    # ------------------------------------------------------------ behaviours

    def on_app_event(self, event: AppEvent) -> None:
        """Pick the handler an application event triggers, or the default application."""
        kind = event.kind
        detail = event.detail
        handler: CompiledHandler | None = None
        if kind == "request":
            method = detail.get("method", "")
            if detail.get("reinvite"):
                # The ACK and CANCEL of a re-INVITE say "reinvite" too: only the re-INVITE fires
                # `on X re-INVITE`, and `on X ACK` stays the initial INVITE's ACK (as `on X 200` is its 200).
                handler = self._by_key.get(("reinvite",)) if method == "INVITE" else None
            else:
                handler = self._by_key.get(("request", method))
                if handler is None and method == "INVITE" and not detail.get("auto_answered"):
                    # Default application: accept every call at once.
                    core = self.core
                    assert type(core) is UserAgentCore
                    self.execute(core.respond(self.env._now, event.call_id, 200))
                    return
        elif kind == "response":
            method = detail.get("method", "INVITE")
            code = detail.get("code", 0)
            reinvite = bool(detail.get("reinvite"))
            if method == "INVITE":
                if code < 200:
                    key = (reinvite, detail.get("to_tag"), code, detail.get("rseq"))
                    seen = self._provisionals.setdefault(event.call_id, set())
                    if key in seen:
                        return
                    seen.add(key)
                elif event.call_id in self._provisionals:  # answered: later 1xx copies die in its client transaction
                    del self._provisionals[event.call_id]  # (in and del: compiled, dict.pop is a generic call)
            cache = self.behaviours.response_cache
            looked_up = (method, reinvite, code)
            handler = cache[looked_up] if looked_up in cache else self.behaviours.response(method, reinvite, code)
        elif kind == "timeout":
            handler = self._by_key.get(("timeout",))
        elif kind == "call-ended":
            if event.call_id in self._provisionals:
                del self._provisionals[event.call_id]
            handler = self._by_key.get(("call-ended",))
        if handler is not None:
            script = Script()
            script.handler = handler
            script.call_id = event.call_id
            script.pc = 0
            self._run(script)

    def _run(self, script: Script) -> None:
        """Run a script's actions from its program counter until a wait or the end."""
        # Typed locals: compiled, the handler's fields and the actions are read natively.
        handler: CompiledHandler = script.handler
        actions: tuple[Any, ...] = handler.actions
        core = self.core  # no action of a script restarts the node
        assert type(core) is UserAgentCore
        now = self.env._now  # no time passes while a script runs
        while script.pc < len(actions) and self.up:
            action = actions[script.pc]
            script.pc += 1
            kind = type(action)
            if kind is Wait:
                # A handler that never draws has no stream (its samplers ignore the argument).
                delay = handler.waits[script.pc - 1].sample(self._handler_rngs.get(handler.index))
                script.callbacks = self._resume_callbacks
                heappush(self._queue, (now + delay, NORMAL, self._next_eid(), script))
                return
            if kind is SendResponse:
                # Without ``sdp`` the body argument is always None (see _response_sdp).
                self.execute(core.respond(now, script.call_id, action.code,
                                          reliable=action.reliable,
                                          sdp=self._response_sdp(action) if action.sdp else None,
                                          reason=action.reason))
            elif kind is Hangup:
                self.execute(core.hangup(now, script.call_id))
            elif kind is Bye:
                self.execute(core.bye(now, script.call_id))
            elif kind is Cancel:
                self.execute(core.cancel(now, script.call_id))
            elif kind is Reinvite:
                self.execute(core.reinvite(now, script.call_id, sdp=None if action.sdp else "",
                                           contact=action.contact))
            elif kind is SendPrack:
                self.execute(core.prack(now, script.call_id))
            elif kind is Register:
                self.register(action.mode, action.contacts, action.expires)
            elif kind is Ignore:
                return
            else:  # a model action this engine does not know: fail loudly
                raise TypeError(f"unknown handler action {action!r}")

    def _response_sdp(self, action: m.SendResponse) -> bytes | str | None:
        """The body argument for ``respond``: generated SDP on request, else the core's default."""
        if action.code >= 200 and (self.spec.answer_sdp or not action.sdp):
            # The core puts the answer in when one is owed, unless the UA is ``no-answer-sdp``.
            return None
        if action.sdp:
            self._sdp_version += 1
            return simple_sdp(self.spec.name, self.host, 1, self._sdp_version)
        return None
