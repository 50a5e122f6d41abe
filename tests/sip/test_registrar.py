"""Registrar and location service, RFC 3261 §10.3, message by message along RFC 3665 §2.1-2.5."""

from __future__ import annotations

import random

from simsip.sip.auth import DigestAuthenticator, authorization_header
from simsip.sip.events import Address, Transport
from simsip.sip.message import parse
from simsip.sip.registrar import LocationService, Registrar, aor_key

try:
    from proxyhelp import P2, app, make_proxy, msg, sends
except ImportError:  # tests/sip imported as a package
    from .proxyhelp import P2, app, make_proxy, msg, sends

from conftest import RFC4475

BOB_TLS = Address("client.biloxi.example.com", 5061, Transport.TCP)


def register(
    cseq: int,
    contact: str | None = "<sips:bob@client.biloxi.example.com>",
    authorization: str | None = None,
    extra: str = "",
    call_id: str = "1j9FpLxk3uxtm8tn@biloxi.example.com",
    branch: str | None = None,
):
    """RFC 3665 §2.1 F1 (and its successors): Bob's REGISTER over TLS."""
    lines = [
        f"REGISTER sips:{P2} SIP/2.0",
        f"Via: SIP/2.0/TLS client.biloxi.example.com:5061;branch={branch or f'z9hG4bKnashds{cseq}'}",
        "Max-Forwards: 70",
        "From: Bob <sips:bob@biloxi.example.com>;tag=a73kszlfl",
        "To: Bob <sips:bob@biloxi.example.com>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
    ]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    return msg("\n".join(lines) + "\n" + extra + "\n")


def registrar_proxy():
    """ss2.biloxi: proxy + registrar for biloxi.example.com, Digest realm biloxi.example.com."""
    return make_proxy(registrar=True, auth_realm="biloxi.example.com", auth_users=(("bob", "zanzibar"),))


def only_response(actions):
    """The single response sent back to Bob."""
    sent = sends(actions)
    assert len(sent) == 1 and sent[0].destination == BOB_TLS
    return sent[0].message


def answer(challenge_response, request_cseq: int, password: str = "zanzibar", nc: int = 1, **kw):
    """Bob's next REGISTER, answering the 401's WWW-Authenticate (RFC 3261 §22.2)."""
    challenge = challenge_response.headers.get("WWW-Authenticate")
    creds = authorization_header(challenge, "REGISTER", f"sips:{P2}", "bob", password, random.Random(5), nc=nc)
    return register(request_cseq, authorization=creds, **kw), creds


def test_rfc3665_2_1_successful_new_registration() -> None:
    """RFC 3665 §2.1: F1 REGISTER, F2 401 Digest challenge, F3 REGISTER with credentials, F4 200 with the contact."""
    proxy = registrar_proxy()
    f2 = only_response(proxy.receive(0.0, register(1), BOB_TLS))
    assert f2.status == 401
    assert f2.to.tag
    challenge = f2.headers.get("WWW-Authenticate")
    assert challenge.startswith('Digest realm="biloxi.example.com", nonce="')
    assert challenge.endswith('algorithm=MD5, qop="auth"')
    assert proxy.location.lookup("sip:bob@biloxi.example.com", 0.0) == []
    f3, _ = answer(f2, 2)
    out = proxy.receive(1.0, f3, BOB_TLS)
    f4 = only_response(out)
    assert f4.status == 200
    assert f4.headers.get_all("Contact") == ["<sips:bob@client.biloxi.example.com>;expires=3600"]
    assert str(f4.cseq) == "2 REGISTER"
    assert app(out, "registered")[0].detail == {
        "aor": "bob@biloxi.example.com", "status": 200,
        "contacts": ["<sips:bob@client.biloxi.example.com>;expires=3600"],
    }
    # The binding now routes INVITEs for sip:bob@biloxi.example.com (RFC 3665 §3).
    assert proxy.location.lookup("sip:bob@biloxi.example.com", 1.0) == ["sips:bob@client.biloxi.example.com"]


def registered_proxy():
    """A registrar after RFC 3665 §2.1, with the 401 that gave Bob his nonce."""
    proxy = registrar_proxy()
    f2 = only_response(proxy.receive(0.0, register(1), BOB_TLS))
    f3, _ = answer(f2, 2)
    assert only_response(proxy.receive(1.0, f3, BOB_TLS)).status == 200
    return proxy, f2


def test_rfc3665_2_2_update_of_contact_list() -> None:
    """RFC 3665 §2.2: already authenticated (same nonce, nc=2), a new contact: 200 lists both, no challenge."""
    proxy, f2 = registered_proxy()
    f1, _ = answer(f2, 3, nc=2, contact="<mailto:bob@biloxi.example.com>")
    resp = only_response(proxy.receive(100.0, f1, BOB_TLS))
    assert resp.status == 200
    assert resp.headers.get_all("Contact") == [
        "<sips:bob@client.biloxi.example.com>;expires=3501",
        "<mailto:bob@biloxi.example.com>;expires=3600",
    ]


def test_rfc3665_2_3_request_for_current_contact_list() -> None:
    """RFC 3665 §2.3: REGISTER without Contact is a query: 200 lists the bindings, which stay unchanged."""
    proxy, f2 = registered_proxy()
    f1, _ = answer(f2, 3, nc=2, contact=None)
    resp = only_response(proxy.receive(601.0, f1, BOB_TLS))
    assert resp.status == 200
    assert resp.headers.get_all("Contact") == ["<sips:bob@client.biloxi.example.com>;expires=3000"]
    assert proxy.location.lookup("sip:bob@biloxi.example.com", 601.0) == ["sips:bob@client.biloxi.example.com"]


def test_rfc3665_2_4_cancellation_of_registration() -> None:
    """RFC 3665 §2.4 / RFC 3261 §10.2.2: ``Contact: *`` with ``Expires: 0`` removes every binding."""
    proxy, f2 = registered_proxy()
    f1, _ = answer(f2, 3, nc=2, contact="*", extra="Expires: 0\n")
    resp = only_response(proxy.receive(5.0, f1, BOB_TLS))
    assert resp.status == 200
    assert resp.headers.get_all("Contact") == []
    assert proxy.location.lookup("sip:bob@biloxi.example.com", 5.0) == []


def test_rfc3665_2_5_unsuccessful_registration() -> None:
    """RFC 3665 §2.5: F1 REGISTER, F2 401, F3 wrong credentials, F4 401 again; no binding."""
    proxy = registrar_proxy()
    f2 = only_response(proxy.receive(0.0, register(1), BOB_TLS))
    f3, _ = answer(f2, 2, password="not-zanzibar")
    f4 = only_response(proxy.receive(1.0, f3, BOB_TLS))
    assert f4.status == 401
    assert f4.headers.get("WWW-Authenticate").startswith('Digest realm="biloxi.example.com"')
    assert f4.headers.get("WWW-Authenticate") != f2.headers.get("WWW-Authenticate")  # a fresh nonce
    assert proxy.location.lookup("sip:bob@biloxi.example.com", 1.0) == []


def test_registrar_401_retransmitted_request_answered_from_transaction() -> None:
    """RFC 3261 §17.2.2 at the registrar (UDP, Timer J running): a retransmitted REGISTER gets the same 401."""
    proxy = registrar_proxy()
    udp = Address("client.biloxi.example.com", 5061, Transport.UDP)
    first = sends(proxy.receive(0.0, register(1), udp))[0]
    again = sends(proxy.receive(0.5, register(1), udp))
    assert [(s.message is first.message, s.retransmission) for s in again] == [(True, 1)]


# ---------------------------------------------------------------- §10.3 rules, without auth


def plain_registrar(location: LocationService | None = None) -> Registrar:
    """A registrar for biloxi.example.com with no authentication."""
    return Registrar(("biloxi.example.com", P2), location or LocationService(), random.Random(3))


def test_contact_expires_param_beats_expires_header_and_binding_expires() -> None:
    """RFC 3261 §10.3 step 7: per-contact ``expires`` wins over Expires; bindings vanish when due."""
    reg = plain_registrar()
    req = register(1, contact="<sip:bob@a.example.com>;expires=120, <sip:bob@b.example.com>", extra="Expires: 600\n")
    resp = reg.handle(0.0, req)
    assert resp.headers.get_all("Contact") == [
        "<sip:bob@a.example.com>;expires=120",
        "<sip:bob@b.example.com>;expires=600",
    ]
    assert reg.location.lookup("sip:bob@biloxi.example.com", 119.0) == ["sip:bob@a.example.com", "sip:bob@b.example.com"]
    assert reg.location.lookup("sip:bob@biloxi.example.com", 120.0) == ["sip:bob@b.example.com"]
    assert reg.location.lookup("sip:bob@biloxi.example.com", 600.0) == []


def test_200_carries_date_of_simulated_time() -> None:
    """RFC 3261 §10.3 step 8: "The response SHOULD include a Date header field" (§20.17 GMT), from the fixed epoch."""
    reg = plain_registrar()
    assert reg.handle(0.0, register(1)).headers.get("Date") == "Thu, 01 Jan 2026 00:00:00 GMT"
    assert reg.handle(90061.5, register(2)).headers.get("Date") == "Fri, 02 Jan 2026 01:01:01 GMT"
    # Only the 200: a 423 has no bindings to date.
    assert reg.handle(90062.0, register(3, extra="Expires: 30\n")).headers.get("Date") is None


def test_malformed_contact_expires_is_3600() -> None:
    """RFC 3261 §10.2 ``expires``: "Malformed values SHOULD be treated as equivalent to 3600" (not the Expires header's)."""
    reg = plain_registrar()
    req = register(1, contact="<sip:bob@a.example.com>;expires=soon, <sip:bob@b.example.com>;expires", extra="Expires: 600\n")
    resp = reg.handle(0.0, req)
    assert resp.status == 200
    assert resp.headers.get_all("Contact") == [
        "<sip:bob@a.example.com>;expires=3600",
        "<sip:bob@b.example.com>;expires=3600",
    ]
    assert reg.location.lookup("sip:bob@biloxi.example.com", 3599.0) == ["sip:bob@a.example.com", "sip:bob@b.example.com"]
    assert reg.location.lookup("sip:bob@biloxi.example.com", 3600.0) == []


def test_malformed_expires_header_is_400_not_a_crash() -> None:
    """RFC 3261 §20.19 (delta-seconds) / §21.4.1: a REGISTER whose Expires does not parse gets 400; nothing is bound."""
    proxy = make_proxy(registrar=True)
    req = register(1)
    req.headers.set("Expires", "tomorrow")  # set by hand: parse() would have refused these bytes
    resp = only_response(proxy.receive(0.0, req, BOB_TLS))
    assert (resp.status, resp.reason) == (400, "Bad Request (bad delta-seconds 'tomorrow' (expected 1*DIGIT))")
    assert proxy.location.lookup("sip:bob@biloxi.example.com", 0.0) == []


def test_q_orders_lookup() -> None:
    """RFC 3261 §16.6 / §20.10: contacts with higher q are tried first."""
    reg = plain_registrar()
    reg.handle(0.0, register(1, contact="<sip:bob@low.example.com>;q=0.1, <sip:bob@high.example.com>;q=0.9"))
    assert reg.location.lookup("sip:bob@biloxi.example.com", 1.0) == ["sip:bob@high.example.com", "sip:bob@low.example.com"]


def test_interval_too_brief_423_with_min_expires() -> None:
    """RFC 3261 §10.3 step 7: 0 < expires < minimum: 423 with Min-Expires, no binding."""
    reg = plain_registrar()
    resp = reg.handle(0.0, register(1, extra="Expires: 30\n"))
    assert resp.status == 423 and resp.headers.get("Min-Expires") == "60"
    assert reg.location.lookup("sip:bob@biloxi.example.com", 0.0) == []


def test_interval_of_an_hour_never_too_brief() -> None:
    """RFC 3261 §10.3 step 7: 423 "If and only if ... greater than zero AND smaller than one hour AND less than" the minimum."""
    reg = Registrar(("biloxi.example.com", P2), LocationService(), random.Random(3), min_expires=7200)
    resp = reg.handle(0.0, register(1, extra="Expires: 3600\n"))
    assert resp.status == 200
    assert resp.headers.get_all("Contact") == ["<sips:bob@client.biloxi.example.com>;expires=3600"]
    # Just under the hour is too brief; Min-Expires names what the registrar honours: the hour.
    resp = reg.handle(1.0, register(2, extra="Expires: 3599\n"))
    assert resp.status == 423 and resp.headers.get("Min-Expires") == "3600"


def test_star_needs_expires_zero_and_no_other_contact() -> None:
    """RFC 3261 §10.3 step 6: ``*`` with a non-zero Expires is a 400."""
    reg = plain_registrar()
    assert reg.handle(0.0, register(1, contact="*", extra="Expires: 60\n")).status == 400


def test_out_of_order_register_500() -> None:
    """RFC 3261 §10.3 step 7: same Call-ID, CSeq not higher than the binding's: 500, nothing changes."""
    reg = plain_registrar()
    assert reg.handle(0.0, register(5)).status == 200
    assert reg.handle(1.0, register(4, contact="<sips:bob@client.biloxi.example.com>;expires=0")).status == 500
    assert reg.location.lookup("sip:bob@biloxi.example.com", 1.0) == ["sips:bob@client.biloxi.example.com"]


def test_removal_of_one_contact_with_expires_zero() -> None:
    """RFC 3261 §10.2.2: one contact with expires=0 removes only that binding."""
    reg = plain_registrar()
    reg.handle(0.0, register(1, contact="<sip:bob@a.example.com>, <sip:bob@b.example.com>"))
    resp = reg.handle(1.0, register(2, contact="<sip:bob@a.example.com>;expires=0"))
    assert resp.headers.get_all("Contact") == ["<sip:bob@b.example.com>;expires=3599"]


def test_other_domain_404() -> None:
    """RFC 3261 §10.3 step 1/5: not our domain: 404."""
    reg = plain_registrar()
    req = register(1)
    req.headers.set("To", "<sips:bob@atlanta.example.com>")
    assert reg.handle(0.0, req).status == 404


def test_authenticated_user_may_register_only_its_aor() -> None:
    """RFC 3261 §10.3 step 4: credentials of alice cannot register bob: 403."""
    auth = DigestAuthenticator("biloxi.example.com", {"alice": "pw"}, random.Random(9))
    reg = Registrar(("biloxi.example.com", P2), LocationService(), random.Random(3), authenticator=auth)
    creds = authorization_header(auth.challenge(), "REGISTER", f"sips:{P2}", "alice", "pw", random.Random(1))
    assert reg.handle(0.0, register(1, authorization=creds)).status == 403
    assert reg.location.lookup("sip:bob@biloxi.example.com", 0.0) == []


def test_rfc4475_unksm2_registrar_rejects_non_sip_aor() -> None:
    """RFC 4475 §3.3.4 unksm2.dat: a To URI of an unknown scheme cannot be an AOR: 400."""
    reg = Registrar(("example.com",), LocationService(), random.Random(1))
    assert reg.handle(0.0, parse((RFC4475 / "unksm2.dat").read_bytes())).status == 400


def test_rfc4475_cparam01_contact_param_is_not_a_uri_param() -> None:
    """RFC 4475 §3.3.12 cparam01.dat: ``;unknownparam`` after an addr-spec is a contact-param."""
    reg = Registrar(("example.com",), LocationService(), random.Random(1))
    resp = reg.handle(0.0, parse((RFC4475 / "cparam01.dat").read_bytes()))
    assert resp.status == 200
    assert reg.location.lookup("sip:watson@example.com", 0.0) == ["sip:+19725552222@gw1.example.net"]
    assert resp.headers.get_all("Contact") == ["<sip:+19725552222@gw1.example.net>;unknownparam;expires=3600"]


def test_rfc4475_cparam02_uri_param_kept_in_binding() -> None:
    """RFC 4475 §3.3.13 cparam02.dat: ``;unknownparam`` inside <> stays a URI parameter of the binding."""
    reg = Registrar(("example.com",), LocationService(), random.Random(1))
    resp = reg.handle(0.0, parse((RFC4475 / "cparam02.dat").read_bytes()))
    assert resp.status == 200
    assert reg.location.lookup("sip:watson@example.com", 0.0) == ["sip:+19725552222@gw1.example.net;unknownparam"]


def test_rfc4475_regescrt_escaped_header_kept_in_contact() -> None:
    """RFC 4475 §3.3.14 regescrt.dat: the escaped Route header stays in the bound contact URI."""
    reg = Registrar(("example.com",), LocationService(), random.Random(1))
    resp = reg.handle(0.0, parse((RFC4475 / "regescrt.dat").read_bytes()))
    assert resp.status == 200
    (contact,) = reg.location.lookup("sip:user@example.com", 0.0)
    assert contact == "sip:user@example.com?Route=%3Csip:sip.example.com%3E"


def test_rfc4475_escnull_two_distinct_contacts() -> None:
    """RFC 4475 §3.1.1.4 escnull.dat: %00 does not truncate; two distinct contacts are registered."""
    reg = Registrar(("example.com",), LocationService(), random.Random(1))
    resp = reg.handle(0.0, parse((RFC4475 / "escnull.dat").read_bytes()))
    assert resp.status == 200
    assert reg.location.lookup("sip:null-%00-null@example.com", 0.0) == [
        "sip:%00@host5.example.com", "sip:%00%00@host5.example.com",
    ]
    assert aor_key("sip:null-%00-null@example.com") == "null-\x00-null@example.com"


def test_aor_key_ignores_scheme_params_and_host_case() -> None:
    """RFC 3261 §10.3 step 5: the AOR is canonical: URI parameters dropped, host case-insensitive."""
    assert aor_key("sips:bob@Biloxi.Example.com;transport=tcp") == "bob@biloxi.example.com"
    assert aor_key("sip:bob@biloxi.example.com:5070") == "bob@biloxi.example.com"
