"""Ingest another solver's runs: time series of .vtu files become dataset samples.

A source is a ParaView .pvd collection, a folder of .vtu files (time = file order, or
dt times it), or an XDMF time series. Every step must carry the same mesh and the named
point fields, finite. Boundary parts come from the mesh's gmsh tags or from rules: a YAML
mapping part -> {x: [low, high], y: [...], z: [...], role: ROLE} (null for an open end)
matched by every vertex of a boundary facet, in file order, with the value "rest" (or
{rest: true, role: ROLE}) taking the facets no earlier rule took. ROLE (optional) is one
of graphs.NODE_TYPES; without it the part's name decides (inlet, outlet, walls, obstacle)
or it counts as dirichlet.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import meshio
import numpy as np

from solvers.errors import InputError, MeshError
from solvers.mesh import Mesh
from solvers.mesh_io import check_xdmf_references, mesh_from_meshio, meshio_read
from surrogate.data.sample import DatasetError, Sample
from surrogate.node_types import NODE_TYPES
from surrogate.plain_yaml import read_yaml

AXES = "xyz"


def read_series(source: str | Path, dt: float | None = None) -> list[tuple[float, Path]]:
    """(time, file) of each step of a .pvd or a folder of .vtu files."""
    source = Path(source)
    if source.is_dir():
        files = sorted(source.glob("*.vtu"), key=_natural_key)
        if not files:
            raise DatasetError(f"{source}: holds no .vtu files; expected a time series.")
        return [(i * (dt or 1.0), path) for i, path in enumerate(files)]
    if source.suffix == ".pvd":
        return _pvd_steps(source)
    raise DatasetError(
        f"{source}: not a .pvd, .xdmf or folder of .vtu files; expected a time series."
    )


def ingest_series(
    source: str | Path, fields: list[str], rules: dict | None = None, dt: float | None = None
) -> Sample:
    """One transient Sample from a time series with the named point fields."""
    source = Path(source)
    if source.suffix == ".xdmf":
        mesh, times, data = _xdmf_series(source, fields)
    else:
        steps = read_series(source, dt)
        first = _read_step(steps[0][1])
        mesh = _mesh_of(first, steps[0][1])
        times = np.array([t for t, _ in steps])
        data = {name: [] for name in fields}
        for _, path in steps:
            raw = first if path == steps[0][1] else _read_step(path)
            _check_same_mesh(raw, first, path, steps[0][1])
            for name in fields:
                data[name].append(_point_field(raw, name, path))
        data = {name: np.stack(values) for name, values in data.items()}
    if not (np.all(np.isfinite(times)) and np.all(np.diff(times) > 0)):
        raise DatasetError(
            f"{source}: its times {_preview(times)} are not finite and increasing; expected "
            "one state per distinct time."
        )
    mesh = apply_rules(mesh, rules, source)
    out = {name: values.reshape(len(times), mesh.num_nodes, -1) for name, values in data.items()}
    roles = {p: r["role"] for p, r in (rules or {}).items() if isinstance(r, dict) and "role" in r}
    return Sample(mesh, out, times, {"source": source.name, "part_roles": roles})


def _preview(times: np.ndarray) -> str:
    shown = ", ".join(f"{t:g}" for t in times[:4])
    return f"[{shown}{', ...' if len(times) > 4 else ''}]"


def load_rules(path: str | Path) -> dict:
    """Part rules from YAML, each checked: bounds [low, high] of numbers or null per axis,
    a role among the node types, or rest."""
    path = Path(path)
    rules = read_yaml(path, "YAML rules")
    if not isinstance(rules, dict) or not rules:
        raise InputError(f"{path}: expected a mapping part -> {{x: [low, high], ...}} or 'rest'.")
    for name, rule in rules.items():
        problem = _rule_problem(rule)
        if problem:
            raise InputError(f"{path}: the rule for part '{name}' {problem}.")
    return rules


def _rule_problem(rule) -> str | None:
    if rule == "rest":
        return None
    if not isinstance(rule, dict):
        return f"is {rule!r}; expected {{x: [low, high], ...}} or 'rest'"
    for key, value in rule.items():
        if key == "role":
            if value not in NODE_TYPES:
                return f"has role {value!r}; expected one of {', '.join(NODE_TYPES)}"
        elif key == "rest":
            if not isinstance(value, bool):
                return f"has rest: {value!r}; expected true or false"
        elif key not in AXES:
            return f"names {key!r}; expected x, y, z, role or rest"
        elif not (
            isinstance(value, list)
            and len(value) == 2
            and all(v is None or (_number(v) and np.isfinite(v)) for v in value)
        ):
            return f"has {key}: {value!r}; expected [low, high], numbers or null"
    return None


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---- helpers ------------------------------------------------------------------------------
def _natural_key(path: Path) -> list:
    return [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", path.name)]


def _pvd_steps(path: Path) -> list[tuple[float, Path]]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as error:
        raise DatasetError(f"{path}: cannot be parsed ({error}); expected a .pvd file.") from None
    folder = path.resolve().parent
    steps = []
    for entry in root.iter("DataSet"):
        target = (folder / entry.get("file", "")).resolve()
        if not target.is_relative_to(folder):
            raise DatasetError(
                f"{path}: names '{entry.get('file')}' outside its folder; expected step "
                "files next to the .pvd."
            )
        time = entry.get("timestep", str(len(steps)))
        try:
            value = float(time)
        except ValueError:
            value = float("nan")
        if not np.isfinite(value):
            raise DatasetError(f"{path}: timestep {time!r} is not a finite number.")
        steps.append((value, target))
    if not steps:
        raise DatasetError(f"{path}: lists no DataSet; expected a time series.")
    return sorted(steps, key=lambda step: step[0])


def _read_step(path: Path) -> meshio.Mesh:
    return meshio_read(path, ["vtu"])


def _mesh_of(raw: meshio.Mesh, path: Path) -> Mesh:
    try:
        mesh = mesh_from_meshio(raw)
    except MeshError as error:
        raise MeshError(f"{path}: {error}") from None
    if mesh.num_nodes != len(raw.points):
        raise DatasetError(
            f"{path}: {len(raw.points) - mesh.num_nodes} point(s) belong to no cell; expected "
            "every point in a cell (point fields are matched by position)."
        )
    return mesh


def _check_same_mesh(raw: meshio.Mesh, first: meshio.Mesh, path: Path, first_path: Path):
    same = raw.points.shape == first.points.shape and np.array_equal(raw.points, first.points)
    same = (
        same
        and len(raw.cells) == len(first.cells)
        and all(
            a.type == b.type and np.array_equal(a.data, b.data)
            for a, b in zip(raw.cells, first.cells, strict=True)
        )
    )
    if not same:
        raise DatasetError(
            f"{path}: its mesh differs from {first_path.name}'s; expected one fixed mesh "
            "for the whole series."
        )


def _point_field(raw: meshio.Mesh, name: str, path: Path) -> np.ndarray:
    if name not in raw.point_data:
        known = ", ".join(sorted(raw.point_data)) or "none"
        raise DatasetError(f"{path}: has no point field '{name}' (it has: {known}).")
    values = np.asarray(raw.point_data[name], dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise DatasetError(f"{path}: point field '{name}' has NaN or infinite values.")
    return values.reshape(len(raw.points), -1)


def _xdmf_series(path: Path, fields: list[str]):
    check_xdmf_references(path)
    try:
        with meshio.xdmf.TimeSeriesReader(path) as reader:
            points, cells = reader.read_points_cells()
            raw = meshio.Mesh(points, cells)
            times, data = [], {name: [] for name in fields}
            for k in range(reader.num_steps):
                t, point_data, _ = reader.read_data(k)
                times.append(t)
                step = meshio.Mesh(points, cells, point_data=point_data)
                for name in fields:
                    data[name].append(_point_field(step, name, path))
    except (InputError, MeshError):
        raise
    except (Exception, SystemExit) as error:
        raise DatasetError(f"{path}: cannot be read as an XDMF time series ({error}).") from None
    mesh = _mesh_of(raw, path)
    return mesh, np.array(times), {name: np.stack(v) for name, v in data.items()}


def apply_rules(mesh: Mesh, rules: dict | None, source: Path) -> Mesh:
    """mesh with its boundary parts named by the rules (load_rules) instead."""
    if not rules:
        return mesh
    facets = mesh.boundary_facets
    corners = mesh.points[facets]  # (F, d, d)
    taken = np.zeros(len(facets), dtype=bool)
    parts = {}
    for name, rule in rules.items():
        rule = {"rest": True} if rule == "rest" else rule
        inside = ~taken
        if not rule.get("rest"):
            for axis, bounds in rule.items():
                if axis == "role":
                    continue
                if axis not in AXES[: mesh.dim] or not (
                    isinstance(bounds, list) and len(bounds) == 2
                ):
                    raise InputError(
                        f"rule for part '{name}' has {axis}: {bounds!r}; expected "
                        f"{' / '.join(AXES[: mesh.dim])}: [low, high]."
                    )
                values = corners[..., AXES.index(axis)]
                low = -np.inf if bounds[0] is None else bounds[0]
                high = np.inf if bounds[1] is None else bounds[1]
                inside &= np.all((values >= low) & (values <= high), axis=1)
        if not inside.any():
            raise DatasetError(f"{source}: rule for part '{name}' matches no boundary facet.")
        parts[name] = facets[inside]
        taken |= inside
    return Mesh(mesh.points, mesh.cells, parts)
