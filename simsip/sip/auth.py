"""HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617 §3), MD5 with qop=auth.

Three roles, each a few plain functions on header *values* (strings), so this
module does not depend on the message classes:

* a UAC answering a challenge: :func:`authorization_header` takes the value
  of a ``WWW-Authenticate`` (401) or ``Proxy-Authenticate`` (407) header and
  returns the value of the matching ``Authorization`` / ``Proxy-Authorization``
  header (RFC 3261 §22.2, §22.3);
* a registrar, UAS or proxy challenging: :class:`DigestAuthenticator` issues
  nonces from an injected ``random.Random`` and verifies credentials
  (RFC 3261 §22.1; 401 + ``WWW-Authenticate`` for registrars and UASs,
  407 + ``Proxy-Authenticate`` for proxies, :func:`challenge_headers`);
* the digest itself: :func:`digest_response` (RFC 2617 §3.2.2.1).

RFC 2617 §3.2.2.1 with qop=auth::

    A1       = username ":" realm ":" password
    A2       = Method ":" digest-uri
    response = KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2))
    KD(s, d) = H(s ":" d)

and without qop (RFC 2069 compatibility) ``response = KD(H(A1), nonce ":" H(A2))``.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

__all__ = [
    "AuthError",
    "Challenge",
    "Credentials",
    "DigestAuthenticator",
    "authorization_header",
    "challenge_headers",
    "credentials_header_name",
    "digest_response",
    "format_challenge",
    "format_credentials",
    "parse_challenge",
    "parse_credentials",
]


class AuthError(ValueError):
    """A challenge or credentials header that cannot be understood or answered."""


def _md5(text: str) -> str:
    """Lower-case hex MD5 of the UTF-8 text (RFC 2617 §3.2.1 H())."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------- parsing


def _parse_auth_params(text: str) -> dict[str, str]:
    """Split ``name=value, name="quoted, value"`` into a dict (names lower-cased).

    RFC 3261 §25.1: ``auth-param = auth-param-name EQUAL ( token / quoted-string )``,
    separated by COMMA; quoted-pair (backslash) escapes inside quotes.
    """
    params: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        if i >= n:
            break
        start = i
        while i < n and text[i] not in "=, \t":
            i += 1
        name = text[start:i].strip().lower()
        while i < n and text[i] in " \t":
            i += 1
        if i >= n or text[i] != "=":
            if name:
                raise AuthError(f"auth-param {name!r} has no value")
            i += 1
            continue
        i += 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            chars: list[str] = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            if i >= n:
                raise AuthError(f"unterminated quoted value for {name!r}")
            i += 1
            value = "".join(chars)
        else:
            start = i
            while i < n and text[i] != ",":
                i += 1
            value = text[start:i].strip()
        if not name:
            raise AuthError("auth-param without a name")
        params[name] = value
    return params


def _split_scheme(value: str) -> tuple[str, str]:
    """Split ``Digest realm=...`` into ("Digest", "realm=...")."""
    value = value.strip()
    if not value:
        raise AuthError("empty authentication header")
    scheme, _, rest = value.partition(" ")
    return scheme, rest.strip()


def _quote(value: str) -> str:
    """Render a quoted-string, escaping backslash and DQUOTE (RFC 3261 §25.1)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` / ``Proxy-Authenticate`` value (RFC 3261 §25.1 challenge)."""

    scheme: str
    realm: str
    nonce: str
    opaque: str | None = None
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    stale: bool = False
    domain: str | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def is_digest(self) -> bool:
        """True for the Digest scheme (case-insensitive, RFC 2617 §1.2)."""
        return self.scheme.lower() == "digest"


@dataclass(frozen=True, slots=True)
class Credentials:
    """A parsed ``Authorization`` / ``Proxy-Authorization`` value (RFC 3261 §25.1 credentials)."""

    scheme: str
    username: str = ""
    realm: str = ""
    nonce: str = ""
    uri: str = ""
    response: str = ""
    algorithm: str = "MD5"
    cnonce: str | None = None
    opaque: str | None = None
    qop: str | None = None
    nc: str | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def is_digest(self) -> bool:
        """True for the Digest scheme (case-insensitive, RFC 2617 §1.2)."""
        return self.scheme.lower() == "digest"


def parse_challenge(value: str) -> Challenge:
    """Parse a ``WWW-Authenticate`` or ``Proxy-Authenticate`` header value."""
    scheme, rest = _split_scheme(value)
    params = _parse_auth_params(rest)
    qop = tuple(q.strip() for q in params.get("qop", "").split(",") if q.strip())
    return Challenge(
        scheme=scheme,
        realm=params.get("realm", ""),
        nonce=params.get("nonce", ""),
        opaque=params.get("opaque"),
        algorithm=params.get("algorithm", "MD5"),
        qop=qop,
        stale=params.get("stale", "").lower() == "true",
        domain=params.get("domain"),
        params=params,
    )


def parse_credentials(value: str) -> Credentials:
    """Parse an ``Authorization`` or ``Proxy-Authorization`` header value.

    Non-Digest schemes (RFC 4475 §3.3.7 regaut01) parse to a :class:`Credentials`
    with only ``scheme`` set, so callers can ignore them instead of failing.
    """
    scheme, rest = _split_scheme(value)
    if scheme.lower() != "digest":
        return Credentials(scheme=scheme)
    params = _parse_auth_params(rest)
    return Credentials(
        scheme=scheme,
        username=params.get("username", ""),
        realm=params.get("realm", ""),
        nonce=params.get("nonce", ""),
        uri=params.get("uri", ""),
        response=params.get("response", "").lower(),
        algorithm=params.get("algorithm", "MD5"),
        cnonce=params.get("cnonce"),
        opaque=params.get("opaque"),
        qop=params.get("qop"),
        nc=params.get("nc"),
        params=params,
    )


# ----------------------------------------------------------------- digest


def digest_response(
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    nc: str | None = None,
    cnonce: str | None = None,
    qop: str | None = None,
    algorithm: str = "MD5",
) -> str:
    """The request-digest of RFC 2617 §3.2.2.1 (MD5 or MD5-sess; qop auth or none)."""
    alg = algorithm.upper()
    if alg not in ("MD5", "MD5-SESS"):
        raise AuthError(f"unsupported digest algorithm {algorithm!r}")
    ha1 = _md5(f"{username}:{realm}:{password}")
    if alg == "MD5-SESS":
        # RFC 2617 §3.2.2.2: A1 = H(user:realm:pass) ":" nonce ":" cnonce.
        if cnonce is None:
            raise AuthError("MD5-sess needs a cnonce")
        ha1 = _md5(f"{ha1}:{nonce}:{cnonce}")
    ha2 = _md5(f"{method}:{uri}")
    if qop is None:
        return _md5(f"{ha1}:{nonce}:{ha2}")
    if qop.lower() != "auth":
        raise AuthError(f"unsupported qop {qop!r}")
    if nc is None or cnonce is None:
        raise AuthError("qop=auth needs nc and cnonce")
    return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def format_challenge(challenge: Challenge) -> str:
    """Render a Digest challenge value (realm, nonce, opaque quoted; RFC 3261 §25.1)."""
    parts = [f"realm={_quote(challenge.realm)}"]
    if challenge.domain is not None:
        parts.append(f"domain={_quote(challenge.domain)}")
    parts.append(f"nonce={_quote(challenge.nonce)}")
    if challenge.opaque is not None:
        parts.append(f"opaque={_quote(challenge.opaque)}")
    if challenge.stale:
        parts.append("stale=TRUE")
    parts.append(f"algorithm={challenge.algorithm}")
    if challenge.qop:
        parts.append(f"qop={_quote(','.join(challenge.qop))}")
    return f"{challenge.scheme} " + ", ".join(parts)


def format_credentials(credentials: Credentials) -> str:
    """Render Digest credentials (RFC 3261 §25.1 dig-resp: qop and nc unquoted)."""
    parts = [
        f"username={_quote(credentials.username)}",
        f"realm={_quote(credentials.realm)}",
        f"nonce={_quote(credentials.nonce)}",
        f"uri={_quote(credentials.uri)}",
        f"response={_quote(credentials.response)}",
        f"algorithm={credentials.algorithm}",
    ]
    if credentials.cnonce is not None:
        parts.append(f"cnonce={_quote(credentials.cnonce)}")
    if credentials.opaque is not None:
        parts.append(f"opaque={_quote(credentials.opaque)}")
    if credentials.qop is not None:
        parts.append(f"qop={credentials.qop}")
    if credentials.nc is not None:
        parts.append(f"nc={credentials.nc}")
    return f"{credentials.scheme} " + ", ".join(parts)


# ----------------------------------------------------------------- UAC side


def credentials_header_name(challenge_header: str) -> str:
    """``Authorization`` answers ``WWW-Authenticate``; ``Proxy-Authorization`` answers ``Proxy-Authenticate``."""
    lowered = challenge_header.lower()
    if lowered == "www-authenticate":
        return "Authorization"
    if lowered == "proxy-authenticate":
        return "Proxy-Authorization"
    raise AuthError(f"{challenge_header!r} is not a challenge header")


def authorization_header(
    challenge: str,
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce_rng: random.Random,
    nc: int = 1,
) -> str:
    """Answer one Digest challenge value with the matching credentials value (RFC 3261 §22.2-22.3).

    ``uri`` is the Request-URI of the request being authorised (digest-uri,
    RFC 3261 §22.4 item 5); ``nc`` counts requests sent with this nonce. The
    cnonce is drawn from ``cnonce_rng`` when the challenge offers qop=auth.
    """
    parsed = parse_challenge(challenge)
    if not parsed.is_digest:
        raise AuthError(f"cannot answer a {parsed.scheme!r} challenge")
    qop: str | None = None
    if parsed.qop:
        if "auth" not in (q.lower() for q in parsed.qop):
            raise AuthError(f"no supported qop in {parsed.qop!r}")
        qop = "auth"
    needs_cnonce = qop is not None or parsed.algorithm.upper() == "MD5-SESS"
    cnonce = f"{cnonce_rng.getrandbits(32):08x}" if needs_cnonce else None
    nc_text = f"{nc:08x}" if qop is not None else None
    response = digest_response(
        username, parsed.realm, password, method, uri, parsed.nonce,
        nc=nc_text, cnonce=cnonce, qop=qop, algorithm=parsed.algorithm,
    )
    return format_credentials(
        Credentials(
            scheme="Digest", username=username, realm=parsed.realm, nonce=parsed.nonce,
            uri=uri, response=response, algorithm=parsed.algorithm, cnonce=cnonce,
            opaque=parsed.opaque, qop=qop, nc=nc_text,
        )
    )


# ----------------------------------------------------------------- server side


def challenge_headers(proxy: bool) -> tuple[int, str, str]:
    """(status, challenge header, credentials header): 407 for proxies, 401 otherwise (RFC 3261 §22.3)."""
    if proxy:
        return 407, "Proxy-Authenticate", "Proxy-Authorization"
    return 401, "WWW-Authenticate", "Authorization"


class DigestAuthenticator:
    """Issues Digest challenges for one realm and verifies credentials (RFC 3261 §22.1).

    ``users`` maps username to password. Nonces are drawn from ``rng`` and
    remembered: credentials built on a nonce this authenticator never issued
    are rejected, so a forged or replayed-from-elsewhere response fails.
    Nonces do not expire (a simulated run is short); a verified nonce may be
    reused with a higher nonce-count, as RFC 3665 §2.2 re-registrations do.
    """

    def __init__(self, realm: str, users: dict[str, str], rng: random.Random, qop: bool = True) -> None:
        """Serve ``realm`` for ``users`` (name -> password), nonces from ``rng``."""
        self.realm = realm
        self.users = dict(users)
        self.rng = rng
        self.qop = qop
        self._issued: set[str] = set()

    def new_nonce(self) -> str:
        """A fresh 128-bit hex nonce from the injected RNG, remembered as issued."""
        nonce = f"{self.rng.getrandbits(128):032x}"
        self._issued.add(nonce)
        return nonce

    def challenge(self, stale: bool = False) -> str:
        """A new challenge header value for this realm (qop="auth" unless disabled)."""
        return format_challenge(
            Challenge(
                scheme="Digest", realm=self.realm, nonce=self.new_nonce(),
                algorithm="MD5", qop=("auth",) if self.qop else (), stale=stale,
            )
        )

    def find_credentials(self, values: list[str]) -> Credentials | None:
        """The Digest credentials for our realm among header values, if any (RFC 3261 §22.3)."""
        for value in values:
            try:
                creds = parse_credentials(value)
            except AuthError:
                continue
            if creds.is_digest and creds.realm == self.realm:
                return creds
        return None

    def check(self, credentials: Credentials, method: str) -> str:
        """"ok", "stale" (right password, nonce not ours: RFC 2617 §3.2.1 stale=TRUE) or "bad"."""
        if not credentials.is_digest or credentials.realm != self.realm:
            return "bad"
        password = self.users.get(credentials.username)
        if password is None:
            return "bad"
        try:
            expected = digest_response(
                credentials.username, self.realm, password, method, credentials.uri,
                credentials.nonce, nc=credentials.nc, cnonce=credentials.cnonce,
                qop=credentials.qop, algorithm=credentials.algorithm,
            )
        except AuthError:
            return "bad"
        if expected != credentials.response:
            return "bad"
        return "ok" if credentials.nonce in self._issued else "stale"

    def verify(self, credentials: Credentials, method: str) -> bool:
        """True when the credentials answer one of our nonces with the user's password."""
        return self.check(credentials, method) == "ok"
