"""The mesh: points, simplices, named boundary parts and, for meshes of other cell types,
the cells as they came; validated once on creation."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from math import factorial
from pathlib import Path

import numpy as np

from solvers import cells as cell_types
from solvers.errors import MeshError

# A cell whose volume is below this fraction of (longest edge)^d counts as degenerate.
DEGENERATE_RELATIVE_VOLUME = 1e-10


@dataclass(frozen=True, eq=False)
class Mesh:
    """A 2D triangle or 3D tetrahedron mesh.

    points: (N, d) float64 coordinates, d in {2, 3}.
    cells: (M, d+1) int64 vertex indices, positively oriented (det of the edge matrix > 0).
    boundary_parts: name -> (F, d) int64 facets (edges in 2D, triangles in 3D), e.g. from
        gmsh physical groups ("inlet", "hole_0", ...).
    shapes: the cells as another solver wrote them (quads, hexahedra, mixes: see
        solvers.cells), of which `cells` is the conforming split; empty for simplex meshes.
        The graph's edges and written files use them.

    Construction validates and normalises: finite coordinates, indices in range, no
    degenerate cells; orphan nodes are removed and cells re-oriented. Arrays are read-only;
    methods that change the mesh return a new one.
    """

    points: np.ndarray
    cells: np.ndarray
    boundary_parts: dict[str, np.ndarray] = field(default_factory=dict)
    shapes: cell_types.Shapes = ()

    def __post_init__(self) -> None:
        points, cells, parts, volumes = _validated(self.points, self.cells, self.boundary_parts)
        for kind, data in self.shapes:
            _check_shape(str(kind), np.asarray(data), points.shape[1])
        shapes = tuple((str(kind), np.array(data, dtype=np.int64)) for kind, data in self.shapes)
        for kind, data in shapes:
            _check_index_range(data, len(points), f"{kind} cell")
        cells = _oriented(cells, volumes)
        points, cells, parts, shapes = _without_orphans(points, cells, parts, shapes)
        volumes = np.abs(volumes)
        for array in (points, cells, volumes, *parts.values(), *(d for _, d in shapes)):
            array.setflags(write=False)
        object.__setattr__(self, "points", points)
        object.__setattr__(self, "cells", cells)
        object.__setattr__(self, "boundary_parts", parts)
        object.__setattr__(self, "shapes", shapes)
        self.__dict__["cell_volumes"] = volumes  # computed during validation: seed the cache

    @classmethod
    def from_shapes(cls, points, shapes: cell_types.Shapes, parts: dict | None = None) -> Mesh:
        """A mesh of cells of any linear type (solvers.cells), split into simplices; a
        mesh of simplices only keeps no shapes."""
        points = np.asarray(points, dtype=np.float64)
        kinds = {kind for kind, _ in shapes}
        if kinds <= {"triangle", "tetra"} and len(kinds) == 1:
            return cls(points, np.concatenate([data for _, data in shapes]), parts or {})
        simplices, _ = cell_types.split(shapes, points)
        return cls(points, simplices, parts or {}, shapes)

    def with_parts(self, parts: dict[str, np.ndarray]) -> Mesh:
        """The same mesh with other boundary parts."""
        return Mesh(self.points, self.cells, parts, self.shapes)

    @property
    def written_cells(self) -> cell_types.Shapes:
        """The cells to write: the shapes as they came, or the simplices."""
        return self.shapes or ((("triangle", "tetra")[self.dim - 2], self.cells),)

    # ---- construction and output -------------------------------------------------------
    @classmethod
    def read(cls, path: str | Path) -> Mesh:
        """Read any meshio-readable triangle or tetrahedron mesh (see solvers.mesh_io)."""
        from solvers.mesh_io import read_mesh

        return read_mesh(path)

    def write(
        self, path: str | Path, point_data: dict | None = None, cell_data: dict | None = None
    ):
        """Write the mesh (and optional fields) atomically, e.g. to .vtu or .msh."""
        from solvers.mesh_io import write_mesh

        write_mesh(self, path, point_data=point_data, cell_data=cell_data)

    # ---- sizes ---------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.points.shape[1]

    @property
    def num_nodes(self) -> int:
        return self.points.shape[0]

    @property
    def num_cells(self) -> int:
        return self.cells.shape[0]

    # ---- topology ------------------------------------------------------------------------
    @cached_property
    def boundary_facets(self) -> np.ndarray:
        """(F, d) facets that belong to exactly one cell, vertex indices sorted per row."""
        facets = _all_facets(self.cells)
        keys = _row_keys(facets, self.num_nodes)
        _, first, counts = np.unique(keys, return_index=True, return_counts=True)
        return facets[first[counts == 1]]

    @cached_property
    def boundary_nodes(self) -> np.ndarray:
        """Sorted indices of the nodes on the boundary."""
        return np.unique(self.boundary_facets)

    @cached_property
    def edges(self) -> np.ndarray:
        """(E, 2) unique undirected edges, i < j: the shapes' edges when it has shapes."""
        if self.shapes:
            return cell_types.edges(self.shapes, self.num_nodes)
        d = self.dim
        pairs = [(a, b) for a in range(d + 1) for b in range(a + 1, d + 1)]
        edges = np.sort(np.concatenate([self.cells[:, [a, b]] for a, b in pairs]), axis=1)
        keys = edges[:, 0] * self.num_nodes + edges[:, 1]
        _, first = np.unique(keys, return_index=True)
        return edges[first]

    def part_nodes(self, name: str) -> np.ndarray:
        """Sorted node indices of a boundary part; raises MeshError naming the known parts."""
        if name not in self.boundary_parts:
            known = ", ".join(sorted(self.boundary_parts)) or "none"
            raise MeshError(f"the mesh has no boundary part '{name}' (it has: {known}).")
        return np.unique(self.boundary_parts[name])

    # ---- geometry ------------------------------------------------------------------------
    @cached_property
    def cell_volumes(self) -> np.ndarray:
        """(M,) areas in 2D, volumes in 3D (set by the constructor)."""
        return np.abs(_signed_volumes(self.points, self.cells))

    @cached_property
    def written_volumes(self) -> np.ndarray:
        """Areas or volumes of the written cells (the shapes, or the simplices)."""
        if not self.shapes:
            return self.cell_volumes
        simplices, owner = cell_types.split(self.shapes, self.points)
        cells = sum(len(data) for _, data in self.shapes)
        return cell_types.measures(self.points, simplices, owner, cells)

    @cached_property
    def cell_sizes(self) -> np.ndarray:
        """(M,) longest edge of each cell: the mesh size h used in convergence studies."""
        return _longest_edges(self.points, self.cells)

    def __repr__(self) -> str:
        parts = ", ".join(f"{k}: {len(v)}" for k, v in sorted(self.boundary_parts.items()))
        kind = "triangles" if self.dim == 2 else "tetrahedra"
        cells = f"{self.num_cells} {kind}"
        if self.shapes:
            counts: dict[str, int] = {}
            for name, data in self.shapes:
                counts[name] = counts.get(name, 0) + len(data)
            cells = " + ".join(f"{n} {name}" for name, n in counts.items())
        return f"Mesh({self.num_nodes} nodes, {cells}, parts {{{parts}}})"


# ---- validation helpers (module-private) ------------------------------------------------
def _validated(points, cells, parts):
    """Checked (points, cells, parts) and the signed cell volumes."""
    points = np.array(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] not in (2, 3) or len(points) == 0:
        raise MeshError(f"points have shape {points.shape}; expected (N, 2) or (N, 3) with N > 0.")
    d = points.shape[1]
    bad = ~np.isfinite(points).all(axis=1)
    if bad.any():
        raise MeshError(
            f"{bad.sum()} node(s) have NaN or infinite coordinates (first: node "
            f"{np.flatnonzero(bad)[0]}); expected finite coordinates."
        )
    cells = np.array(cells)
    if cells.ndim != 2 or cells.shape[1] != d + 1 or len(cells) == 0:
        kind = "triangles (M, 3)" if d == 2 else "tetrahedra (M, 4)"
        raise MeshError(f"cells have shape {cells.shape}; expected {kind} for {d}D points.")
    if not np.issubdtype(cells.dtype, np.integer):
        raise MeshError(f"cells have dtype {cells.dtype}; expected integer vertex indices.")
    cells = cells.astype(np.int64)
    _check_index_range(cells, len(points), "cell")
    out_parts = {}
    for name, facets in (parts or {}).items():
        facets = np.array(facets, dtype=np.int64).reshape(-1, d)
        _check_index_range(facets, len(points), f"boundary part '{name}' facet")
        out_parts[str(name)] = facets
    volumes = _signed_volumes(points, cells)
    degenerate = np.abs(volumes) <= DEGENERATE_RELATIVE_VOLUME * _longest_edges(points, cells) ** d
    if degenerate.any():
        what = "area" if d == 2 else "volume"
        raise MeshError(
            f"{degenerate.sum()} cell(s) have zero {what} (first: cell "
            f"{np.flatnonzero(degenerate)[0]}); expected non-degenerate cells."
        )
    return points, cells, out_parts, volumes


def _check_shape(kind: str, data: np.ndarray, dim: int) -> None:
    vertices = cell_types.VERTICES.get(kind, 3)  # polygons: 3 or more
    fits = data.ndim == 2 and (
        data.shape[1] >= 3 if kind == "polygon" else data.shape[1] == vertices
    )
    if cell_types.dimension(kind) != dim or not fits or not np.issubdtype(data.dtype, np.integer):
        raise MeshError(
            f"{kind} cells have shape {data.shape} in a {dim}D mesh; expected (M, {vertices}) "
            f"integer vertex indices of {dim}D cells."
        )


def _check_index_range(indices: np.ndarray, n: int, what: str) -> None:
    bad = (indices < 0) | (indices >= n)
    if bad.any():
        row = np.flatnonzero(bad.any(axis=1))[0]
        raise MeshError(
            f"{what} {row} refers to node {indices[row][bad[row]][0]}, out of range; "
            f"expected indices in [0, {n - 1}]."
        )


def _without_orphans(points, cells, parts, shapes):
    used = np.zeros(len(points), dtype=bool)
    used[cells.ravel()] = True
    if used.all():
        return points, cells, parts, shapes
    new_index = np.full(len(points), -1, dtype=np.int64)
    new_index[used] = np.arange(used.sum())
    new_parts = {}
    for name, facets in parts.items():
        remapped = new_index[facets]
        if (remapped < 0).any():
            raise MeshError(
                f"boundary part '{name}' uses nodes that belong to no cell; "
                "expected its facets to lie on the mesh."
            )
        new_parts[name] = remapped
    shapes = tuple((kind, new_index[data]) for kind, data in shapes)
    return points[used], new_index[cells], new_parts, shapes


def _oriented(cells: np.ndarray, signed_volumes: np.ndarray) -> np.ndarray:
    negative = signed_volumes < 0
    if negative.any():
        cells = cells.copy()
        cells[negative, 0], cells[negative, 1] = cells[negative, 1], cells[negative, 0].copy()
    return cells


def _signed_volumes(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    d = points.shape[1]
    edges = points[cells[:, 1:]] - points[cells[:, :1]]  # (M, d, d), rows are edge vectors
    if d == 2:
        det = edges[:, 0, 0] * edges[:, 1, 1] - edges[:, 0, 1] * edges[:, 1, 0]
    else:
        det = np.einsum("mi,mi->m", edges[:, 0], np.cross(edges[:, 1], edges[:, 2]))
    return det / factorial(d)


def _longest_edges(points: np.ndarray, cells: np.ndarray) -> np.ndarray:
    k = cells.shape[1]
    longest = np.zeros(len(cells))
    for a in range(k):
        for b in range(a + 1, k):
            length = np.linalg.norm(points[cells[:, a]] - points[cells[:, b]], axis=1)
            np.maximum(longest, length, out=longest)
    return longest


def _all_facets(cells: np.ndarray) -> np.ndarray:
    """(M*(d+1), d) facets of every cell, each row sorted; facet j omits vertex j."""
    k = cells.shape[1]
    facets = np.concatenate([np.delete(cells, j, axis=1) for j in range(k)])
    return np.sort(facets, axis=1)


def _row_keys(rows: np.ndarray, n: int) -> np.ndarray:
    """One integer key per sorted row, equal keys iff equal rows."""
    if rows.shape[1] == 2 or n ** rows.shape[1] < np.iinfo(np.int64).max:
        keys = np.zeros(len(rows), dtype=np.int64)
        for column in rows.T:
            keys = keys * n + column
        return keys
    _, inverse = np.unique(rows, axis=0, return_inverse=True)
    return inverse.ravel()
