"""Running the real tools (tshark, sngrep) on captures simsip wrote.

They must run wherever the suite runs (.ci/run installs them): a missing tool
fails the test, unless SIMSIP_SKIP_TOOLS=1 says on purpose that this machine
has none.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

# Validate every checksum (Wireshark does not by default) so a wrong one is an expert error.
CHECKSUM_PREFS = [
    "-o", "ip.check_checksum:TRUE",
    "-o", "udp.check_checksum:TRUE",
    "-o", "tcp.check_checksum:TRUE",
]
# Expert severities (epan/proto.h): PI_COMMENT 0x00100000, PI_CHAT 0x00200000,
# PI_NOTE 0x00400000, PI_WARN 0x00600000, PI_ERROR 0x00800000.
PI_WARN = 0x00600000


def tool(name: str) -> str:
    """Path of a required tool; fail (not skip) when it is missing."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("SIMSIP_SKIP_TOOLS") == "1":
            pytest.skip(f"{name} not installed and SIMSIP_SKIP_TOOLS=1")
        pytest.fail(f"{name} is required (apt-get install tshark sngrep; .ci/run does it)")
    return path


def tshark_fields(capture: Path, fields: list[str], display_filter: str | None = None) -> list[list[str]]:
    """One row per frame: the given fields as tshark prints them (tab-separated)."""
    cmd = [tool("tshark"), "-n", "-r", str(capture), *CHECKSUM_PREFS, "-T", "fields", "-E", "separator=/t",
           "-E", "occurrence=a", "-E", "aggregator=|"]
    for f in fields:
        cmd += ["-e", f]
    if display_filter:
        cmd += ["-Y", display_filter]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    return [line.split("\t") for line in proc.stdout.splitlines()]


def _parse_sip_stat(text: str) -> dict[str, int]:
    """Total and resent SIP message counts from ``-z sip,stat`` output."""
    total = re.search(r"Number of SIP messages:\s*(\d+)", text)
    resent = re.search(r"Number of resent SIP messages:\s*(\d+)", text)
    assert total and resent, text
    return {"messages": int(total.group(1)), "resent": int(resent.group(1))}


def tshark_sip_stat(capture: Path) -> dict[str, int]:
    """``tshark -r FILE -z sip,stat -q``: total and resent SIP message counts."""
    proc = subprocess.run([tool("tshark"), "-n", "-r", str(capture), "-q", "-z", "sip,stat"],
                          capture_output=True, text=True, timeout=60, check=True)
    return _parse_sip_stat(proc.stdout)


def tshark_fields_and_stat(capture: Path, fields: list[str]) -> tuple[list[list[str]], dict[str, int]]:
    """One tshark run (they cost a second each): per-frame fields and the ``sip,stat`` counts."""
    cmd = [tool("tshark"), "-n", "-r", str(capture), *CHECKSUM_PREFS, "-z", "sip,stat", "-T", "fields",
           "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=|"]
    for f in fields:
        cmd += ["-e", f]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    head, sep, _tail = proc.stdout.partition("=" * 20)
    assert sep, proc.stdout
    rows = [line.split("\t") for line in head.splitlines() if line.strip()]
    return rows, _parse_sip_stat(proc.stdout)


def pcap_record_count(path: Path) -> int:
    """Packets in a classic libpcap file (what sngrep -O writes)."""
    import struct

    data = path.read_bytes()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    count, offset = 0, 24
    while offset + 16 <= len(data):
        incl_len = struct.unpack(endian + "I", data[offset + 8:offset + 12])[0]
        offset += 16 + incl_len
        count += 1
    return count


def sngrep_load(capture: Path, tmp: Path) -> tuple[int, Path]:
    """Load a capture in sngrep without its interface (``-N``).

    Returns the dialog count sngrep prints and the pcap (``-O``) of every SIP
    message it parsed (count them with :func:`pcap_record_count`).
    """
    out = tmp / "sngrep-out.pcap"
    proc = subprocess.run(
        [tool("sngrep"), "-I", str(capture), "-N", "-O", str(out)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "TERM": os.environ.get("TERM", "dumb")},
    )
    assert proc.returncode == 0, proc.stderr
    counts = re.findall(r"Dialog count:\s*(\d+)", proc.stdout)
    assert counts, f"sngrep printed no dialog count: {proc.stdout!r} {proc.stderr!r}"
    return int(counts[-1]), out
