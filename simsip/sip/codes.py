"""SIP response codes and methods: code, reason phrase, class, provisional/final, RFC.

The table follows the IANA "Session Initiation Protocol (SIP) Parameters"
registry (Response Codes and Methods). Each reason phrase is spelled as the
RFC that defines it writes it. ``rfc`` is the defining RFC (the one the
registry cites today); ``note`` records history such as deprecation or an RFC
that renamed the code.

A widely read SIP primer prints "502 Service unavailable": that is a typo.
502 is Bad Gateway and 503 is Service Unavailable (RFC 3261 §21.5.3, §21.5.4).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CLASSES",
    "CODES",
    "METHODS",
    "Method",
    "ResponseCode",
    "class_name",
    "is_final",
    "is_provisional",
    "lookup",
    "reason_phrase",
]

# RFC 3261 §7.2 / §21: the first digit names the class.
CLASSES: dict[int, str] = {
    1: "Informational",
    2: "Success",
    3: "Redirection",
    4: "Client Error",
    5: "Server Error",
    6: "Global Failure",
}


@dataclass(frozen=True, slots=True)
class ResponseCode:
    """One registered response code."""

    code: int
    """The three-digit status code."""
    reason: str
    """The reason phrase as the defining RFC spells it."""
    rfc: str
    """The defining RFC, e.g. ``"RFC 3261"``."""
    section: str = ""
    """Section of RFC 3261 §21 that defines the code (empty for codes from other RFCs)."""
    note: str = ""
    """History worth knowing (deprecated, renamed, first defined elsewhere)."""

    @property
    def class_name(self) -> str:
        """Informational, Success, Redirection, Client Error, Server Error or Global Failure."""
        return CLASSES[self.code // 100]

    @property
    def provisional(self) -> bool:
        """True for 1xx (RFC 3261 §7.2)."""
        return self.code < 200

    @property
    def kind(self) -> str:
        """``"provisional"`` for 1xx, ``"final"`` otherwise."""
        return "provisional" if self.code < 200 else "final"


def _c(code: int, reason: str, rfc: str, section: str = "", note: str = "") -> ResponseCode:
    """Shorthand for the table below."""
    return ResponseCode(code, reason, rfc, section, note)


_R3261 = "RFC 3261"
CODES: dict[int, ResponseCode] = {
    c.code: c
    for c in (
        # 1xx Informational
        _c(100, "Trying", _R3261, "21.1.1"),
        _c(180, "Ringing", _R3261, "21.1.2"),
        _c(181, "Call Is Being Forwarded", _R3261, "21.1.3"),
        _c(182, "Queued", _R3261, "21.1.4"),
        _c(183, "Session Progress", _R3261, "21.1.5"),
        _c(199, "Early Dialog Terminated", "RFC 6228"),
        # 2xx Success
        _c(200, "OK", _R3261, "21.2.1"),
        _c(202, "Accepted", "RFC 6665",
           note="first defined by RFC 3265; deprecated by RFC 6665 (answer 200 instead)"),
        _c(204, "No Notification", "RFC 5839"),
        # 3xx Redirection
        _c(300, "Multiple Choices", _R3261, "21.3.1"),
        _c(301, "Moved Permanently", _R3261, "21.3.2"),
        _c(302, "Moved Temporarily", _R3261, "21.3.3"),
        _c(305, "Use Proxy", _R3261, "21.3.4"),
        _c(380, "Alternative Service", _R3261, "21.3.5"),
        # 4xx Client Error
        _c(400, "Bad Request", _R3261, "21.4.1"),
        _c(401, "Unauthorized", _R3261, "21.4.2"),
        _c(402, "Payment Required", _R3261, "21.4.3"),
        _c(403, "Forbidden", _R3261, "21.4.4"),
        _c(404, "Not Found", _R3261, "21.4.5"),
        _c(405, "Method Not Allowed", _R3261, "21.4.6"),
        _c(406, "Not Acceptable", _R3261, "21.4.7"),
        _c(407, "Proxy Authentication Required", _R3261, "21.4.8"),
        _c(408, "Request Timeout", _R3261, "21.4.9"),
        _c(410, "Gone", _R3261, "21.4.10"),
        _c(412, "Conditional Request Failed", "RFC 3903"),
        _c(413, "Request Entity Too Large", _R3261, "21.4.11"),
        _c(414, "Request-URI Too Long", _R3261, "21.4.12"),
        _c(415, "Unsupported Media Type", _R3261, "21.4.13"),
        _c(416, "Unsupported URI Scheme", _R3261, "21.4.14"),
        _c(417, "Unknown Resource-Priority", "RFC 4412"),
        _c(420, "Bad Extension", _R3261, "21.4.15"),
        _c(421, "Extension Required", _R3261, "21.4.16"),
        _c(422, "Session Interval Too Small", "RFC 4028"),
        _c(423, "Interval Too Brief", _R3261, "21.4.17"),
        _c(424, "Bad Location Information", "RFC 6442"),
        _c(425, "Bad Alert Message", "RFC 8876"),
        _c(428, "Use Identity Header", "RFC 8224", note="first defined by RFC 4474"),
        _c(429, "Provide Referrer Identity", "RFC 3892"),
        _c(430, "Flow Failed", "RFC 5626"),
        _c(433, "Anonymity Disallowed", "RFC 5079"),
        _c(436, "Bad Identity Info", "RFC 8224", note='RFC 4474 called it "Bad Identity-Info"'),
        _c(437, "Unsupported Credential", "RFC 8224", note='RFC 4474 called it "Unsupported Certificate"'),
        _c(438, "Invalid Identity Header", "RFC 8224", note="first defined by RFC 4474"),
        _c(439, "First Hop Lacks Outbound Support", "RFC 5626"),
        _c(440, "Max-Breadth Exceeded", "RFC 5393"),
        _c(469, "Bad Info Package", "RFC 6086"),
        _c(470, "Consent Needed", "RFC 5360"),
        _c(480, "Temporarily Unavailable", _R3261, "21.4.18"),
        _c(481, "Call/Transaction Does Not Exist", _R3261, "21.4.19"),
        _c(482, "Loop Detected", _R3261, "21.4.20"),
        _c(483, "Too Many Hops", _R3261, "21.4.21"),
        _c(484, "Address Incomplete", _R3261, "21.4.22"),
        _c(485, "Ambiguous", _R3261, "21.4.23"),
        _c(486, "Busy Here", _R3261, "21.4.24"),
        _c(487, "Request Terminated", _R3261, "21.4.25"),
        _c(488, "Not Acceptable Here", _R3261, "21.4.26"),
        _c(489, "Bad Event", "RFC 6665", note="first defined by RFC 3265"),
        _c(491, "Request Pending", _R3261, "21.4.27"),
        _c(493, "Undecipherable", _R3261, "21.4.28"),
        _c(494, "Security Agreement Required", "RFC 3329"),
        # 5xx Server Error
        _c(500, "Server Internal Error", _R3261, "21.5.1"),
        _c(501, "Not Implemented", _R3261, "21.5.2"),
        _c(502, "Bad Gateway", _R3261, "21.5.3"),
        _c(503, "Service Unavailable", _R3261, "21.5.4"),
        _c(504, "Server Time-out", _R3261, "21.5.5"),
        _c(505, "Version Not Supported", _R3261, "21.5.6"),
        _c(513, "Message Too Large", _R3261, "21.5.7"),
        _c(555, "Push Notification Service Not Supported", "RFC 8599"),
        _c(580, "Precondition Failure", "RFC 3312"),
        # 6xx Global Failure
        _c(600, "Busy Everywhere", _R3261, "21.6.1"),
        _c(603, "Decline", _R3261, "21.6.2"),
        _c(604, "Does Not Exist Anywhere", _R3261, "21.6.3"),
        _c(606, "Not Acceptable", _R3261, "21.6.4"),
        _c(607, "Unwanted", "RFC 8197"),
        _c(608, "Rejected", "RFC 8688"),
    )
}  # fmt: skip


def lookup(code: int) -> ResponseCode | None:
    """The registered entry for ``code``, or None."""
    return CODES.get(code)


def reason_phrase(code: int) -> str:
    """The RFC reason phrase for ``code``; for an unregistered code, its class name."""
    entry = CODES.get(code)
    if entry is not None:
        return entry.reason
    # RFC 3261 §8.1.3.2: an unknown code is treated as the x00 of its class.
    return CLASSES.get(code // 100, "")


def class_name(code: int) -> str:
    """Class name of any code 100-699 (by its first digit)."""
    try:
        return CLASSES[code // 100]
    except KeyError:
        raise ValueError(f"{code} is not a SIP status code (100-699)") from None


def is_provisional(code: int) -> bool:
    """True for 1xx."""
    return 100 <= code < 200


def is_final(code: int) -> bool:
    """True for 2xx-6xx."""
    return 200 <= code < 700


@dataclass(frozen=True, slots=True)
class Method:
    """One SIP method and the RFC that defines it."""

    name: str
    """The method token, upper-case."""
    rfc: str
    """The defining RFC."""
    purpose: str
    """What it is for, in a few words."""


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("INVITE", _R3261, "start a session (or modify it: re-INVITE)"),
        Method("ACK", _R3261, "confirm the final response to an INVITE"),
        Method("BYE", _R3261, "end a session"),
        Method("CANCEL", _R3261, "cancel a pending request"),
        Method("OPTIONS", _R3261, "query capabilities"),
        Method("REGISTER", _R3261, "bind an address-of-record to contacts"),
        Method("PRACK", "RFC 3262", "acknowledge a reliable provisional response"),
        Method("SUBSCRIBE", "RFC 6665", "request notification of an event"),
        Method("NOTIFY", "RFC 6665", "report an event to a subscriber"),
        Method("PUBLISH", "RFC 3903", "publish event state"),
        Method("INFO", "RFC 6086", "carry application information within a session"),
        Method("REFER", "RFC 3515", "ask the recipient to contact a third party"),
        Method("MESSAGE", "RFC 3428", "send an instant message"),
        Method("UPDATE", "RFC 3311", "change session parameters before the INVITE completes"),
    )
}
