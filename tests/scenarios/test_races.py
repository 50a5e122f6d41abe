"""RFC 5407 races (scenarios/races/): each race happens, and ends as the RFC says.

Flows are written like the RFC's figures (F-numbers in order); sends at the
same instant may appear in either order (they cross on the wire).
"""

from __future__ import annotations

import pytest

import simsip
from tests.scenarios.helpers import SCENARIOS, align, check_flow, rows, sends

DIR = SCENARIOS / "races"

FLOWS = {
    # §3.1.1: F4 (INVITE retransmission) absorbed: no second 200 for it, no new call.
    "s3_1_1_invite_retransmission_in_moratorium.sip": (
        "F1 alice->bob INVITE; F2 bob->alice 180; F4 alice->bob INVITE; F3 bob->alice 200; "
        "F5 alice->bob ACK; B1 alice->bob BYE; B2 bob->alice 200"),
    # §3.1.2: CANCEL answered 200, INVITE not cancelled; ACK then BYE.
    "s3_1_2_cancel_in_moratorium.sip": (
        "F1 alice->bob INVITE; F2 bob->alice 180; F3 alice->bob CANCEL; F4 bob->alice 200; "
        "F6 alice->bob ACK; F7 alice->bob BYE; F5 bob->alice 200; F8 bob->alice 200"),
    # §3.1.3: BYE in the early dialog crosses the 200; ACK anyway; BYE answered 200.
    "s3_1_3_early_bye_in_moratorium.sip": (
        "F1 alice->bob INVITE; F2 bob->alice 180; P1 alice->bob PRACK; P2 bob->alice 200; "
        "F3 bob->alice 200; F4 alice->bob BYE; F5 alice->bob ACK; F6 bob->alice 200"),
    # §3.1.4: ACK lost; 200 retransmission crosses the re-INVITE, which gets 200.
    "s3_1_4_reinvite_in_moratorium.sip": (
        "F1 alice->bob INVITE; R1 bob->alice 180; F3 bob->alice 200; F4 alice->bob ACK; "
        "F5 bob->alice 200; F6 alice->bob INVITE; F7 alice->bob ACK; F8 bob->alice 200; F9 alice->bob ACK"),
    # §3.1.5: offer in 200, answer in the lost ACK; re-INVITE gets 491; retried later.
    "s3_1_5_reinvite_offer_collision.sip": (
        "F1 alice->bob INVITE; R1 bob->alice 180; F3 bob->alice 200; F4 alice->bob ACK; "
        "F5 bob->alice 200; F6 alice->bob INVITE; F7 alice->bob ACK; F8 bob->alice 491; F9 alice->bob ACK; "
        "T1 alice->bob INVITE; T2 bob->alice 200; T3 alice->bob ACK"),
    # §3.1.6: ACK lost; 200 retransmission crosses BYE; ACK re-sent; BYE answered.
    "s3_1_6_bye_in_moratorium.sip": (
        "F1 alice->bob INVITE; F3 bob->alice 200; F4 alice->bob ACK; F5 bob->alice 200; "
        "F6 alice->bob BYE; F7 alice->bob ACK; F8 bob->alice 200"),
    # §3.2.1: BYEs cross; each answered 200.
    "s3_2_1_bye_crossing.sip": (
        "F1 alice->bob INVITE; F3 bob->alice 200; F4 alice->bob ACK; F5 alice->bob BYE; F6 bob->alice BYE; "
        "F7 alice->bob 200; F8 bob->alice 200"),
    # §3.2.2: re-INVITE answered 481 (Mortal) and ACKed; BYE answered 200.
    "s3_2_2_reinvite_crosses_bye.sip": (
        "F1 alice->bob INVITE; F3 bob->alice 200; F4 alice->bob ACK; F5 alice->bob BYE; "
        "F6 bob->alice INVITE; F7 bob->alice 200; F8 alice->bob 481; F9 bob->alice ACK"),
    # §3.2.3: re-INVITE then BYE; both answered 200; Mortal bob still ACKs the 200.
    "s3_2_3_reinvite_200_while_mortal.sip": (
        "F1 alice->bob INVITE; F3 bob->alice 200; F4 alice->bob ACK; F5 bob->alice INVITE; "
        "F6 bob->alice BYE; F7 alice->bob 200; F8 alice->bob 200; F9 bob->alice ACK"),
    # §3.3.1: glare: 491 both ways, ACKs, bob's retry first, then alice's.
    "s3_3_1_reinvite_glare.sip": (
        "F1 alice->bob INVITE; R1 bob->alice 180; F3 bob->alice 200; F4 alice->bob ACK; "
        "F5 alice->bob INVITE; F6 bob->alice INVITE; F7 alice->bob 491; F8 bob->alice 491; "
        "F9 alice->bob ACK; F10 bob->alice ACK; F11 bob->alice INVITE; F12 alice->bob 200; "
        "F13 bob->alice ACK; F14 alice->bob INVITE; F15 bob->alice 200; F16 alice->bob ACK"),
}

@pytest.mark.parametrize("name", sorted(FLOWS))
def test_rfc5407_race_flow(name: str) -> None:
    """RFC 5407 (section in the file name): the race happens and the messages are the RFC's."""
    expected = rows(FLOWS[name])
    trace = simsip.run(simsip.load(DIR / name), trace="full").trace
    check_flow(expected, align(trace, expected))


def test_rfc5407_3_1_1_retransmission_is_not_a_new_call() -> None:
    """RFC 5407 §3.1.1 / RFC 6026 §7.1: bob's application sees one INVITE; the retransmission is absorbed."""
    trace = simsip.run(simsip.load(DIR / "s3_1_1_invite_retransmission_in_moratorium.sip"), trace="full").trace
    invites = [e for e in trace if e.event == "app" and e.node == "bob" and e.message == "INVITE"
               and e.detail.startswith("request")]
    assert len(invites) == 1


def test_rfc5407_3_2_4_ack_arrives_after_bye() -> None:
    """RFC 5407 §3.2.4: bob's BYE leaves 64*T1 after the 200 (no ACK arrived), the last ACK arrives after it."""
    trace = simsip.run(simsip.load(DIR / "s3_2_4_ack_crosses_bye.sip"), trace="full").trace
    bye = next(e for e in sends(trace) if e.src == "bob" and e.message == "BYE")
    assert round(bye.t, 6) == 33.0  # 200 first sent at 1.0 s, + 64*T1
    ack_in = [e for e in trace if e.event == "recv" and e.node == "bob" and e.message == "ACK"]
    assert len(ack_in) == 1 and ack_in[0].t > bye.t
    answered = [e for e in sends(trace) if e.src == "alice" and e.cseq and e.cseq.endswith("BYE")]
    assert answered and answered[0].message.startswith("200")


@pytest.mark.parametrize("seed", range(10))
def test_rfc5407_3_3_1_retry_backoffs(seed: int) -> None:
    """RFC 3261 §14.1 via RFC 5407 §3.3.1: owner (alice) retries 2.1-4.0 s after its 491, bob 0-2.0 s."""
    trace = simsip.run(simsip.load(DIR / "s3_3_1_reinvite_glare.sip"), seed=seed, trace="full").trace
    got_491 = {e.node: e.t for e in trace if e.event == "recv" and (e.message or "").startswith("491")}
    retries = {}
    for e in sends(trace):
        if e.message == "INVITE" and e.cseq != "1 INVITE" and e.t > got_491.get(e.src, 1e9):
            retries.setdefault(e.src, e.t)
    assert 2.1 - 1e-9 <= retries["alice"] - got_491["alice"] <= 4.0 + 1e-9
    assert 0.0 <= retries["bob"] - got_491["bob"] <= 2.0 + 1e-9


@pytest.mark.parametrize("seed", range(10))
def test_rfc5407_3_1_5_retry_after_491_rfc3261_s14_1(seed: int) -> None:
    """RFC 3261 §14.1 via RFC 5407 §3.1.5: alice, the Call-ID owner, retries the re-INVITE 2.1-4.0 s
    (in 10 ms units) after the 491 arrived, with a new CSeq, and bob answers it 200."""
    trace = simsip.run(simsip.load(DIR / "s3_1_5_reinvite_offer_collision.sip"), seed=seed, trace="full").trace
    got_491 = next(e.t for e in trace if e.event == "recv" and e.node == "alice" and (e.message or "").startswith("491"))
    invites = [e for e in sends(trace) if e.src == "alice" and e.message == "INVITE"]
    assert [e.cseq for e in invites] == ["1 INVITE", "2 INVITE", "3 INVITE"]
    wait_ms = round((invites[2].t - got_491) * 1000, 6)
    assert 2100 <= wait_ms <= 4000 and wait_ms % 10 == 0
    assert [e.message for e in sends(trace) if e.src == "bob" and e.cseq == "3 INVITE"] == ["200 OK"]
