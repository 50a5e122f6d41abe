"""End-to-end runs through the whole stack: exact flows, exact retransmission times, statistics."""

from __future__ import annotations

import pytest

from simsip import engine
from simsip.metrics.analytic import direct_call_expectations, within_standard_errors
from simsip.scenario import model as m

TWO_XX = m.Event(kind=m.EventKind.RESPONSE_CLASS, method="INVITE", code_class="2xx")


def direct(delay: float = 0.05, loss: float = 0.0, hangup_after: float | None = 1.0,
           transport: m.Transport = m.Transport.UDP, **extra) -> m.Scenario:
    """alice calls bob over one link; bob answers 200 at once; alice hangs up after a while."""
    handlers = ()
    if hangup_after is not None:
        handlers = (m.Handler(node="alice", event=TWO_XX,
                              actions=(m.Wait(duration=m.Constant(hangup_after)), m.Hangup())),)
    return m.Scenario(
        name="direct", transport=transport,
        nodes=(m.UserAgent(name="alice"), m.UserAgent(name="bob")),
        links=(m.Link(a="alice", b="bob", delay=m.Constant(delay), loss=m.Bernoulli(p=loss)),),
        handlers=handlers,
        calls=(m.Call(caller="alice", callee="bob", at=0.0),),
        **extra,
    )


def sends(result: engine.Result) -> list[tuple[float, str, str, str, str]]:
    """(t, sender, receiver, message, cseq) of every send event."""
    return [(round(e.t, 6), e.node, e.dst, e.message, e.cseq)
            for e in result.trace if e.event == "send"]


def test_direct_call_flow_message_by_message() -> None:
    """RFC 3665 §3.1-style direct call with no loss: INVITE, 200, ACK, BYE, 200 at exact times."""
    result = engine.run(direct(), trace="full")
    assert sends(result) == [
        (0.0, "alice", "bob", "INVITE", "1 INVITE"),
        (0.05, "bob", "alice", "200 OK", "1 INVITE"),
        (0.1, "alice", "bob", "ACK", "1 ACK"),
        (1.1, "alice", "bob", "BYE", "2 BYE"),
        (1.15, "bob", "alice", "200 OK", "2 BYE"),
    ]
    recvs = [(round(e.t, 6), e.node, e.message) for e in result.trace if e.event == "recv"]
    assert recvs == [(0.05, "bob", "INVITE"), (0.1, "alice", "200 OK"), (0.15, "bob", "ACK"),
                     (1.15, "bob", "BYE"), (1.2, "alice", "200 OK")]
    [call] = list(result.calls)
    assert call["outcome"] == "answered" and call["final_code"] == 200
    assert call["final_ms"] == 100.0 and call["invite_retransmissions"] == 0
    assert call["messages_sent"] == 5 and call["messages_lost"] == 0


def test_unreachable_bob_timer_a_and_b_exact() -> None:
    """RFC 3261 §17.1.1.2: INVITE at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; Timer B at 32 s."""
    result = engine.run(direct(loss=1.0, hangup_after=None), trace="full")
    invites = [(t, retx) for t, retx in ((round(e.t, 6), e.retransmission) for e in result.trace
                                         if e.event == "send" and e.message == "INVITE")]
    assert invites == [(0.0, 0), (0.5, 1), (1.5, 2), (3.5, 3), (7.5, 4), (15.5, 5), (31.5, 6)]
    timers_a = [round(e.t, 6) for e in result.trace if e.event == "timer" and e.timer == "A"]
    assert timers_a == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    timer_b = [round(e.t, 6) for e in result.trace if e.event == "timer" and e.timer == "B"]
    assert timer_b == [32.0]
    drops = [e for e in result.trace if e.event == "drop"]
    assert len(drops) == 7 and all(d.link == "alice-bob" for d in drops)
    [call] = list(result.calls)
    assert call["outcome"] == "timeout" and call["final_code"] == 408  # RFC 3261 §8.1.3.1
    assert call["invite_retransmissions"] == 6 and call["messages_lost"] == 7


def _lossy_batch(first_run: int, runs: int) -> tuple[list, list, list]:
    """final_ms, invite_retransmissions and ok_retransmissions (answered calls) of some runs."""
    result = engine.run(direct(delay=0.05, loss=0.2, hangup_after=None), runs=runs, seed=7,
                        first_run=first_run)
    answered = [ok for ok, outcome in zip(result.calls.column("ok_retransmissions"),
                                          result.calls.column("outcome")) if outcome == "answered"]
    return (result.calls.column("final_ms"), result.calls.column("invite_retransmissions"),
            answered)


def test_lossy_hop_statistics_match_exact_values() -> None:
    """Issue 5 must-show: 50 ms each way, 20 % loss both ways, 200 at once, 20,000 runs.

    Mean final_ms and mean invite_retransmissions lie within 3 standard errors
    of the exact RFC 3261 + RFC 6026 values (simsip.metrics.analytic). The runs
    are split over two processes by run index; run r is the same wherever it runs.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    runs, half = 20_000, 10_000
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        batches = list(pool.map(_lossy_batch, (0, half), (half, runs - half)))
    finals = batches[0][0] + batches[1][0]
    retx = batches[0][1] + batches[1][1]
    assert len(retx) == runs
    exact = direct_call_expectations(delay=0.05, loss=0.2, t1=0.5, t2=4.0)
    answered = [v for v in finals if v is not None]
    ok, mean, tol = within_standard_errors(exact["final_ms_mean"], exact["final_ms_var"], answered)
    assert ok, (mean, exact["final_ms_mean"], tol)
    ok, mean, tol = within_standard_errors(exact["invite_retransmissions_mean"],
                                           exact["invite_retransmissions_var"], retx)
    assert ok, (mean, exact["invite_retransmissions_mean"], tol)
    # Beyond the must-show: the UAS core's 2xx retransmissions until the ACK (§13.3.1.4).
    oks = batches[0][2] + batches[1][2]
    ok, mean, tol = within_standard_errors(exact["ok_retransmissions_mean"],
                                           exact["ok_retransmissions_var"], oks)
    assert ok, (mean, exact["ok_retransmissions_mean"], tol)


def test_batches_by_first_run_equal_one_serial_batch() -> None:
    """Runs split by ``first_run`` are exactly the runs of one serial call (process pools, Dask)."""
    serial = engine.run(direct(loss=0.3), runs=12, seed=4)
    parts = [engine.run(direct(loss=0.3), runs=6, seed=4, first_run=start) for start in (0, 6)]
    assert list(serial.calls) == list(parts[0].calls) + list(parts[1].calls)



def test_progress_counts_runs_every_hundred_and_at_the_end() -> None:
    """``progress(done, runs)`` after runs 100, 200 and the last, counted from ``first_run``; same records."""
    import simsip

    seen: list[tuple[int, int]] = []
    with_bar = simsip.run(direct(loss=0.3), runs=250, seed=4, first_run=30,
                          progress=lambda done, total: seen.append((done, total)))
    assert engine.PROGRESS_EVERY == 100
    assert seen == [(100, 250), (200, 250), (250, 250)]
    assert list(with_bar.calls) == list(engine.run(direct(loss=0.3), runs=250, seed=4, first_run=30).calls)
    seen.clear()
    engine.run(direct(), runs=1, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 1)]


def test_run_calls_gives_the_call_table_of_run() -> None:
    """A sweep batch's ``run_calls`` holds exactly ``run``'s per-call measures for those run indices."""
    scenario = direct(loss=0.3)
    batch = engine.run_calls(scenario, runs=6, seed=4, first_run=6)
    assert len(batch) == 6
    assert list(batch) == list(engine.run(scenario, runs=6, seed=4, first_run=6).calls)
    assert list(batch) != list(engine.run_calls(scenario, runs=6, seed=4, first_run=0))

def test_identical_seed_identical_json() -> None:
    scenario = direct(loss=0.3)
    a = engine.run(scenario, runs=30, seed=5).to_json()
    b = engine.run(scenario, runs=30, seed=5).to_json()
    c = engine.run(scenario, runs=30, seed=6).to_json()
    assert a == b
    assert a != c


def two_pairs(loss_2: float) -> m.Scenario:
    """Two independent calls on two separate links (a1-b1 with 30 % loss, a2-b2 with loss_2)."""
    return m.Scenario(
        name="pairs",
        nodes=tuple(m.UserAgent(name=n) for n in ("a1", "b1", "a2", "b2")),
        links=(m.Link(a="a1", b="b1", delay=m.Constant(0.02), loss=m.Bernoulli(p=0.3)),
               m.Link(a="a2", b="b2", delay=m.Constant(0.02), loss=m.Bernoulli(p=loss_2))),
        calls=(m.Call(caller="a1", callee="b1"), m.Call(caller="a2", callee="b2")),
    )


def test_changing_one_link_leaves_other_links_drops_unchanged() -> None:
    """Each link direction has its own stream (DESIGN.md "Randomness")."""
    def drops(result: engine.Result, link: str) -> list[tuple[int, float, str, int]]:
        return [(e.run, round(e.t, 6), e.message, e.retransmission)
                for e in result.trace if e.event == "drop" and e.link == link]

    low = engine.run(two_pairs(0.05), runs=40, seed=3, trace="full")
    high = engine.run(two_pairs(0.6), runs=40, seed=3, trace="full")
    assert drops(low, "a1-b1") == drops(high, "a1-b1")
    assert drops(low, "a1-b1")  # the comparison is not vacuous
    assert len(drops(low, "a2-b2")) < len(drops(high, "a2-b2"))


def test_tcp_loss_shows_as_delay_not_sip_retransmissions() -> None:
    """Over TCP the transaction layer never retransmits; a lost segment costs the RTO (1 s min)."""
    result = engine.run(direct(loss=0.3, hangup_after=None, transport=m.Transport.TCP),
                        runs=200, seed=2)
    assert set(result.calls.column("invite_retransmissions")) == {0}
    assert set(result.calls.column("messages_lost")) == {0}
    assert set(result.calls.column("outcome")) == {"answered"}
    finals = result.calls.column("final_ms")
    assert min(finals) == 100.0
    # A single lost segment costs exactly the 1 s RTO (3 x 100 ms RTT < 1 s).
    assert 1100.0 in finals


MIXED_TRANSPORTS = """\
scenario "alice's first link is TCP, the link towards bob is not"
ua    alice
ua    carol
proxy sp    stateless domain biloxi.example.com
ua    bob   domain biloxi.example.com
location sip:bob@biloxi.example.com -> bob
link alice <-> carol delay 10ms transport tcp
link alice <-> sp    delay 10ms
link sp    <-> bob   delay 10ms
on bob INVITE:
    send 200
on alice 200:
    wait 1s
    hangup
call alice -> bob at 0s
"""


def test_top_via_names_the_transport_a_request_is_sent_over_rfc3261_8_1_1_7() -> None:
    """RFC 3261 §8.1.1.7: "The Via header field indicates the transport used for the transaction".

    alice's own transport is TCP (her first link), but her path to bob names none
    (UDP): her Via said TCP, so the stateless proxy sent the 200 back over TCP
    (§18.2.2 routes by the Via's sent-protocol) to a UDP client.
    """
    result = engine.run(MIXED_TRANSPORTS, trace="full")
    sent = [(e.node, e.dst, e.message, e.transport, e.msg.top_via.transport)
            for e in result.trace if e.event == "send" and e.node == "alice"]
    assert sent == [("alice", "sp", "INVITE", "UDP", "UDP"), ("alice", "bob", "ACK", "UDP", "UDP"),
                    ("alice", "bob", "BYE", "UDP", "UDP")]
    answers = [(e.node, e.dst, e.message, e.transport) for e in result.trace
               if e.event == "send" and e.node == "sp" and e.message == "200 OK"]
    assert answers == [("sp", "alice", "200 OK", "UDP")]


def test_poisson_stream_own_rng_and_count() -> None:
    scenario = m.Scenario(
        name="stream",
        nodes=(m.UserAgent(name="alice"), m.UserAgent(name="bob")),
        links=(m.Link(a="alice", b="bob", delay=m.Constant(0.01)),),
        streams=(m.CallStream(callers=m.Pool(members=("alice",)), callees=m.Pool(members=("bob",)),
                              arrival=m.Arrival.POISSON, rate=5.0, duration=20.0),),
    )
    a = engine.run(scenario, seed=1)
    b = engine.run(scenario, seed=1)
    assert list(a.calls) == list(b.calls)
    assert 60 <= len(a.calls) <= 140  # 100 expected; Poisson sd 10
    assert set(a.calls.column("outcome")) == {"answered"}


def test_fixed_rate_stream_exact_count() -> None:
    scenario = m.Scenario(
        name="fixed",
        nodes=(m.UserAgent(name="alice"), m.UserAgent(name="bob")),
        links=(m.Link(a="alice", b="bob", delay=m.Constant(0.01)),),
        streams=(m.CallStream(callers=m.Pool(members=("alice",)), callees=m.Pool(members=("bob",)),
                              arrival=m.Arrival.FIXED, interval=0.5, count=7),),
    )
    result = engine.run(scenario, trace="full")
    invites = [round(e.t, 6) for e in result.trace if e.event == "send" and e.message == "INVITE"]
    assert invites == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


def test_link_down_fault_forces_retransmission() -> None:
    """Link down 0-0.6 s: the first INVITE (0 s) and the Timer A one (0.5 s) are lost; 1.5 s arrives."""
    scenario = direct(hangup_after=None, faults=(m.LinkDown(a="alice", b="bob", at=0.0, duration=0.6),))
    result = engine.run(scenario, trace="full")
    [call] = list(result.calls)
    assert call["invite_retransmissions"] == 2
    assert call["final_ms"] == 1600.0
    assert [d.detail for d in result.trace if d.event == "drop"] == ["link down", "link down"]


def test_call_through_stateful_proxy_with_ringing() -> None:
    """alice -> proxy -> bob; bob rings for 1 s then answers; 100 Trying from the proxy.

    Without Record-Route the ACK goes straight to bob's Contact (RFC 3261 §13.2.2.4),
    crossing the proxy's node as an IP router: 10 ms + 20 ms.
    """
    scenario = m.Scenario(
        name="proxied",
        nodes=(m.UserAgent(name="alice", domain="atlanta.example.com", outbound=("proxy",)),
               m.Proxy(name="proxy", domains=("biloxi.example.com",)),
               m.UserAgent(name="bob", domain="biloxi.example.com")),
        locations=(m.Location(aor="sip:bob@biloxi.example.com", contacts=("bob",)),),
        links=(m.Link(a="alice", b="proxy", delay=m.Constant(0.01)),
               m.Link(a="proxy", b="bob", delay=m.Constant(0.02))),
        handlers=(m.Handler(node="bob", event=m.Event(kind=m.EventKind.REQUEST, method="INVITE"),
                            actions=(m.SendResponse(code=180), m.Wait(duration=m.Constant(1.0)),
                                     m.SendResponse(code=200))),),
        calls=(m.Call(caller="alice", callee="bob"),),
    )
    result = engine.run(scenario, trace="full")
    flow = [(t, a, b, msg) for t, a, b, msg, _ in sends(result)]
    assert flow[:8] == [
        (0.0, "alice", "proxy", "INVITE"),
        (0.01, "proxy", "alice", "100 Trying"),
        (0.01, "proxy", "bob", "INVITE"),
        (0.03, "bob", "proxy", "180 Ringing"),
        (0.05, "proxy", "alice", "180 Ringing"),
        (1.03, "bob", "proxy", "200 OK"),
        (1.05, "proxy", "alice", "200 OK"),
        (1.06, "alice", "bob", "ACK"),
    ]
    acks = [(round(e.t, 6), e.src) for e in result.trace if e.event == "recv" and e.message == "ACK"]
    assert acks == [(1.09, "alice")]
    [call] = list(result.calls)
    assert call["pdd_ms"] == 60.0 and call["final_ms"] == 1060.0


@pytest.mark.parametrize("trace", ["off", "full"])
def test_trace_levels_give_same_records(trace: str) -> None:
    off = engine.run(direct(loss=0.2), runs=20, seed=9)
    other = engine.run(direct(loss=0.2), runs=20, seed=9, trace=trace)
    assert list(off.calls) == list(other.calls)
    assert (other.trace != []) == (trace == "full")


def test_streams_differ_by_name_run_and_seed() -> None:
    draws = {(s, r, n): engine.stream(s, r, n).random()
             for s in (0, 1) for r in (0, 1) for n in ("link:a->b", "link:b->a")}
    assert len(set(draws.values())) == 8
    assert engine.stream(3, 4, "x").random() == engine.stream(3, 4, "x").random()


@pytest.mark.parametrize("trace", ["off", "full"])
def test_cores_build_state_changes_only_for_a_full_trace(trace: str) -> None:
    """Transaction state changes are only shown in a full trace: with tracing off the layers skip them."""
    one = engine._Run(engine._Compiled(direct()), 0, 0, trace, None)
    agent = one.agents["alice"]
    assert agent.core.layer.states is (trace == "full")
    agent.crash()
    agent.restart()  # a restarted node's fresh core follows the same rule
    assert agent.core.layer.states is (trace == "full")
    one.execute()
    states = [e for e in one.sink.events if e.event == "state"]
    assert (len(states) > 0) is (trace == "full")


def test_busy_through_a_stateless_proxy_is_acked_once_rfc3261_16_11() -> None:
    """RFC 3261 §16.11 / §17.2.1: the ACK of bob's 486 passes a stateless proxy with the INVITE's branch,
    bob's INVITE server transaction absorbs it, and the 486 is sent once (no Timer G retransmissions)."""
    from simsip.scenario import load_text

    scenario = load_text(
        "ua alice outbound p domain ex.com\nproxy p stateless domain ex.com\nua bob domain ex.com\n"
        "location sip:bob@ex.com -> bob\nlink alice <-> p delay 10ms\nlink p <-> bob delay 10ms\n"
        "on bob INVITE: send 486\ncall alice -> sip:bob@ex.com\n", "busy.sip", "sip")
    result = engine.run(scenario, trace="full")
    assert [(round(t, 3), node, dst, message) for t, node, dst, message, _ in sends(result)] == [
        (0.0, "alice", "p", "INVITE"), (0.01, "p", "bob", "INVITE"),
        (0.02, "bob", "p", "486 Busy Here"), (0.03, "p", "alice", "486 Busy Here"),
        (0.04, "alice", "p", "ACK"), (0.05, "p", "bob", "ACK")]
    assert [e.detail.split(": ", 1)[1] for e in result.trace if e.event == "state" and e.node == "bob"
            and e.detail.startswith("INVITE server")] == [
        "Proceeding -> Completed", "Completed -> Confirmed", "Confirmed -> Terminated"]


def test_register_waits_for_the_last_ones_final_response_rfc3261_10_2() -> None:
    """RFC 3261 §10.2: "UAs MUST NOT send a new registration ... until they have received a final response
    from the registrar for the previous one or the previous REGISTER request has timed out."

    The second ``register`` (at 5 ms) goes out when the first one's final response arrives (40 ms;
    after the credentialed re-send's 200 at 80 ms when challenged), with the same Call-ID and the next
    CSeq (§10.2), and the last challenge answered at once (§22.3). Before, it went out at 5 ms."""
    from simsip.scenario import load_text

    head = ("ua bob host client.biloxi.example.com domain biloxi.example.com credentials bob:zanzibar\n"
            "proxy registrar stateful registrar host ss2.biloxi.example.com domain biloxi.example.com{auth}\n"
            "link bob <-> registrar delay 20ms\nregister bob at 0s\n"
            "register bob at 5ms contact sip:bob@mobile.biloxi.example.com\n")
    for auth, expected in (
            ("", [(0.0, "1 REGISTER", False), (0.04, "2 REGISTER", False)]),
            (" auth realm biloxi.example.com users bob:zanzibar",
             [(0.0, "1 REGISTER", False), (0.04, "2 REGISTER", True), (0.08, "3 REGISTER", True)])):
        result = engine.run(load_text(head.format(auth=auth), "reg.sip", "sip"), trace="full")
        registers = [e for e in result.trace if e.event == "send" and e.node == "bob"]
        assert [(round(e.t, 6), e.cseq, e.msg.headers.get("Authorization") is not None)
                for e in registers] == expected
        assert len({e.call_id for e in registers}) == 1
        assert registers[-1].msg.headers.get_all("Contact") == ["sip:bob@mobile.biloxi.example.com"]
        assert [e.message for e in result.trace if e.event == "send" and e.node == "registrar"][-2:] == [
            "200 OK", "200 OK"]


def test_register_after_a_timed_out_one_rfc3261_10_2() -> None:
    """RFC 3261 §10.2: the waiting REGISTER goes out when the previous one "has timed out" (Timer F, 64*T1)."""
    from simsip.scenario import load_text

    text = ("ua bob host client.biloxi.example.com domain biloxi.example.com\n"
            "proxy registrar stateful registrar host ss2.biloxi.example.com domain biloxi.example.com\n"
            "link bob <-> registrar delay 20ms\nat 0s link bob <-> registrar down for 40s\n"
            "register bob at 0s\nregister bob at 1s contact sip:bob@mobile.biloxi.example.com\n")
    result = engine.run(load_text(text, "reg.sip", "sip"), trace="full")
    firsts = [(round(e.t, 6), e.cseq) for e in result.trace
              if e.event == "send" and e.node == "bob" and e.retransmission == 0]
    assert firsts == [(0.0, "1 REGISTER"), (32.0, "2 REGISTER")]
