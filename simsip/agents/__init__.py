"""SimPy agents: the drivers that run the sans-IO SIP cores on the simulated network.

- :mod:`simsip.agents.base`: :class:`Agent` (timers by token, sends, receives,
  crash/restart, ``drop`` faults) and the per-run :class:`Describer`;
- :mod:`simsip.agents.ua`: :class:`UAAgent`, a UA core plus the scenario's
  ``on NODE EVENT:`` behaviours;
- :mod:`simsip.agents.proxy`: :class:`ProxyAgent` (proxy, registrar, location
  service) and :class:`RedirectAgent`;
- :mod:`simsip.agents.b2bua`: :class:`B2BUAAgent`, two UA legs back to back.

The engine (:mod:`simsip.engine`) builds them from a scenario, one per node.
"""

from __future__ import annotations

from simsip.agents.b2bua import B2BUAAgent
from simsip.agents.base import Agent, Describer, DropRule
from simsip.agents.proxy import ProxyAgent, RedirectAgent
from simsip.agents.ua import UAAgent

__all__ = ["Agent", "B2BUAAgent", "Describer", "DropRule", "ProxyAgent", "RedirectAgent", "UAAgent"]
