"""Seeing the protocol: ladder diagrams, pcapng captures, explanations, statecharts, plots.

The submodules are ``simsip.viz.ladder``, ``.pcap``, ``.explain``,
``.statechart`` and ``.plots`` (matplotlib, imported only when used).
"""

from __future__ import annotations

from simsip.viz.explain import explain, explain_text
from simsip.viz.ladder import Ladder
from simsip.viz.pcap import write_pcapng

__all__ = ["Ladder", "explain", "explain_text", "write_pcapng"]
