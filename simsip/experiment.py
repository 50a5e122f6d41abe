"""Replications and parameter sweeps, run serially, on a process pool or on Dask.

A sweep is a grid over scenario params (the cartesian product of one axis per
param, the first axis varying slowest), each point replicated ``runs`` times.
Run ``r`` at every point is run index ``r`` of the engine with the same
``seed``: the engine derives each random stream from (seed, run index, source
name), so run ``r`` sees the same draws at every point (common random numbers:
smooth curves), and a run's result does not depend on which executor ran it,
in which batch or in which order. Results are gathered back in (point, run)
order, so every executor gives byte-identical tables.

Axis syntax (``simsip sweep --param NAME=SPEC``, or ``params={NAME: SPEC}``):

| spec | values |
| --- | --- |
| ``20ms,300ms`` | a list, each value kept as written |
| ``0:30%:5%`` | ``start:stop:step``; stop included when a step lands on it |
| ``log:10ms:1s:5`` | 5 values evenly spaced on a log scale, both ends included |
| ``5%`` | one value: the param is fixed for the whole sweep |

Numbers carry units: durations (``us``, ``ms``, ``s``, ``min``), percentages
(``%``) or none; a bare ``0`` takes the unit of the others (``0,5%`` hands
the scenario ``0%``, which it reads as a percentage). In the result
tables a numeric axis holds durations in milliseconds and percentages in
percent (``5%`` -> 5.0); the text handed to the scenario keeps its unit.

Executors: ``serial``; ``process`` (default), a local process pool of ``jobs``
workers (all cores by default; small sweeps stay in-process); ``dask``, an
embedded ``LocalCluster`` or the cluster at ``scheduler`` (its workers need
simsip installed). Runs go out in batches (:func:`chunk_size`), each worker
receives the loaded scenarios once, and a batch comes back as a compact
column-wise :class:`~simsip.metrics.measures.CallTable`.

Python API, for notebooks::

    result = simsip.sweep("f.sip", {"loss": "0:30%:5%", "delay": "20ms,300ms"}, runs=500)
    result.calls      # DataFrame, one row per call: point, loss, delay, run, measures
    result.summary    # DataFrame, one row per point and measure: n, mean, std, ci_low, ci_high, p50...
    result.outcomes   # DataFrame, one row per point and outcome: calls, share
    result.plot("prack_retransmissions"); result.plot_cdf(); result.plot_outcomes()
    result.save("results.parquet")   # atomically
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

# Light at import time (``import simsip`` exports sweep): pools, pandas and the
# metrics are imported by the functions that use them.
if TYPE_CHECKING:
    import multiprocessing.context
    from concurrent.futures import ProcessPoolExecutor

    import pandas as pd

    from simsip.metrics.measures import CallTable
    from simsip.scenario.model import Scenario

__all__ = [
    "DaskExecutor",
    "Grid",
    "ParamAxis",
    "ProcessExecutor",
    "SerialExecutor",
    "SweepError",
    "SweepResult",
    "Task",
    "make_executor",
    "mean_ci_text",
    "parse_axis",
    "parse_param_option",
    "sweep",
    "write_atomic",
    "write_table",
]

# A grid larger than this is almost certainly a typo in a step (0:30:0.0001).
MAX_POINTS = 10_000
# Batches aim at this many tasks per worker: enough to balance uneven runs,
# few enough that per-task overhead (pickling, scheduling) stays negligible.
TASKS_PER_WORKER = 8
MAX_CHUNK = 500
# Below this many runs a process pool costs more to start (workers import the
# engine) than it saves: the process executor runs them in-process instead.
MIN_POOL_RUNS = 200


class SweepError(ValueError):
    """A bad sweep request: param axis, runs, executor or output path."""


# --------------------------------------------------------------------------
# Param axes
# --------------------------------------------------------------------------

# Units a value may carry, by dimension, with each unit's scale in the table's
# unit for that dimension: ms for durations (like every *_ms measure), percent,
# events per second, bits per second. Fractions keep ranges exact (1/min).
_UNITS: dict[str, tuple[str, Fraction]] = {
    "us": ("duration", Fraction(1, 1000)),
    "ms": ("duration", Fraction(1)),
    "s": ("duration", Fraction(1000)),
    "min": ("duration", Fraction(60000)),
    "%": ("percent", Fraction(1)),
    "/s": ("rate", Fraction(1)),
    "/min": ("rate", Fraction(1, 60)),
    "bps": ("bandwidth", Fraction(1)),
    "kbps": ("bandwidth", Fraction(1000)),
    "Mbps": ("bandwidth", Fraction(1000**2)),
    "Gbps": ("bandwidth", Fraction(1000**3)),
}
# The unit of each dimension's numbers in result tables and on plot axes.
_TABLE_UNIT = {"duration": "ms", "percent": "%", "rate": "/s", "bandwidth": "bps", "": ""}
_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*"
    r"(?P<unit>us|ms|s|min|%|/s|/min|bps|kbps|Mbps|Gbps)?$"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Significant digits of the inner values of a log range.
_LOG_DIGITS = 6


@dataclass(frozen=True, slots=True)
class _Quantity:
    """A number as written with its unit ("" when bare)."""

    value: Fraction
    unit: str

    @property
    def dimension(self) -> str:
        """'duration', 'percent', 'rate', 'bandwidth' or '' (a bare number)."""
        return _UNITS[self.unit][0] if self.unit else ""

    @property
    def canonical(self) -> Fraction:
        """The value in the table's unit of its dimension (ms, %, /s, bps)."""
        return self.value * _UNITS[self.unit][1] if self.unit else self.value


def _parse_quantity(text: str) -> _Quantity | None:
    """Parse ``20ms`` / ``5%`` / ``0.3``; None when ``text`` is not a number."""
    match = _QUANTITY.match(text.strip())
    if match is None:
        return None
    return _Quantity(Fraction(Decimal(match["num"])), match["unit"] or "")


def _format_number(value: Fraction) -> str:
    """Plain (non-exponent) decimal text: 30, 0.5, 31.6228 (6 digits if not exact)."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator == 1:  # a terminating decimal: write it exactly
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    else:
        exact = Decimal(f"{float(value):.{_LOG_DIGITS}g}")
    text = format(exact.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _common_dimension(quantities: Sequence[_Quantity]) -> str | None:
    """The one dimension of the quantities (a bare 0 fits any); None when mixed."""
    dims = {q.dimension for q in quantities if q.unit or q.value != 0}
    if len(dims) > 1:
        return None
    return dims.pop() if dims else ""


def _display_unit(quantities: Sequence[_Quantity], dimension: str) -> str:
    """Unit generated values are written in: the finest unit among the ends."""
    units = [q.unit for q in quantities if q.unit]
    return min(units, key=lambda unit: _UNITS[unit][1]) if units else ""


def _in_unit(quantity: _Quantity, unit: str) -> Fraction:
    """The quantity expressed in ``unit`` (same dimension, or a bare 0)."""
    return quantity.canonical / _UNITS[unit][1] if unit else quantity.value


@dataclass(frozen=True, slots=True)
class ParamAxis:
    """One swept param: its values as handed to the scenario, and as numbers."""

    name: str
    values: tuple[str, ...]
    # Durations in ms, percentages in percent, rates per second, bandwidth in
    # bit/s, bare numbers as is; None when the values are not all numbers.
    numbers: tuple[float, ...] | None
    # "ms", "%", "/s", "bps", "" (bare numbers) or None (text values).
    unit: str | None
    spec: str

    @property
    def label(self) -> str:
        """Axis label for plots and tables: ``loss (%)``, ``delay (ms)``."""
        return f"{self.name} ({self.unit})" if self.unit else self.name

    def column(self) -> list[float] | list[str]:
        """The values as they appear in result tables (numbers when numeric)."""
        return list(self.numbers) if self.numbers is not None else list(self.values)


def parse_param_option(text: str) -> tuple[str, str]:
    """Split a ``NAME=SPEC`` command-line option, checking the name."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or not spec.strip():
        raise SweepError(f"--param {text!r}: expected NAME=VALUES, e.g. loss=0:30%:5%")
    if not _NAME.match(name):
        raise SweepError(f"--param {text!r}: {name!r} is not a param name")
    return name, spec.strip()


def parse_axis(name: str, spec: str | float | Sequence[str | float]) -> ParamAxis:
    """Parse one axis: a list ``a,b``, a range ``start:stop:step``, ``log:a:b:n`` or one value."""
    try:
        return _parse_axis(name, spec)
    except OverflowError:
        # Values are exact fractions until they become floats; 1e400ms has no float.
        raise SweepError(f"param {name}={spec}: a value too large to compute with (over 1e308)") from None


def _parse_axis(name: str, spec: str | float | Sequence[str | float]) -> ParamAxis:
    """:func:`parse_axis`, raising OverflowError for a value no float can hold."""
    if not _NAME.match(name):
        raise SweepError(f"param {name!r}: not a param name")
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return _list_axis(name, [repr(spec)], repr(spec))
    if isinstance(spec, str):
        text = spec.strip()
        if not text:
            raise SweepError(f"param {name}: no values")
        if text.startswith("log:"):
            return _log_axis(name, text)
        if ":" in text:
            return _range_axis(name, text)
        return _list_axis(name, [item.strip() for item in text.split(",")], text)
    if isinstance(spec, Sequence):
        items = [v if isinstance(v, str) else repr(v) for v in spec]
        return _list_axis(name, [item.strip() for item in items], ",".join(items))
    raise SweepError(f"param {name}: cannot sweep over {spec!r}")


def _list_axis(name: str, items: list[str], spec: str) -> ParamAxis:
    """An explicit list of values; numeric when every value is a number of one dimension."""
    if not items or any(not item for item in items):
        raise SweepError(f"param {name}={spec}: empty value in the list")
    quantities = [_parse_quantity(item) for item in items]
    qs = [q for q in quantities if q is not None]
    dimension = _common_dimension(qs) if len(qs) == len(items) else None
    if dimension is None:
        axis = ParamAxis(name, tuple(items), None, None, spec)
    else:
        # A bare 0 takes the unit of the others in the text handed to the scenario too: the
        # scenario reads `loss=0` as a whole number, not 0 % (DESIGN.md: --param loss=0,5%,10%).
        unit = _display_unit(qs, dimension)
        texts = tuple(item if q.unit else item + unit for item, q in zip(items, qs))
        numbers = tuple(float(q.canonical) for q in qs)
        axis = ParamAxis(name, texts, numbers, _TABLE_UNIT[dimension], spec)
    seen: set[str] = set()
    for value in axis.values:
        if value in seen:
            raise SweepError(f"param {name}={spec}: value {value} listed twice")
        seen.add(value)
    return axis


def _range_quantities(name: str, spec: str, parts: Sequence[str], what: str) -> list[_Quantity]:
    """Parse the numbers of a range spec, with a message naming the bad one."""
    quantities = []
    for part in parts:
        quantity = _parse_quantity(part)
        if quantity is None:
            raise SweepError(f"param {name}={spec}: {part.strip()!r} is not a number ({what})")
        quantities.append(quantity)
    return quantities


def _axis_from_values(name: str, spec: str, values: Sequence[Fraction], unit: str, dimension: str) -> ParamAxis:
    """Build a numeric axis from generated values written in ``unit``."""
    texts = tuple(_format_number(v) + unit for v in values)
    if len(set(texts)) != len(texts):
        raise SweepError(f"param {name}={spec}: values collide when written out")
    scale = _UNITS[unit][1] if unit else Fraction(1)
    numbers = tuple(float(v * scale) for v in values)
    return ParamAxis(name, texts, numbers, _TABLE_UNIT[dimension], spec)


def _range_axis(name: str, spec: str) -> ParamAxis:
    """``start:stop:step``, in exact arithmetic so 0:30%:5% ends on 30% exactly."""
    parts = spec.split(":")
    if len(parts) != 3:
        raise SweepError(f"param {name}={spec}: a range is START:STOP:STEP, e.g. 0:30%:5%")
    quantities = _range_quantities(name, spec, parts, "START:STOP:STEP")
    dimension = _common_dimension(quantities)
    if dimension is None:
        raise SweepError(f"param {name}={spec}: the range mixes units")
    unit = _display_unit(quantities, dimension)
    start, stop, step = (_in_unit(q, unit) for q in quantities)
    if step == 0:
        raise SweepError(f"param {name}={spec}: the step is zero")
    if (stop - start) * step < 0:
        raise SweepError(f"param {name}={spec}: the step moves away from the stop")
    count = math.floor((stop - start) / step) + 1
    if count > MAX_POINTS:
        raise SweepError(f"param {name}={spec}: {count} values (at most {MAX_POINTS})")
    return _axis_from_values(name, spec, [start + k * step for k in range(count)], unit, dimension)


def _log_axis(name: str, spec: str) -> ParamAxis:
    """``log:START:STOP:N``: N values evenly spaced in log; inner ones to 6 digits."""
    parts = spec.split(":")[1:]
    if len(parts) != 3:
        raise SweepError(f"param {name}={spec}: a log range is log:START:STOP:N, e.g. log:10ms:1s:5")
    count_text = parts[2].strip()
    if not count_text.isdigit() or int(count_text) < 2:
        raise SweepError(f"param {name}={spec}: N must be a whole number >= 2")
    count = int(count_text)
    if count > MAX_POINTS:
        raise SweepError(f"param {name}={spec}: {count} values (at most {MAX_POINTS})")
    quantities = _range_quantities(name, spec, parts[:2], "log:START:STOP:N")
    dimension = _common_dimension(quantities)
    if dimension is None:
        raise SweepError(f"param {name}={spec}: the range mixes units")
    if any(q.value <= 0 for q in quantities):
        raise SweepError(f"param {name}={spec}: a log range needs positive ends")
    unit = _display_unit(quantities, dimension)
    start, stop = (_in_unit(q, unit) for q in quantities)
    ratio = float(stop) / float(start)
    inner = [
        Fraction(Decimal(f"{float(start) * ratio ** (k / (count - 1)):.{_LOG_DIGITS}g}"))
        for k in range(1, count - 1)
    ]
    return _axis_from_values(name, spec, [start, *inner, stop], unit, dimension)


@dataclass(frozen=True, slots=True)
class Grid:
    """The cartesian product of the axes; the first axis varies slowest."""

    axes: tuple[ParamAxis, ...]

    def __post_init__(self) -> None:
        """Reject a param swept twice and grids too large to be meant."""
        names = [axis.name for axis in self.axes]
        for name in names:
            if names.count(name) > 1:
                raise SweepError(f"param {name} is given twice")
        if len(self) > MAX_POINTS:
            raise SweepError(f"the grid has {len(self)} points (at most {MAX_POINTS})")

    @classmethod
    def parse(cls, params: Mapping[str, Any] | Sequence[str] | None) -> Grid:
        """Build a grid from ``{name: spec}`` or from ``["name=spec", ...]`` options."""
        if params is None:
            return cls(())
        if isinstance(params, Mapping):
            pairs = list(params.items())
        else:
            pairs = [parse_param_option(option) for option in params]
        names = [name for name, _ in pairs]
        for name in names:
            if names.count(name) > 1:
                raise SweepError(f"param {name} is given twice")
        return cls(tuple(parse_axis(name, spec) for name, spec in pairs))

    @property
    def names(self) -> list[str]:
        """The swept param names, in axis order."""
        return [axis.name for axis in self.axes]

    def __len__(self) -> int:
        """Number of points (1 for an empty grid: the scenario as written)."""
        return math.prod(len(axis.values) for axis in self.axes)

    def indices(self) -> list[tuple[int, ...]]:
        """Per point, the index of its value on each axis."""
        return list(itertools.product(*(range(len(axis.values)) for axis in self.axes)))

    def points(self) -> list[dict[str, str]]:
        """Per point, the param overrides handed to the scenario."""
        return [
            {axis.name: axis.values[i] for axis, i in zip(self.axes, index)}
            for index in self.indices()
        ]

    def columns(self) -> dict[str, list[Any]]:
        """Per axis, its table value at each point (numbers for numeric axes)."""
        indices = self.indices()
        return {
            axis.name: [axis.column()[index[k]] for index in indices]
            for k, axis in enumerate(self.axes)
        }

    def label(self, point: int) -> str:
        """``loss=5%, delay=20ms``: the params that vary at a point, as written ("" if none vary)."""
        index = self.indices()[point]
        return ", ".join(
            f"{axis.name}={axis.values[i]}" for axis, i in zip(self.axes, index) if len(axis.values) > 1
        )

    def describe(self) -> str:
        """One line: ``loss=0:30%:5% (7) x delay=20ms,300ms (2) = 14 points``."""
        if not self.axes:
            return "1 point (no params swept)"
        parts = [f"{axis.name}={axis.spec} ({len(axis.values)})" for axis in self.axes]
        return " x ".join(parts) + f" = {len(self)} points"


# --------------------------------------------------------------------------
# Jobs, tasks and executors
# --------------------------------------------------------------------------

# (payload of a point, seed, first run index, stop run index) -> the call
# records of those runs in run order: a CallTable, or dicts of its fields.
RunChunk = Callable[[Any, int, int, int], "CallTable | Sequence[Mapping[str, Any]]"]


@dataclass(frozen=True, slots=True)
class Task:
    """A batch of consecutive runs at one point: run indices [start, stop)."""

    index: int
    point: int
    start: int
    stop: int

    @property
    def runs(self) -> int:
        """Number of runs in the batch."""
        return self.stop - self.start


@dataclass(frozen=True, slots=True)
class Job:
    """What every worker needs once: the run function, one payload per point, the seed."""

    run_chunk: RunChunk
    payloads: tuple[Any, ...]
    seed: int

    def run(self, task: Task) -> tuple[int, CallTable]:
        """Run one task, returning its index with its call records (column-wise, compact to send)."""
        from simsip.metrics.measures import CallTable

        records = self.run_chunk(self.payloads[task.point], self.seed, task.start, task.stop)
        table = records if isinstance(records, CallTable) else CallTable(records)
        # Compact to keep and to send: rows still held as tuples take 4x the memory.
        table.pack()
        return task.index, table


def make_tasks(points: int, runs: int, chunk: int) -> list[Task]:
    """Split every point's runs into batches of at most ``chunk`` runs."""
    tasks = []
    for point in range(points):
        for start in range(0, runs, chunk):
            tasks.append(Task(len(tasks), point, start, min(start + chunk, runs)))
    return tasks


def chunk_size(points: int, runs: int, workers: int) -> int:
    """Runs per task: about TASKS_PER_WORKER tasks per worker, at most MAX_CHUNK."""
    total = points * runs
    return max(1, min(MAX_CHUNK, runs, math.ceil(total / (max(1, workers) * TASKS_PER_WORKER))))


OnDone = Callable[[Task], None]


class Executor(Protocol):
    """Runs a job's tasks and returns their records in task order."""

    workers: int

    def execute(self, job: Job, tasks: Sequence[Task], on_done: OnDone) -> list[CallTable]:
        """Run every task; ``on_done`` is called in the caller's thread as each finishes."""
        ...


class SerialExecutor:
    """Runs every task in this process, one after another."""

    name = "serial"
    workers = 1

    def execute(self, job: Job, tasks: Sequence[Task], on_done: OnDone) -> list[CallTable]:
        """Run the tasks in order."""
        results = []
        for task in tasks:
            results.append(job.run(task)[1])
            on_done(task)
        return results


# Set once in each pool worker by _init_worker; never in the parent process.
_WORKER_JOB: Job | None = None


def _init_worker(job: Job) -> None:
    """Pool initializer: keep the job, and leave Ctrl-C to the parent."""
    import signal

    global _WORKER_JOB
    # The parent turns Ctrl-C into a clean stop; workers just get terminated.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER_JOB = job


def _worker_task(task: Task) -> tuple[int, CallTable]:
    """Run one task with the job this worker was initialised with."""
    assert _WORKER_JOB is not None, "pool worker used before _init_worker"
    return _WORKER_JOB.run(task)


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork when this process has one thread (fast; works from stdin and -c), else forkserver.

    Forking a process with other threads (Jupyter kernels, a Dask client) can
    copy a held lock into the child; forkserver forks from a clean server.
    """
    import multiprocessing
    import threading

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: drop queued tasks and kill the workers mid-batch (Ctrl-C, a failure)."""
    # The executor has no public way to stop running work before Python 3.14.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join()


def _check_picklable(job: Job, where: str) -> None:
    """Fail early, with a clear message, when the job cannot reach other processes."""
    import pickle

    try:
        pickle.dumps(job)
    except Exception as exc:  # pickle raises several unrelated types
        raise SweepError(
            f"the {where} executor needs a picklable scenario and run function ({exc}); "
            "use executor='serial'"
        ) from exc


class ProcessExecutor:
    """A local process pool; one worker per core unless ``jobs`` says otherwise."""

    name = "process"

    def __init__(self, jobs: int | None = None, min_pool_runs: int = MIN_POOL_RUNS) -> None:
        """``jobs``: worker processes (None: all cores); fewer than ``min_pool_runs`` runs stay in-process."""
        if jobs is not None and jobs < 1:
            raise SweepError(f"--jobs {jobs}: need at least 1")
        self.workers = jobs or os.cpu_count() or 1
        self.min_pool_runs = min_pool_runs

    def execute(self, job: Job, tasks: Sequence[Task], on_done: OnDone) -> list[CallTable]:
        """Run the tasks on the pool; one worker, one task or a small sweep runs in this process."""
        if self.workers == 1 or len(tasks) <= 1 or sum(t.runs for t in tasks) < self.min_pool_runs:
            return SerialExecutor().execute(job, tasks, on_done)
        from concurrent.futures import ProcessPoolExecutor, as_completed

        _check_picklable(job, "process")
        results: list[CallTable | None] = [None] * len(tasks)
        pool = ProcessPoolExecutor(
            min(self.workers, len(tasks)), _pool_context(), initializer=_init_worker, initargs=(job,)
        )
        try:
            futures = [pool.submit(_worker_task, task) for task in tasks]
            for future in as_completed(futures):
                index, records = future.result()
                results[index] = records
                on_done(tasks[index])
        except BaseException:
            # Ctrl-C, a failing run or a dead worker: stop the others now, not after their batches.
            _terminate(pool)
            raise
        pool.shutdown(wait=True)
        return [r for r in results if r is not None]


def _dask_task(job: Job, task: Task) -> tuple[int, CallTable]:
    """Run one task on a Dask worker (the job is scattered there once)."""
    return job.run(task)


class DaskExecutor:
    """Dask distributed: an existing scheduler, a given Client, or an embedded LocalCluster."""

    name = "dask"

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int | None = None,
        processes: bool = True,
        client: Any = None,
    ) -> None:
        """``scheduler`` tcp://HOST:PORT, else a LocalCluster of ``workers`` (None: all cores)."""
        if workers is not None and workers < 1:
            raise SweepError(f"--jobs {workers}: need at least 1")
        self.scheduler = scheduler
        self.client = client
        self.processes = processes
        self.workers = workers or os.cpu_count() or 1

    @contextlib.contextmanager
    def _client(self) -> Any:
        """The client to use, closing what this executor started itself."""
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # optional extra
            raise SweepError("the dask executor needs dask: pip install 'simsip[dask]'") from exc
        if self.client is not None:
            yield self.client
            return
        if self.scheduler is not None:
            try:
                client = Client(self.scheduler, timeout="10s")
            except (OSError, ValueError) as exc:
                # ValueError: distributed refuses an address it cannot parse (no port, unknown protocol).
                raise SweepError(f"--scheduler {self.scheduler}: cannot connect ({exc})") from exc
            with client:
                yield client
            return
        import logging

        # One thread per worker: runs are CPU-bound Python, threads would share the GIL.
        with LocalCluster(
            n_workers=self.workers,
            threads_per_worker=1,
            processes=self.processes,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster, Client(cluster) as client:
            yield client

    def execute(self, job: Job, tasks: Sequence[Task], on_done: OnDone) -> list[CallTable]:
        """Submit every task, gather as they finish, and put them back in order."""
        import uuid

        from distributed import as_completed

        results: list[CallTable | None] = [None] * len(tasks)
        if self.client is not None or self.scheduler is not None or self.processes:
            # Threads-only clusters share this process; anything else unpickles the job.
            _check_picklable(job, "dask")
        with self._client() as client:
            token = uuid.uuid4().hex[:12]  # keys unique across sweeps sharing a cluster
            [job_future] = client.scatter([job], broadcast=True, hash=False)
            futures = [
                client.submit(_dask_task, job_future, task, key=f"simsip-{token}-{task.index}", pure=False)
                for task in tasks
            ]
            try:
                for future in as_completed(futures):
                    index, records = future.result()
                    results[index] = records
                    on_done(tasks[index])
            except BaseException:
                client.cancel(futures)
                raise
        return [r for r in results if r is not None]


def make_executor(
    executor: str | Executor = "process",
    jobs: int | None = None,
    scheduler: str | None = None,
) -> Executor:
    """An executor from its name: ``serial``, ``process`` (default) or ``dask``."""
    if not isinstance(executor, str):
        return executor
    if scheduler is not None and executor != "dask":
        raise SweepError(f"--scheduler needs --executor dask (not {executor})")
    if executor == "serial":
        return SerialExecutor()
    if executor == "process":
        return ProcessExecutor(jobs)
    if executor == "dask":
        return DaskExecutor(scheduler=scheduler, workers=jobs)
    raise SweepError(f"--executor {executor}: expected process, dask or serial")


# --------------------------------------------------------------------------
# Atomic output
# --------------------------------------------------------------------------

TABLE_FORMATS = (".csv", ".parquet")


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Check, before any run, that a table can be written at ``path``."""
    path = Path(path)
    if path.suffix.lower() not in TABLE_FORMATS:
        raise SweepError(f"--out {path}: unknown format {path.suffix or '(none)'!r}; use .csv or .parquet")
    directory = path.parent
    if not directory.is_dir():
        raise SweepError(f"--out {path}: directory {directory} does not exist")
    if path.is_dir():
        raise SweepError(f"--out {path}: is a directory")
    return path


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], None]) -> None:
    """Write through a temp file in the same directory, then rename it over ``path``.

    Readers see the old file or the whole new one, never a part: an exception or
    Ctrl-C while writing removes the temp file and leaves ``path`` untouched.
    """
    import tempfile

    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        # mkstemp makes the file 0600; give the result the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_table(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a DataFrame atomically as CSV or Parquet, chosen by the suffix."""
    path = check_output_path(path)
    if path.suffix.lower() == ".csv":
        write_atomic(path, lambda tmp: frame.to_csv(tmp, index=False))
    else:
        write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))


# --------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------

# The statistics columns of the summary (the measures are metrics.summary.MEASURES).
SUMMARY_COLUMNS = ("n", "mean", "std", "ci_low", "ci_high", "p50", "p90", "p99", "max")
# Columns every call table starts with, before the params and the engine's fields.
POINT_COLUMN = "point"
# The outcomes table's own columns, after the point and the params.
OUTCOME_COLUMNS = ("outcome", "calls", "share")

Progress = Callable[[int, int], None]
Prepare = Callable[[Any, dict[str, str]], Any]


def sweep(
    scenario: str | os.PathLike[str] | Scenario,
    params: Mapping[str, Any] | Sequence[str] | None = None,
    runs: int = 100,
    seed: int = 0,
    executor: str | Executor = "process",
    jobs: int | None = None,
    scheduler: str | None = None,
    chunk: int | None = None,
    progress: Progress | None = None,
    run_chunk: RunChunk | None = None,
    prepare: Prepare | None = None,
) -> SweepResult:
    """Run ``scenario`` ``runs`` times at every point of the param grid.

    ``params`` maps a param name to an axis spec (``"0:30%:5%"``,
    ``"20ms,300ms"``, ``"log:10ms:1s:5"``, a list, or one value); a list of
    ``"name=spec"`` strings works too. ``executor`` is ``"process"`` (default,
    ``jobs`` workers, all cores when None), ``"serial"``, ``"dask"`` (an
    embedded LocalCluster, or the cluster at ``scheduler``), or an executor
    object such as ``DaskExecutor(client=my_client)``. ``progress(done, total)``
    is called as batches of runs finish. ``prepare(scenario, point_params)``
    and ``run_chunk(payload, seed, start, stop)`` replace the engine (tests,
    other engines); they must be picklable top-level functions for the process
    and Dask executors.
    """
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise SweepError(f"--runs {runs}: need a whole number >= 1")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SweepError(f"--seed {seed}: need a whole number")
    if chunk is not None and chunk < 1:
        raise SweepError(f"chunk {chunk}: need at least 1 run per batch")
    from simsip.metrics.measures import RECORD_FIELDS, CallTable

    grid = Grid.parse(params)
    # A param is a column of every result table: checked before the runs, not when a table is built.
    taken = {POINT_COLUMN, *RECORD_FIELDS, "measure", *SUMMARY_COLUMNS, *OUTCOME_COLUMNS}
    for name in grid.names:
        if name in taken:
            raise SweepError(f"param {name}: the name clashes with the {name!r} result column; "
                             "rename the param in the scenario to sweep it")
    chosen = make_executor(executor, jobs, scheduler)
    points = grid.points()
    prepare = prepare or _load_point
    payloads = tuple(prepare(scenario, point) for point in points)
    size = chunk or chunk_size(len(points), runs, chosen.workers)
    tasks = make_tasks(len(points), runs, size)
    total = len(points) * runs
    done = 0

    def on_done(task: Task) -> None:
        nonlocal done
        done += task.runs
        if progress is not None:
            progress(done, total)

    job = Job(run_chunk or _engine_run_chunk, payloads, seed)
    results = chosen.execute(job, tasks, on_done)
    per_point = [CallTable() for _ in points]
    # Tasks are numbered point by point, run range by run range: task order is (point, run) order.
    for task, records in zip(tasks, results):
        per_point[task.point].extend(records)
    return SweepResult(grid, runs, seed, per_point, _scenario_name(scenario, payloads))


def _scenario_name(scenario: Any, payloads: Sequence[Any]) -> str:
    """A human name for the swept scenario: its title, else its file name."""
    for payload in payloads[:1]:
        name = getattr(payload, "name", None) or getattr(payload, "title", None)
        if isinstance(name, str) and name:
            return name
    if isinstance(scenario, os.PathLike) or (isinstance(scenario, str) and "\n" not in scenario):
        return Path(scenario).name
    return "scenario"


class SweepResult:
    """The calls of a sweep, one list per grid point, with tables and plots built from them."""

    def __init__(
        self,
        grid: Grid,
        runs: int,
        seed: int,
        records: list[CallTable],
        name: str = "scenario",
    ) -> None:
        """Keep the grid and, per point, its call records in run order."""
        self.grid = grid
        self.runs = runs
        self.seed = seed
        self.records = records
        self.name = name
        self._calls: pd.DataFrame | None = None
        self._summary: pd.DataFrame | None = None
        self._outcomes: pd.DataFrame | None = None

    def __repr__(self) -> str:
        """One line: scenario, grid and size."""
        calls = sum(len(r) for r in self.records)
        return (
            f"<SweepResult {self.name!r}: {self.grid.describe()}, "
            f"{self.runs} runs each, seed {self.seed}, {calls} calls>"
        )

    @property
    def calls(self) -> pd.DataFrame:
        """One row per call: point, the params, then the call record fields (``RECORD_FIELDS``)."""
        if self._calls is None:
            self._calls = _calls_frame(self.grid, self.records)
        return self._calls

    @property
    def summary(self) -> pd.DataFrame:
        """One row per point and measure: n, mean, std, CI, percentiles, max."""
        if self._summary is None:
            self._summary = _summary_frame(self.grid, self.records)
        return self._summary

    @property
    def outcomes(self) -> pd.DataFrame:
        """One row per point and outcome: count, share and its 95 % CI."""
        if self._outcomes is None:
            self._outcomes = _outcomes_frame(self.grid, self.records)
        return self._outcomes

    def point_label(self, point: int) -> str:
        """``loss=5%, delay=20ms`` for a point (the scenario's name when nothing is swept)."""
        return self.grid.label(point) or self.name

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the call table atomically, as .csv or .parquet by the suffix."""
        write_table(self.calls, path)

    def plot(
        self, measure: str, x: str | None = None, by: str | None = None, ax: Any = None,
        band: bool = True, label: str | None = None,
    ) -> Any:
        """Plot a measure's mean against a param with 95 % CI bands (one line per ``by``)."""
        from simsip.viz.plots import plot_measure

        return plot_measure(self, measure, x=x, by=by, ax=ax, band=band, label=label)

    def plot_cdf(self, measure: str = "final_ms", ax: Any = None, label: str | None = None) -> Any:
        """Plot the empirical CDF of a measure, one curve per point."""
        from simsip.viz.plots import plot_cdf

        return plot_cdf(self, measure, ax=ax, label=label)

    def plot_outcomes(self, x: str | None = None, ax: Any = None) -> Any:
        """Plot the share of each outcome at every point, as stacked bars."""
        from simsip.viz.plots import plot_outcomes

        return plot_outcomes(self, x=x, ax=ax)

    def _repr_html_(self) -> str:
        """Jupyter view: what was swept, then the per-point means with their CIs."""
        from html import escape

        head = (
            f"<p><b>{escape(self.name)}</b>: {escape(self.grid.describe())}, "
            f"{self.runs} runs each, seed {self.seed}</p>"
        )
        return head + _wide_summary(self).to_html(na_rep="", escape=True)


def _with_point_columns(grid: Grid, point: int, frame: pd.DataFrame) -> pd.DataFrame:
    """Put ``point`` and the point's param values in front of a per-point frame."""
    columns = grid.columns()
    for k, name in enumerate([POINT_COLUMN, *grid.names]):
        value = point if name == POINT_COLUMN else columns[name][point]
        frame.insert(k, name, [value] * len(frame))
    return frame


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack per-point frames (categoricals with equal categories stay categorical)."""
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def _calls_frame(grid: Grid, records: list[CallTable]) -> pd.DataFrame:
    """The per-call table, in (point, run) order."""
    from simsip.metrics.measures import RECORD_FIELDS

    clash = [name for name in grid.names if name in RECORD_FIELDS]
    if clash:
        raise SweepError(f"param {clash[0]}: the name clashes with a result column")
    return _concat([_with_point_columns(grid, p, table.to_pandas()) for p, table in enumerate(records)])


def _summary_frame(grid: Grid, records: list[CallTable]) -> pd.DataFrame:
    """Per point and measure: n, mean, std, 95 % CI (Student t), p50, p90, p99, max."""
    import pandas as pd

    from simsip.metrics.summary import MEASURES, measure_stats

    frames = []
    for point, table in enumerate(records):
        rows = []
        for measure in MEASURES:
            stats = measure_stats(table.column(measure))
            ci = stats.pop("ci95") or (None, None)
            rows.append({"measure": measure, **stats, "ci_low": ci[0], "ci_high": ci[1]})
        frame = pd.DataFrame(rows, columns=["measure", *SUMMARY_COLUMNS])
        frame = frame.astype({name: "float64" for name in SUMMARY_COLUMNS if name != "n"})
        frames.append(_with_point_columns(grid, point, frame))
    return _concat(frames)


def _outcomes_frame(grid: Grid, records: list[CallTable]) -> pd.DataFrame:
    """Per point and outcome: number of calls and share (0-1); every outcome seen anywhere, at every point."""
    import pandas as pd

    from simsip.metrics.summary import outcome_shares

    from simsip.metrics.measures import OUTCOMES

    per_point = [outcome_shares(table) for table in records]
    # The same outcomes at every point (0 where absent), so the frame is rectangular.
    names = [name for name in OUTCOMES if any(name in shares for shares in per_point)]
    frames = []
    for point, (table, shares) in enumerate(zip(records, per_point)):
        rows = [
            {"outcome": name, "calls": round(shares.get(name, 0.0) * len(table)), "share": shares.get(name, 0.0)}
            for name in names
        ]
        frame = pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS))
        frames.append(_with_point_columns(grid, point, frame))
    return _concat(frames)


def _wide_summary(result: SweepResult) -> pd.DataFrame:
    """Per point (rows): calls, answered share and each measure's ``mean [CI]``: the Jupyter view."""
    import pandas as pd

    from simsip.metrics.summary import MEASURES

    summary = result.summary
    outcomes = result.outcomes
    answered = outcomes[outcomes["outcome"] == "answered"]
    table: dict[str, list[str]] = {
        "calls": [str(len(t)) for t in result.records],
        "answered": [f"{100 * share:.1f} %" for share in answered["share"]],
    }
    for measure in MEASURES:
        rows = summary[summary["measure"] == measure]
        table[measure] = [mean_ci_text(r.mean, r.ci_low, r.ci_high) for r in rows.itertuples()]
    return pd.DataFrame(table, index=[result.point_label(p) for p in range(len(result.grid))])


def mean_ci_text(mean: float | None, low: float | None, high: float | None, compact: bool = False) -> str:
    """``mean [low, high]`` (``mean ± half-width`` if compact), decimals by size; ``–`` when missing."""
    if mean is None or mean != mean:
        return "–"
    digits = 0 if abs(mean) >= 100 else 1 if abs(mean) >= 10 else 2
    if low is None or high is None or low != low or high != high:
        return f"{mean:.{digits}f}"
    if compact:  # the t interval is symmetric about the mean
        return f"{mean:.{digits}f} ± {(high - low) / 2:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _load_point(scenario: Any, point: dict[str, str]) -> Any:
    """Load the scenario with one point's param overrides (bad params raise here, early)."""
    from simsip import engine
    from simsip.scenario.model import Scenario

    if isinstance(scenario, Scenario):
        if not point:
            return scenario
        if scenario.source in ("<text>", "<built>") or not Path(scenario.source).exists():
            raise SweepError("params swept over a scenario not read from a file; pass its text or path instead")
        scenario = scenario.source
    return engine.load(scenario, params=point or None)


def _engine_run_chunk(payload: Any, seed: int, start: int, stop: int) -> CallTable:
    """Runs [start, stop) of a loaded scenario on the engine, as call records."""
    from simsip import engine

    return engine.run_calls(payload, runs=stop - start, seed=seed, first_run=start)
