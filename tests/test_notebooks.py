"""The notebooks run top to bottom in a fresh kernel, without errors or warnings, draw
their pictures, write what their text says, and are stored without outputs."""

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# Pictures each notebook shows, and files it says it writes (relative to its folder).
EXPECTED = {
    "01_quickstart": (
        5,
        [
            "runs/01_quickstart/train/checkpoints/best.ckpt",
            "runs/01_quickstart/rollout/rollout.pvd",
            "runs/01_quickstart/rollout/u_rollout.gif",
            "runs/01_quickstart/member_1/checkpoints/best.ckpt",
            "runs/01_quickstart/poor/rollout.pvd",
        ],
    ),
    "02_your_solver_data": (
        3,
        [
            "runs/02_your_solver_data/dataset/manifest.json",
            "runs/02_your_solver_data/replay/rollout.pvd",
            "runs/02_your_solver_data/replay/T_final.png",
        ],
    ),
    "03_multigrid_hierarchy": (5, []),
}


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_every_notebook_is_checked():
    assert [path.stem for path in notebook_paths()] == sorted(EXPECTED)


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda path: path.stem)
def test_notebook_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on error
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "Warning" not in printed and "WARN" not in printed, printed
    pictures = sum("image/png" in o.get("data", {}) for o in outputs)
    count, files = EXPECTED[path.stem]
    assert pictures == count
    for name in files:
        assert (tmp_path / name).stat().st_size > 0, name
    if path.stem == "02_your_solver_data":  # the replay covers the whole held-out run
        metrics = json.loads((tmp_path / files[1]).with_name("metrics.json").read_text())
        assert len(metrics["fields"]["T"]["relative_l2"]) == 20
