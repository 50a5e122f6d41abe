r"""Exact expected measures of simple cases, computed without the simulator.

The simulator's statistics under random loss are checked against these values
(issue 5, "Must show"; STYLE.md on Ciw checking results against theory).

Direct call over one lossy UDP hop
----------------------------------
:func:`direct_call_expectations` covers: alice (UAC) and bob (UAS) joined by
one UDP link, one-way delay ``d`` with no jitter, Bernoulli loss ``p`` on each
direction, every message lost independently; bob answers every INVITE with a
2xx at once (no provisional; the INVITE server transaction would send
100 Trying only 200 ms later, RFC 3261 §17.2.1, and the immediate 2xx
pre-empts it); RFC 3261 with RFC 6026. Time 0 is the first INVITE
transmission; ``B = 64*T1``.

1. INVITE transmissions (RFC 3261 §17.1.1.2). In Calling, Timer A starts at T1
   and doubles with no ceiling, so the k-th transmission (k = 0, 1, ...) is at
   ``s_k = T1 * (2**k - 1)``; Timer B fires at ``B``, so the transmissions are
   those with ``s_k < B``: k = 0..6, seven of them, whatever T1 is
   (0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s for T1 = 500 ms). The first 1xx or
   2xx received stops them (Calling -> Proceeding / Accepted).

2. bob's 2xx (RFC 3261 §13.3.1.4, RFC 6026 §8.1). Let ``J`` be the index of
   the first INVITE copy that is not lost: ``P(J = j) = p**j * (1 - p)`` for
   j = 0..6, and with probability ``p**7`` no copy arrives (timeout). bob
   answers at ``s_J + d`` and its UA core retransmits the 2xx on its own timer:
   offsets ``o_0 = 0``, then intervals T1, 2T1, 4T1, ... capped at T2, for as
   long as ``o_m < 64*T1`` (11 copies for T1 = 0.5 s, T2 = 4 s: 0, 0.5, 1.5,
   3.5, 7.5, 11.5, ..., 31.5 s), until an ACK arrives. Later INVITE copies
   reaching bob find the server transaction in Accepted and are absorbed
   (RFC 6026 §7.1): they trigger no further 2xx. So the 2xx copies are driven
   only by bob's timer, and the copies sent before any ACK can arrive are
   independent of the INVITE retransmissions.

3. First 2xx at alice. Let ``F`` be the index of the first 2xx copy not lost:
   ``P(F = m) = p**m * (1 - p)`` for m < M (M = number of 2xx offsets). No ACK
   can stop bob before alice has received a 2xx, so copies 0..F are all sent,
   and copy F arrives at ``R = s_J + 2d + o_F``. The call is answered when
   ``R < B`` (Timer B only acts in Calling, and alice stays in Calling until
   this 2xx since bob sends no 1xx); otherwise (R >= B, or every 2xx copy
   lost) Timer B ends it: outcome timeout, no final response.

   final_ms = 1000 * R, with probability ``p**J (1-p) * p**F (1-p)`` for each
   (J, F) with R < B.

4. invite_retransmissions. Answered: the INVITE copies sent before R,
   ``#{k <= 6 : s_k < R} - 1``. Timeout: all seven were sent, 6.

5. ok_retransmissions (answered calls). alice's UA core ACKs every 2xx copy it
   receives (RFC 3261 §13.2.2.4), at once; the ACK reaches bob ``d`` later.
   Copy F's ACK arrives with probability 1 - p; each later copy i is ACKed
   back when both the copy and its ACK survive, probability (1 - p)**2. With
   ``G`` the first copy (>= F) whose ACK reaches bob, at ``s_J + 3d + o_G``,
   bob sends exactly the copies with ``o_i < o_G + 2d`` (and ``o_i < 64*T1``);
   with no such G, all M copies. ok_retransmissions = copies sent - 1.

Ties (a 2xx arriving exactly when Timer A or B fires, an ACK arriving exactly
when a 2xx copy is due, a copy due exactly at 64*T1) have positive probability
only for special delays (2d a multiple of T1/2 with the defaults). The rules
above resolve them as: a received message is processed before a timer due at
the same instant, and the 64*T1 give-up comes before a copy due at 64*T1.

Everything is a finite sum over (J, F, G), computed exactly in floating point.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

# RFC 3261 §17.1.1.2: Timer B = 64*T1; RFC 3261 §13.3.1.4: the UAS core stops
# retransmitting the 2xx after 64*T1.
_TIMEOUT_FACTOR = 64.0


def invite_send_times(t1: float) -> list[float]:
    """INVITE transmission times in Calling over UDP: T1*(2**k - 1) before Timer B."""
    limit = _TIMEOUT_FACTOR * t1
    times: list[float] = []
    k = 0
    while t1 * (2**k - 1) < limit:
        times.append(t1 * (2**k - 1))
        k += 1
    return times


def ok_send_offsets(t1: float, t2: float) -> list[float]:
    """Offsets of the UAS core's 2xx copies from the first: T1 doubling capped at T2, < 64*T1."""
    limit = _TIMEOUT_FACTOR * t1
    offsets = [0.0]
    interval = t1
    while offsets[-1] + interval < limit:
        offsets.append(offsets[-1] + interval)
        interval = min(2.0 * interval, t2)
    return offsets


def _moments(dist: dict[float, float]) -> tuple[float, float]:
    """Mean and variance of a distribution {value: probability} (probabilities sum to 1)."""
    mean = math.fsum(v * q for v, q in dist.items())
    var = math.fsum((v - mean) ** 2 * q for v, q in dist.items())
    return mean, var


def _conditional(dist: dict[float, float]) -> dict[float, float]:
    """Normalise a sub-probability distribution (sorted by value)."""
    total = math.fsum(dist.values())
    return {v: dist[v] / total for v in sorted(dist)} if total else {}


def direct_call_expectations(
    delay: float = 0.05, loss: float = 0.2, t1: float = 0.5, t2: float = 4.0
) -> dict[str, Any]:
    """Exact outcome shares and moments of final_ms, invite_retransmissions and ok_retransmissions.

    ``delay`` is one-way (s), ``loss`` the Bernoulli loss probability of each
    direction. Keys: ``p_answered``, ``p_timeout``; ``final_ms_mean``,
    ``final_ms_var``, ``final_ms_std``, ``final_ms_distribution`` (ms ->
    probability), all over answered calls (the only ones with a final
    response); ``invite_retransmissions_mean`` / ``_var`` / ``_std`` /
    ``_distribution`` over all calls, and ``invite_retransmissions_mean_answered``;
    ``ok_retransmissions_mean`` / ``_var`` / ``_std`` / ``_distribution`` over
    answered calls. See the module docstring for the derivation.
    """
    if not 0.0 <= loss < 1.0:
        raise ValueError("loss must be in [0, 1)")
    if delay < 0 or t1 <= 0 or t2 <= 0:
        raise ValueError("delay must be >= 0, T1 and T2 > 0")
    p = loss
    timer_b = _TIMEOUT_FACTOR * t1
    sends = invite_send_times(t1)
    offsets = ok_send_offsets(t1, t2)
    n_sends, n_ok = len(sends), len(offsets)
    ack_ok = 1.0 - p  # copy F reached alice; only its ACK can be lost
    round_trip_ok = (1.0 - p) ** 2  # a later copy and its ACK both survive

    final_ms: dict[float, float] = {}
    invite_rtx: dict[float, float] = {}
    ok_rtx: dict[float, float] = {}
    p_answered = 0.0
    for j, s_j in enumerate(sends):
        p_j = p**j * (1.0 - p)
        for m, o_m in enumerate(offsets):
            p_jm = p_j * p**m * (1.0 - p)
            arrival = s_j + 2.0 * delay + o_m
            if not arrival < timer_b:
                continue
            p_answered += p_jm
            ms = round(arrival * 1000.0, 9)
            final_ms[ms] = final_ms.get(ms, 0.0) + p_jm
            rtx = float(sum(1 for s in sends if s < arrival) - 1)
            invite_rtx[rtx] = invite_rtx.get(rtx, 0.0) + p_jm
            # G: first copy >= m whose ACK reaches bob.
            none_yet = 1.0
            for g in range(m, n_ok):
                success = ack_ok if g == m else round_trip_ok
                p_g = none_yet * success
                none_yet *= 1.0 - success
                copies = sum(1 for o in offsets if o < offsets[g] + 2.0 * delay)
                key = float(copies - 1)
                ok_rtx[key] = ok_rtx.get(key, 0.0) + p_jm * p_g
            key = float(n_ok - 1)
            ok_rtx[key] = ok_rtx.get(key, 0.0) + p_jm * none_yet
    p_timeout = 1.0 - p_answered
    timeout_rtx = float(n_sends - 1)
    invite_all = dict(invite_rtx)
    invite_all[timeout_rtx] = invite_all.get(timeout_rtx, 0.0) + p_timeout

    final_dist = _conditional(final_ms)
    invite_dist = {v: invite_all[v] for v in sorted(invite_all)}
    ok_dist = _conditional(ok_rtx)
    final_mean, final_var = _moments(final_dist)
    invite_mean, invite_var = _moments(invite_dist)
    invite_answered_mean, _ = _moments(_conditional(invite_rtx))
    ok_mean, ok_var = _moments(ok_dist)
    return {
        "delay": delay,
        "loss": loss,
        "t1": t1,
        "t2": t2,
        "p_answered": p_answered,
        "p_timeout": p_timeout,
        "outcomes": {"answered": p_answered, "timeout": p_timeout},
        "final_ms_mean": final_mean,
        "final_ms_var": final_var,
        "final_ms_std": math.sqrt(final_var),
        "final_ms_distribution": final_dist,
        "invite_retransmissions_mean": invite_mean,
        "invite_retransmissions_var": invite_var,
        "invite_retransmissions_std": math.sqrt(invite_var),
        "invite_retransmissions_distribution": {int(v): q for v, q in invite_dist.items()},
        "invite_retransmissions_mean_answered": invite_answered_mean,
        "ok_retransmissions_mean": ok_mean,
        "ok_retransmissions_var": ok_var,
        "ok_retransmissions_std": math.sqrt(ok_var),
        "ok_retransmissions_distribution": {int(v): q for v, q in ok_dist.items()},
    }


def within_standard_errors(
    expected_mean: float, expected_var: float, sample: Iterable[float], k: float = 3.0
) -> tuple[bool, float, float]:
    """Is the sample mean within ``k`` standard errors (from the exact variance) of the exact mean?

    Returns ``(ok, sample_mean, k * standard_error)``.
    """
    values = [float(v) for v in sample if v is not None]
    if not values:
        raise ValueError("empty sample")
    mean = math.fsum(values) / len(values)
    tolerance = k * math.sqrt(expected_var / len(values))
    # The 1e-9 slack absorbs float rounding when the exact variance is 0 (no loss).
    return abs(mean - expected_mean) <= tolerance + 1e-9, mean, tolerance
