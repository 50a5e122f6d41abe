"""Serial, process-pool and Dask executors give byte-identical sweeps (common random numbers)."""

from __future__ import annotations

import pytest
import standin

from simsip.experiment import DaskExecutor, ProcessExecutor, SweepError, sweep

PARAMS = {"loss": "0:20%:10%", "delay": "20ms,300ms"}


def standin_sweep(**kwargs):  # type: ignore[no-untyped-def]
    """A sweep of the stand-in engine over PARAMS."""
    kwargs.setdefault("runs", 40)
    kwargs.setdefault("seed", 7)
    return sweep("scenario.sip", PARAMS, prepare=standin.prepare, run_chunk=standin.run_chunk, **kwargs)


@pytest.fixture(scope="module")
def serial_csv() -> str:
    """The serial sweep's call table as CSV text: the reference."""
    return standin_sweep(executor="serial").calls.to_csv(index=False)


def test_calls_table_has_one_row_per_call_in_point_then_run_order() -> None:
    calls = standin_sweep(executor="serial", runs=5).calls
    assert len(calls) == 6 * 5
    assert list(calls.columns[:4]) == ["point", "loss", "delay", "run"]
    assert list(calls["point"]) == [p for p in range(6) for _ in range(5)]
    assert list(calls["run"]) == list(range(5)) * 6
    assert list(calls["loss"].unique()) == [0.0, 10.0, 20.0]
    assert list(calls["delay"].unique()) == [20.0, 300.0]
    assert calls["call_id"].iloc[7] == "call-2@alice"


def test_run_r_sees_the_same_draws_at_every_point() -> None:
    calls = standin_sweep(executor="serial", runs=200).calls
    by_point = [calls[calls["point"] == p].set_index("run")["reliable_1xx_retransmissions"] for p in range(6)]
    # Common random numbers: more loss never means fewer retransmissions for the same run.
    assert all((by_point[4] >= by_point[2]) & (by_point[2] >= by_point[0]))
    # Delay does not enter the stand-in's loss draws: equal columns across delays.
    assert by_point[0].equals(by_point[1]) and by_point[4].equals(by_point[5])
    assert by_point[4].sum() > by_point[2].sum() > 0 == by_point[0].sum()


def test_batch_size_does_not_change_results(serial_csv: str) -> None:
    for chunk in (1, 7, 40):
        assert standin_sweep(executor="serial", chunk=chunk).calls.to_csv(index=False) == serial_csv


def test_process_pool_gives_identical_results(serial_csv: str) -> None:
    result = standin_sweep(executor=ProcessExecutor(jobs=2, min_pool_runs=0), chunk=6)
    assert result.calls.to_csv(index=False) == serial_csv


def test_dask_local_cluster_gives_identical_results(serial_csv: str) -> None:
    result = standin_sweep(executor=DaskExecutor(workers=2, processes=False), chunk=6)
    assert result.calls.to_csv(index=False) == serial_csv


def test_progress_reports_every_run_once() -> None:
    seen: list[tuple[int, int]] = []
    standin_sweep(executor="serial", runs=10, chunk=4, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (60, 60)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) == 6 * 3


def test_a_failing_run_propagates_from_the_pool() -> None:
    with pytest.raises(RuntimeError, match="run 3 failed"):
        sweep(
            "s.sip", PARAMS, runs=8, chunk=2, executor=ProcessExecutor(jobs=2, min_pool_runs=0),
            prepare=standin.prepare, run_chunk=standin.failing_run_chunk,
        )


def test_unpicklable_run_function_is_refused_for_the_pool() -> None:
    with pytest.raises(SweepError, match="needs a picklable"):
        sweep(
            "s.sip", PARAMS, runs=4, chunk=1, executor=ProcessExecutor(jobs=2, min_pool_runs=0),
            prepare=standin.prepare, run_chunk=lambda payload, seed, a, b: [],
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"runs": 0}, "--runs 0"),
        ({"executor": "threads"}, "--executor threads"),
        ({"executor": "process", "scheduler": "tcp://127.0.0.1:1"}, "--scheduler needs --executor dask"),
        ({"jobs": 0}, "--jobs 0"),
    ],
)
def test_bad_requests_are_sweep_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(SweepError, match=message):
        standin_sweep(**kwargs)


def test_small_sweeps_skip_the_pool_and_give_the_same_results(serial_csv: str) -> None:
    # 240 runs < 1000: a pool would cost more to start than it saves; same calls either way.
    executor = ProcessExecutor(jobs=2, min_pool_runs=1000)
    assert standin_sweep(executor=executor, chunk=6).calls.to_csv(index=False) == serial_csv


def test_a_batch_is_kept_and_sent_in_its_compact_columns() -> None:
    """Job.run packs a batch's records: in the parent they take the typed columns' memory (issue 9: < 1 GiB at 1M calls), not a tuple per call."""
    import pickle
    import tracemalloc
    from pathlib import Path

    import simsip
    from simsip.experiment import Job, Task, _engine_run_chunk

    scenario = simsip.load(Path(__file__).parents[2] / "scenarios" / "basic" / "direct_call.sip",
                           {"loss": "10%"})
    job = Job(run_chunk=_engine_run_chunk, payloads=(scenario,), seed=1)
    index, table = job.run(Task(index=4, point=0, start=0, stop=1000))
    data = pickle.dumps(table)  # what a process-pool worker sends back
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = pickle.loads(data)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert index == 4 and len(kept) == 1000
    # Packed: ~160 bytes a call (columns and Call-ID strings); a tuple per call takes ~400.
    assert used / len(kept) < 250
