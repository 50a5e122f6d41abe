"""Lazily seeded RNG streams draw exactly what ``stream()`` draws (results must not move)."""

from __future__ import annotations

import copy
import pickle
import random

import simpy

from simsip.engine import _lazy_stream, stream
from simsip.net.models import ConstantDelay
from simsip.net.network import HopSpec, Network


def test_lazy_stream_draws_the_same_numbers_as_stream() -> None:
    """Every draw kind the engine uses matches the eagerly seeded stream, in order."""
    eager, lazy = stream(7, 3, "link:a->b"), _lazy_stream(7, 3, "link:a->b")
    for rng in (eager, lazy):
        rng.seen = [rng.random(), rng.gauss(0.0, 1.0), rng.gauss(0.0, 1.0),  # type: ignore[attr-defined]
                    rng.getrandbits(64), rng.randint(1, 2**31 - 1), rng.expovariate(2.5),
                    rng.randrange(5), rng.lognormvariate(0.0, 0.5)]
    assert lazy.seen == eager.seen  # type: ignore[attr-defined]


def test_lazy_stream_copies_and_pickles_as_an_independent_generator() -> None:
    """A copy continues from the same state without sharing it with the original."""
    eager = stream(1, 2, "core:alice")
    lazy = _lazy_stream(1, 2, "core:alice")
    assert lazy.random() == eager.random()
    expected = eager.random()
    for clone in (copy.deepcopy(lazy), pickle.loads(pickle.dumps(lazy))):
        assert clone.random() == expected
    assert lazy.random() == expected  # the clones' draws did not advance the original


def test_network_graph_is_built_on_demand_with_every_hop() -> None:
    """The lazily built graph holds every node and hop with its mean delay as weight."""
    net = Network(simpy.Environment())
    rng = random.Random(0)
    net.add_link("a", "b", HopSpec(delay=ConstantDelay(0.01)), HopSpec(delay=ConstantDelay(0.02)),
                 rng, rng)
    net.add_link("b", "c", HopSpec(delay=ConstantDelay(0.03)), None, rng, rng)
    assert list(net.graph.nodes) == ["a", "b", "c"]
    assert net.graph["b"]["a"]["delay"] == 0.02
    assert not net.graph.has_edge("c", "b")
    assert [h.dst for h in net.path("a", "c")] == ["b", "c"]
    assert net.path("c", "a") is None


def test_run_environment_has_every_attribute_simpy_sets() -> None:
    """The engine's cheap environment holds the same state as simpy.Environment() (time 0, empty queue)."""
    from simsip.engine import _Environment

    plain, cheap = simpy.Environment(), _Environment()
    bound = {"process", "timeout", "event", "all_of", "any_of"}
    assert set(vars(plain)) - bound == set(vars(cheap))
    assert (cheap.now, cheap.peek(), cheap.active_process) == (0, simpy.core.Infinity, None)
    assert type(cheap.now) is float  # SimPy's int 0 would leak into times read before the first event
    fired = []
    cheap.timeout(1.5).callbacks.append(lambda e: fired.append(cheap.now))
    cheap.run()
    assert fired == [1.5]
