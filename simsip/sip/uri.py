"""SIP, SIPS and tel URIs, and any other absolute URI (RFC 3261 §19.1, §25; RFC 3966).

Components are stored *decoded*: ``%HH`` escapes in the user, password,
parameters and URI headers are resolved once (so ``n%61me=v%61lue%25%34%31``
gives the parameter ``name`` with value ``value%41``, RFC 4475 §3.1.1.3), and
``str()`` escapes again whatever that component may not carry unescaped. RFC
3261 §19.1.4 treats an escaped unreserved character and the character itself
as equal, so this keeps equality simple; the price is that an escaped reserved
character in a user part (``%3B`` for ``;``) reads back unescaped.

Parameter names are lower-cased (they are case-insensitive); values keep their
case. A host is kept as written, IPv6 references with their brackets.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, unquote

from simsip.sip import abnf
from simsip.sip.abnf import SipParseError

__all__ = ["URI"]


def _unescape(text: str) -> str:
    """Resolve ``%HH`` escapes (already validated by a regex) into characters."""
    if "%" not in text:
        return text
    return unquote(text, encoding="utf-8", errors="surrogateescape")


# safe characters -> a regex finding a character that is neither unreserved nor safe
# (one C call instead of a Python loop over the characters of every component).
_UNSAFE_RE: dict[str, re.Pattern[str]] = {}


def _escape(text: str, safe: str) -> str:
    """Escape every character of ``text`` that is neither unreserved nor in ``safe``."""
    unsafe = _UNSAFE_RE.get(safe)
    if unsafe is None:
        allowed = "".join(sorted(abnf.UNRESERVED_SET | set(safe)))
        unsafe = _UNSAFE_RE[safe] = re.compile(f"[^{re.escape(allowed)}]")
    if unsafe.search(text) is None:
        return text
    return quote(text, safe=safe + "!*'()", encoding="utf-8", errors="surrogateescape")


def _check_host(host: str) -> str:
    """Validate an IPv6 reference's address part (the regex only checks its characters)."""
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise SipParseError(f"bad IPv6 reference {host!r}", expected="IPv6reference") from None
    return host


def parse_port(text: str) -> int:
    """Parse ``port = 1*DIGIT`` and check it fits in 16 bits."""
    return abnf.bounded_int(text, 65535, "port")


class URI:
    """A URI as found in a Request-URI or a name-addr (RFC 3261 §19.1).

    ``scheme`` is lower-case. For ``sip``/``sips``: ``user``, ``password``,
    ``host``, ``port``, ``params`` (``;name[=value]``) and ``headers``
    (``?name=value&...``). For ``tel`` (RFC 3966): the number in ``user`` and
    its parameters in ``params``. Any other scheme keeps the text after the
    colon in ``opaque``. Treat instances as values: build a new one to change it.
    """

    __slots__ = ("scheme", "user", "password", "host", "port", "params", "headers", "opaque")

    def __init__(
        self,
        scheme: str = "sip",
        user: str | None = None,
        password: str | None = None,
        host: str | None = None,
        port: int | None = None,
        params: dict[str, str | None] | None = None,
        headers: dict[str, str] | None = None,
        opaque: str | None = None,
    ) -> None:
        """Build a URI from decoded components (no escaping needed)."""
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.params: dict[str, str | None] = {} if params is None else params
        self.headers: dict[str, str] = {} if headers is None else headers
        self.opaque = opaque

    # ------------------------------------------------------------ parsing

    @classmethod
    def parse(cls, text: str) -> "URI":
        """Parse a SIP/SIPS/tel URI or any absoluteURI; raise SipParseError if malformed."""
        colon = text.find(":")
        if colon <= 0 or not abnf.SCHEME_RE.fullmatch(text, 0, colon):
            raise SipParseError(f"bad URI {text!r}", expected="scheme \":\"")
        scheme = text[:colon].lower()
        rest = text[colon + 1 :]
        if scheme == "sip" or scheme == "sips":
            return cls._parse_sip(scheme, rest, text)
        if scheme == "tel":
            return cls._parse_tel(rest, text)
        if not abnf.OPAQUE_RE.fullmatch(rest):
            raise SipParseError(f"bad URI {text!r}", expected="absoluteURI")
        return cls(scheme, opaque=rest)

    @classmethod
    def _parse_sip(cls, scheme: str, rest: str, text: str) -> "URI":
        """Parse the part of a SIP-URI after ``sip:``."""
        user = password = None
        at = rest.find("@")
        if at >= 0:
            userinfo = rest[:at]
            rest = rest[at + 1 :]
            # userinfo = ( user / telephone-subscriber ) [ ":" password ] "@"
            colon = userinfo.find(":")
            if colon >= 0:
                user, password = userinfo[:colon], userinfo[colon + 1 :]
                if not abnf.PASSWORD_RE.fullmatch(password):
                    raise SipParseError(f"bad password in URI {text!r}", expected="password")
                password = _unescape(password)
            else:
                user = userinfo
            if not abnf.USER_RE.fullmatch(user):
                raise SipParseError(f"bad user part in URI {text!r}", expected="user")
            user = _unescape(user)
        m = abnf.HOSTPORT_RE.match(rest)
        if m is None:
            raise SipParseError(f"bad host in URI {text!r}", expected="hostport")
        host = _check_host(m.group(1))
        port = None if m.group(2) is None else parse_port(m.group(2))
        pos = m.end()
        params: dict[str, str | None] = {}
        headers: dict[str, str] = {}
        if pos < len(rest):
            qmark = rest.find("?", pos)
            ptext = rest[pos:] if qmark < 0 else rest[pos:qmark]
            if ptext:
                if ptext[0] != ";":
                    raise SipParseError(f"bad URI {text!r} after host", expected='";" or "?"')
                params = _parse_uri_params(ptext[1:].split(";"), text)
            if qmark >= 0:
                headers = _parse_uri_headers(rest[qmark + 1 :], text)
        return cls(scheme, user, password, host, port, params, headers)

    @classmethod
    def _parse_tel(cls, rest: str, text: str) -> "URI":
        """Parse the part of a tel URI (RFC 3966) after ``tel:``."""
        number, _, ptext = rest.partition(";")
        if not abnf.TEL_NUMBER_RE.fullmatch(number):
            raise SipParseError(f"bad telephone number in URI {text!r}", expected="telephone-subscriber")
        params: dict[str, str | None] = {}
        if _:
            for item in ptext.split(";"):
                name, eq, value = item.partition("=")
                if not abnf.TEL_PNAME_RE.fullmatch(name) or (eq and not abnf.PARAMCHARS_RE.fullmatch(value)):
                    raise SipParseError(f"bad parameter {item!r} in URI {text!r}", expected="pname [\"=\" pvalue]")
                params[name.lower()] = _unescape(value) if eq else None
        return cls("tel", user=number, params=params)

    # ------------------------------------------------------------ rendering

    def __str__(self) -> str:
        """Render the URI, escaping each component as RFC 3261 §25 requires."""
        scheme = self.scheme
        if scheme == "sip" or scheme == "sips":
            user = self.user
            if user is None:
                out = f"{scheme}:{self.host or ''}"
            elif self.password is None:
                out = f"{scheme}:{_escape(user, abnf.USER_SAFE)}@{self.host or ''}"
            else:
                out = (f"{scheme}:{_escape(user, abnf.USER_SAFE)}:{_escape(self.password, abnf.PASSWORD_SAFE)}"
                       f"@{self.host or ''}")
            if self.port is not None:
                out = f"{out}:{self.port}"
            if self.params:
                out += _render_params(self.params)
            if self.headers:
                out += "?" + "&".join(
                    f"{_escape(k, abnf.HNV_SAFE)}={_escape(v, abnf.HNV_SAFE)}" for k, v in self.headers.items()
                )
            return out
        if scheme == "tel":
            return f"tel:{self.user}{_render_params(self.params)}"
        return f"{scheme}:{self.opaque}"

    def __repr__(self) -> str:
        """Show the URI as text."""
        return f"URI({str(self)!r})"

    # ------------------------------------------------------------ values

    def _key(self) -> tuple:
        """The fields that decide equality (scheme and host case-insensitively)."""
        return (
            self.scheme.lower(),
            self.user,
            self.password,
            None if self.host is None else self.host.lower(),
            self.port,
            tuple(sorted((k.lower(), v) for k, v in self.params.items())),
            tuple(sorted(self.headers.items())),
            self.opaque,
        )

    def __eq__(self, other: object) -> bool:
        """Compare component by component (RFC 3261 §19.1.4, simplified)."""
        if not isinstance(other, URI):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        """Hash consistently with ``==``."""
        return hash(self._key())

    def copy(self) -> "URI":
        """A copy whose params and headers dicts can be changed independently."""
        return URI(
            self.scheme, self.user, self.password, self.host, self.port, dict(self.params), dict(self.headers), self.opaque
        )

    @property
    def host_port(self) -> str:
        """``host`` or ``host:port``."""
        return (self.host or "") if self.port is None else f"{self.host}:{self.port}"

    @property
    def transport(self) -> str | None:
        """The ``transport`` URI parameter, upper-cased, or None."""
        value = self.params.get("transport")
        return None if value is None else value.upper()

    @property
    def lr(self) -> bool:
        """True when the URI carries the loose-routing ``lr`` parameter (RFC 3261 §19.1.1)."""
        return "lr" in self.params

    @property
    def maddr(self) -> str | None:
        """The ``maddr`` URI parameter, or None."""
        return self.params.get("maddr")

    @property
    def aor(self) -> str:
        """The address-of-record form ``scheme:user@host`` (no port, params or headers)."""
        if self.scheme in ("sip", "sips"):
            user = "" if self.user is None else _escape(self.user, abnf.USER_SAFE) + "@"
            return f"{self.scheme}:{user}{(self.host or '').lower()}"
        return str(self)


def _parse_uri_params(items: list[str], text: str) -> dict[str, str | None]:
    """Parse ``uri-parameter`` items (the text between semicolons)."""
    params: dict[str, str | None] = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not abnf.PARAMCHARS_RE.fullmatch(name) or (eq and not abnf.PARAMCHARS_RE.fullmatch(value)):
            raise SipParseError(f"bad URI parameter {item!r} in {text!r}", expected='pname ["=" pvalue]')
        params[_unescape(name).lower()] = _unescape(value) if eq else None
    return params


def _parse_uri_headers(htext: str, text: str) -> dict[str, str]:
    """Parse ``headers = header *( "&" header )`` after the ``?``."""
    headers: dict[str, str] = {}
    for item in htext.split("&"):
        name, eq, value = item.partition("=")
        if not eq or not abnf.HNAME_RE.fullmatch(name) or not abnf.HVALUE_RE.fullmatch(value):
            raise SipParseError(f"bad URI header {item!r} in {text!r}", expected='hname "=" hvalue')
        headers[_unescape(name)] = _unescape(value)
    return headers


def _render_params(params: dict[str, str | None]) -> str:
    """Render URI parameters as ``;name=value`` with escaping."""
    out = ""
    for k, v in params.items():  # a loop, not a generator: no frame per parameter
        if v is None:
            out += f";{_escape(k, abnf.PARAM_SAFE)}"
        else:
            out += f";{_escape(k, abnf.PARAM_SAFE)}={_escape(v, abnf.PARAM_SAFE)}"
    return out
