"""Summary statistics, Student t, RFC 6076 ratios, JSON shape, CSV and table output."""

from __future__ import annotations

import io
import json
import math

import pytest

from simsip.metrics.measures import OUTCOMES, RECORD_FIELDS, CallTable
from simsip.metrics.summary import (
    MEASURES,
    measure_stats,
    outcome_shares,
    percentile,
    render_table,
    rfc6076,
    summarize,
    t_cdf,
    t_quantile,
    to_csv,
)


def record(call_id: str, outcome: str, final_code: int | None, final_ms: float | None = None,
           completed: bool = False, **extra) -> dict:
    """A full call record with zero counters unless given."""
    base = {name: 0 for name in RECORD_FIELDS}
    base.update(run=0, call_id=call_id, outcome=outcome, final_code=final_code,
                final_ms=final_ms, pdd_ms=None, session_request_delay_ms=None,
                failed_session_request_delay_ms=None, session_disconnect_delay_ms=None,
                completed=completed)
    base.update(extra)
    return base


def test_measure_stats_hand_computed():
    """n, mean, sample std, t-based 95 % CI, type-7 percentiles, max of [1, 2, 3, 4, 10]."""
    stats = measure_stats([1, 2, 3, 4, 10, None])
    assert stats["n"] == 5
    assert stats["mean"] == 4.0
    assert stats["std"] == pytest.approx(math.sqrt(12.5), rel=1e-15)  # 50 / (5 - 1)
    half = 2.7764451051977987 * math.sqrt(12.5) / math.sqrt(5)  # t(0.975, 4)
    assert stats["ci95"] == pytest.approx([4.0 - half, 4.0 + half], rel=1e-12)
    assert stats["p50"] == 3.0
    assert stats["p90"] == pytest.approx(7.6, rel=1e-15)  # 4 + 0.6 * (10 - 4)
    assert stats["p99"] == pytest.approx(9.76, rel=1e-15)  # 4 + 0.96 * 6
    assert stats["max"] == 10.0


def test_measure_stats_small_samples():
    """n = 0: everything None; n = 1: no std, no interval."""
    empty = measure_stats([None, None])
    assert empty == {"n": 0, "mean": None, "std": None, "ci95": None,
                     "p50": None, "p90": None, "p99": None, "max": None}
    one = measure_stats([250.0])
    assert one["n"] == 1 and one["mean"] == 250.0 and one["std"] is None
    assert one["ci95"] is None and one["p99"] == 250.0


def test_measure_stats_constant_sample_has_zero_width_interval():
    """Identical values: std 0 and the interval collapses onto the mean."""
    stats = measure_stats([100.0] * 7)
    assert stats["std"] == 0.0
    assert stats["ci95"] == [100.0, 100.0]


def test_percentile_interpolates_between_order_statistics():
    """Type 7: position (n - 1) * q / 100."""
    data = [10.0, 20.0, 30.0, 40.0]
    assert percentile(data, 0) == 10.0
    assert percentile(data, 50) == 25.0
    assert percentile(data, 100) == 40.0
    assert percentile(data, 90) == pytest.approx(37.0)


@pytest.mark.parametrize("p", [0.9, 0.975, 0.995])
def test_t_quantile_closed_forms_for_one_and_two_degrees_of_freedom(p):
    """t(1) is Cauchy: tan(pi (p - 1/2)); t(2): (2p - 1) / sqrt(2 p (1 - p))."""
    assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-10)
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-10)


@pytest.mark.parametrize(
    "df, expected",
    [(4, 2.7764), (10, 2.2281), (30, 2.0423), (100, 1.9840), (10**8, 1.9600)],
)
def test_t_quantile_table_values(df, expected):
    """Printed t tables (0.975, two-sided 95 %), four decimals; inverse of t_cdf."""
    q = t_quantile(0.975, df)
    assert round(q, 4) == expected
    if df <= 100:
        assert t_cdf(q, df) == pytest.approx(0.975, abs=1e-12)
    assert t_quantile(0.025, df) == -q


def test_t_quantile_large_df_series_meets_bisection():
    """Above 1e5 degrees of freedom the 1/df series agrees with inverting t_cdf."""
    below = t_quantile(0.975, 99_999)
    above = t_quantile(0.975, 100_001)
    assert below > above
    assert below - above == pytest.approx(0.0, abs=1e-9)


def test_t_quantile_rejects_bad_arguments():
    """p outside (0, 1) and non-positive df are errors."""
    with pytest.raises(ValueError):
        t_quantile(1.0, 5)
    with pytest.raises(ValueError):
        t_quantile(0.975, 0)


def rfc_example() -> CallTable:
    """Eight session requests with known final responses."""
    return CallTable([
        record("a", "answered", 200, 100.0, completed=True),
        record("b", "answered", 200, 150.0),
        record("c", "rejected", 486, 90.0),
        record("d", "rejected", 302, 80.0),
        record("e", "rejected", 503, 70.0),
        record("f", "timeout", None),
        record("g", "cancelled", 487, 2000.0),
        record("h", "rejected", 603, 60.0),
    ])


def test_rfc6076_session_establishment_ratio():
    """RFC 6076 §4.6: 200s / (INVITEs - 3xx) = 2 / 7."""
    assert rfc6076(rfc_example())["session_establishment_ratio"] == pytest.approx(100 * 2 / 7)


def test_rfc6076_session_establishment_effectiveness_ratio():
    """RFC 6076 §4.7: (200, 480, 486, 600, 603) / (INVITEs - 3xx) = 4 / 7."""
    value = rfc6076(rfc_example())["session_establishment_effectiveness_ratio"]
    assert value == pytest.approx(100 * 4 / 7)


def test_rfc6076_ineffective_session_attempts_counts_timer_b_as_408():
    """RFC 6076 §4.8: (408, 500, 503, 504) / INVITEs; Timer B is a 408 (RFC 3261 §8.1.3.1)."""
    assert rfc6076(rfc_example())["ineffective_session_attempts"] == 25.0


def test_rfc6076_session_completion_ratio():
    """RFC 6076 §4.9: completed sessions / INVITEs = 1 / 8."""
    assert rfc6076(rfc_example())["session_completion_ratio"] == 12.5


def test_rfc6076_empty_denominators_are_none():
    """Only redirects: SER and SEER undefined; no calls: every ratio undefined."""
    only_3xx = rfc6076(CallTable([record("a", "rejected", 301, 10.0)]))
    assert only_3xx["session_establishment_ratio"] is None
    assert only_3xx["ineffective_session_attempts"] == 0.0
    nothing = rfc6076(CallTable())
    assert all(nothing[k] is None for k in ("session_establishment_ratio",
                                            "session_completion_ratio"))


def test_rfc6076_delays_are_summarised():
    """§4.3 and §4.4 delays get the same statistics as the other measures."""
    table = CallTable([
        record("a", "answered", 200, 100.0, session_request_delay_ms=100.0,
               session_disconnect_delay_ms=100.0),
        record("b", "rejected", 486, 300.0, failed_session_request_delay_ms=300.0),
    ])
    result = rfc6076(table)
    assert result["session_request_delay_ms"]["n"] == 1
    assert result["failed_session_request_delay_ms"]["mean"] == 300.0
    assert result["session_disconnect_delay_ms"]["max"] == 100.0


def test_outcome_shares():
    """Shares of each outcome; every standard outcome is listed, incomplete only when seen."""
    shares = outcome_shares(rfc_example())
    assert shares == {"answered": 0.25, "rejected": 0.5, "timeout": 0.125,
                      "reliability_failure": 0.0, "cancelled": 0.125}
    with_incomplete = outcome_shares([record("x", "incomplete", None)])
    assert with_incomplete["incomplete"] == 1.0


def test_summary_json_shape():
    """Issue 5 item 6: {measure: {n, mean, std, ci95, p50, p90, p99, max}, outcomes, rfc6076}."""
    summary = summarize(rfc_example())
    assert list(summary) == list(MEASURES) + ["outcomes", "rfc6076"]
    for name in MEASURES:
        assert list(summary[name]) == ["n", "mean", "std", "ci95", "p50", "p90", "p99", "max"]
    assert summary["final_ms"]["n"] == 7
    assert summary["invite_retransmissions"]["n"] == 8
    assert set(summary["rfc6076"]) == {
        "session_request_delay_ms", "failed_session_request_delay_ms",
        "session_disconnect_delay_ms", "session_establishment_ratio",
        "session_establishment_effectiveness_ratio", "ineffective_session_attempts",
        "session_completion_ratio"}
    text = json.dumps(summary, allow_nan=False)  # no NaN leaks into JSON
    assert json.loads(text)["final_ms"]["ci95"][0] < summary["final_ms"]["mean"]


def test_summary_accepts_plain_record_dicts():
    """summarize() takes a CallTable or any iterable of record dicts, with equal results."""
    table = rfc_example()
    assert summarize(table.to_records()) == summarize(table)


def test_call_table_round_trip_and_columns():
    """Records survive column-wise storage; missing values come back as None."""
    records = rfc_example().to_records()
    table = CallTable(records)
    assert table.to_records() == records
    assert table.column("final_code") == [200, 200, 486, 302, 503, None, 487, 603]
    assert table.column("outcome")[5] == "timeout"
    assert table.values("final_ms") == [100.0, 150.0, 90.0, 80.0, 70.0, 2000.0, 60.0]
    assert table[-1]["call_id"] == "h"
    other = CallTable(records[:2])
    table.extend(other)
    assert len(table) == 10 and table[9]["call_id"] == "b"
    with pytest.raises(ValueError):
        CallTable([record("z", "exploded", None)])


def test_call_table_is_compact_enough_for_a_million_calls():
    """A million calls with 40-character Call-IDs stay far below 1 GiB."""
    table = CallTable()
    template = record("", "answered", 200, 100.0)
    for i in range(20_000):
        template["call_id"] = f"{i:08d}-a84b4c76e66710@pc33.atlanta"
        table.append(template)
    per_call = table.nbytes() / len(table)
    assert per_call * 1_000_000 < 300 * 2**20


def test_csv_of_call_records():
    """CSV: header of RECORD_FIELDS, empty cells for missing values, true/false."""
    text = to_csv(rfc_example())
    lines = text.splitlines()
    assert lines[0] == ",".join(RECORD_FIELDS)
    assert lines[1].startswith("0,a,answered,200,100.0,,0,")
    assert lines[1].endswith(",,,,true")
    assert lines[6].startswith("0,f,timeout,,,,")
    assert len(lines) == 9


def test_render_table_shows_outcomes_measures_and_rfc6076():
    """The --format table text lists outcomes, every measure's mean/CI/percentiles, RFC 6076."""
    out = io.StringIO()
    text = render_table(summarize(rfc_example()), out, calls=8)
    assert out.getvalue() == text
    for word in ("answered", "25.0 %", "final_ms", "95 % CI", "p99",
                 "session_establishment_ratio", "28.6 %", "session_request_delay_ms"):
        assert word in text
    for outcome in OUTCOMES[:-1]:
        assert outcome in text


def test_call_table_pickles_for_process_pools():
    """Executors ship CallTables between processes: pickling keeps every record."""
    import pickle

    table = rfc_example()
    assert pickle.loads(pickle.dumps(table)).to_records() == table.to_records()
