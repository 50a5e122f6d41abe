"""RFC 4475 torture messages through the parser, one test per message, named after its section.

The files are read from ``../shared/conformance/rfc4475`` (tests/conftest.py
``RFC4475``); nothing is copied into the repository. Every 3.1.1 message
parses and survives ``parse(bytes(m)) == m``; every 3.1.2 message raises
SipParseError except 3.1.2.16 (see its test); the 3.2-3.4 messages parse and
leave their verdict to the layers above, which find missing, repeated or
malformed mandatory headers through accessors that raise SipParseError.
"""

from __future__ import annotations

import csv
import sys

import pytest

from simsip.sip import CSeq, Request, Response, SipParseError, parse
from conftest import RFC4475


def load(name: str) -> bytes:
    """The archive member ``name`` byte for byte."""
    return (RFC4475 / name).read_bytes()


def parsed(name: str) -> Request | Response:
    """Parse a message that must parse, and check it survives serialization."""
    message = parse(load(name))
    assert parse(bytes(message)) == message
    return message


def rejected(name: str) -> SipParseError:
    """Parse a message that must be rejected; return the error."""
    with pytest.raises(SipParseError) as info:
        parse(load(name))
    return info.value


def test_every_manifest_message_has_a_test() -> None:
    """The 49 RFC 4475 section-3 messages are each exercised by a test named after the section."""
    with open(RFC4475 / "manifest.tsv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(rows) == 49
    module = sys.modules[__name__]
    for row in rows:
        name = f"test_{row['section'].replace('.', '_')}_{row['name'].removesuffix('.dat')}"
        assert callable(getattr(module, name, None)), f"no test for {row['section']} {row['name']}"


# ---------------------------------------------------------------- 3.1.1 valid


def test_3_1_1_1_wsinv() -> None:
    """3.1.1.1 A Short Tortuous INVITE: folding, odd LWS, compact forms, escaped quotes, leading zeros."""
    m = parsed("wsinv.dat")
    assert isinstance(m, Request) and m.method == "INVITE"
    assert (m.uri.user, m.uri.host, m.uri.params) == ("vivekg", "chair-dnrc.example.com", {"unknownparam": None})
    assert m.to.tag == "1918181833n" and m.to.display is None
    assert m.from_.display == 'J Rosenberg \\"' and m.from_.tag == "98asjd8"
    assert m.max_forwards == 68 and m.cseq == CSeq(9, "INVITE") and m.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert [(v.protocol, v.transport, v.host, v.branch) for v in m.vias] == [
        ("SIP/2.0", "UDP", "192.0.2.2", "390skdjuw"),
        ("SIP/2.0", "TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("SIP/2.0", "UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert m.headers.get("Subject") == ""
    assert m.headers.get("newfangledheader") == "newfangled value continued newfangled value"
    assert m.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert m.routes[0].uri.params == {"lr": None, "unknownwith": "value", "unknown-no-value": None}
    [contact] = m.contacts
    assert contact.display == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"} and contact.q == 0.33
    assert m.content_type == "application/sdp" and len(m.body) == m.content_length == 150


def test_3_1_1_2_intmeth() -> None:
    """3.1.1.2 Wide Range of Valid Characters: every token character in method, URI, params, Call-ID."""
    m = parsed("intmeth.dat")
    assert isinstance(m, Request)
    assert m.method == "!interesting-Method0123456789_*+`.%indeed'~" == m.cseq.method
    assert m.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert m.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert m.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"  # quoted-pairs, including a real NUL
    assert m.from_.display == "token1~` token2'+_ token3*%!.-"
    assert m.from_.params == {"fromparam''~+*_!.-%": '"работающий"', "tag": "_token~1'+`*%!-."}
    assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert m.top_via.branch == "z9hG4bK-.!%66*_+`'~" and m.max_forwards == 255
    assert m.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"


def test_3_1_1_3_esc01() -> None:
    """3.1.1.3 Valid Use of the % Escaping Mechanism: escapes resolve once, where 'escaped' is allowed."""
    m = parsed("esc01.dat")
    assert isinstance(m, Request)
    assert (m.uri.user, m.uri.host) == ("sips:user@example.com", "example.net")
    assert str(m.uri) == "sip:sips%3Auser%40example.com@example.net"
    assert m.to.uri.user == "user" and m.from_.uri.user == "I have spaces"
    [contact] = m.contacts
    assert contact.uri.user == "caller"
    # %6C%72 is the parameter lr; n%61me=v%61lue%25%34%31 is name=value%41, not valueA.
    assert contact.uri.params == {"lr": None, "name": "value%41"}


def test_3_1_1_4_escnull() -> None:
    """3.1.1.4 Escaped Nulls in URIs: %00 is kept, the AOR is not truncated, two distinct Contacts."""
    m = parsed("escnull.dat")
    assert m.to.uri.user == "null-\x00-null" == m.from_.uri.user
    assert [c.uri.user for c in m.contacts] == ["\x00", "\x00\x00"]
    assert m.contacts[0].uri != m.contacts[1].uri
    assert str(m.to.uri) == "sip:null-%00-null@example.com"


def test_3_1_1_5_esc02() -> None:
    """3.1.1.5 Use of % When It Is Not an Escape: method RE%47IST%45R is unknown; C%6Fntact is another header."""
    m = parsed("esc02.dat")
    assert isinstance(m, Request) and m.method == "RE%47IST%45R" != "REGISTER"
    assert m.to.display == "%Z%45" and m.from_.display == "%Z%45"
    assert m.top_via.branch == "z9hG4bK209%fzsnel234"
    assert [c.uri.user for c in m.contacts] == ["alias1", "alias3"]
    assert m.headers.get_all("C%6Fntact") == ["<sip:alias2@host2.example.com>"]


def test_3_1_1_6_lwsdisp() -> None:
    """3.1.1.6 No LWS between Display Name and <: accepted, as RFC 4475 asks."""
    m = parsed("lwsdisp.dat")
    assert m.from_.display == "caller" and str(m.from_.uri) == "sip:caller@example.com" and m.from_.tag == "323"


def test_3_1_1_7_longreq() -> None:
    """3.1.1.7 Long Values in Header Fields: long names, values and 34 Via values in many spellings."""
    m = parsed("longreq.dat")
    assert len(m.vias) == 34
    assert m.to.display.startswith("I have a user name of extremeextreme")
    assert m.to.uri.port == 6000 and len(m.to.uri.params) == 3
    assert len(m.from_.tag) == 155 and m.from_.tag.endswith("982424")
    assert m.call_id == "longreq.one" + "really" * 20 + "longcallid" and m.cseq.method == "INVITE"


def test_3_1_1_8_dblreq() -> None:
    """3.1.1.8 Extra Trailing Octets in a UDP Datagram: the REGISTER is kept, the rest ignored (RFC 3261 §18.3)."""
    data = load("dblreq.dat")
    m = parsed("dblreq.dat")
    assert isinstance(m, Request) and m.method == "REGISTER" and m.body == b""
    assert b"INVITE" in data[len(bytes(m)) :]


def test_3_1_1_9_semiuri() -> None:
    """3.1.1.9 Semicolon-Separated Parameters in URI User Part: the user is 'user;par=u@example.net'."""
    m = parsed("semiuri.dat")
    assert isinstance(m, Request)
    assert (m.uri.user, m.uri.host, m.uri.params) == ("user;par=u@example.net", "example.com", {})
    assert m.headers.get_all("Accept") == [
        "application/sdp", "application/pkcs7-mime", "multipart/mixed",
        "multipart/signed", "message/sip", "message/sipfrag",
    ]  # fmt: skip


def test_3_1_1_10_transports() -> None:
    """3.1.1.10 Varied and Unknown Transport Types: UDP, SCTP, TLS, an unknown token, TCP."""
    m = parsed("transports.dat")
    assert [v.transport for v in m.vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_3_1_1_11_mpart01() -> None:
    """3.1.1.11 Multipart MIME Message: a binary body with NUL and bare CR/LF, framed by Content-Length."""
    m = parsed("mpart01.dat")
    assert m.content_type == "multipart/mixed" and len(m.body) == 553
    assert b"\x00" in m.body and m.body.endswith(b"\r\n")


def test_3_1_1_12_unreason() -> None:
    """3.1.1.12 Unusual Reason Phrase: unreserved characters and UTF-8 in the reason phrase."""
    m = parsed("unreason.dat")
    assert isinstance(m, Response) and m.status == 200
    assert m.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"


def test_3_1_1_13_noreason() -> None:
    """3.1.1.13 Empty Reason Phrase: 'SIP/2.0 100 ' gives an empty reason, written back the same way."""
    m = parsed("noreason.dat")
    assert isinstance(m, Response) and (m.status, m.reason) == (100, "")
    assert bytes(m).startswith(b"SIP/2.0 100 \r\n")


# ---------------------------------------------------------------- 3.1.2 invalid


def test_3_1_2_1_badinv01() -> None:
    """3.1.2.1 Extraneous Header Field Separators: empty Via parameters and values are rejected."""
    err = rejected("badinv01.dat")
    assert err.line == 7 and err.message.startswith("Via:")


def test_3_1_2_2_clerr() -> None:
    """3.1.2.2 Content Length Larger Than Message: a datagram shorter than Content-Length is rejected."""
    assert "Content-Length 9999 larger than the 154 octets" in rejected("clerr.dat").message


def test_3_1_2_3_ncl() -> None:
    """3.1.2.3 Negative Content-Length: -999 is not 1*DIGIT."""
    err = rejected("ncl.dat")
    assert err.message.startswith("Content-Length:") and err.expected == "1*DIGIT"


def test_3_1_2_4_scalar02() -> None:
    """3.1.2.4 Request Scalar Fields with Overlarge Values: a CSeq above 2**32-1 is rejected (400)."""
    err = rejected("scalar02.dat")
    assert err.line == 5 and err.message.startswith("CSeq:")


def test_3_1_2_5_scalarlg() -> None:
    """3.1.2.5 Response Scalar Fields with Overlarge Values: the response (CSeq > 2**32-1) is rejected."""
    assert rejected("scalarlg.dat").message.startswith("CSeq:")


def test_3_1_2_6_quotbal() -> None:
    """3.1.2.6 Unterminated Quoted String in Display Name.

    RFC 4475 lets an element try to infer the missing quote; simsip does not:
    the To header is malformed and the message is rejected.
    """
    err = rejected("quotbal.dat")
    assert err.line == 2 and err.message.startswith("To: unterminated quoted display name")


def test_3_1_2_7_ltgtruri() -> None:
    """3.1.2.7 <> Enclosing Request-URI.

    RFC 4475 allows a liberal element to strip the brackets; simsip rejects
    the Request-Line (the 400 the RFC calls reasonable), so no bracketed
    Request-URI can ever be forwarded.
    """
    err = rejected("ltgtruri.dat")
    assert err.line == 1 and err.message.startswith("Request-URI:")


def test_3_1_2_8_lwsruri() -> None:
    """3.1.2.8 Malformed SIP Request-URI (embedded LWS).

    RFC 4475 lets an element ignore the LWS where unambiguous; simsip
    rejects: a Request-Line has exactly two SP.
    """
    err = rejected("lwsruri.dat")
    assert err.line == 1 and err.expected == "Method SP Request-URI SP SIP-Version"


def test_3_1_2_9_lwsstart() -> None:
    """3.1.2.9 Multiple SP Separating Request-Line Elements.

    RFC 4475: "may reject as malformed"; a liberal element could ignore the
    extra SP. simsip chooses to reject.
    """
    assert rejected("lwsstart.dat").message.startswith("bad Request-Line")


def test_3_1_2_10_trws() -> None:
    """3.1.2.10 SP Characters at End of Request-Line.

    RFC 4475: "may reject as malformed"; simsip rejects the trailing SP
    rather than ignoring it.
    """
    assert rejected("trws.dat").message.startswith("bad Request-Line")


def test_3_1_2_11_escruri() -> None:
    """3.1.2.11 Escaped Headers in SIP Request-URI.

    RFC 3261 §19.1.1 does not allow headers in a Request-URI. RFC 4475 lets
    an element either answer 400 or ignore them; simsip rejects (400).
    """
    err = rejected("escruri.dat")
    assert err.line == 1 and err.message.startswith("headers in Request-URI")


def test_3_1_2_12_baddate() -> None:
    """3.1.2.12 Invalid Time Zone in Date Header Field.

    RFC 4475: an element may reject it, or ignore/convert a Date it does not
    use. simsip checks the Date grammar (rfc1123-date ends in "GMT") and
    rejects.
    """
    err = rejected("baddate.dat")
    assert err.line == 8 and err.message.startswith("Date:")


def test_3_1_2_13_regbadct() -> None:
    """3.1.2.13 Failure to Enclose name-addr URI in <>.

    RFC 4475 notes the brackets could be inferred here; simsip does not
    infer them: a Contact URI with headers outside <> is rejected (400).
    """
    err = rejected("regbadct.dat")
    assert err.line == 8 and err.expected == "name-addr"


def test_3_1_2_14_badaspec() -> None:
    """3.1.2.14 Spaces within addr-spec.

    RFC 4475: must not crash; 400 reasonable; may ignore the spaces. simsip
    rejects (LAQUOT is followed directly by the addr-spec).
    """
    err = rejected("badaspec.dat")
    assert err.line == 5 and err.message.startswith("To:")


def test_3_1_2_15_baddn() -> None:
    """3.1.2.15 Non-token Characters in Display Name: 'Bell, Alexander' unquoted is rejected.

    (The archive member also lacks the empty line after the headers; the
    header error is reported first because it is the one RFC 4475 tests.)
    """
    err = rejected("baddn.dat")
    assert err.line == 4 and err.message.startswith("From: bad display name 'Bell, Alexander'")


def test_3_1_2_16_badvers() -> None:
    """3.1.2.16 Unknown Protocol Version.

    RFC 4475 asks for a 505 Version Not Supported, and an element can only
    answer 505 to a request it has parsed. "SIP/7.0" matches the SIP-Version
    grammar, so the parser accepts it and keeps it in ``.version``; the UA
    core answers 505 for any version other than SIP/2.0. This is the one
    3.1.2 message simsip parses.
    """
    m = parsed("badvers.dat")
    assert isinstance(m, Request) and m.version == "SIP/7.0" and m.top_via.protocol == "SIP/7.0"
    assert bytes(m).startswith(b"OPTIONS sip:t.watson@example.org SIP/7.0\r\n")


def test_3_1_2_17_mismatch01() -> None:
    """3.1.2.17 Start Line and CSeq Method Mismatch: rejected (400), RFC 3261 §8.1.1.5."""
    err = rejected("mismatch01.dat")
    assert err.message == "CSeq method INVITE does not match request method OPTIONS"


def test_3_1_2_18_mismatch02() -> None:
    """3.1.2.18 Unknown Method with CSeq Method Mismatch.

    RFC 4475 prefers 501 and accepts 400. simsip checks the CSeq method in
    the parser, so the message is rejected and the element answers 400.
    """
    err = rejected("mismatch02.dat")
    assert err.message == "CSeq method INVITE does not match request method NEWMETHOD"


def test_3_1_2_19_bigcode() -> None:
    """3.1.2.19 Overlarge Response Code: 4294967301 is not a 3-digit Status-Code; the response is dropped."""
    err = rejected("bigcode.dat")
    assert err.line == 1 and err.expected == "Status-Code 100-699"


# ---------------------------------------------------------------- 3.2 transaction layer


def test_3_2_1_badbranch() -> None:
    """3.2.1 Missing Transaction Identifier: the branch is exactly the magic cookie; it parses."""
    m = parsed("badbranch.dat")
    assert m.top_via.branch == "z9hG4bK"


# ---------------------------------------------------------------- 3.3 application layer


def test_3_3_1_insuf() -> None:
    """3.3.1 Missing Required Header Fields: parses; To, From and Call-ID accessors raise SipParseError."""
    m = parsed("insuf.dat")
    for accessor in ("to", "from_", "call_id"):
        with pytest.raises(SipParseError, match="missing"):
            getattr(m, accessor)
    assert m.cseq == CSeq(193942, "INVITE") and m.top_via.branch == "z9hG4bKkdj.insuf"


def test_3_3_2_unkscm() -> None:
    """3.3.2 Request-URI with Unknown Scheme: parses; the scheme is left for a 416 above."""
    m = parsed("unkscm.dat")
    assert isinstance(m, Request)
    assert (m.uri.scheme, m.uri.opaque, m.uri.host) == ("nobodyknowsthisscheme", "totallyopaquecontent", None)


def test_3_3_3_novelsc() -> None:
    """3.3.3 Request-URI with Known but Atypical Scheme: soap.beep parses as an absoluteURI."""
    m = parsed("novelsc.dat")
    assert isinstance(m, Request)
    assert (m.uri.scheme, m.uri.opaque) == ("soap.beep", "//192.0.2.103:3002")


def test_3_3_4_unksm2() -> None:
    """3.3.4 Unknown URI Schemes in Header Fields: isbn, http and name URIs in To, From, Contact."""
    m = parsed("unksm2.dat")
    assert (m.to.uri.scheme, m.to.uri.opaque) == ("isbn", "2983792873")
    assert str(m.from_.uri) == "http://www.example.com" and m.from_.tag == "3234233"
    assert str(m.contacts[0].uri) == "name:John_Smith"


def test_3_3_5_bext01() -> None:
    """3.3.5 Proxy-Require and Require: the unknown option tags are available for the 420."""
    m = parsed("bext01.dat")
    assert m.require == ["nothingSupportsThis", "nothingSupportsThisEither"]
    assert m.proxy_require == ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]


def test_3_3_6_invut() -> None:
    """3.3.6 Unknown Content-Type: parses; the endpoint answers 415 above."""
    m = parsed("invut.dat")
    assert m.content_type == "application/unknownformat" and len(m.body) == 40


def test_3_3_7_regaut01() -> None:
    """3.3.7 Unknown Authorization Scheme: the header is kept unchanged."""
    m = parsed("regaut01.dat")
    assert m.headers.get("Authorization") == "NoOneKnowsThisScheme opaque-data=here"


def test_3_3_8_multi01() -> None:
    """3.3.8 Multiple Values in Single Value Required Fields: parses; each accessor raises SipParseError."""
    m = parsed("multi01.dat")
    for accessor in ("call_id", "to", "from_", "cseq", "max_forwards"):
        with pytest.raises(SipParseError, match="values in single-valued"):
            getattr(m, accessor)
    assert m.headers.get_all("CSeq") == ["5 INVITE", "59 INVITE"]


def test_3_3_9_mcl01() -> None:
    """3.3.9 Multiple Content-Length Values: the rest of the datagram is the body; .content_length raises."""
    m = parsed("mcl01.dat")
    assert m.headers.get_all("Content-Length") == ["13", "5"]
    assert m.body.startswith(b"There's no way to know") and len(m.body) == 67
    with pytest.raises(SipParseError, match="conflicting Content-Length"):
        m.content_length


def test_3_3_10_bcast() -> None:
    """3.3.10 200 OK Response with Broadcast Via Header Field Value: the second Via is visible."""
    m = parsed("bcast.dat")
    assert isinstance(m, Response) and [v.host for v in m.vias] == ["192.0.2.198", "255.255.255.255"]


def test_3_3_11_zeromf() -> None:
    """3.3.11 Max-Forwards of Zero: parses with max_forwards 0 (a proxy answers 483)."""
    assert parsed("zeromf.dat").max_forwards == 0


def test_3_3_12_cparam01() -> None:
    """3.3.12 REGISTER with a Contact Header Parameter: without <>, ;unknownparam belongs to the header."""
    [contact] = parsed("cparam01.dat").contacts
    assert str(contact.uri) == "sip:+19725552222@gw1.example.net" and contact.uri.params == {}
    assert contact.params == {"unknownparam": None}


def test_3_3_13_cparam02() -> None:
    """3.3.13 REGISTER with a url-parameter: inside <>, ;unknownparam belongs to the URI."""
    [contact] = parsed("cparam02.dat").contacts
    assert contact.uri.params == {"unknownparam": None} and contact.params == {}


def test_3_3_14_regescrt() -> None:
    """3.3.14 REGISTER with a URL Escaped Header: the escaped Route stays a header of the Contact URI."""
    [contact] = parsed("regescrt.dat").contacts
    assert contact.uri.headers == {"Route": "<sip:sip.example.com>"}
    assert str(contact.uri) == "sip:user@example.com?Route=%3Csip:sip.example.com%3E"


def test_3_3_15_sdp01() -> None:
    """3.3.15 Unacceptable Accept Offering: parses; Accept is there for the 406 decision."""
    m = parsed("sdp01.dat")
    assert m.headers.get_all("Accept") == ["text/nobodyKnowsThis"] and m.content_type == "application/sdp"


# ---------------------------------------------------------------- 3.4 backward compatibility


def test_3_4_1_inv2543() -> None:
    """3.4.1 INVITE with RFC 2543 Syntax: no branch, no From tag, no Max-Forwards, body to end of datagram."""
    m = parsed("inv2543.dat")
    assert m.top_via.branch is None and m.from_.tag is None and m.max_forwards is None
    assert "Content-Length" not in m.headers and len(m.body) == 105 == m.content_length
    assert m.record_routes[0].uri.maddr == "ss1.example.com"
    assert m.to.uri.params == {} and m.to.params == {"user": "phone"}  # addr-spec: ;user=phone is a header param


# ---------------------------------------------------------------- the 50th archive member


def test_extra_test_dat() -> None:
    """extra/test.dat (no RFC verdict): a Request-Line without SIP-Version is rejected."""
    err = rejected("extra/test.dat")
    assert err.line == 1 and err.expected == "Method SP Request-URI SP SIP-Version"
