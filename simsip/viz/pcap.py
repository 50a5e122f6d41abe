"""pcapng export of one run: every transmission as a real Ethernet/IPv4/UDP-or-TCP packet.

Wireshark, tshark and sngrep read the result as a capture of the simulated
network. What a capture cannot show is written in each packet's comment
(pcapng ``opt_comment``): the sending node, the retransmission number and
timer, and "dropped on link edge-bob" for a packet a link lost (every packet
is captured at its sender, so lost ones are in the file too).

Timestamps are simulated time from a fixed epoch (:data:`EPOCH`), so the same
run gives the same bytes. The pcapng block layout is written by the maintained
``python-pcapng`` library; the Ethernet, IPv4, UDP and TCP headers (with valid
checksums, RFC 791 / RFC 768 / RFC 793) are built here.
"""

from __future__ import annotations

import ipaddress
import struct
import zlib
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterable, Mapping, Sequence

from simsip.sip.message import EPOCH  # simulated time 0 is 2026-01-01T00:00:00Z, as in Date headers
from simsip.viz.flow import Transmission, build_flow, only_run, timer_name

SIP_PORT = 5060
# Client side of a simulated TCP connection uses ports from the dynamic range (RFC 6335 §6).
EPHEMERAL_PORT_BASE = 49152
DEFAULT_NETWORK = "10.0.0.0/24"
ETHERTYPE_IPV4 = 0x0800
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IP_TTL = 64
TCP_WINDOW = 65535
TCP_FIN, TCP_SYN, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x08, 0x10
LINKTYPE_ETHERNET = 1


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured packet: when (simulated seconds), the Ethernet frame, its comment."""

    t: float
    data: bytes
    comment: str
    transmission: Transmission | None = None


def assign_addresses(nodes: Sequence[str], given: Mapping[str, str] | None = None,
                     network: str = DEFAULT_NETWORK) -> dict[str, str]:
    """IPv4 address per node: those given, the rest 10.0.0.1, .2, ... in node order."""
    given = dict(given or {})
    for node, addr in given.items():
        ipaddress.IPv4Address(addr)  # raises ValueError on a bad address
    taken = set(given.values())
    hosts = (str(h) for h in ipaddress.IPv4Network(network).hosts())
    out: dict[str, str] = {}
    for node in nodes:
        if node in given:
            out[node] = given[node]
            continue
        for h in hosts:
            if h not in taken:
                out[node] = h
                taken.add(h)
                break
        else:
            raise ValueError(f"more nodes than addresses in {network}")
    return out


def mac_address(ip: str) -> bytes:
    """A locally administered MAC (02:00:<IPv4>) so each node's frames are told apart."""
    return b"\x02\x00" + ipaddress.IPv4Address(ip).packed


def internet_checksum(data: bytes) -> int:
    """The 16-bit one's complement checksum of RFC 1071."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_header(src: str, dst: str, proto: int, payload_len: int, ident: int) -> bytes:
    """An RFC 791 header (no options, DF set, TTL 64) with its checksum."""
    hdr = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, ident & 0xFFFF, 0x4000, IP_TTL, proto, 0,
        ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed,
    )
    csum = internet_checksum(hdr)
    return hdr[:10] + struct.pack("!H", csum) + hdr[12:]


def _pseudo_header(src: str, dst: str, proto: int, length: int) -> bytes:
    """The IPv4 pseudo-header that UDP and TCP checksums cover (RFC 768, RFC 793 §3.1)."""
    return ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed + struct.pack(
        "!BBH", 0, proto, length
    )


def udp_segment(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    """An RFC 768 datagram with its checksum (0 is sent as 0xFFFF)."""
    length = 8 + len(payload)
    hdr = struct.pack("!HHHH", sport, dport, length, 0)
    csum = internet_checksum(_pseudo_header(src, dst, IPPROTO_UDP, length) + hdr + payload) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, length, csum) + payload


def tcp_segment(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
                payload: bytes = b"") -> bytes:
    """An RFC 793 segment (20-byte header, no options) with its checksum."""
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                      TCP_WINDOW, 0, 0)
    csum = internet_checksum(_pseudo_header(src, dst, IPPROTO_TCP, len(hdr) + len(payload)) + hdr + payload)
    return hdr[:16] + struct.pack("!H", csum) + hdr[18:] + payload


def _wire_bytes(tx: Transmission) -> bytes:
    """The SIP message exactly as sent (``bytes(message)``)."""
    if tx.msg is None:
        raise ValueError(
            f"transmission {tx.message!r} at {tx.t:.3f} s carries no message object; "
            "run with trace='full' to export a capture"
        )
    return tx.msg if isinstance(tx.msg, (bytes, bytearray)) else bytes(tx.msg)


def packet_comment(tx: Transmission, nodes: Sequence[str] = ()) -> str:
    """What the simulator knows and the capture cannot: sender, retransmission, timer, loss."""
    parts = [f"sent by {tx.src} to {tx.dst}"]
    if tx.retransmission:
        name = timer_name(tx.timer)
        parts.append(f"retransmission {tx.retransmission}" + (f" ({name})" if name else ""))
    if tx.dropped:
        # "dropped on link edge-bob", or why when no link lost it ("no route", a drop fault).
        parts.append("dropped " + tx.fate(nodes).replace("lost on ", "on link ").replace("lost", "").strip())
    elif tx.losses:
        links = ", ".join(link or "?" for _, link, _ in tx.losses)
        if (tx.transport or "UDP").upper() == "TCP":
            parts.append(f"lost {len(tx.losses)} time(s) on link {links}; TCP sent it again")
        else:
            parts.append(f"a copy was lost on link {links}; a duplicate made by the network arrived")
    if tx.duplicates:
        parts.append(f"duplicated by the network ({tx.duplicates} extra copies delivered)")
    return "; ".join(parts)


class _TcpConnection:
    """Sequence numbers of one simulated TCP connection between two nodes."""

    def __init__(self, client: str, server: str, client_port: int) -> None:
        """A connection opened by ``client`` to ``server``:5060 from ``client_port``."""
        self.client, self.server = client, server
        self.ports = {client: client_port, server: SIP_PORT}
        # Deterministic initial sequence numbers (a capture must not depend on luck).
        self.isn = {
            client: zlib.crc32(f"{client}>{server}".encode()),
            server: zlib.crc32(f"{server}<{client}".encode()),
        }
        self.next_seq = {client: self.isn[client] + 1, server: self.isn[server] + 1}
        # (arrival time, end sequence number) of each segment, per sending side.
        self.sent: dict[str, list[tuple[float | None, int]]] = {client: [], server: []}

    def ack_for(self, node: str, t: float) -> int:
        """What ``node`` acknowledges at ``t``: the peer's bytes that had arrived by then."""
        peer = self.server if node == self.client else self.client
        ack = self.isn[peer] + 1
        for arrived, end in self.sent[peer]:
            if arrived is not None and arrived <= t:
                ack = max(ack, end)
        return ack


def frames(
    transmissions: Iterable[Transmission],
    addresses: Mapping[str, str],
) -> list[Frame]:
    """Every transmission as an Ethernet frame, TCP connections opened with a handshake."""
    nodes = list(addresses)
    ident: dict[str, int] = {}
    conns: dict[frozenset[str], _TcpConnection] = {}
    out: list[Frame] = []

    def ether_ip(src: str, dst: str, proto: int, segment: bytes) -> bytes:
        """Wrap a UDP/TCP segment in IPv4 (per-sender IP ID) and Ethernet."""
        sip, dip = addresses[src], addresses[dst]
        ident[src] = ident.get(src, 0) + 1
        return (mac_address(dip) + mac_address(sip) + struct.pack("!H", ETHERTYPE_IPV4)
                + ipv4_header(sip, dip, proto, len(segment), ident[src]) + segment)

    for tx in transmissions:
        if tx.src not in addresses or tx.dst not in addresses:
            raise ValueError(f"no IPv4 address for {tx.src if tx.src not in addresses else tx.dst!r}")
        payload = _wire_bytes(tx)
        sip, dip = addresses[tx.src], addresses[tx.dst]
        if (tx.transport or "UDP").upper() != "TCP":
            seg = udp_segment(sip, dip, SIP_PORT, SIP_PORT, payload)
            out.append(Frame(tx.t, ether_ip(tx.src, tx.dst, IPPROTO_UDP, seg), packet_comment(tx, nodes), tx))
            continue
        key = frozenset((tx.src, tx.dst))
        conn = conns.get(key)
        if conn is None:
            conn = _TcpConnection(tx.src, tx.dst, EPHEMERAL_PORT_BASE + len(conns))
            conns[key] = conn
            c, s = conn.client, conn.server
            cp, sp = conn.ports[c], conn.ports[s]
            handshake = (
                (c, s, conn.isn[c], 0, TCP_SYN),
                (s, c, conn.isn[s], conn.isn[c] + 1, TCP_SYN | TCP_ACK),
                (c, s, conn.isn[c] + 1, conn.isn[s] + 1, TCP_ACK),
            )
            for a, b, seq, ack, flags in handshake:
                seg = tcp_segment(addresses[a], addresses[b], conn.ports[a], conn.ports[b], seq, ack, flags)
                note = f"TCP connection {c}:{cp} -> {s}:{sp} opened for the next SIP message"
                out.append(Frame(tx.t, ether_ip(a, b, IPPROTO_TCP, seg), note))
        seq = conn.next_seq[tx.src]
        ack = conn.ack_for(tx.src, tx.t)
        seg = tcp_segment(sip, dip, conn.ports[tx.src], conn.ports[tx.dst], seq, ack, TCP_PSH | TCP_ACK, payload)
        conn.next_seq[tx.src] = seq + len(payload)
        conn.sent[tx.src].append((tx.arrived_at, seq + len(payload)))
        out.append(Frame(tx.t, ether_ip(tx.src, tx.dst, IPPROTO_TCP, seg), packet_comment(tx, nodes), tx))
    return out


def write_frames(stream: BinaryIO, captured: Sequence[Frame], addresses: Mapping[str, str],
                 description: str = "simsip simulated network", epoch: float = EPOCH) -> None:
    """Write a pcapng section (SHB, IDB, NRB with node names, one EPB per frame)."""
    from pcapng import FileWriter, blocks

    from simsip import __version__ as version

    shb = blocks.SectionHeader(options={"shb_userappl": f"simsip {version}"})
    idb = shb.new_member(
        blocks.InterfaceDescription,
        link_type=LINKTYPE_ETHERNET,
        snaplen=0,  # no limit: every SIP message whole
        options={"if_name": "simsip", "if_description": description},
    )
    writer = FileWriter(stream, shb)
    nrb = shb.new_member(
        blocks.NameResolution,
        records=[{"type": 1, "address": ip, "names": [node]} for node, ip in addresses.items()],
    )
    writer.write_block(nrb)
    for frame in captured:
        # Microseconds (the IDB's default resolution), rounded so 0.1 s stays 100000 us.
        ts = int(round((epoch + frame.t) * 1_000_000))
        if ts >= 1 << 64:
            # An EPB timestamp is 64 bits of microseconds: up to about 584,000 years after 1970.
            raise ValueError(f"a packet at {frame.t:g} s is later than a pcapng timestamp can hold "
                             f"({((1 << 64) - 1) / 1_000_000 - epoch:.0f} s)")
        epb = shb.new_member(
            blocks.EnhancedPacket,
            interface_id=idb.interface_id,
            timestamp_high=ts >> 32,
            timestamp_low=ts & 0xFFFFFFFF,
            packet_data=frame.data,
            options={"opt_comment": frame.comment} if frame.comment else {},
        )
        writer.write_block(epb)


def write_pcapng(
    events: Iterable[Any],
    stream: BinaryIO,
    nodes: Sequence[str] | None = None,
    addresses: Mapping[str, str] | None = None,
    run: int | None = None,
    epoch: float = EPOCH,
) -> list[Frame]:
    """Export one run of a trace as pcapng to ``stream``; returns the frames written."""
    events = list(events)
    run = only_run(events, run)
    flow = build_flow(events, nodes=nodes, run=run)
    addr = assign_addresses(flow.nodes, addresses)
    captured = frames(flow.transmissions, addr)
    desc = "simsip simulated network" + (f", run {run}" if run is not None else "")
    write_frames(stream, captured, {n: addr[n] for n in flow.nodes}, description=desc, epoch=epoch)
    return captured
