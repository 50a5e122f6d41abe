"""RFC 3665 flows (scenarios/rfc3665/): the message sequence F1, F2, ... read from the trace.

Each table lists the RFC's F-numbers and messages (``src->dst WHAT``) in the
RFC's order. Messages the simulator sends at the same instant (a proxy's 100
Trying and its forwarded INVITE) may appear in either order; everything else
must match exactly. On failure the RFC table and the trace are printed side by
side.
"""

from __future__ import annotations

import pytest

import simsip
from simsip.sip.auth import parse_credentials
from tests.scenarios.helpers import SCENARIOS, align, check_flow, rows, sends

DIR = SCENARIOS / "rfc3665"


FLOWS = {
    "s3_1_successful_session.sip": (
        "F1 alice->bob INVITE; F2 bob->alice 180; F3 bob->alice 200; F4 alice->bob ACK; "
        "F5 bob->alice BYE; F6 alice->bob 200"),
    "s3_2_two_proxies.sip": (
        "F1 alice->proxy1 INVITE; F2 proxy1->alice 407; F3 alice->proxy1 ACK; F4 alice->proxy1 INVITE; "
        "F5 proxy1->proxy2 INVITE; F6 proxy1->alice 100; F7 proxy2->bob INVITE; F8 proxy2->proxy1 100; "
        "F9 bob->proxy2 180; F10 proxy2->proxy1 180; F11 proxy1->alice 180; "
        "F12 bob->proxy2 200; F13 proxy2->proxy1 200; F14 proxy1->alice 200; "
        "F15 alice->proxy1 ACK; F16 proxy1->proxy2 ACK; F17 proxy2->bob ACK; "
        "F18 bob->proxy2 BYE; F19 proxy2->proxy1 BYE; F20 proxy1->alice BYE; "
        "F21 alice->proxy1 200; F22 proxy1->proxy2 200; F23 proxy2->bob 200"),
    "s3_3_multiple_proxy_auth.sip": (
        "F1 alice->proxy1 INVITE; F2 proxy1->alice 407; F3 alice->proxy1 ACK; F4 alice->proxy1 INVITE; "
        "F5 proxy1->alice 100; F6 proxy1->proxy2 INVITE; F7 proxy2->proxy1 407; F8 proxy1->proxy2 ACK; "
        "F9 proxy1->alice 407; F10 alice->proxy1 ACK; F11 alice->proxy1 INVITE; F12 proxy1->alice 100; "
        "F13 proxy1->proxy2 INVITE; F14 proxy2->proxy1 100; F15 proxy2->bob INVITE; "
        "F16 bob->proxy2 200; F17 proxy2->proxy1 200; F18 proxy1->alice 200; "
        "F19 alice->proxy1 ACK; F20 proxy1->proxy2 ACK; F21 proxy2->bob ACK"),
    "s3_4_proxy_failure.sip": (
        "F1 alice->proxy1 INVITE; F2 alice->proxy1 INVITE; F3 alice->proxy1 INVITE; F4 alice->proxy1 INVITE; "
        "F5 alice->proxy1 INVITE; F6 alice->proxy1 INVITE; F7 alice->proxy1 INVITE; "
        "F8 alice->proxy2 INVITE; F9 proxy2->alice 407; F10 alice->proxy2 ACK; F11 alice->proxy2 INVITE; "
        "F12 proxy2->bob INVITE; F13 proxy2->alice 100; F14 bob->proxy2 180; F15 proxy2->alice 180; "
        "F16 bob->proxy2 200; F17 proxy2->alice 200; F18 alice->proxy2 ACK; F19 proxy2->bob ACK; "
        "F20 bob->proxy2 BYE; F21 proxy2->alice BYE; F22 alice->proxy2 200; F23 proxy2->bob 200"),
    "s3_6_redirect_sdp_in_ack.sip": (
        "F1 alice->redirect INVITE; F2 redirect->alice 302; F3 alice->redirect ACK; "
        "F4 alice->proxy3 INVITE; F5 proxy3->bob INVITE; F6 proxy3->alice 100; F7 bob->proxy3 180; "
        "F8 proxy3->alice 180; F9 bob->proxy3 200; F10 proxy3->alice 200; F11 alice->proxy3 ACK; "
        "F12 proxy3->bob ACK; F13 bob->proxy3 BYE; F14 proxy3->alice BYE; F15 alice->proxy3 200; "
        "F16 proxy3->bob 200"),
    "s3_7_reinvite_address_change.sip": (
        "F1 alice->proxy2 INVITE; F2 proxy2->alice 100; F3 proxy2->bob INVITE; F4 bob->proxy2 180; "
        "F5 proxy2->alice 180; F6 bob->proxy2 200; F7 proxy2->alice 200; F8 alice->bob ACK; "
        "F9 bob->alice INVITE; F10 alice->bob 200; F11 bob->alice ACK; F12 alice->bob BYE; "
        "F13 bob->alice 200"),
    "s3_8_no_answer.sip": (
        "F1 alice->proxy1 INVITE; F2 proxy1->proxy2 INVITE; F3 proxy1->alice 100; F4 proxy2->bob INVITE; "
        "F5 proxy2->proxy1 100; F6 bob->proxy2 180; F7 proxy2->proxy1 180; F8 proxy1->alice 180; "
        "F9 alice->proxy1 CANCEL; F10 proxy1->alice 200; F11 proxy1->proxy2 CANCEL; "
        "F12 proxy2->proxy1 200; F13 proxy2->bob CANCEL; F14 bob->proxy2 200; F15 bob->proxy2 487; "
        "F16 proxy2->bob ACK; F17 proxy2->proxy1 487; F18 proxy1->proxy2 ACK; F19 proxy1->alice 487; "
        "F20 alice->proxy1 ACK"),
    "s3_9_busy.sip": (
        "F1 alice->proxy1 INVITE; F2 proxy1->proxy2 INVITE; F3 proxy1->alice 100; F4 proxy2->bob INVITE; "
        "F5 proxy2->proxy1 100; F6 bob->proxy2 486; F7 proxy2->bob ACK; F8 proxy2->proxy1 486; "
        "F9 proxy1->proxy2 ACK; F10 proxy1->alice 486; F11 alice->proxy1 ACK"),
    "s3_10_no_response.sip": (
        "F1 alice->proxy1 INVITE; F2 proxy1->proxy2 INVITE; F3 proxy1->alice 100; F4 proxy2->bob INVITE; "
        "F5 proxy2->proxy1 100; F6 proxy2->bob INVITE; F7 proxy2->bob INVITE; F8 proxy2->bob INVITE; "
        "F9 proxy2->bob INVITE; F10 proxy2->bob INVITE; F11 proxy2->bob INVITE; F12 proxy2->proxy1 480; "
        "F13 proxy1->proxy2 ACK; F14 proxy1->alice 480; F15 alice->proxy1 ACK"),
    "s3_11_temporarily_unavailable.sip": (
        "F1 alice->proxy1 INVITE; F2 proxy1->proxy2 INVITE; F3 proxy1->alice 100; F4 proxy2->bob INVITE; "
        "F5 proxy2->proxy1 100; F6 bob->proxy2 180; F7 proxy2->proxy1 180; F8 proxy1->alice 180; "
        "F9 bob->proxy2 480; F10 proxy2->bob ACK; F11 proxy2->proxy1 480; F12 proxy1->proxy2 ACK; "
        "F13 proxy1->alice 480; F14 alice->proxy1 ACK"),
    "s2_1_new_registration.sip": (
        "F1 bob->registrar REGISTER; F2 registrar->bob 401; F3 bob->registrar REGISTER; "
        "F4 registrar->bob 200"),
    "s2_5_unsuccessful_registration.sip": (
        "F1 bob->registrar REGISTER; F2 registrar->bob 401; F3 bob->registrar REGISTER; "
        "F4 registrar->bob 401"),
}

# RFC 3665 §3.5's figure, with its F-numbers: the ALG answers Alice 100 (F3) and
# relays 180 (F8) and 200 (F11); proxy2 does not Record-Route, so the ACK (F12,
# F13) and Alice's BYE (F14-F17) go alice -> ALG -> bob.
ALG = (
    "F1 alice->alg INVITE; F2 alg->proxy2 INVITE; F3 alg->alice 100; F4 proxy2->bob INVITE; "
    "F5 proxy2->alg 100; F6 bob->proxy2 180; F7 proxy2->alg 180; F8 alg->alice 180; "
    "F9 bob->proxy2 200; F10 proxy2->alg 200; F11 alg->alice 200; F12 alice->alg ACK; "
    "F13 alg->bob ACK; F14 alice->alg BYE; F15 alg->bob BYE; F16 bob->alg 200; F17 alg->alice 200")
# The ALG is a UA on Alice's side, and a UAS's 100 is owed only when its TU stays
# silent 200 ms (RFC 3261 §17.2.1); here the relayed 180 reaches Alice after 100 ms.
ALG_NOT_SENT = {"F3"}

# §2.2-2.4 start at the param time after a first registration (the 2.1 exchange).
LATER = {
    "s2_2_update_contact_list.sip": ("update_at", "F1 bob->registrar REGISTER; F2 registrar->bob 200"),
    "s2_3_query_contacts.sip": ("query_at", "F1 bob->registrar REGISTER; F2 registrar->bob 200"),
    "s2_4_cancel_registration.sip": ("remove_at", "F1 bob->registrar REGISTER; F2 registrar->bob 200"),
}



def _run(name: str) -> simsip.engine.Result:
    """Run 0 with the full trace."""
    return simsip.run(simsip.load(DIR / name), trace="full")


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_rfc3665_f_sequence(name: str) -> None:
    """RFC 3665 §2/§3 (section in the file name): the trace sends exactly F1, F2, ... in order."""
    expected = rows(FLOWS[name])
    check_flow(expected, align(_run(name).trace, expected))


def test_rfc3665_3_5_alg_f_sequence() -> None:
    """RFC 3665 §3.5: F1-F17 in the figure's order but F3 (see ALG_NOT_SENT); ACK and BYE go alice -> ALG -> bob."""
    expected = [row for row in rows(ALG) if row[0] not in ALG_NOT_SENT]
    check_flow(expected, align(_run("s3_5_alg.sip").trace, expected))


@pytest.mark.parametrize("name", sorted(LATER))
def test_rfc3665_registration_update_f_sequence(name: str) -> None:
    """RFC 3665 §2.2-2.4: an already authenticated REGISTER gets its 200 without a new challenge."""
    param, table = LATER[name]
    scenario = simsip.load(DIR / name)
    at = scenario.param(param).value
    expected = rows(table)
    check_flow(expected, align(simsip.run(scenario, trace="full").trace, expected, after=at))


def test_rfc3665_3_3_third_invite_carries_both_credentials() -> None:
    """RFC 3665 §3.3 F11: the third INVITE carries Proxy-Authorization for both realms."""
    trace = _run("s3_3_multiple_proxy_auth.sip").trace
    invites = [e for e in sends(trace) if e.src == "alice" and e.message == "INVITE"]
    assert len(invites) == 3
    realms = sorted(v.split('realm="')[1].split('"')[0] for v in invites[2].msg.headers.get_all("Proxy-Authorization"))
    assert realms == ["atlanta.example.com", "biloxi.example.com"]
    assert [e.cseq for e in invites] == ["1 INVITE", "2 INVITE", "3 INVITE"]


def test_rfc3665_3_4_timer_a_to_proxy1_then_fallback_at_timer_b() -> None:
    """RFC 3665 §3.4 / RFC 3261 §17.1.1.2: F1-F7 at the Timer A schedule; F8 to proxy2 at 64*T1."""
    trace = _run("s3_4_proxy_failure.sip").trace
    to_p1 = [round(e.t, 6) for e in sends(trace) if e.dst == "proxy1"]
    assert to_p1 == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    first_p2 = next(e for e in sends(trace) if e.dst == "proxy2")
    assert round(first_p2.t, 6) == 32.0


def test_rfc3665_3_6_offer_in_200_answer_in_ack() -> None:
    """RFC 3665 §3.6: the INVITEs carry no SDP; Bob's 200 carries the offer and Alice's ACK the answer."""
    trace = _run("s3_6_redirect_sdp_in_ack.sip").trace
    out = sends(trace)
    assert all(not e.msg.body for e in out if e.message == "INVITE")
    ok = next(e for e in out if e.src == "bob" and e.cseq and e.cseq.endswith("INVITE") and e.message.startswith("200"))
    ack = next(e for e in out if e.src == "alice" and e.message == "ACK" and e.dst == "proxy3")
    assert ok.msg.content_type == "application/sdp" and ok.msg.body
    assert ack.msg.content_type == "application/sdp" and ack.msg.body


def test_rfc3665_3_6_302_contact_then_proxy3_finds_the_phone_rfc3261_s8_1_3_4() -> None:
    """RFC 3665 §3.6 F2-F5 / RFC 3261 §8.1.3.4: the 302 names sip:bob@chicago.example.com; the new INVITE
    goes there via proxy3, which retargets it to Bob's phone, client.chicago.example.com."""
    out = sends(_run("s3_6_redirect_sdp_in_ack.sip").trace)
    moved = next(e for e in out if e.message.startswith("302"))
    assert [str(c.uri) for c in moved.msg.contacts] == ["sip:bob@chicago.example.com"]
    invites = [(e.src, e.dst, str(e.msg.uri)) for e in out if e.message == "INVITE"]
    assert invites == [("alice", "redirect", "sip:bob@biloxi.example.com"),
                       ("alice", "proxy3", "sip:bob@chicago.example.com"),
                       ("proxy3", "bob", "sip:bob@client.chicago.example.com")]


def test_rfc3665_3_7_reinvite_has_new_sdp_version() -> None:
    """RFC 3665 §3.7 F9: Bob's re-INVITE carries SDP with the version incremented."""
    trace = _run("s3_7_reinvite_address_change.sip").trace
    out = sends(trace)
    first = next(e for e in out if e.src == "bob" and e.message.startswith("200") and e.cseq.endswith("INVITE"))
    reinvite = next(e for e in out if e.src == "bob" and e.message == "INVITE")

    def version(body: bytes) -> int:
        origin = next(line for line in body.decode().splitlines() if line.startswith("o="))
        return int(origin.split()[2])

    assert version(reinvite.msg.body) == version(first.msg.body) + 1


def test_rfc3665_3_8_cancel_request_uri_equals_invite() -> None:
    """RFC 3261 §9.1 (CALLFLOWS.md note on RFC 3665 §3.8 F11): each CANCEL's Request-URI is its INVITE's."""
    trace = _run("s3_8_no_answer.sip").trace
    out = sends(trace)
    for hop in ("alice", "proxy1", "proxy2"):
        invite = next(e for e in out if e.src == hop and e.message == "INVITE")
        cancel = next(e for e in out if e.src == hop and e.message == "CANCEL")
        assert str(cancel.msg.uri) == str(invite.msg.uri)


def test_rfc3665_2_5_no_third_register() -> None:
    """RFC 3665 §2.5: after the second 401 Bob stops; the second REGISTER carried his credentials."""
    trace = _run("s2_5_unsuccessful_registration.sip").trace
    registers = [e for e in sends(trace) if e.message == "REGISTER"]
    assert len(registers) == 2
    assert "Authorization" in registers[1].msg.headers


def _registers(name: str) -> list:
    """The REGISTERs and the registrar's answers, in order."""
    return [e for e in sends(_run(name).trace) if e.cseq and e.cseq.endswith("REGISTER")]


def test_rfc3665_2_2_to_2_4_same_call_id_increasing_cseq_rfc3261_s10_2() -> None:
    """RFC 3261 §10.2: every REGISTER to the registrar uses one Call-ID and a CSeq one higher."""
    for name in LATER:
        registers = [e for e in _registers(name) if e.message == "REGISTER"]
        assert len({e.call_id for e in registers}) == 1
        assert [e.cseq for e in registers] == ["1 REGISTER", "2 REGISTER", "3 REGISTER"]
        assert "Authorization" in registers[2].msg.headers


def test_rfc3665_2_2_to_2_4_reused_nonce_counts_up_rfc2617_3_2_2() -> None:
    """RFC 2617 §3.2.2 (RFC 3261 §22.4): the re-REGISTER re-uses the 2.1 nonce with nc=00000002; the registrar accepts it."""
    for name in LATER:
        registers = _registers(name)
        sent = [parse_credentials(e.msg.headers.get("Authorization")) for e in registers
                if e.message == "REGISTER" and "Authorization" in e.msg.headers]
        assert [c.nc for c in sent] == ["00000001", "00000002"]
        assert sent[0].nonce == sent[1].nonce and sent[0].cnonce != sent[1].cnonce
        assert registers[-1].message == "200 OK"


def test_rfc3665_2_2_update_lists_both_contacts() -> None:
    """RFC 3665 §2.2 F2: the 200 lists the updated contact list."""
    ok = _registers("s2_2_update_contact_list.sip")[-1]
    assert ok.message.startswith("200")
    # The first registration's contact carries ;transport=tcp, so it is a different
    # URI (RFC 3261 §19.1.4) and stays bound beside the two new ones: three in all,
    # as the scenario's comment says.
    listed = sorted(str(c.uri) for c in ok.msg.contacts)
    assert listed == ["sip:bob@client.biloxi.example.com", "sip:bob@client.biloxi.example.com;transport=tcp",
                      "sip:bob@mobile.biloxi.example.com"]


def test_rfc3665_2_1_200_lists_the_new_binding_rfc3261_s10_3() -> None:
    """RFC 3665 §2.1 F4 / RFC 3261 §10.3 step 8: the 200 lists the binding just created, with its expiry."""
    ok = _registers("s2_1_new_registration.sip")[-1]
    assert (ok.message, ok.cseq) == ("200 OK", "2 REGISTER")
    assert [str(c) for c in ok.msg.contacts] == ["<sip:bob@client.biloxi.example.com;transport=tcp>;expires=3600"]


def test_rfc3665_3_10_timer_a_at_proxy2_then_480_at_timer_b_rfc3261_s17_1_1_2() -> None:
    """RFC 3665 §3.10 / RFC 3261 §17.1.1.2: proxy2 sends F4, F6-F11 on Timer A from 0.04 s; Timer B at
    32.04 s ends the branch and the 480 (reason phrase Temporarily Unavailable) reaches alice at 32.08 s."""
    trace = _run("s3_10_no_response.sip").trace
    out = sends(trace)
    to_bob = [round(e.t, 6) for e in out if e.src == "proxy2" and e.dst == "bob"]
    assert to_bob == [round(0.04 + t, 6) for t in (0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5)]
    final = [(round(e.t, 6), e.src, e.message) for e in out if e.dst in ("proxy1", "alice") and e.message[0] == "4"]
    assert final == [(32.04, "proxy2", "480 Temporarily Unavailable"), (32.06, "proxy1", "480 Temporarily Unavailable")]
    got = [round(e.t, 6) for e in trace if e.event == "recv" and e.node == "alice" and (e.message or "")[:3] == "480"]
    assert got == [32.08]


def test_rfc3665_2_3_query_has_no_contact_and_200_lists_binding() -> None:
    """RFC 3665 §2.3 / RFC 3261 §10.2.3: the query has no Contact; the 200 lists the existing binding."""
    *_, query, ok = _registers("s2_3_query_contacts.sip")
    assert "Contact" not in query.msg.headers
    assert [(c.uri.user, c.uri.host) for c in ok.msg.contacts] == [("bob", "client.biloxi.example.com")]


def test_rfc3665_2_4_remove_all_leaves_no_binding() -> None:
    """RFC 3665 §2.4 / RFC 3261 §10.2.2: Contact: * with Expires: 0; the 200 lists no contact."""
    *_, remove, ok = _registers("s2_4_cancel_registration.sip")
    assert remove.msg.headers.get("Contact") == "*" and remove.msg.headers.get("Expires") == "0"
    assert ok.message.startswith("200") and not ok.msg.contacts
