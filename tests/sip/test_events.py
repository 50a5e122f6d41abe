"""The sans-IO actions are values: equal actions hash equal, and hashing never raises on a message they carry."""

from __future__ import annotations

from simsip.sip.events import Address, AppEvent, SendMessage, Transport
from simsip.sip.message import Request, parse

OPTIONS = (b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n"
           b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
           b"Max-Forwards: 70\r\nTo: <sip:bob@biloxi.example.com>\r\n"
           b"From: <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
           b"Call-ID: a84b4c76e66710\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")


def test_app_events_hash_consistently_with_equality() -> None:
    """Equal AppEvents hash equal, with or without a message and detail, so they go in sets and dicts."""
    request = parse(OPTIONS)
    assert isinstance(request, Request)
    same = parse(OPTIONS)
    plain = AppEvent("call-ended", "a84b4c76e66710", None, {"outcome": "answered"})
    with_message = AppEvent("request", "a84b4c76e66710", request, {"method": "OPTIONS"})
    assert hash(plain) == hash(AppEvent("call-ended", "a84b4c76e66710", None, {"outcome": "answered"}))
    assert with_message == AppEvent("request", "a84b4c76e66710", same, {"method": "OPTIONS"})
    assert hash(with_message) == hash(AppEvent("request", "a84b4c76e66710", same, {"method": "OPTIONS"}))
    assert hash(AppEvent("timeout", "x")) == hash(AppEvent("timeout", "x"))
    # Equality still compares the message and the detail: only the hash leaves them out.
    assert plain != AppEvent("call-ended", "a84b4c76e66710", None, {"outcome": "rejected"})
    assert len({plain, with_message, AppEvent("call-ended", "a84b4c76e66710", None, {"outcome": "rejected"})}) == 3
    # The hash does not move when the (mutable) detail changes under a set that holds the event.
    events = {plain}
    plain.detail["code"] = 200
    assert plain in events


def test_send_message_hashes_consistently_with_equality() -> None:
    """Equal SendMessages hash equal though the Request they carry is unhashable; equality still compares it."""
    request, same = parse(OPTIONS), parse(OPTIONS)
    bob = Address("biloxi.example.com", 5060, Transport.UDP)
    first = SendMessage(request, bob)
    assert first == SendMessage(same, bob)
    assert hash(first) == hash(SendMessage(same, bob))
    retransmitted = SendMessage(request, bob, 1, "E")
    assert retransmitted != first
    other = parse(OPTIONS.replace(b"CSeq: 1 OPTIONS", b"CSeq: 2 OPTIONS"))
    assert SendMessage(other, bob) != first
    assert len({first, SendMessage(same, bob), retransmitted, SendMessage(other, bob)}) == 3
