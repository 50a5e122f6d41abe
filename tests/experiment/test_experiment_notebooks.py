"""The notebooks run top to bottom (with few runs) and are committed with their outputs."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["prack_under_loss.ipynb", "timers_explained.ipynb", "bursty_loss.ipynb"]
# Each notebook reads this to shrink its sweeps; a full run uses its own default.
SMALL_RUNS = "8"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_with_outputs_of_a_full_run(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count is not None for cell in code)
    displayed = [output.get("data", {}) for cell in code for output in cell.outputs]
    assert any("image/png" in data for data in displayed)  # matplotlib figures
    assert any("image/svg+xml" in data or "text/html" in data for data in displayed)  # ladders, tables
    assert not [output for cell in code for output in cell.outputs if output.output_type == "error"]
    assert not [output for cell in code for output in cell.outputs
                if output.output_type == "stream" and output.name == "stderr"]
    assert "SIMSIP_NOTEBOOK_RUNS" in code[0].source  # the small-runs switch the suite uses


def execute(notebook: nbformat.NotebookNode, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run a notebook in a fresh kernel that imports simsip from this checkout, in notebooks/."""
    # The kernel is another process: pytest's `pythonpath` does not reach it, so without this
    # it would import whichever simsip is installed, which need not be the code under test.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, if any cell fails


def test_notebook_kernel_imports_simsip_from_this_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import simsip; print(simsip.__file__)")])
    execute(notebook, monkeypatch)
    assert notebook.cells[0].outputs[0].text.strip() == str(ROOT / "simsip" / "__init__.py")


@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes_top_to_bottom(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMSIP_NOTEBOOK_RUNS", SMALL_RUNS)
    execute(nbformat.read(NOTEBOOKS / name, as_version=4), monkeypatch)
