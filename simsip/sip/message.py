"""SIP messages: headers, typed header views, parsing and serialization (RFC 3261 §7, §20, §25).

Sans-IO and standard library only. The pieces:

* :class:`Headers` — an ordered, case-insensitive multimap of header lines.
  Names are normalised on input (compact ``v`` and ``VIA`` both become
  ``Via``); values are stored as text exactly as they will be written.
* Typed views, parsed from header text on demand: :class:`NameAddr` (From,
  To, Contact, Route, Record-Route, P-Asserted-Identity), :class:`Via`,
  :class:`CSeq`, :class:`RAck`, and :class:`~simsip.sip.uri.URI`.
* :class:`Request` and :class:`Response`, whose read accessors (``.vias``,
  ``.cseq``, ``.to`` ...) return the parsed values cached in the
  :class:`Headers` object; any change to a header re-parses or drops its
  cached view, so an accessor never returns stale data. The views are shared
  values: read them, do not mutate them (``NameAddr.with_tag`` and
  ``headers.set`` make changes).

Cost per simulated message. The network hands the receiver the very object
the sender built, so the text is parsed once, not once per reader: a known
header is parsed when it is added or set (a value that does not parse is left
for the reader, who gets the error), through a memo of (header, line) ->
values, so the constant lines of a core (``Max-Forwards: 70``, its Contact,
a dialog's From/To) are parsed once per run; a Via or From/To that differs
only in a trailing ``;branch=``/``;tag=`` token is parsed as a memoised prefix
plus that token. :func:`make_response` and ``copy()`` share the parsed values
of the request. ``Headers`` keeps a per-name index of its lines up to date on
``add``/``set``, so ``get``/``get_all``/``in`` are dict lookups.
* :func:`parse` (bytes of one datagram -> message) and ``bytes(message)``.

Error policy. :func:`parse` raises :class:`SipParseError` (never anything
else) for anything RFC 3261 §25 does not allow in the start line, in the
framing, or in the value of a header whose grammar it knows (Via, From, To,
Contact, Route, Record-Route, CSeq, Call-ID, Max-Forwards, Content-Length,
Expires, RSeq, RAck, Require, Supported, ...), except a malformed Contact
``expires``, which RFC 3261 §10.2 reads as 3600. It does *not* reject a message
for what is missing or repeated: a request without To, From or Call-ID
(RFC 4475 §3.3.1) or with two CSeq values (§3.3.8) parses, and is answered
above the parser. For those, the mandatory-header accessors ``.vias``,
``.top_via``, ``.call_id``, ``.cseq``, ``.from_``, ``.to`` raise
SipParseError when their header is missing, repeated or malformed; the
optional ones (``.max_forwards``, ``.rseq``, ``.rack``, ``.expires``, ``.min_expires``,
``.content_type``) return None when absent and raise when repeated or
malformed; list accessors return ``[]`` when absent.

Strict where RFC 4475 §3.1.2 lets a receiver choose: exactly one SP between
Request-Line elements, no <> around or LWS inside a Request-URI, no headers
in a Request-URI, Date in GMT, no <> inferred around a Contact URI. Lenient
where simsip itself needs it or RFC 4475 asks: "_" in host names (scenario
node names), a host name (not only an IP address) in Via ``received``, a
token display name followed directly by "<" (§3.1.1.6), and any
``SIP/x.y`` version, so the UA core can answer 505 (§3.1.2.16).

Proxies edit header lists with ``Headers.prepend`` (new top Via or
Record-Route), ``pop_first`` (remove the top Via or Route value, even from a
``Via: a, b`` line) and ``set_first`` (rewrite the top value, e.g. to add
``received``).
"""

from __future__ import annotations

import email.utils
import re
from typing import Any, Callable, Final, Iterable, Iterator, Mapping, NamedTuple, Union

from simsip.sip import abnf
from simsip.sip.abnf import SipParseError
from simsip.sip.codes import reason_phrase
from simsip.sip.uri import URI, parse_port

__all__ = [
    "CSeq",
    "Headers",
    "NameAddr",
    "RAck",
    "Request",
    "Response",
    "SipParseError",
    "URI",
    "Via",
    "make_response",
    "parse",
]

# ---------------------------------------------------------------- header names

# RFC 3261 §7.3.3 and later RFCs: compact form -> full name.
COMPACT_FORMS: Final[dict[str, str]] = {
    "i": "Call-ID",
    "f": "From",
    "t": "To",
    "v": "Via",
    "m": "Contact",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
    "o": "Event",  # RFC 6665
    "u": "Allow-Events",  # RFC 6665
    "r": "Refer-To",  # RFC 3515
    "x": "Session-Expires",  # RFC 4028
    "b": "Referred-By",  # RFC 3892
    "y": "Identity",  # RFC 8224
    "a": "Accept-Contact",  # RFC 3841
    "j": "Reject-Contact",  # RFC 3841
    "d": "Request-Disposition",  # RFC 3841
}

# Canonical spelling of the header names simsip knows (others keep the
# spelling they arrived with).
_KNOWN_NAMES = (
    "Accept", "Accept-Contact", "Accept-Encoding", "Accept-Language", "Accept-Resource-Priority",
    "Alert-Info", "Allow", "Allow-Events", "Authentication-Info", "Authorization", "Call-ID",
    "Call-Info", "Contact", "Content-Disposition", "Content-Encoding", "Content-Language",
    "Content-Length", "Content-Type", "CSeq", "Date", "Error-Info", "Event", "Expires", "From",
    "History-Info", "Identity", "In-Reply-To", "Join", "Max-Breadth", "Max-Forwards",
    "MIME-Version", "Min-Expires", "Min-SE", "Organization", "P-Asserted-Identity",
    "P-Preferred-Identity", "Path", "Priority", "Privacy", "Proxy-Authenticate",
    "Proxy-Authorization", "Proxy-Require", "RAck", "Reason", "Record-Route", "Refer-Sub",
    "Refer-To", "Referred-By", "Reject-Contact", "Replaces", "Reply-To", "Request-Disposition",
    "Require", "Resource-Priority", "Retry-After", "Route", "RSeq", "Security-Client",
    "Security-Server", "Security-Verify", "Server", "Service-Route", "Session-Expires",
    "SIP-ETag", "SIP-If-Match", "Subject", "Subscription-State", "Supported", "Target-Dialog",
    "Timestamp", "To", "Unsupported", "User-Agent", "Via", "Warning", "WWW-Authenticate",
)  # fmt: skip
_CANONICAL: Final[dict[str, str]] = {n.lower(): n for n in _KNOWN_NAMES}
_CANONICAL.update((k, v) for k, v in COMPACT_FORMS.items())

# Headers whose grammar is a comma-separated list (RFC 3261 §7.3.1: only
# those may be split or combined). Authorization, WWW-Authenticate, Date ...
# contain commas that are not list separators and are not here.
LIST_HEADERS: Final = frozenset(
    (
        "accept", "accept-contact", "accept-encoding", "accept-language", "accept-resource-priority",
        "alert-info", "allow", "allow-events", "call-info", "contact", "content-encoding",
        "content-language", "error-info", "history-info", "in-reply-to", "p-asserted-identity",
        "p-preferred-identity", "path", "proxy-require", "reason", "record-route", "reject-contact",
        "request-disposition", "require", "resource-priority", "route", "security-client",
        "security-server", "security-verify", "service-route", "supported", "unsupported", "via",
        "warning",
    )
)  # fmt: skip

# name as given -> (lower-case key, canonical name); bounded so odd input cannot grow it.
_NAME_CACHE: Final[dict[str, tuple[str, str]]] = {}
_NAME_CACHE_MAX: Final = 4096


def _canon(name: str) -> tuple[str, str]:
    """Return (key, canonical name) for a header name, validating it as a token."""
    hit = _NAME_CACHE.get(name)
    if hit is not None:
        return hit
    if not abnf.HEADER_NAME_RE.fullmatch(name):
        raise ValueError(f"invalid header name {name!r}")
    canon = _CANONICAL.get(name.lower(), name)
    hit = (canon.lower(), canon)
    if len(_NAME_CACHE) < _NAME_CACHE_MAX:
        _NAME_CACHE[name] = hit
    return hit


def split_list(value: str) -> list[str]:
    """Split a list header value at commas outside quoted strings and <...> (RFC 3261 §7.3.1).

    Empty elements are kept as ``""`` so that grammar checks can reject them;
    an empty value gives ``[]``.
    """
    if not value:
        return []
    if '"' not in value and "<" not in value:
        if "," not in value:
            return [value]
        return [p.strip(" \t") for p in value.split(",")]
    parts: list[str] = []
    start = 0
    i = 0
    n = len(value)
    while i < n:
        ch = value[i]
        if ch == '"':
            i += 1
            while i < n and value[i] != '"':
                i += 2 if value[i] == "\\" else 1
        elif ch == "<":
            end = value.find(">", i)
            i = n if end < 0 else end
        elif ch == ",":
            parts.append(value[start:i].strip(" \t"))
            start = i + 1
        i += 1
    parts.append(value[start:].strip(" \t"))
    return parts


# ---------------------------------------------------------------- Headers

_NO_LINES: Final[list[str]] = []  # what Headers._lines gives for an absent header; never appended to


class Headers:
    """Ordered, case-insensitive multimap of SIP header lines.

    Values are text; ``add``/``set``/``prepend``/``set_first`` also take a
    typed value (Via, NameAddr, CSeq, RAck, URI, int) and store ``str()`` of it
    (the reader gets the parse of that text, exactly as from the wire).
    Iteration yields ``(name, value)`` per header line, in order. ``get`` and
    ``get_all`` see individual values: a ``Via: a, b`` line holds two values.
    ``==`` compares, per header name, the sequence of values (the relative
    order of different names is not significant, RFC 3261 §7.3.1).
    """

    __slots__ = ("_items", "_typed", "_index")

    def __init__(
        self,
        items: "Iterable[tuple[str, str]] | Mapping[str, str] | Headers | None" = None,
        *,
        _items: list[tuple[str, str, str]] | None = None,
        _typed: dict[str, list[Any]] | None = None,
        _index: dict[str, list[str]] | None = None,
    ) -> None:
        """Build from ``(name, value)`` pairs, a mapping, or another Headers.

        ``_items`` (with ``_typed`` and ``_index``) is the private way in of
        :meth:`_from_items` and :meth:`_known`: checked ``(key, name, value)``
        triples, kept as they are, with their tables; a message built per
        simulated message then allocates no empty tables only to replace them.
        """
        self._items: list[tuple[str, str, str]]
        # header key -> parsed values of every line (see Message._values).
        self._typed: dict[str, list[Any]]
        # header key -> its line values in order (see _lines): kept up to date by
        # add and set, None after other changes (rebuilt on the next read).
        # Reading a header then costs a dict lookup, not a scan.
        self._index: dict[str, list[str]] | None
        if _items is not None:
            self._items = _items
            self._typed = {} if _typed is None else _typed
            self._index = _index
            return
        self._items = []
        self._typed = {}
        self._index = {}
        if items is None:
            return
        if isinstance(items, Headers):
            self._items = list(items._items)
            self._typed = dict(items._typed)
            self._index = None
            return
        pairs = items.items() if isinstance(items, Mapping) else items
        for name, value in pairs:
            self.add(name, value)

    @staticmethod
    def _from_items(items: list[tuple[str, str, str]], typed: dict[str, list[Any]] | None = None,
                    index: dict[str, list[str]] | None = None) -> "Headers":
        """Wrap already-validated ``(key, name, value)`` triples without copying (``index``: see ``__init__``)."""
        return Headers(_items=items, _typed=typed, _index=index)

    @staticmethod
    def _known(lines: list[tuple[str, str, str]], given: dict[str, list[Any]] | None = None) -> "Headers":
        """What ``add`` of each line in turn builds, in one call (the cores' message building).

        ``lines`` are ``(key, canonical name, value)`` triples of known names
        (``("via", "Via", text)``), the list is kept. ``given`` maps the key of a
        header that has exactly one line to the parsed values of that line
        (what ``_parse_line`` gives), for a fresh value the caller built from
        parsed parts (its Via with a new branch, its From with a new tag): that
        line is neither parsed nor entered in the line memo, where a value seen
        once would only evict reusable lines.
        """
        typed: dict[str, list[Any]] = {}
        index: dict[str, list[str]] = {}
        for i, (key, canon, value) in enumerate(lines):
            # the checks and trimming of add
            if "\n" in value or "\r" in value:
                raise ValueError(f"header value contains CR or LF: {value!r}")
            stripped = value.strip(" \t")  # the very same str when there is nothing to strip
            if stripped is not value:
                value = stripped
                lines[i] = (key, canon, value)
            if key in index:
                index[key].append(value)
                if key in typed:
                    parsed = _parse_line_quiet(key, value)
                    if parsed is None:
                        del typed[key]
                    else:
                        typed[key] = typed[key] + parsed
                continue
            index[key] = [value]
            given_values = None if given is None else given.get(key)
            if given_values is not None:
                typed[key] = given_values
            else:
                parsed = _parse_line_quiet(key, value)  # None too for a header without a grammar
                if parsed is not None:
                    typed[key] = parsed
        return Headers(_items=lines, _typed=typed, _index=index)

    @staticmethod
    def _value(value: "str | object") -> str:
        """Check a header value can be written on one line and trim it (non-strings go through ``str``)."""
        if not isinstance(value, str):
            value = str(value)  # a Via, NameAddr, CSeq, RAck, URI or int renders itself
        if "\n" in value or "\r" in value:
            raise ValueError(f"header value contains CR or LF: {value!r}")
        return value.strip(" \t")

    # ------------------------------------------------------------ mutation

    def add(self, name: str, value: "str | object") -> None:
        """Append a header line."""
        try:
            key, canon = _NAME_CACHE[name]
        except KeyError:
            key, canon = _canon(name)
        # The cores add plain one-line strings: check them inline (the hot path of building a message).
        if type(value) is str and "\n" not in value and "\r" not in value:
            value = value.strip(" \t")
        else:
            value = self._value(value)
        self._items.append((key, canon, value))
        typed = self._typed
        index = self._index
        if index is None:
            if key in typed:
                del typed[key]
            return
        # Keep the read index up to date instead of rebuilding it (messages are
        # built by appending, then read), and parse a known header now, through
        # the line memo, so that its reader finds the value ready. A value that
        # does not parse is left for the reader, who gets the error.
        if key in index:
            index[key].append(value)
            if key in typed:
                if key in _PARSERS:
                    parsed = _parse_line_quiet(key, value)
                    if parsed is not None:
                        typed[key] = typed[key] + parsed
                        return
                del typed[key]
            return
        index[key] = [value]
        self._retype(key, value)

    def _retype(self, key: str, value: str) -> None:
        """Parse ``key``'s only line ``value`` for its reader, or forget a stale parse (e.g. [] read while absent)."""
        typed = self._typed
        if key in _PARSERS:
            parsed = _parse_line_quiet(key, value)
            if parsed is not None:
                typed[key] = parsed
                return
        if key in typed:
            del typed[key]

    def set(self, name: str, value: "str | object") -> None:
        """Replace every line of ``name`` with one line, where the first one was."""
        key, canon = _canon(name)
        value = self._value(value)
        items = self._items
        pos = None
        kept: list[tuple[str, str, str]] = []
        for item in items:
            if item[0] == key:
                if pos is None:
                    pos = len(kept)
                    kept.append((key, canon, value))
            else:
                kept.append(item)
        if pos is None:
            kept.append((key, canon, value))
        self._items = kept
        index = self._index
        if index is not None:
            index[key] = [value]  # the index is per name: where the line sits does not matter
        self._retype(key, value)

    def remove(self, name: str) -> None:
        """Remove every line of ``name`` (no error if there is none)."""
        key = _canon(name)[0]
        self._items = [item for item in self._items if item[0] != key]
        self._typed.pop(key, None)
        self._index = None

    def prepend(self, name: str, value: "str | object") -> None:
        """Insert a line before the first line of ``name`` (append if none): a proxy's new top Via."""
        key, canon = _canon(name)
        value = self._value(value)
        items = self._items
        for i, item in enumerate(items):
            if item[0] == key:
                items.insert(i, (key, canon, value))
                break
        else:
            items.append((key, canon, value))
        self._typed.pop(key, None)
        self._index = None

    def pop_first(self, name: str) -> str | None:
        """Remove and return the first value of ``name`` (splitting a list line), or None."""
        key = _canon(name)[0]
        items = self._items
        for i, (k, canon, value) in enumerate(items):
            if k == key:
                self._typed.pop(key, None)
                self._index = None
                parts = split_list(value) if key in LIST_HEADERS else [value]
                if len(parts) > 1:
                    items[i] = (k, canon, ", ".join(parts[1:]))
                    return parts[0]
                del items[i]
                return value
        return None

    def set_first(self, name: str, value: "str | object") -> None:
        """Replace the first value of ``name`` (splitting a list line); add it if absent."""
        key, canon = _canon(name)
        value = self._value(value)
        items = self._items
        for i, (k, _, old) in enumerate(items):
            if k == key:
                parts = split_list(old) if key in LIST_HEADERS else [old]
                rest = ", ".join(parts[1:])
                items[i] = (k, canon, f"{value}, {rest}" if rest else value)
                self._typed.pop(key, None)
                self._index = None
                return
        self.add(name, value)

    # ------------------------------------------------------------ reading

    def _build_index(self) -> dict[str, list[str]]:
        """Build (and keep) header key -> its line values in order."""
        index: dict[str, list[str]] = {}
        for k, _, value in self._items:
            if k in index:
                index[k].append(value)
            else:
                index[k] = [value]
        self._index = index
        return index

    def _lines(self, key: str) -> list[str]:
        """The line values of the lower-case header ``key``, in order (read-only; [] if none)."""
        index = self._index
        if index is None:
            index = self._build_index()
        return index[key] if key in index else _NO_LINES

    def get(self, name: str, default: str | None = None) -> str | None:
        """First value of ``name`` (the first element of a list line), or ``default``."""
        key = _canon(name)[0]
        lines = self._lines(key)
        if not lines:
            return default
        value = lines[0]
        if key in LIST_HEADERS and ("," in value):
            parts = split_list(value)
            return parts[0] if parts else value
        return value

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, list lines split at their commas."""
        key = _canon(name)[0]
        index = self._index
        if index is None:
            index = self._build_index()
        if key not in index:  # the common case for the optional headers the cores look for
            return []
        lines = index[key]
        if key in LIST_HEADERS:
            out: list[str] = []
            for value in lines:
                if "," in value or '"' in value or "<" in value or not value:
                    out.extend(split_list(value))
                else:
                    out.append(value)
            return out
        return list(lines)

    def __contains__(self, name: object) -> bool:
        """True if at least one line of ``name`` exists."""
        if not isinstance(name, str):
            return False
        try:
            key = _canon(name)[0]
        except ValueError:
            return False
        index = self._index
        if index is None:
            index = self._build_index()
        return key in index

    def __iter__(self) -> Iterator[tuple[str, str]]:
        """Yield ``(name, value)`` per header line, in order."""
        for _, name, value in self._items:
            yield name, value

    def __len__(self) -> int:
        """Number of header lines."""
        return len(self._items)

    def copy(self) -> "Headers":
        """An independent copy (the cached typed views are shared values)."""
        return Headers._from_items(list(self._items), dict(self._typed))

    def _semantic(self, skip: str | None = None) -> dict[str, list[str]]:
        """Header key -> its values in order, the basis of ``==``."""
        out: dict[str, list[str]] = {}
        for k, _, value in self._items:
            if k == skip:
                continue
            if k in LIST_HEADERS:
                out.setdefault(k, []).extend(split_list(value))
            else:
                out.setdefault(k, []).append(value)
        return out

    def __eq__(self, other: object) -> bool:
        """Same values for every header name, in the same order per name."""
        if not isinstance(other, Headers):
            return NotImplemented
        return self._semantic() == other._semantic()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """Show the lines."""
        return f"Headers({[(n, v) for _, n, v in self._items]!r})"


# ---------------------------------------------------------------- typed views


def parse_params(text: str, pos: int) -> dict[str, str | None]:
    """Parse ``*( SEMI generic-param )`` from ``text[pos:]``; names lower-cased, values as written."""
    params: dict[str, str | None] = {}
    n = len(text)
    match = abnf.GENERIC_PARAM_RE.match
    while pos < n:
        m = match(text, pos)
        if m is None:
            if text[pos:].strip(" \t"):
                raise SipParseError(f"bad parameter at {text[pos:]!r}", expected="SEMI generic-param")
            break
        params[m.group(1).lower()] = m.group(2)
        pos = m.end()
    return params


def render_params(params: dict[str, str | None]) -> str:
    """Render header parameters as ``;name=value`` (values are written as stored)."""
    out = ""
    for k, v in params.items():  # a loop, not a generator: no frame per parameter
        out += f";{k}" if v is None else f";{k}={v}"
    return out


_DISPLAY_ESCAPE_RE = re.compile(r'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f"\\]')
_QVALUE_RE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")
_MAX_DELTA: Final = 2**32 - 1


# RFC 3261 §10.2, the Contact "expires" parameter: "Malformed values SHOULD be treated as
# equivalent to 3600" (the RFC 2543 absolute dates among them).
MALFORMED_CONTACT_EXPIRES: Final = 3600


def _delta_seconds(text: str) -> int:
    """``delta-seconds = 1*DIGIT``, clamped to 2**32-1 as RFC 3261 §20.19 allows."""
    if not abnf.DIGITS_RE.fullmatch(text):
        raise SipParseError(f"bad delta-seconds {text!r}", expected="1*DIGIT")
    stripped = text.lstrip("0") or "0"
    return _MAX_DELTA if len(stripped) > 10 else min(int(stripped), _MAX_DELTA)


_TOKEN_FULLMATCH = abnf.TOKEN_RE.fullmatch


def _is_token(text: str) -> bool:
    """``token`` (RFC 3261 §25.1); the tags and branches simsip draws are ASCII letters and digits, told without the regex."""
    return (text.isascii() and text.isalnum()) or _TOKEN_FULLMATCH(text) is not None

# Parsed text before a trailing ";tag=" / ";branch=" -> its value (None: does not
# parse on its own, use the whole grammar). Bounded: cleared when full.
_NAME_ADDR_PREFIXES: Final["dict[str, NameAddr | None]"] = {}
_VIA_PREFIXES: Final["dict[str, Via | None]"] = {}
_PREFIXES_MAX: Final = 1024


def _name_addr_prefix(prefix: str) -> "NameAddr | None":
    """Parse and remember the part of a From/To value before its tag (None if it does not parse)."""
    try:
        base: NameAddr | None = NameAddr._parse_full(prefix.strip(" \t"), False)
    except Exception:
        base = None
    if len(_NAME_ADDR_PREFIXES) >= _PREFIXES_MAX:
        _NAME_ADDR_PREFIXES.clear()
    _NAME_ADDR_PREFIXES[prefix] = base
    return base


def _via_prefix(prefix: str) -> "Via | None":
    """Parse and remember the part of a Via value before its branch (None if it does not parse)."""
    try:
        base: Via | None = Via._parse_full(prefix)
    except Exception:
        base = None
    if len(_VIA_PREFIXES) >= _PREFIXES_MAX:
        _VIA_PREFIXES.clear()
    _VIA_PREFIXES[prefix] = base
    return base


def name_addr_with_tag(prefix: str, tag: str) -> "NameAddr | None":
    """``NameAddr.parse(f"{prefix};tag={tag}")`` for a token ``tag``, from the memoised parse of ``prefix`` (None: parse in full)."""
    base = _NAME_ADDR_PREFIXES[prefix] if prefix in _NAME_ADDR_PREFIXES else _name_addr_prefix(prefix)
    if base is None:
        return None
    params = base.params.copy()
    params["tag"] = tag
    return NameAddr(base.display, base.uri, params)


# A From/To prefix (see above) -> str() of its parse, which has no tag (None: it does not
# parse, has a tag, or does not render). Bounded: cleared when full.
_RENDERED_PREFIXES: Final["dict[str, str | None]"] = {}


def _rendered_prefix(prefix: str) -> str | None:
    """Render and remember the parse of a From/To prefix (None: see _RENDERED_PREFIXES)."""
    base = _NAME_ADDR_PREFIXES[prefix] if prefix in _NAME_ADDR_PREFIXES else _name_addr_prefix(prefix)
    rendered: str | None = None
    if base is not None and "tag" not in base.params:
        try:
            rendered = str(base)
        except ValueError:  # a display name with CR or LF: rendering the whole value raises too
            pass
    if len(_RENDERED_PREFIXES) >= _PREFIXES_MAX:
        _RENDERED_PREFIXES.clear()
    _RENDERED_PREFIXES[prefix] = rendered
    return rendered


def tagged_name_addr(value: "NameAddr", line: str | None, tag: str) -> "tuple[str, NameAddr | None]":
    """``str(value.with_tag(tag))`` and its parse (None: does not parse), ``value`` being the parse of ``line``.

    A dialog's From and To (RFC 3261 §12.2.1.1) are the From/To of the request
    or response that made it with our or the peer's tag. ``line`` is that
    header's text (None: unknown); the part before its trailing ``;tag=`` is
    rendered once per prefix text, not once per dialog, and the tagged value
    built from the memoised parse of the rendering, as ``NameAddr.parse`` would.
    """
    rendered: str | None = None
    if line is not None and tag and _is_token(tag):  # (a tag-less From gives a None tag to a Dialog)
        s = line.strip(" \t")
        # the prefix NameAddr.parse(line) parsed: before a trailing token tag, else the whole value
        i = s.rfind(";tag=")
        prefix = s[:i] if i > 0 and _is_token(s[i + 5 :]) else s
        rendered = _RENDERED_PREFIXES[prefix] if prefix in _RENDERED_PREFIXES else _rendered_prefix(prefix)
    if rendered is not None:
        # With no tag in the prefix, the tag is the last parameter of value.with_tag(tag).
        text = f"{rendered};tag={tag}"
        parsed = name_addr_with_tag(rendered, tag)
        if parsed is not None:
            return text, parsed
    else:
        text = str(value.with_tag(tag))
    try:
        return text, NameAddr.parse(text)
    except Exception:
        return text, None


def via_with_branch(prefix: str, branch: str) -> "Via | None":
    """``Via.parse(f"{prefix};branch={branch}")`` for a token ``branch``, from the memoised parse of ``prefix`` (None: parse in full)."""
    base = _VIA_PREFIXES[prefix] if prefix in _VIA_PREFIXES else _via_prefix(prefix)
    if base is None:
        return None
    params = base.params.copy()
    params["branch"] = branch
    return Via(base.transport, base.host, base.port, params, protocol=base.protocol)


class NameAddr:
    """``[display-name] <URI> *(;param)`` or ``URI *(;param)`` (From, To, Contact, Route...).

    ``display`` is the display name with quoting removed (None when absent),
    ``uri`` a :class:`URI`, ``params`` the header parameters (``tag``, ``q``,
    ``expires``, ``lr`` is a URI parameter not a header one). ``str()`` always
    writes the ``<URI>`` form, quoting a display name.
    """

    __slots__ = ("display", "uri", "params")

    def __init__(
        self,
        display: "str | URI | None" = None,
        uri: "URI | str | None" = None,
        params: dict[str, str | None] | None = None,
    ) -> None:
        """Build from a display name, URI (or URI text) and params; ``NameAddr(uri)`` also works."""
        if type(uri) is not URI:  # the parser and with_tag pass a URI: skip the other forms
            if isinstance(display, URI) and uri is None:  # NameAddr(uri): one statement each (mypyc)
                uri = display
                display = None
            if isinstance(uri, str):
                uri = URI.parse(uri)
            if uri is None:
                raise TypeError("NameAddr needs a URI")
        self.display: str | None = display  # type: ignore[assignment]
        self.uri: URI = uri
        self.params: dict[str, str | None] = {} if params is None else params

    @classmethod
    def parse(cls, text: str, name_addr_only: bool = False) -> "NameAddr":
        """Parse one name-addr or addr-spec with its params; raise SipParseError if malformed."""
        s = text.strip(" \t")
        # A dialog's From/To differ only in a trailing tag: parse "<prefix>;tag=<token>"
        # as the (memoised) prefix plus that tag, which is what the full grammar gives
        # (a token holds no ";", quote, "<", ">" or ":", so it is the last param).
        i = s.rfind(";tag=")
        if i > 0 and not name_addr_only:
            tag = s[i + 5 :]
            if _is_token(tag):
                value = name_addr_with_tag(s[:i], tag)
                if value is not None:
                    return value
        return cls._parse_full(s, name_addr_only)

    @classmethod
    def _parse_full(cls, s: str, name_addr_only: bool) -> "NameAddr":
        """Parse a stripped name-addr or addr-spec with the whole grammar."""
        display: str | None = None
        if s.startswith('"'):
            m = abnf.QUOTED_STRING_RE.match(s)
            if m is None:
                raise SipParseError(f"unterminated quoted display name in {s!r}", expected="DQUOTE")
            display = abnf.QUOTED_PAIR_RE.sub(r"\1", m.group()[1:-1])
            lt = m.end()
            while lt < len(s) and s[lt] in " \t":
                lt += 1
            if lt >= len(s) or s[lt] != "<":
                raise SipParseError(f"expected <URI> after display name in {s!r}", expected="LAQUOT")
        else:
            lt = s.find("<")
            if lt >= 0 and ":" in s[:lt]:
                # '<' inside a parameter of an addr-spec, not a LAQUOT
                lt = -1
            if lt >= 0:
                disp = s[:lt].rstrip(" \t")
                if disp:
                    if not abnf.DISPLAY_TOKENS_RE.fullmatch(disp):
                        raise SipParseError(f"bad display name {disp!r}", expected="display-name")
                    display = disp
        if lt < 0:
            if name_addr_only:
                raise SipParseError(f"expected <URI> in {s!r}", expected="name-addr")
            # addr-spec form: RFC 3261 §20 says parameters after it are header
            # parameters, and a URI with ';', ',' or '?' must use <>.
            semi = s.find(";")
            uri_text = (s if semi < 0 else s[:semi]).rstrip(" \t")
            if "?" in uri_text:
                raise SipParseError(f"URI with headers must be enclosed in <>: {uri_text!r}", expected="name-addr")
            uri = URI.parse(uri_text)
            params = parse_params(s, semi) if semi >= 0 else {}
            return cls(None, uri, params)
        gt = s.find(">", lt)
        if gt < 0:
            raise SipParseError(f"missing '>' in {s!r}", expected="RAQUOT")
        uri = URI.parse(s[lt + 1 : gt])
        return cls(display, uri, parse_params(s, gt + 1))

    def __str__(self) -> str:
        """Render as ``"display" <uri>;params``."""
        out = f"<{self.uri}>{render_params(self.params)}" if self.params else f"<{self.uri}>"
        if self.display is None:
            return out
        display = self.display
        if "\r" in display or "\n" in display:
            raise ValueError(f"display name cannot carry CR or LF: {display!r}")
        return '"' + _DISPLAY_ESCAPE_RE.sub(lambda m: "\\" + m.group(), display) + '" ' + out

    def __repr__(self) -> str:
        """Show the rendered form."""
        return f"NameAddr({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        """Same display name, URI and params."""
        if not isinstance(other, NameAddr):
            return NotImplemented
        return self.display == other.display and self.uri == other.uri and self.params == other.params

    __hash__ = None  # type: ignore[assignment]

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter (From/To), or None."""
        return self.params.get("tag")  # one lookup (a valueless parameter is None too)

    def with_tag(self, tag: str) -> "NameAddr":
        """A copy with ``tag`` set; an empty ``tag`` is the null tag of an RFC 2543 peer (RFC 3261 §12.1.1): none."""
        params = dict(self.params)
        if tag:
            params["tag"] = tag
        elif "tag" in params:
            del params["tag"]
        return NameAddr(self.display, self.uri, params)

    @property
    def expires(self) -> int | None:
        """The Contact ``expires`` parameter in seconds, or None; a malformed one reads as 3600.

        RFC 3261 §10.2, ``expires``: "Malformed values SHOULD be treated as equivalent to 3600."
        """
        params = self.params
        if "expires" not in params:
            return None
        value = params["expires"]
        if value is None or not abnf.DIGITS_RE.fullmatch(value):
            return MALFORMED_CONTACT_EXPIRES
        return _delta_seconds(value)

    @property
    def q(self) -> float | None:
        """The Contact ``q`` parameter, or None."""
        value = self.params.get("q")
        if value is None:
            return None
        if not _QVALUE_RE.fullmatch(value):
            raise SipParseError(f"bad q value {value!r}", expected="qvalue")
        return float(value)

    def copy(self) -> "NameAddr":
        """A copy with its own params dict and URI."""
        return NameAddr(self.display, self.uri.copy(), dict(self.params))


def _parse_contact(text: str) -> "NameAddr | str":
    """Contact value: ``"*"`` or a name-addr/addr-spec whose q and expires are checked."""
    if text == "*":
        return "*"
    na = NameAddr.parse(text)
    q = na.params.get("q")
    if q is not None and not _QVALUE_RE.fullmatch(q):
        raise SipParseError(f"bad q value {q!r}", expected="qvalue")
    # No check of ``expires``: a malformed one is read as 3600 (NameAddr.expires, RFC 3261 §10.2).
    return na


class Via:
    """One Via value: ``SIP/2.0/UDP host:port;branch=...`` (RFC 3261 §20.42)."""

    __slots__ = ("transport", "host", "port", "params", "protocol")

    def __init__(
        self,
        transport: str,
        host: str,
        port: int | None = None,
        params: dict[str, str | None] | None = None,
        *,
        branch: str | None = None,
        protocol: str = "SIP/2.0",
    ) -> None:
        """Build a Via (it keeps ``params``); ``branch=`` sets ``params["branch"]`` in a copy of ``params``."""
        self.transport = transport
        self.host = host
        self.port = port
        if branch is not None:  # a copy: the caller's dict may be another Via's
            params = {} if params is None else dict(params)
            params["branch"] = branch
        self.params: dict[str, str | None] = {} if params is None else params
        self.protocol = protocol

    @classmethod
    def parse(cls, text: str) -> "Via":
        """Parse one via-parm; raise SipParseError if malformed."""
        # Every new transaction brings a new branch after the same sent-by: parse
        # "<prefix>;branch=<token>" as the (memoised) prefix plus that branch, which
        # is what the full grammar gives (a token holds no ";", so it is the last param).
        i = text.rfind(";branch=")
        if i > 0:
            branch = text[i + 8 :]
            if _is_token(branch):
                via = via_with_branch(text[:i], branch)
                if via is not None:
                    return via
        return cls._parse_full(text)

    @classmethod
    def _parse_full(cls, text: str) -> "Via":
        """Parse one via-parm with the whole grammar."""
        m = abnf.VIA_PARM_RE.match(text)
        if m is None:
            raise SipParseError(f"bad Via value {text!r}", expected="sent-protocol LWS sent-by")
        host = m.group(4)
        if host.startswith("["):
            URI.parse(f"sip:{host}")  # validates the IPv6 reference
        port = None if m.group(5) is None else parse_port(m.group(5))
        params = parse_params(text, m.end())
        for name in ("branch", "maddr", "received", "ttl"):
            if name in params:
                value = params[name]
                if value is None or value.startswith('"'):
                    raise SipParseError(f"Via {name} needs a value", expected=f'"{name}" EQUAL value')
        ttl = params.get("ttl")
        if ttl is not None and not (abnf.DIGITS_RE.fullmatch(ttl) and len(ttl) <= 3 and int(ttl) <= 255):
            raise SipParseError(f"bad Via ttl {ttl!r}", expected="ttl 0-255")
        rport = params.get("rport")
        if rport is not None:
            if not abnf.DIGITS_RE.fullmatch(rport):
                raise SipParseError(f"bad Via rport {rport!r}", expected='"rport" [EQUAL 1*DIGIT]')
            abnf.bounded_int(rport, 65535, "rport")
        return cls(m.group(3).upper(), host, port, params, protocol=f"{m.group(1)}/{m.group(2)}")

    def __str__(self) -> str:
        """Render as ``SIP/2.0/UDP host:port;params``."""
        sent_by = self.host if self.port is None else f"{self.host}:{self.port}"
        return f"{self.protocol}/{self.transport} {sent_by}{render_params(self.params) if self.params else ''}"

    def __repr__(self) -> str:
        """Show the rendered form."""
        return f"Via({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        """Same protocol, transport, sent-by and params."""
        if not isinstance(other, Via):
            return NotImplemented
        return (
            self.protocol == other.protocol
            and self.transport.upper() == other.transport.upper()
            and self.host.lower() == other.host.lower()
            and self.port == other.port
            and self.params == other.params
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def branch(self) -> str | None:
        """The ``branch`` parameter (transaction id, RFC 3261 §17.1.3), or None."""
        return self.params.get("branch")  # one lookup (a valueless parameter is None too)

    @property
    def received(self) -> str | None:
        """The ``received`` parameter (RFC 3261 §18.2.1), or None."""
        return self.params.get("received")  # one lookup (a valueless parameter is None too)

    @property
    def rport(self) -> int | None:
        """The ``rport`` value (RFC 3581); None when absent or valueless (test ``"rport" in params``)."""
        value = self.params.get("rport")
        return None if value is None else int(value)

    @property
    def maddr(self) -> str | None:
        """The ``maddr`` parameter, or None."""
        return self.params.get("maddr")

    @property
    def ttl(self) -> int | None:
        """The ``ttl`` parameter, or None."""
        value = self.params.get("ttl")
        return None if value is None else int(value)

    @property
    def sent_by(self) -> str:
        """``host`` or ``host:port``."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def copy(self) -> "Via":
        """A copy with its own params dict."""
        return Via(self.transport, self.host, self.port, dict(self.params), protocol=self.protocol)


_MAX_SEQ: Final = 2**32 - 1


class CSeq(NamedTuple):
    """``CSeq: seq METHOD`` (RFC 3261 §20.16)."""

    seq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> "CSeq":
        """Parse ``1*DIGIT LWS Method``; the number must fit in 32 bits (RFC 4475 §3.1.2.4)."""
        m = abnf.CSEQ_RE.fullmatch(text)
        if m is None:
            raise SipParseError(f"bad CSeq {text!r}", expected="1*DIGIT LWS Method")
        return cls(abnf.bounded_int(m.group(1), _MAX_SEQ, "CSeq number"), m.group(2))

    def __str__(self) -> str:
        """Render as ``1 INVITE``."""
        return f"{self.seq} {self.method}"


class RAck(NamedTuple):
    """``RAck: rseq cseq METHOD`` (RFC 3262 §7.2)."""

    rseq: int
    cseq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> "RAck":
        """Parse ``response-num LWS CSeq-num LWS Method``."""
        m = abnf.RACK_RE.fullmatch(text)
        if m is None:
            raise SipParseError(f"bad RAck {text!r}", expected="response-num LWS CSeq-num LWS Method")
        rseq = abnf.bounded_int(m.group(1), _MAX_SEQ, "RAck response-num")
        cseq = abnf.bounded_int(m.group(2), _MAX_SEQ, "RAck CSeq-num")
        return cls(rseq, cseq, m.group(3))

    def __str__(self) -> str:
        """Render as ``1 314 INVITE``."""
        return f"{self.rseq} {self.cseq} {self.method}"


def _parse_token(text: str) -> str:
    """A token (option-tag, Method in Allow)."""
    if not abnf.TOKEN_RE.fullmatch(text):
        raise SipParseError(f"bad token {text!r}", expected="token")
    return text


def _parse_call_id(text: str) -> str:
    """``callid = word [ "@" word ]``."""
    if not abnf.CALLID_RE.fullmatch(text):
        raise SipParseError(f"bad Call-ID {text!r}", expected='word ["@" word]')
    return text


def _parse_uint(limit: int, what: str) -> Callable[[str], int]:
    """A parser for ``1*DIGIT`` no larger than ``limit``."""

    def parse_uint(text: str) -> int:
        if not abnf.DIGITS_RE.fullmatch(text):
            raise SipParseError(f"bad {what} {text!r}", expected=f"1*DIGIT <= {limit}")
        return abnf.bounded_int(text, limit, what)

    return parse_uint


def _parse_content_length(text: str) -> int:
    """``Content-Length = 1*DIGIT``."""
    if not abnf.DIGITS_RE.fullmatch(text):
        raise SipParseError(f"bad Content-Length {text!r}", expected="1*DIGIT")
    return abnf.bounded_int(text, _MAX_SEQ, "Content-Length")


def _parse_media_type(text: str) -> str:
    """``media-type``; returns ``type/subtype`` lower-cased (parameters checked, dropped)."""
    m = abnf.MEDIA_TYPE_RE.match(text)
    if m is None:
        raise SipParseError(f"bad Content-Type {text!r}", expected="m-type SLASH m-subtype")
    parse_params(text, m.end())
    return f"{m.group(1)}/{m.group(2)}".lower()


# Simulated time 0 as a wall-clock instant, 2026-01-01T00:00:00Z. Fixed, so a run's Date
# headers (and its pcap timestamps, simsip.viz.pcap) are the same bytes every time.
EPOCH: Final = 1767225600.0


def sip_date(now: float) -> str:
    """``SIP-date`` (RFC 3261 §20.17: RFC 1123, GMT) of simulated time ``now``, counted from :data:`EPOCH`."""
    return email.utils.formatdate(EPOCH + now, usegmt=True)


def _parse_date(text: str) -> str:
    """``SIP-date = rfc1123-date`` (GMT only, RFC 4475 §3.1.2.12)."""
    if not abnf.RFC1123_DATE_RE.fullmatch(text):
        raise SipParseError(f"bad Date {text!r}", expected='rfc1123-date ending in "GMT"')
    return text


def _parse_route(text: str) -> NameAddr:
    """``route-param = name-addr *( SEMI rr-param )`` (also Record-Route, Path, Service-Route)."""
    return NameAddr.parse(text, name_addr_only=True)


# header key -> parser of one value. These headers are checked by parse() and
# read by the typed accessors.
_PARSERS: Final[dict[str, Callable[[str], Any]]] = {
    "via": Via.parse,
    "from": NameAddr.parse,
    "to": NameAddr.parse,
    "contact": _parse_contact,
    "route": _parse_route,
    "record-route": _parse_route,
    "path": _parse_route,
    "service-route": _parse_route,
    "p-asserted-identity": NameAddr.parse,
    "p-preferred-identity": NameAddr.parse,
    "call-id": _parse_call_id,
    "cseq": CSeq.parse,
    "max-forwards": _parse_uint(255, "Max-Forwards"),
    "content-length": _parse_content_length,
    "content-type": _parse_media_type,
    "expires": _delta_seconds,
    "min-expires": _delta_seconds,
    "rseq": _parse_uint(_MAX_SEQ, "RSeq"),
    "rack": RAck.parse,
    "require": _parse_token,
    "proxy-require": _parse_token,
    "supported": _parse_token,
    "unsupported": _parse_token,
    "allow": _parse_token,
    "date": _parse_date,
}
# List headers whose grammar allows an empty value (``Allow = "Allow" HCOLON [Method *(COMMA Method)]``).
_EMPTY_OK: Final = frozenset(("allow", "supported"))


# header key -> line text -> its parsed values. Parsed values are never changed
# in place (they are shared with copies already), so identical lines in
# different messages (a dialog's From, To, Call-ID; "1 INVITE") share one parse.
# One table per header key: a lookup hashes the line text only, no (key, text)
# tuple is built per line. Bounded: a table is cleared when full, so a long run
# does not grow it.
_LINE_CACHE: Final[dict[str, dict[str, list[Any]]]] = {key: {} for key in _PARSERS}
_LINE_CACHE_MAX: Final = 4096


def _parse_line(key: str, value: str) -> list[Any]:
    """Parse every value of one header line with its grammar (memoised; the list is shared, read-only)."""
    memo = _LINE_CACHE[key]
    hit = memo.get(value)
    if hit is not None:
        return hit
    parsed = _parse_line_uncached(key, value)
    if len(memo) >= _LINE_CACHE_MAX:
        memo.clear()
    memo[value] = parsed
    return parsed


def _parse_line_quiet(key: str, value: str) -> list[Any] | None:
    """``_parse_line``, but None instead of an error (the reader will raise it)."""
    memo = _LINE_CACHE.get(key)
    if memo is None:  # no grammar for this header
        return None
    hit = memo.get(value)
    if hit is not None:
        return hit
    try:
        if value and "," not in value:
            parsed = [_PARSERS[key](value)]  # what _parse_line_uncached gives for one value
        else:
            parsed = _parse_line_uncached(key, value)
    except Exception:
        return None
    if len(memo) >= _LINE_CACHE_MAX:
        memo.clear()
    memo[value] = parsed
    return parsed


def _parse_line_uncached(key: str, value: str) -> list[Any]:
    """Parse every value of one header line with its grammar."""
    parser = _PARSERS[key]
    if key in LIST_HEADERS:
        if not value and key not in _EMPTY_OK:
            raise SipParseError("empty header value", expected="at least one value")
        if value and "," not in value:
            return [parser(value)]  # what split_list gives for a one-element line
        return [parser(v) for v in split_list(value)]
    return [parser(value)]


# ---------------------------------------------------------------- messages


class _Message:
    """What requests and responses share: headers, body, version and typed accessors."""

    __slots__ = ("headers", "body", "version")

    headers: Headers
    body: bytes
    version: str

    def _init_common(self, headers: Any, body: "bytes | str", version: str) -> None:
        """Set headers (Headers, pairs or mapping), body (str is UTF-8 encoded) and version."""
        if headers is None:
            headers = Headers()
        elif not isinstance(headers, Headers):
            headers = Headers(headers)
        self.headers = headers
        self.body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self.version = version

    # One reader per header kind, shared by the typed accessors below.

    def _single_header(self, key: str, name: str) -> Any:
        """Mandatory single-valued header ``key``: its value; SipParseError if missing or repeated."""
        # One .get, not "in" then [] (two lookups): compiled, each is a dict call.
        values = self.headers._typed.get(key)
        if values is not None and len(values) == 1:  # exactly one
            return values[0]
        return self._one(key, name)

    def _optional_header(self, key: str, name: str) -> Any:
        """Optional single-valued header ``key``: its value or None; SipParseError if repeated."""
        h = self.headers
        values = h._typed.get(key)
        if values is not None:
            if not values:
                return None
            if len(values) == 1:
                return values[0]
        else:
            index = h._index
            if index is not None and key not in index:  # absent: no parse, no cache entry
                return None
        return self._optional(key, name)

    def _list_header(self, key: str) -> list[Any]:
        """List header ``key``: a new list of its values, top first ([] if none)."""
        h = self.headers
        values = h._typed.get(key)
        if values is not None:
            return values[:]
        index = h._index
        if index is not None and key not in index:  # absent: no parse, no cache entry
            return []
        return list(self._values(key))

    # ------------------------------------------------------------ typed access

    def _values(self, key: str) -> list[Any]:
        """Parsed values of every ``key`` header, cached until that header changes."""
        h = self.headers
        typed = h._typed
        values = typed.get(key)
        if values is not None:
            return values
        index = h._index
        if index is None:
            index = h._build_index()
        if key not in index:
            cached: list[Any] = []
        else:
            lines = index[key]
            if len(lines) == 1:
                # Memoised per (key, line): the list is shared with the line cache, read-only.
                cached = _parse_line(key, lines[0])
            else:
                cached = []
                for value in lines:
                    cached.extend(_parse_line(key, value))
        typed[key] = cached
        return cached

    def _one(self, key: str, name: str) -> Any:
        """The single value of a mandatory single-valued header; SipParseError if missing or repeated."""
        values = self._values(key)
        if len(values) != 1:
            what = "missing" if not values else f"{len(values)} values in single-valued"
            raise SipParseError(f"{what} {name} header", expected=f"exactly one {name}")
        return values[0]

    def _optional(self, key: str, name: str) -> Any:
        """The single value of an optional header, None if absent; SipParseError if repeated."""
        typed = self.headers._typed
        values = typed[key] if key in typed else self._values(key)
        if not values:
            return None
        if len(values) > 1:
            raise SipParseError(f"{len(values)} values in single-valued {name} header", expected=f"one {name}")
        return values[0]

    # The hot accessors read the typed cache directly (no helper call when the
    # header was parsed already); the per-header ones come from _single_header,
    # _optional_header and _list_header (above the class).

    @property
    def vias(self) -> list[Via]:
        """Every Via value, top first; SipParseError if none or malformed."""
        values = self.headers._typed.get("via") or self._values("via")
        if not values:
            raise SipParseError("missing Via header", expected="Via")
        return list(values)

    @property
    def top_via(self) -> Via:
        """The first Via value; SipParseError if none or malformed."""
        values = self.headers._typed.get("via") or self._values("via")
        if not values:
            raise SipParseError("missing Via header", expected="Via")
        return values[0]

    @property
    def call_id(self) -> str:
        """The Call-ID; SipParseError if missing, repeated or malformed."""
        return self._single_header("call-id", "Call-ID")

    @property
    def cseq(self) -> CSeq:
        """The CSeq; SipParseError if missing, repeated or malformed."""
        return self._single_header("cseq", "CSeq")

    @property
    def from_(self) -> NameAddr:
        """The From; SipParseError if missing, repeated or malformed."""
        return self._single_header("from", "From")

    @property
    def to(self) -> NameAddr:
        """The To; SipParseError if missing, repeated or malformed."""
        return self._single_header("to", "To")

    @property
    def contacts(self) -> list[NameAddr]:
        """Contact values ([] if none; a ``*`` wildcard is reported by ``contact_star``)."""
        values = self.headers._typed.get("contact") or self._values("contact")
        # A parsed Contact is a NameAddr or the str "*" (no NameAddr.__eq__ call per value to tell).
        for v in values:
            if type(v) is str:
                return [v for v in values if type(v) is not str]
        return values[:]

    @property
    def contact_star(self) -> bool:
        """True for ``Contact: *`` (REGISTER removing all bindings, RFC 3261 §10.2.2)."""
        return "*" in self._values("contact")

    @property
    def routes(self) -> list[NameAddr]:
        """Route values, top first ([] if none)."""
        return self._list_header("route")

    @property
    def record_routes(self) -> list[NameAddr]:
        """Record-Route values, top first ([] if none)."""
        return self._list_header("record-route")

    @property
    def p_asserted_identity(self) -> list[NameAddr]:
        """P-Asserted-Identity values (RFC 3325; [] if none)."""
        return self._list_header("p-asserted-identity")

    @property
    def max_forwards(self) -> int | None:
        """Max-Forwards (0-255), or None."""
        return self._optional_header("max-forwards", "Max-Forwards")

    @property
    def rseq(self) -> int | None:
        """RSeq (RFC 3262 §7.1), or None."""
        return self._optional_header("rseq", "RSeq")

    @property
    def rack(self) -> RAck | None:
        """RAck (RFC 3262 §7.2), or None."""
        return self._optional_header("rack", "RAck")

    @property
    def require(self) -> list[str]:
        """Require option tags ([] if none)."""
        return self._list_header("require")

    @property
    def proxy_require(self) -> list[str]:
        """Proxy-Require option tags ([] if none)."""
        return self._list_header("proxy-require")

    @property
    def supported(self) -> list[str]:
        """Supported option tags ([] if none)."""
        return self._list_header("supported")

    @property
    def unsupported(self) -> list[str]:
        """Unsupported option tags ([] if none)."""
        return self._list_header("unsupported")

    @property
    def allow(self) -> list[str]:
        """Allow methods ([] if none)."""
        return self._list_header("allow")

    @property
    def expires(self) -> int | None:
        """Expires in seconds (clamped to 2**32-1), or None."""
        return self._optional_header("expires", "Expires")

    @property
    def min_expires(self) -> int | None:
        """Min-Expires in seconds (a 423's floor, RFC 3261 §20.23), or None."""
        return self._optional_header("min-expires", "Min-Expires")

    @property
    def content_type(self) -> str | None:
        """Content-Type as lower-case ``type/subtype`` (parameters dropped), or None."""
        return self._optional_header("content-type", "Content-Type")

    @property
    def content_length(self) -> int:
        """Content-Length as received, else the body length; SipParseError if values conflict."""
        h = self.headers
        typed = h._typed
        if "content-length" in typed:
            values = typed["content-length"]
        else:
            index = h._index
            if index is not None and "content-length" not in index:
                return len(self.body)
            values = self._values("content-length")
        if not values:
            return len(self.body)
        if len(values) > 1 and len(set(values)) > 1:
            raise SipParseError(f"conflicting Content-Length values {values}", expected="one Content-Length")
        return values[0]

    def trace_fields(self) -> tuple[str, str, int | None, str | None]:
        """``(call_id, str(cseq), rseq, str(rack) or None)`` in one call, for a trace event.

        Reads, and raises, as ``.cseq``, ``.rack``, ``.call_id``, ``.rseq`` in
        that order would (what simsip.metrics.trace.describe reads per message).
        """
        h = self.headers
        typed = h._typed
        index = h._index
        cseq_values = typed.get("cseq")
        call_id_values = typed.get("call-id")
        if cseq_values is not None and call_id_values is not None and len(cseq_values) == 1 and len(call_id_values) == 1:
            rack_values = typed.get("rack")
            if rack_values is None and index is not None and "rack" not in index:
                rack_values = _NO_LINES
            rseq_values = typed.get("rseq")
            if rseq_values is None and index is not None and "rseq" not in index:
                rseq_values = _NO_LINES
            # Otherwise a missing or repeated value: the accessors below raise.
            if rack_values is not None and rseq_values is not None and len(rack_values) <= 1 and len(rseq_values) <= 1:
                # Typed locals: compiled, the fields are read natively.
                cseq: CSeq = cseq_values[0]
                rack: RAck | None = rack_values[0] if rack_values else None
                return (
                    call_id_values[0],
                    f"{cseq.seq} {cseq.method}",
                    rseq_values[0] if rseq_values else None,
                    None if rack is None else f"{rack.rseq} {rack.cseq} {rack.method}",
                )
        cseq = self.cseq
        rack = self.rack
        call_id = self.call_id
        return (call_id, str(cseq), self.rseq, None if rack is None else str(rack))

    # ------------------------------------------------------------ wire form

    def _start_line(self) -> str:
        """The start line without CRLF."""
        raise NotImplementedError

    def __bytes__(self) -> bytes:
        """The wire form: CRLF line ends and one Content-Length equal to the body length."""
        body = self.body
        lines = [self._start_line()]
        length_written = False
        for key, name, value in self.headers._items:
            if key == "content-length":
                if not length_written:
                    lines.append(f"Content-Length: {len(body)}")
                    length_written = True
                continue
            lines.append(f"{name}: {value}")
        if not length_written:
            lines.append(f"Content-Length: {len(body)}")
        lines.append("")
        lines.append("")
        head = "\r\n".join(lines).encode("utf-8", "surrogateescape")
        return head + body if body else head


class Request(_Message):
    """A SIP request: ``method``, Request-URI ``uri``, headers, body, version."""

    __slots__ = ("method", "uri")

    def __init__(
        self,
        method: str,
        uri: "URI | str",
        headers: "Headers | Iterable[tuple[str, str]] | Mapping[str, str] | None" = None,
        body: "bytes | str" = b"",
        version: str = "SIP/2.0",
    ) -> None:
        """Build a request; ``uri`` may be URI text, ``headers`` pairs or a mapping."""
        self.method = method
        self.uri = uri if type(uri) is URI else URI.parse(uri) if isinstance(uri, str) else uri
        # What _init_common does, inline: a request is built per message.
        if type(headers) is not Headers:
            headers = Headers() if headers is None else headers if isinstance(headers, Headers) else Headers(headers)
        self.headers = headers
        self.body = body if type(body) is bytes else body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self.version = version

    def _start_line(self) -> str:
        """``Method SP Request-URI SP SIP-Version``."""
        return f"{self.method} {self.uri} {self.version}"

    def copy(self) -> "Request":
        """An independent copy (headers and URI can be changed without touching this one)."""
        return Request(self.method, self.uri.copy(), self.headers.copy(), self.body, self.version)

    def __eq__(self, other: object) -> bool:
        """Same start line, headers (Content-Length aside: it is framing) and body."""
        if not isinstance(other, Request):
            return NotImplemented
        return (
            self.method == other.method
            and self.uri == other.uri
            and self.version.upper() == other.version.upper()
            and self.body == other.body
            and self.headers._semantic("content-length") == other.headers._semantic("content-length")
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """``<Request INVITE sip:bob@biloxi>``."""
        return f"<Request {self.method} {self.uri}>"


class Response(_Message):
    """A SIP response: ``status``, ``reason``, headers, body, version."""

    __slots__ = ("status", "reason")

    def __init__(
        self,
        status: int,
        reason: str | None = None,
        headers: "Headers | Iterable[tuple[str, str]] | Mapping[str, str] | None" = None,
        body: "bytes | str" = b"",
        version: str = "SIP/2.0",
    ) -> None:
        """Build a response; ``reason=None`` takes the RFC reason phrase for ``status``."""
        self.status = status
        self.reason = reason_phrase(status) if reason is None else reason
        # What _init_common does, inline: a response is built per message.
        if type(headers) is not Headers:
            headers = Headers() if headers is None else headers if isinstance(headers, Headers) else Headers(headers)
        self.headers = headers
        self.body = body if type(body) is bytes else body.encode("utf-8") if isinstance(body, str) else bytes(body)
        self.version = version

    def _start_line(self) -> str:
        """``SIP-Version SP Status-Code SP Reason-Phrase``."""
        return f"{self.version} {self.status} {self.reason}"

    @property
    def is_provisional(self) -> bool:
        """True for 1xx."""
        return self.status < 200

    @property
    def is_final(self) -> bool:
        """True for 2xx-6xx."""
        return self.status >= 200

    def copy(self) -> "Response":
        """An independent copy (headers can be changed without touching this one)."""
        return Response(self.status, self.reason, self.headers.copy(), self.body, self.version)

    def __eq__(self, other: object) -> bool:
        """Same status line, headers (Content-Length aside: it is framing) and body."""
        if not isinstance(other, Response):
            return NotImplemented
        return (
            self.status == other.status
            and self.reason == other.reason
            and self.version.upper() == other.version.upper()
            and self.body == other.body
            and self.headers._semantic("content-length") == other.headers._semantic("content-length")
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """``<Response 180 Ringing>``."""
        return f"<Response {self.status} {self.reason}>"


Message = Union[Request, Response]

# RFC 3261 §8.2.6.2: the headers a UAS copies from the request into a response.
_RESPONSE_COPIED: Final = frozenset(("via", "from", "to", "call-id", "cseq"))
_RESPONSE_COPIED_100: Final = _RESPONSE_COPIED | {"timestamp"}  # §8.2.6.1
_RESPONSE_TYPED: Final = ("via", "from", "to", "call-id", "cseq")


def make_response(request: Request, status: int, reason: str | None = None, to_tag: str | None = None) -> Response:
    """A response to ``request`` with its Via, From, To, Call-ID and CSeq (RFC 3261 §8.2.6).

    ``to_tag`` is added to To unless the request's To already has a tag
    (§8.2.6.2). A 100 also copies Timestamp (§8.2.6.1).
    """
    src = request.headers
    src_typed = src._typed
    copied = _RESPONSE_COPIED_100 if status == 100 else _RESPONSE_COPIED
    # The response shares the request's parsed values (they are never changed
    # in place), so its reader parses nothing the request's reader had parsed.
    typed: dict[str, list[Any]] = {}
    for key in _RESPONSE_TYPED:
        values = src_typed.get(key)
        if values is not None:
            typed[key] = values
    add_tag = False
    tagged_to = None
    if to_tag is not None:
        to_values = typed.get("to")
        if to_values is not None and len(to_values) == 1:
            to: NameAddr = to_values[0]  # typed: compiled, .tag and with_tag are native calls
            add_tag = to.tag is None
        else:
            # Parsing To only to look for a tag is the costly part; a To whose
            # text has no "tag" at all cannot have one.
            add_tag = "tag" not in (src.get("To") or "").lower() or request.to.tag is None
        if add_tag and to_values is not None:
            del typed["to"]
            # A token tag appended to a parsed To reads back as that To with the
            # tag set (what with_tag builds), so the reader need not parse it again.
            if to_values is not None and len(to_values) == 1 and _is_token(to_tag):
                tagged_to = [to.with_tag(to_tag)]
    items = []
    index: dict[str, list[str]] = {}  # built here so that the UAS's later adds keep it
    for item in src._items:
        key = item[0]
        if key in copied:
            if key == "to" and add_tag:
                item = (key, item[1], f"{item[2]};tag={to_tag}")
            items.append(item)
            if key in index:
                index[key].append(item[2])
            else:
                index[key] = [item[2]]
    if tagged_to is not None and len(index["to"]) == 1:
        typed["to"] = tagged_to
    return Response(status, reason, Headers._from_items(items, typed, index))


# ---------------------------------------------------------------- parsing


def parse(data: bytes) -> Request | Response:
    """Parse one SIP message from the octets of a datagram; raise SipParseError if malformed.

    RFC 3261 §18.3: octets after Content-Length are ignored (RFC 4475
    §3.1.1.8); with no Content-Length the body runs to the end of the
    datagram; a Content-Length larger than what arrived is an error. Two
    different Content-Length values (§3.3.9) leave the whole rest as the body
    and make ``.content_length`` raise, for the layer above to reject.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"parse() needs bytes, not {type(data).__name__}")
    data = bytes(data)
    start = 0
    # RFC 3261 §7.5: CRLFs before the start-line are ignored.
    while data.startswith(b"\r\n", start):
        start += 2
    first_line = start // 2 + 1
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        if not data[start:]:
            raise SipParseError("empty message", first_line, "start-line")
        # Check the start line and headers first so the error names the
        # worst problem (RFC 4475 §3.1.2.15 also lacks its empty line).
        head_bytes = data[start:-2] if data.endswith(b"\r\n") else data[start:]
        _parse_head(head_bytes.decode("utf-8", "surrogateescape"), first_line)
        raise SipParseError("no empty line after the header fields", None, "CRLF CRLF")
    message = _parse_head(data[start:end].decode("utf-8", "surrogateescape"), first_line)
    rest = data[end + 4 :]
    typed = message.headers._typed
    # Framing (RFC 3261 §18.3).
    lengths = typed.get("content-length", [])
    if len(set(lengths)) == 1:
        length = lengths[0]
        if length > len(rest):
            raise SipParseError(
                f"Content-Length {length} larger than the {len(rest)} octets present", None, "a complete body"
            )
        message.body = rest[:length]
    else:
        message.body = rest
    return message


def _parse_head(head: str, first_line: int) -> Request | Response:
    """Parse the start line and header lines (no body yet); check known header grammars."""
    lines = head.split("\r\n")
    crlfs = len(lines) - 1
    if head.count("\r") != crlfs or head.count("\n") != crlfs:
        for i, line in enumerate(lines):
            if "\r" in line or "\n" in line:
                raise SipParseError("bare CR or LF in a header line", first_line + i, "CRLF")

    message = _parse_start_line(lines[0], first_line)

    # Header lines, unfolded (RFC 3261 §7.3.1): (name, line number, value parts)
    raw: list[tuple[str, int, list[str]]] = []
    number = first_line
    for line in lines[1:]:
        number += 1
        if line[:1] in (" ", "\t"):
            if not raw:
                raise SipParseError("continuation line before any header", number, "header-name")
            raw[-1][2].append(line.strip(" \t"))
            continue
        colon = line.find(":")
        if colon < 0:
            raise SipParseError(f"header line without a colon: {line[:40]!r}", number, "header-name HCOLON")
        raw.append((line[:colon].rstrip(" \t"), number, [line[colon + 1 :].strip(" \t")]))
    items: list[tuple[str, str, str]] = []
    line_numbers: list[int] = []
    for name, number, parts in raw:
        try:
            key, canon = _canon(name)
        except ValueError:
            raise SipParseError(f"bad header name {name!r}", number, "token") from None
        items.append((key, canon, parts[0] if len(parts) == 1 else " ".join(p for p in parts if p)))
        line_numbers.append(number)

    # Check the grammar of every header simsip knows, keeping the parsed values.
    typed: dict[str, list[Any]] = {}
    is_request = isinstance(message, Request)
    for (key, canon, value), number in zip(items, line_numbers):
        if key in _PARSERS:
            try:
                parsed = _parse_line(key, value)
            except SipParseError as exc:
                raise SipParseError(f"{canon}: {exc.message}", number, exc.expected) from None
            if key == "cseq" and is_request:
                # RFC 3261 §8.1.1.5: the CSeq method MUST match the request method (RFC 4475 §3.1.2.17).
                for cseq in parsed:
                    if cseq.method != message.method:  # type: ignore[union-attr]
                        raise SipParseError(
                            f"CSeq method {cseq.method} does not match request method {message.method}",  # type: ignore[union-attr]
                            number,
                            f"CSeq method {message.method}",  # type: ignore[union-attr]
                        )
            typed.setdefault(key, []).extend(parsed)
    message.headers = Headers._from_items(items, typed)
    message.body = b""
    return message


def _parse_start_line(line: str, number: int) -> Request | Response:
    """Parse a Request-Line or Status-Line into a message with no headers yet."""
    sp = line.find(" ")
    if sp > 0 and "/" in line[:sp]:
        # Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (a Method never holds '/')
        fields = line.split(" ", 2)
        if len(fields) != 3:
            raise SipParseError(f"bad Status-Line {line!r}", number, "SIP-Version SP Status-Code SP Reason-Phrase")
        version, code, reason = fields
        if not abnf.SIP_VERSION_RE.fullmatch(version):
            raise SipParseError(f"bad SIP-Version {version!r}", number, "SIP-Version")
        if not abnf.STATUS_CODE_RE.fullmatch(code):
            raise SipParseError(f"bad Status-Code {code!r}", number, "Status-Code 100-699")
        if not abnf.REASON_PHRASE_RE.fullmatch(reason):
            raise SipParseError(f"bad Reason-Phrase {reason!r}", number, "Reason-Phrase")
        return Response(int(code), reason, None, b"", version)
    # Request-Line = Method SP Request-URI SP SIP-Version (exactly one SP each, RFC 4475 §3.1.2.9/10)
    fields = line.split(" ")
    if len(fields) != 3:
        raise SipParseError(f"bad Request-Line {line!r}", number, "Method SP Request-URI SP SIP-Version")
    method, uri_text, version = fields
    if not abnf.METHOD_RE.fullmatch(method):
        raise SipParseError(f"bad Method {method!r}", number, "Method")
    if not abnf.SIP_VERSION_RE.fullmatch(version):
        raise SipParseError(f"bad SIP-Version {version!r}", number, "SIP-Version")
    try:
        uri = URI.parse(uri_text)
    except SipParseError as exc:
        raise SipParseError(f"Request-URI: {exc.message}", number, exc.expected) from None
    if uri.headers:
        # RFC 3261 §19.1.1 table: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
        raise SipParseError(f"headers in Request-URI {uri_text!r}", number, "Request-URI without headers")
    return Request(method, uri, None, b"", version)
