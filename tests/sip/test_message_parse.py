"""The parser and serializer on small hand-written cases (RFC 3261 §7, §18.3, §25).

One table of accepted messages, each checked both ways (parse, then bytes and
parse again), and one table of rejected ones with the line and the grammar
rule the error names.
"""

from __future__ import annotations

import pytest

from simsip.sip import URI, Headers, Request, Response, SipParseError, parse

BASE = (
    b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK1\r\n"
    b"To: <sip:bob@biloxi.example.com>\r\n"
    b"From: <sip:alice@atlanta.example.com>;tag=1\r\n"
    b"Call-ID: c1\r\n"
    b"CSeq: 1 OPTIONS\r\n"
)


def test_folded_lines_unfold_to_one_space() -> None:
    """RFC 3261 §7.3.1: a line starting with SP/HTAB continues the previous header; the fold reads as one SP."""
    m = parse(BASE + b"Subject: I know you're there,\r\n\tpick up the phone\r\n   and talk to me!\r\n\r\n")
    assert m.headers.get("Subject") == "I know you're there, pick up the phone and talk to me!"
    assert b"Subject: I know you're there, pick up the phone and talk to me!\r\n" in bytes(m)


def test_compact_and_case_insensitive_names() -> None:
    """RFC 3261 §7.3.3 compact forms and §7.3.1 case-insensitive names map to one canonical name."""
    m = parse(
        b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n"
        b"v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\nt: <sip:bob@b.example.com>\r\n"
        b"f: <sip:alice@a.example.com>;tag=9\r\ni: c2\r\nCSEQ: 2 OPTIONS\r\nk: 100rel\r\nm: <sip:a@a.example.com>\r\n"
        b"c: text/plain\r\nl: 2\r\n\r\nhi"
    )
    assert [n for n, _ in m.headers] == [
        "Via", "To", "From", "Call-ID", "CSeq", "Supported", "Contact", "Content-Type", "Content-Length"]
    assert (m.call_id, m.supported, m.content_type, m.body) == ("c2", ["100rel"], "text/plain", b"hi")


def test_crlf_before_the_start_line_is_ignored() -> None:
    """RFC 3261 §7.5: CRLFs ahead of the start-line are skipped; error lines count from the datagram start."""
    assert parse(b"\r\n\r\n" + BASE + b"\r\n").call_id == "c1"
    with pytest.raises(SipParseError) as info:
        parse(b"\r\n" + BASE + b"Max-Forwards: 256\r\n\r\n")
    assert info.value.line == 8


def test_content_length_frames_the_body() -> None:
    """RFC 3261 §18.3: octets after Content-Length are dropped; without it the body runs to the end."""
    m = parse(BASE + b"Content-Length: 3\r\n\r\nabcdef")
    assert m.body == b"abc" and m.content_length == 3
    m = parse(BASE + b"\r\nabcdef")
    assert m.body == b"abcdef" and m.content_length == 6
    with pytest.raises(SipParseError, match="larger than the 6 octets"):
        parse(BASE + b"Content-Length: 7\r\n\r\nabcdef")


def test_bytes_writes_one_correct_content_length() -> None:
    """bytes() replaces a stale Content-Length in place and drops duplicates; == ignores it (framing)."""
    m = Request("MESSAGE", URI.parse("sip:bob@b.example.com"), [("Content-Length", "99"), ("To", "<sip:b@b>"),
                                                             ("Content-Length", "1")], body=b"hello")
    assert bytes(m) == b"MESSAGE sip:bob@b.example.com SIP/2.0\r\nContent-Length: 5\r\nTo: <sip:b@b>\r\n\r\nhello"
    assert parse(bytes(m)) == m
    r = Response(200, headers=Headers())
    assert bytes(r) == b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"


def test_response_reason_and_version_kept_as_sent() -> None:
    """Reason-Phrase is free text (spaces kept); the SIP-Version token keeps its spelling."""
    m = parse(b"SIP/2.0 404  Not  Here \r\n\r\n")
    assert isinstance(m, Response) and (m.status, m.reason) == (404, " Not  Here ")
    assert bytes(m).startswith(b"SIP/2.0 404  Not  Here \r\n")
    assert parse(b"sip/2.0 200 OK\r\n\r\n").version == "sip/2.0"


def test_list_values_and_header_order() -> None:
    """Comma lists split outside quotes and <>; Headers == compares each name's value sequence."""
    m = parse(BASE + b'Contact: "Lee, J." <sip:lee@x.example.com;a=b>;q=0.5, sip:k@y.example.com;expires=60\r\n\r\n')
    assert [(c.display, str(c.uri), c.q, c.expires) for c in m.contacts] == [
        ("Lee, J.", "sip:lee@x.example.com;a=b", 0.5, None), (None, "sip:k@y.example.com", None, 60)]
    moved = Headers([(n, v) for n, v in m.headers if n != "Via"] + [("Via", m.headers.get("Via"))])
    assert moved == m.headers  # order between different names is not significant (RFC 3261 §7.3.1)
    swapped = Headers(list(m.headers) + [("Via", "SIP/2.0/UDP z.example.com;branch=z9hG4bK0")])
    other = Headers([("Via", "SIP/2.0/UDP z.example.com;branch=z9hG4bK0")] + list(m.headers))
    assert swapped != other  # order within one name is


def test_pop_first_and_set_first_split_list_lines() -> None:
    """A proxy removes the top Via or Route value even when it shares a line with others."""
    h = Headers([("Route", "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>"), ("Route", "<sip:p3.example.com;lr>")])
    assert h.pop_first("Route") == "<sip:p1.example.com;lr>"
    assert h.get_all("Route") == ["<sip:p2.example.com;lr>", "<sip:p3.example.com;lr>"]
    h.set_first("route", "<sip:new.example.com;lr>")
    assert list(h) == [("Route", "<sip:new.example.com;lr>"), ("Route", "<sip:p3.example.com;lr>")]
    assert h.pop_first("Route") == "<sip:new.example.com;lr>" and h.pop_first("Route") == "<sip:p3.example.com;lr>"
    assert h.pop_first("Route") is None and len(h) == 0


def test_uri_in_request_line_round_trips_with_escapes_and_ipv6() -> None:
    """The Request-URI is parsed into a URI and written back with the escaping §25 requires."""
    m = parse(b"INVITE sips:%61lice%20b@[2001:db8::10]:5061;transport=tls SIP/2.0\r\n"
              b"CSeq: 1 INVITE\r\n\r\n")
    assert isinstance(m, Request)
    assert (m.uri.scheme, m.uri.user, m.uri.host, m.uri.port, m.uri.transport) == (
        "sips", "alice b", "[2001:db8::10]", 5061, "TLS")
    assert bytes(m).startswith(b"INVITE sips:alice%20b@[2001:db8::10]:5061;transport=tls SIP/2.0\r\n")


@pytest.mark.parametrize(
    ("data", "line", "expected"),
    [
        (b"", 1, "start-line"),
        (b"OPTIONS sip:a@b SIP/2.0\r\nTo: <sip:a@b>\r\n", None, "CRLF CRLF"),
        (b"OPTIONS sip:a@b SIP/2.0\nTo: <sip:a@b>\r\n\r\n", 1, "CRLF"),
        (b"OPTIONS sip:a@b\r\n\r\n", 1, "Method SP Request-URI SP SIP-Version"),
        (b"OPT IONS sip:a@b SIP/2.0\r\n\r\n", 1, "Method SP Request-URI SP SIP-Version"),
        (b"OPTI<NS sip:a@b SIP/2.0\r\n\r\n", 1, "Method"),
        (b"OPTIONS sip:a@b HTTP/1.1\r\n\r\n", 1, "SIP-Version"),
        (b"SIP/2.0 99 Odd\r\n\r\n", 1, "Status-Code 100-699"),
        (b"SIP/2.0 700 Odd\r\n\r\n", 1, "Status-Code 100-699"),
        (b"SIP/2.0 200\r\n\r\n", 1, "SIP-Version SP Status-Code SP Reason-Phrase"),
        (b"SIP/2.0 200 O\x01K\r\n\r\n", 1, "Reason-Phrase"),
        (b"OPTIONS sip:a@b SIP/2.0\r\n folded: first\r\n\r\n", 2, "header-name"),
        (b"OPTIONS sip:a@b SIP/2.0\r\nNo colon here\r\n\r\n", 2, "header-name HCOLON"),
        (b"OPTIONS sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n", 2, "token"),
        (b"OPTIONS sip:a@b SIP/2.0\r\nVia:\r\n\r\n", 2, "at least one value"),
        (b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;ttl=256\r\n\r\n", 2, "ttl 0-255"),
        (b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch\r\n\r\n", 2, '"branch" EQUAL value'),
        (b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1\r\n\r\n", 2, "1*DIGIT LWS Method"),
        (b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 INVITE\r\n\r\n", 2, "CSeq method OPTIONS"),
        (b"OPTIONS sip:a@b SIP/2.0\r\nMax-Forwards: 256\r\n\r\n", 2, "Max-Forwards <= 255"),
        (b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: a b\r\n\r\n", 2, 'word ["@" word]'),
        (b"OPTIONS sip:a@b SIP/2.0\r\nRoute: sip:p.example.com;lr\r\n\r\n", 2, "name-addr"),
        (b"OPTIONS sip:a@b SIP/2.0\r\nContact: <sip:a@b>;q=2\r\n\r\n", 2, "qvalue"),
        (b"OPTIONS sip:a@b SIP/2.0\r\nRequire: 100rel,\r\n\r\n", 2, "token"),
        (b"OPTIONS sip:a@b SIP/2.0\r\nContent-Type: text\r\n\r\n", 2, "m-type SLASH m-subtype"),
        (b"OPTIONS sip:a@b SIP/2.0\r\nRAck: 1 INVITE\r\n\r\n", 2, "response-num LWS CSeq-num LWS Method"),
        (b"OPTIONS sip:a@b:70000 SIP/2.0\r\n\r\n", 1, "port <= 65535"),
        (b"OPTIONS sip:a@[1::2::3] SIP/2.0\r\n\r\n", 1, "IPv6reference"),
        (b"OPTIONS sip:a%4@b SIP/2.0\r\n\r\n", 1, "user"),
    ],
)
def test_rejected(data: bytes, line: int | None, expected: str) -> None:
    """Each malformed input raises SipParseError naming its line and the rule it broke."""
    with pytest.raises(SipParseError) as info:
        parse(data)
    assert (info.value.line, info.value.expected) == (line, expected)
    assert str(info.value).startswith(f"line {line}: " if line else info.value.message)
