"""Proxy and redirect-server agents: drive a ProxyCore or a RedirectServer at one node.

The location service (static ``location`` entries, REGISTER bindings when the
proxy is also the registrar) belongs to the node; a crash loses the REGISTER
bindings (soft state, RFC 3261 §10.2.1) but not the static entries, which the
factory puts back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import simpy

from simsip.agents.base import Agent, Describer

if TYPE_CHECKING:
    from simsip.metrics.trace import TraceSink
    from simsip.net.network import Network


class CoreAgent(Agent):
    """An agent whose core needs no application: a proxy, registrar or redirect server."""

    def __init__(self, name: str, host: str, env: simpy.Environment, network: "Network",
                 hosts: dict[str, str], sink: "TraceSink", describer: Describer, core_factory: Any) -> None:
        """``core_factory()`` builds a fresh core (at start and after a restart)."""
        super().__init__(name, host, env, network, hosts, sink, describer)
        self.core_factory = core_factory
        self.core = core_factory()
        self._app_interest = frozenset()  # no application: on_app_event does nothing


class ProxyAgent(CoreAgent):
    """A proxy (stateless or stateful, optionally registrar) at one node."""


class RedirectAgent(CoreAgent):
    """A redirect server at one node."""
