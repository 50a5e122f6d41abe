"""Agents: timers by token, registrar and location, node crash, shipped scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest
import simpy

import simsip
from simsip.agents.base import Agent, Describer
from simsip.metrics import make_sink
from simsip.net import Network
from simsip.sip.events import CancelTimer, StartTimer

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("**/*.sip")) + sorted((ROOT / "scenarios").glob("**/*.yaml"))


class ScriptedCore:
    """A core that arms/cancels timers on command and records firings."""

    def __init__(self) -> None:
        self.fired: list[tuple[float, str]] = []

    def receive(self, now, message, source):  # pragma: no cover - not used
        return []

    def timer_fired(self, now: float, name: str) -> list:
        self.fired.append((now, name))
        return []


def agent_with_core() -> tuple[simpy.Environment, Agent, ScriptedCore]:
    env = simpy.Environment()
    agent = Agent("a", "a", env, Network(env), {"a": "a"}, make_sink("off"), Describer())
    core = ScriptedCore()
    agent.core = core
    return env, agent, core


def test_cancelled_timer_never_fires() -> None:
    env, agent, core = agent_with_core()
    agent.execute([StartTimer("tx/A", 0.5, "A"), StartTimer("tx/B", 32.0, "B")])
    env.timeout(0.2).callbacks.append(lambda e: agent.execute([CancelTimer("tx/A")]))
    env.run()
    assert core.fired == [(32.0, "tx/B")]


def test_rearmed_timer_fires_once_at_new_time() -> None:
    """A StartTimer with a pending name replaces it: the old token is stale."""
    env, agent, core = agent_with_core()
    agent.execute([StartTimer("2xx", 0.5, "2xx")])
    env.timeout(0.3).callbacks.append(lambda e: agent.execute([StartTimer("2xx", 1.0, "2xx")]))
    env.run()
    assert core.fired == [(1.3, "2xx")]


def test_crash_forgets_pending_timers() -> None:
    env, agent, core = agent_with_core()
    agent.core_factory = lambda: core
    agent.execute([StartTimer("x", 1.0, "B")])
    env.timeout(0.5).callbacks.append(lambda e: agent.crash())
    env.timeout(0.7).callbacks.append(lambda e: agent.restart())
    env.run()
    assert core.fired == []


REGISTER_THEN_CALL = """
scenario "register then call"
ua alice domain atlanta.example.com outbound proxy
proxy proxy stateful registrar domain biloxi.example.com
ua bob domain biloxi.example.com
link alice <-> proxy delay 10ms
link proxy <-> bob delay 20ms
on bob INVITE:
    send 200
register bob at 0s
call alice -> bob at 1s
expect outcome answered
"""


def test_register_binds_and_proxy_routes_to_the_binding() -> None:
    """RFC 3665 §2.1 then §3.2-style: REGISTER 200, then the INVITE follows the binding."""
    result = simsip.run(simsip.load(REGISTER_THEN_CALL), trace="full")
    flow = [(round(e.t, 6), e.node, e.dst, e.message) for e in result.trace if e.event == "send"]
    assert flow[:5] == [
        (0.0, "bob", "proxy", "REGISTER"),
        (0.02, "proxy", "bob", "200 OK"),
        (1.0, "alice", "proxy", "INVITE"),
        (1.01, "proxy", "alice", "100 Trying"),
        (1.01, "proxy", "bob", "INVITE"),
    ]
    assert result.ok
    [call] = [c for c in result.calls]
    assert call["final_ms"] == 60.0


def test_unregistered_callee_is_not_found() -> None:
    text = REGISTER_THEN_CALL.replace("register bob at 0s\n", "").replace(
        "expect outcome answered", "expect outcome rejected")
    result = simsip.run(simsip.load(text))
    [call] = list(result.calls)
    assert call["final_code"] in (404, 480) and result.ok


STALE_AFTER_RESTART = """
scenario "registrar restarts between two registrations"
ua alice domain example.com credentials alice:secret
proxy reg registrar domain example.com auth realm example.com users alice:secret
link alice <-> reg delay 10ms
register alice at 0s via reg
at 10s node reg crash for 5s
register alice at 30s via reg
"""


def test_reregister_after_registrar_restart_answers_the_stale_challenge_rfc2617_3_2_1() -> None:
    """RFC 2617 §3.2.1 / RFC 3261 §22.4: the restarted registrar knows no nonce from before, so alice's
    cached credentials get 401 stale=TRUE; her retry carries the new nonce's credentials only, and binds."""
    result = simsip.run(simsip.load(STALE_AFTER_RESTART), trace="full")
    flow = [(round(e.t, 6), e.node, e.message, e.cseq) for e in result.trace if e.event == "send" and e.t >= 30]
    assert flow == [(30.0, "alice", "REGISTER", "3 REGISTER"), (30.01, "reg", "401 Unauthorized", "3 REGISTER"),
                    (30.02, "alice", "REGISTER", "4 REGISTER"), (30.03, "reg", "200 OK", "4 REGISTER")]
    [cached, last] = [e.msg.headers.get_all("Authorization") for e in result.trace
                      if e.event == "send" and e.node == "alice" and e.cseq in ("3 REGISTER", "4 REGISTER")]
    [refused], [fresh] = cached, last
    assert "nc=00000002" in refused and "nc=00000001" in fresh
    assert refused.split("nonce=")[1][:34] != fresh.split("nonce=")[1][:34]


CRASH = """
scenario "bob crashes"
ua alice
ua bob
link alice <-> bob delay 50ms
on bob INVITE:
    send 200
at 0s node bob crash for 2s
call alice -> bob at 0s
"""


def test_node_crash_drops_until_restart() -> None:
    """INVITEs at 0, 0.5, 1.5 s reach a crashed bob; the 3.5 s one is answered."""
    result = simsip.run(simsip.load(CRASH), trace="full")
    drops = [(round(e.t, 6), e.detail) for e in result.trace if e.event == "drop"]
    assert drops == [(0.05, "node down"), (0.55, "node down"), (1.55, "node down")]
    [call] = list(result.calls)
    assert call["invite_retransmissions"] == 3 and call["final_ms"] == 3600.0


def test_gilbert_elliott_link_is_reproducible_and_lossy() -> None:
    text = CRASH.replace("at 0s node bob crash for 2s\n", "").replace(
        "delay 50ms", "delay 50ms loss gilbert(rate=20%, burst=3)")
    a = simsip.run(simsip.load(text), runs=50, seed=4)
    b = simsip.run(simsip.load(text), runs=50, seed=4)
    assert list(a.calls) == list(b.calls)
    assert sum(a.calls.column("messages_lost")) > 0


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_scenario_runs_clean(path: Path) -> None:
    """Issue 5 must-show: every shipped scenario runs and its expectations hold."""
    result = simsip.run(simsip.load(path))
    assert result.expectations, "a shipped scenario states its expectations"
    failed = [e for e in result.expectations if not e["held"]]
    assert not failed, failed


def test_drop_fault_drops_without_a_link_and_says_why() -> None:
    text = CRASH.replace("at 0s node bob crash for 2s\n", "drop INVITE alice -> bob count 2\n")
    result = simsip.run(simsip.load(text), trace="full")
    drops = [(round(e.t, 6), e.link, e.detail, e.retransmission)
             for e in result.trace if e.event == "drop"]
    assert drops == [(0.0, None, "drop fault", 0), (0.5, None, "drop fault", 1)]
    [call] = list(result.calls)
    assert call["invite_retransmissions"] == 2 and call["messages_lost"] == 2


def test_one_way_link_carries_nothing_back() -> None:
    """``link alice -> bob`` alone: bob's answers have no route back; alice times out.

    (The loader refuses such a call; the engine still has to behave if given one.)
    """
    import dataclasses

    scenario = simsip.load(CRASH.replace("at 0s node bob crash for 2s\n", ""))
    one_way = dataclasses.replace(scenario.links[0], bidirectional=False)
    result = simsip.run(dataclasses.replace(scenario, links=(one_way,)), trace="full")
    details = {e.detail for e in result.trace if e.event == "drop"}
    assert details == {"no route"}
    [call] = list(result.calls)
    assert call["outcome"] == "timeout"


def test_b2bua_alg_joins_two_legs_rfc3665_3_5() -> None:
    """RFC 3665 §3.5: alice -> ALG -> proxy2 -> bob; two dialogs, ACK and BYE relayed by the ALG to bob."""
    result = simsip.run(simsip.load(ROOT / "scenarios" / "rfc3665" / "s3_5_alg.sip"), trace="full")
    legs = {e.call_id for e in result.trace if e.event == "send"}
    assert len(legs) == 2
    flow = [(round(e.t, 6), e.node, e.dst, e.message) for e in result.trace if e.event == "send"]
    assert flow == [
        (0.0, "alice", "alg", "INVITE"), (0.02, "alg", "proxy2", "INVITE"),
        (0.04, "proxy2", "alg", "100 Trying"), (0.04, "proxy2", "bob", "INVITE"),
        (0.06, "bob", "proxy2", "180 Ringing"), (0.08, "proxy2", "alg", "180 Ringing"),
        (0.1, "alg", "alice", "180 Ringing"), (1.06, "bob", "proxy2", "200 OK"),
        (1.08, "proxy2", "alg", "200 OK"), (1.1, "alg", "alice", "200 OK"),
        (1.12, "alice", "alg", "ACK"), (1.14, "alg", "bob", "ACK"),
        (6.12, "alice", "alg", "BYE"), (6.14, "alg", "bob", "BYE"),
        (6.16, "bob", "alg", "200 OK"), (6.18, "alg", "alice", "200 OK"),
    ]
    # The ALG anchors media: alice's 200 carries the ALG's address, not bob's.
    ok = next(e.msg for e in result.trace if e.event == "recv" and e.node == "alice"
              and e.message == "200 OK")
    assert b"alg1.atlanta.example.com" in ok.body and b"client.biloxi" not in ok.body
    assert set(result.calls.column("outcome")) == {"answered"}


def _alg(extra: str) -> str:
    """The RFC 3665 §3.5 scenario text with ``extra`` statements appended."""
    return (ROOT / "scenarios" / "rfc3665" / "s3_5_alg.sip").read_text() + extra


def test_b2bua_acks_on_its_own_when_the_peer_ack_never_comes_rfc3261_13_3_1_4() -> None:
    """RFC 3261 §13.3.1.4: alice's ACK lost, the ALG still ACKs bob's 2xx 32*T1 after it, inside bob's 64*T1."""
    text = _alg("drop all ACK alice -> alg\n").replace("on alice 200:\n    wait $talk_time\n    hangup\n", "")
    result = simsip.run(simsip.load(text), trace="full")
    sends = [(round(e.t, 6), e.node, e.dst, e.message, e.retransmission) for e in result.trace
             if e.event == "send" and e.message == "ACK"]
    # bob's 200 reaches the ALG at 1.10 s; ack-hold = 32*T1 = 16 s; bob's 64*T1 ends at 33.06 s.
    assert [s for s in sends if s[1] == "alg"] == [(17.1, "alg", "bob", "ACK", 0)]
    # Meanwhile bob retransmits his 200 (T1, 2T1, 4T1, T2...): the ALG absorbs them without an ACK.
    bob_ok = [round(e.t, 6) for e in result.trace if e.event == "send" and e.node == "bob"
              and e.message == "200 OK" and e.cseq == "1 INVITE"]
    assert bob_ok == [1.06, 1.56, 2.56, 4.56, 8.56, 12.56, 16.56]
    # The ALG's own 2xx to alice is retransmitted until its 64*T1 ack-wait, then the ALG ends both legs.
    alg_ok = [e for e in result.trace if e.event == "send" and e.node == "alg" and e.dst == "alice"
              and e.message == "200 OK" and e.cseq == "1 INVITE"]
    assert [e.retransmission for e in alg_ok] == list(range(11))
    timers = [(round(e.t, 6), e.node, e.timer) for e in result.trace if e.event == "timer"
              and e.timer in ("ack-hold", "ack-wait")]
    assert timers == [(17.1, "alg", "ack-hold"), (33.1, "alg", "ack-wait")]  # bob's ack-wait never fires
    byes = [(round(e.t, 6), e.node, e.dst) for e in result.trace if e.event == "send" and e.message == "BYE"]
    assert byes == [(33.1, "alg", "alice"), (33.14, "alg", "bob")]


def test_b2bua_bye_from_callee_is_relayed_rfc3665_3_5() -> None:
    """RFC 3665 §3.5 relay the other way: bob's BYE goes bob -> ALG -> alice, alice's 200 comes back."""
    text = _alg("").replace("on alice 200:\n    wait $talk_time\n    hangup\n",
                            "on bob ACK:\n    wait $talk_time\n    hangup\n")
    result = simsip.run(simsip.load(text), trace="full")
    flow = [(round(e.t, 6), e.node, e.dst, e.message) for e in result.trace
            if e.event == "send" and e.t > 2]
    # bob got the relayed ACK at 1.16 s.
    assert flow == [(6.16, "bob", "alg", "BYE"), (6.18, "alg", "alice", "BYE"),
                    (6.2, "alice", "alg", "200 OK"), (6.22, "alg", "bob", "200 OK")]


def test_b2bua_held_bye_gets_100_trying_when_alices_timer_e_reaches_t2_rfc4320_4_1() -> None:
    """RFC 4320 §4.1: the ALG holds alice's BYE for bob's answer (RFC 3665 §3.5 F14-F17); bob is unreachable,
    so at 3.5 s (alice's Timer E reset to T2) the ALG sends 100 Trying, resent for each retransmission."""
    result = simsip.run(simsip.load(_alg("at 6s link alg <-> bob down\n")), trace="full")
    to_alice = [(round(e.t, 6), e.message, e.retransmission) for e in result.trace
                if e.event == "send" and e.node == "alg" and e.dst == "alice" and e.cseq == "2 BYE"]
    # alice's BYE reaches the ALG at 6.14 s; her retransmissions (6.62, 7.62, 9.62, 13.62, ...) arrive 20 ms later.
    assert to_alice[:4] == [(9.64, "100 Trying", 0), (9.64, "100 Trying", 1), (13.64, "100 Trying", 2),
                            (17.64, "100 Trying", 3)]
    # The ALG answers 200 when its BYE to bob times out (Timer F, 32 s after 6.14 s).
    assert to_alice[-1][:2] == (38.14, "200 OK")
    assert {m for _, m, _ in to_alice[:-1]} == {"100 Trying"}


B2BUA_REDIRECT = """
scenario "B2BUA leg B redirected"
ua       alice outbound alg
b2bua    alg
redirect redirect domain biloxi.example.com
ua       desk   host desk.biloxi.example.com
ua       mobile host mobile.biloxi.example.com
location sip:bob@biloxi.example.com -> desk, mobile
link alice <-> alg      delay 20ms
link alg   <-> redirect delay 20ms
link alg   <-> desk     delay 20ms
link alg   <-> mobile   delay 20ms
on desk INVITE:
    send 486
on mobile INVITE:
    send 180
    wait 1s
    send 200
call alice -> sip:bob@biloxi.example.com at 0s
"""


def test_b2bua_does_not_relay_the_3xx_and_486_its_leg_b_recurses_on_rfc3261_8_1_3_4() -> None:
    """RFC 3261 §8.1.3.4: leg B (a UAC) recurses on the 302 and moves past the desk's 486 "to the next address";
    neither is leg B's final, so alice gets none of them, only mobile's 180 and 200."""
    result = simsip.run(simsip.load(B2BUA_REDIRECT), trace="full")
    flow = [(round(e.t, 6), e.node, e.dst, e.message) for e in result.trace if e.event == "send"
            and "alice" in (e.node, e.dst) and e.message != "100 Trying"]
    assert flow == [(0.0, "alice", "alg", "INVITE"), (0.14, "alg", "alice", "180 Ringing"),
                    (1.14, "alg", "alice", "200 OK"), (1.16, "alice", "alg", "ACK")]
    [call] = [c for c in result.calls if c["call_id"].endswith("@alice")]
    assert (call["outcome"], call["final_code"]) == ("answered", 200)


def _b2bua_call(behaviours: str, alg: str = "", bob: str = "") -> str:
    """alice -> alg (B2BUA) -> bob (node options ``alg``, ``bob``), 20 ms a hop, one call at 0 s, ``behaviours``."""
    return (f"scenario \"B2BUA call\"\nua alice outbound alg\nb2bua alg {alg}\nua bob {bob}\n"
            "link alice <-> alg delay 20ms\nlink alg <-> bob delay 20ms\n"
            + behaviours + "call alice -> bob at 0s\n")


def test_b2bua_cancel_after_leg_a_answered_leaves_both_legs_up_rfc3261_9_2() -> None:
    """RFC 3261 §9.2: "If the UAS has already sent a final response for the original request, the CANCEL
    has no effect": alice's CANCEL crosses the relayed 200, so alice ACKs and BYEs, and the ALG relays that BYE."""
    text = _b2bua_call("on bob INVITE:\n    send 180\n    wait 40ms\n    send 200\n"
                       "on alice 180:\n    cancel\n")
    result = simsip.run(simsip.load(text), trace="full")
    flow = [(round(e.t, 6), e.node, e.dst, e.message) for e in result.trace if e.event == "send" and e.t > 0.07]
    assert flow == [
        (0.08, "bob", "alg", "200 OK"), (0.08, "alice", "alg", "CANCEL"),
        (0.1, "alg", "alice", "200 OK"), (0.1, "alg", "alice", "200 OK"),  # the 2xx, then the CANCEL's 200
        (0.12, "alice", "alg", "ACK"), (0.12, "alice", "alg", "BYE"),
        (0.14, "alg", "bob", "ACK"), (0.14, "alg", "bob", "BYE"),
        (0.16, "bob", "alg", "200 OK"), (0.18, "alg", "alice", "200 OK"),
    ]
    assert [e.detail for e in result.trace if e.event == "app" and e.detail.startswith("app-error")] == []


@pytest.mark.parametrize("code, reason", [(486, "Busy Here"), (503, "Service Unavailable"), (603, "Decline")])
def test_b2bua_relays_leg_b_failure_without_an_app_error_rfc3261_13_2_2_3(code: int, reason: str) -> None:
    """RFC 3261 §13.2.2.3: leg B's 4xx-6xx is ACKed by its transaction and ends leg B, and the ALG answers leg A
    the same code; it no longer also asks the ended leg B to hang up ("app-error no call to hang up")."""
    result = simsip.run(simsip.load(_b2bua_call(f"on bob INVITE:\n    send {code}\n")), trace="full")
    flow = [(round(e.t, 6), e.node, e.dst, e.message) for e in result.trace if e.event == "send"]
    assert flow == [(0.0, "alice", "alg", "INVITE"), (0.02, "alg", "bob", "INVITE"),
                    (0.04, "bob", "alg", f"{code} {reason}"), (0.06, "alg", "bob", "ACK"),
                    (0.06, "alg", "alice", f"{code} {reason}"), (0.08, "alice", "alg", "ACK")]
    assert [e.detail for e in result.trace if e.event == "app" and e.detail.startswith("app-error")] == []


def test_b2bua_without_sdp_rewrite_answers_leg_a_with_bobs_early_answer_rfc3261_13_2_1() -> None:
    """RFC 3261 §13.2.1 ("That same exact answer MAY also be placed in any provisional responses sent prior to
    the answer"): bob answers in a reliable 183, relayed unreliably to alice (no 100rel); alice's 200 must
    carry that answer, bob's SDP passed through, not an SDP of the ALG's own."""
    text = _b2bua_call("on bob INVITE:\n    send 183 reliable sdp\n    wait 1s\n    send 200\n",
                       alg="no-rewrite-sdp", bob="supports 100rel")
    result = simsip.run(simsip.load(text), trace="full")
    sent = {(e.node, e.dst, e.message): e.msg for e in result.trace if e.event == "send"}
    early = sent["bob", "alg", "183 Session Progress"]
    assert early.headers.get("RSeq") is not None and b"o=bob 1 1 IN IP4 bob" in early.body
    assert sent["bob", "alg", "200 OK"].body == b""  # the answer went reliably on leg B (RFC 3262 §5)
    assert sent["alg", "alice", "183 Session Progress"].headers.get("RSeq") is None
    assert sent["alg", "alice", "200 OK"].body == early.body


B2BUA_FAILOVER = """
scenario "B2BUA leg B fails over"
ua    alice outbound alg
b2bua alg outbound p1, p2
proxy p1 stateful
proxy p2 stateful
ua    bob
link alice <-> alg delay 20ms
link alg   <-> p1  delay 20ms
link alg   <-> p2  delay 20ms
link p1    <-> bob delay 20ms
link p2    <-> bob delay 20ms
link alg   <-> bob delay 20ms
at 0s node p1 crash
on bob INVITE:
    send 180
    wait 1s
    send 200
call alice -> bob at 0s
"""


def test_b2bua_leg_b_timer_b_failover_is_not_relayed_as_408_rfc3263_4_3() -> None:
    """RFC 3263 §4.3: Timer B with no response is a failure after which the client "SHOULD create a new request
    ... sent to the next element": leg B tries p2, so alice gets no 408 but bob's 180 and 200 through p2."""
    result = simsip.run(simsip.load(B2BUA_FAILOVER), trace="full")
    to_alice = [(round(e.t, 6), e.message) for e in result.trace if e.event == "send" and e.dst == "alice"]
    assert to_alice == [(0.22, "100 Trying"), (32.1, "180 Ringing"), (33.1, "200 OK")]
    [call] = [c for c in result.calls if c["call_id"].endswith("@alice")]
    assert (call["outcome"], call["final_code"]) == ("answered", 200)


def test_b2bua_relays_a_420_with_its_unsupported_header_rfc3261_8_2_2_3() -> None:
    """RFC 3261 §8.2.2.3: a 420 "MUST include an Unsupported header field listing those options it does not
    understand"; the ALG carries alice's Require: 100rel to bob, who lacks it, and relays his 420 with it."""
    text = _b2bua_call("on bob INVITE:\n    send 200\n").replace("at 0s\n", "at 0s require 100rel\n")
    result = simsip.run(simsip.load(text), trace="full")
    [relayed] = [e.msg for e in result.trace if e.event == "send" and e.dst == "alice" and e.message[0] == "4"]
    assert (relayed.status, relayed.headers.get_all("Unsupported")) == (420, ["100rel"])


def test_user_agents_answer_every_non_invite_at_once_but_a_b2buas_held_bye() -> None:
    """Why a UA's layer arms no RFC 4320 §4.1 timer: in every shipped scenario each non-INVITE a UA,
    B2BUA or redirect server receives is answered in the same step, except the BYE a B2BUA holds."""
    from simsip.scenario.model import NodeKind

    held = []
    for path in sorted((ROOT / "scenarios").rglob("*.sip")):
        scenario = simsip.load(path)
        kinds = {n.name: n.kind for n in scenario.nodes}
        result = simsip.run(scenario, seed=1, trace="full")
        answered = {(e.run, e.t, e.node, e.cseq) for e in result.trace
                    if e.event == "send" and e.message[0].isdigit()}
        for e in result.trace:
            if (e.event == "recv" and kinds[e.node] is not NodeKind.PROXY and not e.message[0].isdigit()
                    and e.message not in ("INVITE", "ACK") and (e.run, e.t, e.node, e.cseq) not in answered):
                held.append((path.name, e.node, kinds[e.node].value, e.message))
    assert held == [("s3_5_alg.sip", "alg", "b2bua", "BYE")]


FORGED = """
scenario "forged PRACK"
ua alice supports 100rel
ua bob supports 100rel
ua mallory
link alice <-> bob delay 50ms
link mallory <-> bob delay 10ms
drop all PRACK alice -> bob
on bob INVITE:
    send 180 reliable
    wait 5s
    send 200
call alice -> bob at 0s require 100rel
request PRACK mallory -> bob at 0.2s rack "1 1 INVITE"
"""


def test_forged_prack_uses_the_victims_early_dialog_rfc3262_9() -> None:
    """RFC 3262 §9: a PRACK forged into bob's early dialog with a guessed RAck gets 481."""
    result = simsip.run(simsip.load(FORGED), trace="full")
    forged = [e for e in result.trace if e.event == "send" and e.node == "mallory"]
    assert [(round(e.t, 6), e.dst, e.message, e.rack) for e in forged] == \
        [(0.2, "bob", "PRACK", "1 1 INVITE")]
    invite_call = next(e.call_id for e in result.trace if e.message == "INVITE")
    assert forged[0].call_id == invite_call
    answer = [(round(e.t, 6), e.message) for e in result.trace
              if e.event == "send" and e.node == "bob" and e.dst == "mallory"]
    assert answer == [(0.21, "481 Call/Transaction Does Not Exist")]
    # The guess did not match bob's RSeq: its 180 is still retransmitted.
    [call] = list(result.calls)
    assert call["reliable_1xx_retransmissions"] >= 3


SUPPORTED_PER_CALL = """
scenario "100rel offered by the call"
ua alice
ua bob supports 100rel
link alice <-> bob delay 50ms
on bob INVITE:
    send 180 reliable
    wait 1s
    send 200
call alice -> bob at 0s supported 100rel
calls alice -> bob every 10s at 5s count 1 supported 100rel
"""


def test_call_supported_100rel_offers_it_and_pracks_rfc3262_4() -> None:
    """RFC 3262 §4: `supported 100rel` on a call (and a call stream) puts Supported: 100rel (no Require) in
    that INVITE though alice's UA does not support it, and the reliable 180 it allows is PRACKed."""
    result = simsip.run(simsip.load(SUPPORTED_PER_CALL), trace="full")
    invites = [e.msg for e in result.trace if e.event == "send" and e.message == "INVITE"]
    assert [(i.supported, i.require) for i in invites] == [(["100rel"], [])] * 2
    flow = [(round(e.t, 6), e.node, e.message) for e in result.trace
            if e.event == "send" and e.message in ("180 Ringing", "PRACK")]
    assert flow == [(0.05, "bob", "180 Ringing"), (0.1, "alice", "PRACK"),
                    (5.05, "bob", "180 Ringing"), (5.1, "alice", "PRACK")]
