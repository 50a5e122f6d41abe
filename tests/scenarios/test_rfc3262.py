"""RFC 3262 scenarios (scenarios/rfc3262/): exact flows, RSeq/RAck and timings from the trace."""

from __future__ import annotations

import simsip
from tests.scenarios.helpers import SCENARIOS, check_flow, flow, send_times, sends

DIR = SCENARIOS / "rfc3262"


def _trace(name: str, **params: str) -> list:
    """The full trace of run 0 of one scenario of the folder."""
    return simsip.run(simsip.load(DIR / name, params or None), trace="full").trace


def _check_flow(expected: list[str], got: list[str]) -> None:
    """Assert the transmissions equal the expected list (numbered 1, 2, ...), printing both on failure."""
    check_flow([(str(i + 1), e) for i, e in enumerate(expected)], got)


def test_reliable_180_flow_and_rack_rfc3262_s3_s7() -> None:
    """RFC 3262 §3/§7.2: 180 carries RSeq; the PRACK's RAck is `RSeq CSeq-num INVITE`; no retransmission."""
    trace = _trace("reliable_180.sip")
    _check_flow(["alice->bob INVITE", "bob->alice 180", "alice->bob PRACK", "bob->alice 200",
                 "bob->alice 200", "alice->bob ACK", "alice->bob BYE", "bob->alice 200"], flow(trace))
    ringing = next(e for e in sends(trace) if e.message == "180 Ringing")
    prack = next(e for e in sends(trace) if e.message == "PRACK")
    assert 1 <= ringing.rseq <= 2**31 - 1
    assert prack.rack == f"{ringing.rseq} 1 INVITE"
    assert "100rel" in ringing.msg.require
    # The INVITE's 200 leaves answer_after (2 s) after the INVITE arrived (0.05 s).
    assert send_times(trace, "bob", "200")[1] == 2.05


def test_second_reliable_waits_for_first_prack_rfc3262_s3() -> None:
    """RFC 3262 §3: the 180 leaves only when the 183's PRACK arrived; its RSeq is the 183's + 1."""
    trace = _trace("two_reliable_provisionals.sip", delay="100ms")
    first = next(e for e in sends(trace) if e.message == "183 Session Progress")
    second = next(e for e in sends(trace) if e.message == "180 Ringing")
    pracks = [e for e in sends(trace) if e.message == "PRACK"]
    assert second.rseq == first.rseq + 1
    # 183 at 0.1, PRACK arrives at bob at 0.3: the 180 cannot leave before.
    assert round(second.t, 6) == 0.3
    assert [p.rack for p in pracks] == [f"{first.rseq} 1 INVITE", f"{second.rseq} 1 INVITE"]
    assert [p.cseq for p in pracks] == ["2 PRACK", "3 PRACK"]


def test_early_media_183_carries_sdp_rfc3262_s5() -> None:
    """RFC 3262 §5: the answer in a reliable 183; the 200 follows answer_after later."""
    trace = _trace("early_media_183.sip")
    progress = next(e for e in sends(trace) if e.message == "183 Session Progress")
    assert progress.msg.body and progress.msg.content_type == "application/sdp"
    assert progress.rseq is not None
    assert send_times(trace, "bob", "200")[:2] == [0.15, 3.05]


def test_prack_lost_schedule_rfc3262_s3() -> None:
    """RFC 3262 §3 + RFC 3261 §17.1.2.2: 180 retransmitted at T1, PRACK retransmitted on Timer E, same CSeq."""
    trace = _trace("prack_lost.sip")
    assert send_times(trace, "bob", "180") == [0.05, 0.55]
    assert send_times(trace, "alice", "PRACK") == [0.1, 0.6]
    pracks = [e for e in sends(trace) if e.message == "PRACK"]
    assert {p.cseq for p in pracks} == {"2 PRACK"}
    assert [p.retransmission for p in pracks] == [0, 1]


def test_prack_200_lost_answered_by_server_transaction_rfc3261_s17_2_2() -> None:
    """RFC 3261 §17.2.2: the retransmitted PRACK is answered with the same 200; the 180 is not resent."""
    trace = _trace("prack_ok_lost.sip")
    assert send_times(trace, "bob", "180") == [0.05]
    assert send_times(trace, "alice", "PRACK") == [0.1, 0.6]
    oks = [e for e in sends(trace) if e.src == "bob" and e.cseq == "2 PRACK"]
    assert [round(e.t, 6) for e in oks] == [0.15, 0.65]
    # The comment's "it does not reach the UA core twice": bob's application sees one PRACK.
    seen = [round(e.t, 6) for e in trace if e.event == "app" and e.node == "bob" and "method=PRACK" in (e.detail or "")]
    assert seen == [0.15]


def test_420_lists_unsupported_100rel_rfc3262_s4() -> None:
    """RFC 3262 §4 / RFC 3261 §8.2.2.3: 420 Bad Extension with Unsupported: 100rel; no 180 at all."""
    trace = _trace("no_100rel_420.sip")
    _check_flow(["alice->bob INVITE", "bob->alice 420", "alice->bob ACK"], flow(trace))
    bad = next(e for e in sends(trace) if e.message.startswith("420"))
    assert "100rel" in bad.msg.unsupported


def test_forking_two_early_dialogs_rfc3262_s4() -> None:
    """RFC 3262 §4 / RFC 3261 §12.1.2: two reliable 180s with different To tags, each PRACKed in its dialog."""
    trace = _trace("forking_reliable.sip")
    ringing = [e for e in sends(trace) if e.src == "proxy" and e.dst == "alice" and e.message == "180 Ringing"]
    assert len(ringing) == 2
    assert ringing[0].msg.to.tag != ringing[1].msg.to.tag
    pracks = [e for e in sends(trace) if e.src == "proxy" and e.message == "PRACK"]
    assert sorted(p.dst for p in pracks) == ["bob", "bob2"]
    for p in pracks:
        answered = next(r for r in ringing if r.rseq == int(p.rack.split()[0]))
        assert p.msg.to.tag == answered.msg.to.tag
    # The losing branch is cancelled: CANCEL, 200, 487, ACK on proxy<->bob2.
    tail = [f for f in flow(trace) if "bob2" in f and ("CANCEL" in f or "487" in f)]
    assert tail == ["proxy->bob2 CANCEL", "bob2->proxy 487"]


def _forged(rack: str | None = None) -> list:
    """Trace of forged_prack.sip, with mallory's RAck replaced by ``rack`` when given."""
    text = (DIR / "forged_prack.sip").read_text()
    if rack is not None:
        text = text.replace('rack "1 1 INVITE"', f'rack "{rack}"')
    return simsip.run(simsip.load(text), trace="full").trace


def test_blind_forged_prack_gets_481_rfc3262_s3_s7_2() -> None:
    """RFC 3262 §3/§7.2: a PRACK whose RAck names no unacknowledged 1xx is answered 481; retransmission goes on."""
    trace = _forged()
    answer = next(e for e in sends(trace) if e.src == "bob" and e.dst == "mallory")
    assert answer.message.startswith("481")
    timer_retransmissions = [round(e.t, 6) for e in sends(trace)
                             if e.src == "bob" and e.message == "180 Ringing" and e.timer is not None]
    assert 3.55 in timer_retransmissions  # still retransmitting after the forgery at 1 s


def test_sniffed_forged_prack_stops_retransmission_rfc3262_s9() -> None:
    """RFC 3262 §9: with the 180's real RSeq, mallory's PRACK is accepted (200) and bob stops
    retransmitting a 180 that alice never received."""
    rseq = next(e.rseq for e in sends(_forged()) if e.src == "bob" and e.message == "180 Ringing")
    trace = _forged(f"{rseq} 1 INVITE")
    answer = next(e for e in sends(trace) if e.src == "bob" and e.dst == "mallory")
    assert answer.message.startswith("200")
    by_timer = [round(e.t, 6) for e in sends(trace) if e.src == "bob" and e.message == "180 Ringing" and e.timer]
    assert by_timer == [0.55]  # the RFC 3262 timer stops once the forged PRACK arrives (1.05 s)
    # alice, who has heard nothing, still retransmits her INVITE; each copy makes bob's server
    # transaction resend its latest provisional (RFC 3261 §17.2.1), and those are lost too.
    echoes = [round(e.t, 6) for e in sends(trace) if e.src == "bob" and e.message == "180 Ringing"
              and not e.timer and e.retransmission]
    assert echoes == [0.55, 1.55, 3.55]
    assert not [e for e in trace if e.event == "recv" and e.node == "alice" and e.message == "180 Ringing"]


def test_2xx_waits_for_prack_of_1xx_with_sdp_rfc3262_s3() -> None:
    """RFC 3262 §3: a 2xx MUST NOT be sent while a reliable 1xx with SDP is unPRACKed: with answer_after=0 the
    INVITE's 200 leaves only when the 183's PRACK arrives (0.15 s), right after the PRACK's own 200."""
    trace = _trace("early_media_183.sip", answer_after="0s")
    oks = [(round(e.t, 6), e.cseq) for e in sends(trace) if e.src == "bob" and e.message == "200 OK"]
    assert oks[:2] == [(0.15, "2 PRACK"), (0.15, "1 INVITE")]


def test_final_overtakes_queued_reliable_1xx_rfc3262_s3() -> None:
    """RFC 3262 §3: with delay 1.2 s the 183's PRACK reaches bob (3.6 s) after his 200 (3.2 s); the queued
    180 is never sent ('MUST NOT send new reliable provisional responses ... after sending a final response')."""
    trace = _trace("two_reliable_provisionals.sip", delay="1.2s")
    assert not [e for e in sends(trace) if e.message == "180 Ringing"]
    assert [round(e.t, 6) for e in sends(trace) if e.src == "bob" and e.cseq == "1 INVITE"
            and e.message == "200 OK" and not e.retransmission] == [3.2]
    assert {e.cseq for e in sends(trace) if e.message == "PRACK"} == {"2 PRACK"}
