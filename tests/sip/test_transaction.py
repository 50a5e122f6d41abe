"""The four transaction machines (RFC 3261 §17, RFC 6026) on a hand-stepped clock.

Schedules are the ones of TIMERS.md §2, asserted to the millisecond for
T1 = 500 ms and T1 = 100 ms; every (state, event) of every table is taken once.
"""

from __future__ import annotations

import random

import pytest

pytest.importorskip("simsip.sip.codes")

from corehelp import Timers  # noqa: E402

from simsip.sip.events import Address, SendMessage, StateChange, Transport  # noqa: E402
from simsip.sip.message import Request, SipParseError, make_response  # noqa: E402
from simsip.sip.timers import TimerConfig  # noqa: E402
from simsip.sip.transaction import (  # noqa: E402
    INITIAL_STATES,
    INVITE_CLIENT_TRANSITIONS,
    INVITE_SERVER_TRANSITIONS,
    MACHINES,
    NON_INVITE_CLIENT_TRANSITIONS,
    NON_INVITE_SERVER_TRANSITIONS,
    ICEvent,
    ICState,
    ISEvent,
    ISState,
    NICEvent,
    NICState,
    NISEvent,
    NISState,
    TransactionLayer,
    TUEvent,
)

UDP = Address("bob", 5060, Transport.UDP)
TCP = Address("bob", 5060, Transport.TCP)


def request(method: str = "INVITE", branch: str = "z9hG4bK776asdhds", seq: int = 1) -> Request:
    """A request from alice to bob with the given top-Via branch."""
    return Request(method, "sip:bob@biloxi.example.com", [
        ("Via", f"SIP/2.0/UDP pc33.atlanta.example.com;branch={branch}"),
        ("Max-Forwards", "70"),
        ("To", "Bob <sip:bob@biloxi.example.com>"),
        ("From", "Alice <sip:alice@atlanta.example.com>;tag=1928301774"),
        ("Call-ID", "a84b4c76e66710@pc33.atlanta.example.com"),
        ("CSeq", f"{seq} {method}"),
    ])


def response(req: Request, status: int, tag: str | None = "a6c85cf") -> "object":
    """The peer's response to ``req``."""
    return make_response(req, status, to_tag=None if status == 100 else tag)


class Driver:
    """One transaction in a TransactionLayer with its own timers and a log of what it sent."""

    def __init__(self, t1: float = 0.5, dest: Address = UDP) -> None:
        """Fresh layer at t = 0."""
        self.timers = Timers()
        self.layer = TransactionLayer(TimerConfig(t1=t1), random.Random(7))
        self.dest = dest
        self.sent: list[tuple[float, SendMessage]] = []
        self.tu: list[tuple[float, TUEvent]] = []
        self.states: list[StateChange] = []
        self.tx = None

    def feed(self, actions: list) -> None:
        """Apply actions at the current time."""
        for action in self.timers.apply(actions):
            if isinstance(action, SendMessage):
                self.sent.append((round(self.timers.now, 3), action))
            elif isinstance(action, TUEvent):
                self.tu.append((round(self.timers.now, 3), action))
            elif isinstance(action, StateChange):
                self.states.append(action)

    def client(self, req: Request) -> "Driver":
        """Start a client transaction for ``req``."""
        self.tx, actions = self.layer.send_request(self.timers.now, req, self.dest)
        self.feed(actions)
        return self

    def server(self, req: Request) -> "Driver":
        """Receive ``req`` as a new request."""
        actions = self.layer.receive_request(self.timers.now, req, self.dest)
        self.tx = next(a.transaction for a in actions if isinstance(a, TUEvent) and a.kind == "request")
        self.feed(actions)
        return self

    def run(self, until: float = 1e9) -> None:
        """Fire timers in order until none is pending before ``until``."""
        while self.timers.pending and min(self.timers.pending.values())[0] <= until:
            _, name = self.timers.next()
            self.feed(self.layer.timer_fired(self.timers.now, name))

    def at(self, t: float) -> "Driver":
        """Fire what is due up to ``t``, then stand at ``t``."""
        self.run(t)
        self.timers.now = t
        return self

    def send_times(self, label: str | None = None) -> list[float]:
        """Send times (optionally of one method/status)."""
        out = []
        for t, s in self.sent:
            name = getattr(s.message, "method", None) or str(s.message.status)
            if label is None or name == label:
                out.append(t)
        return out

    def tu_kinds(self) -> list[tuple[float, str]]:
        """(time, kind) of TU events."""
        return [(t, e.kind) for t, e in self.tu]


def schedule(t1: float, cap: float | None) -> list[float]:
    """TIMERS.md §2 rule: double from T1 (capped or not), stop at the first send time >= 64*T1."""
    times, t, interval = [0.0], 0.0, t1
    while True:
        t += interval
        if t >= 64 * t1:
            return [round(x, 3) for x in times]
        times.append(t)
        interval = 2 * interval if cap is None else min(2 * interval, cap)


# ------------------------------------------------------------------ schedules


def test_schedule_helper_matches_timers_md_table() -> None:
    """TIMERS.md §2: the published send times for T1 = 500 ms, T2 = 4 s."""
    assert schedule(0.5, None) == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert schedule(0.5, 4.0) == [0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert schedule(0.1, None) == [0, 0.1, 0.3, 0.7, 1.5, 3.1, 6.3]
    assert schedule(0.1, 4.0) == [0, 0.1, 0.3, 0.7, 1.5, 3.1, 6.3]


@pytest.mark.parametrize("t1", [0.5, 0.1])
def test_timer_a_then_b_rfc3261_17_1_1_2(t1: float) -> None:
    """RFC 3261 §17.1.1.2: INVITE at T1*(2^k - 1), no cap; Timer B at 64*T1 -> timeout, Terminated."""
    d = Driver(t1).client(request())
    d.run()
    expected = {0.5: [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5], 0.1: [0, 0.1, 0.3, 0.7, 1.5, 3.1, 6.3]}[t1]
    assert d.send_times("INVITE") == expected
    assert [s.retransmission for _, s in d.sent] == list(range(7))
    assert [s.timer for _, s in d.sent] == [None] + ["A"] * 6
    assert d.tu_kinds() == [(round(64 * t1, 3), "timeout"), (round(64 * t1, 3), "terminated")]
    assert d.tu[0][1].timer == "B"
    assert d.tx.state is ICState.TERMINATED and not d.layer.clients


def test_invite_client_over_tcp_has_no_timer_a_rfc3261_17_1_1_2() -> None:
    """RFC 3261 §17.1.1.2: over a reliable transport Timer A is not started; B still runs."""
    d = Driver(0.5, TCP).client(request())
    assert set(d.timers.pending) == {d.tx.timer_name("B")}
    d.run()
    assert d.send_times() == [0.0]
    assert d.tu_kinds() == [(32.0, "timeout"), (32.0, "terminated")]


@pytest.mark.parametrize("t1", [0.5, 0.1])
def test_timer_e_capped_at_t2_then_f_rfc3261_17_1_2_2(t1: float) -> None:
    """RFC 3261 §17.1.2.2: non-INVITE at T1, doubling up to T2; Timer F at 64*T1."""
    d = Driver(t1).client(request("OPTIONS"))
    d.run()
    assert d.send_times("OPTIONS") == schedule(t1, 4.0)
    assert [s.timer for _, s in d.sent][1:] == ["E"] * (len(d.sent) - 1)
    assert [s.retransmission for _, s in d.sent] == list(range(len(d.sent)))
    assert d.tu_kinds() == [(round(64 * t1, 3), "timeout"), (round(64 * t1, 3), "terminated")]


def test_timer_e_is_t2_in_proceeding_rfc3261_17_1_2_2() -> None:
    """RFC 3261 §17.1.2.2: after a 1xx, E fires and is reset to T2 (one retransmission every 4 s)."""
    d = Driver(0.5).client(request("BYE"))
    d.at(1.0)
    d.feed(d.layer.receive_response(1.0, response(d.tx.request, 100)))
    assert d.tx.state is NICState.PROCEEDING
    d.run(20.0)
    assert d.send_times("BYE") == [0, 0.5, 1.5, 5.5, 9.5, 13.5, 17.5]


def test_non_invite_client_over_tcp_no_e_and_k_zero_rfc3261_17_1_2_2() -> None:
    """RFC 3261 §17.1.2.2: no Timer E over TCP; Timer K is 0, so a final ends the transaction at once."""
    d = Driver(0.5, TCP).client(request("BYE"))
    assert set(d.timers.pending) == {d.tx.timer_name("F")}
    d.at(0.2)
    d.feed(d.layer.receive_response(0.2, response(d.tx.request, 200)))
    assert [(s.old, s.new) for s in d.states] == [("Trying", "Completed"), ("Completed", "Terminated")]
    assert d.tu_kinds() == [(0.2, "response"), (0.2, "terminated")]
    assert not d.timers.pending


@pytest.mark.parametrize("t1", [0.5, 0.1])
def test_timer_g_capped_then_h_rfc3261_17_2_1(t1: float) -> None:
    """RFC 3261 §17.2.1: a 3xx-6xx resent at T1 doubling up to T2 until ACK; Timer H at 64*T1."""
    d = Driver(t1).server(request())
    final = response(d.tx.request, 486)
    d.feed(d.layer.send_response(0.0, d.tx, final))
    d.run()
    assert d.send_times("486") == schedule(t1, 4.0)
    assert [s.timer for _, s in d.sent][1:] == ["G"] * (len(d.sent) - 1)
    assert [s.retransmission for _, s in d.sent] == list(range(len(d.sent)))
    assert d.tu_kinds() == [(0.0, "request"), (round(64 * t1, 3), "timeout"), (round(64 * t1, 3), "terminated")]
    assert d.tu[1][1].timer == "H"


def test_invite_server_over_tcp_no_g_and_i_zero_rfc3261_17_2_1() -> None:
    """RFC 3261 §17.2.1: G is not set over TCP, H still is; Timer I is 0, so the ACK ends it."""
    d = Driver(0.5, TCP).server(request())
    d.feed(d.layer.send_response(0.0, d.tx, response(d.tx.request, 486)))
    assert set(d.timers.pending) == {d.tx.timer_name("H")}
    ack = request("ACK")
    ack.headers.set("To", "Bob <sip:bob@biloxi.example.com>;tag=a6c85cf")
    d.at(0.1).feed(d.layer.receive_request(0.1, ack, TCP))
    assert d.tx.state is ISState.TERMINATED
    assert [(s.old, s.new) for s in d.states][-2:] == [("Completed", "Confirmed"), ("Confirmed", "Terminated")]


@pytest.mark.parametrize("t1", [0.5, 0.1])
def test_timer_i_t4_and_d_32s_over_udp(t1: float) -> None:
    """RFC 3261 §17.2.1 Timer I = T4; §17.1.1.2 Timer D >= 32 s over UDP."""
    s = Driver(t1).server(request())
    s.feed(s.layer.send_response(0.0, s.tx, response(s.tx.request, 486)))
    ack = request("ACK")
    s.at(0.05).feed(s.layer.receive_request(0.05, ack, UDP))
    assert s.timers.due("/I") == pytest.approx(5.05)
    c = Driver(t1).client(request())
    c.at(0.05).feed(c.layer.receive_response(0.05, response(c.tx.request, 486)))
    assert c.timers.due("/D") == pytest.approx(32.05)
    assert c.send_times("ACK") == [0.05]


def test_timer_j_and_k_values_udp() -> None:
    """RFC 3261 §17.2.2 Timer J = 64*T1 and §17.1.2.2 Timer K = T4 over UDP."""
    s = Driver(0.1).server(request("BYE"))
    s.feed(s.layer.send_response(0.0, s.tx, response(s.tx.request, 200)))
    assert s.timers.due("/J") == pytest.approx(6.4)
    c = Driver(0.1).client(request("BYE"))
    c.at(0.05).feed(c.layer.receive_response(0.05, response(c.tx.request, 200)))
    assert c.timers.due("/K") == pytest.approx(5.05)


def test_timers_l_and_m_run_on_tcp_too_rfc6026() -> None:
    """RFC 6026 §8.4, §8.7: Timers L and M are 64*T1 on every transport."""
    s = Driver(0.5, TCP).server(request())
    s.feed(s.layer.send_response(0.0, s.tx, response(s.tx.request, 200)))
    assert s.timers.due("/L") == 32.0
    c = Driver(0.5, TCP).client(request())
    c.feed(c.layer.receive_response(0.0, response(c.tx.request, 200)))
    assert c.timers.due("/M") == 32.0


# -------------------------------------------------------------- behaviour


def test_invite_client_acks_each_final_retransmission_rfc3261_17_1_1_2() -> None:
    """RFC 3261 §17.1.1.2: in Completed every retransmitted 3xx-6xx is ACKed again, not passed up."""
    d = Driver().client(request())
    final = response(d.tx.request, 486)
    d.feed(d.layer.receive_response(0.0, final))
    d.at(0.5).feed(d.layer.receive_response(0.5, final))
    d.at(1.5).feed(d.layer.receive_response(1.5, final))
    acks = [(t, s.retransmission) for t, s in d.sent if getattr(s.message, "method", "") == "ACK"]
    assert acks == [(0.0, 0), (0.5, 1), (1.5, 2)]
    assert [k for _, k in d.tu_kinds()] == ["response"]
    ack = d.sent[1][1].message
    assert ack.top_via.branch == d.tx.branch and ack.to.tag == "a6c85cf" and ack.cseq == (1, "ACK")


def test_accepted_passes_every_2xx_up_rfc6026_7_2() -> None:
    """RFC 6026 §7.2: in Accepted each 2xx (retransmission or fork) goes to the TU; no ACK by the transaction."""
    d = Driver().client(request())
    d.feed(d.layer.receive_response(0.0, response(d.tx.request, 200, "a")))
    d.feed(d.layer.receive_response(0.1, response(d.tx.request, 200, "b")))
    d.feed(d.layer.receive_response(0.2, response(d.tx.request, 200, "a")))
    assert [k for _, k in d.tu_kinds()] == ["response"] * 3
    assert d.send_times("ACK") == []
    d.run()
    assert d.tx.state is ICState.TERMINATED and d.timers.now == 32.0


def test_stray_response_is_not_forwarded_rfc6026_7_2() -> None:
    """RFC 6026 §7.2, §8.9: a response that matches no client transaction is a stray."""
    d = Driver().client(request())
    d.feed(d.layer.receive_response(0.0, response(request(branch="z9hG4bKother"), 200)))
    assert d.tu_kinds() == [(0.0, "stray-response")]


def test_response_matching_needs_branch_and_cseq_method_rfc3261_17_1_3() -> None:
    """RFC 3261 §17.1.3: a 200 to CANCEL (same branch) does not match the INVITE transaction."""
    d = Driver().client(request())
    cancel_ok = response(request("CANCEL"), 200)
    d.feed(d.layer.receive_response(0.0, cancel_ok))
    assert d.tu_kinds() == [(0.0, "stray-response")]
    assert d.tx.state is ICState.CALLING


def test_response_matching_reads_the_top_via_branch_rfc3261_17_1_3() -> None:
    """RFC 3261 §17.1.3: no branch matches no transaction; no Via at all is a parse error (§8.2.6.2: Vias are copied)."""
    d = Driver().client(request())
    no_branch = response(d.tx.request, 200)
    no_branch.headers.set("Via", "SIP/2.0/UDP pc33.atlanta.example.com")
    d.feed(d.layer.receive_response(0.0, no_branch))
    assert d.tu_kinds() == [(0.0, "stray-response")]
    no_via = response(d.tx.request, 200)
    no_via.headers.remove("Via")
    with pytest.raises(SipParseError, match="missing Via"):
        d.layer.receive_response(0.0, no_via)
    assert d.tx.state is ICState.CALLING


def test_accepted_absorbs_invite_retransmission_and_passes_ack_rfc6026_7_1() -> None:
    """RFC 6026 §7.1: Accepted absorbs the INVITE, sends the TU's 2xx retransmissions, passes ACKs up."""
    d = Driver().server(request())
    ok = response(d.tx.request, 200)
    d.feed(d.layer.send_response(0.0, d.tx, ok))
    d.feed(d.layer.receive_request(0.1, request(), UDP))
    assert d.send_times() == [0.0]
    d.feed(d.layer.send_response(0.5, d.tx, ok, timer="2xx"))
    assert [(s.retransmission, s.timer) for _, s in d.sent] == [(0, None), (1, "2xx")]
    ack = request("ACK", branch="z9hG4bKnewack")
    ack.headers.set("To", "Bob <sip:bob@biloxi.example.com>;tag=a6c85cf")
    # The 2xx ACK has its own branch: it matches no transaction and goes up as "ack".
    assert [a.kind for a in d.layer.receive_request(0.6, ack, UDP)] == ["ack"]
    same_branch_ack = request("ACK")
    d.feed(d.layer.receive_request(0.6, same_branch_ack, UDP))
    assert d.tu_kinds()[-1] == (0.0, "ack")


def test_trying_not_sent_when_tu_answers_within_200ms_rfc3261_17_2_1() -> None:
    """RFC 3261 §17.2.1: 100 Trying only if the TU has not answered in 200 ms."""
    quick = Driver().server(request())
    quick.at(0.199).feed(quick.layer.send_response(0.199, quick.tx, response(quick.tx.request, 180)))
    quick.run(1.0)
    assert quick.send_times() == [0.199]
    slow = Driver().server(request())
    slow.run(1.0)
    assert slow.send_times("100") == [0.2]


def test_trying_adds_its_delay_to_the_timestamp_rfc3261_8_2_6_1() -> None:
    """RFC 3261 §8.2.6.1: a 100 copies Timestamp and "SHOULD add a delay value" (seconds since the request came).

    The INVITE's 100 goes out 200 ms after it (§17.2.1), a BYE's when the client's Timer E reaches T2
    (3.5 s, RFC 4320 §4.1); a delay the request's Timestamp carried is not ours and is dropped.
    """
    for method, stamp, at, expected in (("INVITE", "54", 0.2, "54 0.2"), ("BYE", "1.5 0.25", 3.5, "1.5 3.5")):
        req = request(method)
        req.headers.set("Timestamp", stamp)
        d = Driver().server(req)
        d.run(4.0)
        assert [(t, s.message.status, s.message.headers.get("Timestamp")) for t, s in d.sent] == [
            (at, 100, expected)]
    plain = Driver().server(request())
    plain.run(1.0)
    assert plain.sent[0][1].message.headers.get("Timestamp") is None


def test_invite_retransmission_resends_latest_provisional_rfc3261_17_2_1() -> None:
    """RFC 3261 §17.2.1: in Proceeding an INVITE retransmission gets the latest provisional again."""
    d = Driver().server(request())
    ringing = response(d.tx.request, 180)
    d.feed(d.layer.send_response(0.0, d.tx, ringing))
    d.at(0.5).feed(d.layer.receive_request(0.5, request(), UDP))
    d.at(1.5).feed(d.layer.receive_request(1.5, request(), UDP))
    assert [(t, s.retransmission, s.timer) for t, s in d.sent] == [(0.0, 0, None), (0.5, 1, None), (1.5, 2, None)]


def test_completed_resends_final_for_invite_retransmission_rfc3261_17_2_1() -> None:
    """RFC 3261 §17.2.1: in Completed a retransmitted INVITE gets the final response again."""
    d = Driver(dest=TCP).server(request())
    d.feed(d.layer.send_response(0.0, d.tx, response(d.tx.request, 404)))
    d.feed(d.layer.receive_request(0.3, request(), TCP))
    assert [(s.message.status, s.retransmission) for _, s in d.sent] == [(404, 0), (404, 1)]


def test_non_invite_server_answers_retransmissions_rfc3261_17_2_2() -> None:
    """RFC 3261 §17.2.2: discarded in Trying, latest 1xx in Proceeding, final in Completed."""
    d = Driver().server(request("BYE"))
    d.feed(d.layer.receive_request(0.0, request("BYE"), UDP))
    assert d.sent == []
    d.feed(d.layer.send_response(0.0, d.tx, response(d.tx.request, 100)))
    d.feed(d.layer.receive_request(0.1, request("BYE"), UDP))
    d.feed(d.layer.send_response(0.2, d.tx, response(d.tx.request, 200)))
    d.feed(d.layer.receive_request(0.3, request("BYE"), UDP))
    d.feed(d.layer.send_response(0.4, d.tx, response(d.tx.request, 500)))  # discarded in Completed
    assert [(s.message.status, s.retransmission) for _, s in d.sent] == [(100, 0), (100, 1), (200, 0), (200, 1)]


@pytest.mark.parametrize("t1,t2,at", [(0.5, 4.0, 3.5), (0.5, 2.0, 1.5), (0.1, 4.0, 6.3), (1.0, 0.5, 1.0)])
def test_non_invite_server_sends_100_when_client_timer_e_reaches_t2_rfc4320_4_1(t1: float, t2: float,
                                                                               at: float) -> None:
    """RFC 4320 §4.1: no response by the time the client's Timer E is reset to T2 -> 100 Trying, then Proceeding.

    E fires at T1, 3*T1, 7*T1, ... (intervals doubling up to T2): with T1 = 500 ms and T2 = 4 s
    it is reset to T2 at its third firing, 3.5 s after the request (TIMERS.md §3.2).
    """
    d = Driver()
    d.layer = TransactionLayer(TimerConfig(t1=t1, t2=t2), random.Random(7))
    d.server(request("BYE"))
    d.at(round(at - 0.001, 3)).feed(d.layer.receive_request(d.timers.now, request("BYE"), UDP))
    assert d.sent == [] and d.tx.state is NISState.TRYING  # MUST NOT before: retransmissions are discarded
    d.run(at + 0.0005)  # T1 = 100 ms sums to 6.300000000000001
    assert [(t, s.message.status, s.retransmission, s.timer) for t, s in d.sent] == [(at, 100, 0, None)]
    assert d.tx.state is NISState.PROCEEDING
    assert d.sent[0][1].message.headers.get("To") == d.tx.request.headers.get("To")  # no To tag on a 100
    # Proceeding: a retransmission gets the 100 again (RFC 3261 §17.2.2); the TU's final ends it.
    d.at(at + 1.0).feed(d.layer.receive_request(d.timers.now, request("BYE"), UDP))
    d.feed(d.layer.send_response(d.timers.now, d.tx, response(d.tx.request, 200)))
    assert [(s.message.status, s.retransmission) for _, s in d.sent] == [(100, 0), (100, 1), (200, 0)]


def test_non_invite_100_is_sent_over_tcp_too_and_not_after_an_answer_rfc4320_4_1() -> None:
    """RFC 4320 §4.1: "without regard to transport" the 100 is due at 3.5 s; a TU that answered cancels it."""
    over_tcp = Driver(dest=TCP).server(request("OPTIONS"))
    over_tcp.run(100.0)
    assert [(t, s.message.status) for t, s in over_tcp.sent] == [(3.5, 100)]
    answered = Driver().server(request("OPTIONS"))
    answered.at(3.499).feed(answered.layer.send_response(3.499, answered.tx, response(answered.tx.request, 200)))
    answered.run(100.0)
    assert [(t, s.message.status) for t, s in answered.sent] == [(3.499, 200)]
    assert "nit-trying" not in answered.tx._pending


def test_rfc2543_fallback_matches_inv2543_retransmission_rfc4475_3_4_1(conformance_dir) -> None:
    """RFC 3261 §17.2.3 / RFC 4475 §3.4.1: no branch -> match on R-URI, From tag, Call-ID, CSeq, Via."""
    from simsip.sip.message import parse

    data = (conformance_dir / "rfc4475" / "inv2543.dat").read_bytes()
    d = Driver().server(parse(data))
    d.feed(d.layer.receive_request(0.3, parse(data), UDP))
    assert [k for _, k in d.tu_kinds()] == ["request"]  # the copy was a retransmission
    d.feed(d.layer.send_response(0.4, d.tx, response(d.tx.request, 486, "x1")))
    ack = Request("ACK", "sip:UserB@example.com", [
        ("Via", "SIP/2.0/UDP iftgw.example.com"),
        ("From", "<sip:+13035551111@ift.client.example.net;user=phone>"),
        ("To", "sip:+16505552222@ss1.example.net;user=phone;tag=x1"),
        ("Call-ID", "inv2543.1717@ift.client.example.com"),
        ("CSeq", "56 ACK"),
    ])
    d.feed(d.layer.receive_request(0.5, ack, UDP))
    assert d.tx.state is ISState.CONFIRMED


def test_badbranch_falls_back_to_rfc2543_matching_rfc4475_3_2_1(conformance_dir) -> None:
    """RFC 4475 §3.2.1: a branch that is only the magic cookie identifies no transaction."""
    from simsip.sip.message import parse

    data = (conformance_dir / "rfc4475" / "badbranch.dat").read_bytes()
    d = Driver().server(parse(data))
    assert d.tx.key[0] == "2543"
    d.feed(d.layer.receive_request(0.1, parse(data), UDP))
    assert [k for _, k in d.tu_kinds()] == ["request"]


# -------------------------------------------------- every transition of every table


def _reach_ic(state: ICState, d: Driver) -> None:
    """Drive an INVITE client into ``state``."""
    d.client(request())
    status = {ICState.CALLING: None, ICState.PROCEEDING: 180, ICState.COMPLETED: 486, ICState.ACCEPTED: 200}[state]
    if status:
        d.feed(d.layer.receive_response(0.0, response(d.tx.request, status)))


def _reach_nic(state: NICState, d: Driver) -> None:
    """Drive a non-INVITE client into ``state`` (UDP)."""
    d.client(request("OPTIONS"))
    status = {NICState.TRYING: None, NICState.PROCEEDING: 100, NICState.COMPLETED: 200}[state]
    if status:
        d.feed(d.layer.receive_response(0.0, response(d.tx.request, status)))


def _reach_is(state: ISState, d: Driver) -> None:
    """Drive an INVITE server into ``state`` (UDP)."""
    d.server(request())
    if state is ISState.COMPLETED or state is ISState.CONFIRMED:
        d.feed(d.layer.send_response(0.0, d.tx, response(d.tx.request, 486)))
    if state is ISState.CONFIRMED:
        d.feed(d.layer.receive_request(0.0, request("ACK"), d.dest))
    if state is ISState.ACCEPTED:
        d.feed(d.layer.send_response(0.0, d.tx, response(d.tx.request, 200)))


def _reach_nis(state: NISState, d: Driver) -> None:
    """Drive a non-INVITE server into ``state`` (UDP)."""
    d.server(request("OPTIONS"))
    status = {NISState.TRYING: None, NISState.PROCEEDING: 100, NISState.COMPLETED: 200}[state]
    if status:
        d.feed(d.layer.send_response(0.0, d.tx, response(d.tx.request, status)))


def _apply(d: Driver, event, method: str) -> None:
    """Feed one table event to the driver's transaction."""
    name = event.value
    tx = d.tx
    if name.startswith("Timer ") or name == "200 ms, TU silent":
        letter = {"200 ms, TU silent": "trying", "Timer E at T2, TU silent": "nit-trying"}.get(name, name[-1])
        timer = tx.timer_name(letter)
        assert letter in tx._pending, f"{letter} not pending in {tx.state}"  # pending timers by letter
        d.feed(d.layer.timer_fired(1.0, timer))
    elif name == "transport error":
        d.feed(d.layer.transport_error(1.0, tx))
    elif name in ("1xx", "2xx", "300-699", "200-699"):
        status = {"1xx": 183, "2xx": 200, "300-699": 486, "200-699": 202}[name]
        d.feed(d.layer.receive_response(1.0, response(tx.request, status)))
    elif name in ("INVITE", "request"):
        d.feed(d.layer.receive_request(1.0, request(method), d.dest))
    elif name == "ACK":
        d.feed(d.layer.receive_request(1.0, request("ACK"), d.dest))
    else:
        status = {"1xx from TU": 180, "2xx from TU": 200, "300-699 from TU": 486, "200-699 from TU": 200}[name]
        if tx.last_response is not None and tx.last_response.status == status:
            d.feed(d.layer.send_response(1.0, tx, tx.last_response))
        else:
            d.feed(d.layer.send_response(1.0, tx, response(tx.request, status)))


CASES = (
    [("INVITE client", s, e, n, _reach_ic, "INVITE") for (s, e), n in INVITE_CLIENT_TRANSITIONS.items()]
    + [("non-INVITE client", s, e, n, _reach_nic, "OPTIONS") for (s, e), n in NON_INVITE_CLIENT_TRANSITIONS.items()]
    + [("INVITE server", s, e, n, _reach_is, "INVITE") for (s, e), n in INVITE_SERVER_TRANSITIONS.items()]
    + [("non-INVITE server", s, e, n, _reach_nis, "OPTIONS") for (s, e), n in NON_INVITE_SERVER_TRANSITIONS.items()]
)


@pytest.mark.parametrize(
    "machine,state,event,new,reach,method", CASES,
    ids=[f"{c[0]}: {c[1].value} --{c[2].value}--> {c[3].value}" for c in CASES],
)
def test_every_table_transition_rfc3261_figures_5_to_8(machine, state, event, new, reach, method) -> None:
    """RFC 3261 Figures 5-8 (+ RFC 6026): each (state, event) of each table leads where the table says."""
    d = Driver()
    reach(state, d)
    assert d.tx.state is state
    _apply(d, event, method)
    assert d.tx.state is new


TCP_IMPOSSIBLE = {"Timer A", "Timer E", "Timer G", "Timer D", "Timer I", "Timer J", "Timer K"}
# States left at once over TCP, because the timer that ends them (D, K, I, J) is zero.
ZERO_TIMER_STATES = {("INVITE client", "Completed"), ("non-INVITE client", "Completed"),
                     ("INVITE server", "Confirmed"), ("non-INVITE server", "Completed")}


@pytest.mark.parametrize(
    "machine,state,event,new,reach,method", CASES,
    ids=[f"{c[0]}: {c[1].value} --{c[2].value}--> {c[3].value}" for c in CASES],
)
def test_every_table_transition_over_tcp_rfc3261_17(machine, state, event, new, reach, method) -> None:
    """RFC 3261 §17 over TCP: the same table, except that A/E/G never run and D/I/J/K fire at once."""
    d = Driver(dest=TCP)
    reach(state, d)
    if event.value in TCP_IMPOSSIBLE:
        assert event.value[-1] not in d.tx._pending  # pending timers by letter
        return
    if (machine, state.value) in ZERO_TIMER_STATES:
        assert d.tx.state.value == "Terminated"  # it never stays there over TCP
        return
    _apply(d, event, method)
    expected = type(new)("Terminated") if (machine, new.value) in ZERO_TIMER_STATES else new
    assert d.tx.state is expected


def test_tables_cover_every_state_and_have_one_initial_state() -> None:
    """Each machine's table mentions all of its states; Terminated has no way out."""
    for name, table in MACHINES.items():
        states = {s for s, _ in table} | set(table.values())
        assert states == set(type(INITIAL_STATES[name])), name
        assert not any(s.value == "Terminated" for s, _ in table), name


def test_inputs_outside_the_table_are_ignored() -> None:
    """A (state, event) not in the table changes nothing (e.g. a 1xx in Completed)."""
    d = Driver()
    _reach_ic(ICState.COMPLETED, d)
    before = len(d.sent), len(d.tu)
    d.feed(d.layer.receive_response(1.0, response(d.tx.request, 180)))
    assert d.tx.state is ICState.COMPLETED and (len(d.sent), len(d.tu)) == before
    assert (ICState.COMPLETED, ICEvent.RECV_1XX) not in INVITE_CLIENT_TRANSITIONS
    assert (ISState.ACCEPTED, ISEvent.SEND_1XX) not in INVITE_SERVER_TRANSITIONS
    assert (NICState.COMPLETED, NICEvent.RECV_1XX) not in NON_INVITE_CLIENT_TRANSITIONS
    assert (NISState.COMPLETED, NISEvent.SEND_200_699) not in NON_INVITE_SERVER_TRANSITIONS


def test_transport_error_keeps_invite_server_state_rfc6026_8_8() -> None:
    """RFC 6026 §8.8: a transport error informs the TU but the INVITE server stays where it is."""
    d = Driver()
    _reach_is(ISState.ACCEPTED, d)
    d.feed(d.layer.transport_error(0.5, d.tx))
    assert d.tx.state is ISState.ACCEPTED
    assert d.tu_kinds()[-1] == (0.0, "transport-error")


def _run_quiet_and_traced(dest: Address) -> tuple[list, list]:
    """One INVITE answered 486 then an OPTIONS answered 200, client and server side, with and without StateChanges."""
    runs = []
    for states in (True, False):
        layer = TransactionLayer(TimerConfig(), random.Random(7), states=states)
        log: list = []
        invite, options = request(), request("OPTIONS", branch="z9hG4bKopt", seq=2)
        _, actions = layer.send_request(0.0, invite, dest)
        log += actions
        log += layer.receive_response(0.1, response(invite, 486))
        _, actions = layer.send_request(0.2, options, dest)
        log += actions
        log += layer.receive_response(0.3, response(options, 200))
        server = layer.receive_request(0.4, request(branch="z9hG4bKsrv"), dest)
        tx = next(a.transaction for a in server if isinstance(a, TUEvent))
        log += server + layer.send_response(0.5, tx, response(tx.request, 200))
        log += layer.abandon(0.6, tx)
        for name in sorted({a.name for a in log if type(a).__name__ == "StartTimer"}):
            log += layer.timer_fired(40.0, name)
        runs.append([(type(a).__name__, getattr(a, "kind", None), getattr(a, "name", None),
                      getattr(a, "new", None)) for a in log])
        assert not layer.clients and not layer.servers
    return runs[0], runs[1]


@pytest.mark.parametrize("dest", [UDP, TCP], ids=["udp", "tcp"])
def test_states_false_drops_only_the_state_changes_rfc3261_17(dest: Address) -> None:
    """RFC 3261 §17: a layer built with ``states=False`` returns the same actions, in order, minus StateChange."""
    traced, quiet = _run_quiet_and_traced(dest)
    assert any(kind == "StateChange" for kind, *_ in traced)
    assert quiet == [a for a in traced if a[0] != "StateChange"]
