"""A redirect server (RFC 3261 §8.3, §21.3; RFC 3665 §3.6).

It answers each request for a domain it serves with a 3xx (302 Moved
Temporarily by default) whose Contact headers are the location service's
current contacts for the Request-URI's address-of-record, best q first;
404 when it never heard of the AOR, 480 when nobody is registered now
(RFC 3261 §16.5 wording), 416 for a scheme it cannot look up, 483 for
Max-Forwards 0. It is a UAS for these requests, so it runs a server
transaction for each: its 3xx is retransmitted by Timer G until the
caller's ACK arrives, hop by hop as RFC 3665 §3.6 F3 shows. A CANCEL for an
INVITE already answered gets 200 and changes nothing (RFC 3261 §9.2).

AppEvent kinds: ``"redirect"`` [status, aor, contacts]; ``"stray-response"`` [status].
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from simsip.sip.dialog import new_tag
from simsip.sip.events import Action, Address, AppEvent
from simsip.sip.registrar import LocationService, aor_key
from simsip.sip.timers import TimerConfig
from simsip.sip.transaction import TransactionLayer, split_tu_events

if TYPE_CHECKING:
    from simsip.sip.message import Request, Response

__all__ = ["RedirectServer"]


class RedirectServer:
    """Answers requests with a 3xx listing the location service's contacts (sans-IO)."""

    def __init__(
        self,
        name: str,
        host: str,
        domains: tuple[str, ...],
        location: LocationService,
        rng: random.Random,
        timers: TimerConfig | None = None,
        code: int = 302,
    ) -> None:
        """A redirect server ``name`` at ``host`` for ``domains``, answering with ``code``."""
        if not 300 <= code <= 399:
            raise ValueError(f"a redirect server answers 3xx, not {code}")
        self.name = name
        self.host = host
        self.domains = tuple(d.lower() for d in domains)
        self.location = location
        self.rng = rng
        self.code = code
        # Every request is answered in the step it arrives: no RFC 4320 §4.1 timer could ever fire.
        self.layer = TransactionLayer(timers or TimerConfig(), rng, prefix=f"{name}:", non_invite_trying=False)

    def release(self) -> None:
        """Forget this finished run's transactions (each points back at the layer)."""
        self.layer.release()

    def receive(self, now: float, message: "Request | Response", source: Address) -> list[Action]:
        """A message arrived from ``source``."""
        from simsip.sip.message import Request

        if isinstance(message, Request):
            results = self.layer.receive_request(now, message, source)
        else:
            results = self.layer.receive_response(now, message)
        return self._handle(now, results)

    def timer_fired(self, now: float, name: str) -> list[Action]:
        """One of our transactions' timers fired."""
        return self._handle(now, self.layer.timer_fired(now, name))

    def _handle(self, now: float, results: list) -> list[Action]:
        """Pass driver actions on; answer the new requests the layer reports."""
        actions, events = split_tu_events(results)
        out: list[Action] = list(actions)
        for event in events:
            if event.kind == "request":
                out += self._answer(now, event.transaction, event.message)
            elif event.kind == "stray-response":
                msg = event.message
                out.append(AppEvent("stray-response", msg.call_id or "", msg, {"status": msg.status}))
        return out

    def _answer(self, now: float, tx, request) -> list[Action]:
        """Build and send the final response for ``request``."""
        from simsip.sip.message import make_response

        status, contacts, aor = self._decide(now, request)
        to_tag = None if (request.to is not None and request.to.tag) else new_tag(self.rng)
        response = make_response(request, status, to_tag=to_tag)
        for contact in contacts:
            response.headers.add("Contact", f"<{contact}>")
        actions, events = split_tu_events(self.layer.send_response(now, tx, response))
        actions = list(actions)
        actions.append(
            AppEvent("redirect", request.call_id or "", response, {"status": status, "aor": aor, "contacts": contacts})
        )
        return actions

    def _decide(self, now: float, request) -> tuple[int, list[str], str | None]:
        """(status, contacts, aor) for one request."""
        if request.method == "CANCEL":
            return 200, [], None  # the INVITE was answered at once (RFC 3261 §9.2)
        mf = request.max_forwards
        if mf is not None and mf <= 0:
            return 483, [], None
        uri = request.uri
        if uri.scheme not in ("sip", "sips"):
            return 416, [], None
        if (uri.host or "").lower() not in self.domains and (uri.host or "").lower() != self.host.lower():
            return 404, [], None
        aor = aor_key(uri)
        contacts = self.location.lookup(aor, now)
        if contacts:
            return self.code, contacts, aor
        return (480 if self.location.known(aor) else 404), [], aor
