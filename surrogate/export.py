"""Rollout output: a ParaView time series (.pvd + one .vtu per step) and pictures rendered
off-screen with pyvista (a PNG of the last state, a GIF of the whole rollout)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from solvers import Mesh
from solvers.mesh_io import write_time_series

MAX_FRAMES = 60  # GIF frames; longer rollouts are subsampled evenly


def write_series(path: Path, mesh: Mesh, times, fields: dict[str, np.ndarray]) -> Path:
    """PATH.pvd of fields {name: (T, N, C)}; 2-component vectors get a zero third
    component so ParaView draws them as glyphs."""
    padded = {
        name: np.pad(v, ((0, 0), (0, 0), (0, 1))) if v.shape[-1] == 2 else v
        for name, v in fields.items()
    }
    write_time_series(mesh, path, times, padded)
    return Path(path).with_suffix(".pvd")


def magnitude(values: np.ndarray) -> np.ndarray:
    """(..., N) of (..., N, C): the value itself when C = 1, else the Euclidean norm."""
    return values[..., 0] if values.shape[-1] == 1 else np.linalg.norm(values, axis=-1)


def render(
    folder: Path, mesh: Mesh, times, name: str, predicted: np.ndarray, reference=None
) -> list[Path]:
    """PNG of the last state and GIF of all states of one field (T, N): the prediction,
    and beside it the reference and the error when a reference is given."""
    pv = offscreen_pyvista()
    grid = pyvista_grid(mesh)
    panels = [("surrogate", predicted)]
    if reference is not None:
        panels += [("reference", reference), ("error", predicted - reference)]
    limits = _limits(panels)
    size = (420 * len(panels), 360)
    plotter = pv.Plotter(off_screen=True, shape=(1, len(panels)), window_size=size)
    meshes = []
    for column, (title, values) in enumerate(panels):
        plotter.subplot(0, column)
        shown = grid.copy()
        shown.point_data[name] = values[-1]
        bar = {"title": f"{name} {title}", "vertical": False, "n_labels": 3, "fmt": "%.3g"}
        plotter.add_mesh(
            shown, scalars=name, clim=limits[title], cmap=_cmap(title), scalar_bar_args=bar
        )
        plotter.add_text(f"{title}  t = {times[-1]:.3g}", font_size=9, name="time")
        if mesh.dim == 2:
            plotter.view_xy()
        meshes.append(shown)
    png, gif = folder / f"{name}_final.png", folder / f"{name}_rollout.gif"
    plotter.screenshot(str(png))
    plotter.open_gif(str(gif))
    for k in np.unique(np.linspace(0, len(predicted) - 1, MAX_FRAMES).astype(int)):
        for column, (title, values) in enumerate(panels):
            meshes[column].point_data[name] = values[k]
            plotter.subplot(0, column)
            plotter.add_text(f"{title}  t = {times[k]:.3g}", font_size=9, name="time")
        plotter.write_frame()
    plotter.close()
    return [png, gif]


def can_render() -> bool:
    """Whether pyvista can be imported; if not, says once that pictures are skipped (the
    ParaView files are written either way)."""
    try:
        import pyvista  # noqa: F401
    except ImportError:
        pass
    else:
        return True
    if not _SKIPPED:
        print("pyvista is not installed: pictures skipped (the .pvd/.vtu files are written).")
        _SKIPPED.append(True)
    return False


_SKIPPED: list[bool] = []


def offscreen_pyvista():
    """pyvista, set to render without a window (pictures, notebooks, machines without a
    display)."""
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        # Without a display VTK first tries X, warns, then falls back to EGL: go straight
        # to EGL.
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    pv.OFF_SCREEN = True
    return pv


def pyvista_grid(mesh: Mesh):
    """The mesh as a pyvista UnstructuredGrid (2D points get z = 0)."""
    import pyvista as pv

    points = np.pad(mesh.points, ((0, 0), (0, 3 - mesh.dim)))
    kind = pv.CellType.TRIANGLE if mesh.dim == 2 else pv.CellType.TETRA
    return pv.UnstructuredGrid({kind: mesh.cells}, points)  # 3D: pyvista draws the surface


def _limits(panels) -> dict[str, tuple[float, float]]:
    values = np.concatenate([v.ravel() for title, v in panels if title != "error"])
    shared = (float(values.min()), float(values.max()))
    limits = {title: shared for title, _ in panels}
    if len(panels) > 2:
        largest = float(np.abs(panels[2][1]).max()) or 1.0
        limits["error"] = (-largest, largest)
    return limits


def _cmap(title: str) -> str:
    return "RdBu_r" if title == "error" else "viridis"
