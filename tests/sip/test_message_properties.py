"""Property tests for the parser and serializer (hypothesis).

* ``parse`` raises nothing but SipParseError, on arbitrary bytes and on
  RFC 4475 torture messages with random octets changed, inserted, removed or
  duplicated; whatever it accepts survives ``parse(bytes(m)) == m``.
* ``parse(bytes(m)) == m`` for generated requests and responses built the way
  the cores build them (typed views rendered with ``str``).
"""

from __future__ import annotations

from pathlib import Path

from conftest import RFC4475
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simsip.sip import URI, CSeq, Headers, NameAddr, RAck, Request, Response, SipParseError, Via, parse
from simsip.sip.codes import CODES

# derandomize: the suite sees the same examples on every run and machine.
PROPERTY_SETTINGS = settings(
    max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
# Parsing junk is cheap, so the fuzzing properties look at more examples.
FUZZ_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=400)

TORTURE = sorted(p.name for p in Path(RFC4475).glob("*.dat"))


def parse_or_reject(data: bytes) -> None:
    """Parse ``data``: either SipParseError, or a message that round-trips."""
    try:
        message = parse(data)
    except SipParseError:
        return
    again = parse(bytes(message))
    assert again == message
    assert bytes(again) == bytes(message)


@FUZZ_SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_sip_parse_error(data: bytes) -> None:
    """Random octets: SipParseError or a message that round-trips, nothing else."""
    parse_or_reject(data)


@FUZZ_SETTINGS
@given(st.binary(max_size=200))
def test_arbitrary_bytes_after_a_start_line(data: bytes) -> None:
    """Random octets behind a valid Request-Line reach the header parser."""
    parse_or_reject(b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" + data)
    parse_or_reject(b"SIP/2.0 180 Ringing\r\nVia: " + data + b"\r\n\r\n")


MUTATION = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "duplicate", "truncate"]),
    st.floats(min_value=0, max_value=1, exclude_max=True),
    st.sampled_from(list(b"\x00\t\n\r \"%,.:;<=>?@[\\]^~\x7f\xc3\xff0123456789abcSIP/")),
    st.integers(min_value=1, max_value=12),
)


def mutate(data: bytes, mutations: list[tuple[str, float, int, int]]) -> bytes:
    """Apply each (operation, relative position, octet, length) to ``data``."""
    buf = bytearray(data)
    for op, where, octet, length in mutations:
        i = int(where * len(buf)) if buf else 0
        if op == "flip" and buf:
            buf[i] = octet
        elif op == "insert":
            buf[i:i] = bytes([octet]) * length
        elif op == "delete":
            del buf[i : i + length]
        elif op == "duplicate":
            buf[i:i] = buf[i : i + length * 8]
        elif op == "truncate":
            del buf[i:]
    return bytes(buf)


@FUZZ_SETTINGS
@given(st.sampled_from(TORTURE), st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_torture_messages_raise_only_sip_parse_error(name: str, mutations: list) -> None:
    """RFC 4475 messages with random damage: SipParseError or a message that round-trips."""
    parse_or_reject(mutate((RFC4475 / name).read_bytes(), mutations))


# ---------------------------------------------------------------- generated messages

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
TOKEN_CHARS = ALNUM + "-.!%*_+`'~"
tokens = st.text(TOKEN_CHARS, min_size=1, max_size=12)
methods = st.sampled_from(["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "UPDATE"]) | tokens
LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
alnum_runs = st.text(LOWER_ALNUM, min_size=1, max_size=6)
# domainlabel = alphanum / alphanum *( alphanum / "-" ) alphanum; toplabel starts with ALPHA
labels = st.builds(lambda a, b: f"{a}-{b}" if b else a, alnum_runs, st.none() | alnum_runs)
toplabels = st.builds(lambda c, rest: c + rest, st.sampled_from("abcdefghijklmnopqrstuvwxyz"), st.text(LOWER_ALNUM, max_size=6))
hostnames = st.builds(lambda ls, top: ".".join([*ls, top]), st.lists(labels, max_size=3), toplabels)
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = st.sampled_from(["[2001:db8::1]", "[::1]", "[fe80::1:2:3:4]", "[2001:db8:0:0:0:0:0:7]"])
hosts = hostnames | ipv4 | ipv6
ports = st.none() | st.integers(0, 65535)
free_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
uri_params = st.dictionaries(
    st.text(ALNUM + "-_.!~*'()[]/:&+$", min_size=1, max_size=6).map(str.lower),
    st.none() | st.text(min_size=1, max_size=8, alphabet=st.characters(blacklist_categories=("Cs",))),
    max_size=3,
)
sip_uris = st.builds(
    URI,
    scheme=st.sampled_from(["sip", "sips"]),
    user=st.none() | st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=10),
    password=st.none(),
    host=hosts,
    port=ports,
    params=uri_params,
)
tel_uris = st.builds(
    lambda n, ctx: URI.parse(f"tel:+{n}" + (f";phone-context={ctx}" if ctx else "")),
    st.lists(st.integers(0, 9999), min_size=1, max_size=4).map(lambda parts: "-".join(map(str, parts))),
    st.none() | hostnames,
)
uris = sip_uris | tel_uris
# q and expires have their own grammar in Contact (qvalue, delta-seconds)
header_params = st.dictionaries(
    tokens.map(str.lower).filter(lambda t: t not in ("q", "expires")), st.none() | tokens, max_size=2
)
name_addrs = st.builds(NameAddr, st.none() | free_text.filter(lambda s: "\r" not in s and "\n" not in s), uris, header_params)
vias = st.builds(
    lambda t, h, p, b, rport: Via(t, h, p, {"branch": "z9hG4bK" + b, **({"rport": None} if rport else {})}),
    st.sampled_from(["UDP", "TCP", "TLS", "SCTP"]),
    hosts,
    ports,
    tokens,
    st.booleans(),
)
call_ids = st.builds(lambda a, b: f"{a}@{b}" if b else a, tokens, st.none() | hosts)
extension_values = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20).map(str.strip)
extension_headers = st.lists(st.tuples(tokens.map(lambda t: "X-" + t), extension_values), max_size=3)
bodies = st.binary(max_size=60)


@st.composite
def headers_for(draw: st.DrawFn, method: str) -> Headers:
    """A header set like the cores write: typed values through ``str``, plus extension headers."""
    h = Headers()
    for via in draw(st.lists(vias, min_size=1, max_size=3)):
        h.add(draw(st.sampled_from(["Via", "v"])), str(via))
    h.add("From", str(draw(name_addrs)))
    h.add("t", str(draw(name_addrs)))
    h.add("Call-ID", draw(call_ids))
    h.add("CSeq", str(CSeq(draw(st.integers(0, 2**32 - 1)), method)))
    h.add("Max-Forwards", str(draw(st.integers(0, 255))))
    contacts = draw(st.lists(name_addrs, max_size=2))
    if contacts:
        h.add("Contact", ", ".join(map(str, contacts)))
    if draw(st.booleans()):
        h.add("Supported", ", ".join(draw(st.lists(tokens, max_size=3))))
    if draw(st.booleans()):
        h.add("RAck", str(RAck(draw(st.integers(1, 2**32 - 1)), draw(st.integers(0, 2**32 - 1)), "INVITE")))
    for name, value in draw(extension_headers):
        h.add(name, value)
    return h


@st.composite
def requests(draw: st.DrawFn) -> Request:
    """A generated request."""
    method = draw(methods)
    return Request(method, draw(uris), draw(headers_for(method)), draw(bodies))


@st.composite
def responses(draw: st.DrawFn) -> Response:
    """A generated response (registered or not, with its own or the RFC reason phrase)."""
    status = draw(st.sampled_from(sorted(CODES)) | st.integers(100, 699))
    reason = draw(st.none() | st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20))
    return Response(status, reason, draw(headers_for(draw(methods))), draw(bodies))


@PROPERTY_SETTINGS
@given(requests())
def test_generated_requests_round_trip(request: Request) -> None:
    """parse(bytes(m)) == m for requests, and the typed views read back what was written."""
    again = parse(bytes(request))
    assert again == request
    assert again.vias == request.vias and again.cseq == request.cseq
    assert again.from_ == request.from_ and again.to == request.to and again.contacts == request.contacts
    assert again.content_length == len(request.body)


@PROPERTY_SETTINGS
@given(responses())
def test_generated_responses_round_trip(response: Response) -> None:
    """parse(bytes(m)) == m for responses."""
    again = parse(bytes(response))
    assert again == response
    assert (again.status, again.reason) == (response.status, response.reason)


@PROPERTY_SETTINGS
@given(uris)
def test_uri_round_trip(uri: URI) -> None:
    """URI.parse(str(u)) == u: escaping on output undoes the decoding on input."""
    assert URI.parse(str(uri)) == uri


@PROPERTY_SETTINGS
@given(name_addrs)
def test_name_addr_round_trip(value: NameAddr) -> None:
    """NameAddr.parse(str(n)) == n, display names with quotes, backslashes and controls included."""
    assert NameAddr.parse(str(value)) == value
