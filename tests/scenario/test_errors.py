"""A catalogue of broken scenarios and the exact messages they must produce.

Every message is ``file:line:col: message`` and says what is wrong in SIP
terms (issue 4 item 4); several problems in one file are all reported.
"""

from __future__ import annotations

import pytest

from simsip.scenario import ScenarioError, load_text

BASE = '''scenario "t"
param loss = 10%
param delay = 40ms
ua alice
proxy edge stateful
ua bob supports 100rel
link alice <-> edge delay 10ms
link edge <-> bob delay $delay loss $loss
on bob INVITE:
    send 180 reliable
    send 200
on alice 200:
    wait 1s
    hangup
call alice -> bob at 0s
expect outcome answered
'''
def sub(old: str, new: str) -> str:
    """BASE with one text replaced (the text must be there)."""
    assert old in BASE, old
    return BASE.replace(old, new, 1)
SIP_CASES = {
 "send_no_code": sub("    send 180 reliable", "    send reliable"),
 "send_code_range": sub("    send 180 reliable", "    send 99"),
 "send_code_high": sub("    send 200\n", "    send 700\n"),
 "reliable_100": sub("    send 180 reliable", "    send 100 reliable"),
 "reliable_200": sub("    send 200\n", "    send 200 reliable\n"),
 "unknown_node_handler": sub("on bob INVITE:", "on bbo INVITE:"),
 "unknown_node_link": sub("link edge <-> bob", "link edge <-> bobb"),
 "duplicate_node": sub("ua bob supports 100rel", "ua alice supports 100rel"),
 "no_route": sub("link edge <-> bob delay $delay loss $loss\n", "ua carol\nlink carol <-> bob\n"),
 "loss_range": sub("param loss = 10%", "param loss = 150%"),
 "loss_literal_range": sub("loss $loss", "loss 101%"),
 "loss_no_percent": sub("loss $loss", "loss 0.1"),
 "negative_duration": sub("    wait 1s", "    wait -1s"),
 "duration_no_unit": sub("delay 10ms", "delay 10"),
 # Only ASCII digits are numbers: Python's \d (and float()) would take a full-width ５.
 "fullwidth_digit": sub("delay 10ms", "delay １0ms"),
 "bad_time_unit": sub("delay 10ms", "delay 10sec"),
 "unknown_measure": sub("expect outcome answered", "expect final_time < 2s"),
 "unknown_outcome": sub("expect outcome answered", "expect outcome answerd"),
 "unknown_param": sub("delay $delay", "delay $dealy"),
 "param_wrong_kind": sub("delay $delay", "delay $loss"),
 "option_typo": sub("ua bob supports 100rel", "ua bob suports 100rel"),
 # A tag simsip would ignore is an error at the tag, and the node stays declared (no "unknown node" after).
 "unknown_option_tag": sub("ua bob supports 100rel", "ua bob host b.example.com supports 100rel, timer"),
 "unknown_call_tag": sub("call alice -> bob at 0s", "call alice -> bob at 0s require timer"),
 "link_arrow": sub("link alice <-> edge", "link alice - edge"),
 "missing_colon": sub("on alice 200:", "on alice 200"),
 "bad_indent": sub("    hangup", "  hangup"),
 "unexpected_indent": sub("ua alice", "  ua alice"),
 "unknown_method": sub("on bob INVITE:", "on bob INVTE:"),
 "unknown_event": sub("on alice 200:", "on alice answered:"),
 "send_in_response_handler": sub("    wait 1s\n    hangup", "    send 200"),
 "duplicate_handler": sub("on alice 200:", "on bob INVITE:"),
 "several": sub("ua bob supports 100rel", "ua bob supports 100rel\nua bob").replace("on alice 200:", "on carl 200:").replace("wait 1s", "wait -2s"),
 "call_no_arrow": sub("call alice -> bob", "call alice bob"),
 "unknown_distribution": sub("delay 10ms", "delay unifrom(1ms, 2ms)"),
 "stateless_fork": sub("proxy edge stateful", "proxy edge stateless forking sequential"),
 "branch_timeout_parallel": sub("proxy edge stateful", "proxy edge stateful branch-timeout 5s"),
 "unknown_timer": sub('param loss = 10%', 'param loss = 10%\ntimers T3=1s'),
 "expect_call_missing": sub("expect outcome answered", "expect call 3 outcome answered"),
 "unclosed_string": sub('scenario "t"', 'scenario "t'),
 "stream_no_end": sub("call alice -> bob at 0s", "calls alice -> bob poisson 5/s"),
 "register_no_registrar": sub("call alice -> bob at 0s", "register bob at 0s"),
 # RFC 3261 §20.19: Expires is delta-seconds; 500ms sent as "Expires: 0" would remove the binding instead.
 "register_expires_fraction": sub("proxy edge stateful", "proxy edge stateful registrar").replace(
     "call alice -> bob at 0s", "call alice -> bob at 0s\nregister bob at 0s expires 500ms"),
 "register_action_expires_fraction": sub("proxy edge stateful", "proxy edge stateful registrar").replace(
     "    wait 1s\n", "    register expires 1500ms\n"),
 "node_name_not_a_uri": BASE.replace("bob", '"b;ob"'),
 "host_not_a_host": sub("ua alice", 'ua alice host "alice pc"'),
 "domain_not_a_host": sub("proxy edge stateful", 'proxy edge stateful domain example.com, "a;b"'),
 "host_short_ipv4": sub("ua alice", "ua alice host 10.0.0"),
 "domain_ipv4_out_of_range": sub("proxy edge stateful", "proxy edge stateful domain 192.0.2.256"),
 "host_missing": sub("ua alice", "ua alice host"),
 "exponent": sub("delay 10ms", "delay 1e1ms"),
 "exponent_too_long_to_show": sub("delay 10ms", "delay 1e999999999999999999ms"),
 "param_exponent": sub("param loss = 10%", "param loss = 10%\nparam calls = 1E3"),
 "host_shared": sub("ua alice", "ua alice host 192.0.2.10").replace("ua bob supports 100rel",
                                                                   "ua bob supports 100rel host 192.0.2.10"),
 "host_is_another_nodes_name": sub("ua alice", "ua alice host edge"),
 "time_beyond_2_32_s": sub("call alice -> bob at 0s", "call alice -> bob at 4294967296s"),
 "param_time_beyond_2_32_s": sub("param delay = 40ms", "param delay = 1200000h"),
 "request_from_proxy": sub("call alice -> bob at 0s", "request OPTIONS edge -> bob at 0s"),
 "fault_no_link": sub("call alice -> bob at 0s", "call alice -> bob at 0s\nat 1s link alice <-> bob down"),
 "gilbert_bad": sub("loss $loss", "loss gilbert(p=2%)"),
 "uniform_order": sub("delay 10ms", "delay uniform(30ms, 10ms)"),
 "self_link": sub("link alice <-> edge", "link alice <-> alice"),
 "duplicate_option": sub("link alice <-> edge delay 10ms", "link alice <-> edge delay 10ms delay 20ms"),
 "empty": "",
 "comment_only": "# nothing here\n",
 # The engine runs handlers at user agents only: one on a b2bua used to be accepted and never run.
 # The engine sends an OPTIONS probe or a PRACK forged at a ua (RFC 3262 §9); anything else passed
 # `simsip check` and then failed at run time.
 "request_info": sub("call alice -> bob at 0s", "call alice -> bob at 0s\nrequest INFO alice -> bob at 1s"),
 "request_prack_no_rack": sub("call alice -> bob at 0s", "call alice -> bob at 0s\nrequest PRACK alice -> bob"),
 "request_prack_to_proxy": sub("call alice -> bob at 0s",
                               'call alice -> bob at 0s\nrequest PRACK alice -> edge rack "1 1 INVITE"'),
 # The caret goes under the word at fault, not under `expect`.
 "outcome_ordered": sub("expect outcome answered", "expect outcome < answered"),
 "outcome_statistic": sub("expect outcome answered", "expect mean outcome == answered"),
 "handler_on_b2bua": sub("proxy edge stateful", "b2bua edge").replace("on bob INVITE:", "on edge INVITE:"),
 # One password per realm: which of two would answer was the first one, silently.
 "credentials_twice": sub("ua alice\n", "ua alice credentials alice:a@x.example, alice:b, bob:c@x.example\n"),
 "credentials_twice_any_realm": sub("ua alice\n", "ua alice credentials alice:a@x.example, alice:b, carol:d\n"),
}
YAML_CASES = {
 "yaml_unknown_node": "scenario: t\nnodes:\n  - ua: alice\nlinks:\n  - link: alice <-> bob\n",
 "yaml_bad_option": "nodes:\n  - ua: alice\n    suports: [100rel]\n",
 "yaml_unknown_option_tag": "nodes:\n  - ua: alice\n    requires: [100rel, path]\n",
 "yaml_list_for_text": "scenario: [a, b]\nnodes:\n  - ua: alice\n",
 # A key that is the statement itself cannot be switched off by `false` (it used to act as `true`).
 "yaml_false_action_and_fault": ("nodes:\n  - ua: alice\n  - ua: bob\nlinks:\n  - link: alice <-> bob\n"
                                 "handlers:\n  - on: alice 200\n    do:\n      - hangup: false\n"
                                 "faults:\n  - at: 1s\n    link: alice <-> bob\n    down: no\n"),
 "yaml_syntax": "nodes:\n  - ua: alice\n   - ua: bob\n",
 "yaml_duplicate_key": "scenario: a\nscenario: b\nnodes:\n  - ua: a\n",
 "yaml_bad_event": "nodes:\n  - ua: alice\nhandlers:\n  - on: alice INVTE\n    do: [hangup]\n",
 "yaml_bad_action": "nodes:\n  - ua: alice\nhandlers:\n  - on: alice 200\n    do: [hangpu]\n",
 "yaml_unknown_section": "scenario: x\nnode:\n  - ua: alice\n",
 "yaml_not_mapping": "- a\n- b\n",
 "yaml_reliable_100": "nodes:\n  - ua: bob\nhandlers:\n  - on: bob INVITE\n    do:\n      - send 100 reliable\n",
 "yaml_host_not_a_host": "nodes:\n  - ua: alice\n    host: alice@pc\n",
 "yaml_host_a_float": "nodes:\n  - ua: alice\n    host: 10.0\n",
 "yaml_duration_no_unit": "nodes:\n  - ua: a\n  - ua: b\nlinks:\n  - link: a <-> b\n    delay: 10\n",
 # One YAML string: each expected word once (STRING and LONG_STRING are both "a quoted string"),
 # and its end is the end of that text, not of the file.
 "yaml_action_slip": "nodes:\n  - ua: bob\nhandlers:\n  - on: bob INVITE\n    do: [send 180 reliabel, hangup now]\n",
 "yaml_branch_timeout_parallel": "nodes:\n  - proxy: edge\n    forking: parallel\n    branch-timeout: 5s\n",
}

EXPECTED: dict[str, list[str]] = {
    "request_info": ["t.sip:16:9: `request` sends OPTIONS or a forged PRACK (with `rack`), not INFO"],
    "request_prack_no_rack": ["t.sip:16:9: a standalone PRACK is forged from the target's newest early dialog and "
                              "needs `rack \"RSEQ CSEQ METHOD\"` (RFC 3262 §9); a ua PRACKs its own calls itself"],
    "request_prack_to_proxy": ["t.sip:16:24: a forged PRACK goes to a ua, whose newest early dialog it copies, "
                               "not `edge`"],
    "yaml_action_slip": ["t.yaml:5:19: in an action: unexpected `reliabel`; expected `reliable`, `sdp`, "
                         "a quoted string, the end of the text; did you mean `reliable`?",
                         "t.yaml:5:36: in an action: unexpected `now`; expected the end of the text"],
    "outcome_ordered": ["t.sip:16:16: an outcome is compared with == or != only"],
    "outcome_statistic": ["t.sip:16:8: `mean` of an outcome makes no sense; use `expect share answered >= 95%`"],
    "handler_on_b2bua": ["t.sip:9:4: `edge` is a b2bua, but a handler needs a ua"],
    "credentials_twice": ["t.sip:4:50: credentials for realm `x.example` given twice (first as `alice:…`)"],
    "credentials_twice_any_realm": ["t.sip:4:50: credentials for any realm (no @realm) given twice "
                                    "(first as `alice:…`)"],
    "unknown_option_tag": ["t.sip:6:44: supports: `timer` is not an option tag simsip implements; "
                           "the one it does is 100rel (RFC 3262)"],
    "unknown_call_tag": ["t.sip:15:33: require: `timer` is not an option tag simsip implements; "
                         "the one it does is 100rel (RFC 3262)"],
    "fullwidth_digit": ["t.sip:7:27: unexpected `１0ms`; expected a value: a number with its unit (50ms, 10%, "
                        "20/s), a $param, a string or a distribution such as uniform(10ms, 30ms)"],
    "yaml_list_for_text": ["t.yaml:1:11: scenario needs one value written on its line, not a list"],
    "yaml_false_action_and_fault": [
        "t.yaml:9:17: `hangup: false` is still a `hangup`: an action has no off switch, leave it out",
        "t.yaml:13:11: write `down: true` or the other state, `up: true`, not `down: no`"],
    "yaml_unknown_option_tag": ["t.yaml:3:24: requires: `path` is not an option tag simsip implements; "
                                "the one it does is 100rel (RFC 3262)"],
    'send_no_code': [
        't.sip:10:10: unexpected `reliable`; expected a response code 100–699 after `send`',
    ],
    'send_code_range': [
        't.sip:10:10: `send` must be a response code 100–699, not `99`',
    ],
    'send_code_high': [
        't.sip:11:10: `send` must be a response code 100–699, not `700`',
    ],
    'reliable_100': [
        't.sip:10:14: a 100 Trying cannot be sent reliably (RFC 3262 §3 applies to 101–199)',
    ],
    'reliable_200': [
        't.sip:11:14: only provisional responses (101–199) are sent reliably, not 200',
    ],
    'unknown_node_handler': [
        't.sip:9:4: unknown node `bbo` in a handler; did you mean `bob`?',
    ],
    'unknown_node_link': [
        't.sip:8:15: unknown node `bobb` in a link; did you mean `bob`?',
    ],
    'duplicate_node': [
        't.sip:6:4: duplicate node name `alice` (first declared at line 4)',
        't.sip:8:15: unknown node `bob` in a link',
        't.sip:9:4: unknown node `bob` in a handler',
        "t.sip:15:15: unknown node `bob` in a call's callee",
    ],
    'no_route': [
        't.sip:16:1: no route between `alice` and `bob` for this call: no chain of links joins them both ways',
    ],
    'loss_range': [
        't.sip:2:14: param `loss` must be between 0% and 100%',
    ],
    'loss_literal_range': [
        't.sip:8:37: loss must be between 0% and 100%, not `101%`',
    ],
    'loss_no_percent': [
        't.sip:8:37: loss needs a percentage such as 0.1%, not `0.1`',
    ],
    'negative_duration': [
        't.sip:13:10: wait cannot be negative (`-1s`)',
    ],
    'duration_no_unit': [
        't.sip:7:27: delay needs a unit: write 10ms or 10s',
    ],
    'bad_time_unit': [
        't.sip:7:27: unknown time unit `sec` in `10sec`; use ms, s, min or h',
    ],
    'unknown_measure': [
        't.sip:16:8: unknown measure `final_time`; did you mean `final_ms`?',
    ],
    'unknown_outcome': [
        't.sip:16:16: unknown outcome `answerd`; outcomes are answered, rejected, timeout, reliability_failure, cancelled, incomplete; did you mean `answered`?',
    ],
    'unknown_param': [
        't.sip:8:25: unknown param `$dealy`; did you mean `delay`?',
    ],
    'param_wrong_kind': [
        't.sip:8:25: `$loss` is a percentage (10%), but delay needs a duration (50ms, 2s)',
    ],
    'option_typo': [
        't.sip:6:8: unexpected `suports`; expected a ua option: supports, requires, no-auto-prack, no-trying, no-answer-sdp, host, domain, outbound or credentials; did you mean `supports`?',
    ],
    'link_arrow': [
        't.sip:7:12: unexpected `-`; expected `<->` or `->` between the two node names; did you mean `->`?',
    ],
    'missing_colon': [
        't.sip:12:13: unexpected end of line; expected `:` and the actions after the event of `on NODE EVENT`',
    ],
    'bad_indent': [
        't.sip:14:1: unindent does not match any outer indentation level',
    ],
    'unexpected_indent': [
        't.sip:4:3: unexpected indentation: only the actions under `on NODE EVENT:` are indented',
    ],
    'unknown_method': [
        't.sip:9:8: unknown SIP method `INVTE`; did you mean `INVITE`?',
    ],
    'unknown_event': [
        't.sip:12:10: unknown event `answered`: use a method (INVITE), a code (180), a class (2xx), re-INVITE, timeout or call-ended',
    ],
    'send_in_response_handler': [
        't.sip:13:5: `send` answers the request that triggered the handler; this handler reacts to 200, not to a request',
    ],
    'duplicate_handler': [
        't.sip:12:1: a second handler for `on bob INVITE` (first at line 9); put all its actions in one block',
    ],
    'several': [
        't.sip:7:4: duplicate node name `bob` (first declared at line 6)',
        't.sip:13:4: unknown node `carl` in a handler',
    ],
    'call_no_arrow': [
        't.sip:15:12: unexpected `bob`; expected `->` between caller and callee',
    ],
    'unknown_distribution': [
        't.sip:7:27: unknown distribution `unifrom` for delay; use uniform(low, high), normal(mean, sd), lognormal(mean, sd) or exponential(mean); did you mean `uniform`?',
    ],
    'stateless_fork': [
        't.sip:5:22: a stateless proxy cannot fork (RFC 3261 §16.11: it forwards to one target); make it `stateful`',
    ],
    # RFC 3261 §16.6: the per-target limit only means something when targets are tried one at a time.
    'branch_timeout_parallel': [
        't.sip:5:36: branch-timeout is how long a sequential search waits on each target before cancelling it '
        'and trying the next (RFC 3261 §16.6: a stateful proxy MAY try targets one at a time); this proxy does '
        'not search sequentially, so it would never apply; add `forking sequential`',
    ],
    'unknown_timer': [
        't.sip:3:8: unknown timer `T3`; the base timers are T1, T2 and T4 (the others derive from them)',
    ],
    'expect_call_missing': [
        't.sip:16:13: there is no call 3: the scenario has 1 `call` statement',
    ],
    'unclosed_string': [
        't.sip:1:10: this string is not closed: a `"` is missing before the end of the line',
    ],
    'host_not_a_host': [
        't.sip:4:15: host is a host name or IP address (RFC 3261 §25.1), not `alice pc`',
    ],
    'domain_not_a_host': [
        't.sip:5:41: domain is a host name or IP address (RFC 3261 §25.1), not `a;b`',
    ],
    'host_short_ipv4': [
        't.sip:4:15: host `10.0.0` is not an IPv4 address: four numbers 0-255 such as 10.0.0.1',
    ],
    'domain_ipv4_out_of_range': [
        't.sip:5:28: domain `192.0.2.256` is not an IPv4 address: four numbers 0-255 such as 10.0.0.1',
    ],
    'host_missing': [
        't.sip:4:14: unexpected end of line; expected a host name or IP address (biloxi.example.com, 10.0.0.1 '
        'or "[2001:db8::1]")',
    ],
    'host_shared': [
        "t.sip:6:29: host `192.0.2.10` is already the address of node `alice` (line 4); two nodes cannot share "
        "one, or one would get the other's messages",
    ],
    'host_is_another_nodes_name': [
        "t.sip:4:15: host `edge` is already the address of node `edge` (line 5); two nodes cannot share one, "
        "or one would get the other's messages",
    ],
    'exponent': [
        't.sip:7:27: `1e1ms`: numbers are written without an exponent: 10ms',
    ],
    'exponent_too_long_to_show': [
        't.sip:7:27: `1e999999999999999999ms`: numbers are written without an exponent',
    ],
    'param_exponent': [
        't.sip:3:15: `1E3`: numbers are written without an exponent: 1000',
    ],
    'time_beyond_2_32_s': [
        't.sip:15:22: at must be at most 4294967295s (about 136 years), not `4294967296s`',
    ],
    'param_time_beyond_2_32_s': [
        't.sip:8:25: delay must be at most 4294967295s (about 136 years), not `$delay` (= 4320000000s)',
    ],
    'yaml_host_a_float': [
        't.yaml:3:11: host `10.0` is not an IPv4 address: four numbers 0-255 such as 10.0.0.1',
    ],
    'yaml_host_not_a_host': [
        't.yaml:3:11: host is a host name or IP address (RFC 3261 §25.1), not `alice@pc`',
    ],
    'node_name_not_a_uri': [
        "t.sip:6:4: a ua name is a word (letters, digits, `_`, and `.` or `-` between them) since it becomes "
        "the node's SIP URI, not `b;ob`",
    ],
    'stream_no_end': [
        't.sip:15:1: `calls` needs an end: `for DURATION`, `count N` or both',
    ],
    'register_expires_fraction': [
        't.sip:16:28: expires must be whole seconds (delta-seconds, RFC 3261 §20.19), not `500ms`',
    ],
    'register_action_expires_fraction': [
        't.sip:13:22: expires must be whole seconds (delta-seconds, RFC 3261 §20.19), not `1500ms`',
    ],
    'register_no_registrar': [
        't.sip:15:1: no registrar: mark a proxy `registrar` (e.g. `proxy registrar stateful registrar domain biloxi.example.com`)',
    ],
    'request_from_proxy': [
        't.sip:15:17: `edge` is a proxy, but `request` needs a ua',
    ],
    'fault_no_link': [
        't.sip:16:12: there is no link between `alice` and `bob`',
    ],
    'gilbert_bad': [
        't.sip:8:37: gilbert() needs r',
    ],
    'uniform_order': [
        't.sip:7:27: uniform(low, high) needs low <= high (got 30ms > 10ms)',
    ],
    'self_link': [
        't.sip:7:16: a link joins two different nodes, not `alice` to itself',
    ],
    'duplicate_option': [
        't.sip:7:32: option `delay` given twice (first at column 21)',
    ],
    'empty': [
        't.sip:1:1: empty scenario: nothing to simulate (start with `scenario "name"`, nodes and links)',
    ],
    'comment_only': [
        't.sip:1:1: empty scenario: nothing to simulate (start with `scenario "name"`, nodes and links)',
    ],
    'yaml_unknown_node': [
        't.yaml:5:21: unknown node `bob` in a link',
    ],
    'yaml_bad_option': [
        't.yaml:3:5: unknown option `suports` for a ua; options are supports, requires, no-auto-prack, no-trying, no-answer-sdp, host, domain, outbound, credentials; did you mean `supports`?',
    ],
    'yaml_syntax': [
        "t.yaml:3:4: YAML: while parsing a block collection expected <block end>, but found '<block sequence start>'",
    ],
    'yaml_duplicate_key': [
        't.yaml:2:1: key `scenario` given twice in a scenario (first at line 1)',
    ],
    'yaml_bad_event': [
        't.yaml:4:15: unknown SIP method `INVTE`; did you mean `INVITE`?',
    ],
    'yaml_bad_action': [
        't.yaml:5:10: in an action: unexpected `hangpu`; expected `bye`, `cancel`, `hangup`, `ignore`, `prack`, `register`, `reinvite`, `send`, `wait`; did you mean `hangup`?',
    ],
    'yaml_unknown_section': [
        't.yaml:2:1: unknown section `node`; sections are scenario, description, params, timers, transport, nodes, locations, links, handlers, workload, faults, expect, stop-at, max-events; did you mean `nodes`?',
    ],
    'yaml_not_mapping': [
        't.yaml:1:1: a YAML scenario is a mapping with sections such as `scenario:`, `nodes:`, `links:`',
    ],
    'yaml_reliable_100': [
        't.yaml:6:18: a 100 Trying cannot be sent reliably (RFC 3262 §3 applies to 101–199)',
    ],
    'yaml_duration_no_unit': [
        't.yaml:6:12: delay needs a unit: write 10ms or 10s',
    ],
    'yaml_branch_timeout_parallel': [
        't.yaml:4:21: branch-timeout is how long a sequential search waits on each target before cancelling it '
        'and trying the next (RFC 3261 §16.6: a stateful proxy MAY try targets one at a time); this proxy does '
        'not search sequentially, so it would never apply; add `forking sequential`',
    ],
}


def _load(name: str, text: str) -> ScenarioError:
    """Load a broken case and return its error."""
    surface = "yaml" if name.startswith("yaml") else "sip"
    with pytest.raises(ScenarioError) as info:
        load_text(text, f"t.{surface}", surface)
    return info.value


def test_base_scenario_is_valid() -> None:
    """The scenario every case mutates loads cleanly."""
    assert load_text(BASE, "t.sip", "sip").name == "t"


@pytest.mark.parametrize("name", sorted({**SIP_CASES, **YAML_CASES}))
def test_broken_scenario_message(name: str) -> None:
    """Each broken scenario produces exactly the expected messages."""
    text = {**SIP_CASES, **YAML_CASES}[name]
    assert _load(name, text).messages == EXPECTED[name]


def test_rendered_error_has_source_line_and_caret() -> None:
    """The rendered error shows the line and a caret under the column."""
    error = _load("send_no_code", SIP_CASES["send_no_code"])
    assert str(error) == (
        "t.sip:10:10: unexpected `reliable`; expected a response code 100–699 after `send`\n"
        "        send reliable\n"
        "             ^"
    )


def test_every_syntax_error_is_reported() -> None:
    """Two broken lines give two syntax errors, not just the first."""
    text = BASE.replace("    send 180 reliable", "    send reliable").replace("link alice <-> edge", "link alice edge")
    assert _load("two", text).messages == [
        "t.sip:7:12: unexpected `edge`; expected `<->` or `->` between the two node names",
        "t.sip:10:10: unexpected `reliable`; expected a response code 100–699 after `send`",
    ]


def test_a_broken_only_action_reports_that_line_alone() -> None:
    """A handler whose only action is broken gives one error, not one for the header and every later line.

    Before: the blanked action left `on alice 200:` without a block, and the recovery then reported
    "unexpected `call`; expected an action" on each following statement and "unexpected end of file"
    at the header.
    """
    text = BASE.replace("    wait 1s\n    hangup\n", "    hangup now\n")
    assert _load("only", text).messages == [
        "t.sip:13:12: unexpected `now`; expected `;`, end of line",
    ]


def test_actions_after_the_colon_and_in_a_block_are_one_error_that_says_so() -> None:
    """`on alice 200: wait 1s` then an indented block: one error naming the slip, not one per line.

    Before: each indented line was reported as "only the actions under `on NODE EVENT:` are
    indented", which they were.
    """
    text = BASE.replace("on alice 200:\n    wait 1s\n", "on alice 200: wait 1s\n    wait 2s\n")
    assert _load("both", text).messages == [
        "t.sip:13:5: unexpected indentation: a handler's actions go after its `:` or in an indented block "
        "under it, not both",
    ]


def test_an_over_indented_action_says_the_actions_line_up() -> None:
    """An action indented deeper than the one above it: the message names that, not "only actions are indented"."""
    text = BASE.replace("    hangup\n", "        hangup\n")
    assert _load("deeper", text).messages == [
        "t.sip:14:9: unexpected indentation: the actions of a handler line up under its first one",
    ]


@pytest.mark.parametrize(("old", "new", "message"), [
    ("delay 10ms", "delay 10 ms",
     "t.sip:7:30: unexpected `ms`: write a number and its unit together (10ms, not 10 ms)"),
    ("delay 10ms", "delay uniform(10ms, 20ms",
     "t.sip:7:45: unexpected end of line; expected `)`, `,`"),
    ("expect outcome answered", "expect outcome = answered",
     "t.sip:16:16: unexpected `=`; expected a $param, a comparison (<, <=, ==, !=, >=, >), a name, a number, "
     "a quoted string, end of line; write `==` to compare"),
    ("ua alice", "UA alice",
     "t.sip:4:1: unexpected `UA`; expected `at`, `b2bua`, `call`, `calls`, `description`, `drop`, `expect`, "
     "`link`, `location`, `max`, `on`, `param`, ...; did you mean `ua`?"),
    ("    send 200\n", "    send 200 reliabel\n",
     "t.sip:11:14: unexpected `reliabel`; expected `;`, `reliable`, `sdp`, a quoted string, end of line; "
     "did you mean `reliable`?"),
    ("call alice -> bob at 0s", "call alice -> bob at 0s\nat 3s link alice bob down",
     "t.sip:16:18: unexpected `bob`; expected `<->` or `->` between the two node names"),
])
def test_common_slips(old: str, new: str, message: str) -> None:
    """Frequent slips get a message that says what to write."""
    assert old in BASE
    assert _load("slip", BASE.replace(old, new, 1)).messages == [message]


@pytest.mark.parametrize("terminal", ["NAME", "QUANTITY", "PARAM", "URI", "PATTERN", "HOST_NUMBER"])
def test_yaml_and_writer_patterns_are_the_grammars(terminal: str) -> None:
    """YAML scalars, node names and the .sip writer use the grammar's own terminals: they cannot drift apart.

    An escaped `/` or `"` means the character itself, in either spelling."""
    from simsip.scenario import raw
    from simsip.scenario.sip_surface import parser

    def plain(pattern: str) -> str:
        return pattern.replace("\\/", "/").replace('\\"', '"')

    assert plain(getattr(raw, f"{terminal}_RE").pattern) == plain(parser().get_terminal(terminal).pattern.value)
