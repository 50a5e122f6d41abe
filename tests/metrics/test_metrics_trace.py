"""TraceEvent fields and JSON lines; the two trace levels fold identically."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest

from simsip.metrics.trace import (
    FullSink,
    OffSink,
    TraceEvent,
    app_detail,
    describe,
    fold_events,
    make_sink,
    message_label,
    parse_app_detail,
    read_jsonl,
    write_jsonl,
)

from tests.metrics.streams import fold_via_methods
from tests.metrics.test_metrics_measures import forked_call, reliability_failure_events

TEAM_FIELDS = ["run", "t", "event", "node", "src", "dst", "message", "call_id", "cseq", "rseq",
               "rack", "retransmission", "timer", "link", "transport", "detail", "msg"]


def test_trace_event_fields_are_the_team_contract():
    """TEAM.md "Trace events": exactly these fields, in this order, with __slots__."""
    assert [f.name for f in dataclasses.fields(TraceEvent)] == TEAM_FIELDS
    event = TraceEvent(0, 0.0, "send", "alice")
    assert not hasattr(event, "__dict__")
    assert event.retransmission == 0 and event.msg is None


def test_json_line_has_every_field_but_msg_with_from_and_to():
    """Issue 5 item 6: run, t, event, node, from, to, message, call_id, cseq, rseq, ... timer."""
    event = TraceEvent(2, 0.5, "send", "alice", "alice", "bob", "INVITE", "c1", "1 INVITE",
                       None, None, 1, "A", None, "UDP", None, msg=object())
    data = json.loads(event.to_json())
    assert list(data) == ["run", "t", "event", "node", "from", "to", "message", "call_id",
                          "cseq", "rseq", "rack", "retransmission", "timer", "link",
                          "transport", "detail"]
    assert data["from"] == "alice" and data["to"] == "bob"
    assert data["retransmission"] == 1 and data["timer"] == "A"
    assert TraceEvent.from_dict(data) == event  # msg is not compared


def test_from_dict_accepts_src_dst_spelling_and_rejects_missing_fields():
    """Readers take either spelling; an event without its time is an error."""
    event = TraceEvent.from_dict({"run": 0, "t": 1.0, "event": "recv", "node": "bob",
                                  "src": "alice", "dst": "bob"})
    assert event.src == "alice" and event.retransmission == 0
    with pytest.raises(ValueError, match="'t'"):
        TraceEvent.from_dict({"run": 0, "event": "recv", "node": "bob"})


def test_jsonl_round_trip_through_a_file(tmp_path):
    """write_jsonl then read_jsonl gives the same events; the fold is unchanged."""
    events = forked_call()
    path = tmp_path / "trace.jsonl"
    assert write_jsonl(events, path) == len(events)
    text = path.read_text()
    assert text.count("\n") == len(events)
    back = read_jsonl(path)
    assert back == events
    assert fold_events(back).to_records() == fold_events(events).to_records()


def test_jsonl_bad_line_names_the_line():
    """A broken line is reported with its number."""
    stream = io.StringIO('{"run": 0, "t": 0, "event": "send", "node": "a"}\n{oops\n')
    with pytest.raises(ValueError, match="line 2"):
        read_jsonl(stream)


def test_make_sink_levels():
    """'off' keeps nothing, 'full' keeps every event; other levels are refused."""
    assert isinstance(make_sink("off"), OffSink)
    assert isinstance(make_sink("full", run=4), FullSink)
    assert make_sink("full", run=4).run == 4
    with pytest.raises(ValueError, match="unknown trace level"):
        make_sink("summary!")


def test_off_and_full_sinks_fold_the_same_records_and_counters():
    """The off level (hot path) folds exactly what the full level keeps."""
    events = reliability_failure_events(True) + forked_call()
    off = fold_via_methods(events, "off")
    full = fold_via_methods(events, "full")
    assert off.to_records() == full.to_records() == fold_events(events).to_records()


def test_full_sink_keeps_events_in_emission_order():
    """Each method call of a full sink appends one event with the documented fields."""
    sink = make_sink("full", run=1)
    sink.send(0.0, "alice", "bob", "INVITE", "c1", "1 INVITE", transport="UDP")
    sink.drop(0.0, "alice", "alice", "bob", "alice-bob", "INVITE", "c1", "1 INVITE")
    sink.timer(0.5, "alice", "A", "c1")
    sink.state(0.5, "alice", "c1", "INVITE client z9hG4bK1", "Calling", "Calling")
    sink.recv(0.55, "bob", "alice", "INVITE", "c1", "1 INVITE")
    sink.app(0.55, "bob", "c1", "request", {"method": "INVITE"})
    kinds = [e.event for e in sink.events]
    assert kinds == ["send", "drop", "timer", "state", "recv", "app"]
    assert all(e.run == 1 for e in sink.events)
    assert sink.events[0].src == "alice" and sink.events[0].dst == "bob"
    assert sink.events[1].link == "alice-bob"
    assert sink.events[2].timer == "A"
    assert sink.events[3].detail == "INVITE client z9hG4bK1: Calling -> Calling"
    assert sink.events[4].dst == "bob"
    assert sink.events[5].detail == "request method=INVITE"
    assert sink.nodes.to_dict()["nodes"]["alice"]["dropped"] == 1
    assert len(sink.records()) == 1
    off = make_sink("off")
    off.send(0.0, "alice", "bob", "INVITE", "c1", "1 INVITE")
    assert off.events == []


def _sink_fed(times: tuple[float, float, float]) -> FullSink:
    """A full sink fed one call of each method: send and drop at times[0], timer and state at [1], recv and app at [2]."""
    sink = FullSink(run=1)
    first, second, third = times
    sink.send(first, "alice", "bob", "INVITE", "c1", "1 INVITE", transport="UDP")
    sink.drop(first, "alice", "alice", "bob", "alice-bob", "INVITE", "c1", "1 INVITE")
    sink.timer(second, "alice", "A", "c1")
    sink.state(second, "alice", "c1", "INVITE client z9hG4bK1", "Calling", "Calling")
    sink.recv(third, "bob", "alice", "INVITE", "c1", "1 INVITE")
    sink.app(third, "bob", "c1", "request", {"method": "INVITE"})
    return sink


def test_full_sink_times_are_floats_in_both_builds():
    """An int time becomes a float in every event, compiled or not: both builds keep the same events and JSON lines."""
    ints = _sink_fed((0, 1, 2))
    assert [(type(e.t), e.t) for e in ints.events] == [(float, 0.0)] * 2 + [(float, 1.0)] * 2 + [(float, 2.0)] * 2
    assert ints.events[0].to_json().startswith('{"run": 1, "t": 0.0, "event": "send"')
    floats = _sink_fed((0.0, 1.0, 2.0))
    assert ints.events == floats.events
    assert [e.to_json() for e in ints.events] == [e.to_json() for e in floats.events]
    assert ints.records().to_records() == floats.records().to_records()


def test_app_detail_round_trip():
    """AppEvent kind and detail dict render to one string and back."""
    text = app_detail("call-ended", {"outcome": "answered", "code": 200})
    assert text == "call-ended code=200 outcome=answered"
    assert parse_app_detail(text) == ("call-ended", {"code": "200", "outcome": "answered"})
    assert app_detail("timeout") == "timeout"
    assert parse_app_detail(None) == ("", {})


class _CSeq:
    def __str__(self) -> str:
        return "1 INVITE"


class _Response:
    """Duck-typed response with the message contract's accessors."""

    status, reason, call_id, cseq, rseq, rack = 180, "Ringing", "c9", _CSeq(), 5, None


class _Request:
    method, call_id, cseq, rseq, rack = "INVITE", "c9", _CSeq(), None, None


def test_describe_uses_the_message_contract():
    """describe() gives (label, call_id, cseq, rseq, rack) from Request/Response accessors."""
    assert describe(_Response()) == ("180 Ringing", "c9", "1 INVITE", 5, None)
    assert describe(_Request()) == ("INVITE", "c9", "1 INVITE", None, None)
    assert message_label(_Request()) == "INVITE"
