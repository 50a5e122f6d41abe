"""The B2BUA agent: two UA legs back to back in one UA core (RFC 3261 §6, RFC 3665 §3.5).

A back-to-back user agent is a UAS on the incoming leg and a UAC on the
outgoing one, each leg its own dialog with its own Call-ID, tags and CSeq.
The agent runs one :class:`~simsip.sip.ua.UserAgentCore` (it keys calls by
Call-ID, so both legs live in it) and joins the legs:

* an initial INVITE on leg A starts leg B: an INVITE to the same Request-URI,
  sent to the B2BUA's outbound proxies or by resolving the URI; a
  ``Require: 100rel`` is carried over;
* every provisional (not 100) and the final response of leg B is answered on
  leg A with the same code and reason (a reliable provisional reliably);
  leg B timing out answers leg A 408;
* a BYE on one leg hangs up the other; a CANCEL that ends leg A (487) cancels
  leg B, one that comes after leg A's final does nothing (§9.2); a leg that
  ends for any other reason ends its peer.

Relaying as RFC 3665 §3.5 draws it: the ACK for leg B's 2xx is held
(``UAOptions.hold_2xx_ack``) until leg A's ACK arrives (F12 -> F13), or at
the latest ``TimerConfig.ack_relay_wait`` after the 2xx, inside the UAS's
64*T1 (RFC 3261 §13.3.1.4); a BYE is answered (``hold_bye_answer``) when the
BYE it caused on the other leg is answered or times out (F14-F17), at once
when no BYE went out.

SDP: with ``rewrite_sdp`` (an ALG anchoring media, the default) each leg gets
the core's own session description, i.e. the B2BUA's address; without it the
bodies are passed through unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import simpy

from simsip.agents.base import Agent, Describer
from simsip.sip.events import AppEvent, SendMessage
from simsip.sip.message import Request
from simsip.sip.ua import UserAgentCore

if TYPE_CHECKING:
    from simsip.metrics.trace import TraceSink
    from simsip.net.network import Network
    from simsip.scenario.model import B2BUA


class B2BUAAgent(Agent):
    """A back-to-back UA node: leg A (we answer) joined to leg B (we call)."""

    def __init__(self, spec: "B2BUA", env: simpy.Environment, network: "Network",
                 hosts: dict[str, str], sink: "TraceSink", describer: Describer,
                 core_factory: Any) -> None:
        """``core_factory()`` builds a fresh UA core (also after a restart)."""
        super().__init__(spec.name, spec.host_name, env, network, hosts, sink, describer)
        self.spec = spec
        self.core_factory = core_factory
        self.core = self._relaying_core()
        self.peer: dict[str, str] = {}  # Call-ID of one leg -> Call-ID of the other
        self.incoming: set[str] = set()  # Call-IDs of A legs (where we are the UAS)
        self.done: set[str] = set()  # legs we no longer act on
        self.bye_wait: dict[str, str] = {}  # leg we sent BYE on -> leg whose BYE we answer then

    def new_core(self) -> Any:
        """A fresh core: every leg is forgotten."""
        self.peer.clear()
        self.incoming.clear()
        self.done.clear()
        self.bye_wait.clear()
        return self._relaying_core()

    def forget_legs(self, live: set[str]) -> None:
        """Drop what is kept about legs no event can concern any more (not in ``live``)."""
        for table in (self.peer, self.bye_wait):
            for call_id in [k for k in table if k not in live]:
                del table[call_id]
        self.incoming &= live
        self.done &= live

    def _relaying_core(self) -> Any:
        """``core_factory()``'s core set to hold the ACK and the BYE's answer for relaying."""
        core = self.core_factory()
        core.config = dataclasses.replace(core.config, hold_2xx_ack=True, hold_bye_answer=True)
        return core

    def _body(self, message: Any) -> bytes | None:
        """The SDP argument for the other leg: generated (None) when rewriting, else passed on."""
        if self.spec.rewrite_sdp or message is None:
            return None
        return message.body

    def on_app_event(self, event: AppEvent) -> None:
        """Join the legs: relay INVITE, responses, BYE, CANCEL and endings."""
        kind = event.kind
        detail = event.detail
        call_id = event.call_id
        now = self.env._now
        core = self.core
        assert type(core) is UserAgentCore  # core_factory builds only those
        other = self.peer.get(call_id)
        if kind == "request":
            method = detail.get("method")
            if method == "INVITE" and not detail.get("in_dialog") and other is None:
                message = event.message
                assert type(message) is Request  # a "request" AppEvent carries its request
                require = True if detail.get("require_100rel") else None
                leg_b, actions = core.invite(now, message.uri, require_100rel=require,
                                             sdp=self._body(message))
                self.peer[call_id] = leg_b
                self.peer[leg_b] = call_id
                self.incoming.add(call_id)
                self.execute(actions)
            elif method == "ACK" and other is not None and call_id in self.incoming \
                    and not detail.get("reinvite"):
                self.execute(core.ack(now, other))
            elif method == "BYE":
                actions = []
                if other is not None and other not in self.done:
                    self.done.update((call_id, other))
                    actions = core.hangup(now, other)
                if other is not None and any(type(a) is SendMessage and getattr(a.message, "method", None) == "BYE" for a in actions):
                    self.bye_wait[other] = call_id  # answered when that BYE ends (call-ended)
                    self.execute(actions)
                else:
                    self.execute(actions + core.answer_bye(now, call_id))
        elif kind == "response":
            if other is None or detail.get("method") != "INVITE" or detail.get("reinvite") \
                    or detail.get("fork") or detail.get("auth_retry") or detail.get("redirect") \
                    or detail.get("next_target") or call_id in self.incoming:
                return  # not leg B's final: its core retries a 401/407 (§22.2) or 3xx (§8.1.3.4) itself
            code = detail.get("code", 0)
            if code == 100 or other in self.done:
                if 200 <= code < 300 and other in self.done:
                    self.execute(core.ack(now, call_id))  # no ACK from leg A will come to relay
                return
            if code >= 300:
                self.done.add(call_id)  # leg B ends with it: leg A's end (call-ended) must not hang it up
            message = event.message
            headers: tuple[tuple[str, str], ...] = ()
            if code == 420 and message is not None:
                # §8.2.2.3: a 420 "MUST include an Unsupported header field" (what leg A drops to retry, §8.1.3.5)
                headers = tuple(("Unsupported", value) for value in message.headers.get_all("Unsupported"))
            self.execute(core.respond(now, other, code, reliable=bool(detail.get("reliable")),
                                      sdp=self._body(message) if code >= 200 or
                                      (message is not None and message.body) else None,
                                      reason=detail.get("reason"), headers=headers))
        elif kind == "timeout":
            if other is not None and detail.get("method") == "INVITE" and other not in self.done \
                    and call_id not in self.incoming and not detail.get("failover"):
                # (a failover timeout is not leg B's end: its core sends the INVITE to the next hop)
                self.execute(core.respond(now, other, 408))
        elif kind == "call-ended":
            self.done.add(call_id)
            waiting = self.bye_wait.pop(call_id, None)
            if waiting is not None:
                self.execute(core.answer_bye(now, waiting))
            if other is not None and other not in self.done:
                self.done.add(other)
                self.execute(core.hangup(now, other))
