"""Builders for hand-written trace event streams (tests only)."""

from __future__ import annotations

from simsip.metrics.measures import CallTable
from simsip.metrics.trace import TraceEvent, app_detail, fold_events, make_sink, parse_app_detail

CID = "a84b4c76e66710@pc33.atlanta.example.com"


def send(t, node, dst, message, cseq="1 INVITE", call_id=CID, rseq=None, rack=None, rtx=0,
         timer=None, run=0):
    """A ``send`` event."""
    return TraceEvent(run, t, "send", node, node, dst, message, call_id, cseq, rseq, rack, rtx,
                      timer, transport="UDP")


def recv(t, node, src, message, cseq="1 INVITE", call_id=CID, rseq=None, rack=None, run=0):
    """A ``recv`` event."""
    return TraceEvent(run, t, "recv", node, src, node, message, call_id, cseq, rseq, rack,
                      transport="UDP")


def drop(t, src, dst, message, cseq="1 INVITE", link="alice-bob", call_id=CID, rseq=None,
         rtx=0, run=0):
    """A ``drop`` event (the link between ``src`` and ``dst`` lost the message)."""
    return TraceEvent(run, t, "drop", src, src, dst, message, call_id, cseq, rseq, None, rtx,
                      link=link, transport="UDP")


def timer(t, node, label, call_id=CID, cseq=None, run=0):
    """A ``timer`` (fired) event."""
    return TraceEvent(run, t, "timer", node, call_id=call_id, cseq=cseq, timer=label)


def app(t, node, kind, call_id=CID, cseq=None, run=0, **detail):
    """An ``app`` event."""
    return TraceEvent(run, t, "app", node, call_id=call_id, cseq=cseq,
                      detail=app_detail(kind, detail))


def hop(t, src, dst, message, delay=0.05, lost=False, **kw):
    """A message crossing one hop: send, then recv after ``delay`` or a drop."""
    rtx = kw.pop("rtx", 0)
    tmr = kw.pop("timer", None)
    rack = kw.pop("rack", None)
    link = kw.pop("link", f"{src}-{dst}")
    events = [send(t, src, dst, message, rtx=rtx, timer=tmr, rack=rack, **kw)]
    if lost:
        events.append(drop(t, src, dst, message, rtx=rtx, link=link, **kw))
    else:
        events.append(recv(t + delay, dst, src, message, rack=rack, **kw))
    return events


def ordered(*groups):
    """Flatten event groups and sort by time, keeping emission order at equal times."""
    flat = [event for group in groups for event in (group if isinstance(group, list) else [group])]
    return sorted(flat, key=lambda event: event.t)


def fold_via_methods(events, level="off") -> CallTable:
    """Fold through a sink's positional methods (the engine's hot path) instead of ``feed``."""
    sink = make_sink(level, events[0].run if events else 0)
    for ev in events:
        if ev.event == "send":
            sink.send(ev.t, ev.node, ev.dst, ev.message, ev.call_id, ev.cseq, ev.rseq, ev.rack,
                      ev.retransmission, ev.timer, ev.transport)
        elif ev.event == "recv":
            sink.recv(ev.t, ev.node, ev.src, ev.message, ev.call_id, ev.cseq, ev.rseq, ev.rack,
                      ev.transport)
        elif ev.event == "drop":
            sink.drop(ev.t, ev.node, ev.src, ev.dst, ev.link, ev.message, ev.call_id, ev.cseq,
                      ev.rseq, ev.rack, ev.retransmission, ev.transport)
        elif ev.event == "timer":
            sink.timer(ev.t, ev.node, ev.timer, ev.call_id, ev.cseq)
        elif ev.event == "app":
            kind, detail = parse_app_detail(ev.detail)
            sink.app(ev.t, ev.node, ev.call_id, kind, detail, ev.message, ev.cseq)
    return sink.records()


def fold_one(events) -> dict:
    """The single call record of a stream, checking both folding paths agree."""
    table = fold_events(events)
    assert len(table) == 1, table.to_records()
    assert fold_via_methods(events).to_records() == table.to_records()
    assert fold_via_methods(events, "full").to_records() == table.to_records()
    return table[0]
