"""simsip: a SIP signalling simulator with RFC 3261 / RFC 3262 state machines on SimPy."""

from __future__ import annotations

__version__ = "0.1.0"
