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
from .tools import PI_WARN, pcap_record_count, sngrep_load, tshark_fields_and_stat, tshark_sip_stat

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"
# Captures are for looking at calls one by one: the shipped scenarios with a few
# explicit calls. Load generators (`calls ... poisson`, thousands of calls) are
# the sweeps' business and would make captures of hundreds of thousands of frames.
MAX_CALLS = 4


def _one_by_one(path: Path) -> bool:
    """True for a scenario of a few explicit calls (or one that does not load: its test says why)."""
    try:
        scenario = simsip.load(str(path))
    except Exception:
        return True
    return not scenario.streams and len(scenario.calls) <= MAX_CALLS


SHIPPED = sorted(p for p in (ROOT / "scenarios").glob("**/*.sip") if _one_by_one(p))
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


# Each case's slice of the merged capture starts this many seconds after the previous one.
CASE_SPACING = 10_000.0


@pytest.fixture(scope="module")
def all_exports(tmp_path_factory):
    """Every case run once and exported, all in ONE capture that tshark and sngrep read once.

    tshark spends a third of a second of CPU starting up, so one file per
    scenario would cost more than the whole area's budget. Each case gets its
    own network (10.<k>.0.0/24: Wireshark's per-address resend state never mixes
    two cases) and its own stretch of time; its frames are a slice of the file.
    The per-file export (`simsip pcap`) is checked in test_viz_cli and below.
    """
    from concurrent.futures import ThreadPoolExecutor

    from simsip.viz.pcap import assign_addresses, frames, write_frames

    tmp = tmp_path_factory.mktemp("cap")
    cases: dict[str, dict] = {}
    merged: list = []
    addresses: dict[str, str] = {}
    for k, (path, params, seed) in enumerate(CASES, start=1):
        params = _params(path, params)
        popts = [a for p in params for a in ("--param", p)]
        key = _case_id((path, params, seed))
        try:
            scenario = simsip.load(str(path), params=dict(p.split("=", 1) for p in params) or None)
            result = engine_run(scenario, seed=seed, trace="full")
        except Exception as exc:  # a scenario that cannot run fails its own tests only
            cases[key] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        flow = build_flow(result.trace, nodes=[n.name for n in scenario.nodes], run=0)
        addr = assign_addresses(flow.nodes, network=f"10.{k}.0.0/24")
        first = len(merged)
        for frame in frames(flow.transmissions, addr):
            merged.append(type(frame)(frame.t + k * CASE_SPACING, frame.data, frame.comment, frame.transmission))
        addresses.update({f"{n}.case{k}": ip for n, ip in addr.items()})
        # Exit 1 only says an expectation failed (the loss added here may break one).
        data = json.loads(_cli("run", str(path), "--format", "json", "--seed", str(seed), *popts, ok=(0, 1)))
        cases[key] = {"path": path, "flow": flow, "json": data, "trace": result.trace,
                      "slice": (first, len(merged))}
    cap = tmp / "all.pcapng"
    with open(cap, "wb") as f:
        write_frames(f, merged, addresses, description="viz tests: every shipped scenario")
    with ThreadPoolExecutor(max_workers=2) as pool:
        shark = pool.submit(tshark_fields_and_stat, cap, FIELDS)
        sng = pool.submit(sngrep_load, cap, tmp)
        rows, stat = shark.result()
        dialogs, parsed = sng.result()
    assert len(rows) == len(merged)
    for case in cases.values():
        if "error" not in case:
            lo, hi = case["slice"]
            case["rows"] = rows[lo:hi]
    return {"cases": cases, "stat": stat, "sngrep": (dialogs, pcap_record_count(parsed)), "frames": merged}


@pytest.fixture(params=CASES, ids=_case_id)
def exported(request, all_exports):
    """One case of :func:`all_exports`."""
    case = all_exports["cases"][_case_id(request.param)]
    if "error" in case:
        pytest.fail(f"{_case_id(request.param)} does not run: {case['error']}")
    return case


def test_sip_stat_of_all_captures_equals_simsip_counts(all_exports):
    """`tshark -z sip,stat`: SIP messages = simsip's transmissions, resent = frames marked resent."""
    cases = [c for c in all_exports["cases"].values() if "error" not in c]
    assert all_exports["stat"]["messages"] == sum(len(c["flow"].transmissions) for c in cases)
    assert all_exports["stat"]["resent"] == sum(len(wireshark_resends(c["flow"].transmissions)) for c in cases)


def test_sngrep_loads_every_capture(all_exports):
    """sngrep (-I FILE -N) parses every SIP message and finds every call."""
    cases = [c for c in all_exports["cases"].values() if "error" not in c]
    dialogs, packets = all_exports["sngrep"]
    assert packets == sum(len(c["flow"].transmissions) for c in cases)
    # sngrep keys dialogs on Call-ID alone; runs with the same seed may repeat one.
    assert dialogs == len({tx.call_id for c in cases for tx in c["flow"].transmissions})


def test_must_show_sip_stat_agrees_with_simsip_run_json(tmp_path):
    """Issue 8: `tshark -r out.pcapng -z sip,stat -q` on `simsip pcap` output vs `simsip run --format json`."""
    path = str(ROOT / "scenarios" / "rfc3262" / "reliable_180.sip")
    args = ("--param", "loss=30%", "--seed", "3")
    out = tmp_path / "out.pcapng"
    _cli("pcap", path, "-o", str(out), *args)
    data = json.loads(_cli("run", path, "--format", "json", *args, ok=(0, 1)))
    stat = tshark_sip_stat(out)
    [call] = data["calls"]
    assert stat["messages"] == call["messages_sent"]
    # Wireshark counts resent INVITEs, PRACKs and finals (2xx included), not provisionals.
    trace = engine_run(simsip.load(path, params={"loss": "30%"}), seed=3, trace="full").trace
    txs = build_flow(trace, run=0).transmissions
    visible = wireshark_resends(txs)
    by_kind = {
        "invite_retransmissions": sum(1 for i in visible if txs[i].message == "INVITE"),
        "prack_retransmissions": sum(1 for i in visible if txs[i].message == "PRACK"),
        "ok_retransmissions": sum(1 for i in visible if txs[i].timer == "2xx"),
    }
    # simsip's measures count every retransmission; Wireshark marks those its rule can see (module doc).
    # Here bob's 2xx retransmission right after his 200 to alice's BYE (another CSeq, same direction,
    # RFC 3261 §13.3.1.4: the 2xx goes on until its ACK) is one it cannot.
    every = {
        "invite_retransmissions": sum(1 for tx in txs if tx.message == "INVITE" and tx.retransmission),
        "prack_retransmissions": sum(1 for tx in txs if tx.message == "PRACK" and tx.retransmission),
        "ok_retransmissions": sum(1 for tx in txs if tx.timer == "2xx"),
    }
    assert every == {measure: call[measure] for measure in every}
    hidden = [round(tx.t, 3) for i, tx in enumerate(txs) if tx.timer == "2xx" and i not in visible]
    assert hidden == [4.05]
    assert by_kind == {**every, "ok_retransmissions": every["ok_retransmissions"] - len(hidden)}
    others = sum(1 for i in visible if txs[i].message not in ("INVITE", "PRACK") and txs[i].timer != "2xx")
    assert stat["resent"] == sum(by_kind.values()) + others


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
    rows = [r for r in exported["rows"] if r[1] or r[2]]
    calls = exported["json"]["calls"]
    assert len(rows) == len(exported["flow"].transmissions)
    in_calls = [tx for tx in exported["flow"].transmissions if tx.call_id in {c["call_id"] for c in calls}]
    if len(in_calls) == len(exported["flow"].transmissions):
        assert len(rows) == sum(c["messages_sent"] for c in calls)


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
            # The 2xx to the call's INVITE, resent by a UAS (DESIGN.md): the caller's own
            # 2xx to a re-INVITE from the callee (RFC 3665 §3.7) is not one of them.
            "ok_retransmissions": [i for i, tx in enumerate(txs) if tx.call_id == cid and tx.timer == "2xx"
                                   and tx.src != uac and tx.retransmission],
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


def test_explain_drop_fault_names_the_hop_not_a_link_rfc3261_13_3_1_4():
    """RFC 3261 §13.3.1.4 (ack_lost.sip): a `drop` statement loses the ACK before any link; no `link None`."""
    from simsip.viz.explain import explain

    path = ROOT / "scenarios" / "timers" / "ack_lost.sip"
    result = engine_run(simsip.load(str(path)), seed=1, trace="full")
    drops = [(round(ex.t, 3), ex.node, ex.what, str(ex)) for ex in explain(result.trace, run=0) if ex.event == "drop"]
    rule = "network: a drop fault removed the packet alice -> bob before it reached a link"
    assert drops == [(t, "alice", "ACK alice -> bob", rule) for t in (0.1, 0.6, 1.6)]


def test_explain_non_invite_100_trying_rfc4320_4_1():
    """RFC 4320 §4.1 (the golden proxy run): edge's 100 to alice's BYE, 3.5 s after it arrived, is the
    non-INVITE rule, not the INVITE's "stops retransmissions" one; the timer is explained too."""
    from simsip.viz.explain import explain

    result = engine_run(simsip.load(str(DATA / "reliable_180_proxy.sip"), {"loss": "30%"}), seed=3, trace="full")
    rules = [(round(ex.t, 3), ex.what, str(ex)) for ex in explain(result.trace, run=0, include_recv=False)
             if ex.node == "edge" and ("100 Trying" in ex.what or "nit-trying" in ex.what)]
    bye_rule = ("RFC 4320 §4.1: no response to the BYE by the time the client's Timer E reached T2: "
                "100 Trying tells the client it arrived and is still being worked on")
    assert rules[0][0] == 0.01 and "INVITE retransmissions" in rules[0][2]
    assert [r for r in rules if r[0] > 1] == [
        (6.61, "nit-trying timer", "RFC 4320 §4.1: no response to the non-INVITE by the time the client's "
                                   "Timer E reached T2: send 100 Trying"),
        (6.61, "100 Trying -> alice", bye_rule),
        (6.61, "100 Trying (retx 1) -> alice",
         "RFC 3261 §17.2.2: a retransmitted BYE arrived: the server transaction sends 100 Trying again"),
        (10.61, "100 Trying (retx 2) -> alice",
         "RFC 3261 §17.2.2: a retransmitted BYE arrived: the server transaction sends 100 Trying again")]


def test_must_show_ladder_of_reliable_180_at_30_percent_loss():
    """Issue 8: `simsip ladder scenarios/rfc3262/reliable_180.sip --param loss=30% --seed 3` (golden)."""
    out = _cli("ladder", str(ROOT / "scenarios" / "rfc3262" / "reliable_180.sip"), "--param", "loss=30%",
               "--seed", "3")
    _golden("reliable_180_loss30_seed3.txt", out)
    assert "X lost on alice-bob" in out and "(retx 1, Timer A)" in out


def test_node_crash_and_restart_are_in_the_trace_ladder_and_explain() -> None:
    """`at 1s node bob crash for 5s`: the trace, the ladder's notes and explain say when bob went down and came
    back, and the BYEs lost meanwhile say why (node down), not only on which link."""
    scenario = simsip.load("ua alice\nua bob\nlink alice <-> bob delay 10ms\non bob INVITE: send 200\n"
                           "on alice 200: wait 2s; hangup\nat 1s node bob crash for 5s\ncall alice -> bob\n")
    result = engine_run(scenario, trace="full")
    assert [(e.t, e.node, e.detail) for e in result.trace if e.event == "app" and e.call_id is None] == [
        (1.0, "bob", "node-crash"), (6.0, "bob", "node-restart")]
    text = Ladder.from_result(result, notes=True).render("text")
    rows = [" ".join(line.split()) for line in text.splitlines()]
    assert "1.000 | * bob: app: node-crash" in rows
    assert "6.000 | * bob: app: node-restart" in rows
    assert "2.020 |------X | BYE X lost on alice-bob (node down)" in rows
    from simsip.viz.explain import explain, explain_text

    out = explain_text(explain(result.trace, nodes=["alice", "bob"], run=0))
    assert ("fault: the node crashed; its transactions, dialogs and timers are lost, and what is sent to it "
            "is dropped until it restarts") in out
    assert "fault: the node restarted with a fresh core; no transaction or dialog survived" in out


def test_window_bound_keeps_a_row_whose_time_is_a_float_sum_of_it():
    """`--to 0.58` keeps the PRACK sent at t = 0.5800000000000001 (shown as 0.580), as `--from 0.58` does."""
    path = str(ROOT / "scenarios" / "rfc3262" / "forking_reliable.sip")
    args = ("--param", "loss=30%", "--seed", "2")
    upto = _cli("ladder", path, *args, "--from", "0.5", "--to", "0.58").splitlines()
    assert [line.split("|")[0].strip() for line in upto if line.strip().startswith("0.58")] == ["0.580"] * 2
    since = _cli("ladder", path, *args, "--from", "0.58", "--to", "0.58").splitlines()
    assert len([line for line in since if line.strip().startswith("0.580")]) == 2


def test_explain_proxy_cancel_is_its_own_not_a_forward_rfc3261_16_10():
    """RFC 3261 §16.10 (no_answer_cancel.sip): the proxy answers alice's CANCEL and sends bob a CANCEL of its
    own (one Via, its INVITE branch); explain used to call that a §16.6 forward because a CANCEL came in."""
    from simsip.viz.explain import explain

    result = engine_run(simsip.load(str(ROOT / "scenarios" / "basic" / "no_answer_cancel.sip")), seed=1, trace="full")
    rules = [(ex.node, ex.what, str(ex)) for ex in explain(result.trace, run=0, include_recv=False)
             if ex.event == "send" and ex.what.startswith("CANCEL")]
    assert rules == [
        ("alice", "CANCEL -> proxy", rules[0][2]),
        ("proxy", "CANCEL -> bob", "RFC 3261 §16.10, §9.1: the proxy CANCELs its pending branch: its own CANCEL, "
                                   "with that INVITE's branch")]
    assert not rules[0][2].startswith("RFC 3261 §16")


def test_call_tags_in_a_window_are_the_runs_numbers_that_call_selects():
    """A window that starts mid-run tags rows with the run's call numbers (c4, c5, ...), the ones `--call cN`
    resolves; the tags used to restart at c1 inside the window, so `--call c1` showed another call."""
    path = str(ROOT / "scenarios" / "networks" / "call_centre.sip")
    args = ("--param", "calls=6")
    window = _cli("ladder", path, *args, "--from", "0.3", "--to", "0.5").splitlines()[3:]
    first = window[0]
    assert first.split("|")[0].strip() == "0.308" and first.endswith("[c5] INVITE")
    only = _cli("ladder", path, *args, "--call", "c5", "--to", "0.31").splitlines()[3:]
    assert [line.split("|")[0].strip() for line in only] == ["0.308"] and only[0].endswith("INVITE")
