"""Param axes and grids: lists, linear ranges, log ranges, and their errors."""

from __future__ import annotations

import pytest

from simsip.experiment import Grid, SweepError, chunk_size, make_tasks, parse_axis, parse_param_option


def test_percent_range_includes_the_stop_when_a_step_lands_on_it() -> None:
    axis = parse_axis("loss", "0:30%:5%")
    assert axis.values == ("0%", "5%", "10%", "15%", "20%", "25%", "30%")
    assert axis.numbers == (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0)
    assert axis.unit == "%"
    assert axis.label == "loss (%)"


def test_range_stops_before_a_stop_off_the_step() -> None:
    assert parse_axis("loss", "0:12%:5%").values == ("0%", "5%", "10%")


def test_decimal_steps_do_not_drift() -> None:
    # In floats 0.1 + 0.1 + 0.1 > 0.3, which would drop the last value.
    assert parse_axis("p", "0.1:0.3:0.1").values == ("0.1", "0.2", "0.3")


def test_duration_range_is_written_in_its_finest_unit_and_tabled_in_ms() -> None:
    axis = parse_axis("delay", "0:1s:250ms")
    assert axis.values == ("0ms", "250ms", "500ms", "750ms", "1000ms")
    assert axis.numbers == (0.0, 250.0, 500.0, 750.0, 1000.0)
    assert axis.unit == "ms"


def test_log_range_has_both_ends_exact_and_inner_values_to_six_digits() -> None:
    axis = parse_axis("delay", "log:10ms:1s:5")
    assert axis.values == ("10ms", "31.6228ms", "100ms", "316.228ms", "1000ms")
    assert axis.numbers == (10.0, 31.6228, 100.0, 316.228, 1000.0)


def test_list_keeps_values_as_written_and_a_bare_zero_takes_the_unit() -> None:
    """The bare 0 is handed to the scenario with the unit too: it reads `loss=0` as a whole number."""
    axis = parse_axis("loss", "0, 5%,10%")
    assert axis.values == ("0%", "5%", "10%")
    assert axis.numbers == (0.0, 5.0, 10.0)
    assert axis.unit == "%"
    assert parse_axis("delay", "20ms,0,1s").values == ("20ms", "0ms", "1s")
    assert parse_axis("burst", "0,4").values == ("0", "4")  # bare numbers stay bare


def test_a_bare_zero_beside_a_written_zero_is_listed_twice() -> None:
    with pytest.raises(SweepError, match=r"^param loss=0,0%,5%: value 0% listed twice$"):
        parse_axis("loss", "0,0%,5%")


def test_list_of_text_is_not_numeric() -> None:
    axis = parse_axis("transport", "udp,tcp")
    assert axis.values == ("udp", "tcp")
    assert axis.numbers is None and axis.unit is None


def test_python_values_and_single_values() -> None:
    assert parse_axis("runs", [1, 2]).values == ("1", "2")
    assert parse_axis("loss", "5%").values == ("5%",)
    assert parse_axis("rate", "60/min:2/s:20/min").numbers[-1] == 2.0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("0:30%:0", "the step is zero"),
        ("30%:0:5%", "the step moves away from the stop"),
        ("0:30ms:5%", "the range mixes units"),
        ("1:2", "a range is START:STOP:STEP"),
        ("a:1:2", "'a' is not a number"),
        ("0:５%:1%", "'５%' is not a number"),  # ASCII digits only
        ("log:0:1s:3", "a log range needs positive ends"),
        ("log:1s:2s:1", "N must be a whole number >= 2"),
        ("a,,b", "empty value in the list"),
        ("5%,5%", "value 5% listed twice"),
        ("0:1:0.00001", "100001 values (at most 10000)"),
    ],
)
def test_bad_axes_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(SweepError, match="^param x=") as info:
        parse_axis("x", spec)
    assert message in str(info.value)


def test_param_option_needs_name_and_values() -> None:
    assert parse_param_option("loss=0:30%:5%") == ("loss", "0:30%:5%")
    for bad in ("loss", "loss=", "=5%", "2x=5%"):
        with pytest.raises(SweepError, match="^--param"):
            parse_param_option(bad)


def test_two_params_by_three_values_make_a_nine_point_grid_first_axis_slowest() -> None:
    assert len(Grid.parse({"loss": "0:10%:5%", "delay": "20ms,150ms,300ms"})) == 9
    grid = Grid.parse(["loss=0:10%:5%", "delay=20ms,300ms,1s"])
    assert len(grid) == 9
    assert grid.points()[:4] == [
        {"loss": "0%", "delay": "20ms"},
        {"loss": "0%", "delay": "300ms"},
        {"loss": "0%", "delay": "1s"},
        {"loss": "5%", "delay": "20ms"},
    ]
    assert grid.columns()["delay"] == [20.0, 300.0, 1000.0] * 3
    assert grid.describe() == "loss=0:10%:5% (3) x delay=20ms,300ms,1s (3) = 9 points"


def test_a_param_given_twice_is_an_error() -> None:
    with pytest.raises(SweepError, match="param loss is given twice"):
        Grid.parse(["loss=1%", "loss=2%"])


def test_empty_grid_is_one_point_with_no_overrides() -> None:
    grid = Grid.parse(None)
    assert len(grid) == 1 and grid.points() == [{}]


def test_tasks_cover_every_run_of_every_point_once_in_order() -> None:
    tasks = make_tasks(points=3, runs=10, chunk=4)
    assert [(t.point, t.start, t.stop) for t in tasks[:4]] == [(0, 0, 4), (0, 4, 8), (0, 8, 10), (1, 0, 4)]
    assert [t.index for t in tasks] == list(range(9))
    assert sum(t.runs for t in tasks) == 30


def test_chunk_size_gives_several_tasks_per_worker_but_caps_batches() -> None:
    assert chunk_size(points=7, runs=1000, workers=2) == 438  # 7000 / 16, rounded up
    assert chunk_size(points=7, runs=100_000, workers=2) == 500
    assert chunk_size(points=1, runs=3, workers=8) == 1


def test_point_labels_name_only_the_params_that_vary() -> None:
    grid = Grid.parse({"loss": "0:10%:5%", "delay": "20ms", "burst": "2,8"})
    assert grid.label(3) == "loss=5%, burst=8"
    assert Grid.parse(None).label(0) == ""
