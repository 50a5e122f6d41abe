"""Message throughput: parse, serialize, build and answer SIP messages (messages/s).

Prints, measured in one process one after the other:

* the bare SimPy baseline (benchmarks/engine.py ``bare_simpy``: one timeout
  callback per message), the yardstick DESIGN.md "Performance" uses;
* ``parse`` and ``bytes()`` over the RFC 4475 torture corpus (every message
  in ../shared/conformance/rfc4475 that parses: 3.1.1, 3.2, 3.3, 3.4 and
  3.1.2.16), and over a typical INVITE (RFC 3261 §24.2 F1 with its SDP);
* building that INVITE through ``Headers.add`` (which parses every known
  header as it is added, so the reader never does; fresh branch and Call-ID
  values each time, so nothing comes from the line memo) and answering it
  with ``make_response``, the hot path of a simulation, where wire bytes are
  never rendered (the cores themselves build with ``Headers._known``, handing
  over the values they already hold parsed);

each as messages/s and as a ratio to the baseline.

Run: ``python benchmarks/parse.py [--seconds 0.5] [--repeat 3]`` (best of
``--repeat`` timings of about ``--seconds`` each).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

from engine import bare_simpy

from simsip.sip import URI, CSeq, Headers, Request, SipParseError, Via, make_response, parse

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "conformance" / "rfc4475"

# RFC 3261 §24.2 F1, with an SDP body of RFC 3264 shape.
SDP = (
    b"v=0\r\no=alice 2890844526 2890844526 IN IP4 pc33.atlanta.com\r\ns=-\r\n"
    b"c=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
INVITE = (
    b"INVITE sip:bob@biloxi.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.com>\r\n"
    b"From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.com>\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: " + str(len(SDP)).encode() + b"\r\n\r\n" + SDP
)


def rate(fn: Callable[[], int], seconds: float, repeat: int) -> float:
    """Best-of-``repeat`` items per second of ``fn`` (which returns how many items it handled)."""
    best = 0.0
    for _ in range(repeat):
        done = 0
        start = time.perf_counter()
        while True:
            done += fn()
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, done / elapsed)
    return best


def build_invite(n: int) -> Request:
    """The typical INVITE built as a UA core builds it (no parsing of wire bytes)."""
    h = Headers()
    h.add("Via", str(Via("UDP", "pc33.atlanta.com", branch=f"z9hG4bK{n}")))
    h.add("Max-Forwards", "70")
    h.add("To", "Bob <sip:bob@biloxi.com>")
    h.add("From", "Alice <sip:alice@atlanta.com>;tag=1928301774")
    h.add("Call-ID", f"a84b4c76e66710-{n}")
    h.add("CSeq", str(CSeq(314159, "INVITE")))
    h.add("Contact", "<sip:alice@pc33.atlanta.com>")
    h.add("Content-Type", "application/sdp")
    return Request("INVITE", URI("sip", "bob", None, "biloxi.com"), h, SDP)


def main() -> None:
    """Measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    corpus = []
    for path in sorted(CORPUS.glob("*.dat")):
        data = path.read_bytes()
        try:
            corpus.append((data, parse(data)))
        except SipParseError:
            continue
    corpus_bytes = [data for data, _ in corpus]
    corpus_msgs = [m for _, m in corpus]
    invite = parse(INVITE)

    def parse_corpus() -> int:
        for data in corpus_bytes:
            parse(data)
        return len(corpus_bytes)

    def serialize_corpus() -> int:
        for m in corpus_msgs:
            bytes(m)
        return len(corpus_msgs)

    def parse_invite() -> int:
        for _ in range(100):
            parse(INVITE)
        return 100

    def serialize_invite() -> int:
        for _ in range(100):
            bytes(invite)
        return 100

    counter = iter(range(10**12))

    def build() -> int:
        for _ in range(100):
            build_invite(next(counter))
        return 100

    def build_and_answer() -> int:
        for _ in range(100):
            request = build_invite(next(counter))
            response = make_response(request, 180, to_tag="a6c85cf")
            response.cseq, response.top_via.branch, request.call_id  # what a transaction layer reads
        return 100

    def uri_parse() -> int:
        for _ in range(100):
            URI.parse("sip:bob@biloxi.com;transport=udp")
        return 100

    baseline = bare_simpy(200_000)
    figures = [
        (f"parse, RFC 4475 corpus ({len(corpus_bytes)} messages)", parse_corpus),
        ("bytes(), RFC 4475 corpus", serialize_corpus),
        ("parse, typical INVITE", parse_invite),
        ("bytes(), typical INVITE", serialize_invite),
        ("build INVITE (Headers.add: known headers parsed on add)", build),
        ("build INVITE + make_response 180 + read cseq/branch/call_id", build_and_answer),
        ("URI.parse", uri_parse),
    ]
    print(f"{'bare SimPy baseline (timeout callbacks)':62} {baseline:>12,.0f} /s   1.00")
    for label, fn in figures:
        r = rate(fn, args.seconds, args.repeat)
        print(f"{label:62} {r:>12,.0f} /s   {r / baseline:.2f}")


if __name__ == "__main__":
    main()
