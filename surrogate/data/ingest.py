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

from solvers import cells
from solvers.cells import CORNERS
from solvers.errors import InputError, MeshError
from solvers.mesh import Mesh
from solvers.mesh_io import check_xdmf_references, dimension_of, mesh_and_nodes, meshio_read
from surrogate.data.sample import DatasetError, Sample
from surrogate.node_types import NODE_TYPES
from surrogate.plain_yaml import read_yaml

AXES = "xyz"


STEP_SUFFIXES = (".vtu", ".vtk")  # VTK XML and legacy VTK steps
EXODUS_SUFFIXES = (".e", ".exo", ".ex2")  # Exodus II: one file, every step


def read_series(source: str | Path, dt: float | None = None) -> list[tuple[float, Path]]:
    """(time, file) of each step of a .pvd or a folder of .vtu (or legacy .vtk) files."""
    source = Path(source)
    if source.is_dir():
        files = [p for p in source.iterdir() if p.suffix in STEP_SUFFIXES and p.is_file()]
        files = sorted(files, key=_natural_key)
        if not files:
            raise DatasetError(f"{source}: holds no .vtu or .vtk files; expected a time series.")
        if len({p.suffix for p in files}) > 1:
            raise DatasetError(f"{source}: mixes .vtu and .vtk files; expected one kind.")
        return [(i * (dt or 1.0), path) for i, path in enumerate(files)]
    if source.suffix == ".pvd":
        return _pvd_steps(source)
    raise DatasetError(
        f"{source}: not a .pvd, .xdmf, Exodus II (.e, .exo) or folder of .vtu or .vtk files; "
        "expected a time series."
    )


def ingest_series(
    source: str | Path, fields: list[str], rules: dict | None = None, dt: float | None = None
) -> Sample:
    """One transient Sample from a time series with the named fields: point data as they
    are, cell data as node values (NodeFields). Steps are read one at a time into arrays
    allocated once, so memory holds the fields, the mesh and one step's file."""
    source = Path(source)
    if source.suffix == ".xdmf":
        mesh, times, data, convert = _xdmf_series(source, fields)
    elif source.suffix.lower() in EXODUS_SUFFIXES:
        mesh, times, data, convert = _exodus_series(source, fields)
    else:
        steps = read_series(source, dt)
        first = _read_step(steps[0][1])
        mesh, kept = _mesh_of(first, steps[0][1])
        convert = NodeFields(mesh, kept, fields)
        times = np.array([t for t, _ in steps])
        data = {}
        for k, (_, path) in enumerate(steps):
            raw = first if k == 0 else _read_step(path)
            _check_same_mesh(raw, first, path, steps[0][1])
            for name, values in convert(raw, path).items():
                data.setdefault(name, np.empty((len(steps), *values.shape)))[k] = values
    if not (np.all(np.isfinite(times)) and np.all(np.diff(times) > 0)):
        raise DatasetError(
            f"{source}: its times {_preview(times)} are not finite and increasing; expected "
            "one state per distinct time."
        )
    mesh = apply_rules(mesh, rules, source)
    roles = {p: r["role"] for p, r in (rules or {}).items() if isinstance(r, dict) and "role" in r}
    meta = {"source": source.name, "part_roles": roles, "cell_data": convert.from_cells}
    return Sample(mesh, data, times, meta)


class NodeFields:
    """The named fields of each step as (N, C) node values: point data restricted to the
    mesh's nodes, cell data turned into node values by the average of the cells around
    each node, weighted by their areas or volumes (CELL_RULE). Each field must be of one
    kind, point or cell data, in every step."""

    CELL_RULE = "the volume-weighted average of the cells around each node"

    def __init__(self, mesh: Mesh, kept: np.ndarray, names: list[str]):
        self.mesh, self.kept, self.names = mesh, kept, names
        self.kinds: dict[str, str] = {}
        self.first: Path | None = None

    @property
    def from_cells(self) -> list[str]:
        return [name for name, kind in self.kinds.items() if kind == "cell"]

    def __call__(self, raw: meshio.Mesh, path: Path) -> dict[str, np.ndarray]:
        self.first = self.first or path
        return {name: self._field(raw, name, path) for name in self.names}

    def _field(self, raw: meshio.Mesh, name: str, path: Path) -> np.ndarray:
        kind = "point" if name in raw.point_data else "cell" if name in raw.cell_data else None
        if kind is None:
            known = ", ".join(sorted({*raw.point_data, *raw.cell_data})) or "none"
            raise DatasetError(f"{path}: has no point or cell field '{name}' (it has: {known}).")
        if self.kinds.setdefault(name, kind) != kind:
            raise DatasetError(
                f"{path}: field '{name}' is {kind} data here but {self.kinds[name]} data in "
                f"{self.first.name}; expected one kind in every step."
            )
        if kind == "point":
            values = np.asarray(raw.point_data[name], dtype=np.float64)
            values = values.reshape(len(raw.points), -1)[self.kept]
        else:
            values = self._cell_values(raw, name, path)
        if not np.all(np.isfinite(values)):
            raise DatasetError(f"{path}: {kind} field '{name}' has NaN or infinite values.")
        return values

    def _cell_values(self, raw: meshio.Mesh, name: str, path: Path) -> np.ndarray:
        blocks = [
            np.asarray(values, dtype=np.float64)
            for block, values in zip(raw.cells, raw.cell_data[name], strict=True)
            if dimension_of(CORNERS.get(block.type, block.type)) == self.mesh.dim
        ]
        weights = self.mesh.written_volumes
        count = sum(len(values) for values in blocks)
        if count != len(weights):
            raise DatasetError(
                f"{path}: cell field '{name}' has {count} values; expected one per cell "
                f"({len(weights)})."
            )
        values = np.concatenate([values.reshape(len(values), -1) for values in blocks])
        return cells.to_nodes(values, self.mesh.written_cells, weights, self.mesh.num_nodes)


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
    return meshio_read(path, ["vtu" if path.suffix == ".vtu" else "vtk"])


def _mesh_of(raw: meshio.Mesh, path: Path) -> tuple[Mesh, np.ndarray]:
    """The mesh and the indices of its nodes among the file's points."""
    try:
        mesh, kept = mesh_and_nodes(raw)
    except MeshError as error:
        raise MeshError(f"{path}: {error}") from None
    higher = any(block.type in CORNERS for block in raw.cells)
    if mesh.num_nodes != len(raw.points) and not higher:
        raise DatasetError(
            f"{path}: {len(raw.points) - mesh.num_nodes} point(s) belong to no cell; expected "
            "every point in a cell (point fields are matched by position)."
        )
    return mesh, kept


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


def _xdmf_series(path: Path, fields: list[str]):
    check_xdmf_references(path)
    try:
        with meshio.xdmf.TimeSeriesReader(path) as reader:
            points, cells = reader.read_points_cells()
            raw = meshio.Mesh(points, cells)
            mesh, kept = _mesh_of(raw, path)
            convert = NodeFields(mesh, kept, fields)
            times, data = [], {name: [] for name in fields}
            for k in range(reader.num_steps):
                t, point_data, cell_data = reader.read_data(k)
                times.append(t)
                step = meshio.Mesh(points, cells, point_data=point_data, cell_data=cell_data)
                for name, values in convert(step, path).items():
                    data[name].append(values)
    except (InputError, MeshError):
        raise
    except (Exception, SystemExit) as error:
        raise DatasetError(f"{path}: cannot be read as an XDMF time series ({error}).") from None
    stacked = {name: np.stack(values) for name, values in data.items()}
    return mesh, np.array(times), stacked, convert


def _exodus_series(path: Path, fields: list[str]):
    """An Exodus II file's mesh (through meshio) and every time step of its nodal and
    element variables (through netCDF4: meshio keeps only the first step)."""
    import netCDF4

    if not path.is_file():
        raise DatasetError(f"{path}: no such file; expected an Exodus II time series.")
    raw = meshio_read(path, ["exodus"])
    mesh, kept = _mesh_of(raw, path)
    convert = NodeFields(mesh, kept, fields)
    try:
        with netCDF4.Dataset(path) as nc:
            nc.set_auto_mask(False)
            variables = nc.variables
            times = np.asarray(variables["time_whole"][:], dtype=np.float64)
            nodal = _names(variables, "name_nod_var")
            element = _names(variables, "name_elem_var")
            blocks = len(raw.cells)
            data = {}
            for k in range(len(times)):
                point_data = {
                    name: variables[f"vals_nod_var{i + 1}"][k]
                    for i, name in enumerate(nodal) if name in fields
                }  # fmt: skip
                cell_data = {
                    name: [variables[f"vals_elem_var{i + 1}eb{b + 1}"][k] for b in range(blocks)]
                    for i, name in enumerate(element) if name in fields
                }  # fmt: skip
                step = meshio.Mesh(
                    raw.points, raw.cells, point_data=point_data, cell_data=cell_data
                )
                for name, values in convert(step, path).items():
                    data.setdefault(name, np.empty((len(times), *values.shape)))[k] = values
    except (InputError, MeshError):
        raise
    except (Exception, SystemExit) as error:
        raise DatasetError(f"{path}: cannot be read as an Exodus II series ({error}).") from None
    return mesh, times, data, convert


def _names(variables, key: str) -> list[str]:
    """Exodus variable names: rows of characters."""
    if key not in variables:
        return []
    return [b"".join(row).decode("utf-8").strip("\x00 ") for row in variables[key][:]]


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
    return mesh.with_parts(parts)
