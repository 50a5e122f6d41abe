"""Ladder (sequence) diagrams of one run: terminal text, SVG, Mermaid and HTML.

A column per node, a row per transmission (time, arrow, label), read from the
trace through :mod:`simsip.viz.flow`. Retransmissions carry their number and
timer ("INVITE (retx 2, Timer A)") and are drawn with ``=`` (dashed in SVG);
lost messages end in an ``X`` at the link that dropped them; timer firings,
state changes and application events are optional side notes.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from rich.text import Text

from simsip.viz.flow import Flow, Note, Transmission, build_flow, link_ends, only_run

FORMATS = ("text", "svg", "mermaid", "html")

# Text layout: characters between two lifelines, and the smallest gap allowed.
TEXT_GAP = 14
TIME_WIDTH = 9

# Colours (rich styles for the terminal, CSS colours for SVG/HTML).
STYLE_REQUEST = "bold cyan"
STYLE_1XX = "yellow"
STYLE_2XX = "green"
STYLE_ERROR = "red"
STYLE_RETX = "magenta"
STYLE_LOST = "bold red"
STYLE_NOTE = "dim"
CSS_REQUEST = "#1f4e9c"
CSS_1XX = "#9a6b00"
CSS_2XX = "#1b7a2e"
CSS_ERROR = "#b3261e"
CSS_LOST = "#d0021b"
CSS_NOTE = "#666666"


@dataclass(frozen=True, slots=True)
class LadderOptions:
    """What a ladder shows: side notes, CSeq/Call-ID details, a title."""

    notes: bool = False
    details: bool = False
    title: str | None = None


def _message_class(tx: Transmission) -> int:
    """Colour class of a message: 0 request, 1 provisional, 2 success, 3 3xx-6xx."""
    status = tx.status
    if status is None:
        return 0
    if status < 200:
        return 1
    if status < 300:
        return 2
    return 3


def _style_for(tx: Transmission) -> str:
    """Terminal style of a transmission: by request/response class, lost in red."""
    if tx.dropped:
        return STYLE_LOST
    if tx.retransmission:
        return STYLE_RETX
    return (STYLE_REQUEST, STYLE_1XX, STYLE_2XX, STYLE_ERROR)[_message_class(tx)]


def _css_for(tx: Transmission) -> str:
    """SVG colour of a transmission, by request/response class; lost in red."""
    if tx.dropped:
        return CSS_LOST
    return (CSS_REQUEST, CSS_1XX, CSS_2XX, CSS_ERROR)[_message_class(tx)]


def _drop_fraction(tx: Transmission, nodes: Sequence[str]) -> float:
    """Where, in column units, the X of a lost message sits: the middle of its link.

    A link whose ends are not neighbouring columns (proxy-bob2 across bob's
    lifeline) would put the X on a third node's lifeline; it moves a quarter
    column towards the receiving end so it never reads as "lost at bob".
    """
    col = {n: i for i, n in enumerate(nodes)}
    src, dst = col.get(tx.src, 0), col.get(tx.dst, 0)
    step = 1 if dst >= src else -1
    mid = (src + dst) / 2.0
    ends = link_ends(tx.link, nodes)
    if ends is not None:
        a, b = col[ends[0]], col[ends[1]]
        lo, hi = min(src, dst), max(src, dst)
        # A link outside the message's path (unusual routing): keep X on the path.
        if lo <= (a + b) / 2.0 <= hi and (a + b) / 2.0 != src:
            mid = (a + b) / 2.0
    if mid == int(mid) and int(mid) not in (src, dst):
        mid += 0.25 * step
    return mid


class Ladder:
    """A ladder diagram of one run, renderable as text, SVG, Mermaid or HTML (and in Jupyter)."""

    def __init__(
        self,
        events: Iterable[Any],
        nodes: Sequence[str] | None = None,
        run: int | None = None,
        t_from: float | None = None,
        t_to: float | None = None,
        call_id: str | None = None,
        notes: bool = False,
        details: bool = False,
        title: str | None = None,
    ) -> None:
        """Build the ladder of ``run`` (None: all events given) within the window and call."""
        events = list(events)
        self.run = run = only_run(events, run)
        self.flow: Flow = build_flow(
            events, nodes=nodes, run=run, t_from=t_from, t_to=t_to, call_id=call_id
        )
        self.options = LadderOptions(notes=notes, details=details, title=title)
        shown = {row.call_id for row in self.flow.rows(notes=True) if row.call_id}
        # Several calls in one picture: tag each row with a short call number, counted over the
        # whole run (not the window), so a label is the one `--call cN` selects.
        self._call_no = ({cid: i + 1 for i, cid in enumerate(self.flow.calls) if cid in shown}
                         if len(shown) > 1 else {})

    def call_labels(self) -> dict[str, str]:
        """The labels rows are tagged with when several calls share the picture: ``{"c1": call_id, ...}``."""
        return {f"c{number}": call_id for call_id, number in self._call_no.items()}

    @classmethod
    def from_result(cls, result: Any, run: int = 0, **kwargs: Any) -> "Ladder":
        """The ladder of one run of a ``simsip.run(..., trace="full")`` result, nodes in scenario order."""
        if not result.trace:
            raise ValueError("the result has no trace; run with trace='full'")
        nodes = [node.name for node in getattr(result.scenario, "nodes", ())]
        kwargs.setdefault("title", f"{getattr(result.scenario, 'name', '') or 'simsip'}: run {run}")
        return cls(result.trace, nodes=nodes, run=run, **kwargs)

    # ------------------------------------------------------------------ labels
    def _right_label(self, row: Transmission | Note) -> str:
        """The words printed to the right of a row."""
        tag = f"[c{self._call_no[row.call_id]}] " if row.call_id in self._call_no else ""
        if isinstance(row, Note):
            return f"{tag}{row.node}: {row.text}"
        text = tag + row.label
        if row.dropped:
            text += f"  X {row.fate(self.flow.nodes)}"
        if self.options.details:
            extra = []
            if row.cseq:
                extra.append(f"CSeq {row.cseq}")
            if row.rseq is not None:
                extra.append(f"RSeq {row.rseq}")
            if row.rack:
                extra.append(f"RAck {row.rack}")
            if row.call_id:
                extra.append(f"Call-ID {row.call_id}")
            if extra:
                text += "  (" + ", ".join(extra) + ")"
        return text

    # -------------------------------------------------------------------- text
    def _text_geometry(self) -> tuple[int, list[int]]:
        """Column gap and each lifeline's x position for the text ladder."""
        nodes = self.flow.nodes
        gap = max([TEXT_GAP] + [len(n) + 3 for n in nodes])
        first = TIME_WIDTH + 3 + (len(nodes[0]) // 2 if nodes else 0)
        xs = [first + i * gap for i in range(len(nodes))]
        return gap, xs

    def rich_text(self) -> Text:
        """The text ladder as a rich ``Text`` with colours (for terminals)."""
        nodes = self.flow.nodes
        gap, xs = self._text_geometry()
        width = (xs[-1] + 1) if xs else TIME_WIDTH + 2
        out = Text(no_wrap=True, overflow="ignore")
        title = self.options.title
        if title:
            out.append(title + "\n", style="bold")
        header = [" "] * (width + gap // 2)
        head = "time (s)".rjust(TIME_WIDTH)
        header[: len(head)] = list(head)
        for name, x in zip(nodes, xs):
            start = max(x - len(name) // 2, TIME_WIDTH + 1)
            header[start : start + len(name)] = list(name)
        out.append("".join(header).rstrip() + "\n", style="bold")
        out.append(self._lifelines(width, xs) + "\n")
        col = {n: i for i, n in enumerate(nodes)}
        for row in self.flow.rows(notes=self.options.notes):
            line = list(self._lifelines(width, xs))
            time = f"{row.t:.3f}".rjust(TIME_WIDTH)
            line[: len(time)] = list(time)
            if isinstance(row, Note):
                x = xs[col[row.node]] if row.node in col else None
                if x is not None:
                    line[x] = "*"
                out.append("".join(line))
                out.append("   " + self._right_label(row) + "\n", style=STYLE_NOTE)
                continue
            a, b = col.get(row.src), col.get(row.dst)
            style = _style_for(row)
            if a is None or b is None:
                out.append("".join(line))
                out.append("   " + self._right_label(row) + "\n", style=style)
                continue
            fill = "=" if row.retransmission else "-"
            xa, xb = xs[a], xs[b]
            if row.dropped:
                frac = _drop_fraction(row, nodes)
                xb = xs[0] + int(round(frac * gap))
                if xb == xa:
                    xb = xa + (1 if b > a else -1)
            seg_lo, seg_hi = min(xa, xb), max(xa, xb)
            for x in range(seg_lo + 1, seg_hi):
                line[x] = fill
            if row.dropped:
                line[xb] = "X"
            elif xb > xa:
                line[xb - 1] = ">"
            elif xb < xa:
                line[xb + 1] = "<"
            text = "".join(line)
            # Colour the arrow only, not the lifelines at its ends.
            s_lo = seg_lo if (row.dropped and xb < xa) else seg_lo + 1
            s_hi = seg_hi + 1 if (row.dropped and xb > xa) else seg_hi
            out.append(text[:s_lo])
            out.append(text[s_lo:s_hi], style=style)
            out.append(text[s_hi:])
            out.append("   " + self._right_label(row) + "\n", style=style)
        return out

    @staticmethod
    def _lifelines(width: int, xs: list[int]) -> str:
        """A blank row: a '|' on every node's lifeline."""
        line = [" "] * width
        for x in xs:
            line[x] = "|"
        return "".join(line)

    def text(self) -> str:
        """The text ladder, plain (no colour codes), one row per transmission."""
        return "\n".join(line.rstrip() for line in self.rich_text().plain.split("\n")).rstrip("\n")

    # ----------------------------------------------------------------- mermaid
    def mermaid(self) -> str:
        """A Mermaid ``sequenceDiagram`` (renders on GitHub and in Jupyter)."""
        nodes = self.flow.nodes
        ids = {n: (n if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) else f"n{i}") for i, n in enumerate(nodes)}
        lines = ["sequenceDiagram"]
        if self.options.title:
            lines.append(f"    title {_mermaid_escape(self.options.title)}")
        for n in nodes:
            if ids[n] == n:
                lines.append(f"    participant {n}")
            else:
                lines.append(f"    participant {ids[n]} as {_mermaid_escape(n)}")
        for row in self.flow.rows(notes=self.options.notes):
            if isinstance(row, Note):
                if row.node in ids:
                    lines.append(f"    Note over {ids[row.node]}: {_mermaid_escape(f'{row.t:.3f} {row.text}')}")
                continue
            label = _mermaid_escape(f"{row.t:.3f} {self._right_label(row)}")
            if row.src not in ids or row.dst not in ids:
                continue
            # Solid arrows for requests, dotted for responses; -x / --x for lost ones.
            dotted = "--" if not row.is_request else "-"
            head = "x" if row.dropped else ">>"
            lines.append(f"    {ids[row.src]}{dotted}{head}{ids[row.dst]}: {label}")
        return "\n".join(lines) + "\n"

    # --------------------------------------------------------------------- svg
    def svg(self) -> str:
        """A standalone SVG ladder (no external fonts, scripts or styles)."""
        nodes = self.flow.nodes
        rows = self.flow.rows(notes=self.options.notes)
        char_w = 7.0
        longest = max([len(self._right_label(r)) for r in rows if isinstance(r, Transmission)] + [12])
        gap = max(150.0, min(330.0, longest * char_w + 24))
        left = 70.0
        top = 48.0 + (22.0 if self.options.title else 0.0)
        row_h = 26.0
        xs = [left + gap / 2 + i * gap for i in range(len(nodes))]
        notes_w = max([len(r.text) + len(r.node) + 2 for r in rows if isinstance(r, Note)] + [0]) * 6.2
        width = (xs[-1] + gap / 2 if xs else left + gap) + notes_w
        height = top + row_h * (len(rows) + 1) + 10
        col = {n: i for i, n in enumerate(nodes)}
        e = html.escape
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace" font-size="12">',
            "<defs>",
            # One arrowhead per colour (context-stroke is not supported everywhere).
            *(
                f'<marker id="ah{css[1:]}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
                f'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{css}"/></marker>'
                for css in (CSS_REQUEST, CSS_1XX, CSS_2XX, CSS_ERROR, CSS_LOST)
            ),
            "</defs>",
            f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="white"/>',
        ]
        if self.options.title:
            out.append(f'<text x="10" y="20" font-size="14" font-weight="bold">{e(self.options.title)}</text>')
        head_y = top - 22
        out.append(f'<text x="{left - 10:.0f}" y="{head_y:.0f}" text-anchor="end" fill="{CSS_NOTE}">time (s)</text>')
        for n, x in zip(nodes, xs):
            out.append(f'<text x="{x:.1f}" y="{head_y:.0f}" text-anchor="middle" font-weight="bold">{e(n)}</text>')
            out.append(
                f'<line x1="{x:.1f}" y1="{top - 12:.0f}" x2="{x:.1f}" y2="{height - 10:.0f}" '
                'stroke="#999" stroke-width="1"/>'
            )
        for i, row in enumerate(rows):
            y = top + row_h * (i + 1)
            out.append(f'<text x="{left - 10:.0f}" y="{y + 4:.1f}" text-anchor="end" fill="{CSS_NOTE}">{row.t:.3f}</text>')
            label = e(self._right_label(row))
            if isinstance(row, Note):
                if row.node not in col:
                    continue
                x = xs[col[row.node]]
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{CSS_NOTE}"/>')
                out.append(
                    f'<text x="{x + 8:.1f}" y="{y + 4:.1f}" fill="{CSS_NOTE}" font-style="italic">{label}</text>'
                )
                continue
            if row.src not in col or row.dst not in col:
                continue
            colour = _css_for(row)
            xa, xb = xs[col[row.src]], xs[col[row.dst]]
            dash = ' stroke-dasharray="6,3"' if row.retransmission else ""
            tip = [f"{row.src} -> {row.dst} at {row.t:.3f} s"]
            if row.cseq:
                tip.append(f"CSeq: {row.cseq}")
            if row.call_id:
                tip.append(f"Call-ID: {row.call_id}")
            if row.arrived_at is not None:
                tip.append(f"arrived at {row.arrived_at:.3f} s")
            out.append(f"<g><title>{e(chr(10).join(tip))}</title>")
            if row.dropped:
                xd = xs[0] + _drop_fraction(row, nodes) * gap
                out.append(
                    f'<line x1="{xa:.1f}" y1="{y:.1f}" x2="{xd:.1f}" y2="{y:.1f}" stroke="{colour}" '
                    f'stroke-width="1.5"{dash}/>'
                )
                out.append(
                    f'<path d="M{xd - 5:.1f},{y - 5:.1f} L{xd + 5:.1f},{y + 5:.1f} M{xd - 5:.1f},{y + 5:.1f} '
                    f'L{xd + 5:.1f},{y - 5:.1f}" stroke="{colour}" stroke-width="2"/>'
                )
            else:
                out.append(
                    f'<line x1="{xa:.1f}" y1="{y:.1f}" x2="{xb:.1f}" y2="{y:.1f}" stroke="{colour}" '
                    f'stroke-width="1.5"{dash} marker-end="url(#ah{colour[1:]})"/>'
                )
            lx = min(xa, xb) + 6
            out.append(f'<text x="{lx:.1f}" y="{y - 4:.1f}" fill="{colour}" stroke="white" stroke-width="3" '
                       f'paint-order="stroke">{label}</text>')
            out.append("</g>")
        out.append("</svg>")
        return "\n".join(out) + "\n"

    # -------------------------------------------------------------------- html
    def html(self) -> str:
        """A standalone HTML page: the SVG ladder and a table of every transmission."""
        e = html.escape
        title = self.options.title or "simsip ladder"
        rows = []
        for tx in self.flow.transmissions:
            fate = (
                tx.fate(self.flow.nodes) if tx.dropped else (f"arrived {tx.arrived_at:.3f} s" if tx.arrived_at is not None else "")
            )
            rows.append(
                "<tr>"
                + "".join(
                    f"<td>{e(str(v))}</td>"
                    for v in (f"{tx.t:.3f}", tx.src, tx.dst, tx.label, tx.cseq or "", tx.call_id or "", fate)
                )
                + "</tr>"
            )
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{e(title)}</title>\n"
            "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;font-family:monospace}"
            "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}</style>\n"
            f"</head>\n<body>\n<h1>{e(title)}</h1>\n"
            + self.svg()
            + "<table>\n<tr><th>time (s)</th><th>from</th><th>to</th><th>message</th><th>CSeq</th>"
            "<th>Call-ID</th><th>fate</th></tr>\n"
            + "\n".join(rows)
            + "\n</table>\n</body>\n</html>\n"
        )

    def render(self, fmt: str) -> str:
        """Render in one of :data:`FORMATS`."""
        if fmt == "text":
            return self.text() + "\n"
        if fmt == "svg":
            return self.svg()
        if fmt == "mermaid":
            return self.mermaid()
        if fmt == "html":
            return self.html()
        raise ValueError(f"unknown ladder format {fmt!r} (choose from {', '.join(FORMATS)})")

    # ----------------------------------------------------------------- jupyter
    def _repr_svg_(self) -> str:
        """Jupyter: show the ladder inline as SVG."""
        return self.svg()

    def _repr_html_(self) -> str:
        """Jupyter: show the ladder inline (the SVG inside a scrolling div)."""
        return f'<div style="overflow:auto">{self.svg()}</div>'

    def __str__(self) -> str:
        """The plain text ladder."""
        return self.text()


def _mermaid_escape(text: str) -> str:
    """Make text safe inside a Mermaid message or note (';' and '#' are syntax there)."""
    return text.replace("#", "#35;").replace(";", "#59;").replace("\n", " ")

