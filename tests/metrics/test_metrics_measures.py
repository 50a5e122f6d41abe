"""Folding hand-written trace streams into exact per-call records (DESIGN.md "Measures")."""

from __future__ import annotations

import pytest

from simsip.metrics.measures import RECORD_FIELDS, CallFolder, CallTable
from simsip.metrics.trace import fold_events

from tests.metrics.streams import CID, app, drop, fold_one, hop, ordered, recv, send, timer

D = 0.05  # one-way delay alice <-> bob


def basic_call():
    """INVITE, 200, ACK, then alice hangs up (BYE, 200): no loss."""
    return ordered(
        hop(0.0, "alice", "bob", "INVITE"),
        hop(0.05, "bob", "alice", "200 OK"),
        hop(0.1, "alice", "bob", "ACK", cseq="1 ACK"),
        hop(0.2, "alice", "bob", "BYE", cseq="2 BYE"),
        hop(0.25, "bob", "alice", "200 OK", cseq="2 BYE"),
    )


def test_record_has_every_design_field_in_order():
    """The record fields are DESIGN.md's names, in the documented order."""
    record = fold_one(basic_call())
    assert tuple(record) == RECORD_FIELDS
    assert record["run"] == 0 and record["call_id"] == CID


def test_final_ms_and_final_code_answered_call():
    """final_ms: first INVITE transmission -> first final received at the UAC."""
    record = fold_one(basic_call())
    assert record["final_ms"] == 100.0
    assert record["final_code"] == 200
    assert record["outcome"] == "answered"
    assert record["pdd_ms"] is None  # no 18x at all


def test_messages_sent_and_lost_count_every_transmission():
    """messages_sent counts every send of the Call-ID (all methods); messages_lost every drop."""
    record = fold_one(basic_call())
    assert record["messages_sent"] == 5
    assert record["messages_lost"] == 0


def test_lost_final_response_retransmitted_by_uas_core():
    """RFC 3261 §13.3.1.4: the 2xx is lost, the UAS core resends it after T1 (ok_retransmissions)."""
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE"),
        hop(0.05, "bob", "alice", "200 OK", lost=True),
        timer(0.5, "alice", "A"),
        hop(0.5, "alice", "bob", "INVITE", rtx=1, timer="A"),  # absorbed in Accepted (RFC 6026)
        timer(0.55, "bob", "2xx"),
        hop(0.55, "bob", "alice", "200 OK", rtx=1, timer="2xx"),
        hop(0.6, "alice", "bob", "ACK", cseq="1 ACK"),
    )
    record = fold_one(events)
    assert record["final_ms"] == 600.0
    assert record["invite_retransmissions"] == 1
    assert record["ok_retransmissions"] == 1
    assert record["messages_sent"] == 5
    assert record["messages_lost"] == 1
    assert record["outcome"] == "answered"


def test_pdd_is_first_18x_not_100_trying():
    """pdd_ms: first INVITE -> first 18x; a 100 Trying does not count."""
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE"),
        hop(0.25, "bob", "alice", "100 Trying"),
        hop(0.3, "bob", "alice", "180 Ringing"),
        hop(0.4, "bob", "alice", "183 Session Progress"),
        hop(1.05, "bob", "alice", "200 OK"),
    )
    record = fold_one(events)
    assert record["pdd_ms"] == 350.0
    assert record["final_ms"] == 1100.0


def test_invite_retransmissions_timer_a_schedule():
    """RFC 3261 §17.1.1.2: INVITE at 0, 0.5, 1.5, 3.5; the 200 to the 4th arrives: 3 retransmissions."""
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE", lost=True),
        hop(0.5, "alice", "bob", "INVITE", rtx=1, timer="A", lost=True),
        hop(1.5, "alice", "bob", "INVITE", rtx=2, timer="A", lost=True),
        hop(3.5, "alice", "bob", "INVITE", rtx=3, timer="A"),
        hop(3.55, "bob", "alice", "200 OK"),
    )
    record = fold_one(events)
    assert record["invite_retransmissions"] == 3
    assert record["final_ms"] == 3600.0
    assert record["messages_lost"] == 3


def test_timeout_timer_b_without_final():
    """Timer B fires at 64*T1 with no response: outcome timeout, final_code 408 (RFC 3261 §8.1.3.1), no final_ms."""
    sends = [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    events = ordered(
        *[hop(s, "alice", "bob", "INVITE", rtx=i, lost=True) for i, s in enumerate(sends)],
        timer(32.0, "alice", "B"),
    )
    record = fold_one(events)
    assert record["outcome"] == "timeout"
    assert record["final_code"] == 408 and record["final_ms"] is None
    assert record["invite_retransmissions"] == 6
    assert record["messages_sent"] == 7 and record["messages_lost"] == 7


def test_final_408_is_a_timeout():
    """DESIGN.md: outcome timeout covers a 408 final (e.g. a proxy's Timer C / B)."""
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE"),
        hop(0.05, "bob", "alice", "408 Request Timeout"),
    )
    record = fold_one(events)
    assert record["outcome"] == "timeout"
    assert record["final_code"] == 408


def test_late_2xx_after_timer_b_is_not_the_final():
    """A 2xx arriving after Timer B ended the INVITE transaction is stray: still a timeout."""
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE"),
        hop(0.05, "bob", "alice", "200 OK", lost=True),
        timer(32.0, "alice", "B"),
        hop(32.05, "bob", "alice", "200 OK", rtx=10, timer="2xx"),
    )
    record = fold_one(events)
    assert record["outcome"] == "timeout"
    assert record["final_ms"] is None
    assert record["ok_retransmissions"] == 1


def test_final_after_fallback_invite_counts():
    """After Timer B, a new INVITE (same CSeq, RFC 3263 fallback) makes a later final count."""
    events = ordered(
        hop(0.0, "alice", "p1", "INVITE", lost=True),
        timer(32.0, "alice", "B"),
        hop(32.0, "alice", "p2", "INVITE"),
        hop(32.05, "p2", "alice", "200 OK"),
    )
    record = fold_one(events)
    assert record["outcome"] == "answered"
    assert record["final_ms"] == 32100.0
    assert record["invite_retransmissions"] == 1


def test_failover_invite_with_new_cseq_counts():
    """RFC 3263 §4.3 fallback with a new CSeq (the cores' resend): measures follow it."""
    events = ordered(
        hop(0.0, "alice", "p1", "INVITE", lost=True),
        timer(32.0, "alice", "B"),
        hop(32.0, "alice", "p2", "INVITE", cseq="2 INVITE"),
        hop(32.05, "p2", "alice", "200 OK", cseq="2 INVITE"),
    )
    record = fold_one(events)
    assert record["outcome"] == "answered"
    assert record["final_ms"] == 32100.0
    assert record["invite_retransmissions"] == 1


def test_timer_b_of_the_invite_left_behind_is_not_the_new_ones_outcome():
    """After Timer B and a failover INVITE (CSeq 2) still pending when the run ends: incomplete, not timeout."""
    events = ordered(
        hop(0.0, "alice", "p1", "INVITE", lost=True),
        timer(32.0, "alice", "B"),
        hop(32.0, "alice", "p2", "INVITE", cseq="2 INVITE"),
        hop(32.05, "p2", "alice", "100 Trying", cseq="2 INVITE"),
    )
    record = fold_one(events)
    assert record["outcome"] == "incomplete"
    assert record["final_code"] is None and record["final_ms"] is None
    assert record["invite_retransmissions"] == 1


def test_uas_2xx_to_the_earlier_cseq_counts_before_and_after_the_failover():
    """bob's 2xx to CSeq 1 is sent 4 times, twice after alice moved to CSeq 2: 3 retransmissions.

    The count must not depend on when the UAC resent its INVITE, and p1, which first
    receives that 2xx after the resend, only relays it.
    """
    events = ordered(
        hop(0.0, "alice", "p1", "INVITE"),
        hop(0.05, "p1", "bob", "INVITE"),
        hop(20.0, "bob", "p1", "200 OK", lost=True),
        hop(20.5, "bob", "p1", "200 OK", rtx=1, timer="2xx", lost=True),
        timer(32.0, "alice", "B"),
        hop(32.0, "alice", "p2", "INVITE", cseq="2 INVITE"),
        hop(32.05, "p2", "alice", "200 OK", cseq="2 INVITE"),
        hop(33.0, "bob", "p1", "200 OK", rtx=2, timer="2xx"),
        hop(33.05, "p1", "alice", "200 OK"),
        hop(34.0, "bob", "p1", "200 OK", rtx=3, timer="2xx"),
        hop(34.05, "p1", "alice", "200 OK"),
    )
    record = fold_one(events)
    assert record["outcome"] == "answered"
    assert record["final_ms"] == 32100.0
    assert record["ok_retransmissions"] == 3


def test_auth_retry_401_then_answered():
    """RFC 3261 §22.2: 401, INVITE again with credentials (CSeq 2), then 200: answered."""
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE"),
        hop(0.05, "bob", "alice", "401 Unauthorized"),
        hop(0.1, "alice", "bob", "ACK", cseq="1 ACK"),
        hop(0.1, "alice", "bob", "INVITE", cseq="2 INVITE"),
        hop(0.15, "bob", "alice", "180 Ringing", cseq="2 INVITE"),
        hop(0.5, "bob", "alice", "200 OK", cseq="2 INVITE"),
    )
    record = fold_one(events)
    assert record["outcome"] == "answered"
    assert record["final_code"] == 200
    assert record["final_ms"] == 550.0
    assert record["pdd_ms"] == 200.0
    assert record["failed_session_request_delay_ms"] is None
    assert record["session_request_delay_ms"] == 200.0


def test_reinvite_after_answer_is_not_the_initial_invite():
    """A re-INVITE (new CSeq, after the 2xx) changes no INVITE or 2xx measure."""
    events = ordered(
        basic_call()[:6],
        hop(1.0, "alice", "bob", "INVITE", cseq="3 INVITE"),
        hop(1.05, "bob", "alice", "200 OK", cseq="3 INVITE", lost=True),
        hop(1.55, "bob", "alice", "200 OK", cseq="3 INVITE", rtx=1, timer="2xx"),
    )
    record = fold_one(events)
    assert record["invite_retransmissions"] == 0
    assert record["ok_retransmissions"] == 0
    assert record["final_ms"] == 100.0


def test_rejected_486_and_failed_session_request_delay():
    """A 486 with no provisional before: rejected; RFC 6076 §4.3.2 failed SRD to the 486."""
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE"),
        hop(0.05, "bob", "alice", "486 Busy Here"),
        hop(0.1, "alice", "bob", "ACK", cseq="1 ACK"),
    )
    record = fold_one(events)
    assert record["outcome"] == "rejected"
    assert record["final_code"] == 486
    assert record["failed_session_request_delay_ms"] == 100.0
    assert record["session_request_delay_ms"] is None


def test_session_request_delay_successful_is_first_non_100_provisional():
    """RFC 6076 §4.3.1: SRD ends at the first non-100 provisional, even if the call then fails."""
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE"),
        hop(0.05, "bob", "alice", "100 Trying"),
        hop(0.3, "bob", "alice", "180 Ringing"),
        hop(2.0, "bob", "alice", "603 Decline"),
    )
    record = fold_one(events)
    assert record["session_request_delay_ms"] == 350.0
    assert record["failed_session_request_delay_ms"] is None
    assert record["outcome"] == "rejected"


def test_redirect_3xx_has_no_session_request_delay():
    """A 3xx is neither success nor failure for SRD (RFC 6076 §4.3)."""
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE"),
        hop(0.05, "bob", "alice", "302 Moved Temporarily"),
    )
    record = fold_one(events)
    assert record["outcome"] == "rejected"
    assert record["session_request_delay_ms"] is None
    assert record["failed_session_request_delay_ms"] is None


def reliability_failure_events(with_timer: bool):
    """RFC 3262 §3: 183 delivered, every PRACK lost, UAS gives up after 64*T1 with a 500."""
    prack_times = [0.1, 0.6, 1.6, 3.6, 7.6, 11.6, 15.6, 19.6, 23.6, 27.6, 31.6]
    rel_times = [0.05, 0.55, 1.55, 3.55, 7.55, 15.55, 31.55]
    groups = [hop(0.0, "alice", "bob", "INVITE")]
    for i, s in enumerate(rel_times):
        groups.append(hop(s, "bob", "alice", "183 Session Progress", rseq=1, rtx=i,
                          timer="1xx-rel" if i else None, lost=i in (2, 4)))
    for i, s in enumerate(prack_times):
        groups.append(hop(s, "alice", "bob", "PRACK", cseq="2 PRACK", rack="1 1 INVITE",
                          rtx=i, timer="E" if i else None, lost=True))
    if with_timer:
        groups.append(timer(32.05, "bob", "prack-wait"))
    else:
        groups.append(app(32.05, "bob", "reliability-failure"))
    groups.append(hop(32.05, "bob", "alice", "500 Server Internal Error"))
    return ordered(*groups)


@pytest.mark.parametrize("with_timer", [True, False], ids=["prack-wait-timer", "app-event"])
def test_reliability_failure(with_timer):
    """The UAS gave up waiting for PRACK: outcome reliability_failure, not rejected."""
    record = fold_one(reliability_failure_events(with_timer))
    assert record["outcome"] == "reliability_failure"
    assert record["final_code"] == 500
    assert record["final_ms"] == 32100.0
    assert record["pdd_ms"] == 100.0


def test_reliable_1xx_retransmissions_at_the_uas():
    """RFC 3262 §3: transmissions of the reliable 183 (7) minus 1, counted at the UAS."""
    record = fold_one(reliability_failure_events(True))
    assert record["reliable_1xx_retransmissions"] == 6


def test_prack_count_and_retransmissions_all_lost():
    """One PRACK sent 11 times (Timer E, RFC 3261 §17.1.2.2): prack_count 1, 10 retransmissions."""
    record = fold_one(reliability_failure_events(True))
    assert record["prack_count"] == 1
    assert record["prack_retransmissions"] == 10


def test_prack_retransmission_then_second_reliable_provisional():
    """Two reliable provisionals (RSeq 7, 8): prack_count 2; one PRACK and one 180 retransmitted."""
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE"),
        hop(0.05, "bob", "alice", "180 Ringing", rseq=7, lost=True),
        hop(0.55, "bob", "alice", "180 Ringing", rseq=7, rtx=1, timer="1xx-rel"),
        hop(0.6, "alice", "bob", "PRACK", cseq="2 PRACK", rack="7 1 INVITE", lost=True),
        hop(1.1, "alice", "bob", "PRACK", cseq="2 PRACK", rack="7 1 INVITE", rtx=1, timer="E"),
        hop(1.15, "bob", "alice", "200 OK", cseq="2 PRACK"),
        hop(1.5, "bob", "alice", "183 Session Progress", rseq=8),
        hop(1.55, "alice", "bob", "PRACK", cseq="3 PRACK", rack="8 1 INVITE"),
        hop(1.6, "bob", "alice", "200 OK", cseq="3 PRACK"),
        hop(2.0, "bob", "alice", "200 OK"),
    )
    record = fold_one(events)
    assert record["prack_count"] == 2
    assert record["prack_retransmissions"] == 1
    assert record["reliable_1xx_retransmissions"] == 1
    assert record["ok_retransmissions"] == 0  # the 200s to PRACK are not 2xx to the INVITE
    assert record["final_ms"] == 2050.0
    assert record["pdd_ms"] == 600.0


def test_cancel():
    """RFC 3261 §9: the UAC cancels after ringing; 487 arrives: outcome cancelled."""
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE"),
        hop(0.05, "bob", "alice", "180 Ringing"),
        hop(1.0, "alice", "bob", "CANCEL", cseq="1 CANCEL"),
        hop(1.05, "bob", "alice", "200 OK", cseq="1 CANCEL"),
        hop(1.05, "bob", "alice", "487 Request Terminated"),
        hop(1.1, "alice", "bob", "ACK", cseq="1 ACK"),
    )
    record = fold_one(events)
    assert record["outcome"] == "cancelled"
    assert record["final_code"] == 487
    assert record["final_ms"] == 1100.0


def test_cancel_losing_the_race_to_a_2xx_is_answered():
    """RFC 3261 §9.1: a CANCEL that crosses the 2xx leaves the call answered."""
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE"),
        hop(0.05, "bob", "alice", "200 OK"),
        hop(0.08, "alice", "bob", "CANCEL", cseq="1 CANCEL"),
    )
    assert fold_one(events)["outcome"] == "answered"


def forked_call():
    """alice -> edge (10 ms) -> bob1, bob2 (50 ms): both ring reliably and answer (RFC 3261 §16.7)."""
    return ordered(
        hop(0.0, "alice", "edge", "INVITE", delay=0.01),
        hop(0.01, "edge", "alice", "100 Trying", delay=0.01),
        hop(0.01, "edge", "bob1", "INVITE"),
        hop(0.01, "edge", "bob2", "INVITE"),
        hop(0.06, "bob1", "edge", "180 Ringing", rseq=11),
        hop(0.11, "edge", "alice", "180 Ringing", rseq=11, delay=0.01),
        hop(0.06, "bob2", "edge", "180 Ringing", rseq=22, lost=True, link="edge-bob2"),
        hop(0.12, "alice", "edge", "PRACK", cseq="2 PRACK", rack="11 1 INVITE", delay=0.01),
        hop(0.13, "edge", "bob1", "PRACK", cseq="2 PRACK", rack="11 1 INVITE"),
        hop(0.56, "bob2", "edge", "180 Ringing", rseq=22, rtx=1, timer="1xx-rel"),
        hop(0.61, "edge", "alice", "180 Ringing", rseq=22, delay=0.01),
        hop(0.62, "alice", "edge", "PRACK", cseq="2 PRACK", rack="22 1 INVITE", delay=0.01),
        hop(0.63, "edge", "bob2", "PRACK", cseq="2 PRACK", rack="22 1 INVITE"),
        hop(1.0, "bob1", "edge", "200 OK"),
        hop(1.05, "edge", "alice", "200 OK", delay=0.01),
        hop(1.2, "bob2", "edge", "200 OK", lost=True, link="edge-bob2"),
        hop(1.7, "bob2", "edge", "200 OK", rtx=1, timer="2xx"),
        hop(1.75, "edge", "alice", "200 OK", delay=0.01),
    )


def test_forked_call_counts_each_uas_and_never_the_proxy():
    """Forking: one Call-ID, two UASes; the proxy's forwards are not UAS transmissions."""
    record = fold_one(forked_call())
    assert record["outcome"] == "answered"
    assert record["final_ms"] == 1060.0  # the first 2xx (bob1) wins
    assert record["pdd_ms"] == 120.0
    assert record["invite_retransmissions"] == 0  # the proxy's INVITEs are not the UAC's
    assert record["reliable_1xx_retransmissions"] == 1  # bob2's 180 sent twice
    assert record["ok_retransmissions"] == 1  # bob2's 200 sent twice
    assert record["prack_count"] == 2  # one per early dialog (same CSeq, different RAck)
    assert record["prack_retransmissions"] == 0
    assert record["messages_lost"] == 2


def test_proxy_own_retransmissions_and_node_counters():
    """Per-node counters: sent, own retransmissions, received, dropped, timers; drops per link."""
    events = ordered(
        hop(0.0, "alice", "edge", "INVITE", delay=0.01),
        hop(0.01, "edge", "bob", "INVITE", lost=True, link="edge-bob"),
        timer(0.51, "edge", "A"),
        hop(0.51, "edge", "bob", "INVITE", rtx=1, timer="A"),
        hop(0.56, "bob", "edge", "200 OK"),
        hop(0.61, "edge", "alice", "200 OK", delay=0.01),
    )
    folder = CallFolder(0)
    for event in events:
        folder.feed(event)
    nodes = folder.nodes.to_dict()
    assert nodes["nodes"]["edge"] == {
        "sent": 3, "retransmissions": 1, "received": 2, "dropped": 1, "timers": 1}
    assert nodes["nodes"]["alice"] == {
        "sent": 1, "retransmissions": 0, "received": 1, "dropped": 0, "timers": 0}
    assert nodes["links"] == {"edge-bob": {"dropped": 1}}
    record = folder.records()[0]
    assert record["invite_retransmissions"] == 0  # the proxy's Timer A is its own, not the UAC's
    assert record["final_ms"] == 620.0


def test_call_with_no_final_response_is_incomplete():
    """No final, no timer: the run ended first."""
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE"),
        hop(0.05, "bob", "alice", "180 Ringing"),
    )
    record = fold_one(events)
    assert record["outcome"] == "incomplete"
    assert record["final_ms"] is None and record["final_code"] is None
    assert record["pdd_ms"] == 100.0


def test_call_ended_event_names_outcome_when_stream_shows_none():
    """An app call-ended event at the UAC supplies the outcome when nothing else decides it."""
    events = ordered(hop(0.0, "alice", "bob", "INVITE"), app(40.0, "alice", "call-ended",
                                                             outcome="timeout"))
    assert fold_one(events)["outcome"] == "timeout"


def test_session_disconnect_delay_and_completion():
    """RFC 6076 §4.4 / §4.9: BYE -> its 200 is the SDD; the call is completed."""
    record = fold_one(basic_call())
    assert record["session_disconnect_delay_ms"] == 100.0
    assert record["completed"] is True


@pytest.mark.parametrize("how", ["app-timeout", "timer-F"])
def test_session_disconnect_delay_ends_at_bye_timeout(how):
    """RFC 6076 §4.4: a BYE with no answer ends at its timeout (64*T1); not completed."""
    bye_times = [5.0, 5.5, 6.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5, 32.5, 36.5]
    end = app(37.0, "bob", "timeout", cseq="1 BYE") if how == "app-timeout" else timer(
        37.0, "bob", "F", cseq="1 BYE")
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE"),
        hop(0.05, "bob", "alice", "200 OK"),
        hop(0.1, "alice", "bob", "ACK", cseq="1 ACK"),
        *[hop(s, "bob", "alice", "BYE", cseq="1 BYE", rtx=i, lost=True)
          for i, s in enumerate(bye_times)],
        end,
    )
    record = fold_one(events)
    assert record["session_disconnect_delay_ms"] == 32000.0
    assert record["completed"] is False
    assert record["outcome"] == "answered"


def test_non_invite_call_ids_make_no_record():
    """A REGISTER dialogue is not a call: no record, but node counters still count it."""
    events = ordered(
        hop(0.0, "alice", "registrar", "REGISTER", cseq="1 REGISTER", call_id="reg-1"),
        hop(0.05, "registrar", "alice", "200 OK", cseq="1 REGISTER", call_id="reg-1"),
    )
    folder = CallFolder(0)
    for event in events:
        folder.feed(event)
    assert len(folder.records()) == 0
    assert folder.nodes.to_dict()["nodes"]["alice"]["sent"] == 1


def test_several_calls_and_runs_ordered_by_run_then_first_invite():
    """Records come out by run, then by first INVITE time; runs are folded separately."""
    events = ordered(
        hop(0.0, "alice", "bob", "INVITE", call_id="c2"),
        hop(0.02, "carol", "bob", "INVITE", call_id="c1"),
        hop(0.05, "bob", "alice", "200 OK", call_id="c2"),
        hop(0.07, "bob", "carol", "486 Busy Here", call_id="c1"),
    )
    run1 = [type(e)(**{**{f: getattr(e, f) for f in e.__slots__}, "run": 1})
            for e in hop(0.0, "alice", "bob", "INVITE", call_id="c2")]
    table = fold_events(events + run1)
    assert [(r["run"], r["call_id"], r["outcome"]) for r in table] == [
        (0, "c2", "answered"), (0, "c1", "rejected"), (1, "c2", "incomplete")]


def test_retire_moves_record_out_early():
    """CallFolder.retire hands a finished call's record over and frees its counters."""
    folder = CallFolder(3)
    for event in basic_call():
        folder.feed(event)
    table = CallTable()
    folder.retire(CID, table)
    assert len(table) == 1 and table[0]["run"] == 3
    assert folder.calls == {}
    assert len(folder.records()) == 0


def test_value_out_of_its_column_range_names_the_column_and_leaves_the_table_as_it_was():
    """A run index of 2**31 does not fit the run column: a ValueError naming both, and no half-packed row."""
    record = dict.fromkeys(RECORD_FIELDS)
    record.update(run=0, call_id="c1", outcome="answered", final_code=200, completed=True)
    table = CallTable([record])
    assert len(table) == 1 and table[0]["run"] == 0
    table.append({**record, "run": 2**31, "call_id": "c2"})
    with pytest.raises(ValueError, match=r"call measure 'run': 2147483648 is out of range "
                                         r"\(its column holds -2147483648 to 2147483647\)"):
        table.pack()
    assert all(len(table._cols[name]) == 1 for name in RECORD_FIELDS)  # no column took a row
    with pytest.raises(ValueError, match="call measure 'final_code': 70000 is out of range"):
        CallTable([{**record, "final_code": 70000}]).pack()


def test_unknown_event_kind_is_an_error():
    """A misspelt event kind is reported, not silently ignored."""
    bad = send(0.0, "alice", "bob", "INVITE")
    bad.event = "sent"
    with pytest.raises(ValueError, match="unknown trace event kind"):
        CallFolder().feed(bad)


def test_drop_and_recv_helpers_are_consistent():
    """Sanity of the test builders: a lost hop is a send plus a drop at the sender."""
    lost = hop(1.0, "alice", "bob", "INVITE", lost=True)
    assert [e.event for e in lost] == ["send", "drop"]
    assert lost[1].node == "alice" and lost[1].dst == "bob"
    assert recv(1.0, "bob", "alice", "INVITE").dst == "bob"
    assert drop(1.0, "alice", "bob", "INVITE").link == "alice-bob"


def test_ms_is_round_to_the_nanosecond_bit_for_bit() -> None:
    """_ms takes a shortcut past round(ms, 6) when the nearest nanosecond is certain: same double every time."""
    import random

    from simsip.metrics.measures import _ms

    rng = random.Random(9)
    seconds = [0.0, 1e-9, 0.0005, 0.0015, 0.1 + 0.2, 1.0000005, 7.999999, 8.0, 9.0, 123.456789,
               -0.25, 1e-12, 4.5e-7, 2.5e-6]
    seconds += [rng.random() * 10 for _ in range(20_000)]
    # Near a tie at the nanosecond, and times as the engine makes them (sums of ms delays).
    seconds += [(k + 0.5) * 1e-9 + rng.choice((-1e-15, 0.0, 1e-15)) for k in range(0, 50_000_000, 9_973)]
    seconds += [sum(rng.choice((0.05, 0.5, 0.001, 4.0)) for _ in range(rng.randint(1, 12)))
                - rng.choice((0.0, 0.05, 1.0)) for _ in range(20_000)]
    mismatched = [s for s in seconds if _ms(s).hex() != round(s * 1000.0, 6).hex()]
    assert mismatched == []
