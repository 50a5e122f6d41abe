"""--out is written atomically: a whole new file or the old one, never a part."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import standin

from simsip.experiment import SweepError, check_output_path, sweep, write_atomic, write_table


def test_write_atomic_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    write_atomic(target, lambda tmp: tmp.write_text("new\n"))
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    assert target.stat().st_mode & 0o777 != 0o600  # not mkstemp's private mode


def test_interrupted_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old\n")

    def half_then_ctrl_c(tmp: Path) -> None:
        tmp.write_text("point,loss\n0,")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, half_then_ctrl_c)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_interrupted_first_write_creates_nothing(tmp_path: Path) -> None:
    def fail(tmp: Path) -> None:
        tmp.write_text("partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(tmp_path / "new.parquet", fail)
    assert list(tmp_path.iterdir()) == []


def test_sweep_table_round_trips_through_csv_and_parquet(tmp_path: Path) -> None:
    result = sweep(
        "s.sip", {"loss": "0:20%:10%"}, runs=6, seed=3, executor="serial",
        prepare=standin.prepare, run_chunk=standin.run_chunk,
    )
    result.save(tmp_path / "calls.csv")
    result.save(tmp_path / "calls.parquet")
    from_csv = pd.read_csv(tmp_path / "calls.csv")
    from_parquet = pd.read_parquet(tmp_path / "calls.parquet")
    assert len(from_csv) == len(from_parquet) == 18
    assert list(from_csv["loss"]) == [0.0] * 6 + [10.0] * 6 + [20.0] * 6
    assert list(from_parquet["reliable_1xx_retransmissions"]) == list(from_csv["reliable_1xx_retransmissions"])
    assert (tmp_path / "calls.csv").read_text().splitlines()[0].startswith("point,loss,run,call_id,outcome")


@pytest.mark.parametrize(
    ("name", "message"),
    [("out.txt", "unknown format '.txt'"), ("missing/out.csv", "does not exist"), ("out", r"unknown format '\(none\)'")],
)
def test_bad_output_paths_are_refused_before_running(tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(SweepError, match=message):
        check_output_path(tmp_path / name)
    with pytest.raises(SweepError, match=message):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / name)
