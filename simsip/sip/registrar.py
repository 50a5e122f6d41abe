"""Registrar and location service (RFC 3261 §10).

The :class:`LocationService` maps an address-of-record to contact URIs: static
entries (a scenario's ``location`` lines) and bindings made by REGISTER, each
binding with its own expiry. A proxy asks it where to send a request for a
domain it serves (RFC 3261 §16.5); a redirect server answers with it (§8.3).

The :class:`Registrar` is the TU logic of RFC 3261 §10.3, one REGISTER in,
one final response out (the caller runs the non-INVITE server transaction):

1. the Request-URI names a domain we serve, else 404 (we are not its registrar);
2. ``Require`` with an extension we do not support: 420 + Unsupported (§8.2.2.3);
3. authentication (§22): 401 with ``WWW-Authenticate`` when no valid credentials;
4. the authenticated user may register only its own address-of-record: 403;
5. the address-of-record is the To URI, canonicalised; not sip/sips: 400
   (RFC 4475 §3.3.4 unksm2); not in one of our domains: 404;
6. ``Contact: *`` only alone and with ``Expires: 0``, else 400 (§10.3 step 6);
7. per contact: expiry from its ``expires`` parameter, else the ``Expires``
   header, else the default; 0 < expiry < minimum gives 423 with Min-Expires;
   a binding with the same Call-ID and a CSeq not higher is out of order: 500;
   all checks pass before any binding changes (the update is atomic);
8. 200 OK listing every current binding of the AOR with its remaining
   ``expires`` (a REGISTER without Contact is a query, RFC 3665 §2.3), and a
   ``Date``: simulated time from the fixed epoch of :data:`simsip.sip.message.EPOCH`.

A header only the registrar reads (Expires, Contact, Require) that does not
parse gets 400 with the parser's reason, before any binding changes.

Address-of-record keys: ``user@host`` with the host lower-cased and all URI
parameters dropped (§10.3 step 5). The scheme is not part of the key, so
``sips:bob@biloxi.example.com`` (RFC 3665 §2) and ``sip:bob@biloxi.example.com``
(the INVITEs of RFC 3665 §3) reach the same bindings.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from simsip.sip.auth import DigestAuthenticator
from simsip.sip.abnf import SipParseError
from simsip.sip.dialog import new_tag
from simsip.sip.message import sip_date

if TYPE_CHECKING:
    from simsip.sip.message import URI, Request, Response

__all__ = ["Binding", "LocationService", "Registrar", "aor_key"]

# RFC 3261 §10.2.1.1: "the default expiration interval of one hour".
DEFAULT_EXPIRES = 3600
# RFC 3261 §10.3 step 7: a registrar may reject too-brief intervals with 423;
# 60 s is the example floor RFC 3261 §20.23 uses for Min-Expires.
DEFAULT_MIN_EXPIRES = 60
# RFC 3261 §10.3 step 7: 423 "If and only if the requested expiration interval is greater
# than zero AND smaller than one hour AND less than a registrar-configured minimum".
NEVER_TOO_BRIEF = 3600
# Cap on granted expiry (registrars may shorten, §10.3 step 7); a day.
DEFAULT_MAX_EXPIRES = 86400


def aor_key(uri: "URI | str") -> str:
    """Canonical address-of-record key ``user@host`` (RFC 3261 §10.3 step 5)."""
    if isinstance(uri, str):
        from simsip.sip.message import URI as _URI

        uri = _URI.parse(uri)
    host = (uri.host or "").lower()
    return f"{uri.user}@{host}" if uri.user else host


@dataclass(slots=True)
class Binding:
    """One registered contact of an address-of-record (RFC 3261 §10.3 step 7)."""

    aor: str
    uri: str
    expires_at: float
    call_id: str
    cseq: int
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def q(self) -> float:
        """Contact preference ``q`` (RFC 3261 §20.10), 1.0 when absent."""
        value = self.params.get("q")
        try:
            return float(value) if value is not None else 1.0
        except ValueError:
            return 1.0

    def remaining(self, now: float) -> int:
        """Seconds left, rounded up, as the 200 OK's ``expires`` parameter shows it."""
        return max(0, math.ceil(self.expires_at - now - 1e-9))

    def contact_value(self, now: float) -> str:
        """``<uri>;param...;expires=N`` for a 200 OK Contact (RFC 3261 §10.3 step 8)."""
        parts = [f"<{self.uri}>"]
        for name, value in self.params.items():
            parts.append(name if value is None else f"{name}={value}")
        parts.append(f"expires={self.remaining(now)}")
        return ";".join(parts)


class LocationService:
    """Where an address-of-record can be reached: static entries plus REGISTER bindings."""

    def __init__(self) -> None:
        """An empty location service."""
        self._static: dict[str, list[str]] = {}
        self._bindings: dict[str, list[Binding]] = {}
        # AORs that ever had a binding: "known but unreachable now" (480, not 404).
        self._seen: set[str] = set()

    def add_static(self, aor: str, contact: str) -> None:
        """Add a permanent contact URI for ``aor`` (a scenario ``location`` line)."""
        self._static.setdefault(aor_key(aor), []).append(contact)

    def bindings(self, aor: str, now: float) -> list[Binding]:
        """The unexpired REGISTER bindings of ``aor`` (a key or a URI string), oldest first."""
        key = aor if "@" in aor and ":" not in aor else aor_key(aor)
        current = [b for b in self._bindings.get(key, []) if b.expires_at > now]
        if current:
            self._bindings[key] = current
        else:
            self._bindings.pop(key, None)
        return list(current)

    def lookup(self, aor: str, now: float) -> list[str]:
        """Contact URIs for ``aor``: bindings by descending q (stable), then static entries."""
        key = aor if "@" in aor and ":" not in aor else aor_key(aor)
        bound = sorted(self.bindings(key, now), key=lambda b: -b.q)
        seen: list[str] = []
        for uri in [b.uri for b in bound] + self._static.get(key, []):
            if uri not in seen:
                seen.append(uri)
        return seen

    def set_bindings(self, key: str, bindings: list[Binding]) -> None:
        """Replace every binding of ``key`` (the registrar's atomic update, §10.3 step 7)."""
        self._seen.add(key)
        if bindings:
            self._bindings[key] = list(bindings)
        else:
            self._bindings.pop(key, None)

    def known(self, aor: str) -> bool:
        """True when ``aor`` has static entries or ever had a binding."""
        key = aor if "@" in aor and ":" not in aor else aor_key(aor)
        return key in self._static or key in self._seen


def _same_uri(a: str, b: str) -> bool:
    """URI equality for bindings (RFC 3261 §19.1.4), via the message module's URI."""
    from simsip.sip.message import URI as _URI

    try:
        return _URI.parse(a) == _URI.parse(b)
    except Exception:  # unparsable URIs compare as text
        return a == b


class Registrar:
    """The registrar TU of RFC 3261 §10.3: REGISTER in, final response out."""

    def __init__(
        self,
        domains: list[str] | tuple[str, ...],
        location: LocationService,
        rng: random.Random,
        authenticator: DigestAuthenticator | None = None,
        default_expires: int = DEFAULT_EXPIRES,
        min_expires: int = DEFAULT_MIN_EXPIRES,
        max_expires: int = DEFAULT_MAX_EXPIRES,
        supported: tuple[str, ...] = (),
    ) -> None:
        """Serve ``domains``, store bindings in ``location``; tags from ``rng``."""
        self.domains = tuple(d.lower() for d in domains)
        self.location = location
        self.rng = rng
        self.authenticator = authenticator
        self.default_expires = default_expires
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.supported = tuple(s.lower() for s in supported)

    @property
    def _floor(self) -> int:
        """The shortest interval honoured: the configured minimum, never above an hour (§10.3 step 7)."""
        return min(self.min_expires, NEVER_TOO_BRIEF)

    def serves(self, host: str | None) -> bool:
        """True when ``host`` is one of our domains."""
        return (host or "").lower() in self.domains

    def _tag(self) -> str:
        """A To tag for our responses (RFC 3261 §19.3: at least 32 random bits)."""
        return new_tag(self.rng)

    def _reply(self, request: "Request", status: int, reason: str | None = None) -> "Response":
        """A response to ``request`` with our To tag (RFC 3261 §8.2.6)."""
        from simsip.sip.message import make_response

        to_tag = None if request.to.tag else self._tag()
        return make_response(request, status, reason, to_tag=to_tag)

    def handle(self, now: float, request: "Request") -> "Response":
        """Process one REGISTER (RFC 3261 §10.3 steps 1-8) and return the final response."""
        try:
            return self._handle(now, request)
        except SipParseError as error:  # a header only we read (Expires, Contact, Require)
            # Nothing was bound yet: bindings change only once every contact passed (§10.3 step 7).
            return self._reply(request, 400, f"Bad Request ({error})"[:120])

    def _handle(self, now: float, request: "Request") -> "Response":
        """:meth:`handle` for a REGISTER whose headers all parse."""
        # Step 1: are we the registrar for the Request-URI's domain?
        if not self.serves(request.uri.host):
            return self._reply(request, 404, "Not Found")
        # Step 2: Require (§8.2.2.3).
        unsupported = [tag for tag in (request.require or []) if tag.lower() not in self.supported]
        if unsupported:
            resp = self._reply(request, 420)
            resp.headers.set("Unsupported", ", ".join(unsupported))
            return resp
        # Step 3: authenticate (§22.2).
        auth_user: str | None = None
        if self.authenticator is not None:
            creds = self.authenticator.find_credentials(request.headers.get_all("Authorization"))
            verdict = "none" if creds is None else self.authenticator.check(creds, request.method)
            if verdict != "ok":
                resp = self._reply(request, 401)
                resp.headers.add("WWW-Authenticate", self.authenticator.challenge(stale=verdict == "stale"))
                return resp
            assert creds is not None
            auth_user = creds.username
        # Step 5: the address-of-record from To.
        to = request.to
        if to.uri.scheme.lower() not in ("sip", "sips"):
            return self._reply(request, 400, "Address-of-Record Must Be a SIP URI")
        if not self.serves(to.uri.host):
            return self._reply(request, 404, "Not Found")
        key = aor_key(to.uri)
        # Step 4: authorisation: the authenticated user registers only its own AOR.
        if auth_user is not None and auth_user != to.uri.user:
            return self._reply(request, 403, "Forbidden")
        outcome = self._update(now, request, key)
        if isinstance(outcome, int):
            resp = self._reply(request, outcome)
            if outcome == 423:
                resp.headers.set("Min-Expires", str(self._floor))
            return resp
        # Step 8: 200 listing the current bindings; "The response SHOULD include a Date header field".
        resp = self._reply(request, 200)
        resp.headers.set("Date", sip_date(now))
        for binding in self.location.bindings(key, now):
            resp.headers.add("Contact", binding.contact_value(now))
        return resp

    def _header_expires(self, request: "Request") -> int | None:
        """The Expires header in seconds (None when absent)."""
        return request.expires

    def _update(self, now: float, request: "Request", key: str) -> int | None:
        """Apply the Contact list to ``key``'s bindings (§10.3 steps 6-7); an error status or None."""
        contacts = request.contacts
        header_expires = self._header_expires(request)
        call_id = request.call_id
        cseq = request.cseq.seq
        current = self.location.bindings(key, now)
        if request.contact_star:
            # Step 6: "*" only alone and with Expires 0.
            if contacts or len(request.headers.get_all("Contact")) != 1 or header_expires != 0:
                return 400
            for binding in current:
                if binding.call_id == call_id and cseq <= binding.cseq:
                    return 500
            self.location.set_bindings(key, [])
            return None
        if not contacts:
            return None  # a query (RFC 3665 §2.3)
        updated = list(current)
        for contact in contacts:
            params = dict(contact.params)
            expires = contact.expires
            params.pop("expires", None)
            if expires is None:
                expires = header_expires if header_expires is not None else self.default_expires
            if 0 < expires < self._floor:
                return 423
            expires = min(expires, self.max_expires)
            uri = str(contact.uri)
            existing = next((i for i, b in enumerate(updated) if _same_uri(b.uri, uri)), None)
            binding = Binding(key, uri, now + expires, call_id, cseq, params)
            if existing is not None:
                if updated[existing].call_id == call_id and cseq <= updated[existing].cseq:
                    return 500  # out-of-order REGISTER (§10.3 step 7)
                if expires > 0:
                    updated[existing] = binding  # refreshed in place
                else:
                    del updated[existing]
            elif expires > 0:
                updated.append(binding)
        self.location.set_bindings(key, updated)
        return None
