"""The SIP protocol, sans-IO: messages, codes, timers and the state machines.

``simsip.sip`` imports only the standard library. The message layer's public
names are re-exported here: :func:`parse`, :class:`SipParseError`,
:class:`Request`, :class:`Response`, and the header helpers.
"""

from __future__ import annotations

from simsip.sip.abnf import SipParseError
from simsip.sip.message import CSeq, Headers, NameAddr, RAck, Request, Response, Via, make_response, parse
from simsip.sip.uri import URI

__all__ = [
    "CSeq",
    "Headers",
    "NameAddr",
    "RAck",
    "Request",
    "Response",
    "SipParseError",
    "URI",
    "Via",
    "make_response",
    "parse",
]
