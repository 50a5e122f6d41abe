"""Real runs of shipped scenarios, exported and read back by the real tools (tshark, sngrep).

Every scenario in ``scenarios/`` (plus tests/viz/data/reliable_180_proxy.sip,
a reliable 180 through a proxy over a lossy link) is run through the CLI
(``simsip pcap``, ``simsip run --format json``) and the capture is checked
with tshark frame by frame against simsip's own trace.

Wireshark's idea of a resent SIP message (``sip.resend``) is narrower than
simsip's retransmission count; epan/dissectors/packet-sip.c
``sip_is_packet_resend()`` only looks at UDP, keys on (Call-ID, source,
destination), forgets as soon as another CSeq passes in that direction, never
marks ACK, CANCEL or provisional responses. :func:`wireshark_resends` applies
that rule to simsip's transmissions; the tests check that tshark marks
exactly those frames, that each is a simsip retransmission, and that every
simsip retransmission Wireshark can recognise is marked.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import simsip
from simsip.cli import main
from simsip.engine import run as engine_run
from simsip.viz.flow import Transmission, build_flow, link_ends
from simsip.viz.ladder import Ladder
from simsip.viz.pcap import write_pcapng
from simsip.cli.ladder import scenario_addresses
from .tools import PI_WARN, pcap_record_count, sngrep_load, tshark_fields_and_stat

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"
SHIPPED = sorted(p for p in (ROOT / "scenarios").glob("**/*.sip"))
CASES = [(DATA / "reliable_180_proxy.sip", ("loss=30%",), 3),
         (DATA / "reliable_180_proxy_tcp.sip", ("loss=30%",), 3)] + [
    (path, (), 1) for path in SHIPPED
]

FIELDS = ["frame.number", "sip.Method", "sip.Status-Code", "sip.Call-ID", "sip.CSeq", "sip.resend",
          "sip.RSeq", "sip.RAck.RSeq.seq", "sip.RAck.CSeq.seq", "sip.RAck.CSeq.method", "_ws.malformed",
          "_ws.expert.severity", "frame.comment", "sip.resend-original", "sip.to.tag"]


def _case_id(case: tuple[Path, tuple[str, ...], int]) -> str:
    """Test id: the scenario path inside the checkout."""
    return str(case[0].relative_to(ROOT))


def _cli(*args: str, ok: tuple[int, ...] = (0,)) -> str:
    """Run a simsip command in-process; its exit status must be one of ``ok``."""
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert res.exit_code in ok, res.output
    return res.output


def _params(scenario_path: Path, params: tuple[str, ...]) -> tuple[str, ...]:
    """Add loss to scenarios that have a `loss` param, so captures carry retransmissions."""
    sc = simsip.load(str(scenario_path))
    if params or sc.param("loss") is None:
        return params
    return ("loss=20%",)


def wireshark_resends(txs: list[Transmission]) -> set[int]:
    """Indices of the transmissions Wireshark 4's SIP dissector marks as resent (see module doc)."""
    state: dict[tuple[str | None, str, str], dict] = {}
    marked: set[int] = set()
    for i, tx in enumerate(txs):
        if (tx.transport or "UDP") != "UDP" or not tx.cseq:
            continue
        num, method = tx.cseq.split()
        key = (tx.call_id, tx.src, tx.dst)
        v = state.get(key)
        if v is None:
            v = state[key] = {"cseq": num, "method": method, "st": "nothing", "code": None}
            compare = None
        else:
            compare = v["cseq"]
            if num != v["cseq"]:
                v.update(cseq=num, method=method, st="nothing")
        code = tx.status
        if code is None:
            if num == compare and v["st"] == "request" and method == v["method"] and method not in ("ACK", "CANCEL"):
                marked.add(i)
            v["st"] = "request"
        else:
            if num == compare and v["st"] == "final" and method == v["method"] and code >= 200 and code == v["code"]:
                marked.add(i)
            if code >= 200:
                v["code"], v["st"] = code, "final"
            else:
                v["st"] = "provisional"
    return marked


@pytest.fixture(scope="module")
def all_exports(tmp_path_factory):
    """Every case run once, exported as `simsip pcap` does, read by tshark and sngrep in parallel.

    tshark costs about a second of start-up per file, mostly waiting; running
    the tools side by side keeps the whole module within its time budget.
    """
    from concurrent.futures import ThreadPoolExecutor

    cases = {}
    for path, params, seed in CASES:
        params = _params(path, params)
        tmp = tmp_path_factory.mktemp("cap")
        cap = tmp / "out.pcapng"
        popts = [a for p in params for a in ("--param", p)]
        scenario = simsip.load(str(path), params=dict(p.split("=", 1) for p in params) or None)
        result = engine_run(scenario, seed=seed, trace="full")
        # What `simsip pcap` writes (test_viz_cli checks the two are byte-identical).
        with open(cap, "wb") as f:
            write_pcapng(result.trace, f, nodes=[n.name for n in scenario.nodes],
                         addresses=scenario_addresses(scenario), run=0)
        # Exit 1 only says an expectation failed (the loss added here may break one).
        data = json.loads(_cli("run", str(path), "--format", "json", "--seed", str(seed), *popts, ok=(0, 1)))
        cases[_case_id((path, params, seed))] = {
            "path": path, "cap": cap, "tmp": tmp, "flow": build_flow(result.trace, run=0),
            "json": data, "trace": result.trace,
        }
    with ThreadPoolExecutor(max_workers=8) as pool:
        shark = {k: pool.submit(tshark_fields_and_stat, c["cap"], FIELDS) for k, c in cases.items()}
        sng = {k: pool.submit(sngrep_load, c["cap"], c["tmp"]) for k, c in cases.items()}
        for k, c in cases.items():
            c["rows"], c["stat"] = shark[k].result()
            dialogs, parsed = sng[k].result()
            c["sngrep_dialogs"], c["sngrep_packets"] = dialogs, pcap_record_count(parsed)
    return cases


@pytest.fixture(params=CASES, ids=_case_id)
def exported(request, all_exports):
    """One case of :func:`all_exports`."""
    return all_exports[_case_id(request.param)]


def test_every_frame_dissects_as_sip_without_errors(exported):
    txs = exported["flow"].transmissions
    rows = [r for r in exported["rows"] if r[1] or r[2]]
    assert len(rows) == len(txs) > 0
    # Over TCP the only other frames are the three of each connection's handshake.
    assert len(exported["rows"]) - len(rows) == 3 * len({frozenset((tx.src, tx.dst)) for tx in txs
                                                         if tx.transport == "TCP"})
    for row, tx in zip(rows, txs):
        assert row[10] == "", row  # no malformed packet
        assert all(int(s) < PI_WARN for s in row[11].split("|") if s), row
        assert (row[1] or row[2]) == (tx.method if tx.is_request else str(tx.status)), (row, tx.label)
        assert row[3] == tx.call_id and row[4] == tx.cseq


def test_tshark_counts_equal_simsip_transmissions_and_json(exported):
    stat = exported["stat"]
    calls = exported["json"]["calls"]
    assert stat["messages"] == len(exported["flow"].transmissions)
    in_calls = [tx for tx in exported["flow"].transmissions if tx.call_id in {c["call_id"] for c in calls}]
    if len(in_calls) == len(exported["flow"].transmissions):
        assert stat["messages"] == sum(c["messages_sent"] for c in calls)
    marked = [r for r in exported["rows"] if r[5] == "1"]
    assert stat["resent"] == len(marked)


def test_resent_frames_are_simsip_retransmissions(exported):
    txs = exported["flow"].transmissions
    rows = [r for r in exported["rows"] if r[1] or r[2]]
    marked = {i for i, r in enumerate(rows) if r[5] == "1"}
    assert marked == wireshark_resends(txs)
    # Every frame Wireshark calls resent is one simsip counted as a retransmission,
    # except where Wireshark's key (no tags) joins two dialogs: after a fork, the
    # PRACKs of two early dialogs share Call-ID and CSeq but not the To tag
    # (RFC 3261 §12: a dialog is Call-ID + both tags), so they are two messages.
    by_number = {r[0]: r for r in rows}
    for i in marked:
        if txs[i].retransmission == 0:
            original = by_number[rows[i][13]]
            assert original[14] != rows[i][14], (rows[i], original)
    # ... and every simsip retransmission Wireshark's rule can recognise is marked.
    retx = {i for i, tx in enumerate(txs) if tx.retransmission > 0}
    assert retx & wireshark_resends(txs) == retx & marked


def test_json_retransmission_measures_match_the_capture(exported):
    """invite/prack/ok retransmissions of `simsip run --format json` are frames of the capture."""
    txs = exported["flow"].transmissions
    rows = [r for r in exported["rows"] if r[1] or r[2]]
    visible = wireshark_resends(txs)
    for call in exported["json"]["calls"]:
        cid = call["call_id"]
        invites = [i for i, tx in enumerate(txs) if tx.call_id == cid and tx.message == "INVITE"]
        if not invites:
            continue
        uac = txs[invites[0]].src
        reliable = [tx for tx in txs if tx.call_id == cid and tx.rseq is not None]
        # The UASes originate reliable provisionals; proxies receive and forward them.
        uases = {tx.src for tx in reliable} - {tx.dst for tx in reliable}
        sets = {
            "invite_retransmissions": [i for i in invites if txs[i].src == uac and txs[i].retransmission],
            "prack_retransmissions": [i for i, tx in enumerate(txs) if tx.call_id == cid and tx.src == uac
                                      and tx.message == "PRACK" and tx.retransmission],
            "ok_retransmissions": [i for i, tx in enumerate(txs) if tx.call_id == cid and tx.timer == "2xx"
                                   and tx.retransmission],
            # At the UAS (where the first reliable provisional starts), by the RFC 3262
            # timer or resent for a retransmitted INVITE (RFC 3261 §17.2.1).
            "reliable_1xx_retransmissions": [i for i, tx in enumerate(txs) if tx.call_id == cid
                                             and tx.rseq is not None and tx.src in uases
                                             and tx.retransmission],
        }
        if len({txs[i].cseq for i in invites if txs[i].src == uac}) > 1:
            # A redirect or a challenge made the UAC send a new INVITE (new CSeq); how
            # that counts is the measures' definition (DESIGN.md), not a set of frames.
            del sets["invite_retransmissions"]
        for measure, frames in sets.items():
            assert len(frames) == call[measure], measure
            seen = [i for i in frames if rows[i][5] == "1"]
            assert seen == [i for i in frames if i in visible], measure


def test_rseq_and_rack_decode_to_what_simsip_sent(exported):
    txs = exported["flow"].transmissions
    rows = [r for r in exported["rows"] if r[1] or r[2]]
    for row, tx in zip(rows, txs):
        assert row[6] == ("" if tx.rseq is None else str(tx.rseq))
        if tx.rack:
            assert " ".join(row[7:10]) == tx.rack
        else:
            assert row[7:10] == ["", "", ""]


def test_comments_carry_sender_retransmission_and_loss(exported):
    txs = exported["flow"].transmissions
    rows = [r for r in exported["rows"] if r[1] or r[2]]
    for row, tx in zip(rows, txs):
        comment = row[12]
        assert comment.startswith(f"sent by {tx.src} to {tx.dst}")
        assert (f"retransmission {tx.retransmission}" in comment) == (tx.retransmission > 0)
        assert ("dropped" in comment) == tx.dropped
        if tx.dropped and link_ends(tx.link, exported["flow"].nodes):
            assert f"dropped on link {tx.link}" in comment
        elif tx.dropped:
            assert f"dropped ({tx.loss_reason or tx.link})" in comment


def test_sngrep_loads_the_capture(exported):
    calls = {tx.call_id for tx in exported["flow"].transmissions}
    assert exported["sngrep_dialogs"] == len(calls)
    assert exported["sngrep_packets"] == len(exported["flow"].transmissions)


# ------------------------------------------------------------------- ladders of real runs


def test_ladder_cli_golden_reliable_180():
    """The text ladder of the proxy scenario at 30 % loss, seed 3 (retransmissions and losses)."""
    out = _cli("ladder", str(DATA / "reliable_180_proxy.sip"), "--param", "loss=30%", "--seed", "3")
    _golden("reliable_180_proxy.txt", out)


def test_mermaid_cli_golden_reliable_180():
    out = _cli("ladder", str(DATA / "reliable_180_proxy.sip"), "--param", "loss=30%", "--seed", "3",
               "--format", "mermaid")
    _golden("reliable_180_proxy.mmd", out)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_scenario_has_a_ladder(path):
    """Each shipped scenario draws: one arrow per transmission of run 0."""
    result = engine_run(simsip.load(str(path)), seed=1, trace="full")
    lad = Ladder(result.trace, nodes=[n.name for n in result.scenario.nodes], run=0)
    sends = [e for e in result.trace if e.event == "send"]
    assert len(lad.flow.transmissions) == len(sends)
    assert lad.text().count("\n") == len(sends) + 1


def _golden(name: str, text: str) -> None:
    """Compare with tests/viz/golden/<name> (SIMSIP_REGEN_GOLDEN=1 rewrites it)."""
    import os

    path = GOLDEN / name
    if os.environ.get("SIMSIP_REGEN_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_ladder_from_a_result_in_a_notebook():
    """`Ladder.from_result(simsip.run(..., trace="full"))` is what a notebook cell shows."""
    scenario = simsip.load(str(DATA / "reliable_180_proxy.sip"), params={"loss": "30%"})
    result = simsip.run(scenario, runs=2, seed=3, trace="full")
    lad = Ladder.from_result(result, run=1)
    assert lad.flow.nodes[:3] == ["alice", "edge", "bob"]
    assert {tx.event.run for tx in lad.flow.transmissions} == {1}
    assert "<svg" in lad._repr_html_() and lad._repr_svg_().startswith("<svg")


def test_explain_prack_missing_rfc3262_section_3():
    """RFC 3262 §3: the 180 is retransmitted at T1, 2T1, 4T1 ... and 64*T1 without PRACK gives a 5xx."""
    from simsip.viz.explain import explain

    path = ROOT / "scenarios" / "timers" / "prack_missing.sip"
    result = engine_run(simsip.load(str(path)), seed=1, trace="full")
    rules = [str(ex) for ex in explain(result.trace, run=0, include_recv=False) if ex.event == "send"]
    retx = [r for r in rules if "reliable 180 retransmitted" in r]
    assert retx == [f"RFC 3262 §3: reliable 180 retransmitted after {d}, no PRACK yet"
                    for d in ("500 ms", "1 s", "2 s", "4 s", "8 s", "16 s")]
    assert any(r.startswith("RFC 3262 §3: no PRACK within 64*T1: the UAS rejects the INVITE with 5") for r in rules)
