"""One run's trace as a call flow: transmissions (send paired with its fate) and side notes.

The ladder diagrams, the pcapng export and the explanations all read the trace
through this module, so they agree on what was sent, what arrived and what was
lost. The trace itself (``simsip.metrics.trace.TraceEvent``) has one event per
``send``, ``recv``, ``drop``, ``timer``, ``state`` and ``app``; a transmission
is a ``send`` matched with the ``recv`` or ``drop`` of the same message.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from simsip.net.network import RANDOM_LOSS

# Trace event kinds (TEAM.md "Trace events").
SEND = "send"
# How far outside a --from/--to bound a time may be and still count as on it (float sums, in s).
WINDOW_SLACK = 1e-9
RECV = "recv"
DROP = "drop"
TIMER = "timer"
STATE = "state"
APP = "app"
NOTE_EVENTS = (TIMER, STATE, APP)


@dataclass(slots=True)
class Transmission:
    """One message handed to the network by ``src`` for ``dst``, and what became of it."""

    index: int
    t: float
    src: str
    dst: str
    message: str
    call_id: str | None
    cseq: str | None
    rseq: int | None
    rack: str | None
    retransmission: int
    timer: str | None
    transport: str | None
    msg: Any = None
    arrived_at: float | None = None
    event: Any = None
    pos: int = 0
    # Every (time, link, detail) at which a hop lost it: one for UDP; over TCP a
    # segment may be lost and sent again by TCP before it finally arrives.
    losses: list[tuple[float, str | None, str | None]] = field(default_factory=list)
    duplicates: int = 0

    @property
    def dropped(self) -> bool:
        """True when the message never arrived because a link lost it."""
        return self.arrived_at is None and bool(self.losses)

    @property
    def dropped_at(self) -> float | None:
        """When the (last) loss happened, for a message that never arrived."""
        return self.losses[-1][0] if self.dropped else None

    @property
    def link(self) -> str | None:
        """The link that lost a message that never arrived."""
        return self.losses[-1][1] if self.dropped else None

    @property
    def loss_reason(self) -> str | None:
        """Why the network lost it (the drop event's detail), for a message that never arrived."""
        return self.losses[-1][2] if self.dropped else None

    def fate(self, nodes: Sequence[str] = ()) -> str:
        """Where it was lost: "lost on edge-bob", "lost on a-b (node down)", "lost (no route)"; "" when it arrived."""
        if not self.dropped:
            return ""
        link = self.link
        if link and (not nodes or link_ends(link, nodes) is not None):
            # A fault (link or node down) is said: the link's random loss is not what happened.
            why = self.loss_reason
            return f"lost on {link}" if why in (None, RANDOM_LOSS) else f"lost on {link} ({why})"
        why = self.loss_reason or link
        return f"lost ({why})" if why else "lost"

    @property
    def is_request(self) -> bool:
        """True for requests (the label does not start with a status code)."""
        return not self.message[:3].isdigit()

    @property
    def status(self) -> int | None:
        """The status code of a response, None for a request."""
        return None if self.is_request else int(self.message[:3])

    @property
    def method(self) -> str:
        """The request method, or the CSeq method of a response."""
        if self.is_request:
            return self.message.split()[0]
        if self.cseq:
            return self.cseq.split()[-1]
        return ""

    @property
    def label(self) -> str:
        """The arrow's label: "INVITE", "180 Ringing (retx 2, RFC 3262 timer)"."""
        return transmission_label(self.message, self.retransmission, self.timer)


@dataclass(slots=True)
class Note:
    """A side note on one node's lifeline: a timer firing, a state change, an app event."""

    t: float
    node: str
    kind: str
    text: str
    call_id: str | None = None
    timer: str | None = None
    event: Any = None
    pos: int = 0


@dataclass(slots=True)
class Flow:
    """One run's transmissions and notes, in time order, with the nodes in column order."""

    nodes: list[str]
    transmissions: list[Transmission] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    """Every Call-ID of the run in order of first appearance, window or not (what ``c1``, ``c2`` number)."""

    def rows(self, notes: bool = False) -> list[Transmission | Note]:
        """Transmissions (and notes when asked) merged in time order, stable."""
        if not notes:
            return list(self.transmissions)
        rows: list[Transmission | Note] = [*self.transmissions, *self.notes]
        rows.sort(key=lambda r: (r.t, r.pos))
        return rows


def link_ends(link: str | None, nodes: Sequence[str]) -> tuple[str, str] | None:
    """Split a link name "edge-bob" into two known nodes (node names may contain '-')."""
    if not link:
        return None
    known = set(nodes)
    for sep in ("<->", "--", "-", "_"):
        start = 0
        while True:
            i = link.find(sep, start)
            if i < 0:
                break
            a, b = link[:i], link[i + len(sep):]
            if a in known and b in known:
                return a, b
            start = i + 1
    return None


def timer_name(timer: str | None) -> str | None:
    """Human name of a retransmission timer: "A" -> "Timer A", "1xx-rel" -> "RFC 3262 timer"."""
    if not timer:
        return None
    if len(timer) == 1 and timer.isalpha():
        return f"Timer {timer.upper()}"
    if timer.lower().startswith("1xx"):
        return "RFC 3262 timer"
    return f"{timer} timer"


def transmission_label(message: str, retransmission: int, timer: str | None) -> str:
    """Label a transmission: "INVITE" or "INVITE (retx 2, Timer A)"."""
    if retransmission <= 0:
        return message
    name = timer_name(timer)
    return f"{message} (retx {retransmission}, {name})" if name else f"{message} (retx {retransmission})"


def tx_key(ev: Any) -> tuple[Any, ...]:
    """What identifies one transmission across its send, recv and drop events.

    A ``send`` names its sender in ``node`` (``src`` may be None), a ``recv``
    names its receiver in ``node``; ``rack`` and ``retransmission`` are not
    carried by every kind, so they are not part of the key.
    """
    if ev.event == SEND:
        src, dst = ev.src or ev.node, ev.dst
    elif ev.event == RECV:
        src, dst = ev.src, ev.dst or ev.node
    else:
        src, dst = ev.src or ev.node, ev.dst
    return (src, dst, ev.message, ev.call_id, ev.cseq, ev.rseq)


def _pick(queue: deque["Transmission"], ev: Any) -> "Transmission":
    """The pending transmission an arrival or loss belongs to: same RAck and retransmission number if known.

    The RAck tells apart two PRACKs of one Call-ID and CSeq, one per early
    dialog of a forked INVITE (RFC 3262 §7.2); the engine copies it to ``recv``
    and ``drop``, a trace that leaves it out pairs as before.
    """
    rack = getattr(ev, "rack", None)
    candidates = [tx for tx in queue if tx.rack == rack] if rack else []
    if not candidates:
        candidates = list(queue)
    retx = int(getattr(ev, "retransmission", 0) or 0)
    if retx:
        for tx in candidates:
            if tx.retransmission == retx:
                return tx
    return candidates[0]


# App event detail keys worth showing in a side note (the rest is for the measures).
_APP_KEYS = ("outcome", "reason", "code", "rseq", "destination")


def _note_text(ev: Any) -> str:
    """The words of a side note for a timer, state or app event."""
    detail = ev.detail or ""
    if ev.event == TIMER:
        name = timer_name(ev.timer) or (ev.timer or "timer")
        return f"{name} fired" + (f" ({detail})" if detail else "")
    if ev.event == STATE:
        return detail or "state change"
    from simsip.metrics.trace import parse_app_detail

    kind, values = parse_app_detail(detail)
    words = [kind or "event"]
    if ev.message:
        words.append(ev.message)
    for key in _APP_KEYS:
        value = values.get(key)
        if value in (None, "None", "False", ""):
            continue
        # A response's code and reason are already in its label.
        if ev.message and (key == "code" or (key == "reason" and ev.message.endswith(value.replace("_", " ")))):
            continue
        words.append(f"{key}={value}")
    return "app: " + " ".join(words)


def node_order(events: Iterable[Any], nodes: Sequence[str] | None = None) -> list[str]:
    """Column order: the scenario's node order, then anything else in order of appearance."""
    order: list[str] = list(nodes or [])
    seen = set(order)
    for ev in events:
        for name in (ev.src, ev.dst, ev.node):
            if name and name not in seen:
                seen.add(name)
                order.append(name)
    return order


def select(
    events: Iterable[Any],
    run: int | None = None,
    t_from: float | None = None,
    t_to: float | None = None,
    call_id: str | None = None,
) -> list[Any]:
    """The events of one run, inside [t_from, t_to], of one call (None keeps all)."""
    out = []
    for ev in events:
        if run is not None and ev.run != run:
            continue
        if t_from is not None and ev.t < t_from:
            continue
        if t_to is not None and ev.t > t_to:
            continue
        if call_id is not None and ev.call_id != call_id:
            continue
        out.append(ev)
    return out


def only_run(events: Sequence[Any], run: int | None = None) -> int | None:
    """``run`` if given, else the trace's one run (None when empty); ValueError when it holds several."""
    if run is not None:
        return run
    runs = sorted({ev.run for ev in events})
    if len(runs) > 1:
        raise ValueError(f"trace holds runs {runs}; choose one with run=")
    return runs[0] if runs else None


def build_flow(
    events: Iterable[Any],
    nodes: Sequence[str] | None = None,
    run: int | None = None,
    t_from: float | None = None,
    t_to: float | None = None,
    call_id: str | None = None,
) -> Flow:
    """Pair each send with its recv or drop, collect side notes, for one run and window.

    Pairing uses all of the run's events (a message sent inside the window may
    arrive after it); the window and Call-ID filter choose which rows are shown.
    """
    positioned = select(events, run=run)
    pending: dict[tuple[Any, ...], deque[Transmission]] = defaultdict(deque)
    delivered: dict[tuple[Any, ...], Transmission] = {}
    # UDP copies lost after the first hop's entry: a duplicate made on an earlier
    # hop (a link's `duplicate`) may still be on its way and arrive.
    twin_pending: dict[tuple[Any, ...], list[Transmission]] = defaultdict(list)
    transmissions: list[Transmission] = []
    notes: list[Note] = []
    # ``pos`` (trace position) keeps equal-time rows in the engine's order.
    for pos, ev in enumerate(positioned):
        kind = ev.event
        if kind == SEND:
            tx = Transmission(
                index=len(transmissions),
                t=float(ev.t),
                src=ev.src or ev.node,
                dst=ev.dst or "",
                message=ev.message or "",
                call_id=ev.call_id,
                cseq=ev.cseq,
                rseq=ev.rseq,
                rack=ev.rack,
                retransmission=int(ev.retransmission or 0),
                timer=ev.timer,
                transport=ev.transport,
                msg=getattr(ev, "msg", None),
                event=ev,
                pos=pos,
            )
            transmissions.append(tx)
            pending[tx_key(ev)].append(tx)
        elif kind in (RECV, DROP):
            key = tx_key(ev)
            queue = pending.get(key)
            if not queue:
                if kind == RECV and twin_pending.get(key):
                    # The copy a link lost had a twin made on an earlier hop: it arrived.
                    tx = twin_pending[key].pop()
                    tx.arrived_at = float(ev.t)
                    delivered[key] = tx
                # A duplicated packet arriving a second time (a link's `duplicate`).
                elif kind == RECV and key in delivered:
                    delivered[key].duplicates += 1
                continue
            tx = _pick(queue, ev)
            if kind == RECV:
                tx.arrived_at = float(ev.t)
                queue.remove(tx)
                delivered[key] = tx
            else:
                tx.losses.append((float(ev.t), ev.link, ev.detail))
                # UDP: the loss is final. TCP sends the segment again, so a
                # recv may still follow; the transmission stays pending.
                if (ev.transport or tx.transport) != "TCP":
                    queue.remove(tx)
                    # Lost past the first hop (or after a delay): a twin may still arrive.
                    if ev.node != tx.src or float(ev.t) > tx.t:
                        twin_pending[key].append(tx)
        elif kind in NOTE_EVENTS:
            notes.append(
                Note(
                    t=float(ev.t),
                    node=ev.node,
                    kind=kind,
                    text=_note_text(ev),
                    call_id=ev.call_id,
                    timer=ev.timer,
                    event=ev,
                    pos=pos,
                )
            )
    order = node_order(positioned, nodes)

    def keep(t: float, cid: str | None) -> bool:
        """Inside the time window and of the chosen call."""
        # Within a nanosecond of a bound is on it: times are sums of floats (0.5800000000000001
        # is the 0.580 the row shows), and `--to 0.58` means that row too.
        if t_from is not None and t < t_from - WINDOW_SLACK:
            return False
        if t_to is not None and t > t_to + WINDOW_SLACK:
            return False
        return call_id is None or cid == call_id

    # The run's Call-IDs in the order of all its rows, before the window and call filter.
    everything = Flow(nodes=order, transmissions=transmissions, notes=notes).rows(notes=True)
    return Flow(
        nodes=order,
        transmissions=[tx for tx in transmissions if keep(tx.t, tx.call_id)],
        notes=[n for n in notes if keep(n.t, n.call_id)],
        calls=list(dict.fromkeys(r.call_id for r in everything if r.call_id)),
    )
