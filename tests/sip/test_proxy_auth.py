"""Proxy authentication (RFC 3261 §22.3) along RFC 3665 §3.2/§3.3, and the redirect server (§3.6)."""

from __future__ import annotations

import random

from simsip.sip.auth import authorization_header, parse_credentials
from simsip.sip.events import Address
from simsip.sip.redirect import RedirectServer
from simsip.sip.registrar import LocationService

try:
    from proxyhelp import ALICE, P1, P2, Clock, app, first_line, invite, make_proxy, msg, response_to, sends
except ImportError:  # tests/sip imported as a package
    from .proxyhelp import ALICE, P1, P2, Clock, app, first_line, invite, make_proxy, msg, response_to, sends

ROUTE_P1 = f"Route: <sip:{P1};lr>\n"


def proxy1(**options):
    """ss1.atlanta: challenges alice (realm atlanta.example.com), forwards biloxi to ss2."""
    return make_proxy(
        host=P1, domains=("atlanta.example.com",), auth_realm="atlanta.example.com",
        auth_users=(("alice", "wonderland"),), resolver={"biloxi.example.com": [Address(P2)]}, **options,
    )


def credentials_for(challenge_response, header="Proxy-Authenticate", user="alice", password="wonderland"):
    """Alice's answer to a 407 (RFC 3261 §22.3)."""
    return authorization_header(
        challenge_response.headers.get(header), "INVITE", "sip:bob@biloxi.example.com", user, password,
        random.Random(11),
    )


def test_rfc3665_3_2_first_invite_challenged_407_and_acked_hop_by_hop() -> None:
    """RFC 3665 §3.2 F1-F3: INVITE without credentials: 407 with Proxy-Authenticate; Alice's ACK absorbed."""
    proxy = proxy1()
    out = proxy.receive(0.0, invite(extra=ROUTE_P1), ALICE)
    sent = sends(out)
    assert [first_line(s.message) for s in sent] == ["SIP/2.0 407 Proxy Authentication Required"]
    f2 = sent[0].message
    challenge = f2.headers.get("Proxy-Authenticate")
    assert challenge.startswith('Digest realm="atlanta.example.com", nonce="')
    assert f2.to.tag
    assert app(out, "proxy-reject")[0].detail["status"] == 407
    f3 = msg(
        f"""ACK sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9
Max-Forwards: 70
{ROUTE_P1}From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>;tag={f2.to.tag}
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 ACK

"""
    )
    assert sends(proxy.receive(0.1, f3, ALICE)) == []


def test_rfc3665_3_2_f4_invite_with_credentials_forwarded_without_them() -> None:
    """RFC 3665 §3.2 F4-F5 / RFC 3261 §22.3: valid credentials: forwarded, our realm's credentials removed."""
    proxy = proxy1()
    f2 = sends(proxy.receive(0.0, invite(extra=ROUTE_P1), ALICE))[0].message
    creds = credentials_for(f2)
    other = 'Digest username="alice", realm="biloxi.example.com", nonce="x", uri="sip:bob@biloxi.example.com", response="00"'
    f4 = invite(branch="z9hG4bK74bf9b", cseq=2, extra=f"{ROUTE_P1}Proxy-Authorization: {creds}\nProxy-Authorization: {other}\n")
    sent = sends(proxy.receive(1.0, f4, ALICE))
    assert [(first_line(s.message), s.destination) for s in sent] == [
        ("SIP/2.0 100 Trying", ALICE),
        ("INVITE sip:bob@biloxi.example.com SIP/2.0", Address(P2)),
    ]
    forwarded = sent[1].message
    # Only the other realm's credentials go on (for ss2, RFC 3665 §3.3 F11).
    assert forwarded.headers.get_all("Proxy-Authorization") == [other]
    assert forwarded.headers.get_all("Route") == []


def test_wrong_password_challenged_again() -> None:
    """RFC 3261 §22.3: invalid credentials: a new 407 (fresh nonce)."""
    proxy = proxy1()
    f2 = sends(proxy.receive(0.0, invite(extra=ROUTE_P1), ALICE))[0].message
    creds = credentials_for(f2, password="looking-glass")
    out = sends(proxy.receive(1.0, invite(branch="z9hG4bKx2", cseq=2, extra=f"{ROUTE_P1}Proxy-Authorization: {creds}\n"), ALICE))
    assert [s.message.status for s in out] == [407]
    assert out[0].message.headers.get("Proxy-Authenticate") != f2.headers.get("Proxy-Authenticate")


def test_in_dialog_ack_and_cancel_never_challenged() -> None:
    """RFC 3261 §22.1 / RFC 3665 §3.2 F18: in-dialog BYE passes; CANCEL cannot be challenged."""
    proxy = proxy1()
    bye = invite(method="BYE", cseq=3, extra=ROUTE_P1)
    bye.headers.set("To", "Bob <sip:bob@biloxi.example.com>;tag=314159")
    assert [first_line(s.message) for s in sends(proxy.receive(0.0, bye, ALICE))] == [
        "BYE sip:bob@biloxi.example.com SIP/2.0"
    ]
    cancel = invite(method="CANCEL", branch="z9hG4bKc1", extra=ROUTE_P1)
    assert [first_line(s.message) for s in sends(proxy.receive(0.0, cancel, ALICE))] == [
        "CANCEL sip:bob@biloxi.example.com SIP/2.0"
    ]


def test_rfc3665_3_3_downstream_407_relayed_and_acked() -> None:
    """RFC 3665 §3.3 F7-F10: ss2's 407 is ACKed by ss1 (F8) and relayed to Alice (F9) with ss2's challenge."""
    proxy = proxy1()
    clock = Clock(proxy)
    f2 = sends(clock.receive(invite(extra=ROUTE_P1), ALICE))[0].message
    f4 = invite(branch="z9hG4bK74bf9b", cseq=2, extra=f"{ROUTE_P1}Proxy-Authorization: {credentials_for(f2)}\n")
    out = clock.receive(f4, ALICE, at=1.0)
    # Alice never ACKed F2 here, so Timer G resent it at 0.5 s (RFC 3261 §17.2.1).
    assert [(s.message.status, s.timer) for s in sends(out) if s.destination == ALICE] == [(407, "G"), (100, None)]
    fwd = [s.message for s in sends(out) if s.destination == Address(P2)][0]
    ss2_challenge = 'Digest realm="biloxi.example.com", nonce="c1a3", qop="auth"'
    f7 = response_to(fwd, 407, "ss2tag", [("Proxy-Authenticate", ss2_challenge)])
    out = clock.receive(f7, Address(P2), at=1.1)
    assert [(first_line(s.message), s.destination) for s in sends(out)] == [
        ("ACK sip:bob@biloxi.example.com SIP/2.0", Address(P2)),
        ("SIP/2.0 407 Proxy Authentication Required", ALICE),
    ]
    f9 = sends(out)[1].message
    assert f9.headers.get_all("Proxy-Authenticate") == [ss2_challenge]
    assert f9.headers.get_all("Via") == ["SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9b"]


def test_authorization_header_verifies_at_the_proxy_authenticator() -> None:
    """RFC 3261 §22.3 / RFC 2617 §3.2.2: the UAC helper's answer verifies at the proxy's authenticator."""
    proxy = proxy1()
    f2 = sends(proxy.receive(0.0, invite(extra=ROUTE_P1), ALICE))[0].message
    creds = parse_credentials(credentials_for(f2))
    assert proxy.authenticator.verify(creds, "INVITE")
    assert not proxy.authenticator.verify(creds, "BYE")


# ---------------------------------------------------------------- redirect server (RFC 3665 §3.6)


def test_rfc3665_3_6_redirect_302_with_contact_then_ack_absorbed() -> None:
    """RFC 3665 §3.6 F1-F3: INVITE to the redirect server: 302 with Bob's contact; the ACK ends it."""
    loc = LocationService()
    loc.add_static("sip:bob@biloxi.example.com", "sip:bob@client.chicago.example.com")
    server = RedirectServer("redirect", "redirect.biloxi.example.com", ("biloxi.example.com",), loc, random.Random(2))
    out = server.receive(0.0, invite(), ALICE)
    sent = sends(out)
    assert [(first_line(s.message), s.destination) for s in sent] == [("SIP/2.0 302 Moved Temporarily", ALICE)]
    f2 = sent[0].message
    assert f2.headers.get_all("Contact") == ["<sip:bob@client.chicago.example.com>"]
    assert f2.to.tag
    assert app(out, "redirect")[0].detail == {
        "status": 302, "aor": "bob@biloxi.example.com", "contacts": ["sip:bob@client.chicago.example.com"],
    }
    ack = msg(
        f"""ACK sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP client.atlanta.example.com:5060;branch=z9hG4bK74bf9
Max-Forwards: 70
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>;tag={f2.to.tag}
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 ACK

"""
    )
    assert sends(server.receive(0.1, ack, ALICE)) == []


def test_redirect_302_retransmitted_by_timer_g_until_ack() -> None:
    """RFC 3261 §17.2.1 at the redirect server: no ACK: the 302 is resent at 0.5, 1.5, 3.5 s."""
    loc = LocationService()
    loc.add_static("sip:bob@biloxi.example.com", "sip:bob@client.chicago.example.com")
    server = RedirectServer("redirect", "redirect.biloxi.example.com", ("biloxi.example.com",), loc, random.Random(2))
    clock = Clock(server)
    clock.receive(invite(), ALICE)
    out = clock.advance(3.5)
    assert [(s.retransmission, s.timer) for s in sends(out)] == [(1, "G"), (2, "G"), (3, "G")]


def test_redirect_unknown_user_404() -> None:
    """RFC 3261 §16.5 wording at a redirect server: nobody known for the AOR: 404."""
    server = RedirectServer("redirect", "r.example.com", ("biloxi.example.com",), LocationService(), random.Random(2))
    assert [s.message.status for s in sends(server.receive(0.0, invite(), ALICE))] == [404]


def test_auth_scope_local_users_and_register_only() -> None:
    """RFC 3261 §22.3 policy: LOCAL_USERS challenges only From in our domains; REGISTER_ONLY challenges no request."""
    from simsip.sip.proxy import AuthScope

    loc = LocationService()
    loc.add_static("sip:bob@biloxi.example.com", "sip:bob@client.biloxi.example.com")
    for scope, expected in ((AuthScope.ALL, [407]), (AuthScope.LOCAL_USERS, [100, "INVITE"]),
                            (AuthScope.REGISTER_ONLY, [100, "INVITE"])):
        proxy = make_proxy(location=loc, auth_realm="biloxi.example.com", auth_users=(("bob", "z"),), auth_scope=scope)
        sent = sends(proxy.receive(0.0, invite(), ALICE))  # From alice@atlanta: not one of ours
        assert [getattr(s.message, "status", None) or s.message.method for s in sent] == expected, scope
    proxy = make_proxy(host=P1, domains=("atlanta.example.com",), auth_realm="atlanta.example.com",
                       auth_scope=AuthScope.LOCAL_USERS)
    assert [s.message.status for s in sends(proxy.receive(0.0, invite(), ALICE))] == [407]
