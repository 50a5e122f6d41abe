"""The engine: compile a Scenario into SimPy agents and links, run it, and report.

:func:`run` builds, for each run index, a fresh :class:`simpy.Environment`, a
:class:`~simsip.net.network.Network` with one hop per link direction, one agent
per node (UA, proxy, redirect server, B2BUA), the workload (single calls, Poisson or
fixed-rate streams, REGISTERs, OPTIONS) and the faults, then runs the clock.
Every delivery and timer is a SimPy event callback, queued directly
(:class:`~simsip.net.network.Clock`; DESIGN.md "Performance").
The agents' trace events go to a :mod:`simsip.metrics` sink, which keeps them
(``trace="full"``) or only folds them into the per-call measures (``"off"``).

Randomness (DESIGN.md "Randomness and reproducibility"): :func:`stream` is the
one place a random generator is made. Every source has a name, and its
``random.Random`` is seeded from a BLAKE2b digest of (seed, run index, name):

| source | name |
| --- | --- |
| link direction a -> b | ``link:a->b`` |
| a node's core (tags, branches, Call-IDs, RSeq) | ``core:NODE`` (``core:NODE#k`` after the k-th restart) |
| the i-th handler (``wait`` durations) | ``handler:i`` |
| the i-th call stream's arrivals / pool picks | ``arrivals:i`` / ``pick:i`` |

so changing one link's parameters moves no other source's draws, and run
``r`` sees the same streams whatever the params (common random numbers).

Routing: every node has a host (default its name); a host name maps to its
node, a domain to the proxies (then redirect servers, B2BUAs) serving it, in
declaration order (the later ones are the RFC 3263 §4.3 fallbacks a proxy gets
from its resolver); a domain no server serves resolves to the UA(s) whose
address-of-record is in it (the first one when several).  The transport of a SIP hop is that of the first link on
the path that names one, else the scenario's.
"""

from __future__ import annotations

import _random
import functools
import gc
import hashlib
import json
import math
import random
from dataclasses import dataclass, field, replace
from itertools import count
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, TypeVar

import simpy
from mypy_extensions import mypyc_attr

from simsip.agents.b2bua import B2BUAAgent
from simsip.agents.base import Agent, Describer, DropRule, PendingTimer
from simsip.agents.proxy import ProxyAgent, RedirectAgent
from simsip.agents.ua import Behaviours, CompiledHandler, Script, UAAgent
from simsip.metrics import CallTable, NodeCounters, TraceEvent, make_sink, measure_stats, summarize
from simsip.metrics.measures import RECORD_FIELDS
from simsip.metrics.trace import check_trace_level
from simsip.net.models import (
    BernoulliLoss,
    ConstantDelay,
    Delay,
    ExponentialDelay,
    GilbertElliottLoss,
    LogNormalDelay,
    LossModel,
    NoLoss,
    NormalDelay,
    UniformDelay,
)
from simsip.net.network import Hop, HopSpec, Network, Packet, Wakeup
from simsip.scenario import model as m
from simsip.scenario.writer import fmt_number
from simsip.sip.events import Address, Transport
from simsip.sip.proxy import ForkMode, ProxyCore, ProxyOptions
from simsip.sip.proxy import ProxyMode as CoreProxyMode
from simsip.sip.redirect import RedirectServer as RedirectCore
from simsip.sip.registrar import LocationService
from simsip.sip.timers import TimerConfig
from simsip.sip.ua import UAOptions, UserAgentCore

__all__ = ["Result", "stream", "run", "load", "evaluate_expectations", "expectation_text"]


# ---------------------------------------------------------------- randomness


_new_random = random.Random.__new__
_seed_random = _random.Random.seed
_blake2b = hashlib.blake2b


def stream(seed: int, run: int, source: str) -> random.Random:
    """The random stream of one source in one run: seeded from BLAKE2b(seed, run, source)."""
    digest = _blake2b(f"{seed}\x1f{run}\x1f{source}".encode(), digest_size=16).digest()
    # random.Random(n) for an int n, minus its two Python-level calls (__init__, seed):
    # the C seed with the same integer, then the same gauss_next reset.
    rng = _new_random(random.Random)
    _seed_random(rng, int.from_bytes(digest, "big"))
    rng.gauss_next = None  # type: ignore[attr-defined]  # set by Random.seed; typeshed omits it
    return rng


@mypyc_attr(native_class=False)  # caches bound methods in its instance __dict__
class _LazyStream:
    """``stream(seed, run, source)`` made on first use: a source that never draws in a run costs no seeding.

    The first attribute looked up creates the generator and caches its bound method on
    the instance, so later draws skip ``__getattr__`` and are the very same calls.
    """

    def __init__(self, seed: int, run: int, source: str) -> None:
        """Remember the stream's key; nothing is hashed or seeded yet."""
        self._key = (seed, run, source)
        self._rng: random.Random | None = None

    def __getattr__(self, name: str) -> Any:
        """Seed the stream if needed and hand out (and keep) its attribute."""
        if name.startswith("__") or name in ("_rng", "_key"):  # no recursion before __init__ ran
            raise AttributeError(name)
        rng = self._rng
        if rng is None:
            rng = self._rng = stream(*self._key)
        value = getattr(rng, name)
        if callable(value):  # data attributes stay live on the generator
            self.__dict__[name] = value
        return value

    def __getstate__(self) -> dict[str, Any]:
        """Copy / pickle the key and generator only: cached methods would stay bound to the original."""
        return {"_key": self._key, "_rng": self._rng}


# The source's stream, seeded on its first draw (same numbers as :func:`stream`);
# the class itself, so making one costs no extra call.
_lazy_stream: Callable[[int, int, str], random.Random] = _LazyStream  # type: ignore[assignment]


class _Environment(simpy.Environment):
    """A SimPy environment made without binding its event factories to the instance.

    ``simpy.Environment()`` binds ``process``, ``timeout``, ``event``, ``all_of``
    and ``any_of`` to each new instance (about 15 calls); a run makes one
    environment and hardly uses them (deliveries and timers go straight onto
    the queue, see :class:`~simsip.net.network.Clock`), so they stay plain
    descriptors here. The state is SimPy's own.
    """

    def __init__(self) -> None:
        """Time 0, nothing queued (the attributes ``simpy.Environment.__init__`` sets)."""
        self._now = 0.0  # SimPy starts at int 0; simsip's times are floats in both builds
        self._queue = []
        self._eid = count()
        self._active_proc = None


# ---------------------------------------------------------------- model -> net


def delay_of(dist: m.Distribution) -> Delay:
    """The network's sampler for a model distribution (seconds)."""
    if isinstance(dist, m.Constant):
        return ConstantDelay(dist.value)
    if isinstance(dist, m.Uniform):
        return UniformDelay(dist.low, dist.high)
    if isinstance(dist, m.Normal):
        return NormalDelay(dist.mean, dist.sd)
    if isinstance(dist, m.LogNormal):
        return LogNormalDelay(dist.mean, *dist.mu_sigma())
    if isinstance(dist, m.Exponential):
        return ExponentialDelay(dist.mean)
    raise TypeError(f"unknown distribution {dist!r}")


def loss_of(loss: m.Loss) -> LossModel:
    """The network's loss model for a model loss."""
    if isinstance(loss, m.Bernoulli):
        return BernoulliLoss(loss.p) if loss.p > 0.0 else NoLoss()
    if isinstance(loss, m.GilbertElliott):
        return GilbertElliottLoss(loss.p, loss.r, loss.loss_good, loss.loss_bad)
    raise TypeError(f"unknown loss model {loss!r}")


def hop_spec(link: m.Link) -> HopSpec:
    """The parameters of one direction of ``link``."""
    return HopSpec(delay=delay_of(link.delay), jitter=link.jitter, loss=loss_of(link.loss),
                   duplicate=link.duplicate, reorder=link.reorder,
                   reorder_delay=link.reorder_delay, bandwidth=link.bandwidth)


def _draws(spec: HopSpec) -> bool:
    """True if a hop with these parameters ever draws a random number."""
    return not (isinstance(spec.delay, ConstantDelay) and isinstance(spec.loss, NoLoss)
                and not spec.jitter and not spec.duplicate and not spec.reorder)


# A ``register`` statement or handler action (both carry ``contacts``).
_RegisterItem = TypeVar("_RegisterItem", m.Registration, m.Register)


def _asks_100rel(tags: tuple[str, ...]) -> bool | None:
    """True if a call's require/supported tags name 100rel; None leaves it to the caller's UA."""
    return True if "100rel" in tags else None


# Never drawn from (see _draws); one instance instead of a seeded stream per idle hop.
_IDLE_RNG = random.Random(0)
# The handler streams of a UA none of whose handlers draws (never written to).
_NO_RNGS: dict[int, random.Random] = {}


# ---------------------------------------------------------------- the result


@dataclass(repr=False)
class Result:
    """What :func:`run` returns: call records, summary, trace, expectations, counters."""

    scenario: m.Scenario
    seed: int
    runs: int
    calls: CallTable
    """Per-call records (a sequence of dicts, DESIGN.md "Measures")."""
    summary: dict[str, Any]
    """``summarize(calls)``: per-measure statistics, outcome shares, RFC 6076."""
    trace: list[TraceEvent]
    """Every event of every run with ``trace="full"``, else empty."""
    expectations: list[dict[str, Any]]
    """``{"text", "held", "detail"}`` per ``expect`` line, in source order."""
    counters: NodeCounters = field(default_factory=NodeCounters)
    """Per-node and per-link counters over all runs."""
    links: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per link direction ``a->b``: packets sent into it and lost by it, over all runs."""
    params: dict[str, Any] = field(default_factory=dict)
    """The value in effect of every param (model units: s, fractions, /s, bit/s)."""

    def __repr__(self) -> str:
        """A one-line summary (the records themselves can be millions)."""
        held = sum(1 for e in self.expectations if e["held"])
        return (f"Result({self.scenario.name!r}, runs={self.runs}, seed={self.seed}, "
                f"calls={len(self.calls)}, trace={len(self.trace)} events, "
                f"expectations={held}/{len(self.expectations)} held)")

    @property
    def ok(self) -> bool:
        """True when every expectation held."""
        return all(e["held"] for e in self.expectations)

    def to_dict(self, file: str | None = None) -> dict[str, Any]:
        """The ``--format json`` object (issue 5 item 6)."""
        return {
            "scenario": self.scenario.name,
            "file": file if file is not None else self.scenario.source,
            "seed": self.seed,
            "runs": self.runs,
            "params": self.params,
            "calls": list(self.calls),
            "summary": self.summary,
            "expectations": self.expectations,
        }

    def to_json(self, file: str | None = None) -> str:
        """The JSON text: byte-identical for identical inputs."""
        return json.dumps(_finite(self.to_dict(file)), indent=2, allow_nan=False)


def _finite(value: Any) -> Any:
    """Replace non-finite floats (never produced on purpose) by None for strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# ---------------------------------------------------------------- compile


class _Memo(dict[str, Any]):
    """Answers of a lookup that never changes within a scenario, each worked out on first asking.

    A known key is the dict's own ``__getitem__`` (no Python call). Keys are host
    names and callees of the scenario; the bound only guards against a runaway.
    """

    __slots__ = ("lookup",)

    def __init__(self, lookup: Callable[[str], Any]) -> None:
        """No answer yet."""
        super().__init__()
        self.lookup = lookup

    def __missing__(self, key: str) -> Any:
        """Work out the answer for ``key`` and keep it."""
        found = self.lookup(key)
        if len(self) < 4096:
            self[key] = found
        return found


class _Compiled:
    """Everything about a scenario that does not change between runs."""

    def __init__(self, scenario: m.Scenario) -> None:
        """Resolve names, hosts, domains, hop parameters and handlers once."""
        self.scenario = scenario
        self.timers = scenario.timers.config()
        self.nodes: dict[str, m.SipNode] = {n.name: n for n in scenario.nodes}
        self.host_of: dict[str, str] = {n.name: n.host_name for n in scenario.nodes}
        self.hosts: dict[str, str] = {}
        for node in scenario.nodes:
            self.hosts[node.host_name] = node.name
            self.hosts[node.host_name.lower()] = node.name
        for node in scenario.nodes:
            self.hosts.setdefault(node.name, node.name)
        # Domain -> serving nodes: proxies first, then redirect servers, then B2BUAs.
        self.domains: dict[str, list[str]] = {}
        for kind in (m.NodeKind.PROXY, m.NodeKind.REDIRECT, m.NodeKind.B2BUA):
            for node in scenario.nodes:
                if node.kind is kind:
                    for domain in getattr(node, "domains", ()):
                        self.domains.setdefault(domain.lower(), []).append(node.name)
        # A domain no server serves resolves to the UAs whose address-of-record is in
        # it (a direct call to sip:bob@biloxi.example.com with no proxy, RFC 3665 §3.1).
        for node in scenario.nodes:
            if isinstance(node, m.UserAgent) and node.domain:
                key = node.domain.lower()
                if key not in self.domains or all(
                        isinstance(self.nodes.get(n), m.UserAgent) for n in self.domains[key]):
                    self.domains.setdefault(key, []).append(node.name)
        # (link, a->b spec, b->a spec); None for the missing direction of ``link a -> b``.
        self.links: list[tuple[m.Link, HopSpec | None, HopSpec | None]] = []
        seen: dict[frozenset[str], int] = {}
        for link in scenario.links:
            pair = frozenset((link.a, link.b))  # not ``key`` (a domain str above): one type per name
            spec = hop_spec(link)
            if pair in seen and not link.bidirectional and self.links[seen[pair]][2] is None \
                    and self.links[seen[pair]][0].a == link.b:
                # ``link b -> a`` after ``link a -> b``: the missing direction.
                prev_link, fwd, back = self.links[seen[pair]]
                self.links[seen[pair]] = (prev_link, fwd, spec)
                continue
            seen[pair] = len(self.links)
            self.links.append((link, spec, spec if link.bidirectional else None))
        # Per link, once: the stream names of its hops (None: the hop never draws) and its name.
        self.link_plan: list[tuple[str | None, str | None, str]] = [
            (f"link:{link.a}->{link.b}" if fwd is not None and _draws(fwd) else None,
             f"link:{link.b}->{link.a}" if back is not None and _draws(back) else None,
             f"{link.a}-{link.b}")
            for link, fwd, back in self.links
        ]
        self.link_transport: dict[frozenset[str], Transport] = {
            frozenset((link.a, link.b)): link.transport
            for link, _, _ in self.links if link.transport is not None
        }
        self.handlers: dict[str, list[tuple[int, m.Handler, dict[int, Delay]]]] = {}
        for index, handler in enumerate(scenario.handlers):
            waits = {i: delay_of(a.duration) for i, a in enumerate(handler.actions)
                     if isinstance(a, m.Wait)}
            if any(isinstance(a, m.Register) and a.contacts for a in handler.actions):
                handler = replace(handler, actions=tuple(
                    self._bound(a) if isinstance(a, m.Register) else a for a in handler.actions))
            self.handlers.setdefault(handler.node, []).append((index, handler, waits))
        self.locations = [(loc.aor, [self._contact(c) for c in loc.contacts])
                          for loc in scenario.locations]
        self.registrars = [n for n in scenario.nodes
                           if isinstance(n, m.Proxy) and n.registrar]
        self._targets = _Memo(self._dialled)
        # Per ``call`` statement, when and what placing it takes: (at, (index, caller, target,
        # require 100rel, supported 100rel, sdp)); None: the caller's own.
        self.call_plan: list[tuple[float, tuple[int, str, str, bool | None, bool | None, bool]]] = [
            (call.at, (index, call.caller, self.target_of(call.callee),
                       _asks_100rel(call.require), _asks_100rel(call.supported), call.sdp))
            for index, call in enumerate(scenario.calls)
        ]
        # A forged PRACK reaches back into an older call: runs then never retire calls.
        self.forges_prack = any(r.method == "PRACK" for r in scenario.requests)
        # Shortest paths are the same in every run: computed once, shared.
        self.routes: dict[tuple[str, str], list[str] | None] = {}
        self._aors: dict[str, Any] = {}
        self._transports: dict[tuple[str, str], Transport] = {}
        self._ua_options: dict[str, tuple[UAOptions, Transport]] = {}
        self._proxy_options: dict[str, tuple[ProxyOptions, Callable[[str], list[Address]]]] = {}
        # The topology alone (no clock, no streams) answers routing questions for every
        # run, and each run forks it (fresh hops, the run's streams).
        self.topology = Network(simpy.Environment(), routes=self.routes)
        for node in scenario.nodes:
            self.topology.add_node(node.name)
        for (link, forward, backward), (_, _, name) in zip(self.links, self.link_plan):
            self.topology.add_link(link.a, link.b, forward, backward, _IDLE_RNG, _IDLE_RNG,
                                   name=name)
        self.topology.routes = self.routes
        # Per hop, in fork order: its stream name (None: it never draws).
        self.hop_streams: list[str | None] = [
            f"link:{hop.src}->{hop.dst}" if _draws(hop.spec) else None
            for hop in self.topology.hops()
        ]
        # Per hop, in the same order: its key in Result.links.
        self.hop_keys: list[str] = [f"{hop.src}->{hop.dst}" for hop in self.topology.hops()]
        self._core_builders: dict[str, Callable[..., Any]] = {}
        self._registrar_uris: dict[str, str | None] = {}
        # Per node, in declaration order, what every run's agent is made of.
        self.plans: list[_NodePlan] = [self._plan(node) for node in scenario.nodes]
        # What _Run.execute and _Run._schedule read of the scenario in every run.
        self.max_events = scenario.limits.max_events
        self.stop_at = scenario.limits.stop_at
        self.streams = scenario.streams
        self.registrations = tuple(self._bound(reg) for reg in scenario.registrations)
        self.requests = scenario.requests
        self.faults = scenario.faults

    def _plan(self, node: m.SipNode) -> _NodePlan:
        """What every run's agent of ``node`` is made of."""
        behaviours = None
        registrar_uri = None
        if isinstance(node, m.UserAgent):
            # Its handlers indexed once (shared by every run's agent).
            behaviours = Behaviours([CompiledHandler(i, h, waits)
                                     for i, h, waits in self.handlers.get(node.name, ())])
            registrar_uri = self.ua_registrar_uri(node)
        return _NodePlan(node, node.name, node.host_name, self.core_builder(node), registrar_uri,
                         behaviours)

    # ------------------------------------------------------------ routing

    def transport(self, src: str, dst: str) -> Transport:
        """Transport of a SIP hop: the first link on the path that names one, else the scenario's."""
        key = (src, dst)
        found = self._transports.get(key)
        if found is None:
            found = self.scenario.transport
            path = self.topology.path(src, dst) or ()
            for hop in path:
                named = self.link_transport.get(frozenset((hop.src, hop.dst)))
                if named is not None:
                    found = named
                    break
            self._transports[key] = found
        return found

    def _nodes_for(self, host: str) -> list[str]:
        """Nodes a host name or domain resolves to (empty: unknown)."""
        node = self.hosts.get(host) or self.hosts.get(host.lower())
        if node is not None:
            return [node]
        return list(self.domains.get(host.lower(), ()))

    def _ua_resolver(self, src: str) -> Callable[[str], Address | None]:
        """The DNS a UA at ``src`` uses (answers are static: each worked out once)."""
        def resolve(host: str) -> Address | None:
            nodes = self._nodes_for(host)
            return (Address(self.host_of[nodes[0]], 5060, self.transport(src, nodes[0]))
                    if nodes else None)
        return _Memo(resolve).__getitem__

    def _proxy_resolver(self, src: str) -> Callable[[str], list[Address]]:
        """The DNS a proxy at ``src`` uses: every serving node, in order (RFC 3263 §4.3)."""
        def lookup(host: str) -> list[Address]:
            nodes = [n for n in self._nodes_for(host) if n != src] or self._nodes_for(host)
            if not nodes:
                return [Address(host, 5060, self.scenario.transport)]
            return [Address(self.host_of[n], 5060, self.transport(src, n)) for n in nodes]
        answers = _Memo(lookup)

        def resolve(host: str) -> list[Address]:
            return list(answers[host])  # the caller may consume its list
        return resolve

    def _ua_transport(self, node: m.UserAgent) -> Transport:
        """A UA's transport without outbound proxy: that of its first link, else the scenario's."""
        for link, _, _ in self.links:
            if node.name in (link.a, link.b) and link.transport is not None:
                return link.transport
        return self.scenario.transport

    def ua_options(self, node: m.UserAgent) -> tuple[UAOptions, Transport]:
        """The UA core's options and transport (built once per scenario, shared by every run)."""
        cached = self._ua_options.get(node.name)
        if cached is None:
            tags = set(node.supports) | set(node.requires)
            first_hop = node.outbound[0] if node.outbound else None
            transport = self.transport(node.name, first_hop) if first_hop else self._ua_transport(node)
            options = UAOptions(
                supports_100rel="100rel" in tags,
                require_100rel="100rel" in node.requires,
                auto_prack=node.auto_prack,
                auto_trying=node.auto_trying,
                answer_sdp=node.answer_sdp,
                # An `on NODE re-INVITE` handler answers re-INVITEs itself, as `on NODE INVITE` does.
                auto_answer_reinvite=not any(h.node == node.name and h.event.kind is m.EventKind.REINVITE
                                             for h in self.scenario.handlers),
                outbound=tuple(Address(self.host_of[p], 5060, self.transport(node.name, p))
                               for p in node.outbound),
                credentials=next(((c.user, c.password) for c in node.credentials if c.realm is None), None),
                realm_credentials=tuple((c.realm, c.user, c.password) for c in node.credentials
                                        if c.realm is not None),
                resolver=self._ua_resolver(node.name),
            )
            cached = self._ua_options[node.name] = (options, transport)
        return cached

    def b2bua_options(self, node: m.B2BUA) -> tuple[UAOptions, Transport]:
        """A B2BUA's UA core options: its outbound proxies and the scenario's DNS."""
        cached = self._ua_options.get(node.name)
        if cached is None:
            first_hop = node.outbound[0] if node.outbound else None
            transport = (self.transport(node.name, first_hop) if first_hop
                         else self.scenario.transport)
            options = UAOptions(
                supports_100rel=True,
                outbound=tuple(Address(self.host_of[p], 5060, self.transport(node.name, p))
                               for p in node.outbound),
                resolver=self._ua_resolver(node.name),
            )
            cached = self._ua_options[node.name] = (options, transport)
        return cached

    def proxy_options(self, node: m.Proxy) -> tuple[ProxyOptions, Callable[[str], list[Address]]]:
        """A proxy core's options and resolver (built once per scenario)."""
        cached = self._proxy_options.get(node.name)
        if cached is None:
            options = ProxyOptions(
                host=node.host_name,
                transport=self.scenario.transport,
                mode=CoreProxyMode(node.mode.value),
                record_route=node.record_route,
                forking=ForkMode(node.forking.value),
                domains=node.domains,
                registrar=node.registrar,
                auth_realm=node.auth.realm if node.auth else None,
                auth_users=tuple((u.user, u.password) for u in node.auth.users) if node.auth else (),
                timers=self.timers,
                auto_trying=node.auto_trying,
                timeout_code=node.timeout_code,
                branch_timeout=node.branch_timeout,
            )
            cached = self._proxy_options[node.name] = (options, self._proxy_resolver(node.name))
        return cached

    def location(self) -> LocationService:
        """A location service holding the scenario's static entries."""
        location = LocationService()
        for aor, contacts in self.locations:
            for contact in contacts:
                location.add_static(aor, contact)
        return location

    def core_builder(self, node: m.SipNode) -> Callable[..., Any]:
        """``build(rng)`` -> a fresh core of ``node`` drawing from ``rng`` (made once per scenario)."""
        build = self._core_builders.get(node.name)
        if build is not None:
            return build
        if isinstance(node, m.UserAgent):
            options, transport = self.ua_options(node)
            build = _UserAgentCores(node.name, node.host_name, self.aor(node), self.timers,
                                    transport, options)
        elif isinstance(node, m.Proxy):
            proxy_options, resolver = self.proxy_options(node)

            def build(rng: random.Random, node: m.Proxy = node) -> Any:  # type: ignore[misc]
                return ProxyCore(node.name, proxy_options, rng, resolver, self.location())
        elif isinstance(node, m.RedirectServer):
            def build(rng: random.Random,  # type: ignore[misc]
                      node: m.RedirectServer = node) -> Any:
                return RedirectCore(node.name, node.host_name, node.domains, self.location(),
                                    rng, self.timers, node.code)
        elif isinstance(node, m.B2BUA):
            b2bua_options, b2bua_transport = self.b2bua_options(node)
            build = _UserAgentCores(node.name, node.host_name, None, self.timers,
                                    b2bua_transport, b2bua_options)
        else:
            raise ValueError(f"{node.span}: {node.kind.value} nodes are not supported by the engine")
        self._core_builders[node.name] = build
        return build

    def ua_registrar_uri(self, ua: m.UserAgent) -> str | None:
        """:meth:`registrar_uri` of ``ua`` with no registrar named, worked out once."""
        try:
            return self._registrar_uris[ua.name]
        except KeyError:
            uri = self._registrar_uris[ua.name] = self.registrar_uri(ua)
            return uri

    def aor(self, ua: m.UserAgent) -> Any:
        """The UA's address-of-record as a parsed URI (parsed once per scenario, not per run)."""
        uri = self._aors.get(ua.name)
        if uri is None:
            from simsip.sip.message import URI

            uri = self._aors[ua.name] = URI.parse(ua.aor)
        return uri

    def _contact(self, contact: str) -> str:
        """A location entry's contact: a node name becomes that UA's contact URI."""
        node = self.nodes.get(contact)
        if node is None:
            return contact
        user = f"{node.name}@" if isinstance(node, m.UserAgent) else ""
        return f"sip:{user}{node.host_name}"

    def _bound(self, register: _RegisterItem) -> _RegisterItem:
        """A REGISTER (statement or action) whose ``contact`` node names are their contact URIs."""
        if not register.contacts:
            return register
        return replace(register, contacts=tuple(self._contact(c) for c in register.contacts))

    def registrar_uri(self, ua: m.UserAgent, registrar: str | None = None) -> str | None:
        """The Request-URI of a REGISTER by ``ua`` (RFC 3261 §10.2: ``sip:domain``)."""
        if registrar is not None:
            node = self.nodes[registrar]
            domains = getattr(node, "domains", ())
            return f"sip:{domains[0] if domains else node.host_name}"
        if ua.domain and ua.domain.lower() in self.domains:
            return f"sip:{ua.domain}"
        for proxy in self.registrars:
            return f"sip:{proxy.domains[0] if proxy.domains else proxy.host_name}"
        return None

    def target_of(self, callee: str) -> str:
        """What a ``call`` dials: a UA node's address-of-record, or the URI as written (worked out once)."""
        return self._targets[callee]

    def _dialled(self, callee: str) -> str:
        """:meth:`target_of` worked out."""
        node = self.nodes.get(callee)
        if isinstance(node, m.UserAgent):
            return node.aor
        if node is not None:
            return f"sip:{node.host_name}"
        return callee


class _NodePlan:
    """What every run's agent of one node is made of, worked out once per scenario."""

    __slots__ = ("node", "name", "host", "build", "core_stream", "registrar_uri", "behaviours",
                 "handler_streams", "sources")

    def __init__(self, node: m.SipNode, name: str, host: str, build: Callable[..., Any],
                 registrar_uri: str | None, behaviours: Behaviours | None) -> None:
        """``build(rng)`` makes the node's core; a UA has ``behaviours`` and its REGISTERs' ``registrar_uri``."""
        self.node = node
        self.name = name
        self.host = host
        self.build = build
        self.core_stream = f"core:{name}"
        self.registrar_uri = registrar_uri
        self.behaviours = behaviours
        # (handler index, stream name) of each handler that draws.
        self.handler_streams: list[tuple[int, str]] = (
            [(i, f"handler:{i}") for i in behaviours.drawing] if behaviours is not None else [])
        # Source node -> the Address the core is told a message came from (the same in every run).
        self.sources: dict[str, Address] = {}


class _UserAgentCores:
    """``build(rng)`` of a UA or B2BUA node: a :class:`UserAgentCore` with the node's fixed arguments.

    Compiled, the call is a direct one with every argument in place: no
    partial merging keywords and no argument parsing per run.
    """

    __slots__ = ("name", "host", "aor", "timers", "transport", "options")

    def __init__(self, name: str, host: str, aor: Any, timers: TimerConfig, transport: Transport,
                 options: UAOptions) -> None:
        """The arguments every core of this node gets (``aor`` None: ``sip:name@host``)."""
        self.name = name
        self.host = host
        self.aor = aor
        self.timers = timers
        self.transport = transport
        self.options = options

    def __call__(self, rng: random.Random) -> UserAgentCore:
        """A fresh core drawing from ``rng``."""
        return UserAgentCore(self.name, self.host, aor=self.aor, timers=self.timers,
                             transport=self.transport, rng=rng, options=self.options)


# ---------------------------------------------------------------- one run


class _Cores:
    """Makes one node's cores in one run: the first, then one per restart (stream ``core:NODE#k``)."""

    __slots__ = ("build", "seed", "run", "stream", "restarts", "states")

    def __init__(self, build: Callable[..., Any], seed: int, run: int, stream: str, states: bool) -> None:
        """Cores from ``build(rng)`` drawing from ``stream`` (``core:NODE``) in run ``run``; ``states``: trace state changes."""
        self.build = build
        self.seed = seed
        self.run = run
        self.stream = stream
        self.restarts = 0
        self.states = states

    def __call__(self) -> Any:
        """The next core (a restart gets a stream of its own)."""
        k = self.restarts
        self.restarts = k + 1
        core = self.build(_lazy_stream(self.seed, self.run,
                                       f"{self.stream}#{k}" if k else self.stream))
        # Only a full trace shows transaction state changes: otherwise they are not even built.
        core.layer.states = self.states
        return core


def _call_value(wakeup: Wakeup) -> None:
    """Call the function a wakeup carries as its value (what :meth:`_Run._at` queues)."""
    wakeup._value()


class _Run:
    """One replication: environment, network, agents, workload, faults."""

    def __init__(self, compiled: _Compiled, seed: int, run: int, trace: str,
                 until: float | None, counters: NodeCounters | None = None) -> None:
        """Build the run; nothing happens until :meth:`execute`.

        ``counters`` receives the run's node counts as they happen (a batch of runs
        shares one; new ones if None).
        """
        self.c = compiled
        self.seed = seed
        self.run = run
        self.env = _Environment()
        self.sink = make_sink(trace, run, counters)
        self.full = trace == "full"
        self.describe = Describer()
        # The scenario's topology with fresh hops drawing from this run's streams.
        self.network = compiled.topology.fork(
            self.env, self._on_drop,
            [_IDLE_RNG if name is None else _lazy_stream(seed, run, name)
             for name in compiled.hop_streams])
        self.until = until
        self.call_ids: dict[int, str] = {}  # index of a ``call`` statement -> its Call-ID
        self.agents: dict[str, Agent] = {}
        for plan in compiled.plans:
            self.agents[plan.name] = self._agent(plan)
        # Long runs with tracing off fold finished calls for good as they go (see
        # retire_finished).
        self.retiring = not self.full and not compiled.forges_prack
        self.arrivals = 0  # calls placed by the call streams since the last retire_finished
        self.call_streams: list[_Arrivals] = []

    def retire_finished(self) -> None:
        """Fold the calls no event can concern any more into records, and forget them.

        A call is live while anything that can still produce one of its events
        is: a pending timer tagged with its Call-ID, a message of it in flight or
        held by TCP, a behaviour waiting to go on with it, or (at a B2BUA) its
        other leg being live. Nothing else makes a core act, so every other call
        is finished. The folder retires them in call order (the table is the
        same as without retiring) and the B2BUAs forget their legs.
        """
        live: set[str | None] = set()
        agents = self.agents.values()
        for agent in agents:
            for timer in agent._timers.values():
                live.add(timer.call_id)
        packets: list[Packet] = self.network.held()
        for entry in self.env._queue:
            event: object = entry[3]
            if type(event) is Packet:
                packets.append(event)
            elif type(event) is Script:
                live.add(event.call_id)
            elif type(event) is not PendingTimer:  # a Timeout: a TCP retry carries its packet
                value = getattr(event, "_value", None)
                if type(value) is Packet:
                    packets.append(value)
        try:
            for packet in packets:
                live.add(self.describe(packet.message)[1])
        except Exception:  # a message without a Call-ID: nothing can be ruled out
            return
        if None in live:  # a timer of no call: nothing can be ruled out
            return
        b2buas = [agent for agent in agents if isinstance(agent, B2BUAAgent)]
        for agent in b2buas:
            live.update([agent.peer.get(call_id) for call_id in live])
        live.discard(None)
        self.sink.folder.retire_finished(live)
        for agent in b2buas:
            agent.forget_legs(live)
        # The UA cores forget them too: their dialogs and messages are what a long run accumulates.
        for agent in agents:
            calls = getattr(agent.core, "calls", None)
            if calls:
                for call_id in [call_id for call_id in calls if call_id not in live]:
                    del calls[call_id]

    def release(self) -> None:
        """Break this finished run's reference cycles, so that reference counting frees it at once.

        Agents, their cores and transaction layers, the network and the run point
        at one another (the network's receivers and the clock's callbacks are the
        agents' bound methods, the arrivals point back at the run). Left to
        Python's cyclic collector, every run of a sweep leaves a few hundred
        objects behind and the collector takes a fifth of the sweep's time. Only
        :func:`_runs` calls this, once its consumer has taken what it keeps (call
        records, counters and trace events, which point at none of these).
        """
        for agent in self.agents.values():
            agent.release()
        for stream in self.call_streams:
            stream.release()
        self.network.release()  # the clock's queue too: the environment's own

    def _location(self) -> LocationService:
        """A location service holding the scenario's static entries."""
        return self.c.location()

    # ------------------------------------------------------------ agents

    def _agent(self, plan: _NodePlan) -> Agent:
        """The agent for one node, with a core factory that also serves restarts."""
        hosts = self.c.hosts
        cores = _Cores(plan.build, self.seed, self.run, plan.core_stream, self.full)
        node = plan.node
        agent: Agent
        if isinstance(node, m.UserAgent):
            rngs = {i: _lazy_stream(self.seed, self.run, name)
                    for i, name in plan.handler_streams} if plan.handler_streams else _NO_RNGS
            agent = UAAgent(node, plan.host, self.env, self.network, hosts, self.sink, self.describe,
                            cores, plan.behaviours, rngs, plan.registrar_uri)
        elif isinstance(node, m.Proxy):
            agent = ProxyAgent(plan.name, plan.host, self.env, self.network, hosts,
                               self.sink, self.describe, cores)
        elif isinstance(node, m.RedirectServer):
            agent = RedirectAgent(plan.name, plan.host, self.env, self.network, hosts,
                                  self.sink, self.describe, cores)
        else:
            agent = B2BUAAgent(node, self.env, self.network, hosts, self.sink, self.describe,
                               cores)
        agent._sources = plan.sources
        return agent

    # ------------------------------------------------------------ drops

    def _on_drop(self, packet: Packet, hop: Hop | None, reason: str) -> None:
        """A hop lost a packet: one ``drop`` event (TCP segments that TCP recovers are not SIP losses)."""
        if packet.conn is not None and "TCP gave up" not in reason and reason != "node down":
            return
        message = packet.message
        label, call_id, cseq, rseq, rack = self.describe(message)
        node = hop.src if hop is not None else packet.src
        link = hop.name if hop is not None else None
        retransmission = packet.meta or 0
        transport = packet.transport._value_  # not .value: see agents/base.py
        if self.full:
            self.sink.emit(TraceEvent(self.run, self.env._now, "drop", node, packet.src, packet.dst,
                                      label, call_id, cseq, rseq, rack, retransmission, None,
                                      link, transport, reason, message))
        else:
            self.sink.drop(self.env._now, node, packet.src, packet.dst, link, label, call_id, cseq,
                           rseq, rack, retransmission, transport, message)

    # ------------------------------------------------------------ workload and faults

    def _at(self, t: float, fn: Callable[[], Any]) -> None:
        """Run ``fn`` at simulated time ``t`` (a queued callback, ordered as a timeout)."""
        self.network.clock.call_in(max(0.0, t - self.env._now), _call_value, fn)

    def _schedule(self) -> None:
        """Put the workload and the faults on the clock."""
        c = self.c
        clock = self.network.clock
        for at, plan in c.call_plan:
            clock.call_in(max(0.0, at - self.env._now), self._start_call, plan)
        for index, stream_spec in enumerate(c.streams):
            stream = _Arrivals(self, index, stream_spec)
            self.call_streams.append(stream)
            stream.start()
        for reg in c.registrations:
            agent = self.agents[reg.ua]
            assert isinstance(agent, UAAgent)  # the scenario checks that `register` names a UA
            uri = c.registrar_uri(c.nodes[reg.ua], reg.registrar)  # type: ignore[arg-type]
            self._at(reg.at, functools.partial(agent.register, reg.mode, reg.contacts, reg.expires, uri))
        for req in c.requests:
            agent = self.agents[req.source]
            if req.method == "OPTIONS":
                target = c.target_of(req.target)
                self._at(req.at, functools.partial(agent.options, target))
            elif req.method == "PRACK" and req.rack is not None \
                    and isinstance(self.agents.get(req.target), UAAgent):
                victim = self.agents[req.target]
                victim.watch_early = True  # type: ignore[attr-defined]
                transport = c.transport(req.source, req.target)
                self._at(req.at, functools.partial(agent.forge_prack, victim, req.rack, transport))
            else:
                raise ValueError(f"{req.span}: standalone {req.method} requests are not "
                                 "supported by the engine (OPTIONS, and PRACK with rack "
                                 "to a UA node)")
        for fault in c.faults:
            self._fault(fault)

    def _start_call(self, wakeup: Wakeup) -> None:
        """Place the call of a ``call`` statement (``wakeup`` carries what its :attr:`_Compiled.call_plan` entry places)."""
        # Typed: compiled, the plan is unpacked and the call made natively.
        plan: tuple[int, str, str, bool | None, bool | None, bool] = wakeup._value
        index, caller, target, require, supported, sdp = plan
        agent = self.agents[caller]
        assert isinstance(agent, UAAgent)  # the scenario checks that a call's caller is a UA
        call_id = agent.call(target, require, supported, sdp)
        if call_id is not None:
            self.call_ids[index] = call_id

    def _link_name(self, a: str, b: str) -> str:
        """The name of the link between a and b (either order)."""
        for name in (f"{a}-{b}", f"{b}-{a}"):
            if name in self.network.links:
                return name
        raise ValueError(f"no link {a} <-> {b}")

    def _fault(self, fault: m.Fault) -> None:
        """Schedule one fault."""
        net = self.network
        if isinstance(fault, (m.LinkDown, m.LinkUp)):
            name = self._link_name(fault.a, fault.b)
            up = isinstance(fault, m.LinkUp)
            self._at(fault.at, functools.partial(net.set_link_up, name, up))
            if isinstance(fault, m.LinkDown) and fault.duration is not None:
                self._at(fault.at + fault.duration, functools.partial(net.set_link_up, name, True))
        elif isinstance(fault, m.NodeCrash):
            agent = self.agents[fault.node]
            self._at(fault.at, agent.crash)
            if fault.duration is not None:
                self._at(fault.at + fault.duration, agent.restart)
        elif isinstance(fault, m.NodeRestart):
            self._at(fault.at, self.agents[fault.node].restart)
        elif isinstance(fault, m.Drop):
            self.agents[fault.source].drop_rules.append(
                DropRule(fault.message, fault.target, fault.count, fault.after))
        else:
            raise TypeError(f"unknown fault {fault!r}")

    # ------------------------------------------------------------ run

    def execute(self) -> None:
        """Run the clock to the end (no event left, ``stop at`` / ``until``, or ``max events``)."""
        self._schedule()
        c = self.c
        until = self.until if self.until is not None else c.stop_at
        if c.max_events is None:
            if until is None:
                # Stops once only cancelled timers are queued: they would fire into nothing.
                self.network.clock.run()
            else:
                self.env.run(until=until)
            return
        env = self.env
        for _ in range(c.max_events):
            if until is not None and env.peek() >= until:
                break
            try:
                env.step()
            except simpy.core.EmptySchedule:
                break


# Calls placed by the call streams between two sweeps for finished calls (_Run.retire_finished).
RETIRE_EVERY = 256


class _Arrivals:
    """A call stream: Poisson or fixed-interval arrivals, chained timeout callbacks."""

    def __init__(self, run: _Run, index: int, spec: m.CallStream) -> None:
        """Arrivals of the ``index``-th stream, drawing from their own streams."""
        self.run = run
        self.spec = spec
        self.rng = _lazy_stream(run.seed, run.run, f"arrivals:{index}")
        self.pick_rng = _lazy_stream(run.seed, run.run, f"pick:{index}")
        self.count = 0
        self.end = spec.start + spec.duration if spec.duration is not None else math.inf
        if spec.count is None and spec.duration is None and run.until is None \
                and run.c.stop_at is None:
            raise ValueError(f"{spec.span}: a call stream needs 'for DURATION' or 'count N' "
                             "(or a run limit)")
        self.require = _asks_100rel(spec.require)
        self.supported = _asks_100rel(spec.supported)
        self._next_cb = self._arrive

    # What release drops (mypyc lets a compiled class delete only the attributes listed here).
    __deletable__ = ("run", "_next_cb")

    def release(self) -> None:
        """Drop the run and the own bound method (the clock's callbacks point back here)."""
        del self.run, self._next_cb

    def _gap(self) -> float:
        """Time to the next arrival."""
        spec = self.spec
        if spec.arrival is m.Arrival.POISSON and spec.rate is not None:  # validated: POISSON has a rate
            return self.rng.expovariate(spec.rate)
        assert spec.interval is not None  # validated: FIXED has an interval
        return spec.interval

    def start(self) -> None:
        """Schedule the first arrival (at ``start`` for fixed, start + Exp for Poisson)."""
        first = self.spec.start + (self._gap() if self.spec.arrival is m.Arrival.POISSON else 0.0)
        self._schedule(first)

    def _schedule(self, t: float) -> None:
        """Next arrival at ``t`` unless the stream is over."""
        if t >= self.end or (self.spec.count is not None and self.count >= self.spec.count):
            return
        run = self.run
        run.network.clock.call_in(t - run.env._now, self._next_cb)

    def _pick(self, pool: m.Pool) -> str:
        """A member of ``pool`` for this call."""
        members = pool.members
        if self.spec.pick is m.Pick.RANDOM:
            return members[self.pick_rng.randrange(len(members))]
        return members[self.count % len(members)]

    def _arrive(self, _event: Any) -> None:
        """One arrival: place the call, schedule the next."""
        caller = self._pick(self.spec.callers)
        callee = self._pick(self.spec.callees)
        self.count += 1
        run = self.run
        agent = run.agents[caller]
        agent.call(run.c.target_of(callee), self.require, self.supported, self.spec.sdp)  # type: ignore[attr-defined]
        self._schedule(run.env._now + self._gap())
        if run.retiring:
            run.arrivals += 1
            if run.arrivals >= RETIRE_EVERY:
                run.arrivals = 0
                run.retire_finished()


# ---------------------------------------------------------------- expectations


_STAT_KEY = {m.Statistic.SD: "std"}


def _fmt_value(measure: str, value: Any) -> str:
    """An expectation's right-hand side as text: the number in full, as ``simsip convert`` writes it."""
    if isinstance(value, m.Outcome):
        return value.value
    if m.MEASURES.get(measure) is m.MeasureKind.DURATION_MS:
        return f"{fmt_number(float(value))}ms"
    return fmt_number(value) if isinstance(value, float) else str(value)


def expectation_text(e: m.Expectation) -> str:
    """The ``expect`` line as text (``call 1 final_ms < 4000ms``, ``share answered >= 95%``)."""
    parts = []
    if e.call is not None:
        parts.append(f"call {e.call}")
    if e.statistic is m.Statistic.SHARE:
        parts.append(f"share {_fmt_value(e.measure, e.value)} {e.comparison.value} "
                     f"{(e.share or 0.0) * 100:g}%")
        return " ".join(parts)
    if e.statistic is m.Statistic.N and e.measure == "outcome":
        parts.append(f"n {e.comparison.value} {e.value}")  # ``expect n == 1000``: a call count
        return " ".join(parts)
    if e.statistic is not None:
        parts.append(e.statistic.value)
    # ``n pdd_ms >= 900`` counts the calls with a pdd_ms: a number of calls, not milliseconds.
    value = str(e.value) if e.statistic is m.Statistic.N else _fmt_value(e.measure, e.value)
    parts.append(f"{e.measure} {e.comparison.value} {value}")
    return " ".join(parts)


def _statistic(values: list[float], statistic: m.Statistic) -> float | None:
    """One summary statistic of a measure's values."""
    if statistic is m.Statistic.N:
        return len(values)
    if not values:
        return None
    if statistic is m.Statistic.MIN:
        return min(values)
    stats = measure_stats(values)
    return stats[_STAT_KEY.get(statistic, statistic.value)]


def evaluate_expectations(scenario: m.Scenario, calls: CallTable, summary: Mapping[str, Any],
                          call_ids: Mapping[tuple[int, int], str]) -> list[dict[str, Any]]:
    """Check each ``expect`` line against the calls and summary: ``[{text, held, detail}]``.

    ``call_ids`` maps (run, index of the ``call`` statement) to its Call-ID, for
    ``expect call N``.
    """
    results = []
    for e in scenario.expectations:
        text = expectation_text(e)
        if e.statistic is m.Statistic.SHARE:
            outcome = e.value.value if isinstance(e.value, m.Outcome) else str(e.value)
            share = summary.get("outcomes", {}).get(outcome, 0.0)
            held = e.comparison.holds(share, e.share)
            results.append({"text": text, "held": held,
                            "detail": f"share of {outcome} = {share * 100:.4g}% over {len(calls)} calls"})
            continue
        if e.statistic is not None:
            values = calls.values(e.measure) if e.measure not in ("outcome",) else []
            # `expect n == 1000` counts calls (the builder gives it measure outcome).
            got = len(calls) if e.statistic is m.Statistic.N and e.measure == "outcome" else \
                _statistic(values, e.statistic)
            held = got is not None and e.comparison.holds(got, e.value)
            shown = "none" if got is None else f"{got:.6g}"
            if e.statistic is m.Statistic.N and e.measure == "outcome":
                detail = f"{len(calls)} calls"
            else:
                detail = f"{e.statistic.value} {e.measure} = {shown} over {len(values)} values"
            results.append({"text": text, "held": held, "detail": detail})
            continue
        wanted: set[tuple[int, str]] | None = None
        if e.call is not None:
            wanted = {(run, cid) for (run, index), cid in call_ids.items() if index == e.call - 1}
        checked = failed = 0
        first_failure = None
        # Column-wise: one list per field, not one dict per record.
        runs = calls.column("run")
        cids = calls.column("call_id")
        column = calls.column(e.measure) if e.measure in RECORD_FIELDS else [None] * len(runs)
        right = e.value.value if isinstance(e.value, m.Outcome) else e.value
        holds = e.comparison.function  # checked once per call: the operator itself, not a method
        for i, value in enumerate(column):
            if wanted is not None and (runs[i], cids[i]) not in wanted:
                continue
            checked += 1
            if value is None or not holds(value, right):
                failed += 1
                if first_failure is None:
                    first_failure = (runs[i], cids[i], value)
        if checked == 0:
            results.append({"text": text, "held": False, "detail": "no call to check"})
        elif failed:
            run, cid, value = first_failure  # type: ignore[misc]
            results.append({"text": text, "held": False,
                            "detail": f"{failed} of {checked} calls fail; first: run {run} "
                                      f"call {cid} has {e.measure} = {value}"})
        else:
            results.append({"text": text, "held": True,
                            "detail": f"holds for all {checked} calls"})
    return results


# ---------------------------------------------------------------- public API


def load(path_or_text: str | Path, params: Mapping[str, str] | None = None) -> m.Scenario:
    """Read a scenario (``.sip`` or YAML file, or the text itself) with param overrides."""
    from simsip import scenario as scenario_pkg

    loader = getattr(scenario_pkg, "load", None)
    if loader is None:
        raise RuntimeError("the scenario loader (simsip.scenario.load) is not available yet")
    return loader(path_or_text, params=dict(params) if params else None)


# Allocations (less deallocations) between two young-generation collections while runs execute.
# A long run holds hundreds of calls in flight; at Python's default of 700 the collector
# traverses them so often that it takes ~30 % of the run, and finds almost nothing:
# the cores make no reference cycles and a finished run breaks its own (_Run.release).
YOUNG_COLLECTION_THRESHOLD = 100_000


def _runs(compiled: _Compiled, seed: int, first_run: int, runs: int, trace: str,
          until: float | None, counters: NodeCounters) -> Iterator[tuple[int, _Run]]:
    """Execute run indices first_run..first_run+runs-1 one after another, yielding each when done.

    Every run adds its node counts to ``counters``.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], YOUNG_COLLECTION_THRESHOLD), *thresholds[1:])
    try:
        for index in range(first_run, first_run + runs):
            one = _Run(compiled, seed, index, trace, until, counters)
            one.execute()
            yield index, one
            one.release()
    finally:
        gc.set_threshold(*thresholds)


def run_calls(scenario: m.Scenario, runs: int, seed: int = 0, first_run: int = 0) -> CallTable:
    """The per-call measures of runs first_run..first_run+runs-1, tracing off (what a sweep batch needs).

    The same runs as :func:`run`, without the summary, expectations, node and
    link counters it adds: a sweep folds those once over all its batches.
    """
    table = CallTable()
    for _, one in _runs(_Compiled(scenario), seed, first_run, runs, "off", None, NodeCounters()):
        one.sink.records(table)
    return table


PROGRESS_EVERY = 100  # runs between progress(done, runs) calls: a bar moves, the runs barely pay


def run(scenario: m.Scenario | str | Path, runs: int = 1, seed: int = 0,
        params: Mapping[str, str] | None = None, trace: str = "off",
        until: float | None = None, first_run: int = 0,
        progress: Callable[[int, int], None] | None = None) -> Result:
    """Run ``scenario`` ``runs`` times (run indices first_run..first_run+runs-1) and gather the results.

    ``params`` overrides the scenario's params (the scenario is re-read from
    its source file); ``trace`` is ``"off"`` (counters only) or ``"full"``;
    ``until`` stops every run at that simulated time (s). Run index ``r`` is a
    pure function of (scenario, seed, r), so a batch starting at ``first_run``
    gives exactly those runs of a longer serial batch. ``progress(done, runs)``
    is called after every :data:`PROGRESS_EVERY` runs and after the last.
    """
    check_trace_level(trace)
    if runs < 1:
        raise ValueError("runs must be >= 1")
    if until is not None and not until > 0:  # not "<= 0": NaN is no stop time either
        raise ValueError(f"until must be a time after 0 s, got {until!r}")
    if not isinstance(scenario, m.Scenario):
        scenario = load(scenario, params)
    elif params:
        if scenario.source in ("<text>", "<built>") or not Path(scenario.source).exists():
            raise ValueError("params given for a scenario not read from a file; "
                             "pass them to simsip.load instead")
        scenario = load(scenario.source, params)
    compiled = _Compiled(scenario)
    table = CallTable()
    counters = NodeCounters()
    events: list[TraceEvent] = []
    call_ids: dict[tuple[int, int], str] = {}
    # Only ``expect call N`` needs the Call-ID of each run's N-th call: not kept otherwise
    # (a sweep of a million one-call runs would hold a million of them).
    keep_call_ids = any(e.call is not None for e in scenario.expectations)
    links: dict[str, dict[str, int]] = {key: {"sent": 0, "lost": 0} for key in compiled.hop_keys}
    full = trace == "full"
    for index, one in _runs(compiled, seed, first_run, runs, trace, until, counters):
        one.sink.records(table)
        if full:
            events.extend(one.sink.events)
        if keep_call_ids:
            for call_index, call_id in one.call_ids.items():
                call_ids[(index, call_index)] = call_id
        for entry, hop in zip(links.values(), one.network.hops()):
            entry["sent"] += hop.sent
            entry["lost"] += hop.lost
        if progress is not None:
            done = index - first_run + 1
            if done % PROGRESS_EVERY == 0 or done == runs:
                progress(done, runs)
    summary = summarize(table)
    expectations = evaluate_expectations(scenario, table, summary, call_ids)
    return Result(scenario=scenario, seed=seed, runs=runs, calls=table, summary=summary,
                  trace=events, expectations=expectations, counters=counters, links=links,
                  params={p.name: p.value for p in scenario.params})
