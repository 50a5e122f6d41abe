"""The model's helpers, units, params and source positions."""

from __future__ import annotations

import math
import random

import pytest

from simsip.scenario import ScenarioError, load_text
from simsip.scenario import model as m

DIRECT = """scenario "d"
param delay = 50ms
param loss = 0%
param n = 3
param burst = 2.5
ua alice
ua bob
link alice <-> bob delay $delay loss $loss
calls alice -> bob every 1s count $n
on bob INVITE:
    send 200
"""


def sip(text: str, params: dict[str, object] | None = None) -> m.Scenario:
    """Load .sip text."""
    return load_text(text, "t.sip", "sip", params)


def test_units_are_seconds_fractions_and_per_second() -> None:
    """50ms is 0.05 s exactly, 10% is 0.1, 600/min is 10/s, 64kbps is 64000 bit/s, 2min is 120 s."""
    s = sip('ua a\nua b\nlink a <-> b delay 50ms jitter 2min loss 10% bandwidth 64kbps\n'
            'calls a -> b poisson 600/min for 1h\n')
    link = s.links[0]
    assert (link.delay, link.jitter, link.loss, link.bandwidth) == (m.Constant(0.05), 120.0, m.Bernoulli(0.1), 64000.0)
    assert (s.streams[0].rate, s.streams[0].duration) == (10.0, 3600.0)


def test_params_resolve_and_remember_their_names() -> None:
    """$param values are resolved; refs say which field came from which param."""
    s = sip(DIRECT)
    link = s.links[0]
    assert link.delay == m.Constant(0.05, refs=(("value", "delay"),))
    assert link.delay.ref("value") == "delay" and link.ref("jitter") is None
    assert s.streams[0].count == 3 and s.streams[0].ref("count") == "n"
    assert [(p.name, p.kind, p.default, p.value, p.text) for p in s.params] == [
        ("delay", m.ParamKind.DURATION, 0.05, 0.05, "50ms"),
        ("loss", m.ParamKind.PERCENT, 0.0, 0.0, "0%"),
        ("n", m.ParamKind.INTEGER, 3, 3, "3"),
        ("burst", m.ParamKind.NUMBER, 2.5, 2.5, "2.5"),
    ]


@pytest.mark.parametrize(("overrides", "delay", "loss", "count"), [
    ({"delay": "300ms", "loss": "20%"}, 0.3, 0.2, 3),
    ({"delay": "1.5s", "n": "7"}, 1.5, 0.0, 7),
    ({"delay": 0.25, "loss": 0.05, "n": 2}, 0.25, 0.05, 2),
])
def test_overrides(overrides: dict[str, object], delay: float, loss: float, count: int) -> None:
    """Overrides are parsed by the declared type (strings) or taken in model units (numbers)."""
    s = sip(DIRECT, overrides)
    assert s.links[0].delay.mean == delay
    assert s.links[0].loss == m.Bernoulli(loss, refs=(("p", "loss"),))
    assert s.streams[0].count == count
    assert s.param("delay").default == 0.05


@pytest.mark.parametrize(("overrides", "message"), [
    ({"delay": "20%"}, "t.sip: --param delay=20%: `delay` is a duration (default 50ms), not a percentage"),
    ({"loss": "5"}, "t.sip: --param loss=5: `loss` is a percentage (default 0%), not a whole number"),
    ({"loss": "150%"}, "t.sip: --param loss=150%: `loss` must be between 0% and 100%"),
    ({"delay": "-5ms"}, "t.sip: --param delay=-5ms: `delay` cannot be negative"),
    ({"n": "2.5"}, "t.sip: --param n=2.5: `n` is a whole number (default 3), not a number"),
    ({"delay": "fast"}, "t.sip: --param delay=fast: `delay` is a duration (50ms, 2s), not `fast`"),
    ({"loss": "５%"}, "t.sip: --param loss=５%: `loss` is a percentage (10%), not `５%`"),  # ASCII digits only
    ({"dealy": "1s"}, "t.sip: --param dealy: the scenario has no param `dealy`; did you mean `delay`?"),
])
def test_bad_overrides(overrides: dict[str, object], message: str) -> None:
    """An override of the wrong type, out of range or for no param is an error."""
    with pytest.raises(ScenarioError) as info:
        sip(DIRECT, overrides)
    assert info.value.messages == [message]


def test_spans_point_at_the_source_and_do_not_affect_equality() -> None:
    """Items carry file:line:col; two loads from different places compare equal."""
    s = sip(DIRECT)
    assert str(s.links[0].span) == "t.sip:8:1"
    assert str(s.handlers[0].span) == "t.sip:10:1"
    assert str(s.handlers[0].actions[0].span) == "t.sip:11:5"
    assert str(s.node("bob").span) == "t.sip:7:1"
    shifted = load_text("\n\n# moved\n" + DIRECT, "other.sip", "sip")
    assert shifted == s and hash(shifted) == hash(s)
    assert shifted.links[0].span.line == 11


def test_yaml_spans() -> None:
    """YAML items point at their keys and scalars."""
    s = load_text("nodes:\n  - ua: a\n  - ua: b\nlinks:\n  - link: a <-> b\n    delay: 5ms\n", "t.yaml", "yaml")
    assert str(s.node("b").span) == "t.yaml:3:5"
    assert str(s.links[0].span) == "t.yaml:5:5"
    assert str(s.links[0].delay.span) == "t.yaml:6:12"


def test_node_defaults_follow_the_routing_contract() -> None:
    """Host defaults to the name, the AOR domain to the host (TEAM.md)."""
    s = sip('ua alice\nua bob host pc33.biloxi.example.com\nua carol domain chicago.example.com\n'
            'proxy p stateful\nlink alice <-> p\nlink bob <-> p\nlink carol <-> p\n')
    alice, bob, carol = s.user_agents
    assert (alice.host_name, alice.aor) == ("alice", "sip:alice@alice")
    assert bob.aor == "sip:bob@pc33.biloxi.example.com"
    assert carol.aor == "sip:carol@chicago.example.com"
    assert s.proxies[0].mode is m.ProxyMode.STATEFUL and s.proxies[0].timeout_code == 408


def test_longest_time_is_the_largest_delta_seconds() -> None:
    """Up to 2**32-1 s (RFC 3261 §20.19 delta-seconds) is a time; one second more is an error."""
    assert sip("ua a\nstop at 4294967295s\n").limits.stop_at == 4294967295.0
    with pytest.raises(ScenarioError) as info:
        sip("ua a\nstop at 4294967296s\n")
    assert info.value.messages == ["t.sip:2:9: stop at must be at most 4294967295s (about 136 years), "
                                   "not `4294967296s`"]


def test_ip_address_hosts_need_no_quotes() -> None:
    """`host 192.0.2.10` as written in a lab plan: an IPv4 host (RFC 3261 §25.1) in both surfaces,
    the node's URIs and Vias carry it, and the INVITE goes to the callee's address."""
    import simsip

    text = ("ua alice host 192.0.2.10\nua bob host 192.0.2.20\nproxy edge stateful domain 192.0.2.1, 3com.example\n"
            "link alice <-> bob delay 10ms\non bob INVITE: send 200\non alice 200: hangup\ncall alice -> bob\n")
    s = sip(text)
    yaml = load_text("nodes:\n  - ua: alice\n    host: 192.0.2.10\n  - ua: bob\n    host: 192.0.2.20\n",
                     "t.yaml", "yaml")
    assert [(ua.host_name, ua.aor) for ua in s.user_agents] == [
        ("192.0.2.10", "sip:alice@192.0.2.10"), ("192.0.2.20", "sip:bob@192.0.2.20")]
    assert [(ua.host_name, ua.aor) for ua in yaml.user_agents] == [(ua.host_name, ua.aor) for ua in s.user_agents]
    assert s.proxies[0].domains == ("192.0.2.1", "3com.example")
    invite = next(e.msg for e in simsip.run(s, trace="full").trace if e.event == "send")
    assert str(invite.uri) == "sip:bob@192.0.2.20"
    assert str(invite.top_via).startswith("SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK")
    assert [str(c) for c in invite.contacts] == ["<sip:alice@192.0.2.10>"]


def test_event_and_pattern_matching() -> None:
    """Code classes match by digit; message patterns tell requests from responses."""
    event = m.Event(m.EventKind.RESPONSE_CLASS, method="INVITE", code_class="18x")
    assert [event.matches_code(c) for c in (180, 183, 189, 190, 200)] == [True, True, True, False, False]
    assert m.Event(m.EventKind.RESPONSE_CLASS, code_class="2xx").matches_code(202)
    assert m.Event(m.EventKind.RESPONSE, code=180).matches_code(180)
    assert not m.Event(m.EventKind.REQUEST, method="INVITE").matches_code(180)
    ack = m.MessagePattern(method="ACK")
    assert ack.matches("ACK", None) and not ack.matches("BYE", None) and not ack.matches(None, 200)
    assert m.MessagePattern(code_class="1xx").matches(None, 183)
    assert not m.MessagePattern(code=180).matches("INVITE", None)


def test_comparison_and_timers() -> None:
    """Comparisons apply their operator; Timers give a TimerConfig."""
    assert m.Comparison.LE.holds(3, 3) and not m.Comparison.LT.holds(3, 3)
    assert m.Comparison.NE.holds("a", "b")
    timers = sip("timers T1=250ms\nua a\n").timers
    assert timers.config().t1 == 0.25
    assert (timers.t1, timers.t2, timers.t4) == (0.25, 4.0, 5.0)


def test_lognormal_mean_and_sd_are_kept() -> None:
    """lognormal(mean, sd) gives mu/sigma whose draws have that mean."""
    d = m.LogNormal(0.04, 0.01)
    mu, sigma = d.mu_sigma()
    assert math.isclose(math.exp(mu + sigma ** 2 / 2), 0.04)
    assert math.isclose(math.sqrt((math.exp(sigma ** 2) - 1) * math.exp(2 * mu + sigma ** 2)), 0.01)
    rng = random.Random(1)
    draws = [rng.lognormvariate(mu, sigma) for _ in range(20000)]
    assert abs(sum(draws) / len(draws) - 0.04) < 0.0005


def test_gilbert_forms_are_equivalent() -> None:
    """gilbert(rate, burst) stores the same p and r as the matching gilbert(p, r)."""
    a = sip("ua a\nua b\nlink a <-> b loss gilbert(rate=20%, burst=4)\n").links[0].loss
    b = sip("ua a\nua b\nlink a <-> b loss gilbert(p=6.25%, r=25%)\n").links[0].loss
    assert isinstance(a, m.GilbertElliott) and isinstance(b, m.GilbertElliott)
    assert (a.r, a.rate, a.burst, a.form) == (0.25, 0.2, 4.0, m.GilbertForm.RATE_BURST)
    assert math.isclose(a.p, b.p) and math.isclose(b.rate, 0.2) and b.form is m.GilbertForm.PR


def test_expect_values_are_in_the_measure_unit() -> None:
    """*_ms measures compare in ms; outcome and share are typed."""
    s = sip("ua a\nua b\nlink a <-> b\ncall a -> b\nexpect final_ms < 4s\nexpect pdd_ms <= 250\n"
            "expect share answered >= 95%\n")
    assert [(e.measure, e.comparison, e.value) for e in s.expectations[:2]] == [
        ("final_ms", m.Comparison.LT, 4000.0), ("pdd_ms", m.Comparison.LE, 250.0)]
    share = s.expectations[2]
    assert (share.statistic, share.value, share.share) == (m.Statistic.SHARE, m.Outcome.ANSWERED, 0.95)
    assert set(m.MEASURES) >= {"final_ms", "pdd_ms", "outcome", "final_code", "prack_count", "messages_lost"}


def test_to_json_leaves_spans_out() -> None:
    """The JSON view names each class and omits positions."""
    view = m.to_json(sip(DIRECT).links[0])
    assert view["type"] == "Link" and "span" not in view
    assert view["delay"] == {"type": "Constant", "refs": {"value": "delay"}, "value": 0.05}
