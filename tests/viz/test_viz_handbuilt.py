"""Ladders, explanations and pcapng on a hand-built trace (independent of the engine)."""

from __future__ import annotations

import io
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from simsip.viz.explain import explain, explain_text
from simsip.viz.flow import build_flow
from simsip.viz.ladder import Ladder
from simsip.viz.pcap import EPOCH, internet_checksum, write_pcapng
from .handbuilt import CALL, NODES, reliable_180_trace
from .tools import PI_WARN, pcap_record_count, sngrep_load, tshark_fields_and_stat

GOLDEN = Path(__file__).parent / "golden"
REGEN = os.environ.get("SIMSIP_REGEN_GOLDEN") == "1"


def check_golden(name: str, text: str) -> None:
    """Compare with tests/viz/golden/<name> (SIMSIP_REGEN_GOLDEN=1 rewrites it)."""
    path = GOLDEN / name
    if REGEN:
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


# ------------------------------------------------------------------ the flow


def test_flow_pairs_each_send_with_its_fate():
    flow = build_flow(reliable_180_trace(), nodes=NODES)
    assert [tx.label for tx in flow.transmissions][:6] == [
        "INVITE", "INVITE", "100 Trying", "180 Ringing",
        "180 Ringing (retx 1, RFC 3262 timer)", "180 Ringing",
    ]
    lost = [(tx.message, tx.retransmission, tx.link) for tx in flow.transmissions if tx.dropped]
    assert lost == [("180 Ringing", 0, "edge-bob"), ("PRACK", 0, "edge-bob")]
    prack_retx = flow.transmissions[7]
    assert (prack_retx.message, prack_retx.retransmission, prack_retx.arrived_at) == ("PRACK", 1, 1.150)


def test_flow_tcp_loss_then_arrival_is_not_a_drop():
    """Over TCP a lost segment is sent again by TCP: the message arrives late, it is not lost."""
    from simsip.metrics.trace import TraceEvent

    common = dict(run=0, message="INVITE", call_id=CALL, cseq="1 INVITE", transport="TCP")
    events = [
        TraceEvent(t=0.0, event="send", node="alice", dst="edge", **common),
        TraceEvent(t=0.0, event="drop", node="alice", src="alice", dst="edge", link="alice-edge", **common),
        TraceEvent(t=1.01, event="recv", node="edge", src="alice", **common),
    ]
    (tx,) = build_flow(events, nodes=NODES).transmissions
    assert not tx.dropped and tx.arrived_at == 1.01 and tx.losses == [(0.0, "alice-edge", None)]


def test_flow_tells_forked_pracks_apart_by_rack():
    """Two early dialogs of a forked INVITE: two PRACKs with one Call-ID and CSeq, different RAck.

    The first one's Timer E retransmission arrives; the second dialog's first PRACK,
    sent at the same instant, is lost (forking_reliable.sip, loss=30%, seed 2).
    """
    from simsip.metrics.trace import TraceEvent

    common = dict(run=0, message="PRACK", call_id=CALL, cseq="2 PRACK", transport="UDP")
    first, second = "1 1 INVITE", "7 1 INVITE"
    events = [
        TraceEvent(t=0.58, event="send", node="alice", dst="edge", rack=first, retransmission=1,
                   timer="E", **common),
        TraceEvent(t=0.58, event="send", node="alice", dst="edge", rack=second, **common),
        TraceEvent(t=0.58, event="drop", node="alice", src="alice", dst="edge", link="alice-edge",
                   rack=second, detail="loss", **common),
        TraceEvent(t=0.60, event="recv", node="edge", src="alice", rack=first, **common),
    ]
    fates = [(tx.rack, tx.retransmission, tx.dropped, tx.arrived_at)
             for tx in build_flow(events, nodes=NODES).transmissions]
    assert fates == [(first, 1, False, 0.60), (second, 0, True, None)]


def test_flow_copy_lost_on_a_later_hop_whose_duplicate_arrives_is_delivered():
    """alice -> bob across alice-edge (duplicate) and edge-bob (loss), edge only routing.

    The original copy is lost on edge-bob, the twin made on alice-edge arrives:
    the BYE reached bob, it is not drawn lost (mh.sip-like, seed 5).
    """
    from simsip.metrics.trace import TraceEvent

    common = dict(run=0, message="BYE", call_id=CALL, cseq="2 BYE", transport="UDP")
    events = [
        TraceEvent(t=3.8556, event="send", node="alice", dst="bob", **common),
        TraceEvent(t=3.8656, event="drop", node="edge", src="alice", dst="bob", link="edge-bob",
                   detail="loss", **common),
        TraceEvent(t=3.8956, event="recv", node="bob", src="alice", **common),
    ]
    flow = build_flow(events, nodes=NODES)
    (tx,) = flow.transmissions
    assert not tx.dropped and tx.arrived_at == 3.8956
    assert "lost on" not in Ladder(events, nodes=NODES).text()
    from simsip.viz.pcap import packet_comment

    assert packet_comment(tx, NODES) == (
        "sent by alice to bob; a copy was lost on link edge-bob; a duplicate made by the network arrived")


def test_flow_first_hop_loss_is_final_and_a_late_copy_is_a_duplicate():
    """A copy lost entering its first hop has no twin: a later arrival is a duplicate of the delivered one."""
    from simsip.metrics.trace import TraceEvent

    common = dict(run=0, message="BYE", call_id=CALL, cseq="2 BYE", transport="UDP")
    events = [
        TraceEvent(t=0.0, event="send", node="alice", dst="edge", **common),
        TraceEvent(t=0.01, event="recv", node="edge", src="alice", **common),
        TraceEvent(t=0.5, event="send", node="alice", dst="edge", retransmission=1, timer="E", **common),
        TraceEvent(t=0.5, event="drop", node="alice", src="alice", dst="edge", link="alice-edge",
                   retransmission=1, detail="loss", **common),
        TraceEvent(t=0.6, event="recv", node="edge", src="alice", **common),
    ]
    first, retx = build_flow(events, nodes=NODES).transmissions
    assert (first.arrived_at, first.duplicates) == (0.01, 1)
    assert retx.dropped and retx.arrived_at is None


# ------------------------------------------------------------------- ladders


def test_text_ladder_golden():
    check_golden("handbuilt.txt", Ladder(reliable_180_trace(), nodes=NODES).text() + "\n")


def test_text_ladder_with_notes_golden():
    check_golden("handbuilt-notes.txt", Ladder(reliable_180_trace(), nodes=NODES, notes=True).text() + "\n")


def test_mermaid_ladder_golden():
    check_golden("handbuilt.mmd", Ladder(reliable_180_trace(), nodes=NODES, notes=True).mermaid())


def test_text_ladder_marks_loss_at_the_link():
    """The X of a message lost on edge-bob sits between the edge and bob lifelines."""
    text = Ladder(reliable_180_trace(), nodes=NODES).text()
    header = text.splitlines()[0]
    edge_x, bob_x = header.index("edge") + 2, header.index("bob") + 1
    lost = [line for line in text.splitlines() if "lost on edge-bob" in line]
    assert len(lost) == 2
    for line in lost:
        assert edge_x < line.index("X") < bob_x


def test_time_window_and_call_filters():
    events = reliable_180_trace()
    lad = Ladder(events, nodes=NODES, t_from=0.5, t_to=1.2)
    assert [tx.t for tx in lad.flow.transmissions] == [0.55, 0.59, 0.6, 1.1, 1.15]
    assert Ladder(events, nodes=NODES, call_id="nope").flow.transmissions == []
    assert len(Ladder(events, nodes=NODES, call_id=CALL).flow.transmissions) == 12


def test_details_show_cseq_rseq_rack_and_call_id():
    text = Ladder(reliable_180_trace(), nodes=NODES, details=True).text()
    assert f"PRACK (retx 1, Timer E)  (CSeq 2 PRACK, RAck 1 1 INVITE, Call-ID {CALL})" in text
    assert "180 Ringing  X lost on edge-bob  (CSeq 1 INVITE, RSeq 1," in text


def test_colour_only_when_asked():
    lad = Ladder(reliable_180_trace(), nodes=NODES)
    assert "\x1b[" not in lad.text()
    spans = lad.rich_text().spans
    assert any(s.style == "bold red" for s in spans) and any(s.style == "magenta" for s in spans)


def test_svg_is_wellformed_with_one_arrow_per_transmission_and_x_per_loss():
    svg = Ladder(reliable_180_trace(), nodes=NODES, notes=True).svg()
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    groups = root.findall(f"{ns}g")
    assert len(groups) == 12  # one per transmission, with a <title> tooltip
    crosses = [p for p in root.iter(f"{ns}path") if p.get("stroke-width") == "2"]
    assert len(crosses) == 2
    dashed = [ln for ln in root.iter(f"{ns}line") if ln.get("stroke-dasharray")]
    assert len(dashed) == 2  # the two retransmissions
    assert "CSeq: 2 PRACK" in svg


def test_html_and_jupyter_reprs():
    lad = Ladder(reliable_180_trace(), nodes=NODES)
    page = lad.html()
    assert page.startswith("<!DOCTYPE html>") and page.count("<tr>") == 13 and "<svg" in page
    assert lad._repr_svg_().startswith("<svg") and "<svg" in lad._repr_html_()


def test_several_runs_need_a_choice():
    events = reliable_180_trace()
    other = [type(e)(**{**{f: getattr(e, f) for f in e.__dataclass_fields__}, "run": 1}) for e in events]
    with pytest.raises(ValueError, match="choose one"):
        Ladder(events + other)
    assert len(Ladder(events + other, run=1).flow.transmissions) == 12


# --------------------------------------------------------------- explanations


def test_explanations_cite_the_rule():
    text = explain_text(explain(reliable_180_trace(), nodes=NODES))
    assert "RFC 3262 §3: reliable 180 retransmitted after 500 ms, no PRACK yet" in text
    assert "RFC 3261 §17.1.2.2: Timer E: PRACK retransmitted after 500 ms, no final response yet" in text
    assert "network: link edge-bob lost the packet (loss)" in text
    assert "RFC 3261 §16.6: the proxy forwards the INVITE" in text
    assert "RFC 3261 §16.7: the proxy forwards the 180 Ringing upstream" in text
    assert "RFC 3261 §13.2.2.4: the UAC core ACKs the 2xx" in text
    assert "RFC 3262 §4: PRACK acknowledges the reliable provisional (RAck 1 1 INVITE)" in text
    assert "RFC 3261 §17.1.1 (Figure 5), RFC 6026 §7.2: INVITE client transaction Calling -> Proceeding" in text


def test_explain_drop_without_a_link_names_the_hop():
    """A drop the network made before any link (no route) says so, naming the hop; only a link drop names a link."""
    from simsip.metrics.trace import TraceEvent

    common = dict(run=0, message="INVITE", call_id=CALL, cseq="1 INVITE", transport="UDP")
    events = [
        TraceEvent(t=0.0, event="send", node="alice", dst="bob", **common),
        TraceEvent(t=0.0, event="drop", node="alice", src="alice", dst="bob", detail="no route", **common),
    ]
    assert explain_text(explain(events, nodes=NODES)) == (
        "    0.000  alice      send  INVITE -> bob\n"
        "           RFC 3261 §13.2.1, §17.1.1: the UAC starts an INVITE client transaction\n"
        "    0.000  alice      drop  INVITE alice -> bob\n"
        "           network: the packet alice -> bob never reached a link (no route)\n"
    )


# ---------------------------------------------------------------------- pcap


UDP_FIELDS = ["frame.number", "frame.time_epoch", "ip.src", "ip.dst", "udp.srcport", "udp.dstport", "sip.Method",
              "sip.Status-Code", "frame.comment", "_ws.expert.severity", "_ws.malformed", "sip.resend", "sip.RSeq",
              "sip.RAck.RSeq.seq", "sip.RAck.CSeq.seq", "sip.RAck.CSeq.method"]
TCP_FIELDS = ["frame.number", "tcp.stream", "tcp.flags.str", "tcp.len", "sip.CSeq", "_ws.expert.severity",
              "_ws.malformed", "tcp.analysis.flags"]


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    """The hand-built call exported over UDP and TCP, read by tshark and sngrep (in parallel)."""
    from concurrent.futures import ThreadPoolExecutor

    tmp = tmp_path_factory.mktemp("handbuilt")
    out = {}
    for transport in ("UDP", "TCP"):
        path = tmp / f"call-{transport}.pcapng"
        with open(path, "wb") as f:
            out[transport + "-frames"] = write_pcapng(reliable_180_trace(transport), f, nodes=NODES)
        out[transport] = path
    with ThreadPoolExecutor(max_workers=3) as pool:
        udp = pool.submit(tshark_fields_and_stat, out["UDP"], UDP_FIELDS)
        tcp = pool.submit(tshark_fields_and_stat, out["TCP"], TCP_FIELDS)
        sng = pool.submit(sngrep_load, out["UDP"], tmp)
        out["udp-rows"], out["udp-stat"] = udp.result()
        out["tcp-rows"], _ = tcp.result()
        dialogs, parsed = sng.result()
        out["sngrep"] = (dialogs, pcap_record_count(parsed))
    return out


def test_checksum_is_rfc1071():
    # RFC 1071 §3 example bytes: sum 0xddf2, checksum its complement.
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == (~0xDDF2) & 0xFFFF


def test_pcap_udp_dissects_as_sip_with_comments_and_times(captures):
    rows, frames = captures["udp-rows"], captures["UDP-frames"]
    assert len(rows) == len(frames) == 12
    for row in rows:
        assert row[4] == row[5] == "5060"
        assert row[6] or row[7], row  # SIP request or response
        assert row[10] == "", row
        severities = [int(s) for s in row[9].split("|") if s]
        assert all(s < PI_WARN for s in severities), row
    assert [float(r[1]) - EPOCH for r in rows][:5] == pytest.approx([0.0, 0.01, 0.01, 0.05, 0.55], abs=1e-6)
    assert rows[0][2:4] == ["10.0.0.1", "10.0.0.2"]
    assert rows[3][8] == "sent by bob to edge; dropped on link edge-bob"
    assert rows[4][8] == "sent by bob to edge; retransmission 1 (RFC 3262 timer)"
    assert rows[7][8] == "sent by alice to bob; retransmission 1 (Timer E)"
    # Wireshark marks resent requests (not ACK/CANCEL) and resent finals, never provisionals.
    assert [r[0] for r in rows if r[11] == "1"] == ["8"]


def test_pcap_rseq_and_rack_decode(captures):
    rows = captures["udp-rows"]
    assert [r[12] for r in rows if r[12]] == ["1", "1", "1"]
    assert [r[13:16] for r in rows if r[13]] == [["1", "1", "INVITE"], ["1", "1", "INVITE"]]


def test_pcap_sip_stat_counts(captures):
    assert captures["udp-stat"] == {"messages": 12, "resent": 1}


def test_pcap_tcp_stream_is_plausible(captures):
    rows = captures["tcp-rows"]
    sip_rows = [r for r in rows if r[4]]
    assert len(sip_rows) == 12
    # Three connections (alice-edge, edge-bob, alice-bob), each opened with a handshake.
    assert len({r[1] for r in rows}) == 3 and len(rows) == 12 + 9
    for r in rows:
        assert r[6] == "" and r[7] == "", r
        assert all(int(s) < PI_WARN for s in r[5].split("|") if s), r


def test_sngrep_loads_the_capture(captures):
    assert captures["sngrep"] == (1, 12)


def test_export_is_deterministic(tmp_path):
    a, b = io.BytesIO(), io.BytesIO()
    write_pcapng(reliable_180_trace(), a, nodes=NODES)
    write_pcapng(reliable_180_trace(), b, nodes=NODES)
    assert a.getvalue() == b.getvalue()


def test_export_needs_message_objects():
    events = reliable_180_trace()
    for e in events:
        e.msg = None
    with pytest.raises(ValueError, match="trace='full'"):
        write_pcapng(events, io.BytesIO(), nodes=NODES)


def test_addresses_from_the_scenario_then_per_node():
    from simsip.cli.ladder import scenario_addresses
    from simsip.scenario import model as m
    from simsip.viz.pcap import assign_addresses

    sc = m.Scenario(nodes=(m.UserAgent(name="alice", host="192.0.2.10"), m.UserAgent(name="bob")))
    given = scenario_addresses(sc)
    assert given == {"alice": "192.0.2.10"}
    assert assign_addresses(["alice", "edge", "bob"], given) == {
        "alice": "192.0.2.10", "edge": "10.0.0.1", "bob": "10.0.0.2"}
    assert assign_addresses(NODES) == {"alice": "10.0.0.1", "edge": "10.0.0.2", "bob": "10.0.0.3"}


def test_empty_trace_draws_an_empty_ladder():
    lad = Ladder([])
    assert lad.flow.transmissions == [] and lad.mermaid() == "sequenceDiagram\n"
    ET.fromstring(lad.svg())
