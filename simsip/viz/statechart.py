"""Statecharts of the SIP machines, drawn from the cores' own transition tables.

Nothing here lists a state or a transition: the tables are imported from
:mod:`simsip.sip.transaction` (the four transaction machines, RFC 3261
Figures 5-8 as updated by RFC 6026), :mod:`simsip.sip.dialog` (RFC 5407
dialog states) and :mod:`simsip.sip.ua` (the RFC 3262 reliable-provisional
machine, when the UA core exposes a table for it), so the pictures cannot
drift from the code. Two renderings: a Mermaid ``stateDiagram-v2`` and a
self-contained SVG (layered layout computed here; no Graphviz).
"""

from __future__ import annotations

import enum
import html
import importlib
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Mapping

__all__ = ["Machine", "Statechart", "machines", "mermaid_statechart", "svg_statechart"]


@dataclass(frozen=True)
class Machine:
    """One state machine: its table, initial state and the RFC text it follows."""

    name: str
    table: Mapping[tuple[enum.Enum, enum.Enum], enum.Enum]
    initial: enum.Enum
    source: str

    @property
    def states(self) -> list[enum.Enum]:
        """Every state, in the order its enum declares them."""
        state_type = type(self.initial)
        return list(state_type)

    def edges(self) -> dict[tuple[enum.Enum, enum.Enum], list[str]]:
        """(from, to) -> the events taking it, in table order."""
        out: dict[tuple[enum.Enum, enum.Enum], list[str]] = defaultdict(list)
        for (state, event), new in self.table.items():
            out[(state, new)].append(str(event.value))
        return dict(out)

    def final_states(self) -> list[enum.Enum]:
        """States with no way out (the machine ends there)."""
        leaving = {state for (state, _event), new in self.table.items() if new is not state}
        return [s for s in self.states if s not in leaving and s is not self.initial]


# RFC sources of each transaction machine (the figure the table follows).
_TRANSACTION_SOURCES = {
    "INVITE client": "RFC 3261 §17.1.1, Figure 5; RFC 6026 §7.2",
    "non-INVITE client": "RFC 3261 §17.1.2, Figure 6",
    "INVITE server": "RFC 3261 §17.2.1, Figure 7; RFC 6026 §7.1",
    "non-INVITE server": "RFC 3261 §17.2.2, Figure 8",
}


def machines() -> dict[str, Machine]:
    """Every machine the cores publish a transition table for, by name."""
    from simsip.sip import transaction

    out: dict[str, Machine] = {}
    for name, table in transaction.MACHINES.items():
        out[name] = Machine(name, table, transaction.INITIAL_STATES[name], _TRANSACTION_SOURCES.get(name, "RFC 3261 §17"))
    try:
        from simsip.sip import dialog
    except ImportError:  # the dialog layer is optional for the pictures
        dialog = None  # type: ignore[assignment]
    if dialog is not None and hasattr(dialog, "DIALOG_TRANSITIONS"):
        first = next(iter(dialog.DialogState))
        out["dialog"] = Machine("dialog", dialog.DIALOG_TRANSITIONS, first, "RFC 3261 §12; RFC 5407 §2")
    # The RFC 3262 reliable-provisional machine, once the UA core publishes its table.
    try:
        ua = importlib.import_module("simsip.sip.ua")
    except ImportError:
        ua = None
    if ua is not None:
        for attr in sorted(dir(ua)):
            if attr.endswith("_TRANSITIONS") and ("RELIABLE" in attr or "PRACK" in attr or "1XX" in attr):
                table = getattr(ua, attr)
                initial_attr = attr.replace("_TRANSITIONS", "_INITIAL")
                if table and hasattr(ua, initial_attr):
                    initial = getattr(ua, initial_attr)
                else:
                    initial = next(iter(table))[0]
                out["reliable provisional"] = Machine("reliable provisional", table, initial, "RFC 3262 §3, §4")
    return out


def _machine(name: str) -> Machine:
    """Look a machine up by name; a clear error lists the known ones."""
    known = machines()
    if name not in known:
        raise ValueError(f"no machine {name!r}; known: {', '.join(known)}")
    return known[name]


def _sid(state: enum.Enum) -> str:
    """A Mermaid state id (letters only)."""
    return "".join(ch for ch in str(state.value).title() if ch.isalnum())


def mermaid_statechart(name: str) -> str:
    """A Mermaid ``stateDiagram-v2`` of one machine (renders on GitHub and in Jupyter)."""
    m = _machine(name)
    lines = ["stateDiagram-v2", f"    %% {m.name}: {m.source} (drawn from the code's transition table)"]
    for state in m.states:
        if _sid(state) != state.value:
            lines.append(f"    state \"{state.value}\" as {_sid(state)}")
    lines.append(f"    [*] --> {_sid(m.initial)}")
    for (src, dst), events in m.edges().items():
        label = ", ".join(events).replace(":", " ").replace(";", ",")
        lines.append(f"    {_sid(src)} --> {_sid(dst)}: {label}")
    for state in m.final_states():
        lines.append(f"    {_sid(state)} --> [*]")
    return "\n".join(lines) + "\n"


def _layers(m: Machine) -> list[list[enum.Enum]]:
    """States by shortest distance from the initial state (unreachable ones last)."""
    depth = {m.initial: 0}
    queue = deque([m.initial])
    edges = m.edges()
    while queue:
        s = queue.popleft()
        for (a, b) in edges:
            if a is s and b not in depth:
                depth[b] = depth[s] + 1
                queue.append(b)
    last = max(depth.values(), default=0)
    for s in m.states:
        depth.setdefault(s, last + 1)
    layers: list[list[enum.Enum]] = [[] for _ in range(max(depth.values()) + 1)]
    for s in m.states:  # enum order inside a layer
        layers[depth[s]].append(s)
    return [layer for layer in layers if layer]


def svg_statechart(name: str) -> str:
    """A standalone SVG statechart of one machine: layered boxes, labelled arrows, self-loops."""
    m = _machine(name)
    e = html.escape
    box_w, box_h, col_gap, row_gap = 130.0, 40.0, 120.0, 130.0
    layers = _layers(m)
    widest = max(len(layer) for layer in layers)
    width = max(widest * (box_w + col_gap) + 120.0, 640.0)
    pos: dict[enum.Enum, tuple[float, float]] = {}
    for row, layer in enumerate(layers):
        span = len(layer) * box_w + (len(layer) - 1) * col_gap
        x0 = (width - span) / 2.0
        for i, state in enumerate(layer):
            pos[state] = (x0 + i * (box_w + col_gap) + box_w / 2.0, 130.0 + row * row_gap)
    height = 130.0 + (len(layers) - 1) * row_gap + 90.0
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="11">',
        '<defs><marker id="sa" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker></defs>',
        f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="white"/>',
        f'<text x="12" y="22" font-size="14" font-weight="bold">{e(m.name)} transaction</text>'
        if m.name in _TRANSACTION_SOURCES else f'<text x="12" y="22" font-size="14" font-weight="bold">{e(m.name)}</text>',
        f'<text x="12" y="40" fill="#555">{e(m.source)} — drawn from the transition table in the code</text>',
    ]
    ix, iy = pos[m.initial]
    out.append(f'<circle cx="{ix - box_w / 2 - 30:.1f}" cy="{iy:.1f}" r="6" fill="#333"/>')
    out.append(f'<line x1="{ix - box_w / 2 - 24:.1f}" y1="{iy:.1f}" x2="{ix - box_w / 2:.1f}" y2="{iy:.1f}" '
               'stroke="#333" marker-end="url(#sa)"/>')
    labels: list[tuple[float, float, str]] = []
    # Edges leaving one state put their labels at staggered distances so they do not collide.
    leaving: dict[enum.Enum, int] = defaultdict(int)
    for (src, dst), events in m.edges().items():
        label = e(", ".join(events))
        x1, y1 = pos[src]
        x2, y2 = pos[dst]
        if src is dst:
            # A self-loop over the box, its events stacked above it (two per line).
            top = y1 - box_h / 2
            out.append(f'<path d="M{x1 - 18:.1f},{top:.1f} C{x1 - 34:.1f},{top - 34:.1f} {x1 + 34:.1f},{top - 34:.1f} '
                       f'{x1 + 18:.1f},{top:.1f}" fill="none" stroke="#333" marker-end="url(#sa)"/>')
            chunks = [", ".join(events[i:i + 2]) for i in range(0, len(events), 2)]
            for k, chunk in enumerate(reversed(chunks)):
                out.append(f'<text x="{x1:.1f}" y="{top - 32 - 12 * k:.1f}" text-anchor="middle" '
                           f'fill="#1f4e9c">{e(chunk)}</text>')
            continue
        along = (0.3, 0.62, 0.46)[leaving[src] % 3]
        leaving[src] += 1
        # Leave and enter through the box edges facing each other.
        sx, sy = _border(x1, y1, x2, y2, box_w, box_h)
        tx, ty = _border(x2, y2, x1, y1, box_w, box_h)
        others = [p for st, p in pos.items() if st is not src and st is not dst]
        backward = y2 < y1 or (y2 == y1 and x2 < x1)
        bend = 0.0
        if backward:
            bend = -60.0  # backward edges bend so they do not hide forward ones
        elif any(_hits_box(sx, sy, tx, ty, ox, oy, box_w, box_h) for ox, oy in others):
            # A straight line would cross another state: bend around it.
            for cand in (70.0, -70.0, 140.0, -140.0):
                cx, cy = _control(sx, sy, tx, ty, cand)
                if not any(_hits_box(sx, sy, cx, cy, ox, oy, box_w, box_h)
                           or _hits_box(cx, cy, tx, ty, ox, oy, box_w, box_h) for ox, oy in others):
                    bend = cand
                    break
        if bend:
            cx, cy = _control(sx, sy, tx, ty, bend)
            out.append(f'<path d="M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {tx:.1f},{ty:.1f}" fill="none" '
                       'stroke="#333" marker-end="url(#sa)"/>')
            # Labels sit a third of the way along, clear of the target's self-loop label.
            t = along
            lx = (1 - t) ** 2 * sx + 2 * (1 - t) * t * cx + t * t * tx
            ly = (1 - t) ** 2 * sy + 2 * (1 - t) * t * cy + t * t * ty
        else:
            out.append(f'<line x1="{sx:.1f}" y1="{sy:.1f}" x2="{tx:.1f}" y2="{ty:.1f}" stroke="#333" '
                       'marker-end="url(#sa)"/>')
            lx, ly = sx + (tx - sx) * along, sy + (ty - sy) * along + 4
        labels.append((lx, ly, label))
    # Labels last, on a white ground, so crossing lines never hide them.
    for lx, ly, label in labels:
        w = 6.2 * len(html.unescape(label)) + 6
        out.append(f'<rect x="{lx - w / 2:.1f}" y="{ly - 10:.1f}" width="{w:.1f}" height="14" fill="white" '
                   'fill-opacity="0.85"/>')
        out.append(f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="middle" fill="#1f4e9c">{label}</text>')
    finals = set(m.final_states())
    for state, (x, y) in pos.items():
        stroke = ' stroke-width="2.5"' if state in finals else ""
        out.append(f'<rect x="{x - box_w / 2:.1f}" y="{y - box_h / 2:.1f}" width="{box_w:.0f}" height="{box_h:.0f}" '
                   f'rx="10" fill="#eef3fb" stroke="#1f4e9c"{stroke}/>')
        out.append(f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-size="13">{e(str(state.value))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _border(x: float, y: float, ox: float, oy: float, w: float, h: float) -> tuple[float, float]:
    """Where the line from box centre (x, y) towards (ox, oy) leaves the box."""
    dx, dy = ox - x, oy - y
    if dx == 0 and dy == 0:
        return x, y
    sx = (w / 2) / abs(dx) if dx else float("inf")
    sy = (h / 2) / abs(dy) if dy else float("inf")
    s = min(sx, sy)
    return x + dx * s, y + dy * s


def _control(sx: float, sy: float, tx: float, ty: float, bend: float) -> tuple[float, float]:
    """Control point of a quadratic curve bent ``bend`` px off the straight line's middle."""
    dx, dy = tx - sx, ty - sy
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    return (sx + tx) / 2 - dy / length * bend, (sy + ty) / 2 + dx / length * bend


def _hits_box(ax: float, ay: float, bx: float, by: float, cx: float, cy: float, w: float, h: float) -> bool:
    """True if the segment a-b passes through the box centred on (cx, cy) (sampled)."""
    for i in range(1, 40):
        t = i / 40
        x, y = ax + (bx - ax) * t, ay + (by - ay) * t
        if abs(x - cx) < w / 2 + 4 and abs(y - cy) < h / 2 + 4:
            return True
    return False


class Statechart:
    """One machine's picture for notebooks: ``Statechart("INVITE client")`` shows inline."""

    def __init__(self, name: str) -> None:
        """Name one of :func:`machines` (a ValueError lists them otherwise)."""
        _machine(name)
        self.name = name

    def mermaid(self) -> str:
        """The Mermaid ``stateDiagram-v2`` text."""
        return mermaid_statechart(self.name)

    def svg(self) -> str:
        """The standalone SVG."""
        return svg_statechart(self.name)

    def _repr_svg_(self) -> str:
        """Jupyter: show the statechart inline."""
        return self.svg()
