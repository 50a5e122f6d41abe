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
* a BYE on one leg hangs up the other; a CANCEL of leg A cancels leg B; a leg
  that ends for any other reason ends its peer.

SDP: with ``rewrite_sdp`` (an ALG anchoring media, the default) each leg gets
the core's own session description, i.e. the B2BUA's address; without it the
bodies are passed through unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import simpy

from simsip.agents.base import Agent, Describer
from simsip.sip.events import AppEvent

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
        self.core = core_factory()
        self.peer: dict[str, str] = {}  # Call-ID of one leg -> Call-ID of the other
        self.incoming: set[str] = set()  # Call-IDs of A legs (where we are the UAS)
        self.done: set[str] = set()  # legs we no longer act on

    def new_core(self) -> Any:
        """A fresh core: every leg is forgotten."""
        self.peer.clear()
        self.incoming.clear()
        self.done.clear()
        return self.core_factory()

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
        now = self.env.now
        core = self.core
        other = self.peer.get(call_id)
        if kind == "request":
            method = detail.get("method")
            if method == "INVITE" and not detail.get("in_dialog") and other is None:
                message = event.message
                require = True if detail.get("require_100rel") else None
                leg_b, actions = core.invite(now, message.uri, require_100rel=require,
                                             sdp=self._body(message))
                self.peer[call_id] = leg_b
                self.peer[leg_b] = call_id
                self.incoming.add(call_id)
                self.execute(actions)
            elif method == "BYE" and other is not None and other not in self.done:
                self.done.update((call_id, other))
                self.execute(core.hangup(now, other))
            elif method == "CANCEL" and other is not None and other not in self.done:
                self.done.update((call_id, other))
                self.execute(core.cancel(now, other))
        elif kind == "response":
            if other is None or detail.get("method") != "INVITE" or detail.get("reinvite") \
                    or detail.get("fork") or detail.get("auth_retry") or call_id in self.incoming:
                return
            code = detail.get("code", 0)
            if code == 100 or other in self.done:
                return
            self.execute(core.respond(now, other, code, reliable=bool(detail.get("reliable")),
                                      sdp=self._body(event.message) if code >= 200 or
                                      (event.message is not None and event.message.body) else None,
                                      reason=detail.get("reason")))
        elif kind == "timeout":
            if other is not None and detail.get("method") == "INVITE" and other not in self.done \
                    and call_id not in self.incoming:
                self.execute(core.respond(now, other, 408))
        elif kind == "call-ended":
            self.done.add(call_id)
            if other is not None and other not in self.done:
                self.done.add(other)
                self.execute(core.hangup(now, other))
