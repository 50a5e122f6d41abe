"""Summaries of call records: statistics with confidence intervals, RFC 6076 ratios, output.

:func:`summarize` turns call records (a :class:`~simsip.metrics.measures.CallTable`
or any iterable of record dicts) into the ``"summary"`` object of
``simsip run --format json`` (issue 5, item 6)::

    {measure: {"n", "mean", "std", "ci95": [lo, hi], "p50", "p90", "p99", "max"},
     "outcomes": {outcome: share},
     "rfc6076": {...}}

Statistics (per measure, over the calls where it has a value):

- ``n``: number of values; ``mean``: arithmetic mean;
- ``std``: sample standard deviation (divisor n - 1; None when n < 2);
- ``ci95``: mean -+ t(0.975, n-1) * std / sqrt(n), Student t quantile computed
  here (:func:`t_quantile`); None when n < 2;
- ``p50``, ``p90``, ``p99``: percentiles by linear interpolation between order
  statistics (Hyndman & Fan type 7, the default of numpy and R);
- ``max``: largest value. With n = 0 every entry is None.

The calls are pooled over runs and treated as independent; with many calls per
run they are not quite, and the interval is then optimistic.

RFC 6076 (January 2011), section 4, as defined there, computed at the UAC over
every call ("session request" = initial INVITE of a Call-ID), ratios in percent:

- §4.3 Session Request Delay (SRD): statistics of ``session_request_delay_ms``
  (successful: INVITE -> first 101-199 or 2xx) and of
  ``failed_session_request_delay_ms`` (INVITE -> 4xx-6xx that came first);
- §4.4 Session Disconnect Delay (SDD): statistics of
  ``session_disconnect_delay_ms`` (BYE -> its 2xx or its timeout);
- §4.6 Session Establishment Ratio: 100 * #(final 200) / (#INVITE - #(final 3xx));
- §4.7 Session Establishment Effectiveness Ratio: 100 * #(final 200, 480, 486,
  600 or 603) / (#INVITE - #(final 3xx));
- §4.8 Ineffective Session Attempts: 100 * #(final 408, 500, 503 or 504) /
  #INVITE, a Timer B timeout counting as 408 (RFC 3261 §8.1.3.1);
- §4.9 Session Completion Ratio: 100 * #(completed: answered and ended by a BYE
  that got a 2xx) / #INVITE.

A ratio whose denominator is 0 is None.
"""

from __future__ import annotations

import csv
import io
import functools
import math
from statistics import NormalDist
from typing import IO, Any, Iterable, Mapping

from simsip.metrics.measures import OUTCOMES, RECORD_FIELDS, CallTable

MEASURES = (
    "final_ms",
    "pdd_ms",
    "invite_retransmissions",
    "reliable_1xx_retransmissions",
    "prack_retransmissions",
    "prack_count",
    "ok_retransmissions",
    "messages_sent",
    "messages_lost",
)
"""The per-call measures summarised at the top level of the summary, in order."""

RFC6076_DELAYS = (
    "session_request_delay_ms",
    "failed_session_request_delay_ms",
    "session_disconnect_delay_ms",
)
RFC6076_RATIOS = (
    "session_establishment_ratio",
    "session_establishment_effectiveness_ratio",
    "ineffective_session_attempts",
    "session_completion_ratio",
)

# RFC 6076 §4.7: responses that show the request reached the user.
SEER_CODES = frozenset({200, 480, 486, 600, 603})
# RFC 6076 §4.8: responses that show the network or a server failed.
ISA_CODES = frozenset({408, 500, 503, 504})
# Above this many degrees of freedom a series in 1/df replaces the bisection.
_T_SERIES_DF = 1e5


# ------------------------------------------------------------ Student t


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = tiny if abs(d) < tiny else d
    d = 1.0 / d
    h = d
    for m in range(1, 10000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = tiny if abs(d) < tiny else d
        c = 1.0 + aa / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            return h
    raise ArithmeticError("incomplete beta continued fraction did not converge")


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
        + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(x: float, df: float) -> float:
    """Cumulative distribution function of Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + x * x))
    return 1.0 - tail if x >= 0 else tail


@functools.lru_cache(maxsize=256)
def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t (e.g. ``t_quantile(0.975, 9)`` = 2.2621571628).

    Cached: a summary asks for the same (p, df) once per measure with that many values.
    """
    if not 0.0 < p < 1.0:
        raise ValueError("p must be in (0, 1)")
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    z = NormalDist().inv_cdf(p)
    if df >= _T_SERIES_DF:
        # Cornish-Fisher expansion in 1/df (Abramowitz & Stegun 26.7.5); the next
        # term is O(df**-3), far below float precision here.
        return z + (z**3 + z) / (4.0 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96.0 * df**2)
    # Bracket the root above the normal quantile (t tails are heavier), then bisect.
    lo, hi = z * 0.999, max(z, 1.0)
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return 0.5 * (lo + hi)


# ---------------------------------------------------------- statistics


def percentile(sorted_values: list[float], q: float) -> float:
    """Percentile ``q`` (0-100) of sorted data, linear interpolation (type 7)."""
    if not sorted_values:
        raise ValueError("percentile of no data")
    if not 0.0 <= q <= 100.0:
        raise ValueError("q must be between 0 and 100")
    position = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    a, b = sorted_values[low], sorted_values[high]
    return float(a + (b - a) * fraction) if fraction else float(a)


def measure_stats(values: Iterable[float | None]) -> dict[str, Any]:
    """``{"n","mean","std","ci95","p50","p90","p99","max"}`` of the non-missing values."""
    data = [v for v in values if v is not None and v == v]  # a list comprehension: no call per value
    data.sort()
    n = len(data)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None,
                "p50": None, "p90": None, "p99": None, "max": None}
    mean = math.fsum(data) / n
    std = ci95 = None
    if n >= 2:
        # Two-pass sum of squares: exact enough and stable for large means.
        std = math.sqrt(math.fsum([(v - mean) ** 2 for v in data]) / (n - 1))
        half = t_quantile(0.975, n - 1) * std / math.sqrt(n)
        ci95 = [mean - half, mean + half]
    return {
        "n": n,
        "mean": mean,
        "std": std,
        "ci95": ci95,
        "p50": percentile(data, 50),
        "p90": percentile(data, 90),
        "p99": percentile(data, 99),
        "max": float(data[-1]),
    }


def _as_table(calls: CallTable | Iterable[Mapping[str, Any]]) -> CallTable:
    """Call records as a CallTable (records given as dicts are copied in)."""
    return calls if isinstance(calls, CallTable) else CallTable(calls)


def outcome_shares(calls: CallTable | Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Share (0-1) of each outcome; every standard outcome present, ``incomplete`` only if seen."""
    column = _as_table(calls).column("outcome")
    total = len(column)
    counts = {name: 0 for name in OUTCOMES}
    for outcome in column:
        counts[outcome] += 1
    return {
        name: (counts[name] / total if total else 0.0)
        for name in OUTCOMES
        if name != "incomplete" or counts[name]
    }


def rfc6076(calls: CallTable | Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The RFC 6076 end-to-end measures of a set of calls (see module docstring)."""
    table = _as_table(calls)
    codes = table.column("final_code")
    outcomes = table.column("outcome")
    completed = table.column("completed")
    invites = len(codes)
    # List comprehensions, not generators: no Python call per call record.
    redirected = len([c for c in codes if c is not None and 300 <= c < 400])
    established = len([c for c in codes if c == 200])
    effective = len([c for c in codes if c in SEER_CODES])
    ineffective = len(
        [c for c, o in zip(codes, outcomes) if c in ISA_CODES or (c is None and o == "timeout")]
    )
    done = len([flag for flag in completed if flag])
    not_redirected = invites - redirected

    def pct(num: int, den: int) -> float | None:
        """Percentage, None for an empty denominator."""
        return 100.0 * num / den if den else None

    result: dict[str, Any] = {name: measure_stats(table.column(name)) for name in RFC6076_DELAYS}
    result["session_establishment_ratio"] = pct(established, not_redirected)
    result["session_establishment_effectiveness_ratio"] = pct(effective, not_redirected)
    result["ineffective_session_attempts"] = pct(ineffective, invites)
    result["session_completion_ratio"] = pct(done, invites)
    return result


def summarize(calls: CallTable | Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``"summary"`` object of ``--format json`` for these call records."""
    table = _as_table(calls)
    summary: dict[str, Any] = {name: measure_stats(table.column(name)) for name in MEASURES}
    summary["outcomes"] = outcome_shares(table)
    summary["rfc6076"] = rfc6076(table)
    return summary


# --------------------------------------------------------------- output


def write_csv(calls: CallTable | Iterable[Mapping[str, Any]], out: IO[str]) -> int:
    """Write the call records as CSV (header :data:`RECORD_FIELDS`, empty = missing)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RECORD_FIELDS)
    count = 0
    for record in calls:
        row = []
        for name in RECORD_FIELDS:
            value = record.get(name)
            if value is None:
                row.append("")
            elif isinstance(value, bool):
                row.append("true" if value else "false")
            else:
                row.append(value)
        writer.writerow(row)
        count += 1
    return count


def to_csv(calls: CallTable | Iterable[Mapping[str, Any]]) -> str:
    """The CSV text of the call records."""
    buffer = io.StringIO()
    write_csv(calls, buffer)
    return buffer.getvalue()


def _fmt(value: Any, digits: int = 1) -> str:
    """A number for the table; an en dash when missing."""
    if value is None:
        return "–"
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _stats_row(name: str, stats: Mapping[str, Any]) -> list[str]:
    """One table row: measure, n, mean, CI, p50, p90, p99, max."""
    ci = stats.get("ci95")
    ci_text = "–" if ci is None else f"[{_fmt(ci[0], 2)}, {_fmt(ci[1], 2)}]"
    return [
        name,
        str(stats["n"]),
        _fmt(stats["mean"], 2),
        ci_text,
        _fmt(stats["p50"]),
        _fmt(stats["p90"]),
        _fmt(stats["p99"]),
        _fmt(stats["max"]),
    ]


def _stats_table(title: str, names: Iterable[str], stats: Mapping[str, Any]) -> Any:
    """A rich table with one :func:`_stats_row` per name present in ``stats``."""
    from rich.table import Table

    table = Table(title=title)
    for i, header in enumerate(["measure", "n", "mean", "95 % CI", "p50", "p90", "p99", "max"]):
        table.add_column(header, justify="left" if i == 0 else "right")
    for name in names:
        if name in stats:
            table.add_row(*_stats_row(name, stats[name]))
    return table


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless n is 1: "1 call", "2 calls"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def summary_tables(summary: Mapping[str, Any], calls: int | None = None) -> list[Any]:
    """Rich tables of a summary: outcomes, measures, RFC 6076."""
    from rich.table import Table

    outcomes = Table(title="Outcomes" if calls is None else f"Outcomes ({counted(calls, 'call')})")
    outcomes.add_column("outcome")
    if calls is not None:
        outcomes.add_column("calls", justify="right")
    outcomes.add_column("share", justify="right")
    for name, share in summary["outcomes"].items():
        row = [name]
        if calls is not None:
            row.append(str(round(share * calls)))
        row.append(f"{100.0 * share:.1f} %")
        outcomes.add_row(*row)

    measures = _stats_table("Per-call measures", MEASURES, summary)

    rfc = summary.get("rfc6076", {})
    tables = [outcomes, measures]
    if rfc:
        delays = _stats_table("RFC 6076 delays", RFC6076_DELAYS, rfc)
        ratios = Table(title="RFC 6076 ratios")
        ratios.add_column("ratio")
        ratios.add_column("value", justify="right")
        for name in RFC6076_RATIOS:
            if name in rfc:
                value = rfc[name]
                ratios.add_row(name, "–" if value is None else f"{value:.1f} %")
        tables += [delays, ratios]
    return tables


def render_table(
    summary: Mapping[str, Any], out: IO[str] | None = None, calls: int | None = None
) -> str:
    """Render a summary as rich tables (to ``out`` if given) and return the text."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=110, color_system=None, force_terminal=False)
    for table in summary_tables(summary, calls):
        console.print(table)
    text = buffer.getvalue()
    if out is not None:
        out.write(text)
    return text
