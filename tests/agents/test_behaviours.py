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


def test_reinvite_handler_does_not_fire_again_for_its_ack() -> None:
    """`on bob re-INVITE` runs once per re-INVITE (RFC 3261 §14.2), not again when its ACK arrives.

    Before: the ACK's event carried the re-INVITE mark, so bob answered twice (an app-error) and
    hung up twice; a `reinvite` or `bye` in that handler would have been sent twice.
    """
    result = _run(HEAD + "on bob INVITE: send 200\non bob re-INVITE: send 200; wait 1s; hangup\n"
                  "on alice 200: wait 1s; reinvite\ncall alice -> bob\n")
    assert [s for s in _sends(result) if s[1] == "bob"] == [
        (10.0, "bob", "200 OK", "1 INVITE"), (1030.0, "bob", "200 OK", "2 INVITE"), (2030.0, "bob", "BYE", "1 BYE")]
    assert [e.detail for e in result.trace if e.event == "app" and "app-error" in (e.detail or "")] == []


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


def test_reinvite_handler_answers_the_reinvite_rfc3261_14_2() -> None:
    """`on bob re-INVITE` answers the re-INVITE itself (here 488 after 100 ms); the core does not answer 200 first.

    Before: the core had answered 200 at once and the handler's `send` was an app-error.
    """
    result = _run(HEAD + "on bob re-INVITE: wait 100ms; send 488\non alice 200: reinvite\ncall alice -> bob\n")
    errors = [e for e in result.trace if e.event == "app" and (e.detail or "").startswith("app-error")]
    assert errors == []
    assert [s for s in _sends(result) if s[1] == "bob"] == [(10.0, "bob", "200 OK", "1 INVITE"),
                                                            (130.0, "bob", "488 Not Acceptable Here", "2 INVITE")]


def test_without_reinvite_handler_the_core_answers_200() -> None:
    """No `on bob re-INVITE`: the core answers the re-INVITE 200 at once (RFC 3261 §14.2)."""
    result = _run(HEAD + "on alice 200: reinvite\ncall alice -> bob\n")
    assert [s for s in _sends(result) if s[1] == "bob"] == [(10.0, "bob", "200 OK", "1 INVITE"),
                                                            (30.0, "bob", "200 OK", "2 INVITE")]


def test_reinvite_handler_fires_for_the_reinvite() -> None:
    """`on bob re-INVITE` runs for the in-dialog INVITE."""
    result = _run(HEAD + "on bob re-INVITE: send 200; wait 100ms; hangup\non alice 200: reinvite\n"
                  "call alice -> bob\n")
    bye = [s for s in _sends(result) if s[2] == "BYE"]
    # re-INVITE reaches bob at 30 ms; his hangup waits for the ACK of its 200 (§15), here at 50 ms.
    assert bye == [(130.0, "bob", "BYE", "1 BYE")]  # bob's own first CSeq in the dialog


def test_bye_action_sends_bye_in_the_early_dialog_rfc3261_15() -> None:
    """RFC 3261 §15 / RFC 5407 §3.1.3: `bye` before the final response is a BYE in the early dialog, no CANCEL."""
    result = _run(HEAD + "on bob INVITE: send 180; wait 500ms; send 486\non alice 180: wait 100ms; bye\n"
                  "call alice -> bob\n")
    sends = _sends(result)
    assert [s for s in sends if s[1] == "alice"] == [(0.0, "alice", "INVITE", "1 INVITE"),
                                                     (120.0, "alice", "BYE", "2 BYE"),
                                                     (140.0, "alice", "ACK", "1 ACK")]
    # §15.1.2: bob answers the BYE 200 and the pending INVITE 487 at once; his own 486 never leaves.
    assert [s for s in sends if s[1] == "bob"] == [(10.0, "bob", "180 Ringing", "1 INVITE"),
                                                   (130.0, "bob", "200 OK", "2 BYE"),
                                                   (130.0, "bob", "487 Request Terminated", "1 INVITE")]


def test_hangup_before_the_final_response_still_cancels() -> None:
    """`hangup` keeps the RFC 3261 §9.1 default: CANCEL, not BYE."""
    result = _run(HEAD + "on bob INVITE: send 180; wait 500ms; send 200\non alice 180: wait 100ms; hangup\n"
                  "call alice -> bob\n")
    assert [s[2] for s in _sends(result) if s[1] == "alice"][:2] == ["INVITE", "CANCEL"]


def test_bye_action_of_a_callee_in_an_early_dialog_is_refused_rfc3261_15() -> None:
    """RFC 3261 §15: the callee MUST NOT BYE an early dialog; the core says why and sends nothing."""
    result = _run(HEAD + "on bob INVITE: send 180; bye; wait 100ms; send 200\ncall alice -> bob\n")
    errors = [e.detail for e in result.trace if e.event == "app" and (e.detail or "").startswith("app-error")]
    assert len(errors) == 1 and "early_dialog" in errors[0]
    assert [s[2] for s in _sends(result) if s[1] == "bob"] == ["180 Ringing", "200 OK"]


def _trying(result: simsip.engine.Result) -> list[float]:
    """When bob sent 100 Trying (ms), retransmissions included."""
    return [round(e.t * 1000, 6) for e in result.trace
            if e.event == "send" and e.node == "bob" and e.message == "100 Trying"]


def test_uas_sends_100_trying_after_200ms_by_default_rfc3261_17_2_1() -> None:
    """RFC 3261 §17.2.1: the INVITE server transaction sends 100 Trying 200 ms after the INVITE."""
    result = _run(HEAD + "on bob INVITE: wait 1s; send 200\ncall alice -> bob\n")
    assert _trying(result) == [210.0]  # it reaches alice at 220 ms, before Timer A (500 ms)
    assert [e.retransmission for e in result.trace if e.event == "send" and e.message == "INVITE"] == [0]


def test_no_trying_ua_never_sends_100_trying_rfc3261_17_2_1() -> None:
    """`ua bob no-trying`: no 100 Trying of the transaction's own, even for INVITE retransmissions."""
    result = _run(HEAD.replace("ua bob", "ua bob no-trying") + "on bob INVITE: wait 1s; send 200\n"
                  "call alice -> bob\n")
    assert _trying(result) == []
    invites = [e.retransmission for e in result.trace if e.event == "send" and e.message == "INVITE"]
    assert invites == [0, 1]  # Timer A at 500 ms; the 200 leaves at 1.01 s
    assert result.calls[0]["outcome"] == "answered"


def _bodies(result: simsip.engine.Result, node: str) -> dict[str, bytes]:
    """CSeq -> body of each 2xx ``node`` sent first."""
    return {e.cseq: e.msg.body for e in result.trace
            if e.event == "send" and e.node == node and e.retransmission == 0 and e.message == "200 OK"}


def test_2xx_carries_sdp_answer_by_default_rfc3261_13_2_1() -> None:
    """RFC 3261 §13.2.1: the 2xx to an INVITE with an offer carries the answer (initial and re-INVITE)."""
    result = _run(HEAD + "on alice 200: reinvite\ncall alice -> bob\n")
    bodies = _bodies(result, "bob")
    assert set(bodies) == {"1 INVITE", "2 INVITE"}
    assert all(body.startswith(b"v=0") for body in bodies.values())


def test_no_answer_sdp_ua_answers_without_sdp() -> None:
    """`ua bob no-answer-sdp`: bob's 2xx carry no body, the default answer and the re-INVITE's alike."""
    result = _run(HEAD.replace("ua bob", "ua bob no-answer-sdp") + "on alice 200: reinvite\ncall alice -> bob\n")
    assert _bodies(result, "bob") == {"1 INVITE": b"", "2 INVITE": b""}


def test_no_answer_sdp_ua_sends_sdp_when_the_handler_asks() -> None:
    """`send 200 sdp` on a `no-answer-sdp` UA still puts SDP in the 200."""
    result = _run(HEAD.replace("ua bob", "ua bob no-answer-sdp") + "on bob INVITE: send 200 sdp\n"
                  "call alice -> bob\n")
    assert _bodies(result, "bob")["1 INVITE"].startswith(b"v=0")


def test_provisional_handler_fires_once_for_copies_of_a_1xx() -> None:
    """A 180 duplicated on the wire (and resent for the duplicated INVITE, §17.2.1) fires `on alice 180` once."""
    result = _run("ua alice\nua bob\nlink alice <-> bob delay 10ms duplicate 100%\n"
                  "on bob INVITE: send 180; wait 1s; send 486\n"
                  "on alice 180: wait 100ms; bye\ncall alice -> bob\n")
    received = [e for e in result.trace if e.event == "recv" and e.node == "alice" and e.message == "180 Ringing"]
    assert len(received) == 4
    errors = [e for e in result.trace if e.event == "app" and e.node == "alice"
              and (e.detail or "").startswith("app-error")]
    assert errors == []  # before: three more `bye`s, each refused
    assert [s for s in _sends(result) if s[1] == "alice" and s[2] == "BYE"] == [(120.0, "alice", "BYE", "2 BYE")]
