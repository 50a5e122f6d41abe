"""Delay distributions and loss models for one direction of a link.

Every model draws from a ``random.Random`` it is handed (the link direction's
own stream); none keeps a global generator. Loss models always draw the same
number of values per packet whatever their parameters, so the k-th packet on a
link sees the same uniforms at 5 % and at 10 % loss (common random numbers:
the packets lost at 5 % are a subset of those lost at 10 %).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol


class Delay(Protocol):
    """A one-way delay in seconds, drawn per packet."""

    @property
    def mean(self) -> float:
        """Mean delay (s)."""
        ...

    def sample(self, rng: random.Random) -> float:
        """Draw one delay (seconds, >= 0)."""
        ...


@dataclass(frozen=True, slots=True)
class ConstantDelay:
    """The same delay for every packet; draws nothing."""

    value: float

    @property
    def mean(self) -> float:
        """Mean delay (s)."""
        return self.value

    def sample(self, rng: random.Random) -> float:
        """Return the constant."""
        return self.value


@dataclass(frozen=True, slots=True)
class UniformDelay:
    """Uniform between ``low`` and ``high`` seconds."""

    low: float
    high: float

    @property
    def mean(self) -> float:
        """Mean delay (s)."""
        return 0.5 * (self.low + self.high)

    def sample(self, rng: random.Random) -> float:
        """Draw uniformly in [low, high]."""
        return self.low + (self.high - self.low) * rng.random()


@dataclass(frozen=True, slots=True)
class ExponentialDelay:
    """``minimum`` plus an exponential part of mean ``mean_extra`` (queueing-like)."""

    mean_extra: float
    minimum: float = 0.0

    @property
    def mean(self) -> float:
        """Mean delay (s)."""
        return self.minimum + self.mean_extra

    def sample(self, rng: random.Random) -> float:
        """Draw minimum + Exp(1/mean_extra) by inversion (one uniform per packet)."""
        return self.minimum - self.mean_extra * math.log(1.0 - rng.random())


@dataclass(frozen=True, slots=True)
class NormalDelay:
    """Normal with ``mu`` and ``sigma`` seconds, truncated at 0 (a delay is never negative)."""

    mu: float
    sigma: float

    @property
    def mean(self) -> float:
        """Nominal mean (s); the truncation at 0 is ignored for routing."""
        return self.mu

    def sample(self, rng: random.Random) -> float:
        """Draw N(mu, sigma) clipped at 0."""
        value = rng.gauss(self.mu, self.sigma)
        return value if value > 0.0 else 0.0


@dataclass(frozen=True, slots=True)
class LogNormalDelay:
    """Log-normal delay (seconds); heavy-tailed RTTs.

    ``mu`` and ``sigma`` are those of the underlying normal, worked out once
    from the scenario's mean and sd (``LogNormal.mu_sigma``), not per packet.
    """

    mean_s: float
    mu: float
    sigma: float

    @property
    def mean(self) -> float:
        """Mean delay (s)."""
        return self.mean_s

    def sample(self, rng: random.Random) -> float:
        """Draw exp(N(mu, sigma)); the mean itself when sigma is 0."""
        if self.sigma <= 0.0:
            return self.mean_s
        return rng.lognormvariate(self.mu, self.sigma)


class LossModel(Protocol):
    """Decides, per packet, whether one direction of a link drops it."""

    def lost(self, rng: random.Random) -> bool:
        """Draw the fate of the next packet (advances any internal state)."""
        ...

    def fresh(self) -> "LossModel":
        """A copy with its state reset (each run and direction has its own)."""
        ...


@dataclass(slots=True)
class NoLoss:
    """Never drops; draws nothing."""

    def lost(self, rng: random.Random) -> bool:
        """Never lost."""
        return False

    def fresh(self) -> "NoLoss":
        """Stateless: itself (nothing to reset)."""
        return self


@dataclass(slots=True)
class BernoulliLoss:
    """Each packet is lost independently with probability ``p``."""

    p: float

    def __post_init__(self) -> None:
        """Check 0 <= p <= 1."""
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"loss probability {self.p} outside [0, 1]")

    def lost(self, rng: random.Random) -> bool:
        """One uniform per packet (drawn even at p = 0 or 1 to keep streams aligned)."""
        return rng.random() < self.p

    def fresh(self) -> "BernoulliLoss":
        """Stateless: itself (nothing to reset)."""
        return self


@dataclass(slots=True)
class GilbertElliottLoss:
    """Two-state Markov loss (Gilbert 1960, Elliott 1963).

    ``p`` = P(good -> bad) and ``r`` = P(bad -> good) per packet; a packet is
    lost with probability ``loss_good`` in the good state and ``loss_bad`` in
    the bad state (pure Gilbert: 0 and 1). The chain is in its stationary
    distribution at the first packet, so the long-run loss rate holds from the
    start: ``(r*loss_good + p*loss_bad) / (p + r)``. Each packet draws two
    uniforms: one for the state transition, one for the loss.
    """

    p: float
    r: float
    loss_good: float = 0.0
    loss_bad: float = 1.0
    _bad: bool | None = None

    def __post_init__(self) -> None:
        """Check the probabilities."""
        for name in ("p", "r", "loss_good", "loss_bad"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Gilbert-Elliott {name}={value} outside [0, 1]")
        if self.p + self.r == 0.0:
            raise ValueError("Gilbert-Elliott needs p + r > 0")

    @classmethod
    def from_rate_burst(cls, rate: float, burst: float) -> "GilbertElliottLoss":
        """Pure Gilbert model with long-run loss ``rate`` and mean burst length ``burst`` packets.

        The bad state lasts 1/r packets on average, so r = 1/burst; the
        stationary share of the bad state is p/(p+r) = rate, so p = rate*r/(1-rate).
        """
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Gilbert-Elliott rate {rate} outside [0, 1)")
        if burst < 1.0:
            raise ValueError(f"Gilbert-Elliott mean burst {burst} must be >= 1 packet")
        r = 1.0 / burst
        return cls(p=rate * r / (1.0 - rate), r=r)

    @property
    def rate(self) -> float:
        """Long-run loss probability."""
        return (self.r * self.loss_good + self.p * self.loss_bad) / (self.p + self.r)

    def lost(self, rng: random.Random) -> bool:
        """Advance the chain one packet, then draw the loss in the new state."""
        u_state = rng.random()
        u_loss = rng.random()
        if self._bad is None:
            self._bad = u_state < self.p / (self.p + self.r)
        elif self._bad:
            self._bad = u_state >= self.r
        else:
            self._bad = u_state < self.p
        return u_loss < (self.loss_bad if self._bad else self.loss_good)

    def fresh(self) -> "GilbertElliottLoss":
        """Same parameters, state reset to 'not started'."""
        return GilbertElliottLoss(self.p, self.r, self.loss_good, self.loss_bad)
