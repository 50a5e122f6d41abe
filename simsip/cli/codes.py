"""``simsip codes``: look up SIP response codes and methods, a teaching aid.

    simsip codes              every registered response code
    simsip codes 503          one code: reason, class, provisional/final, RFC
    simsip codes 1xx | 18x    a class, or the codes matching a pattern (x = any digit)
    simsip codes client-error a class by name ("Client Error" also works)
    simsip codes provisional  1xx; ``final`` lists 2xx-6xx
    simsip codes PRACK        one method and its RFC; ``--methods`` lists them all
"""

from __future__ import annotations

import re

import click

from simsip.cli import fail, main
from simsip.sip.codes import CLASSES, CODES, METHODS, ResponseCode

_PATTERN_RE = re.compile(r"[1-6][0-9xX]{2}")
# "client-error", "Client Error", "client_error", "ClientError" -> first digit
_CLASS_BY_NAME = {re.sub(r"[^a-z]", "", name.lower()): digit for digit, name in CLASSES.items()}


def _class_label(code: int) -> str:
    """``Server Error (5xx)``."""
    return f"{CLASSES[code // 100]} ({code // 100}xx)"


def _select(query: str) -> list[ResponseCode]:
    """The registered codes a query names, or raise the CLI's one-line error."""
    if query.isdigit():
        code = int(query)
        if code in CODES:
            return [CODES[code]]
        if len(query) == 3 and code // 100 in CLASSES:
            raise fail(f"{code} is not a registered SIP response code (it would be treated as {code // 100}00, {_class_label(code)})")
        raise fail(f"{query!r} is not a SIP response code (100-699)")
    if _PATTERN_RE.fullmatch(query):
        pattern = re.compile(query.lower().replace("x", "[0-9]"))
        found = [c for c in CODES.values() if pattern.fullmatch(str(c.code))]
        if not found:
            raise fail(f"no registered SIP response code matches {query}")
        return found
    key = re.sub(r"[^a-z]", "", query.lower())
    if key in _CLASS_BY_NAME:
        digit = _CLASS_BY_NAME[key]
        return [c for c in CODES.values() if c.code // 100 == digit]
    if key == "provisional":
        return [c for c in CODES.values() if c.provisional]
    if key == "final":
        return [c for c in CODES.values() if not c.provisional]
    known = ", ".join(n.lower().replace(" ", "-") for n in CLASSES.values())
    raise fail(f"unknown code, class or method {query!r} (try 503, 4xx, 18x, {known}, provisional, final, PRACK)")


def _table(rows: list[tuple[str, ...]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _rfc(entry: ResponseCode) -> str:
    """``RFC 3261 §21.5.4`` or ``RFC 6228``."""
    return f"{entry.rfc} §{entry.section}" if entry.section else entry.rfc


@main.command("codes")
@click.argument("query", required=False)
@click.option("--methods", "show_methods", is_flag=True, help="List the SIP methods and their RFCs.")
def codes_command(query: str | None, show_methods: bool) -> None:
    """Look up SIP response codes: CODE (503), CLASS (5xx, server-error), pattern (18x) or METHOD."""
    if show_methods:
        if query is not None:
            raise fail("--methods takes no CODE or CLASS")
        rows = [("method", "RFC", "purpose")] + [(m.name, m.rfc, m.purpose) for m in METHODS.values()]
        click.echo(_table(rows))
        return
    if query is not None and query.upper() in METHODS:
        m = METHODS[query.upper()]
        click.echo(f"{m.name}\n  RFC:     {m.rfc}\n  purpose: {m.purpose}")
        return
    entries = list(CODES.values()) if query is None else _select(query.strip())
    if len(entries) == 1 and query is not None and query.strip().isdigit():
        c = entries[0]
        lines = [
            f"{c.code} {c.reason}",
            f"  class: {_class_label(c.code)}",
            f"  kind:  {c.kind}",
            f"  RFC:   {_rfc(c)}",
        ]
        if c.note:
            lines.append(f"  note:  {c.note}")
        click.echo("\n".join(lines))
        return
    rows = [("code", "reason", "class", "kind", "RFC")]
    rows += [(str(c.code), c.reason, c.class_name, c.kind, c.rfc) for c in entries]
    click.echo(_table(rows))
