"""The sweep result: per-point summary with CIs, outcome shares, HTML view, plots."""

from __future__ import annotations

import math

import matplotlib
import pytest
import standin

from simsip.experiment import SweepResult, mean_ci_text, sweep
from simsip.metrics.summary import MEASURES as SUMMARY_MEASURES

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def result() -> SweepResult:
    """Stand-in sweep: 3 losses x 2 delays, 50 runs each."""
    return sweep(
        "scenario.sip", {"loss": "0:20%:10%", "delay": "20ms,300ms"}, runs=50, seed=1,
        executor="serial", prepare=standin.prepare, run_chunk=standin.run_chunk,
    )


def test_summary_has_one_row_per_point_and_measure_with_ci_columns(result: SweepResult) -> None:
    summary = result.summary
    assert len(summary) == 6 * len(SUMMARY_MEASURES)
    assert list(summary.columns) == [
        "point", "loss", "delay", "measure", "n", "mean", "std", "ci_low", "ci_high", "p50", "p90", "p99", "max",
    ]
    row = summary[(summary["point"] == 5) & (summary["measure"] == "reliable_1xx_retransmissions")].iloc[0]
    values = result.calls.loc[result.calls["point"] == 5, "reliable_1xx_retransmissions"]
    assert row["n"] == 50 and row["loss"] == 20.0 and row["delay"] == 300.0
    assert row["mean"] == pytest.approx(values.mean())
    half = row["ci_high"] - row["mean"]
    # t(0.975, 49) = 2.0096: the CI is the metrics engineer's Student t interval.
    assert half == pytest.approx(2.009575 * values.std() / math.sqrt(50), rel=1e-5)
    final = summary[(summary["point"] == 1) & (summary["measure"] == "final_ms")].iloc[0]
    assert final["mean"] == 2600.0 and final["std"] == 0.0


def test_outcomes_give_count_and_share_per_point(result: SweepResult) -> None:
    outcomes = result.outcomes
    answered = outcomes[outcomes["outcome"] == "answered"]
    assert list(answered["calls"]) == [50] * 6 and list(answered["share"]) == [1.0] * 6
    assert set(outcomes["outcome"]) == {"answered", "rejected", "timeout", "reliability_failure", "cancelled"}


def test_html_view_names_the_points_and_shows_mean_and_ci(result: SweepResult) -> None:
    html = result._repr_html_()
    assert "loss=0:20%:10% (3) x delay=20ms,300ms (2) = 6 points" in html
    assert "loss=10%, delay=300ms" in html
    assert "2600 [2600, 2600]" in html
    assert repr(result).startswith("<SweepResult 'scenario.sip': loss=0:20%:10% (3)")


def test_mean_ci_text_scales_decimals() -> None:
    assert mean_ci_text(2600.0, 2590.4, 2609.6) == "2600 [2590, 2610]"
    assert mean_ci_text(0.256, 0.1, 0.4) == "0.26 [0.10, 0.40]"
    assert mean_ci_text(None, None, None) == "–"
    assert mean_ci_text(12.0, None, None) == "12.0"


def test_measure_plot_draws_one_line_and_band_per_delay(result: SweepResult) -> None:
    ax = result.plot("reliable_1xx_retransmissions")
    assert ax.get_xlabel() == "loss (%)"
    assert [line.get_label() for line in ax.get_lines()] == ["delay=20ms", "delay=300ms"]
    assert list(ax.get_lines()[0].get_xdata()) == [0.0, 10.0, 20.0]
    assert len(ax.collections) == 2  # the CI bands
    ax = result.plot("final_ms", x="delay")
    assert [line.get_label() for line in ax.get_lines()] == ["loss=0%", "loss=10%", "loss=20%"]
    assert list(ax.get_lines()[2].get_ydata()) == [2040.0, 2600.0]


def test_cdf_and_outcome_plots(result: SweepResult) -> None:
    ax = result.plot_cdf("pdd_ms")
    assert len(ax.get_lines()) == 6
    assert ax.get_lines()[0].get_ydata()[-1] == 1.0
    ax = result.plot_outcomes()
    heights = [patch.get_height() for patch in ax.patches]
    assert heights[:6] == [1.0] * 6


def test_plot_errors_name_what_exists(result: SweepResult) -> None:
    with pytest.raises(ValueError, match="no measure 'jitter_ms'"):
        result.plot("jitter_ms")
    with pytest.raises(ValueError, match=r"'rate' is not a swept param \(swept: loss, delay\)"):
        result.plot("final_ms", x="rate")


def test_label_prefixes_legend_entries_to_compare_sweeps(result: SweepResult) -> None:
    ax = result.plot("final_ms", label="stand-in")
    assert [line.get_label() for line in ax.get_lines()] == ["stand-in, delay=20ms", "stand-in, delay=300ms"]
    ax = result.plot_cdf("final_ms", label="B")
    assert ax.get_lines()[0].get_label() == "B, loss=0%, delay=20ms"


def test_compact_mean_ci_text_gives_the_half_width() -> None:
    assert mean_ci_text(2600.0, 2590.4, 2609.6, compact=True) == "2600 ± 10"
    assert mean_ci_text(0.25, 0.1, 0.4, compact=True) == "0.25 ± 0.15"


def test_outcomes_frame_lists_every_outcome_seen_at_every_point() -> None:
    result = sweep(
        "s.sip", {"loss": "0%,60%"}, runs=40, seed=1, executor="serial",
        prepare=standin.prepare, run_chunk=standin.incomplete_at_high_loss,
    )
    outcomes = result.outcomes
    # "incomplete" only happens at 60 % loss, yet both points list it.
    assert list(outcomes.groupby("point").size()) == [6, 6]
    at_zero = outcomes[outcomes["point"] == 0].set_index("outcome")
    assert at_zero.loc["incomplete", "calls"] == 0 and at_zero.loc["answered", "share"] == 1.0
    at_sixty = outcomes[outcomes["point"] == 1].set_index("outcome")
    assert at_sixty.loc["incomplete", "calls"] + at_sixty.loc["answered", "calls"] == 40
    assert at_sixty.loc["incomplete", "calls"] > 0
    result.plot_outcomes()
