"""A hand-built trace of one reliable-180 call through a proxy, with two losses.

Independent of the engine: the renderers and the pcap writer are checked on
events written out here by hand, with wire bytes written out by hand too.
alice -> edge -> bob; bob's first 180 (RSeq 1) is lost on edge-bob and
retransmitted after T1 (RFC 3262 §3); alice's first PRACK is lost and Timer E
retransmits it (RFC 3261 §17.1.2.2).
"""

from __future__ import annotations

from simsip.metrics.trace import TraceEvent

CALL = "a84b4c76e66710@pc33.atlanta.example.com"
NODES = ["alice", "edge", "bob"]


class WireMessage:
    """Stands in for a Request/Response: ``bytes()`` gives the wire form."""

    def __init__(self, data: bytes) -> None:
        """Keep the wire bytes."""
        self.data = data

    def __bytes__(self) -> bytes:
        """The message as sent."""
        return self.data


def wire(start: str, src: str, cseq: str, rseq: int | None = None, rack: str | None = None,
         to_tag: str | None = None, branch: str = "z9hG4bK74bf9") -> WireMessage:
    """A complete SIP message (RFC 3261 §7) with the headers Wireshark needs."""
    headers = [
        start,
        f"Via: SIP/2.0/UDP {src}.example.com:5060;branch={branch}",
        "Max-Forwards: 70",
        "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl",
        "To: Bob <sip:bob@biloxi.example.com>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {CALL}",
        f"CSeq: {cseq}",
    ]
    if rseq is not None:
        headers += ["Require: 100rel", f"RSeq: {rseq}"]
    if rack is not None:
        headers.append(f"RAck: {rack}")
    headers.append("Content-Length: 0")
    return WireMessage(("\r\n".join(headers) + "\r\n\r\n").encode())


def _tx(out: list[TraceEvent], t: float, src: str, dst: str, message: str, cseq: str, *,
        arrive: float | None = None, drop_link: str | None = None, retx: int = 0,
        timer: str | None = None, rseq: int | None = None, rack: str | None = None,
        transport: str = "UDP", branch: str = "z9hG4bK74bf9") -> None:
    """Append the send and its recv or drop, as the engine's trace does."""
    response = message[:3].isdigit()
    start = f"SIP/2.0 {message}" if response else f"{message} sip:bob@biloxi.example.com SIP/2.0"
    # A response carries the Via of the element it goes back to.
    msg = wire(start, dst if response else src, cseq, rseq, rack,
               to_tag="314159" if response and not message.startswith("100") else None, branch=branch)
    common = dict(message=message, call_id=CALL, cseq=cseq, rseq=rseq, transport=transport, msg=msg)
    out.append(TraceEvent(run=0, t=t, event="send", node=src, dst=dst, rack=rack,
                          retransmission=retx, timer=timer, **common))
    if drop_link is not None:
        out.append(TraceEvent(run=0, t=t, event="drop", node=src, src=src, dst=dst, link=drop_link,
                              retransmission=retx, detail="loss", **common))
    if arrive is not None:
        out.append(TraceEvent(run=0, t=arrive, event="recv", node=dst, src=src, **common))


def reliable_180_trace(transport: str = "UDP") -> list[TraceEvent]:
    """The whole call, in time order, with timer and state side notes."""
    ev: list[TraceEvent] = []
    k = dict(transport=transport)
    _tx(ev, 0.000, "alice", "edge", "INVITE", "1 INVITE", arrive=0.010, **k)
    _tx(ev, 0.010, "edge", "bob", "INVITE", "1 INVITE", arrive=0.050, branch="z9hG4bKedge1", **k)
    _tx(ev, 0.010, "edge", "alice", "100 Trying", "1 INVITE", arrive=0.020, **k)
    _tx(ev, 0.050, "bob", "edge", "180 Ringing", "1 INVITE", drop_link="edge-bob", rseq=1,
        branch="z9hG4bKedge1", **k)
    ev.append(TraceEvent(run=0, t=0.550, event="timer", node="bob", call_id=CALL, timer="1xx-rel"))
    _tx(ev, 0.550, "bob", "edge", "180 Ringing", "1 INVITE", arrive=0.590, retx=1, timer="1xx-rel",
        rseq=1, branch="z9hG4bKedge1", **k)
    _tx(ev, 0.590, "edge", "alice", "180 Ringing", "1 INVITE", arrive=0.600, rseq=1, **k)
    ev.append(TraceEvent(run=0, t=0.600, event="state", node="alice", call_id=CALL,
                         detail="INVITE client z9hG4bK74bf9: Calling -> Proceeding"))
    _tx(ev, 0.600, "alice", "bob", "PRACK", "2 PRACK", drop_link="edge-bob", rack="1 1 INVITE",
        branch="z9hG4bKpr1", **k)
    ev.append(TraceEvent(run=0, t=1.100, event="timer", node="alice", call_id=CALL, timer="E"))
    _tx(ev, 1.100, "alice", "bob", "PRACK", "2 PRACK", arrive=1.150, retx=1, timer="E",
        rack="1 1 INVITE", branch="z9hG4bKpr1", **k)
    _tx(ev, 1.150, "bob", "alice", "200 OK", "2 PRACK", arrive=1.200, branch="z9hG4bKpr1", **k)
    _tx(ev, 2.050, "bob", "edge", "200 OK", "1 INVITE", arrive=2.090, branch="z9hG4bKedge1", **k)
    _tx(ev, 2.090, "edge", "alice", "200 OK", "1 INVITE", arrive=2.100, **k)
    _tx(ev, 2.100, "alice", "bob", "ACK", "1 ACK", arrive=2.150, branch="z9hG4bKack1", **k)
    ev.sort(key=lambda e: e.t)
    return ev
