"""Trace events: the one stream the agents emit, kept whole or folded on the fly.

Every figure simsip reports (per-call measures, RFC 6076 ratios, per-node
counters), every ladder diagram and every pcap comes from this one stream of
:class:`TraceEvent` (STYLE.md, "What a simulator project tends to get wrong",
item 4). The engine hands each event to a :class:`TraceSink`; the sink either
keeps it (level ``"full"``) or only folds it into per-call counters
(level ``"off"``), and the folding itself lives in one place,
:class:`simsip.metrics.measures.CallFolder`.

What each event kind must carry
-------------------------------
Field names are those of :class:`TraceEvent`. "required" means the measures
are wrong without it; every other field may be None.

``send`` -- one SIP element handed one message to the network (one
``SendMessage`` action). ``node``: the sender; ``dst``: the node it is sent to
(next hop); ``message``: :func:`message_label` ("INVITE", "180 Ringing");
``call_id``; ``cseq`` as ``"<seq> <METHOD>"`` (``str(CSeq)``); ``rseq`` (int)
on a reliable provisional, else None; ``rack`` (``str(RAck)``) on a PRACK;
``retransmission`` = ``SendMessage.retransmission`` (0 for a first
transmission); ``timer`` = ``SendMessage.timer``; ``transport``. All of
``node, message, call_id, cseq`` are required, ``rseq`` on reliable 1xx and
``rack`` on PRACK too. Emit ``send`` once per SIP-level transmission, before the
link decides whether it is lost.

``recv`` -- a message was delivered to the SIP element ``node``. ``src``: the
node it came from; ``message``, ``call_id``, ``cseq``, ``rseq`` as for ``send``
(required: ``node, message, call_id, cseq``).

``drop`` -- a link lost a message. ``node``: the node whose outgoing copy was
lost (the sending end of the lossy hop); ``src``/``dst``: SIP sender and
intended receiver; ``link``: the link's name; ``message``, ``call_id``,
``cseq``, ``rseq``, ``retransmission`` copied from the matching ``send``
(required: ``call_id``; ``src`` for the per-node drop counter); ``detail``
may give the reason ("loss", "link down"). One ``drop`` per hop that loses a
copy. Over TCP only a message TCP gives up on (after its retransmissions, or
with a node down) is a ``drop``: a segment loss TCP repairs delays the message
but loses nothing SIP sent, so it has no event (and no ``messages_lost``).

``timer`` -- a timer FIRED (not when armed). ``node``; ``timer`` =
``StartTimer.label`` ("A", "B", "E", "F", "G", "2xx", "1xx-rel",
"prack-wait"); ``call_id`` = ``StartTimer.call_id`` (required for "B" at the
UAC and "prack-wait" at the UAS); ``cseq`` of the request it guards when the
engine knows it (optional; lets Timer F end a BYE for the Session Disconnect
Delay).

``state`` -- a ``StateChange``: ``node``, ``call_id``, ``detail`` =
``"<machine>: <old> -> <new>"`` (see :func:`state_detail`). Not used by the
measures; kept for ladders and teaching.

``app`` -- an ``AppEvent``: ``node``, ``call_id``, ``detail`` =
:func:`app_detail` of ``(kind, detail dict)``, e.g. ``"reliability-failure"``,
``"timeout"``, ``"call-ended outcome=answered"``; ``message``/``cseq`` from
``AppEvent.message`` when there is one (required for ``"timeout"``: the
timed-out request's CSeq). ``reliability-failure`` at the UAS marks the call's
outcome; ``timeout`` of a BYE ends the Session Disconnect Delay.

JSON lines (``--trace``) carry the same fields minus ``msg``, in a fixed order;
``src``/``dst`` are written as ``"from"``/``"to"`` (issue 5, item 6), and
:func:`read_jsonl` accepts either spelling.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Mapping

from mypy_extensions import mypyc_attr

from simsip.metrics.measures import CallFolder, CallTable, NodeCounters
from simsip.sip.message import Request, Response

EVENT_KINDS = ("send", "recv", "drop", "timer", "state", "app")
TRACE_LEVELS = ("off", "full")

# JSON key order of one trace line; (json key, attribute) pairs.
_JSON_FIELDS: tuple[tuple[str, str], ...] = (
    ("run", "run"),
    ("t", "t"),
    ("event", "event"),
    ("node", "node"),
    ("from", "src"),
    ("to", "dst"),
    ("message", "message"),
    ("call_id", "call_id"),
    ("cseq", "cseq"),
    ("rseq", "rseq"),
    ("rack", "rack"),
    ("retransmission", "retransmission"),
    ("timer", "timer"),
    ("link", "link"),
    ("transport", "transport"),
    ("detail", "detail"),
)


# Interpreted even in the compiled build: fields keep exactly the values they are given (an int
# time read from JSON stays an int), and only a full trace makes events.
@mypyc_attr(native_class=False)
@dataclass(slots=True)
class TraceEvent:
    """One thing that happened in one run (see the module docstring for each kind)."""

    run: int
    """Run index (replication) the event belongs to."""
    t: float
    """Simulated time in seconds."""
    event: str
    """One of ``send``, ``recv``, ``drop``, ``timer``, ``state``, ``app``."""
    node: str
    """The node where it happened (sender for send/drop, receiver for recv)."""
    src: str | None = None
    """Sending node of the message (JSON key ``from``)."""
    dst: str | None = None
    """Receiving node of the message (JSON key ``to``)."""
    message: str | None = None
    """Method of a request or ``"<code> <reason>"`` of a response."""
    call_id: str | None = None
    """Call-ID the event belongs to; the key of every per-call measure."""
    cseq: str | None = None
    """``"<seq> <METHOD>"`` of the message (or of the request a timer guards)."""
    rseq: int | None = None
    """RSeq of a reliable provisional (RFC 3262 §7.1)."""
    rack: str | None = None
    """RAck of a PRACK, ``"<rseq> <cseq> <method>"`` (RFC 3262 §7.2)."""
    retransmission: int = 0
    """Earlier transmissions of the same message by this element (0 for the first)."""
    timer: str | None = None
    """Timer label: the one that fired, or the one that caused a retransmission."""
    link: str | None = None
    """Name of the link that dropped the message (drop events)."""
    transport: str | None = None
    """``"UDP"`` or ``"TCP"`` for messages."""
    detail: str | None = None
    """State change text or application event (:func:`app_detail`)."""
    msg: Any = field(default=None, repr=False, compare=False)
    """The Request/Response object itself; never serialised."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this event (fixed key order, without ``msg``)."""
        return {key: getattr(self, attr) for key, attr in _JSON_FIELDS}

    def to_json(self) -> str:
        """One JSON line (no newline), byte-identical for identical events."""
        return json.dumps(self.to_dict(), separators=(", ", ": "), allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TraceEvent":
        """Rebuild an event from its JSON object (``from``/``to`` or ``src``/``dst``)."""
        kwargs: dict[str, Any] = {}
        for key, attr in _JSON_FIELDS:
            if key in data:
                kwargs[attr] = data[key]
            elif attr in data:
                kwargs[attr] = data[attr]
        for required in ("run", "t", "event", "node"):
            if required not in kwargs:
                raise ValueError(f"trace event lacks {required!r}: {dict(data)!r}")
        if kwargs.get("retransmission") is None:
            kwargs["retransmission"] = 0
        return cls(**kwargs)


# ------------------------------------------------------------- describing


def message_label(msg: Any) -> str:
    """``"INVITE"`` for a request, ``"180 Ringing"`` for a response."""
    method = getattr(msg, "method", None)
    if method is not None:
        return str(method)
    return _status_label(msg.status, getattr(msg, "reason", None))


def _status_label(status: int, reason: str | None) -> str:
    """``"180 Ringing"``, or the bare code when there is no reason phrase."""
    return f"{status} {reason}" if reason else str(status)


def describe(msg: Any) -> tuple[str, str | None, str | None, int | None, str | None]:
    """``(message label, call_id, cseq, rseq, rack)`` of a Request/Response for a trace event."""
    # simsip's own messages: one call reads (and raises) as the accessors below, in the same order.
    if isinstance(msg, Request):
        call_id, cseq, rseq, rack = msg.trace_fields()
        return msg.method, call_id, cseq, rseq, rack
    if isinstance(msg, Response):
        call_id, cseq, rseq, rack = msg.trace_fields()
        return _status_label(msg.status, msg.reason), call_id, cseq, rseq, rack
    cseq_value = msg.cseq
    rack_value = getattr(msg, "rack", None)
    call_id = msg.call_id
    rseq = getattr(msg, "rseq", None)
    return (message_label(msg), call_id, None if cseq_value is None else str(cseq_value), rseq,
            None if rack_value is None else str(rack_value))


def app_detail(kind: str, detail: Mapping[str, Any] | None = None) -> str:
    """Render an AppEvent as ``"kind key=value ..."`` (keys sorted, values without spaces)."""
    if not detail:
        return kind
    parts = [kind]
    for key in sorted(detail):
        value = str(detail[key]).replace(" ", "_")
        parts.append(f"{key}={value}")
    return " ".join(parts)


def parse_app_detail(text: str | None) -> tuple[str, dict[str, str]]:
    """Inverse of :func:`app_detail`: ``(kind, {key: value})``."""
    if not text:
        return "", {}
    kind, *rest = text.split(" ")
    values: dict[str, str] = {}
    for part in rest:
        key, sep, value = part.partition("=")
        if sep:
            values[key] = value
    return kind, values


def state_detail(machine: str, old: str, new: str) -> str:
    """Render a StateChange as ``"<machine>: <old> -> <new>"``."""
    return f"{machine}: {old} -> {new}"


# ------------------------------------------------------------------ sinks


class TraceSink:
    """Receives the trace events of one run and folds them into per-call measures.

    The engine calls one method per event (:meth:`send`, :meth:`recv`,
    :meth:`drop`, :meth:`timer`, :meth:`state`, :meth:`app`) or hands over a
    ready :class:`TraceEvent` with :meth:`emit`. Use :func:`make_sink` to get
    the sink for a trace level. After the run, :meth:`records` gives the call
    records and :attr:`nodes` the per-node counters.
    """

    level = "off"
    app_kinds: frozenset[str] | None = None
    """The ``app`` event kinds this sink does anything with; None: every kind.

    An emitter may leave out the ``app`` events of any other kind."""

    def __init__(self, run: int = 0, nodes: NodeCounters | None = None) -> None:
        """Start an empty sink for run index ``run``; node counts go to ``nodes`` (new ones if None)."""
        self.run = run
        self.folder = CallFolder(run, nodes)

    @property
    def events(self) -> list[TraceEvent]:
        """The kept events (always empty when tracing is off)."""
        return []

    @property
    def nodes(self) -> NodeCounters:
        """Per-node counters folded so far."""
        return self.folder.nodes

    def records(self, table: CallTable | None = None) -> CallTable:
        """Append this run's call records to ``table`` (a new one if None) and return it."""
        return self.folder.records(table)

    # The hot path (tracing off): positional arguments straight into the folder, no event object.
    def send(
        self,
        t: float,
        node: str,
        dst: str | None,
        message: str,
        call_id: str | None,
        cseq: str | None,
        rseq: int | None = None,
        rack: str | None = None,
        retransmission: int = 0,
        timer: str | None = None,
        transport: str | None = None,
        msg: Any = None,
    ) -> None:
        """A SIP element sent a message (one ``SendMessage``)."""
        self.folder.send(t, node, dst, message, call_id, cseq, rseq, rack, retransmission)

    def recv(
        self,
        t: float,
        node: str,
        src: str | None,
        message: str,
        call_id: str | None,
        cseq: str | None,
        rseq: int | None = None,
        rack: str | None = None,
        transport: str | None = None,
        msg: Any = None,
    ) -> None:
        """A message was delivered to the SIP element ``node``."""
        self.folder.recv(t, node, src, message, call_id, cseq, rseq)

    def drop(
        self,
        t: float,
        node: str,
        src: str | None,
        dst: str | None,
        link: str | None,
        message: str | None,
        call_id: str | None,
        cseq: str | None,
        rseq: int | None = None,
        rack: str | None = None,
        retransmission: int = 0,
        transport: str | None = None,
        msg: Any = None,
    ) -> None:
        """The link ``link`` lost a message sent by ``src``."""
        self.folder.drop(t, node, src, dst, link, message, call_id)

    def timer(
        self, t: float, node: str, label: str | None, call_id: str | None, cseq: str | None = None
    ) -> None:
        """The timer ``label`` of ``node`` fired."""
        self.folder.timer(t, node, label, call_id, cseq)

    def state(
        self, t: float, node: str, call_id: str | None, machine: str, old: str, new: str
    ) -> None:
        """A transaction or dialog of ``node`` changed state (not a measure)."""

    def app(
        self,
        t: float,
        node: str,
        call_id: str | None,
        kind: str,
        detail: Mapping[str, Any] | None = None,
        message: str | None = None,
        cseq: str | None = None,
        msg: Any = None,
    ) -> None:
        """An application event (``AppEvent``) happened at ``node``."""
        self.folder.app(t, node, call_id, kind, detail, message, cseq)

    def emit(self, event: TraceEvent) -> None:
        """Take a ready-made event (same effect as the method of its kind)."""
        self.folder.feed(event)


class OffSink(TraceSink):
    """Level ``"off"``: fold events into counters as they arrive, keep nothing."""

    level = "off"
    app_kinds: frozenset[str] | None = CallFolder.APP_KINDS


class FullSink(TraceSink):
    """Level ``"full"``: keep every event (for ``--trace``, ladders, pcap) and fold it too.

    Its events' times are floats, an int ``t`` included: compiled, the float
    parameter converts it anyway, so interpreted the sink does too (both builds
    keep the same events and write the same JSON lines).
    """

    level = "full"

    def __init__(self, run: int = 0, nodes: NodeCounters | None = None) -> None:
        """Start an empty sink for run index ``run``; node counts go to ``nodes`` (new ones if None)."""
        super().__init__(run, nodes)
        self._events: list[TraceEvent] = []

    @property
    def events(self) -> list[TraceEvent]:
        """Every event of the run, in the order the engine emitted them."""
        return self._events

    def send(
        self,
        t: float,
        node: str,
        dst: str | None,
        message: str,
        call_id: str | None,
        cseq: str | None,
        rseq: int | None = None,
        rack: str | None = None,
        retransmission: int = 0,
        timer: str | None = None,
        transport: str | None = None,
        msg: Any = None,
    ) -> None:
        """A SIP element sent a message (one ``SendMessage``)."""
        self._events.append(
            TraceEvent(self.run, float(t), "send", node, node, dst, message, call_id, cseq, rseq,
                       rack, retransmission, timer, None, transport, None, msg)
        )
        self.folder.send(t, node, dst, message, call_id, cseq, rseq, rack, retransmission)

    def recv(
        self,
        t: float,
        node: str,
        src: str | None,
        message: str,
        call_id: str | None,
        cseq: str | None,
        rseq: int | None = None,
        rack: str | None = None,
        transport: str | None = None,
        msg: Any = None,
    ) -> None:
        """A message was delivered to the SIP element ``node``."""
        self._events.append(
            TraceEvent(self.run, float(t), "recv", node, src, node, message, call_id, cseq, rseq,
                       rack, 0, None, None, transport, None, msg)
        )
        self.folder.recv(t, node, src, message, call_id, cseq, rseq)

    def drop(
        self,
        t: float,
        node: str,
        src: str | None,
        dst: str | None,
        link: str | None,
        message: str | None,
        call_id: str | None,
        cseq: str | None,
        rseq: int | None = None,
        rack: str | None = None,
        retransmission: int = 0,
        transport: str | None = None,
        msg: Any = None,
    ) -> None:
        """The link ``link`` lost a message sent by ``src``."""
        self._events.append(
            TraceEvent(self.run, float(t), "drop", node, src, dst, message, call_id, cseq, rseq,
                       rack, retransmission, None, link, transport, None, msg)
        )
        self.folder.drop(t, node, src, dst, link, message, call_id)

    def timer(
        self, t: float, node: str, label: str | None, call_id: str | None, cseq: str | None = None
    ) -> None:
        """The timer ``label`` of ``node`` fired."""
        self._events.append(
            TraceEvent(self.run, float(t), "timer", node, None, None, None, call_id, cseq, None,
                       None, 0, label)
        )
        self.folder.timer(t, node, label, call_id, cseq)

    def state(
        self, t: float, node: str, call_id: str | None, machine: str, old: str, new: str
    ) -> None:
        """A transaction or dialog of ``node`` changed state."""
        self._events.append(
            TraceEvent(self.run, float(t), "state", node, call_id=call_id,
                       detail=state_detail(machine, old, new))
        )

    def app(
        self,
        t: float,
        node: str,
        call_id: str | None,
        kind: str,
        detail: Mapping[str, Any] | None = None,
        message: str | None = None,
        cseq: str | None = None,
        msg: Any = None,
    ) -> None:
        """An application event (``AppEvent``) happened at ``node``."""
        self._events.append(
            TraceEvent(self.run, float(t), "app", node, message=message, call_id=call_id, cseq=cseq,
                       detail=app_detail(kind, detail), msg=msg)
        )
        self.folder.app(t, node, call_id, kind, detail, message, cseq)

    def emit(self, event: TraceEvent) -> None:
        """Keep a ready-made event and fold it."""
        self._events.append(event)
        self.folder.feed(event)


def check_trace_level(level: str) -> None:
    """Raise ValueError naming the levels unless ``level`` is one of :data:`TRACE_LEVELS`."""
    if level not in TRACE_LEVELS:
        raise ValueError(f"unknown trace level {level!r} (expected one of {', '.join(TRACE_LEVELS)})")


def make_sink(level: str = "off", run: int = 0, nodes: NodeCounters | None = None) -> TraceSink:
    """The sink for trace level ``"off"`` or ``"full"``; node counts go to ``nodes`` (new ones if None)."""
    if level == "off":
        return OffSink(run, nodes)
    check_trace_level(level)
    return FullSink(run, nodes)


# ------------------------------------------------------------------ JSONL


def write_jsonl(events: Iterable[TraceEvent], out: str | Path | IO[str]) -> int:
    """Write one JSON object per line; return the number of events written."""
    if isinstance(out, (str, Path)):
        # Render everything first so a failure leaves no half-written file.
        buffer = io.StringIO()
        count = write_jsonl(events, buffer)
        Path(out).write_text(buffer.getvalue(), encoding="utf-8")
        return count
    count = 0
    for event in events:
        out.write(event.to_json())
        out.write("\n")
        count += 1
    return count


def iter_jsonl(source: str | Path | IO[str]) -> Iterator[TraceEvent]:
    """Read trace events back from JSON lines (blank lines skipped)."""
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8") as handle:
            yield from iter_jsonl(handle)
        return
    for lineno, line in enumerate(source, start=1):
        if not line.strip():
            continue
        try:
            yield TraceEvent.from_dict(json.loads(line))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"line {lineno}: {exc}") from None


def read_jsonl(source: str | Path | IO[str]) -> list[TraceEvent]:
    """All trace events of a JSON lines file or stream."""
    return list(iter_jsonl(source))


def fold_events(events: Iterable[TraceEvent], table: CallTable | None = None) -> CallTable:
    """Fold a whole stream (any number of runs, in emission order) into call records."""
    table = CallTable() if table is None else table
    folders: dict[int, CallFolder] = {}
    for event in events:
        folder = folders.get(event.run)
        if folder is None:
            folder = folders[event.run] = CallFolder(event.run)
        folder.feed(event)
    for run in sorted(folders):
        folders[run].records(table)
    return table
