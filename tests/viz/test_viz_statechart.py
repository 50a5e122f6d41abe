"""Statecharts are drawn from the cores' transition tables (RFC 3261 §17 Figures 5-8, RFC 6026)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from simsip.sip import transaction
from simsip.viz.statechart import machines, mermaid_statechart, svg_statechart


def test_the_four_transaction_machines_are_there():
    assert {"INVITE client", "non-INVITE client", "INVITE server", "non-INVITE server"} <= set(machines())


@pytest.mark.parametrize("name", sorted(transaction.MACHINES))
def test_mermaid_has_every_transition_of_the_table(name):
    """Every (state, event) -> state entry of the code's table appears as an arrow with its event."""
    text = mermaid_statechart(name)
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    for (state, event), new in transaction.MACHINES[name].items():
        arrow = [ln for ln in lines if ln.strip().startswith(f"{state.value} --> {new.value}:")]
        assert len(arrow) == 1 and event.value in arrow[0], (state, event, new)
    assert f"[*] --> {transaction.INITIAL_STATES[name].value}" in text
    assert "Terminated --> [*]" in text


def test_invite_client_figure_5_with_rfc_6026():
    """RFC 6026 §7.2: a 2xx takes the INVITE client transaction to Accepted, Timer M ends it."""
    text = mermaid_statechart("INVITE client")
    assert "    Calling --> Accepted: 2xx\n" in text
    assert "    Accepted --> Terminated: Timer M\n" in text
    assert "    Calling --> Calling: Timer A\n" in text


def test_pictures_follow_the_table_not_a_copy(monkeypatch):
    """Change the table and the picture changes: nothing is copied."""
    table = dict(transaction.INVITE_CLIENT_TRANSITIONS)
    del table[(transaction.ICState.CALLING, transaction.ICEvent.TIMER_A)]
    monkeypatch.setitem(transaction.MACHINES, "INVITE client", table)
    assert "Timer A" not in mermaid_statechart("INVITE client")
    assert "Timer A" not in svg_statechart("INVITE client")


@pytest.mark.parametrize("name", sorted(machines()))
def test_svg_is_wellformed_with_a_box_per_state(name):
    svg = svg_statechart(name)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    boxes = [r for r in root.iter(f"{ns}rect") if r.get("rx") == "10"]
    assert len(boxes) == len(machines()[name].states)


def test_unknown_machine():
    with pytest.raises(ValueError, match="known: INVITE client"):
        mermaid_statechart("nope")


def test_statechart_object_for_notebooks():
    from simsip.viz.statechart import Statechart

    chart = Statechart("non-INVITE server")
    assert chart._repr_svg_() == svg_statechart("non-INVITE server")
    assert chart.mermaid().startswith("stateDiagram-v2")
    with pytest.raises(ValueError):
        Statechart("nope")


def test_reliable_provisional_table_is_picked_up_from_the_ua_core(monkeypatch):
    """Once simsip.sip.ua publishes RELIABLE_1XX_TRANSITIONS (+ _INITIAL), it is drawn (RFC 3262 §3)."""
    import enum

    from simsip.sip import ua

    class Rel(enum.Enum):
        SENT = "Sent"
        PRACKED = "PRACKed"
        FAILED = "Failed"

    class RelEvent(enum.Enum):
        TIMER = "1xx-rel timer"
        PRACK = "PRACK"
        WAIT = "prack-wait"

    table = {(Rel.SENT, RelEvent.TIMER): Rel.SENT, (Rel.SENT, RelEvent.PRACK): Rel.PRACKED,
             (Rel.SENT, RelEvent.WAIT): Rel.FAILED}
    monkeypatch.setattr(ua, "RELIABLE_1XX_TRANSITIONS", table, raising=False)
    monkeypatch.setattr(ua, "RELIABLE_1XX_INITIAL", Rel.SENT, raising=False)
    text = mermaid_statechart("reliable provisional")
    assert "    Sent --> Sent: 1xx-rel timer\n" in text and "    Sent --> Pracked: PRACK\n" in text
    assert '    state "PRACKed" as Pracked\n' in text
    assert "[*] --> Sent" in text


def test_reliable_provisional_machine_of_the_ua_core():
    """RFC 3262 §3: every transition of the UA core's RELIABLE_1XX_TRANSITIONS is drawn."""
    from simsip.sip import ua

    text = mermaid_statechart("reliable provisional")
    for (state, event), new in ua.RELIABLE_1XX_TRANSITIONS.items():
        src = "".join(ch for ch in state.value.title() if ch.isalnum())
        dst = "".join(ch for ch in new.value.title() if ch.isalnum())
        assert any(ln.strip().startswith(f"{src} --> {dst}:") and event.value in ln for ln in text.splitlines())
    ET.fromstring(svg_statechart("reliable provisional"))
