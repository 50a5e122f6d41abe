"""The simulated network on SimPy: topology, link hops, delay and loss models, UDP and TCP."""

from __future__ import annotations

from simsip.net.models import (
    BernoulliLoss,
    ConstantDelay,
    ExponentialDelay,
    GilbertElliottLoss,
    LogNormalDelay,
    NoLoss,
    NormalDelay,
    UniformDelay,
)
from simsip.net.network import (
    TCP_MAX_RETRANSMISSIONS,
    TCP_MIN_RTO,
    Hop,
    HopSpec,
    Network,
    Packet,
    wire_size,
)

__all__ = [
    "BernoulliLoss", "ConstantDelay", "ExponentialDelay", "GilbertElliottLoss",
    "LogNormalDelay", "NoLoss", "NormalDelay", "UniformDelay",
    "TCP_MAX_RETRANSMISSIONS", "TCP_MIN_RTO", "Hop", "HopSpec", "Network", "Packet",
    "wire_size",
]
