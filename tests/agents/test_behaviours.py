"""Handler matching (simsip/agents/ua.py): which events fire `on NODE EVENT`, and the actions they run."""

from __future__ import annotations

import simsip

HEAD = "ua alice\nua bob\nlink alice <-> bob delay 10ms\n"


def _run(text: str, until: float = 60.0) -> simsip.engine.Result:
    """Load ``text`` and run it once with the full trace, stopped at ``until`` s (a loop fails, not hangs)."""
    return simsip.run(simsip.load(text), trace="full", until=until)


def _sends(result: simsip.engine.Result) -> list[tuple[float, str, str, str]]:
    """(t in ms, sender, message, CSeq) of every first send (no retransmissions)."""
    return [(round(e.t * 1000, 6), e.node, e.message, e.cseq) for e in result.trace
            if e.event == "send" and e.retransmission == 0]


def test_response_handler_fires_for_the_initial_invite_only() -> None:
    """`on alice 200` fires for the initial INVITE's 200, not for the 200 to the re-INVITE it sent.

    Before: each re-INVITE's 200 fired the handler again and the run never ended.
    """
    result = _run(HEAD + "on bob INVITE: send 200\non alice 200: wait 450ms; reinvite\ncall alice -> bob\n")
    invites = [s for s in _sends(result) if s[1] == "alice" and s[2] == "INVITE"]
    assert invites == [(0.0, "alice", "INVITE", "1 INVITE"), (470.0, "alice", "INVITE", "2 INVITE")]
    last = [e for e in result.trace if e.event in ("send", "recv")][-1]
    assert (round(last.t * 1000, 6), last.node, last.message) == (500.0, "bob", "ACK")  # then silence


def test_to_reinvite_handler_fires_for_the_reinvite_answer_only() -> None:
    """`on alice 200 to re-INVITE` fires for the re-INVITE's 200 (RFC 3261 §14.1), not the initial one."""
    result = _run(HEAD + "on alice 200: wait 100ms; reinvite\non alice 200 to re-INVITE: wait 100ms; hangup\n"
                  "call alice -> bob\n")
    alice = [s for s in _sends(result) if s[1] == "alice"]
    assert alice == [(0.0, "alice", "INVITE", "1 INVITE"), (20.0, "alice", "ACK", "1 ACK"),
                     (120.0, "alice", "INVITE", "2 INVITE"), (140.0, "alice", "ACK", "2 ACK"),
                     (240.0, "alice", "BYE", "3 BYE")]


def test_2xx_class_handler_ignores_2xx_retransmissions() -> None:
    """RFC 3261 §13.2.2.4: a retransmitted 2xx is ACKed again but fires `on alice 2xx` only once."""
    text = (HEAD + "drop ACK alice -> bob count 2\n"  # bob resends the 200 at 500 ms and 1.5 s
                   "on alice 2xx: reinvite no-sdp\ncall alice -> bob\n")
    result = _run(text)
    oks = [s for s in _sends(result) if s[1] == "bob" and s[2] == "200 OK"]
    assert [s[3] for s in oks] == ["1 INVITE", "2 INVITE"]
    retransmitted = [e for e in result.trace if e.event == "send" and e.node == "bob" and e.retransmission > 0]
    assert len(retransmitted) == 2
    reinvites = [s for s in _sends(result) if s[1] == "alice" and s[2] == "INVITE" and s[3] != "1 INVITE"]
    assert len(reinvites) == 1


def test_invite_handler_does_not_fire_for_a_reinvite() -> None:
    """`on bob INVITE` answers the initial INVITE; a re-INVITE goes to `on bob re-INVITE` only.

    Before: with no `re-INVITE` handler the INVITE handler ran again and tried to answer
    the already answered re-INVITE (an app-error).
    """
    result = _run(HEAD + "on bob INVITE: wait 50ms; send 200\non alice 200: reinvite\ncall alice -> bob\n")
    errors = [e for e in result.trace if e.event == "app" and (e.detail or "").startswith("app-error")]
    assert errors == []
    bob = [s for s in _sends(result) if s[1] == "bob"]
    assert bob == [(60.0, "bob", "200 OK", "1 INVITE"), (80.0, "bob", "200 OK", "2 INVITE")]


def test_reinvite_handler_fires_for_the_reinvite() -> None:
    """`on bob re-INVITE` runs for the in-dialog INVITE (the core answered it 200 already)."""
    result = _run(HEAD + "on bob re-INVITE: wait 100ms; hangup\non alice 200: reinvite\ncall alice -> bob\n")
    bye = [s for s in _sends(result) if s[2] == "BYE"]
    # re-INVITE reaches bob at 30 ms; his hangup waits for the ACK of its 200 (§15), here at 50 ms.
    assert bye == [(130.0, "bob", "BYE", "1 BYE")]  # bob's own first CSeq in the dialog
