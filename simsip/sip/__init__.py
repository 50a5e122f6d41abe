"""The SIP protocol, sans-IO: messages, codes, timers and the state machines.

``simsip.sip`` imports only the standard library. The message layer's public
names are re-exported here: :func:`parse`, :class:`SipParseError`,
:class:`Request`, :class:`Response`, and the header helpers.
"""

from __future__ import annotations

from simsip.sip import message
from simsip.sip.abnf import SipParseError
from simsip.sip.message import CSeq, Headers, NameAddr, RAck, Request, Response, Via, make_response, parse
from simsip.sip.uri import URI

# Exactly the message layer's public names, in the form type checkers follow.
__all__: list[str] = []
__all__ += message.__all__
