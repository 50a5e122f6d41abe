"""Statements -> the typed model, with every semantic check, for both surfaces.

The `.sip` parser and the YAML reader hand over the same :class:`Stmt` list;
everything about meaning happens here once: units, ``$param`` resolution and
overrides, names, routes, ranges. Problems are collected (not raised one by
one) so a file's every mistake is reported together.
"""

from __future__ import annotations

import difflib
import fnmatch
import ipaddress
import re
from collections import deque
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping

from simsip.scenario import model as m
from simsip.scenario.errors import Problem, source_line
from simsip.scenario.raw import NAME_RE, Func, Lst, Stmt, Tok, classify, describe, span_of
from simsip.scenario.writer import event_text
from simsip.sip.abnf import HOST_RE

# The longest duration or time a scenario may give: RFC 3261's largest delta-seconds (§20.19
# Expires, 2**32-1). Simulated times stay far below the range where a float second loses the
# microseconds (ulp 1e-6 s at 2**32 s; a 50 ms delay vanishes near 1e15 s).
MAX_SECONDS = 2**32 - 1
TIME_UNITS: dict[str, Decimal] = {"ms": Decimal("0.001"), "s": Decimal(1), "min": Decimal(60), "h": Decimal(3600)}
RATE_UNITS: dict[str, Decimal] = {"/s": Decimal(1), "/min": Decimal(1) / 60, "/h": Decimal(1) / 3600}
BANDWIDTH_UNITS: dict[str, Decimal] = {
    "bps": Decimal(1), "kbps": Decimal(1000), "mbps": Decimal(10) ** 6, "gbps": Decimal(10) ** 9,
}
METHODS = (
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "UPDATE", "INFO",
    "MESSAGE", "REFER", "SUBSCRIBE", "NOTIFY", "PUBLISH",
)
EVENT_WORDS = {"timeout": m.EventKind.TIMEOUT, "call-ended": m.EventKind.CALL_ENDED,
               "re-INVITE": m.EventKind.REINVITE, "reinvite": m.EventKind.REINVITE}
KIND_WORDS = {
    m.ParamKind.DURATION: "a duration (50ms, 2s)",
    m.ParamKind.PERCENT: "a percentage (10%)",
    m.ParamKind.RATE: "a rate (20/s)",
    m.ParamKind.BANDWIDTH: "a bandwidth (64kbps)",
    m.ParamKind.INTEGER: "a whole number",
    m.ParamKind.NUMBER: "a number",
    m.ParamKind.STRING: "a string",
}
_KIND_SHORT = {kind: text.split(" (")[0] for kind, text in KIND_WORDS.items()}
_NUM_RE = re.compile(r"(-?[0-9]+(?:\.[0-9]+)?)(.*)")
_EXPONENT_RE = re.compile(r"[eE]([0-9]+)")
_CLASS_RE = re.compile(r"[1-6](?:[0-9]x|xx)")
_DOTTED_NUMBERS_RE = re.compile(r"[0-9]+(?:\.[0-9]+)*\.?")
_AOR_RE = re.compile(r"sips?:([^@\s]+)@([^\s;?>]+)")

NODE_OPTIONS: dict[str, dict[str, str]] = {
    # option -> value type ("flag", "tags", "host", "hosts", "names", "creds", "code", "duration", ...)
    "ua": {"supports": "tags", "requires": "tags", "no-auto-prack": "flag", "no-trying": "flag",
           "no-answer-sdp": "flag", "host": "host", "domain": "host", "outbound": "names",
           "credentials": "creds"},
    "proxy": {"stateless": "flag", "stateful": "flag", "record-route": "flag", "registrar": "flag",
              "no-trying": "flag", "forking": "word", "host": "host", "domain": "hosts",
              "timeout-response": "code", "branch-timeout": "duration", "auth": "auth"},
    "redirect": {"host": "host", "domain": "hosts", "code": "code"},
    "b2bua": {"host": "host", "domain": "hosts", "outbound": "names", "no-rewrite-sdp": "flag"},
}
STATEMENT_OPTIONS: dict[str, tuple[str, ...]] = {
    "link": ("delay", "jitter", "loss", "duplicate", "reorder", "bandwidth", "transport"),
    "call": ("at", "require", "supported", "no-sdp"),
    "calls": ("poisson", "every", "at", "for", "count", "pick", "require", "supported", "no-sdp"),
    "register": ("at", "query", "remove-all", "contact", "expires", "via"),
    "register-action": ("query", "remove-all", "contact", "expires"),
    "request": ("at", "rack"),
    "drop": ("all", "count", "after"),
    "send": ("reliable", "sdp", "reason"),
    "reinvite": ("no-sdp", "contact"),
}


class Bad(Exception):
    """A value could not be used; the problem is already recorded."""


def suggest(word: str, candidates: Iterable[str]) -> str:
    """``; did you mean `x`?`` for the closest candidate, or an empty string."""
    pool = list(dict.fromkeys(candidates))
    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        close = [lowered[word.lower()]] if word.lower() in lowered else []
    return f"; did you mean `{close[0]}`?" if close and close[0] != word else ""


def to_float(value: Decimal) -> float:
    """The float nearest a decimal value (so 50ms is exactly 0.05)."""
    return float(value)


@dataclass
class _Ref:
    """Collects ``(field, param)`` pairs for one model item."""

    items: list[tuple[str, str]]

    def take(self, field_name: str, pair: tuple[Any, str | None]) -> Any:
        """Record a ref for ``field_name`` if the value came from a param; return the value."""
        value, ref = pair
        if ref is not None:
            self.items.append((field_name, ref))
        return value

    def refs(self) -> tuple[tuple[str, str], ...]:
        """The pairs as the model stores them."""
        return tuple(self.items)


def refs() -> _Ref:
    """A fresh ref collector."""
    return _Ref([])


class Builder:
    """Builds one :class:`~simsip.scenario.model.Scenario` from statements, collecting problems."""

    def __init__(self, file: str, lines: list[str], overrides: Mapping[str, Any] | None) -> None:
        """Prepare for ``file`` (whose ``lines`` are quoted in errors) with param ``overrides``."""
        self.file = file
        self.lines = lines
        self.overrides = dict(overrides or {})
        self.problems: list[Problem] = []
        self.params: dict[str, m.Param] = {}
        self.nodes: dict[str, m.SipNode] = {}
        self.node_spans: dict[str, m.Span] = {}
        self.host_spans: dict[str, m.Span] = {}  # node name -> where its `host` value is written
        self.links: list[m.Link] = []
        self.bad_params: set[str] = set()
        self.outbound_lists: list[object] = []

    # ----------------------------------------------------------- problems
    def error(self, span: m.Span, message: str) -> None:
        """Record one problem at ``span``."""
        self.problems.append(Problem(span, message, source_line(self.lines, span.line)))

    def fail(self, span: m.Span, message: str) -> Bad:
        """Record a problem and return the exception that skips the current item."""
        self.error(span, message)
        return Bad(message)

    def where(self, span: m.Span) -> str:
        """``line N`` for messages that refer to another place."""
        return f"line {span.line}" if span.line > 0 else "elsewhere"

    # ------------------------------------------------------------- values
    def _quantity(self, tok: Tok) -> tuple[Decimal, str]:
        """Number and unit of a num token."""
        match = _NUM_RE.fullmatch(tok.text)
        if match is None:
            raise self.fail(tok.span, f"`{tok.text}` is not a number")
        try:
            number, unit = Decimal(match.group(1)), match.group(2)
        except InvalidOperation:
            raise self.fail(tok.span, f"`{tok.text}` is not a number") from None
        exponent = _EXPONENT_RE.match(unit)
        if exponent is not None:
            # 1e6 lexes as 1 with the unit "e6": say what to write, not "unknown unit e6". The value
            # is shown for a short exponent only (1e999999999999999999 has no Decimal to show).
            digits = exponent.group(1)
            hint = ""
            if len(digits) <= 2 and int(digits) <= 18:
                hint = f": {format(number.scaleb(int(digits)), 'f')}{unit[exponent.end():]}"
            raise self.fail(tok.span, f"`{tok.text}`: numbers are written without an exponent{hint}")
        return number, unit

    def _param(self, tok: Tok, want: tuple[m.ParamKind, ...], what: str) -> tuple[Any, str]:
        """The value of ``$param`` if its kind is one of ``want``."""
        param = self.params.get(tok.text)
        if param is None:
            raise self.fail(tok.span, f"unknown param `${tok.text}`" + suggest(tok.text, self.params) +
                            ("" if self.params else "; declare it with `param NAME = VALUE`"))
        if tok.text in self.bad_params:
            raise Bad(tok.text)  # already reported where the param is declared
        if param.kind not in want:
            raise self.fail(tok.span, f"`${tok.text}` is {KIND_WORDS[param.kind]}, but {what} needs "
                            f"{KIND_WORDS[want[0]]}")
        value = param.value
        if param.kind is m.ParamKind.INTEGER and m.ParamKind.INTEGER not in want:
            value = float(value)
        return value, tok.text

    def _scalar(self, raw: object, what: str, kinds: tuple[m.ParamKind, ...]) -> Tok:
        """``raw`` as one token, or a problem naming what was expected."""
        if isinstance(raw, Tok):
            return raw
        raise self.fail(span_of(raw, m.Span(self.file, 0, 0)),
                        f"{what} needs {KIND_WORDS[kinds[0]]}, not `{describe(raw)}`")

    def duration(self, raw: object, what: str, *, positive: bool = False) -> tuple[float, str | None]:
        """A duration in seconds (``50ms``, ``2s``, ``1min``, ``$param``); never negative."""
        tok = self._scalar(raw, what, (m.ParamKind.DURATION,))
        if tok.kind == "ref":
            value, ref = self._param(tok, (m.ParamKind.DURATION,), what)
        else:
            value, ref = self._duration_literal(tok, what), None
        if value < 0:
            raise self.fail(tok.span, f"{what} cannot be negative (`{describe(tok)}`)")
        if positive and value == 0:
            raise self.fail(tok.span, f"{what} must be more than 0 (`{describe(tok)}`)")
        if value > MAX_SECONDS:
            raise self.fail(tok.span, f"{what} must be at most {MAX_SECONDS}s (about 136 years), "
                            f"not `{describe(tok)}`" + (f" (= {value:.0f}s)" if tok.kind == "ref" else ""))
        return value, ref

    def _duration_literal(self, tok: Tok, what: str) -> float:
        """A duration literal in seconds."""
        if tok.kind != "num":
            raise self.fail(tok.span, f"{what} needs a duration such as 50ms or 2s, not `{describe(tok)}`")
        number, unit = self._quantity(tok)
        if unit == "" and number == 0:
            return 0.0
        if unit == "":
            raise self.fail(tok.span, f"{what} needs a unit: write {tok.text}ms or {tok.text}s")
        if unit not in TIME_UNITS:
            raise self.fail(tok.span, f"unknown time unit `{unit}` in `{tok.text}`; use ms, s, min or h"
                            + suggest(unit, TIME_UNITS))
        return to_float(number * TIME_UNITS[unit])

    def percent(self, raw: object, what: str) -> tuple[float, str | None]:
        """A percentage 0–100 % as a fraction."""
        tok = self._scalar(raw, what, (m.ParamKind.PERCENT,))
        if tok.kind == "ref":
            value, ref = self._param(tok, (m.ParamKind.PERCENT,), what)
        else:
            value, ref = self._percent_literal(tok, what), None
        if not 0.0 <= value <= 1.0:
            raise self.fail(tok.span, f"{what} must be between 0% and 100%, not `{describe(tok)}`"
                            + (f" (= {value * 100:g}%)" if tok.kind == "ref" else ""))
        return value, ref

    def _percent_literal(self, tok: Tok, what: str) -> float:
        """A percentage literal as a fraction."""
        if tok.kind != "num":
            raise self.fail(tok.span, f"{what} needs a percentage such as 5%, not `{describe(tok)}`")
        number, unit = self._quantity(tok)
        if unit != "%":
            raise self.fail(tok.span, f"{what} needs a percentage such as {number}%, not `{tok.text}`")
        return to_float(number / 100)

    def rate(self, raw: object, what: str) -> tuple[float, str | None]:
        """A rate per second (``20/s``, ``600/min``), more than 0."""
        tok = self._scalar(raw, what, (m.ParamKind.RATE,))
        if tok.kind == "ref":
            value, ref = self._param(tok, (m.ParamKind.RATE,), what)
        else:
            value, ref = self._rate_literal(tok, what), None
        if value <= 0:
            raise self.fail(tok.span, f"{what} must be more than 0, not `{describe(tok)}`")
        return value, ref

    def _rate_literal(self, tok: Tok, what: str) -> float:
        """A rate literal per second."""
        if tok.kind != "num":
            raise self.fail(tok.span, f"{what} needs a rate such as 20/s, not `{describe(tok)}`")
        number, unit = self._quantity(tok)
        if unit not in RATE_UNITS:
            raise self.fail(tok.span, f"{what} needs a rate such as {number}/s, not `{tok.text}`")
        return to_float(number * RATE_UNITS[unit])

    def bandwidth(self, raw: object, what: str) -> tuple[float, str | None]:
        """A bandwidth in bit/s (``64kbps``), more than 0."""
        tok = self._scalar(raw, what, (m.ParamKind.BANDWIDTH,))
        if tok.kind == "ref":
            value, ref = self._param(tok, (m.ParamKind.BANDWIDTH,), what)
        else:
            value, ref = self._bandwidth_literal(tok, what), None
        if value <= 0:
            raise self.fail(tok.span, f"{what} must be more than 0, not `{describe(tok)}`")
        return value, ref

    def _bandwidth_literal(self, tok: Tok, what: str) -> float:
        """A bandwidth literal in bit/s."""
        if tok.kind != "num":
            raise self.fail(tok.span, f"{what} needs a bandwidth such as 64kbps, not `{describe(tok)}`")
        number, unit = self._quantity(tok)
        if unit.lower() not in BANDWIDTH_UNITS:
            raise self.fail(tok.span, f"{what} needs a bandwidth such as {number}kbps or {number}Mbps, "
                            f"not `{tok.text}`")
        return to_float(number * BANDWIDTH_UNITS[unit.lower()])

    def integer(self, raw: object, what: str, *, low: int | None = None, high: int | None = None) -> tuple[int, str | None]:
        """A whole number, optionally within [low, high]."""
        tok = self._scalar(raw, what, (m.ParamKind.INTEGER,))
        if tok.kind == "ref":
            value, ref = self._param(tok, (m.ParamKind.INTEGER,), what)
        else:
            if tok.kind != "num":
                raise self.fail(tok.span, f"{what} needs a whole number, not `{describe(tok)}`")
            number, unit = self._quantity(tok)
            if unit or number != number.to_integral_value():
                raise self.fail(tok.span, f"{what} needs a whole number, not `{tok.text}`")
            value, ref = int(number), None
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"{low}–{high}" if high is not None else f"at least {low}"
            raise self.fail(tok.span, f"{what} must be {bounds}, not `{describe(tok)}`")
        return value, ref

    def number(self, raw: object, what: str) -> tuple[float, str | None]:
        """A plain number (no unit)."""
        tok = self._scalar(raw, what, (m.ParamKind.NUMBER,))
        if tok.kind == "ref":
            value, ref = self._param(tok, (m.ParamKind.NUMBER, m.ParamKind.INTEGER), what)
            return float(value), ref
        if tok.kind != "num":
            raise self.fail(tok.span, f"{what} needs a number, not `{describe(tok)}`")
        number, unit = self._quantity(tok)
        if unit:
            raise self.fail(tok.span, f"{what} needs a plain number, not `{tok.text}`")
        return to_float(number), None

    def code(self, raw: object, what: str, low: int = 100, high: int = 699) -> tuple[int, str | None]:
        """A SIP response code within [low, high]."""
        tok = self._scalar(raw, what, (m.ParamKind.INTEGER,))
        if tok.kind == "num" and _NUM_RE.fullmatch(tok.text) and _NUM_RE.fullmatch(tok.text).group(2) == "":
            number = Decimal(_NUM_RE.fullmatch(tok.text).group(1))
            if number != number.to_integral_value() or not low <= number <= high:
                raise self.fail(tok.span, f"{what} must be a response code {low}–{high}, not `{tok.text}`")
            return int(number), None
        if tok.kind == "ref":
            value, ref = self._param(tok, (m.ParamKind.INTEGER,), what)
            if not low <= value <= high:
                raise self.fail(tok.span, f"{what} must be a response code {low}–{high}, not {value} (`${tok.text}`)")
            return value, ref
        raise self.fail(tok.span, f"{what} must be a response code {low}–{high}, not `{describe(tok)}`")

    def string(self, raw: object, what: str) -> tuple[str, str | None]:
        """A string (quoted, or a bare word/number in YAML)."""
        if isinstance(raw, Tok):
            if raw.kind == "ref":
                return self._param(raw, (m.ParamKind.STRING,), what)
            if raw.kind in ("str", "word", "num", "uri", "pattern"):
                return raw.text, None
        raise self.fail(span_of(raw, m.Span(self.file, 0, 0)), f"{what} needs a string, not `{describe(raw)}`")

    def word(self, raw: object, what: str, choices: Iterable[str]) -> str:
        """One of ``choices``."""
        options = list(choices)
        if isinstance(raw, Tok) and raw.text in options and raw.kind in ("word", "str", "kw"):
            return raw.text
        text = describe(raw)
        raise self.fail(span_of(raw, m.Span(self.file, 0, 0)),
                        f"{what} must be one of {', '.join(options)}, not `{text}`" + suggest(text, options))

    def name(self, raw: object, what: str) -> str:
        """A name (bare word or quoted string)."""
        if isinstance(raw, Tok) and raw.kind in ("word", "str") and raw.text:
            return raw.text
        raise self.fail(span_of(raw, m.Span(self.file, 0, 0)), f"{what} needs a name, not `{describe(raw)}`")

    def host(self, raw: object, what: str) -> str:
        """A host name or IP address (RFC 3261 §25.1 ``host``): it goes into the node's URIs and Vias."""
        text = self.string(raw, what)[0]
        if not HOST_RE.fullmatch(text):
            raise self.fail(span_of(raw, m.Span(self.file, 0, 0)),
                            f"{what} is a host name or IP address (RFC 3261 §25.1), not `{text}`")
        # The message parser's host rule is lenient (a top label may start with a digit), so dotted
        # numbers such as 10.0.0 or 10.0.0.300 would pass as a host name: a typo in an address.
        if _DOTTED_NUMBERS_RE.fullmatch(text) and not _is_ipv4(text):
            raise self.fail(span_of(raw, m.Span(self.file, 0, 0)),
                            f"{what} `{text}` is not an IPv4 address: four numbers 0-255 such as 10.0.0.1")
        return text

    def hosts(self, raw: object, what: str) -> tuple[str, ...]:
        """A list of hosts (:meth:`host`)."""
        return tuple(self.host(item, what) for item in self.items(raw))

    def items(self, raw: object) -> list[object]:
        """A value as a list (a single value is a one-item list)."""
        if isinstance(raw, Lst):
            return list(raw.items)
        return [raw]

    def names(self, raw: object, what: str) -> tuple[str, ...]:
        """A list of names."""
        out = []
        for item in self.items(raw):
            out.append(self.name(item, what))
        return tuple(out)

    def tags(self, raw: object, what: str) -> tuple[str, ...]:
        """Option tags: 100rel (RFC 3262), the one extension simsip implements."""
        out = []
        for item in self.items(raw):
            if isinstance(item, Tok) and item.kind in ("word", "num", "str"):
                if item.text != "100rel":
                    # Accepted and then ignored, another tag would look honoured and change nothing.
                    raise self.fail(item.span, f"{what}: `{item.text}` is not an option tag simsip "
                                               "implements; the one it does is 100rel (RFC 3262)")
                out.append(item.text)
            else:
                raise self.fail(span_of(item, m.Span(self.file, 0, 0)),
                                f"{what} needs option tags such as 100rel, not `{describe(item)}`")
        return tuple(out)

    def distribution(self, raw: object, what: str) -> m.Distribution:
        """A constant duration or ``uniform/normal/lognormal/exponential(...)``."""
        if not isinstance(raw, Func):
            r = refs()
            value = r.take("value", self.duration(raw, what))
            return m.Constant(value, span=span_of(raw, m.Span(self.file, 0, 0)), refs=r.refs())
        name = raw.name.text
        shapes: dict[str, tuple[str, ...]] = {
            "uniform": ("low", "high"), "normal": ("mean", "sd"),
            "lognormal": ("mean", "sd"), "exponential": ("mean",),
        }
        if name not in shapes:
            raise self.fail(raw.name.span, f"unknown distribution `{name}` for {what}; use uniform(low, high), "
                            "normal(mean, sd), lognormal(mean, sd) or exponential(mean)" + suggest(name, shapes))
        args = self._func_args(raw, shapes[name], shapes[name])
        r = refs()
        values = {k: r.take(k, self.duration(v, f"{name}() {k}")) for k, v in args.items()}
        cls: dict[str, Callable[..., m.Distribution]] = {
            "uniform": m.Uniform, "normal": m.Normal, "lognormal": m.LogNormal, "exponential": m.Exponential,
        }
        if name == "uniform" and values["low"] > values["high"]:
            raise self.fail(raw.span, f"uniform(low, high) needs low <= high (got {describe(args['low'])} > "
                            f"{describe(args['high'])})")
        if name in ("exponential", "lognormal") and values["mean"] <= 0:
            raise self.fail(raw.span, f"{name}() needs a mean more than 0")
        return cls[name](**values, span=raw.span, refs=r.refs())

    def _func_args(self, func: Func, names: tuple[str, ...], required: tuple[str, ...]) -> dict[str, object]:
        """Map positional and named arguments of ``func`` onto ``names``."""
        out: dict[str, object] = {}
        for index, (key, value) in enumerate(func.args):
            if key is None:
                if index >= len(names):
                    raise self.fail(span_of(value, func.span),
                                    f"{func.name.text}() takes {len(names)} values ({', '.join(names)})")
                label = names[index]
            else:
                label = key.text
                if label not in names:
                    raise self.fail(key.span, f"{func.name.text}() has no `{label}`; it takes {', '.join(names)}"
                                    + suggest(label, names))
            if label in out:
                raise self.fail(span_of(value, func.span), f"{func.name.text}() got `{label}` twice")
            out[label] = value
        missing = [n for n in required if n not in out]
        if missing:
            raise self.fail(func.span, f"{func.name.text}() needs {', '.join(missing)}")
        return out

    def loss(self, raw: object) -> m.Loss:
        """``5%`` (Bernoulli) or ``gilbert(p=.., r=..)`` / ``gilbert(rate=.., burst=..)``."""
        if not isinstance(raw, Func):
            r = refs()
            p = r.take("p", self.percent(raw, "loss"))
            return m.Bernoulli(p, span=span_of(raw, m.Span(self.file, 0, 0)), refs=r.refs())
        if raw.name.text not in ("gilbert", "gilbert_elliott"):
            raise self.fail(raw.name.span, f"unknown loss model `{raw.name.text}`; use a percentage (5%) or "
                            "gilbert(p=.., r=..) / gilbert(rate=.., burst=..)" + suggest(raw.name.text, ["gilbert"]))
        keys = {k.text for k, _ in raw.args if k is not None}
        if any(k is None for k, _ in raw.args):
            raise self.fail(raw.span, "gilbert() takes named values: gilbert(p=2%, r=30%) or gilbert(rate=1%, burst=3)")
        r = refs()
        if keys & {"rate", "burst"}:
            args = self._func_args(raw, ("rate", "burst", "good", "bad"), ("rate", "burst"))
            rate = r.take("rate", self.percent(args["rate"], "gilbert() rate"))
            burst = r.take("burst", self.number(args["burst"], "gilbert() burst"))
            if rate >= 1.0:
                raise self.fail(span_of(args["rate"], raw.span), "gilbert() rate must be below 100%")
            if burst < 1.0:
                raise self.fail(span_of(args["burst"], raw.span), "gilbert() burst is a mean burst length in "
                                f"messages and must be at least 1, not {burst:g}")
            rr = 1.0 / burst
            p = rate * rr / (1.0 - rate)
            form = m.GilbertForm.RATE_BURST
        else:
            args = self._func_args(raw, ("p", "r", "good", "bad"), ("p", "r"))
            p = r.take("p", self.percent(args["p"], "gilbert() p"))
            rr = r.take("r", self.percent(args["r"], "gilbert() r"))
            if p + rr == 0:
                raise self.fail(raw.span, "gilbert() needs p + r > 0")
            rate = p / (p + rr)
            burst = 1.0 / rr if rr > 0 else float("inf")
            form = m.GilbertForm.PR
        good = r.take("loss_good", self.percent(args["good"], "gilbert() good")) if "good" in args else 0.0
        bad = r.take("loss_bad", self.percent(args["bad"], "gilbert() bad")) if "bad" in args else 1.0
        return m.GilbertElliott(p=p, r=rr, rate=rate, burst=burst, form=form, loss_good=good, loss_bad=bad,
                                span=raw.span, refs=r.refs())

    def transport(self, raw: object) -> m.Transport:
        """``udp`` or ``tcp``."""
        word = self.word(raw, "transport", ("udp", "tcp"))
        return m.Transport.UDP if word == "udp" else m.Transport.TCP

    # ------------------------------------------------------------ options
    def options(self, stmt: Stmt, allowed: Iterable[str], what: str) -> dict[str, tuple[m.Span, object]]:
        """Options of a statement by keyword; unknown or repeated ones are problems."""
        allowed = tuple(allowed)
        out: dict[str, tuple[m.Span, object]] = {}
        for key, value in stmt.opts:
            if key.text not in allowed:
                self.error(key.span, f"unknown option `{key.text}` for {what}; options are "
                           f"{', '.join(allowed)}" + suggest(key.text, allowed))
                continue
            if key.text in out:
                self.error(key.span, f"option `{key.text}` given twice (first at column {out[key.text][0].col})"
                           if out[key.text][0].line == key.span.line else
                           f"option `{key.text}` given twice (first at {self.where(out[key.text][0])})")
                continue
            out[key.text] = (key.span, value)
        return out

    def flag(self, opts: dict[str, tuple[m.Span, object]], key: str) -> bool:
        """True if a flag option is set (YAML may say ``false``)."""
        if key not in opts:
            return False
        span, value = opts[key]
        if value is True:
            return True
        if isinstance(value, Tok) and value.kind == "flag":
            return value.text == "true"
        self.error(span, f"`{key}` is a flag: write it alone (or `true` in YAML), not with `{describe(value)}`")
        return False

    # ------------------------------------------------------------- params
    def _param_kind(self, tok: Tok) -> tuple[m.ParamKind, Any]:
        """Kind and value (model units) of a param default literal."""
        if tok.kind == "str":
            return m.ParamKind.STRING, tok.text
        if tok.kind != "num":
            raise self.fail(tok.span, f"a param default must be a duration, percentage, rate, bandwidth, "
                            f"number or quoted string, not `{describe(tok)}`")
        number, unit = self._quantity(tok)
        if unit in TIME_UNITS:
            return m.ParamKind.DURATION, to_float(number * TIME_UNITS[unit])
        if unit == "%":
            return m.ParamKind.PERCENT, to_float(number / 100)
        if unit in RATE_UNITS:
            return m.ParamKind.RATE, to_float(number * RATE_UNITS[unit])
        if unit.lower() in BANDWIDTH_UNITS:
            return m.ParamKind.BANDWIDTH, to_float(number * BANDWIDTH_UNITS[unit.lower()])
        if unit == "":
            if number == number.to_integral_value() and "." not in tok.text:
                return m.ParamKind.INTEGER, int(number)
            return m.ParamKind.NUMBER, to_float(number)
        raise self.fail(tok.span, f"unknown unit `{unit}` in `{tok.text}`; a param default is a duration (ms, s, "
                        "min, h), a percentage (%), a rate (/s), a bandwidth (kbps) or a plain number")

    def _override(self, param: m.Param, given: Any) -> Any:
        """The value of an override for ``param`` (string parsed by the param's kind)."""
        label = f"--param {param.name}={given}"
        span = m.Span(self.file, 0, 0)
        if param.kind is m.ParamKind.STRING:
            return str(given)
        if isinstance(given, bool):
            raise self.fail(span, f"{label}: `{param.name}` is {KIND_WORDS[param.kind]}")
        if isinstance(given, (int, float)):
            # Python numbers are taken in model units (seconds, fractions).
            if param.kind is m.ParamKind.INTEGER and float(given) != int(given):
                raise self.fail(span, f"{label}: `{param.name}` is {KIND_WORDS[param.kind]}")
            return int(given) if param.kind is m.ParamKind.INTEGER else float(given)
        text = str(given).strip()
        tok = classify(text, span)
        if tok is None or tok.kind != "num":
            raise self.fail(span, f"{label}: `{param.name}` is {KIND_WORDS[param.kind]}, not `{text}`")
        try:
            kind, value = self._param_kind(tok)
        except Bad:
            raise
        compatible = kind is param.kind or (param.kind is m.ParamKind.NUMBER and kind is m.ParamKind.INTEGER)
        if not compatible:
            raise self.fail(span, f"{label}: `{param.name}` is {_KIND_SHORT[param.kind]} (default {param.text}), "
                            f"not {_KIND_SHORT[kind]}")
        return float(value) if param.kind is m.ParamKind.NUMBER else value

    # -------------------------------------------------------------- build
    def build(self, stmts: list[Stmt]) -> m.Scenario | None:
        """The scenario, or None when problems were found (see ``problems``)."""
        by_kind: dict[str, list[Stmt]] = {}
        for stmt in stmts:
            by_kind.setdefault(stmt.kind, []).append(stmt)
        header: dict[str, Any] = {}
        for kind in ("scenario", "description", "timers", "transport", "stop", "max-events"):
            found = by_kind.get(kind, [])
            for extra in found[1:]:
                self.error(extra.span, f"`{_label(kind)}` given twice (first at {self.where(found[0].span)})")
            if found:
                header[kind] = found[0]
        for stmt in by_kind.get("param", []):
            self._guard(self.param_stmt, stmt)
        for name in self.overrides:
            if name not in self.params:
                self.error(m.Span(self.file, 0, 0), f"--param {name}: the scenario has no param `{name}`"
                           + suggest(name, self.params))
        name = self._guard(lambda s: self.string(s.head["name"], "scenario")[0], header.get("scenario")) or ""
        if "scenario" not in header and self.file != "<text>":
            pass
        description = self._guard(lambda s: self.string(s.head["text"], "description")[0],
                                  header.get("description")) or ""
        timers = self._guard(self.timers_stmt, header.get("timers")) or m.Timers()
        transport = self._guard(lambda s: self.transport(s.head["value"]), header.get("transport")) or m.Transport.UDP
        for stmt in stmts:
            if stmt.kind in NODE_OPTIONS:
                self._guard(self.node_stmt, stmt)
        self._check_node_addresses()
        for raw in self.outbound_lists:
            # Checked once every node is known: an outbound proxy may be declared later.
            for item in self.items(raw):
                self._guard_value(lambda: self.node_ref(item, "outbound", (m.Proxy, m.B2BUA)))
        locations = self._collect(by_kind.get("location", []), self.location_stmt)
        links = self._collect(by_kind.get("link", []), self.link_stmt)
        self.links = links
        self._check_duplicate_links(links)
        handlers = self._collect(by_kind.get("on", []), self.handler_stmt)
        self._check_duplicate_handlers(handlers)
        calls = self._collect(by_kind.get("call", []), self.call_stmt)
        streams = self._collect(by_kind.get("calls", []), self.calls_stmt)
        registrations = self._collect(by_kind.get("register", []), self.register_stmt)
        requests = self._collect(by_kind.get("request", []), self.request_stmt)
        faults = self._collect([s for s in stmts if s.kind in ("link-fault", "node-fault", "drop")], self.fault_stmt)
        expectations = self._collect(by_kind.get("expect", []), lambda s: self.expect_stmt(s, len(calls)))
        stop_at = self._guard(lambda s: self.duration(s.head["at"], "stop at", positive=True), header.get("stop"))
        max_events = self._guard(lambda s: self.integer(s.head["value"], "max events", low=1), header.get("max-events"))
        lr = refs()
        limit_span = (header.get("stop") or header.get("max-events") or Stmt("", m.Span(self.file, 0, 0))).span
        limits = m.RunLimits(
            stop_at=lr.take("stop_at", stop_at) if stop_at else None,
            max_events=lr.take("max_events", max_events) if max_events else None,
            span=limit_span, refs=lr.refs(),
        )
        if not self.problems:
            # Only meaningful once every node and link was understood.
            self._check_routes(calls, streams, registrations, requests, links)
        if self.problems:
            return None
        first = stmts[0].span if stmts else m.Span(self.file, 1, 1)
        return m.Scenario(
            name=name, description=description, params=tuple(self.params.values()), timers=timers,
            transport=transport, nodes=tuple(self.nodes.values()), locations=tuple(locations),
            links=tuple(links), handlers=tuple(handlers), calls=tuple(calls), streams=tuple(streams),
            registrations=tuple(registrations), requests=tuple(requests), faults=tuple(faults),
            expectations=tuple(expectations), limits=limits, source=self.file, span=first,
        )

    def _guard(self, fn: Callable[[Stmt], Any], stmt: Stmt | None) -> Any:
        """Run one statement builder; a recorded problem gives None."""
        if stmt is None:
            return None
        try:
            return fn(stmt)
        except Bad:
            return None

    def _collect(self, stmts: list[Stmt], fn: Callable[[Stmt], Any]) -> list[Any]:
        """Build each statement; keep those that built."""
        out = []
        for stmt in stmts:
            item = self._guard(fn, stmt)
            if item is not None:
                out.append(item)
        return out

    # --------------------------------------------------------- statements
    def param_stmt(self, stmt: Stmt) -> None:
        """``param NAME = DEFAULT``."""
        name_tok = stmt.head["name"]
        name = self.name(name_tok, "param")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise self.fail(name_tok.span, f"a param name is letters, digits and _ (so `${name}` can refer to it), "
                            f"not `{name}`")
        if name in self.params:
            raise self.fail(name_tok.span, f"param `{name}` declared twice (first at "
                            f"{self.where(self.params[name].span)})")
        raw = stmt.head["value"]
        if not isinstance(raw, Tok) or raw.kind not in ("num", "str"):
            raise self.fail(span_of(raw, stmt.span), f"a param default must be a literal such as 50ms, 10%, "
                            f"20/s or \"text\", not `{describe(raw)}`")
        kind, default = self._param_kind(raw)
        value = default
        overridden = False
        if name in self.overrides:
            try:
                value = self._override(m.Param(name, kind, default, default, raw.text, span=stmt.span),
                                       self.overrides[name])
                overridden = True
            except Bad:
                value = default  # keep the param so its uses do not cascade into more errors
        self.params[name] = m.Param(name, kind, default, value, raw.text, span=stmt.span)
        # A bad --param value is the option's fault, not the default's: name the option, point at no line.
        where, what = ((m.Span(self.file, 0, 0), f"--param {name}={self.overrides[name]}: `{name}`") if overridden
                       else (raw.span, f"param `{name}`"))
        if kind is m.ParamKind.PERCENT and not 0.0 <= value <= 1.0:
            self.bad_params.add(name)
            raise self.fail(where, f"{what} must be between 0% and 100%")
        if kind in (m.ParamKind.DURATION, m.ParamKind.RATE, m.ParamKind.BANDWIDTH) and value < 0:
            self.bad_params.add(name)
            raise self.fail(where, f"{what} cannot be negative")

    def timers_stmt(self, stmt: Stmt) -> m.Timers:
        """``timers T1=.. T2=.. T4=..``."""
        r = refs()
        values: dict[str, float] = {}
        for key, raw in stmt.opts:
            label = key.text.upper()
            if label not in ("T1", "T2", "T4"):
                self.error(key.span, f"unknown timer `{key.text}`; the base timers are T1, T2 and T4 "
                           "(the others derive from them)" + suggest(key.text.upper(), ["T1", "T2", "T4"]))
                continue
            if label.lower() in values:
                self.error(key.span, f"{label} given twice")
                continue
            try:
                values[label.lower()] = r.take(label.lower(), self.duration(raw, label, positive=True))
            except Bad:
                continue
        return m.Timers(**values, span=stmt.span, refs=r.refs())

    def node_stmt(self, stmt: Stmt) -> None:
        """``ua|proxy|redirect|b2bua NAME options``."""
        kind = stmt.kind
        name = self.name(stmt.head["name"], kind)
        name_span = span_of(stmt.head["name"], stmt.span)
        # A node's name is its SIP user and default host (sip:alice@alice) and part of its Call-IDs:
        # the grammar's NAME, so a quoted or YAML name cannot hold what a URI or Call-ID cannot ("a;b").
        if not NAME_RE.fullmatch(name):
            # Reported, but the node is still declared: its uses would only repeat the error.
            self.error(name_span, f"a {kind} name is a word (letters, digits, `_`, and `.` or `-` between them) "
                       f"since it becomes the node's SIP URI, not `{name}`")
        if name in self.nodes:
            raise self.fail(name_span, f"duplicate node name `{name}` (first declared at "
                            f"{self.where(self.node_spans[name])})")
        opts = self.options(stmt, NODE_OPTIONS[kind], f"a {kind}")
        host = self._guard_value(lambda: self.host(opts["host"][1], "host")) if "host" in opts else None
        # A proxy's, redirect server's or B2BUA's domains (a UA's one domain is read below).
        domains: tuple[str, ...] = ()
        if kind != "ua" and "domain" in opts:
            domains = self._guard_value(lambda: self.hosts(opts["domain"][1], "domain")) or ()
        node: m.SipNode
        if kind == "ua":
            creds = self._one_per_realm(self._creds(opts["credentials"][1])) if "credentials" in opts else ()
            node = m.UserAgent(
                name=name, host=host,
                domain=self._guard_value(lambda: self.host(opts["domain"][1], "domain")) if "domain" in opts else None,
                # Guarded: a bad tag is reported and the node still declared (its uses raise no more errors).
                supports=self._guard_value(lambda: self.tags(opts["supports"][1], "supports")) or ()
                if "supports" in opts else (),
                requires=self._guard_value(lambda: self.tags(opts["requires"][1], "requires")) or ()
                if "requires" in opts else (),
                auto_prack=not self.flag(opts, "no-auto-prack"),
                auto_trying=not self.flag(opts, "no-trying"),
                answer_sdp=not self.flag(opts, "no-answer-sdp"),
                outbound=self.names(opts["outbound"][1], "outbound") if "outbound" in opts else (),
                credentials=creds, span=stmt.span,
            )
        elif kind == "proxy":
            stateless, stateful = self.flag(opts, "stateless"), self.flag(opts, "stateful")
            if stateless and stateful:
                self.error(opts["stateless"][0], "a proxy is either `stateless` or `stateful`, not both")
            mode = m.ProxyMode.STATELESS if stateless and not stateful else m.ProxyMode.STATEFUL
            forking = m.Forking.PARALLEL
            word: str | None = forking.value  # None: a bad `forking` word (reported there)
            if "forking" in opts:
                word = self._guard_value(lambda: self.word(opts["forking"][1], "forking", ("parallel", "sequential")))
                forking = m.Forking(word) if word else forking
                if mode is m.ProxyMode.STATELESS:
                    self.error(opts["forking"][0], "a stateless proxy cannot fork (RFC 3261 §16.11: it forwards "
                               "to one target); make it `stateful`")
            r = refs()
            timeout_code = 408
            if "timeout-response" in opts:
                timeout_code = self._guard_value(lambda: r.take(
                    "timeout_code", self.code(opts["timeout-response"][1], "timeout-response", 300, 699))) or 408
            branch_timeout = None
            if "branch-timeout" in opts:
                branch_timeout = self._guard_value(lambda: r.take(
                    "branch_timeout", self.duration(opts["branch-timeout"][1], "branch-timeout", positive=True)))
                # The proxy arms this limit only in a sequential search; otherwise it is silently unused.
                if branch_timeout is not None and forking is m.Forking.PARALLEL and word is not None:
                    self.error(span_of(opts["branch-timeout"][1], stmt.span),
                               "branch-timeout is how long a sequential search waits on each target before "
                               "cancelling it and trying the next (RFC 3261 §16.6: a stateful proxy MAY try "
                               "targets one at a time); this proxy does not search sequentially, so it would "
                               "never apply; add `forking sequential`")
            auth = self._auth(opts["auth"]) if "auth" in opts else None
            registrar = self.flag(opts, "registrar")
            node = m.Proxy(
                name=name, mode=mode, host=host,
                domains=domains,
                record_route=self.flag(opts, "record-route"), forking=forking, registrar=registrar,
                auth=auth, auto_trying=not self.flag(opts, "no-trying"), timeout_code=timeout_code,
                branch_timeout=branch_timeout, span=stmt.span, refs=r.refs(),
            )
        elif kind == "redirect":
            r = refs()
            code = 302
            if "code" in opts:
                code = self._guard_value(lambda: r.take("code", self.code(opts["code"][1], "redirect code", 300, 399))) or 302
            node = m.RedirectServer(
                name=name, host=host,
                domains=domains,
                code=code, span=stmt.span, refs=r.refs(),
            )
        else:
            node = m.B2BUA(
                name=name, host=host,
                domains=domains,
                outbound=self.names(opts["outbound"][1], "outbound") if "outbound" in opts else (),
                rewrite_sdp=not self.flag(opts, "no-rewrite-sdp"), span=stmt.span,
            )
        if "outbound" in opts:
            self.outbound_lists.append(opts["outbound"][1])
        self.nodes[name] = node
        self.node_spans[name] = name_span
        if host is not None:  # with the node: one that failed to build has no address to compare
            self.host_spans[name] = span_of(opts["host"][1], stmt.span)

    def _check_node_addresses(self) -> None:
        """Each node has its own address: the network delivers a message to the node its host names."""
        # A node's name addresses it too (sip:alice@alice), so a host may not be another node's name.
        owner = {name.lower(): name for name in self.nodes}
        for name, span in self.host_spans.items():
            host = self.nodes[name].host_name
            other = owner.setdefault(host.lower(), name)
            if other != name:
                first = self.host_spans.get(other, self.node_spans[other])
                self.error(span, f"host `{host}` is already the address of node `{other}` ({self.where(first)}); "
                           "two nodes cannot share one, or one would get the other's messages")

    def _guard_value(self, fn: Callable[[], Any]) -> Any:
        """Evaluate one value; a recorded problem gives None."""
        try:
            return fn()
        except Bad:
            return None

    def _creds(self, raw: object) -> tuple[m.Credentials, ...]:
        """``user:password[@realm], ...``."""
        out = []
        for item in self.items(raw):
            parts = list(item.items) if isinstance(item, Lst) else []
            if len(parts) not in (2, 3) or not all(isinstance(p, Tok) for p in parts):
                self.error(span_of(item, m.Span(self.file, 0, 0)),
                           f"credentials are written user:password or user:password@realm, not `{describe(item)}`")
                continue
            realm = parts[2].text if len(parts) == 3 else None
            out.append(m.Credentials(parts[0].text, parts[1].text, realm, span=parts[0].span))
        return tuple(out)

    def _one_per_realm(self, creds: tuple[m.Credentials, ...]) -> tuple[m.Credentials, ...]:
        """A ua's credentials, at most one pair per realm (and one for any realm)."""
        out: list[m.Credentials] = []
        for cred in creds:
            first = next((c for c in out if c.realm == cred.realm), None)
            if first is not None:
                # RFC 3261 §22.1: the realm is the protection domain; a second password for it would never be used.
                self.error(cred.span, (f"credentials for realm `{cred.realm}`" if cred.realm is not None
                                       else "credentials for any realm (no @realm)")
                           + f" given twice (first as `{first.user}:…`)")
                continue
            out.append(cred)
        return tuple(out)

    def _auth(self, entry: tuple[m.Span, object]) -> m.ProxyAuth | None:
        """``auth realm R [users a:pw, ...]``."""
        span, value = entry
        if not isinstance(value, dict) or "realm" not in value:
            self.error(span, "`auth` needs `realm NAME` (and `users user:password, ...`)")
            return None
        realm = self._guard_value(lambda: self.string(value["realm"], "realm")[0])
        users = self._creds(value["users"]) if value.get("users") is not None else ()
        if realm is None:
            return None
        return m.ProxyAuth(realm, users, span=span)

    def node_ref(self, raw: object, what: str, kinds: tuple[type, ...] | None = None) -> str:
        """A name that must be a declared node (of one of ``kinds``)."""
        name = self.name(raw, what)
        span = span_of(raw, m.Span(self.file, 0, 0))
        node = self.nodes.get(name)
        if node is None:
            raise self.fail(span, f"unknown node `{name}` in {what}" + suggest(name, self.nodes)
                            + ("" if self.nodes else "; declare it with `ua`, `proxy`, `redirect` or `b2bua`"))
        if kinds is not None and not isinstance(node, kinds):
            wanted = " or ".join(_KIND_NAMES[k] for k in kinds)
            raise self.fail(span, f"`{name}` is a {node.kind.value}, but {what} needs a {wanted}")
        return name

    def location_stmt(self, stmt: Stmt) -> m.Location:
        """``location AOR -> contact, ...``."""
        raw = stmt.head["aor"]
        aor = self._aor(raw)
        contacts = []
        for item in self.items(stmt.head["contacts"]):
            if isinstance(item, Tok) and item.kind == "uri":
                contacts.append(item.text)
            else:
                contacts.append(self.node_ref(item, "a location's contacts", (m.UserAgent, m.B2BUA)))
        return m.Location(aor, tuple(contacts), span=stmt.span)

    def _aor(self, raw: object) -> str:
        """An address-of-record: ``sip:user@domain`` or a UA name (its AOR)."""
        if isinstance(raw, Tok) and raw.kind == "uri":
            match = _AOR_RE.fullmatch(raw.text)
            if match is None:
                raise self.fail(raw.span, f"an address-of-record looks like sip:user@domain, not `{raw.text}`")
            return raw.text
        name = self.node_ref(raw, "a location", (m.UserAgent,))
        node = self.nodes[name]
        assert isinstance(node, m.UserAgent)
        return node.aor

    def link_stmt(self, stmt: Stmt) -> m.Link:
        """``link a <-> b options``."""
        a = self.node_ref(stmt.head["a"], "a link")
        b = self.node_ref(stmt.head["b"], "a link")
        if a == b:
            raise self.fail(span_of(stmt.head["b"], stmt.span), f"a link joins two different nodes, not `{a}` to itself")
        arrow = stmt.head["arrow"]
        opts = self.options(stmt, STATEMENT_OPTIONS["link"], "a link")
        r = refs()
        kw: dict[str, Any] = {}
        try:
            if "delay" in opts:
                kw["delay"] = self.distribution(opts["delay"][1], "delay")
        except Bad:
            pass
        for key, fn in (("jitter", lambda v: self.duration(v, "jitter")),
                        ("duplicate", lambda v: self.percent(v, "duplicate")),
                        ("bandwidth", lambda v: self.bandwidth(v, "bandwidth"))):
            if key in opts:
                value = self._guard_value(lambda: r.take(key, fn(opts[key][1])))
                if value is not None:
                    kw[key] = value
        if "reorder" in opts:
            value = opts["reorder"][1]
            by = None
            if isinstance(value, tuple):
                value, by = value
            got = self._guard_value(lambda: r.take("reorder", self.percent(value, "reorder")))
            if got is not None:
                kw["reorder"] = got
            if by is not None:
                got = self._guard_value(lambda: r.take("reorder_delay", self.duration(by, "reorder by", positive=True)))
                if got is not None:
                    kw["reorder_delay"] = got
        if "loss" in opts:
            got = self._guard_value(lambda: self.loss(opts["loss"][1]))
            if got is not None:
                kw["loss"] = got
        if "transport" in opts:
            got = self._guard_value(lambda: self.transport(opts["transport"][1]))
            if got is not None:
                kw["transport"] = got
        text = arrow.text if isinstance(arrow, Tok) else str(arrow)
        return m.Link(a, b, bidirectional=text == "<->", span=stmt.span, refs=r.refs(), **kw)

    def _check_duplicate_links(self, links: list[m.Link]) -> None:
        """Each direction between two nodes is described once."""
        seen: dict[tuple[str, str], m.Link] = {}
        for link in links:
            directions = [(link.a, link.b)] + ([(link.b, link.a)] if link.bidirectional else [])
            for d in directions:
                if d in seen:
                    self.error(link.span, f"a second link from `{d[0]}` to `{d[1]}` (first at "
                               f"{self.where(seen[d].span)})")
                    break
            for d in directions:
                seen.setdefault(d, link)

    # ------------------------------------------------------------ handlers
    def event(self, raw: object, to: object, span: m.Span) -> m.Event:
        """The trigger of a handler."""
        method = None
        reinvite = False
        if isinstance(to, Tok) and EVENT_WORDS.get(to.text) is m.EventKind.REINVITE:
            # `on alice 200 to re-INVITE`: the answer to a re-INVITE, not to the initial INVITE.
            method, reinvite = "INVITE", True
        elif to is not None:
            method = self._method(to, "`to`")
        if isinstance(raw, Tok) and raw.kind == "num":
            number, unit = self._quantity(raw)
            if unit == "":
                code = self.code(raw, "the event")[0]
                return m.Event(m.EventKind.RESPONSE, method=method or "INVITE", code=code, reinvite=reinvite,
                               span=raw.span)
            if _CLASS_RE.fullmatch(raw.text):
                return m.Event(m.EventKind.RESPONSE_CLASS, method=method or "INVITE", code_class=raw.text,
                               reinvite=reinvite, span=raw.span)
            raise self.fail(raw.span, f"`{raw.text}` is not an event: use a code (180) or a class (2xx, 18x)")
        if not isinstance(raw, Tok) or raw.kind not in ("word", "str"):
            raise self.fail(span_of(raw, span), f"`{describe(raw)}` is not an event")
        if to is not None:
            raise self.fail(span_of(to, span), "`to METHOD` follows a response code or class "
                            "(`on alice 200 to BYE`), not a request")
        word = raw.text
        if word in EVENT_WORDS:
            kind = EVENT_WORDS[word]
            return m.Event(kind, method="INVITE" if kind is m.EventKind.REINVITE else None, span=raw.span)
        if word in METHODS:
            return m.Event(m.EventKind.REQUEST, method=word, span=raw.span)
        if word.isupper() and word.isalpha():
            raise self.fail(raw.span, f"unknown SIP method `{word}`" + suggest(word, METHODS))
        raise self.fail(raw.span, f"unknown event `{word}`: use a method (INVITE), a code (180), a class (2xx), "
                        "re-INVITE, timeout or call-ended" + suggest(word, [*METHODS, *EVENT_WORDS]))

    def _method(self, raw: object, what: str) -> str:
        """A SIP method name."""
        if isinstance(raw, Tok) and raw.text in METHODS:
            return raw.text
        text = describe(raw)
        raise self.fail(span_of(raw, m.Span(self.file, 0, 0)), f"{what} needs a SIP method such as INVITE or BYE, "
                        f"not `{text}`" + suggest(text, METHODS))

    def handler_stmt(self, stmt: Stmt) -> m.Handler:
        """``on NODE EVENT:`` block."""
        # Only a ua runs handlers: a b2bua relays each leg's requests and responses itself.
        node = self.node_ref(stmt.head["node"], "a handler", (m.UserAgent,))
        event = self.event(stmt.head["event"], stmt.head.get("to"), stmt.span)
        actions = []
        raw_actions = stmt.head.get("actions") or []
        if not raw_actions:
            self.error(stmt.span, "a handler needs at least one action")
        for action in raw_actions:
            built = self._guard(lambda a: self.action(a, event, node), action)
            if built is not None:
                actions.append(built)
        return m.Handler(node, event, tuple(actions), span=stmt.span)

    def action(self, stmt: Stmt, event: m.Event, node: str) -> m.Action:
        """One action inside a handler."""
        is_request = event.kind in (m.EventKind.REQUEST, m.EventKind.REINVITE)
        is_response = event.kind in (m.EventKind.RESPONSE, m.EventKind.RESPONSE_CLASS)
        kind = stmt.kind
        if kind == "send":
            if not is_request:
                raise self.fail(stmt.span, "`send` answers the request that triggered the handler; "
                                f"this handler reacts to {event_text(event)}, not to a request")
            r = refs()
            code = r.take("code", self.code(stmt.head["code"], "`send`"))
            opts = self.options(stmt, STATEMENT_OPTIONS["send"], "`send`")
            reliable = self.flag(opts, "reliable")
            if reliable and code == 100:
                raise self.fail(opts["reliable"][0], "a 100 Trying cannot be sent reliably (RFC 3262 §3 applies "
                                "to 101–199)")
            if reliable and code >= 200:
                raise self.fail(opts["reliable"][0], f"only provisional responses (101–199) are sent reliably, "
                                f"not {code}")
            if code == 100 and event.method not in ("INVITE", None):
                pass
            reason = self.string(opts["reason"][1], "reason")[0] if "reason" in opts else None
            return m.SendResponse(code, reliable=reliable, sdp=self.flag(opts, "sdp"), reason=reason,
                                  span=stmt.span, refs=r.refs())
        if kind == "wait":
            return m.Wait(self.distribution(stmt.head["duration"], "wait"), span=stmt.span)
        if kind == "hangup":
            return m.Hangup(span=stmt.span)
        if kind == "bye":
            return m.Bye(span=stmt.span)
        if kind == "cancel":
            return m.Cancel(span=stmt.span)
        if kind == "ignore":
            if not is_request:
                raise self.fail(stmt.span, f"`ignore` leaves a request unanswered; this handler reacts to "
                                f"{event_text(event)}")
            return m.Ignore(span=stmt.span)
        if kind == "prack":
            if not is_response:
                raise self.fail(stmt.span, "`prack` acknowledges a reliable provisional response; use it in a "
                                "handler such as `on alice 180:`")
            return m.SendPrack(span=stmt.span)
        if kind == "reinvite":
            opts = self.options(stmt, STATEMENT_OPTIONS["reinvite"], "`reinvite`")
            contact = None
            if "contact" in opts:
                raw = opts["contact"][1]
                if not (isinstance(raw, Tok) and raw.kind == "uri"):
                    raise self.fail(span_of(raw, stmt.span), f"`contact` needs a sip: URI, not `{describe(raw)}`")
                contact = raw.text
            return m.Reinvite(sdp=not self.flag(opts, "no-sdp"), contact=contact, span=stmt.span)
        if kind == "register":
            if not isinstance(self.nodes.get(node), m.UserAgent):
                raise self.fail(stmt.span, "only a ua registers")
            self._need_registrar(stmt.span)
            opts = self.options(stmt, STATEMENT_OPTIONS["register-action"], "`register` in a handler")
            mode, contacts, expires, r = self._register_opts(opts)
            return m.Register(mode, contacts, expires, span=stmt.span, refs=r.refs())
        raise self.fail(stmt.span, f"unknown action `{kind}`; actions are send, wait, hangup, bye, cancel, "
                        "reinvite, ignore, prack and register"
                        + suggest(kind, ["send", "wait", "hangup", "bye", "cancel", "reinvite", "ignore", "prack",
                                         "register"]))

    def _check_duplicate_handlers(self, handlers: list[m.Handler]) -> None:
        """One handler per node and event."""
        seen: dict[tuple[str, m.Event], m.Handler] = {}
        for handler in handlers:
            key = (handler.node, handler.event)
            if key in seen:
                self.error(handler.span, f"a second handler for `on {handler.node} {event_text(handler.event)}` "
                           f"(first at {self.where(seen[key].span)}); put all its actions in one block")
            else:
                seen[key] = handler

    # ------------------------------------------------------------ workload
    def _target(self, raw: object, what: str) -> str:
        """A UA (or any node) name, or a ``sip:`` URI."""
        if isinstance(raw, Tok) and raw.kind == "uri":
            return raw.text
        return self.node_ref(raw, what)

    def call_stmt(self, stmt: Stmt) -> m.Call:
        """``call a -> b options``."""
        caller = self.node_ref(stmt.head["caller"], "a call's caller", (m.UserAgent,))
        callee = self._target(stmt.head["callee"], "a call's callee")
        if callee == caller:
            raise self.fail(span_of(stmt.head["callee"], stmt.span), f"`{caller}` cannot call itself")
        opts = self.options(stmt, STATEMENT_OPTIONS["call"], "a call")
        r = refs()
        at = r.take("at", self.duration(opts["at"][1], "at")) if "at" in opts else 0.0
        return m.Call(
            caller, callee, at=at,
            require=self.tags(opts["require"][1], "require") if "require" in opts else (),
            supported=self.tags(opts["supported"][1], "supported") if "supported" in opts else (),
            sdp=not self.flag(opts, "no-sdp"), span=stmt.span, refs=r.refs(),
        )

    def pool(self, raw: object, what: str) -> m.Pool:
        """A pool: name, ``pattern*``, ``[a, b]`` or a URI (callees only)."""
        span = span_of(raw, m.Span(self.file, 0, 0))
        if isinstance(raw, Tok) and raw.kind == "pattern":
            members = tuple(n for n, node in self.nodes.items()
                            if isinstance(node, m.UserAgent) and fnmatch.fnmatchcase(n, raw.text))
            if not members:
                raise self.fail(raw.span, f"the pattern `{raw.text}` in {what} matches no ua")
            return m.Pool(members, pattern=raw.text, span=span)
        if isinstance(raw, Tok) and raw.kind == "uri":
            if what.startswith("callers"):
                raise self.fail(raw.span, "callers are ua names, not URIs")
            return m.Pool((raw.text,), span=span)
        names = []
        for item in self.items(raw):
            names.append(self.node_ref(item, what, (m.UserAgent,)))
        if len(set(names)) != len(names):
            raise self.fail(span, f"a name appears twice in {what}")
        return m.Pool(tuple(names), span=span)

    def calls_stmt(self, stmt: Stmt) -> m.CallStream:
        """``calls POOL -> POOL poisson RATE | every D ...``."""
        callers = self.pool(stmt.head["callers"], "callers of `calls`")
        callees = self.pool(stmt.head["callees"], "callees of `calls`")
        opts = self.options(stmt, STATEMENT_OPTIONS["calls"], "`calls`")
        r = refs()
        if ("poisson" in opts) == ("every" in opts):
            raise self.fail(stmt.span, "`calls` needs exactly one arrival process: `poisson RATE` (20/s) or "
                            "`every DURATION`")
        rate = interval = None
        if "poisson" in opts:
            arrival = m.Arrival.POISSON
            rate = r.take("rate", self.rate(opts["poisson"][1], "poisson"))
        else:
            arrival = m.Arrival.FIXED
            interval = r.take("interval", self.duration(opts["every"][1], "every", positive=True))
        if "for" not in opts and "count" not in opts:
            raise self.fail(stmt.span, "`calls` needs an end: `for DURATION`, `count N` or both")
        pick = m.Pick.ROUND_ROBIN
        if "pick" in opts:
            pick = m.Pick(self.word(opts["pick"][1], "pick", ("round-robin", "random")))
        return m.CallStream(
            callers, callees, arrival, rate=rate, interval=interval,
            start=r.take("start", self.duration(opts["at"][1], "at")) if "at" in opts else 0.0,
            duration=r.take("duration", self.duration(opts["for"][1], "for", positive=True)) if "for" in opts else None,
            count=r.take("count", self.integer(opts["count"][1], "count", low=1)) if "count" in opts else None,
            pick=pick,
            require=self.tags(opts["require"][1], "require") if "require" in opts else (),
            supported=self.tags(opts["supported"][1], "supported") if "supported" in opts else (),
            sdp=not self.flag(opts, "no-sdp"), span=stmt.span, refs=r.refs(),
        )

    def _need_registrar(self, span: m.Span) -> None:
        """A REGISTER needs a registrar somewhere."""
        if not any(isinstance(n, m.Proxy) and n.registrar for n in self.nodes.values()):
            raise self.fail(span, "no registrar: mark a proxy `registrar` (e.g. `proxy registrar stateful "
                            "registrar domain biloxi.example.com`)")

    def _register_opts(self, opts: dict[str, tuple[m.Span, object]]) -> tuple[m.RegisterMode, tuple[str, ...], float | None, _Ref]:
        """Mode, contacts and expires of a REGISTER."""
        r = refs()
        query, remove = self.flag(opts, "query"), self.flag(opts, "remove-all")
        if query and remove:
            raise self.fail(opts["query"][0], "a REGISTER is either a `query` or `remove-all`, not both")
        mode = m.RegisterMode.QUERY if query else m.RegisterMode.REMOVE_ALL if remove else m.RegisterMode.BIND
        contacts: tuple[str, ...] = ()
        if "contact" in opts:
            if mode is not m.RegisterMode.BIND:
                raise self.fail(opts["contact"][0], f"`contact` makes no sense with `{'query' if query else 'remove-all'}`")
            contacts = tuple(
                item.text if isinstance(item, Tok) and item.kind == "uri" else self.node_ref(item, "contact")
                for item in self.items(opts["contact"][1])
            )
        expires = None
        if "expires" in opts:
            raw = opts["expires"][1]
            value, ref = self.duration(raw, "expires")
            if value != int(value):
                # A REGISTER's Expires is delta-seconds (RFC 3261 §20.19); cutting 0.5s to 0 would remove the binding.
                raise self.fail(span_of(raw, opts["expires"][0]), f"expires must be whole seconds (delta-seconds, "
                                f"RFC 3261 §20.19), not `{describe(raw)}`" + (f" (= {value:g}s)" if ref else ""))
            expires = r.take("expires", (value, ref))
        return mode, contacts, expires, r

    def register_stmt(self, stmt: Stmt) -> m.Registration:
        """``register UA options``."""
        ua = self.node_ref(stmt.head["ua"], "`register`", (m.UserAgent,))
        self._need_registrar(stmt.span)
        opts = self.options(stmt, STATEMENT_OPTIONS["register"], "`register`")
        mode, contacts, expires, r = self._register_opts(opts)
        at = r.take("at", self.duration(opts["at"][1], "at")) if "at" in opts else 0.0
        registrar = None
        if "via" in opts:
            registrar = self.node_ref(opts["via"][1], "`via`", (m.Proxy,))
            node = self.nodes[registrar]
            if isinstance(node, m.Proxy) and not node.registrar:
                raise self.fail(span_of(opts["via"][1], stmt.span), f"`{registrar}` is not a registrar; add "
                                f"`registrar` to `proxy {registrar}`")
        return m.Registration(ua, at=at, mode=mode, contacts=contacts, expires=expires, registrar=registrar,
                              span=stmt.span, refs=r.refs())

    def request_stmt(self, stmt: Stmt) -> m.StandaloneRequest:
        """``request METHOD a -> b options``."""
        method = self._method(stmt.head["method"], "`request`")
        if method in ("INVITE", "ACK", "CANCEL", "REGISTER", "BYE"):
            raise self.fail(span_of(stmt.head["method"], stmt.span),
                            f"use `call`, `register` or a handler action for {method}; `request` sends "
                            "standalone requests such as OPTIONS or a forged PRACK")
        if method not in ("OPTIONS", "PRACK"):
            # The two the engine sends: an OPTIONS probe and a PRACK forged from the target's early dialog.
            raise self.fail(span_of(stmt.head["method"], stmt.span),
                            f"`request` sends OPTIONS or a forged PRACK (with `rack`), not {method}")
        # Only a user agent originates standalone requests (a proxy or B2BUA has no such TU).
        source = self.node_ref(stmt.head["source"], "`request`", (m.UserAgent,))
        target = self._target(stmt.head["target"], "`request`")
        opts = self.options(stmt, STATEMENT_OPTIONS["request"], "`request`")
        r = refs()
        at = r.take("at", self.duration(opts["at"][1], "at")) if "at" in opts else 0.0
        rack = None
        if "rack" in opts:
            if method != "PRACK":
                raise self.fail(opts["rack"][0], "`rack` belongs to a PRACK")
            rack = self.string(opts["rack"][1], "rack")[0]
            if not re.fullmatch(r"[0-9]+ [0-9]+ [A-Z]+", rack):
                raise self.fail(span_of(opts["rack"][1], stmt.span),
                                f"RAck is `RSEQ CSEQ METHOD` such as \"1 1 INVITE\" (RFC 3262 §7.2), not \"{rack}\"")
        if method == "PRACK" and rack is None:
            raise self.fail(span_of(stmt.head["method"], stmt.span),
                            "a standalone PRACK is forged from the target's newest early dialog and needs "
                            "`rack \"RSEQ CSEQ METHOD\"` (RFC 3262 §9); a ua PRACKs its own calls itself")
        if method == "PRACK" and not isinstance(self.nodes.get(target), m.UserAgent):
            raise self.fail(span_of(stmt.head["target"], stmt.span),
                            f"a forged PRACK goes to a ua, whose newest early dialog it copies, not `{target}`")
        return m.StandaloneRequest(method, source, target, at=at, rack=rack, span=stmt.span, refs=r.refs())

    # -------------------------------------------------------------- faults
    def fault_stmt(self, stmt: Stmt) -> m.Fault:
        """``at T link|node ...`` or ``drop ...``."""
        r = refs()
        if stmt.kind == "drop":
            return self._drop(stmt)
        at = r.take("at", self.duration(stmt.head["at"], "at"))
        state = stmt.head["state"]
        duration = None
        if stmt.head.get("for") is not None:
            duration = r.take("duration", self.duration(stmt.head["for"], "for", positive=True))
        if stmt.kind == "link-fault":
            a = self.node_ref(stmt.head["a"], "a link fault")
            b = self.node_ref(stmt.head["b"], "a link fault")
            if not self._has_link(a, b):
                raise self.fail(span_of(stmt.head["a"], stmt.span), f"there is no link between `{a}` and `{b}`")
            word = self.word(state, "a link fault", ("down", "up"))
            if word == "up":
                if duration is not None:
                    raise self.fail(stmt.span, "`up` takes no `for`")
                return m.LinkUp(a, b, at, span=stmt.span, refs=r.refs())
            return m.LinkDown(a, b, at, duration, span=stmt.span, refs=r.refs())
        node = self.node_ref(stmt.head["node"], "a node fault")
        word = self.word(state, "a node fault", ("crash", "restart"))
        if word == "restart":
            if duration is not None:
                raise self.fail(stmt.span, "`restart` takes no `for`")
            return m.NodeRestart(node, at, span=stmt.span, refs=r.refs())
        return m.NodeCrash(node, at, duration, span=stmt.span, refs=r.refs())

    def _has_link(self, a: str, b: str) -> bool:
        """True if a link statement joins ``a`` and ``b`` (either way)."""
        return any({link.a, link.b} == {a, b} for link in self.links)

    def _drop(self, stmt: Stmt) -> m.Drop:
        """``drop [all] MSG a -> b [count N] [after T]``."""
        r = refs()
        raw = stmt.head["message"]
        to = stmt.head.get("to")
        cseq = self._method(to, "`to`") if to is not None else None
        pattern: m.MessagePattern
        if isinstance(raw, Tok) and raw.kind == "num":
            number, unit = self._quantity(raw)
            if unit == "":
                pattern = m.MessagePattern(code=self.code(raw, "`drop`")[0], cseq_method=cseq, span=raw.span)
            elif _CLASS_RE.fullmatch(raw.text):
                pattern = m.MessagePattern(code_class=raw.text, cseq_method=cseq, span=raw.span)
            else:
                raise self.fail(raw.span, f"`drop` needs a method (ACK), a code (180) or a class (18x), not `{raw.text}`")
        else:
            if to is not None:
                raise self.fail(span_of(to, stmt.span), "`to METHOD` follows a response code or class "
                                "(`drop 200 to PRACK`), not a request")
            pattern = m.MessagePattern(method=self._method(raw, "`drop`"), span=span_of(raw, stmt.span))
        source = self.node_ref(stmt.head["source"], "`drop`")
        target = self.node_ref(stmt.head["target"], "`drop`")
        opts = self.options(stmt, STATEMENT_OPTIONS["drop"], "`drop`")
        every = self.flag(opts, "all")
        if every and "count" in opts:
            raise self.fail(opts["count"][0], "`drop all` takes no `count`")
        count = None if every else (r.take("count", self.integer(opts["count"][1], "count", low=1))
                                    if "count" in opts else 1)
        after = r.take("after", self.duration(opts["after"][1], "after")) if "after" in opts else 0.0
        return m.Drop(pattern, source, target, count=count, after=after, span=stmt.span, refs=r.refs())

    # --------------------------------------------------------- expectations
    def expect_stmt(self, stmt: Stmt, n_calls: int) -> m.Expectation:
        """``expect [call N] [STAT] MEASURE [OP] VALUE``."""
        terms: list[Any] = list(stmt.head.get("terms") or [])
        r = refs()
        call = None
        if stmt.head.get("call") is not None:
            call = r.take("call", self.integer(stmt.head["call"], "`expect call`", low=1))
            if call > n_calls:
                raise self.fail(span_of(stmt.head["call"], stmt.span),
                                f"there is no call {call}: the scenario has {n_calls} `call` statement"
                                f"{'' if n_calls == 1 else 's'}")
        if not terms:
            raise self.fail(stmt.span, "`expect` needs a measure, e.g. `expect outcome answered`")
        statistic = None
        first = terms[0]
        stats = [s.value for s in m.Statistic]
        if isinstance(first, Tok) and first.kind == "word" and first.text in stats and len(terms) > 1:
            statistic = m.Statistic(first.text)
            terms = terms[1:]
            if call is not None:
                raise self.fail(first.span, "a statistic summarises every call; drop `call N` or the statistic")
        if statistic is m.Statistic.SHARE:
            outcome = self._outcome(terms[0])
            op, rest = self._op(terms[1:], stmt)
            if len(rest) != 1:
                raise self.fail(span_of(terms[-1], stmt.span), "write `expect share OUTCOME >= 95%`")
            share = r.take("share", self.percent(rest[0], "share"))
            return m.Expectation("outcome", op, outcome, statistic=statistic, share=share, span=stmt.span,
                                 refs=r.refs())
        if statistic is m.Statistic.N and isinstance(terms[0], Tok) and terms[0].kind == "op":
            measure = "outcome"
        else:
            measure_tok = terms[0]
            terms = terms[1:]
            if not isinstance(measure_tok, Tok) or measure_tok.kind != "word" or measure_tok.text not in m.MEASURES:
                text = describe(measure_tok)
                hint = suggest(text, [*m.MEASURES, *stats])
                raise self.fail(span_of(measure_tok, stmt.span), f"unknown measure `{text}`{hint}" +
                                ("" if hint else "; measures are " + ", ".join(m.MEASURES)))
            measure = measure_tok.text
        op_span = span_of(terms[0], stmt.span) if terms else stmt.span  # the operator, when there is one
        op, rest = self._op(terms, stmt)
        if len(rest) != 1:
            where = span_of(rest[1], stmt.span) if len(rest) > 1 else stmt.span
            raise self.fail(where, f"`expect` needs one value after `{measure}`" +
                            (f", found {len(rest)}" if rest else ""))
        raw = rest[0]
        kind = m.MEASURES[measure]
        value: Any
        if statistic is m.Statistic.N:
            value = r.take("value", self.integer(raw, "a count of calls", low=0))
        elif kind is m.MeasureKind.OUTCOME:
            if statistic is not None:
                raise self.fail(first.span, f"`{statistic.value}` of an outcome makes no sense; use "
                                "`expect share answered >= 95%`")
            if op not in (m.Comparison.EQ, m.Comparison.NE):
                raise self.fail(op_span, "an outcome is compared with == or != only")
            value = self._outcome(raw)
        elif kind is m.MeasureKind.CODE:
            value = r.take("value", self.code(raw, "final_code"))
        elif kind is m.MeasureKind.DURATION_MS:
            value = r.take("value", self._ms(raw, measure))
        else:
            value = r.take("value", self.number(raw, measure))
            if statistic is None and value != int(value):
                raise self.fail(span_of(raw, stmt.span), f"{measure} of one call is a whole number")
            value = int(value) if value == int(value) else value
        return m.Expectation(measure, op, value, statistic=statistic, call=call, span=stmt.span, refs=r.refs())

    def _ms(self, raw: object, measure: str) -> tuple[float, str | None]:
        """A duration for a ``*_ms`` measure, in milliseconds (bare numbers are ms)."""
        if isinstance(raw, Tok) and raw.kind == "num":
            number, unit = self._quantity(raw)
            if unit == "":
                if number < 0:
                    raise self.fail(raw.span, f"{measure} cannot be negative")
                return to_float(number), None
        seconds, ref = self.duration(raw, measure)
        if ref is not None:
            return seconds * 1000.0, ref
        tok = raw
        assert isinstance(tok, Tok)
        number, unit = self._quantity(tok)
        return to_float(number * TIME_UNITS[unit] * 1000), None

    def _op(self, terms: list[Any], stmt: Stmt) -> tuple[m.Comparison, list[Any]]:
        """The comparison (default ==) and the terms after it."""
        if terms and isinstance(terms[0], Tok) and terms[0].kind == "op":
            return m.Comparison(terms[0].text), terms[1:]
        for term in terms:
            if isinstance(term, Tok) and term.kind == "op":
                raise self.fail(term.span, "the comparison comes right after the measure")
        return m.Comparison.EQ, terms

    def _outcome(self, raw: object) -> m.Outcome:
        """An outcome word."""
        outcomes = [o.value for o in m.Outcome]
        if isinstance(raw, Tok) and raw.text in outcomes:
            return m.Outcome(raw.text)
        text = describe(raw)
        raise self.fail(span_of(raw, m.Span(self.file, 0, 0)), f"unknown outcome `{text}`; outcomes are "
                        f"{', '.join(outcomes)}" + suggest(text, outcomes))

    # -------------------------------------------------------------- routes
    def _check_routes(self, calls: list[m.Call], streams: list[m.CallStream], registrations: list[m.Registration],
                      requests: list[m.StandaloneRequest], links: list[m.Link]) -> None:
        """Every call, REGISTER and request has a chain of links both ways."""
        graph: dict[str, set[str]] = {name: set() for name in self.nodes}
        for link in links:
            graph.setdefault(link.a, set()).add(link.b)
            if link.bidirectional:
                graph.setdefault(link.b, set()).add(link.a)

        def reach(a: str, b: str) -> bool:
            """True if links lead from ``a`` to ``b`` (breadth-first)."""
            seen, todo = {a}, deque([a])
            while todo:
                here = todo.popleft()
                if here == b:
                    return True
                for nxt in graph.get(here, ()):
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
            return False

        def check(a: str, target: str, span: m.Span, what: str) -> None:
            """Record a problem unless ``a`` and the node behind ``target`` reach each other."""
            b = self._resolve_target(target)
            if b is None:
                self.error(span, f"no node serves `{target}`: give a proxy `domain ...` or a node that `host`")
                return
            if not (reach(a, b) and reach(b, a)):
                self.error(span, f"no route between `{a}` and `{b}` for {what}: no chain of links joins them "
                           "both ways")

        for call in calls:
            check(call.caller, call.callee, call.span, "this call")
        for stream in streams:
            for caller in stream.callers.members:
                for callee in stream.callees.members:
                    if caller != callee:
                        check(caller, callee, stream.span, "this call stream")
        for reg in registrations:
            registrar = reg.registrar or self._registrar_for(reg.ua)
            if registrar is not None:
                check(reg.ua, registrar, reg.span, "this REGISTER")
        for req in requests:
            check(req.source, req.target, req.span, "this request")

    def _resolve_target(self, target: str) -> str | None:
        """The node a name or URI leads to (a domain leads to the proxy serving it)."""
        if target in self.nodes:
            return target
        match = re.match(r"sips?:(?:[^@]*@)?([^:;>?]+)", target)
        if match is None:
            return None
        host = match.group(1)
        for name, node in self.nodes.items():
            if node.host_name == host:
                return name
        for name, node in self.nodes.items():
            if host in getattr(node, "domains", ()):
                return name
        for name, node in self.nodes.items():
            if isinstance(node, m.UserAgent) and node.domain == host:
                return name
        return None

    def _registrar_for(self, ua: str) -> str | None:
        """The registrar serving a UA's domain, or the only registrar."""
        node = self.nodes.get(ua)
        registrars = [n for n in self.nodes.values() if isinstance(n, m.Proxy) and n.registrar]
        if isinstance(node, m.UserAgent):
            domain = node.domain or node.host_name
            for reg in registrars:
                if domain in reg.domains:
                    return reg.name
        return registrars[0].name if registrars else None


_KIND_NAMES = {m.UserAgent: "ua", m.Proxy: "proxy", m.RedirectServer: "redirect", m.B2BUA: "b2bua"}


def _label(kind: str) -> str:
    """The keyword of a header statement, for messages."""
    return {"max-events": "max events", "stop": "stop at"}.get(kind, kind)


def build(stmts: list[Stmt], file: str, lines: list[str], overrides: Mapping[str, Any] | None) -> tuple[m.Scenario | None, list[Problem]]:
    """Build the model from statements; returns (scenario or None, problems)."""
    builder = Builder(file, lines, overrides)
    try:
        scenario = builder.build(stmts)
    except Bad:
        scenario = None
    return scenario, builder.problems


def _is_ipv4(text: str) -> bool:
    """True if ``text`` is a dotted-quad IPv4 address (each number 0-255)."""
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True
