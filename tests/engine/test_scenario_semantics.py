"""Scenario constructs run as the grammar summary and README document them (handlers, actions, params)."""

from __future__ import annotations

from pathlib import Path

import simsip

HEAD = "ua alice\nua bob\nlink alice <-> bob delay 10ms\n"


def _run(text: str, until: float = 60.0) -> simsip.engine.Result:
    """Load ``text`` and run it once with the full trace, stopped at ``until`` s."""
    return simsip.run(simsip.load(text), trace="full", until=until)


def _wire(result: simsip.engine.Result, node: str, start_line: str) -> list[str]:
    """The header lines of each first send by ``node`` whose start line begins with ``start_line``."""
    out = []
    for e in result.trace:
        if e.event == "send" and e.node == node and e.retransmission == 0 and e.msg is not None:
            head = bytes(e.msg).decode().split("\r\n\r\n")[0].split("\r\n")
            if head[0].startswith(start_line):
                out.append(head)
    return out


def test_reinvite_contact_changes_the_contact_of_the_reinvite_rfc3261_12_2_1_1() -> None:
    """`reinvite contact URI` sends that Contact (RFC 3261 §12.2.1.1, RFC 3665 §3.7), and the peer targets it.

    Before: the option was parsed and written back by `convert`, but the re-INVITE kept the old Contact.
    """
    result = _run(HEAD + "on alice 200:\n    wait 1s\n    reinvite contact sip:alice-moved@alice\n"
                         "on bob re-INVITE:\n    send 200\n    wait 1s\n    hangup\n"
                         "call alice -> bob\n")
    invites = _wire(result, "alice", "INVITE ")
    assert [line for head in invites for line in head if line.startswith("Contact:")] == [
        "Contact: <sip:alice@alice>", "Contact: <sip:alice-moved@alice>"]
    # §12.2.1.2: the re-INVITE refreshed bob's remote target, so his BYE goes to the new URI.
    assert [head[0] for head in _wire(result, "bob", "BYE ")] == ["BYE sip:alice-moved@alice SIP/2.0"]


def test_expect_n_of_a_duration_measure_reads_as_a_count() -> None:
    """The verdict of `expect n final_ms == 1` shows a number of calls, not `1ms`."""
    result = _run(HEAD + "call alice -> bob\nexpect n final_ms == 1\n")
    assert result.expectations == [
        {"text": "n final_ms == 1", "held": True, "detail": "n final_ms = 1 over 1 values"}]


def test_register_contact_node_name_binds_that_nodes_contact_uri_rfc3261_10_2_1() -> None:
    """`register ... contact NODE` (statement or action) binds the node's contact URI (RFC 3261 §10.2.1).

    A node name is accepted there as in `location` (golden workload.sip, handlers.sip). Before: the name
    itself went out as `Contact: bob` and the registrar answered 400 Bad Request.
    """
    result = _run("ua alice domain example.com\nua bob domain example.com\n"
                  "proxy reg stateful registrar domain example.com\n"
                  "link alice <-> reg delay 10ms\nlink bob <-> reg delay 10ms\n"
                  "register bob at 0s contact bob, sip:bob@elsewhere.example.com\n"
                  "on bob INVITE:\n    register contact alice expires 60s\n    send 486\n"
                  "call alice -> bob at 1s\n")
    registers = [[line for line in head if line.startswith("Contact:")]
                 for head in _wire(result, "bob", "REGISTER ")]
    assert registers == [["Contact: sip:bob@bob", "Contact: sip:bob@elsewhere.example.com"],
                         ["Contact: sip:alice@alice"]]
    assert [head[0] for head in _wire(result, "reg", "SIP/2.0 ") if "REGISTER" in " ".join(head)] == [
        "SIP/2.0 200 OK", "SIP/2.0 200 OK"]


def test_expect_text_shows_the_threshold_in_full() -> None:
    """The verdict repeats the expect line's value as written, never rounded to 6 digits or in exponent form.

    Before: `expect final_ms < 1234567` read back as `final_ms < 1.23457e+06ms`.
    """
    result = _run(HEAD + "call alice -> bob\nexpect final_ms < 1234567\nexpect p90 final_ms <= 32000.25ms\n"
                         "expect mean invite_retransmissions < 0.1234567\n")
    assert [e["text"] for e in result.expectations] == [
        "final_ms < 1234567ms", "p90 final_ms <= 32000.25ms", "mean invite_retransmissions < 0.1234567"]


def test_expect_outcome_incomplete_is_an_outcome_like_the_others() -> None:
    """`incomplete` (README "Measures": the run ended first) can be expected, per call and as a share."""
    result = simsip.run(simsip.load(HEAD + "on bob INVITE:\n    send 180\n    wait 30s\n    send 200\n"
                                    "call alice -> bob\nstop at 20s\nexpect call 1 outcome incomplete\n"
                                    "expect share incomplete == 100%\n"))
    assert result.expectations == [
        {"text": "call 1 outcome == incomplete", "held": True, "detail": "holds for all 1 calls"},
        {"text": "share incomplete == 100%", "held": True, "detail": "share of incomplete = 100% over 1 calls"}]


S3_3 = (Path(__file__).resolve().parents[2] / "scenarios" / "rfc3665"
        / "s3_3_multiple_proxy_auth.sip").read_text(encoding="utf-8")


def test_credentials_per_realm_answer_each_proxys_challenge_rfc3261_22_1() -> None:
    """`credentials user:pw@realm, ...` answers each realm's challenge with its own password (RFC 3665 §3.3).

    RFC 3261 §22.1: the realm names the protection domain. Before, only the first pair was used, for
    every realm: proxy2 refused alice's third INVITE and the call ended 407.
    """
    text = (S3_3.replace("credentials alice:wonderland",
                         "credentials alice:wonderland@atlanta.example.com, alice:looking-glass@biloxi.example.com")
            .replace("realm biloxi.example.com users alice:wonderland", "realm biloxi.example.com users alice:looking-glass"))
    result = _run(text)
    assert [(c["outcome"], c["final_code"]) for c in result.calls] == [("answered", 200)]
    invites = _wire(result, "alice", "INVITE")
    assert [[line.split(" ")[0] for line in head if "Authorization" in line] for head in invites] == [
        [], ["Proxy-Authorization:"], ["Proxy-Authorization:", "Proxy-Authorization:"]]
    realms = [line.split('realm="')[1].split('"')[0] for line in invites[2] if "Authorization" in line]
    assert realms == ["atlanta.example.com", "biloxi.example.com"]
    # Only a realm we hold credentials for is answered: without biloxi's, the second 407 ends the call.
    only_atlanta = text.replace(", alice:looking-glass@biloxi.example.com", "")
    result = _run(only_atlanta)
    assert [(c["outcome"], c["final_code"]) for c in result.calls] == [("rejected", 407)]
    assert len(_wire(result, "alice", "INVITE")) == 2
