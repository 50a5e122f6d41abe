"""Trace events, per-call measures and their summaries (DESIGN.md "Measures").

- :mod:`simsip.metrics.trace`: :class:`TraceEvent`, the sinks the engine feeds
  (:func:`make_sink`), JSON lines;
- :mod:`simsip.metrics.measures`: :class:`CallFolder`, the one place that folds
  events into call records, stored in a :class:`CallTable`;
- :mod:`simsip.metrics.summary`: statistics, RFC 6076 ratios, table and CSV;
- :mod:`simsip.metrics.analytic`: exact expected values for checking the simulator.
"""

from __future__ import annotations

from simsip.metrics.measures import OUTCOMES, RECORD_FIELDS, CallFolder, CallTable, NodeCounters
from simsip.metrics.summary import MEASURES, measure_stats, render_table, summarize, write_csv
from simsip.metrics.trace import (
    FullSink,
    OffSink,
    TraceEvent,
    TraceSink,
    fold_events,
    make_sink,
    read_jsonl,
    write_jsonl,
)

__all__ = [
    "MEASURES",
    "OUTCOMES",
    "RECORD_FIELDS",
    "CallFolder",
    "CallTable",
    "FullSink",
    "NodeCounters",
    "OffSink",
    "TraceEvent",
    "TraceSink",
    "fold_events",
    "make_sink",
    "measure_stats",
    "read_jsonl",
    "render_table",
    "summarize",
    "write_csv",
    "write_jsonl",
]
