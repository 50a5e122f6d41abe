"""Plots of sweep results (matplotlib, imported only when a plot is drawn).

* :func:`plot_measure`: a measure's mean against a swept param, with its 95 %
  confidence band, one line per value of the other swept params;
* :func:`plot_cdf`: the empirical CDF of a measure (``final_ms`` by default),
  one curve per grid point;
* :func:`plot_outcomes`: the share of each outcome at every point, stacked.

Each takes a :class:`simsip.experiment.SweepResult`, draws on ``ax`` (a new
figure when None) and returns the axes, so notebooks can overlay more curves
(an analytic model, say) and restyle freely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simsip.experiment import ParamAxis, SweepResult

# One colour per outcome, fixed so every plot reads the same way.
OUTCOME_COLOURS = {
    "answered": "tab:green",
    "rejected": "tab:orange",
    "timeout": "tab:red",
    "reliability_failure": "tab:purple",
    "cancelled": "tab:gray",
    "incomplete": "tab:brown",
}


def _axes(ax: Any) -> Any:
    """The given axes, or those of a new figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _figure, new_ax = plt.subplots(figsize=(7, 4.2))
    return new_ax


def _axis(result: SweepResult, name: str) -> ParamAxis:
    """The swept axis called ``name``, or a ValueError listing the swept ones."""
    for axis in result.grid.axes:
        if axis.name == name:
            return axis
    swept = ", ".join(result.grid.names) or "none"
    raise ValueError(f"{name!r} is not a swept param (swept: {swept})")


def _default_x(result: SweepResult) -> ParamAxis:
    """The first axis with several values, numeric ones first."""
    varying = [axis for axis in result.grid.axes if len(axis.values) > 1]
    if not varying:
        raise ValueError("nothing varies in this sweep: no axis to plot against")
    numeric = [axis for axis in varying if axis.numbers is not None]
    return (numeric or varying)[0]


def plot_measure(
    result: SweepResult,
    measure: str,
    x: str | None = None,
    by: str | None = None,
    ax: Any = None,
    band: bool = True,
    label: str | None = None,
) -> Any:
    """Mean of ``measure`` against param ``x`` with a 95 % CI band, one line per other point.

    ``by`` names the param that tells the lines apart in the legend; the lines
    are always split by every other swept param, so no two points are averaged.
    ``label`` prefixes the legend entries, to compare several sweeps on one ``ax``.
    """
    summary = result.summary
    rows = summary[summary["measure"] == measure]
    if rows.empty:
        known = ", ".join(sorted(set(summary["measure"])))
        raise ValueError(f"no measure {measure!r} in this sweep (measures: {known})")
    x_axis = _axis(result, x) if x is not None else _default_x(result)
    others = [a.name for a in result.grid.axes if a.name != x_axis.name and len(a.values) > 1]
    if by is not None:
        _axis(result, by)
        others = [by] + [name for name in others if name != by]
    ax = _axes(ax)
    positions = _positions(x_axis)
    groups = rows.groupby(others, sort=False) if others else [((), rows)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        group = group.sort_values(x_axis.name)
        xs = [positions[v] for v in group[x_axis.name]]
        text = ", ".join(f"{name}={_value_text(result, name, v)}" for name, v in zip(others, key))
        (line,) = ax.plot(xs, group["mean"], marker="o", label=_legend(label, text))
        if band:
            ax.fill_between(xs, group["ci_low"], group["ci_high"], color=line.get_color(), alpha=0.2, linewidth=0)
    _label_x(ax, x_axis)
    ax.set_ylabel(f"mean {measure} (95 % CI)" if band else f"mean {measure}")
    ax.set_title(result.name)
    ax.grid(True, alpha=0.3)
    if others or label:
        ax.legend()
    return ax


def _legend(prefix: str | None, text: str) -> str | None:
    """A legend entry from a sweep's label and a point's params (None: no entry)."""
    if prefix and text:
        return f"{prefix}, {text}"
    return prefix or text or None


def _positions(axis: ParamAxis) -> dict[Any, float]:
    """Where each table value of an axis sits on the x axis (index for text axes)."""
    if axis.numbers is not None:
        return {v: v for v in axis.numbers}
    return {v: float(i) for i, v in enumerate(axis.values)}


def _label_x(ax: Any, axis: ParamAxis) -> None:
    """Label the x axis with the param (and its unit); text axes get their values as ticks."""
    ax.set_xlabel(axis.label)
    if axis.numbers is None:
        ax.set_xticks(range(len(axis.values)), axis.values)


def _value_text(result: SweepResult, name: str, value: Any) -> str:
    """The value of a param as the user wrote it (``20ms``), from its table value (20.0)."""
    axis = _axis(result, name)
    column = axis.column()
    return axis.values[column.index(value)] if value in column else str(value)


def plot_cdf(
    result: SweepResult, measure: str = "final_ms", ax: Any = None, label: str | None = None
) -> Any:
    """Empirical CDF of ``measure`` at every point (calls without the measure left out)."""
    calls = result.calls
    if measure not in calls.columns:
        raise ValueError(f"no measure {measure!r} in this sweep")
    ax = _axes(ax)
    for point in range(len(result.grid)):
        values = calls.loc[calls["point"] == point, measure].dropna().sort_values().to_numpy(dtype=float)
        if len(values) == 0:
            continue
        shares = [(i + 1) / len(values) for i in range(len(values))]
        ax.step(values, shares, where="post", label=_legend(label, result.grid.label(point)))
    ax.set_xlabel(measure)
    ax.set_ylabel("share of calls ≤ x")
    ax.set_ylim(0, 1.02)
    ax.set_title(result.name)
    ax.grid(True, alpha=0.3)
    if len(result.grid) > 1 or label:
        ax.legend()
    return ax



def plot_outcomes(result: SweepResult, x: str | None = None, ax: Any = None) -> Any:
    """Share of each outcome at every point, as stacked bars (ordered along ``x`` if given)."""
    outcomes = result.outcomes
    order = list(range(len(result.grid)))
    if x is not None:
        axis = _axis(result, x)
        column = result.grid.columns()[axis.name]
        order.sort(key=lambda p: _positions(axis)[column[p]])
    ax = _axes(ax)
    names = [name for name in OUTCOME_COLOURS if name in set(outcomes["outcome"])]
    names += sorted(set(outcomes["outcome"]) - set(names))
    bottoms = [0.0] * len(order)
    for name in names:
        rows = outcomes[outcomes["outcome"] == name].set_index("point")["share"]
        heights = [float(rows.get(p, 0.0)) for p in order]
        ax.bar(range(len(order)), heights, bottom=bottoms, label=name, color=OUTCOME_COLOURS.get(name))
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    ax.set_xticks(range(len(order)), [result.point_label(p) for p in order], rotation=30, ha="right")
    ax.set_ylabel("share of calls")
    ax.set_ylim(0, 1.0)
    ax.set_title(result.name)
    ax.legend(loc="lower left")
    return ax
