"""scenarios/basic/: the exact message flows of the introductory scenarios (RFC 3261)."""

from __future__ import annotations

import pytest

import simsip
from tests.scenarios.helpers import SCENARIOS, check_flow, flow, send_times

DIR = SCENARIOS / "basic"

FLOWS = {
    # RFC 3261 §13, §15: no provisional, ACK and BYE end to end.
    "direct_call.sip": ["alice->bob INVITE", "bob->alice 200", "alice->bob ACK", "alice->bob BYE",
                        "bob->alice 200"],
    # RFC 3261 §16 with Record-Route (§16.6 item 4): ACK and BYE through the proxy.
    "proxy_call.sip": ["alice->proxy INVITE", "proxy->alice 100", "proxy->bob INVITE", "bob->proxy 180",
                       "proxy->alice 180", "bob->proxy 200", "proxy->alice 200", "alice->proxy ACK",
                       "proxy->bob ACK", "alice->proxy BYE", "proxy->bob BYE", "bob->proxy 200",
                       "proxy->alice 200"],
    # RFC 3261 §17.1.1.3: the non-2xx is ACKed by each hop's client transaction.
    "busy.sip": ["alice->proxy INVITE", "proxy->alice 100", "proxy->bob INVITE", "bob->proxy 486",
                 "proxy->bob ACK", "proxy->alice 486", "alice->proxy ACK"],
    # RFC 3261 §9.2, §16.10: 200 to each CANCEL, 487 to the INVITE, ACK per hop.
    "no_answer_cancel.sip": ["alice->proxy INVITE", "proxy->alice 100", "proxy->bob INVITE", "bob->proxy 180",
                             "proxy->alice 180", "alice->proxy CANCEL", "proxy->alice 200",
                             "proxy->bob CANCEL", "bob->proxy 200", "bob->proxy 487", "proxy->bob ACK",
                             "proxy->alice 487", "alice->proxy ACK"],
    # RFC 3261 §8.1.3.4: 302, ACK, new INVITE to the contact.
    "redirect.sip": ["alice->redirect INVITE", "redirect->alice 302", "alice->redirect ACK",
                     "alice->bob INVITE", "bob->alice 180", "bob->alice 200", "alice->bob ACK",
                     "alice->bob BYE", "bob->alice 200"],
    # RFC 3261 §8.1.3.4: a failure (486) moves to the 302's next contact.
    "redirect_next_contact.sip": ["alice->redirect INVITE", "redirect->alice 302", "alice->redirect ACK",
                                  "alice->desk INVITE", "desk->alice 486", "alice->desk ACK",
                                  "alice->mobile INVITE", "mobile->alice 180", "mobile->alice 200",
                                  "alice->mobile ACK", "alice->mobile BYE", "mobile->alice 200"],
}


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_basic_flow(name: str) -> None:
    """Each basic scenario sends exactly these messages, in this order, with no loss."""
    got = flow(simsip.run(simsip.load(DIR / name), trace="full").trace)
    expected = FLOWS[name]
    check_flow([(str(i + 1), e) for i, e in enumerate(expected)], got)


def test_redirect_new_invite_targets_contact_rfc3261_s8_1_3_4() -> None:
    """RFC 3261 §8.1.3.4: the new INVITE's Request-URI is the 302's Contact; same Call-ID, CSeq + 1."""
    trace = simsip.run(simsip.load(DIR / "redirect.sip"), trace="full").trace
    invites = [e for e in trace if e.event == "send" and e.message == "INVITE"]
    moved = next(e for e in trace if e.event == "send" and (e.message or "").startswith("302"))
    assert str(invites[1].msg.uri) == str(moved.msg.contacts[0].uri)
    assert invites[1].call_id == invites[0].call_id
    assert [e.cseq for e in invites] == ["1 INVITE", "2 INVITE"]


def test_redirect_next_contact_measures_follow_the_last_invite_rfc3261_s8_1_3_4() -> None:
    """RFC 3261 §8.1.3.4: the 302's second contact is a new INVITE (CSeq 3) after the first's 486; the call's
    final response is the mobile's 200 (the 302 and 486 before it are forgotten), timed from the first INVITE."""
    result = simsip.run(simsip.load(DIR / "redirect_next_contact.sip"), trace="full")
    invites = [(e.dst, e.cseq, str(e.msg.uri)) for e in result.trace if e.event == "send" and e.message == "INVITE"]
    assert invites == [("redirect", "1 INVITE", "sip:bob@biloxi.example.com"),
                       ("desk", "2 INVITE", "sip:desk@desk.biloxi.example.com"),
                       ("mobile", "3 INVITE", "sip:mobile@mobile.biloxi.example.com")]
    [call] = list(result.calls)
    assert (call["outcome"], call["final_code"], call["final_ms"], call["pdd_ms"]) == ("answered", 200, 1180.0, 180.0)


def _no_answer_with_drop(drop: str) -> list:
    """Trace of no_answer_cancel.sip with one extra `drop` line."""
    text = (DIR / "no_answer_cancel.sip").read_text().replace("on bob INVITE:", f"{drop}\n\non bob INVITE:")
    return simsip.run(simsip.load(text), trace="full").trace


def test_no_answer_lost_180_resent_only_below_the_proxy_rfc3261_s17_2_1() -> None:
    """RFC 3261 §17.2.1: a 180 lost bob->proxy comes back when the proxy's Timer A INVITE reaches bob (0.56 s);
    one lost proxy->alice is never resent; either way the CANCEL leaves give_up after the 100 (5.06 s)."""
    below = _no_answer_with_drop("drop 180 bob -> proxy count 1")
    assert send_times(below, "proxy", "INVITE") == [0.03, 0.53]
    assert send_times(below, "bob", "180") == [0.06, 0.56]
    assert send_times(below, "alice", "CANCEL") == [5.06]
    above = _no_answer_with_drop("drop 180 proxy -> alice count 1")
    assert send_times(above, "proxy", "180") == [0.09]
    assert not [e for e in above if e.event == "recv" and e.node == "alice" and e.message == "180 Ringing"]
    assert send_times(above, "alice", "CANCEL") == [5.06]
