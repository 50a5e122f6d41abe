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
    cmd = [tool("tshark"), "-r", str(capture), *CHECKSUM_PREFS, "-T", "fields", "-E", "separator=/t",
           "-E", "occurrence=a", "-E", "aggregator=|"]
    for f in fields:
        cmd += ["-e", f]
    if display_filter:
        cmd += ["-Y", display_filter]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    return [line.split("\t") for line in proc.stdout.splitlines()]


def tshark_sip_stat(capture: Path) -> dict[str, int]:
    """``tshark -z sip,stat -q``: total and resent SIP message counts."""
    proc = subprocess.run([tool("tshark"), "-r", str(capture), "-q", "-z", "sip,stat"],
                          capture_output=True, text=True, timeout=60, check=True)
    total = re.search(r"Number of SIP messages:\s*(\d+)", proc.stdout)
    resent = re.search(r"Number of resent SIP messages:\s*(\d+)", proc.stdout)
    assert total and resent, proc.stdout
    return {"messages": int(total.group(1)), "resent": int(resent.group(1)), "text": proc.stdout}  # type: ignore[dict-item]


def sngrep_load(capture: Path, tmp: Path) -> tuple[int, Path]:
    """Load a capture in sngrep without its interface (``-N``).

    Returns the dialog count sngrep prints and the pcap (``-O``) of every SIP
    message it parsed, which the caller reads back with tshark.
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
