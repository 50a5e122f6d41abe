"""Message construction, typed accessors, make_response and the wire form (RFC 3261 §7, §8.2.6, §20)."""

from __future__ import annotations

import pytest

from simsip.sip import (
    URI,
    CSeq,
    Headers,
    NameAddr,
    RAck,
    Request,
    Response,
    SipParseError,
    Via,
    make_response,
    parse,
)


def invite() -> Request:
    """The RFC 3261 §4 INVITE from Alice to Bob, built the way the cores build messages."""
    h = Headers()
    h.add("Via", str(Via("UDP", "pc33.atlanta.com", params={"branch": "z9hG4bK776asdhds"})))
    h.add("Max-Forwards", "70")
    h.add("To", "Bob <sip:bob@biloxi.com>")
    h.add("From", "Alice <sip:alice@atlanta.com>;tag=1928301774")
    h.add("Call-ID", "a84b4c76e66710@pc33.atlanta.com")
    h.add("CSeq", str(CSeq(314159, "INVITE")))
    h.add("Contact", "<sip:alice@pc33.atlanta.com>")
    h.add("Content-Type", "application/sdp")
    return Request("INVITE", URI.parse("sip:bob@biloxi.com"), h, body=b"v=0\r\n")


def test_construct_and_serialize_invite() -> None:
    """bytes() writes CRLF lines, the canonical names and a Content-Length equal to the body."""
    wire = bytes(invite())
    assert wire == (
        b"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n"
        b"Max-Forwards: 70\r\n"
        b"To: Bob <sip:bob@biloxi.com>\r\n"
        b"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
        b"Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
        b"CSeq: 314159 INVITE\r\n"
        b"Contact: <sip:alice@pc33.atlanta.com>\r\n"
        b"Content-Type: application/sdp\r\n"
        b"Content-Length: 5\r\n"
        b"\r\n"
        b"v=0\r\n"
    )
    assert parse(wire) == invite()


def test_typed_accessors() -> None:
    """Each accessor parses its header: Via, CSeq, From/To with tag, Contact, Max-Forwards."""
    m = invite()
    assert m.top_via.branch == "z9hG4bK776asdhds"
    assert m.top_via.transport == "UDP" and m.top_via.host == "pc33.atlanta.com" and m.top_via.port is None
    assert m.cseq == CSeq(314159, "INVITE")
    assert m.call_id == "a84b4c76e66710@pc33.atlanta.com"
    assert m.from_.tag == "1928301774" and m.from_.display == "Alice"
    assert m.to.tag is None and m.to.uri == URI("sip", "bob", None, "biloxi.com")
    assert [str(c.uri) for c in m.contacts] == ["sip:alice@pc33.atlanta.com"]
    assert m.max_forwards == 70
    assert m.content_type == "application/sdp"
    assert m.content_length == 5
    assert m.rseq is None and m.rack is None and m.expires is None
    assert m.require == [] and m.supported == [] and m.routes == []


def test_cache_invalidated_on_mutation() -> None:
    """Changing a header changes what its accessor returns."""
    m = invite()
    assert m.cseq.seq == 314159
    m.headers.set("CSeq", "314160 INVITE")
    assert m.cseq == CSeq(314160, "INVITE")
    m.headers.prepend("Via", "SIP/2.0/UDP proxy.biloxi.com;branch=z9hG4bKnew")
    assert [v.host for v in m.vias] == ["proxy.biloxi.com", "pc33.atlanta.com"]
    assert m.headers.pop_first("Via") == "SIP/2.0/UDP proxy.biloxi.com;branch=z9hG4bKnew"
    assert [v.host for v in m.vias] == ["pc33.atlanta.com"]
    m.headers.remove("cseq")
    with pytest.raises(SipParseError):
        m.cseq


def test_missing_and_repeated_mandatory_headers_raise() -> None:
    """RFC 4475 §3.3.1/§3.3.8 are decided above the parser: accessors raise SipParseError."""
    m = Request("OPTIONS", "sip:bob@biloxi.com", [("CSeq", "1 OPTIONS"), ("CSeq", "2 OPTIONS")])
    for name in ("call_id", "from_", "to", "vias", "top_via", "cseq"):
        with pytest.raises(SipParseError):
            getattr(m, name)
    m.headers.add("Call-ID", "not a callid")
    with pytest.raises(SipParseError):
        m.call_id


def test_headers_case_insensitive_compact_and_list_values() -> None:
    """Compact names normalise to full names; list headers split at commas outside quotes and <>."""
    h = Headers([("v", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b:5070;branch=z9hG4bK2"), ("K", "100rel, timer")])
    assert list(h) == [
        ("Via", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b:5070;branch=z9hG4bK2"),
        ("Supported", "100rel, timer"),
    ]
    assert h.get("VIA") == "SIP/2.0/UDP a;branch=z9hG4bK1"
    assert h.get_all("via") == ["SIP/2.0/UDP a;branch=z9hG4bK1", "SIP/2.0/TCP b:5070;branch=z9hG4bK2"]
    assert h.get_all("supported") == ["100rel", "timer"]
    assert "Supported" in h and "k" in h and "Require" not in h and "not a name" not in h
    h.add("Contact", '"Doe, John" <sip:j@x;a=b,c>, <sip:k@y>')
    assert h.get_all("m") == ['"Doe, John" <sip:j@x;a=b,c>', "<sip:k@y>"]
    h.add("Subject", "a, b")
    assert h.get_all("s") == ["a, b"]
    assert h.get("Nope") is None and h.get("Nope", "x") == "x"
    assert h == Headers(list(h)) and h != Headers()
    assert Headers([("Via", "a, b")]) == Headers([("Via", "a"), ("Via", "b")])
    with pytest.raises(ValueError):
        h.add("X", "a\r\nInjected: 1")


def test_make_response_copies_rfc3261_8_2_6_headers() -> None:
    """RFC 3261 §8.2.6.2: Via (all, in order), From, To (+tag), Call-ID and CSeq are copied."""
    req = invite()
    req.headers.add("Via", "SIP/2.0/UDP second.example.com;branch=z9hG4bK2")
    r = make_response(req, 180, to_tag="a6c85cf")
    assert (r.status, r.reason) == (180, "Ringing")
    assert [(n, v) for n, v in r.headers] == [
        ("Via", "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds"),
        ("To", "Bob <sip:bob@biloxi.com>;tag=a6c85cf"),
        ("From", "Alice <sip:alice@atlanta.com>;tag=1928301774"),
        ("Call-ID", "a84b4c76e66710@pc33.atlanta.com"),
        ("CSeq", "314159 INVITE"),
        ("Via", "SIP/2.0/UDP second.example.com;branch=z9hG4bK2"),
    ]
    assert r.to.tag == "a6c85cf" and r.cseq == CSeq(314159, "INVITE") and len(r.vias) == 2
    assert make_response(req, 100).to.tag is None
    # A To that already has a tag keeps it.
    tagged = Request("BYE", "sip:alice@pc33.atlanta.com", [("To", "<sip:a@b>;tag=x"), ("CSeq", "2 BYE")])
    assert make_response(tagged, 200, to_tag="y").to.tag == "x"
    assert make_response(req, 503).reason == "Service Unavailable"
    assert make_response(req, 502).reason == "Bad Gateway"
    assert make_response(req, 499, "Odd").reason == "Odd"


def test_response_round_trip_and_equality() -> None:
    """parse(bytes(r)) == r for a response; equality looks at status line, headers, body."""
    r = make_response(invite(), 200, to_tag="t1")
    r.headers.add("Contact", "<sip:bob@192.0.2.4>")
    assert parse(bytes(r)) == r
    other = r.copy()
    other.headers.add("Require", "100rel")
    assert other != r and r.headers.get("Require") is None
    assert Response(183).reason == "Session Progress"
    assert Response(183).is_provisional and not Response(183).is_final


def test_via_name_addr_cseq_rack_parse_and_str() -> None:
    """The typed views parse and render their header values."""
    v = Via.parse("SIP/2.0/UDP [2001:db8::9]:5062;branch=z9hG4bKx;received=192.0.2.1;rport=5060;ttl=16;maddr=m.example")
    assert (v.host, v.port, v.branch, v.received, v.rport, v.ttl, v.maddr) == (
        "[2001:db8::9]", 5062, "z9hG4bKx", "192.0.2.1", 5060, 16, "m.example")
    assert Via.parse(str(v)) == v
    assert Via.parse("SIP/2.0/UDP h;rport").rport is None and "rport" in Via.parse("SIP/2.0/UDP h;rport").params
    na = NameAddr.parse('"A \\"B\\"" <sip:a@b.c;transport=tcp>;tag=1;q=0.5')
    assert na.display == 'A "B"' and na.uri.transport == "TCP" and na.tag == "1" and na.q == 0.5
    assert NameAddr.parse(str(na)) == na
    assert str(NameAddr(URI.parse("sip:x@y")).with_tag("t")) == "<sip:x@y>;tag=t"
    assert CSeq.parse("0009  INVITE") == CSeq(9, "INVITE") and str(CSeq(9, "INVITE")) == "9 INVITE"
    assert RAck.parse("776656 1 INVITE") == RAck(776656, 1, "INVITE") and str(RAck(1, 2, "INVITE")) == "1 2 INVITE"
    for bad in ("SIP/2.0/UDP", "SIP/2.0/UDP h;ttl=300", "SIP/2.0 h"):
        with pytest.raises(SipParseError):
            Via.parse(bad)
    with pytest.raises(SipParseError):
        CSeq.parse("4294967296 INVITE")


def test_uri_forms() -> None:
    """sip/sips/tel/other schemes, IPv6 references, escapes, params and headers (RFC 3261 §19.1)."""
    u = URI.parse("sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?subject=project%20x&priority=urgent")
    assert (u.scheme, u.user, u.password, u.host, u.port) == ("sips", "alice", "secret", "[2001:db8::1]", 5061)
    assert u.params == {"transport": "tcp", "lr": None} and u.lr
    assert u.headers == {"subject": "project x", "priority": "urgent"}
    assert URI.parse(str(u)) == u
    t = URI.parse("tel:+1-201-555-0123;phone-context=example.com")
    assert (t.scheme, t.user, t.params) == ("tel", "+1-201-555-0123", {"phone-context": "example.com"})
    assert str(t) == "tel:+1-201-555-0123;phone-context=example.com"
    assert str(URI.parse("soap.beep://192.0.2.103:3002")) == "soap.beep://192.0.2.103:3002"
    assert URI.parse("sip:%61lice@atlanta.com") == URI.parse("sip:alice@ATLANTA.com")
    assert str(URI.parse("sip:sips%3Auser%40example.com@example.net")) == "sip:sips%3Auser%40example.com@example.net"
    for bad in ("sip:", "sip:a@", "sip:a@b:99999", "sip:a b@c", "<sip:a@b>", "sip:[::g]", "tel:abc-x"):
        with pytest.raises(SipParseError):
            URI.parse(bad)


def test_node_names_with_underscores_are_host_names() -> None:
    """Scenario node names such as edge_1 end up in Via and URIs: the host grammar accepts '_'."""
    via = Via.parse("SIP/2.0/UDP edge_1:5060;branch=z9hG4bK1;received=alice_2")
    assert (via.host, via.port, via.received) == ("edge_1", 5060, "alice_2")
    assert URI.parse("sip:bob_3@proxy_2.example.com").host == "proxy_2.example.com"
    for bad in ("sip:a@-x", "sip:a@x-", "sip:a@x..y"):
        with pytest.raises(SipParseError):
            URI.parse(bad)


def test_via_branch_shortcut_leaves_the_given_params_alone() -> None:
    """``Via(..., params, branch=b)`` sets the branch (RFC 3261 §8.1.1.7) in its own copy of ``params``."""
    params: dict[str, str | None] = {"rport": None}
    via = Via("UDP", "alice", 5060, params, branch="z9hG4bK1")
    assert str(via) == "SIP/2.0/UDP alice:5060;rport;branch=z9hG4bK1"
    assert params == {"rport": None}
    assert str(Via("UDP", "bob", None, params, branch="z9hG4bK2")) == "SIP/2.0/UDP bob;rport;branch=z9hG4bK2"


def test_typed_values_can_be_added_directly() -> None:
    """Headers.add stores str() of a typed value, so cores need not call str themselves."""
    h = Headers()
    h.add("Via", Via("TCP", "edge", 5060, branch="z9hG4bKa"))
    h.add("CSeq", CSeq(7, "BYE"))
    h.add("Max-Forwards", 70)
    h.prepend("Route", NameAddr(URI.parse("sip:edge;lr")))
    assert list(h) == [("Via", "SIP/2.0/TCP edge:5060;branch=z9hG4bKa"), ("CSeq", "7 BYE"),
                       ("Max-Forwards", "70"), ("Route", "<sip:edge;lr>")]
