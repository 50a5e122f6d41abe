"""The surface-neutral statement list both surfaces produce before building the model.

The `.sip` parser and the YAML reader each turn their text into a list of
:class:`Stmt` whose values are :class:`Tok`, :class:`Func` or :class:`Lst`
with source spans; :mod:`simsip.scenario.build` alone interprets them
(units, params, names), so both surfaces get the same validation and the same
messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

from simsip.scenario.model import Span


@dataclass(frozen=True)
class Tok:
    """One token: ``kind`` is num, ref, str, word, uri, pattern, op or flag."""

    kind: str
    """num (``50ms``, ``100rel``), ref (``$x``), str (quoted), word (a name), uri, pattern (glob), op, flag."""
    text: str
    """The text (strings unquoted and unescaped; refs without ``$``)."""
    span: Span


@dataclass(frozen=True)
class Func:
    """``name(arg, key=arg)``: a distribution or loss model."""

    name: Tok
    args: tuple[tuple[Tok | None, "Raw"], ...]
    span: Span


@dataclass(frozen=True)
class Lst:
    """A list of values (``alice, carol`` or YAML ``[a, b]``)."""

    items: tuple["Raw", ...]
    span: Span


Raw = Union[Tok, Func, Lst]
"""A raw value."""


@dataclass
class Stmt:
    """One statement (or handler action): its kind, fixed parts and options."""

    kind: str
    """The statement keyword (``ua``, ``link``, ``on``, ``send``, ...)."""
    span: Span
    """Where the statement starts."""
    head: dict[str, object] = field(default_factory=dict)
    """Fixed parts by name (``name``, ``a``, ``b``, ``event``, ``actions``...)."""
    opts: list[tuple[Tok, object]] = field(default_factory=list)
    """Options in order: (keyword token, value or True for a flag)."""


# Scalar classification shared by the YAML reader (the `.sip` lexer uses the
# same patterns in grammar.lark).
QUANTITY_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:%|/[A-Za-z]+|[A-Za-z][A-Za-z0-9]*(?:/[A-Za-z]+)?)?")
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:[.\-][A-Za-z0-9_]+)*")
PARAM_RE = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")
URI_RE = re.compile(r"sips?:[^\s,\[\]#;\"()]+")
PATTERN_RE = re.compile(r"[A-Za-z0-9_.\-]*\*[A-Za-z0-9_.\-*]*")
HOST_NUMBER_RE = re.compile(r"[0-9][A-Za-z0-9\-]*(?:\.[A-Za-z0-9\-]+)*")


def classify(text: str, span: Span) -> Tok | None:
    """The token a whole scalar text is, or None if it is not a single token."""
    if QUANTITY_RE.fullmatch(text):
        return Tok("num", text, span)
    if PARAM_RE.fullmatch(text):
        return Tok("ref", text[1:], span)
    if URI_RE.fullmatch(text):
        return Tok("uri", text, span)
    if NAME_RE.fullmatch(text):
        return Tok("word", text, span)
    if PATTERN_RE.fullmatch(text):
        return Tok("pattern", text, span)
    return None


def describe(value: object) -> str:
    """How a raw value is shown in an error message (```50ms```)."""
    if isinstance(value, Tok):
        return "$" + value.text if value.kind == "ref" else value.text
    if isinstance(value, Func):
        return value.name.text + "(...)"
    if isinstance(value, Lst):
        return ", ".join(describe(v) for v in value.items)
    if value is True:
        return "true"
    return str(value)


def span_of(value: object, default: Span) -> Span:
    """The span of a raw value, or ``default``."""
    span = getattr(value, "span", None)
    return span if isinstance(span, Span) else default
