"""``convert`` round trips: every shipped scenario, there and back, gives an equal model.

Globs ``scenarios/`` at collection time, so files added to the library later
are covered too; the golden sources are included so every construct is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simsip.scenario import load, load_text
from simsip.scenario.model import to_json
from simsip.scenario.writer import to_sip, to_yaml

from tests.scenario.sources import ROOT, SOURCES



def _ids(path: Path) -> str:
    """A short test id."""
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", SOURCES, ids=_ids)
def test_convert_to_sip_and_back(path: Path) -> None:
    """Writing the model as .sip and loading it again gives an equal model (refs included)."""
    scenario = load(path)
    again = load_text(to_sip(scenario), "converted.sip", "sip")
    assert to_json(again) == to_json(scenario)
    assert again == scenario


@pytest.mark.parametrize("path", SOURCES, ids=_ids)
def test_convert_to_yaml_and_back(path: Path) -> None:
    """Writing the model as YAML and loading it again gives an equal model."""
    scenario = load(path)
    again = load_text(to_yaml(scenario), "converted.yaml", "yaml")
    assert to_json(again) == to_json(scenario)
    assert again == scenario


@pytest.mark.parametrize("path", SOURCES, ids=_ids)
def test_writer_is_a_fixed_point(path: Path) -> None:
    """Converting converted text changes nothing more (the writer's output is canonical)."""
    scenario = load(path)
    sip = to_sip(scenario)
    yaml_text = to_yaml(scenario)
    assert to_sip(load_text(sip, "a.sip", "sip")) == sip
    assert to_yaml(load_text(yaml_text, "a.yaml", "yaml")) == yaml_text


TWINS = sorted(p for p in SOURCES if p.suffix == ".sip" and p.with_suffix(".yaml").exists())


@pytest.mark.parametrize("path", TWINS, ids=_ids)
def test_twins_are_the_same_scenario(path: Path) -> None:
    """A .sip and the .yaml beside it with the same name describe the same model."""
    assert load(path) == load(path.with_suffix(".yaml"))


def test_direct_call_is_among_the_twins() -> None:
    """The shipped direct_call pair is checked."""
    assert ROOT / "scenarios" / "basic" / "direct_call.sip" in TWINS


def test_keywords_as_node_names_round_trip() -> None:
    """A node may be called like any keyword (`redirect`, `registrar`, `to`...); convert keeps it loadable."""
    from simsip.scenario.sip_surface import keywords

    names = sorted(k for k in keywords() if k[0].isalpha())
    assert {"registrar", "redirect", "to", "at", "drop"} <= set(names)
    for k in names:
        quoted = f'"{k}"'
        text = (f"ua {quoted} outbound p\nproxy p stateful registrar domain example.com\nua x\n"
                f"link {quoted} <-> p\nlink p <-> x\non {quoted} INVITE: send 200\n"
                f"call {quoted} -> x\ncall x -> {quoted}\nregister {quoted} via p\n"
                f"at 1s node {quoted} crash\ndrop 200 to BYE {quoted} -> p\n")
        scenario = load_text(text, "k.sip", "sip")
        assert load_text(to_sip(scenario), "k.sip", "sip") == scenario, k
        assert load_text(to_yaml(scenario), "k.yaml", "yaml") == scenario, k


def test_address_hosts_are_written_bare_and_round_trip() -> None:
    """Hosts that start with a digit (192.0.2.10, 3com.example) are written without quotes, as one types them."""
    text = ('ua alice host 192.0.2.10 credentials alice:pw@10.0.0.9\n'
            'proxy p stateful domain 10.0.0.9, 3com.example auth realm 10.0.0.9\n'
            'ua bob domain "biloxi.example.com"\n')
    scenario = load_text(text, "ip.sip", "sip")
    sip = to_sip(scenario)
    assert sip.splitlines() == [
        "ua alice host 192.0.2.10 credentials alice:pw@10.0.0.9",
        "proxy p stateful domain 10.0.0.9, 3com.example auth realm 10.0.0.9",
        "ua bob domain biloxi.example.com",
    ]
    assert load_text(sip, "again.sip", "sip") == scenario
    assert load_text(to_yaml(scenario), "again.yaml", "yaml") == scenario


def test_expect_call_takes_a_param_and_convert_keeps_it() -> None:
    """`expect call $n` (the grammar: `$name` anywhere a value is expected) selects call n; convert writes `$n`.

    Before: the `call` value lost its `$`, so loading failed with "`n` is not a number".
    """
    text = ("param n = 2\nua alice\nua bob\nlink alice <-> bob\ncall alice -> bob\ncall alice -> bob at 1s\n"
            "expect call $n outcome answered\n")
    scenario = load_text(text, "c.sip", "sip")
    assert (scenario.expectations[0].call, scenario.expectations[0].refs) == (2, (("call", "n"),))
    assert to_sip(scenario).splitlines()[-1] == "expect call $n outcome answered"
    assert to_yaml(scenario).splitlines()[-1] == "  - call $n outcome answered"
    assert load_text(to_yaml(scenario), "c.yaml", "yaml") == scenario
    assert load_text(text, "c.sip", "sip", params={"n": "1"}).expectations[0].call == 1


def test_expect_n_of_a_duration_measure_converts_as_a_count() -> None:
    """`expect n pdd_ms >= 1` counts calls: convert writes `1`, not `1ms` (which does not load again)."""
    text = "ua alice\nua bob\nlink alice <-> bob\ncall alice -> bob\nexpect n pdd_ms >= 1\n"
    scenario = load_text(text, "n.sip", "sip")
    assert to_sip(scenario).splitlines()[-1] == "expect n pdd_ms >= 1"
    assert to_yaml(scenario).splitlines()[-1] == "  - n pdd_ms >= 1"
    assert load_text(to_sip(scenario), "n2.sip", "sip") == scenario
