"""Cells of any linear type, as other solvers write them, and their conforming split into
simplices.

A mesh keeps its cells as they came (`Shapes`: blocks of (meshio type, (M, k) vertex
indices)) for its graph's edges and for output, and solves on simplices split from them.
The split adds no points: each face is fanned from its lowest-numbered vertex, and each
cell is the cone from its lowest-numbered vertex over the face triangles that do not
contain it (in 2D, the fan from that vertex). A face shared by two cells is split the same
way from both sides, since the rule depends only on the face's own vertex numbers, so the
split is conforming; and the faces through the cell's lowest vertex are fanned from it, so
no cone piece is flat. A convex cell gives pieces of one orientation; pieces of mixed
orientation mean a non-convex, non-planar or inverted cell, which is refused.

Higher-order cells (triangle6, quad9, tetra10, hexahedron27, ...) keep their corner
vertices, which meshio (VTK's ordering) lists first.
"""

from __future__ import annotations

import numpy as np

from solvers.errors import MeshError

Shapes = tuple[tuple[str, np.ndarray], ...]

# Faces of each 3D type in VTK's vertex order, each traversed outward (right-hand rule).
FACES = {
    "tetra": [(0, 2, 1), (0, 1, 3), (1, 2, 3), (0, 3, 2)],
    "pyramid": [(0, 3, 2, 1), (0, 1, 4), (1, 2, 4), (2, 3, 4), (3, 0, 4)],
    "wedge": [(0, 1, 2), (3, 5, 4), (0, 3, 4, 1), (1, 4, 5, 2), (2, 5, 3, 0)],
    "hexahedron": [
        (0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7),
    ],
}  # fmt: skip
VERTICES = {"triangle": 3, "quad": 4, "tetra": 4, "pyramid": 5, "wedge": 6, "hexahedron": 8}
PLANAR = ("triangle", "quad", "polygon")
# Higher-order types and the linear type of their corners.
CORNERS = {
    "line3": "line", "triangle6": "triangle", "triangle7": "triangle", "quad8": "quad",
    "quad9": "quad", "tetra10": "tetra", "tetra14": "tetra", "pyramid13": "pyramid",
    "pyramid14": "pyramid", "wedge15": "wedge", "wedge18": "wedge",
    "hexahedron20": "hexahedron", "hexahedron24": "hexahedron", "hexahedron27": "hexahedron",
}  # fmt: skip


def dimension(kind: str) -> int:
    """2 for planar cell types, 3 for solid ones; MeshError for types not supported."""
    if kind in PLANAR:
        return 2
    if kind in FACES:
        return 3
    raise MeshError(
        f"has cells of type {kind}; expected triangles, quads or polygons (2D), tetrahedra, "
        "hexahedra, wedges or pyramids (3D), or their higher-order forms"
    )


def linear(kind: str, data: np.ndarray) -> tuple[str, np.ndarray]:
    """The block as linear cells: higher-order ones keep their corner vertices."""
    kind = CORNERS.get(kind, kind)
    corners = VERTICES.get(kind, data.shape[1])
    return kind, np.ascontiguousarray(data[:, :corners], dtype=np.int64)


def faces(kind: str, data: np.ndarray) -> list[np.ndarray]:
    """The (M, k) faces of a block, outward; in 2D the cells' edges."""
    if kind in PLANAR:
        k = data.shape[1]
        return [data[:, [i, (i + 1) % k]] for i in range(k)]
    return [data[:, list(face)] for face in FACES[kind]]


def edges(shapes: Shapes, num_nodes: int) -> np.ndarray:
    """(E, 2) unique edges i < j of the cells: a quad's 4 sides, not its diagonals."""
    pieces = []
    for kind, data in shapes:
        for face in faces(kind, data) if kind not in PLANAR else [data]:
            k = face.shape[1]
            pieces += [face[:, [i, (i + 1) % k]] for i in range(k)]
    pairs = np.sort(np.concatenate(pieces), axis=1)
    _, first = np.unique(pairs[:, 0] * num_nodes + pairs[:, 1], return_index=True)
    return pairs[np.sort(first)]


def split(shapes: Shapes, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(simplices (S, d+1), owner (S,)): the conforming split of every cell and the index
    (in block order) of the cell each simplex came from; MeshError naming the first
    non-convex, non-planar or inverted cell."""
    pieces, owners, offset = [], [], 0
    for kind, data in shapes:
        simplices, owner = _split_block(kind, data)
        signs = np.sign(_signed_volumes(points, simplices))
        first, last = np.full(len(data), np.inf), np.full(len(data), -np.inf)
        np.minimum.at(first, owner, signs)
        np.maximum.at(last, owner, signs)
        bad = np.flatnonzero((first != last) | (first == 0))
        if len(bad):
            raise MeshError(
                f"{kind} cell {offset + bad[0]} (vertices {data[bad[0]].tolist()}) is "
                "non-convex, non-planar, inverted or has repeated vertices; expected convex "
                "cells with distinct vertices"
            )
        pieces.append(simplices)
        owners.append(owner + offset)
        offset += len(data)
    return np.concatenate(pieces), np.concatenate(owners)


def split_note(mesh) -> str:
    """One line saying that a solve runs on the split of a mesh's cells."""
    kinds = ", ".join(sorted({kind for kind, _ in mesh.shapes}))
    simplices = "triangles" if mesh.dim == 2 else "tetrahedra"
    return (
        f"the solver runs on the {kinds} cells split into {mesh.num_cells} {simplices} (no "
        "points added; see docs/solver.md); the results are written on the original cells."
    )


def _split_block(kind: str, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cells = np.arange(len(data))
    if kind in PLANAR:  # the fan from each cell's lowest vertex, in the cell's order
        k = data.shape[1]
        start = np.argmin(data, axis=1)
        rolled = data[cells[:, None], (start[:, None] + np.arange(k)) % k]
        tris = [rolled[:, [0, i, i + 1]] for i in range(1, k - 1)]
        return np.concatenate(tris), np.tile(cells, k - 2)
    apex = data.min(axis=1)
    tets, owner = [], []
    for face in faces(kind, data):
        for triangle in fan_faces(face):
            away = ~(triangle == apex[:, None]).any(axis=1)  # the cone skips faces on apex
            tets.append(np.column_stack([apex[away], triangle[away]]))
            owner.append(cells[away])
    return np.concatenate(tets), np.concatenate(owner)


def fan_faces(face: np.ndarray) -> list[np.ndarray]:
    """A face's triangles, fanned from its lowest vertex, keeping the face's orientation."""
    k = face.shape[1]
    if k == 3:
        return [face]
    start = np.argmin(face, axis=1)
    rolled = face[np.arange(len(face))[:, None], (start[:, None] + np.arange(k)) % k]
    return [rolled[:, [0, i, i + 1]] for i in range(1, k - 1)]


def _signed_volumes(points: np.ndarray, simplices: np.ndarray) -> np.ndarray:
    corners = points[simplices]
    return np.linalg.det(corners[:, 1:] - corners[:, :1])


def measures(points: np.ndarray, simplices: np.ndarray, owner: np.ndarray, cells: int):
    """(cells,) areas or volumes of the cells, summed over their simplices."""
    return np.bincount(owner, np.abs(_signed_volumes(points, simplices)), minlength=cells)


def to_nodes(values: np.ndarray, shapes: Shapes, weights: np.ndarray, num_nodes: int):
    """Node values (N, C) from cell values (M, C) in block order: the average over the cells
    around each node, weighted by their areas or volumes."""
    values = values.reshape(len(weights), -1)
    total = np.zeros((num_nodes, values.shape[1]))
    weight = np.zeros(num_nodes)
    offset = 0
    for _, data in shapes:
        block = slice(offset, offset + len(data))
        for column in data.T:
            np.add.at(total, column, weights[block, None] * values[block])
            np.add.at(weight, column, weights[block])
        offset += len(data)
    return total / np.maximum(weight, np.finfo(float).tiny)[:, None]
