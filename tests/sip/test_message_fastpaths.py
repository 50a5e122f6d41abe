"""The shortcuts of simsip.sip.message read exactly what the whole grammar reads (RFC 3261 §7.3, §20, §25).

* ``Via.parse`` and ``NameAddr.parse`` take ``<prefix>;branch=<token>`` /
  ``<prefix>;tag=<token>`` as a memoised prefix plus that parameter: same
  value or same error as the whole grammar, whatever the prefix.
* ``Headers.add``/``set`` parse a known header at once; a value that does not
  parse is left for the reader, who gets the error the lazy parse gave.
* The read index that ``add``/``set`` keep up to date answers like an index
  rebuilt from the lines, after any sequence of changes.
* ``make_response`` hands on the request's parsed values, a To with the new
  tag included (RFC 3261 §8.2.6.2).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_message_properties import PROPERTY_SETTINGS, name_addrs, requests, tokens, vias

from simsip.metrics.trace import describe
from simsip.sip import URI, CSeq, Headers, NameAddr, Request, SipParseError, Via, make_response
from simsip.sip.message import _LINE_CACHE, _NAME_ADDR_PREFIXES, _VIA_PREFIXES, name_addr_with_tag, via_with_branch


def uri_fields(uri: URI) -> tuple:
    """Every slot of a URI, exactly (``==`` ignores host case)."""
    return (uri.scheme, uri.user, uri.password, uri.host, uri.port, list(uri.params.items()),
            list(uri.headers.items()), uri.opaque)


def outcome(parse, text: str) -> tuple:
    """What parsing ``text`` gives: every field of the value (params in order), or the error."""
    try:
        value = parse(text)
    except SipParseError as exc:
        return ("error", str(exc))
    if isinstance(value, Via):
        return ("via", value.protocol, value.transport, value.host, value.port, list(value.params.items()))
    return ("name-addr", value.display, uri_fields(value.uri), list(value.params.items()))


# Suffixes that do and do not make a "<prefix>;tag=<token>" shape.
suffixes = st.sampled_from(["", ";tag=", ";tag=a", ";tag=a;b", ";tag=a b", ";tag=\"q\"", ";tag=x>", ";TAG=y",
                            ";branch=z9hG4bK1", ";branch=", ";branch=a,b", ";tag=1;tag=2", " ;tag=t", ";tag=t "])
junk = st.text(st.sampled_from(list("<>\";:=, @abc")), max_size=6)


@PROPERTY_SETTINGS
@given(name_addrs, junk, suffixes, tokens)
def test_name_addr_prefix_memo_matches_the_whole_grammar(value: NameAddr, noise: str, suffix: str, tag: str) -> None:
    """RFC 3261 §20.20/§20.39: From/To with a tag parse the same with and without the prefix memo."""
    for text in (f"{value};tag={tag}", f"{value}{noise};tag={tag}", f"{value}{suffix}", f"{noise}{suffix}"):
        _NAME_ADDR_PREFIXES.clear()
        whole = outcome(lambda t: NameAddr._parse_full(t.strip(" \t"), False), text)
        assert outcome(NameAddr.parse, text) == whole  # prefix parsed now
        assert outcome(NameAddr.parse, text) == whole  # prefix from the memo
        assert outcome(lambda t: NameAddr.parse(t, name_addr_only=True), text) == outcome(
            lambda t: NameAddr._parse_full(t.strip(" \t"), True), text
        )


@PROPERTY_SETTINGS
@given(vias, junk, suffixes, tokens)
def test_via_prefix_memo_matches_the_whole_grammar(value: Via, noise: str, suffix: str, branch: str) -> None:
    """RFC 3261 §20.42: a Via with a new branch parses the same with and without the prefix memo."""
    prefix = str(Via(value.transport, value.host, value.port, {k: v for k, v in value.params.items() if k != "branch"}))
    for text in (f"{prefix};branch={branch}", f"{prefix}{noise};branch={branch}", f"{prefix}{suffix}",
                 f"{prefix};branch;branch={branch}", f"{prefix};ttl=999;branch={branch}", f"{noise}{suffix}"):
        _VIA_PREFIXES.clear()
        whole = outcome(Via._parse_full, text)
        assert outcome(Via.parse, text) == whole
        assert outcome(Via.parse, text) == whole


def test_prefix_memo_values_are_not_shared_params() -> None:
    """Two Vias (or To values) from one memoised prefix have their own params dicts."""
    a = Via.parse("SIP/2.0/UDP alice;rport;branch=z9hG4bK1")
    b = Via.parse("SIP/2.0/UDP alice;rport;branch=z9hG4bK2")
    assert (a.branch, b.branch) == ("z9hG4bK1", "z9hG4bK2") and a.params is not b.params
    assert list(a.params) == ["rport", "branch"]
    x = NameAddr.parse("Bob <sip:bob@biloxi.com>;tag=1")
    y = NameAddr.parse("Bob <sip:bob@biloxi.com>;tag=2")
    assert (x.tag, y.tag, x.display) == ("1", "2", "Bob") and x.params is not y.params


def request_with(*lines: tuple[str, str]) -> Request:
    """An OPTIONS request with the given header lines, added in order."""
    h = Headers()
    for name, value in lines:
        h.add(name, value)
    return Request("OPTIONS", "sip:bob@biloxi.com", h)


def test_malformed_value_added_is_reported_by_the_reader() -> None:
    """RFC 3261 §25: adding a malformed known header does not raise; reading it does, as before."""
    m = request_with(("CSeq", "x OPTIONS"), ("Via", "SIP/2.0/UDP alice;branch=z9hG4bK1"), ("Via", "nonsense"))
    with pytest.raises(SipParseError, match="bad CSeq"):
        m.cseq
    with pytest.raises(SipParseError, match="bad Via value"):
        m.vias
    m.headers.set("CSeq", "2 OPTIONS")
    assert m.cseq == CSeq(2, "OPTIONS")
    m.headers.set("CSeq", "two OPTIONS")
    with pytest.raises(SipParseError, match="bad CSeq"):
        m.cseq


def test_values_added_later_join_the_parsed_ones() -> None:
    """A second Via line extends the parsed Vias; a header read while absent is seen once added."""
    m = request_with(("Via", "SIP/2.0/UDP a;branch=z9hG4bK1"))
    assert m.rseq is None and m.require == [] and m.max_forwards is None
    m.headers.add("Via", "SIP/2.0/TCP b:5070;branch=z9hG4bK2, SIP/2.0/UDP c;branch=z9hG4bK3")
    m.headers.add("RSeq", "7")
    m.headers.add("Require", "100rel")
    m.headers.add("Max-Forwards", 70)
    assert [(v.host, v.port, v.branch) for v in m.vias] == [("a", None, "z9hG4bK1"), ("b", 5070, "z9hG4bK2"),
                                                            ("c", None, "z9hG4bK3")]
    assert (m.rseq, m.require, m.max_forwards) == (7, ["100rel"], 70)
    m.headers.add("RSeq", "8")
    with pytest.raises(SipParseError, match="2 values in single-valued RSeq"):
        m.rseq


OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "set", "remove", "prepend", "pop_first", "set_first"]),
        st.sampled_from(["Via", "v", "Route", "CSeq", "To", "Supported", "X-Extra", "Content-Length"]),
        st.sampled_from(["SIP/2.0/UDP a;branch=z9hG4bK1", "<sip:p;lr>, <sip:q;lr>", "1 INVITE", "<sip:b@c>;tag=9",
                         "100rel, timer", "x", "12", ""]),
        st.booleans(),
    ),
    max_size=12,
)


def view(m: Request, name: str, read: bool) -> tuple:
    """What a reader sees of ``name``: text values, presence, and the typed accessor's answer or error."""
    h = m.headers
    typed: object = None
    if read:
        attribute = {"Via": "vias", "v": "vias", "Route": "routes", "CSeq": "cseq", "To": "to",
                     "Supported": "supported", "Content-Length": "content_length"}.get(name)
        try:
            typed = repr(getattr(m, attribute)) if attribute else None
        except SipParseError as exc:
            typed = str(exc)
    return (h.get_all(name), h.get(name), name in h, typed)


@PROPERTY_SETTINGS
@given(OPS)
def test_index_and_typed_cache_follow_every_change(ops: list) -> None:
    """After any changes, reads answer as a message rebuilt from the same lines would."""
    m = request_with()
    for op, name, value, read in ops:
        getattr(m.headers, op)(name, value) if op not in ("remove", "pop_first") else getattr(m.headers, op)(name)
        fresh = Request("OPTIONS", "sip:bob@biloxi.com", Headers(list(m.headers)))
        for seen in ("Via", "Route", "CSeq", "To", "Supported", "X-Extra", "Content-Length"):
            assert view(m, seen, read) == view(fresh, seen, read)
    assert list(m.headers) == list(Headers(list(m.headers)))


@pytest.mark.parametrize(
    "to",
    ["Bob <sip:bob@biloxi.com>", "sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp", '"B;tag=x" <sip:b@c>;x=1',
     "<sip:bob@biloxi.com>;tag", "<sip:bob@biloxi.com>;tag=old"],
)
@pytest.mark.parametrize("parsed", [True, False])
def test_make_response_to_tag_reads_as_its_text(to: str, parsed: bool) -> None:
    """RFC 3261 §8.2.6.2: the To of a response (tag added unless present) reads back as its own text."""
    request = request_with(("Via", "SIP/2.0/UDP a;branch=z9hG4bK1"), ("From", "<sip:a@b>;tag=1"), ("To", to),
                           ("Call-ID", "c1"), ("CSeq", "1 OPTIONS"))
    if not parsed:
        request.headers._typed.clear()  # as if nothing had been parsed yet
    response = make_response(request, 200, to_tag="a6c85cf")
    text = response.headers.get("To")
    assert text == (to if to.endswith("=old") else f"{to};tag=a6c85cf")
    assert outcome(lambda _: response.to, text) == outcome(lambda t: NameAddr._parse_full(t, False), text)
    assert response.cseq == request.cseq and response.top_via == request.top_via
    if parsed:
        assert response.cseq is request.cseq and response.top_via is request.top_via
    response.headers.add("Contact", "<sip:b@c>")
    assert [str(c) for c in response.contacts] == ["<sip:b@c>"] and "Contact" in response.headers


def test_uri_components_escaped_by_what_they_may_carry() -> None:
    """RFC 3261 §25: user, password, parameters and headers each escape what their rule does not allow."""
    uri = URI("sip", "a b;c@é", "p@ss:w", "h.example.com", 5070, {"x y": "v]/é", "lr": None}, {"h?": "v&="})
    assert str(uri) == "sip:a%20b;c%40%C3%A9:p%40ss%3Aw@h.example.com:5070;x%20y=v]/%C3%A9;lr?h?=v%26%3D"
    assert URI.parse(str(uri)) == uri
    assert str(URI("sips", None, None, "[2001:db8::1]")) == "sips:[2001:db8::1]"
    assert str(URI("sip", "alice", None, "atlanta.com", None, {"transport": "tcp"})) == "sip:alice@atlanta.com;transport=tcp"


def test_make_response_tags_every_to_line() -> None:
    """Two To lines (RFC 4475 §3.3.8 style): each gets the tag; the reader reports the repetition."""
    request = request_with(("Via", "SIP/2.0/UDP a;branch=z9hG4bK1"), ("To", "<sip:b@c>"), ("To", "<sip:d@e>"))
    response = make_response(request, 400, to_tag="t1")
    assert response.headers.get_all("To") == ["<sip:b@c>;tag=t1", "<sip:d@e>;tag=t1"]
    with pytest.raises(SipParseError, match="2 values in single-valued To"):
        response.to


def read_by_accessors(message: Request) -> tuple:
    """``(call_id, str(cseq), rseq, str(rack) or None)`` read through the properties in describe()'s order."""
    cseq = message.cseq
    rack = message.rack
    call_id = message.call_id
    rseq = message.rseq
    return call_id, str(cseq), rseq, None if rack is None else str(rack)


def trace_outcome(read, message) -> tuple:
    """What ``read(message)`` gives, or the error it raises."""
    try:
        return ("ok", read(message))
    except SipParseError as exc:
        return ("error", str(exc))


def assert_trace_fields_read_as_the_accessors(request: Request, lazy: bool) -> None:
    """trace_fields() and describe() give what the accessors give (errors included); ``lazy``: nothing parsed yet."""
    if lazy:
        request.headers._typed.clear()
        request.headers._index = None
    copy = request.copy()
    assert trace_outcome(Request.trace_fields, request) == trace_outcome(read_by_accessors, copy)
    assert trace_outcome(lambda m: describe(m)[1:], request.copy()) == trace_outcome(read_by_accessors, request.copy())


@PROPERTY_SETTINGS
@given(requests(), st.lists(st.tuples(st.sampled_from(["CSeq", "Call-ID", "RSeq", "RAck", "X-A"]),
                                      st.sampled_from(["1 INVITE", "x", "7", "1 2 INVITE", "a@b", ""])), max_size=3),
       st.booleans())
def test_trace_fields_read_as_the_accessors(request: Request, extra: list, lazy: bool) -> None:
    """trace_fields() reads, and raises, as the four accessors in describe()'s order; describe() agrees."""
    for name, value in extra:
        request.headers.add(name, value)
    assert_trace_fields_read_as_the_accessors(request, lazy)


@pytest.mark.parametrize(
    "lines",
    [
        [("RAck", "1 2 INVITE"), ("RAck", "3 4 INVITE")],
        [("RSeq", "1"), ("RSeq", "2")],
        [("RAck", "1 2 INVITE"), ("RSeq", "5")],
        [("RAck", "one")],
        [("Call-ID", "second")],
        [("CSeq", "2 OPTIONS")],
        [("RSeq", "x"), ("RAck", "y")],
    ],
)
@pytest.mark.parametrize("lazy", [True, False])
def test_trace_fields_repeated_and_malformed(lines: list, lazy: bool) -> None:
    """RFC 3262 §7.1/§7.2 RSeq/RAck and the mandatory headers: repeated or malformed -> the accessor's error."""
    request = request_with(("Via", "SIP/2.0/UDP a;branch=z9hG4bK1"), ("Call-ID", "c1"), ("CSeq", "1 OPTIONS"),
                           *lines)
    assert_trace_fields_read_as_the_accessors(request, lazy)


def fields(value: object) -> object:
    """Every field of a parsed header value (params in order), to compare exactly."""
    if isinstance(value, Via):
        return ("via", value.protocol, value.transport, value.host, value.port, list(value.params.items()))
    if isinstance(value, NameAddr):
        return ("name-addr", value.display, uri_fields(value.uri), list(value.params.items()))
    return value


def built_state(h: Headers) -> tuple:
    """The lines, read index and parsed values a Headers holds (what its readers see)."""
    return (list(h._items), h._index, {key: [fields(v) for v in values] for key, values in h._typed.items()})


KNOWN_LINES = st.lists(
    st.tuples(
        st.sampled_from([("via", "Via"), ("to", "To"), ("cseq", "CSeq"), ("supported", "Supported"),
                         ("route", "Route"), ("max-forwards", "Max-Forwards"), ("x-extra", "X-Extra")]),
        st.sampled_from(["SIP/2.0/UDP a;branch=z9hG4bK1", " <sip:p;lr>, <sip:q;lr>", "1 INVITE", "<sip:b@c>;tag=9 ",
                         "100rel, timer", "x", "70", ""]),
    ),
    max_size=10,
)


@PROPERTY_SETTINGS
@given(KNOWN_LINES)
def test_headers_known_builds_what_add_builds(lines: list) -> None:
    """Headers._known (the cores' one-go building) holds what one add per line holds, errors left for readers."""
    added = Headers()
    for (_, canon), value in lines:
        added.add(canon, value)
    known = Headers._known([(key, canon, value) for (key, canon), value in lines])
    assert built_state(known) == built_state(added)
    assert list(known) == list(added)


def test_headers_known_given_values_and_bad_lines() -> None:
    """A given parse is taken as is (not entered in the line memo); CR/LF is refused as add refuses it."""
    via = "SIP/2.0/UDP a;branch=z9hG4bKgiven1"
    parsed = [Via.parse(via)]
    known = Headers._known([("via", "Via", via), ("cseq", "CSeq", "1 INVITE")], {"via": parsed})
    assert known._typed["via"] is parsed
    assert via not in _LINE_CACHE["via"]
    assert Request("INVITE", "sip:b@c", known).top_via.branch == "z9hG4bKgiven1"
    with pytest.raises(ValueError, match="CR or LF"):
        Headers._known([("call-id", "Call-ID", "a\r\nb")])


@pytest.mark.parametrize("prefix", ["SIP/2.0/UDP pc33.atlanta.example.com", "SIP/2.0/TCP 192.0.2.4:5061;received=x",
                                    "SIP/2.0/UDP [2001:db8::1];rport"])
def test_via_with_branch_is_the_full_parse(prefix: str) -> None:
    """RFC 3261 §8.1.1.7: a core's Via completed with a fresh branch reads as the whole grammar reads its text."""
    assert fields(via_with_branch(prefix, "z9hG4bK77")) == fields(Via._parse_full(f"{prefix};branch=z9hG4bK77"))


@pytest.mark.parametrize("prefix", ['"Alice" <sip:alice@atlanta.example.com>', "sip:bob@biloxi.example.com;x=1"])
def test_name_addr_with_tag_is_the_full_parse(prefix: str) -> None:
    """RFC 3261 §19.3: a From completed with a fresh tag reads as the whole grammar reads its text."""
    assert fields(name_addr_with_tag(prefix, "a6c85cf")) == fields(NameAddr._parse_full(f"{prefix};tag=a6c85cf", False))


def test_prefixes_that_do_not_parse_alone_are_left_to_the_full_parse() -> None:
    """A prefix that does not parse by itself gives None: the caller parses the whole text instead."""
    assert via_with_branch("SIP/2.0/UDP", "z9hG4bK1") is None
    assert name_addr_with_tag("<sip:alice@atlanta.example.com", "1") is None
