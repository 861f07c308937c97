"""Reading meshes with meshio (guarded), writing VTU and ParaView .pvd time series atomically."""

from __future__ import annotations

import base64
import contextlib
import io
import struct
from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import quoteattr

import meshio
import numpy as np

from solvers.atomic import atomic_path
from solvers.cells import CORNERS, FACES, VERTICES, dimension, linear
from solvers.cells import fan_faces as fan
from solvers.errors import MeshError, note
from solvers.limits import memory_budget
from solvers.mesh import Mesh

FACET_TYPE = {2: "line", 3: "triangle"}
FACET_KINDS = {2: ("line",), 3: ("triangle", "quad")}


def read_mesh(path: str | Path) -> Mesh:
    """Read a triangle (2D) or tetrahedron (3D) mesh from any format meshio reads.

    gmsh physical groups on facet blocks become named boundary parts; line and vertex blocks
    are otherwise ignored. A zero z column of a planar mesh is dropped. Anything unusable
    raises MeshError with one sentence naming the file and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise MeshError(f"{path}: no such file; expected a mesh file.")
    formats = _formats_of(path)
    if "xdmf" in formats:
        check_xdmf_references(path)
    raw = meshio_read(path, formats)
    try:
        return mesh_from_meshio(raw)
    except MeshError as error:
        raise MeshError(f"{path}: {error}") from None


def write_mesh(
    mesh: Mesh, path: str | Path, point_data: dict | None = None, cell_data: dict | None = None
) -> None:
    """Write mesh and fields in the format of the path's extension, atomically.

    Point fields are (N,) or (N, k); 2-component vectors are padded to 3 so ParaView draws
    them as glyphs. Cells are written as they came (mesh.written_cells), and cell fields
    hold one value per written cell. .msh output holds the mesh and its boundary parts
    (facet blocks with gmsh physical tags) and no fields.
    """
    path = Path(path)
    if path.suffix == ".msh" and (point_data or cell_data):
        # meshio 5.3 writes numpy-2 scalars as "np.float64(...)" into .msh data sections
        raise ValueError(f"{path}: .msh output holds the mesh and its parts; write fields to .vtu.")
    points = _as_3d(mesh.points)
    point_data = {
        name: _vtk_field(mesh, name, values) for name, values in (point_data or {}).items()
    }
    cells = list(mesh.written_cells)
    ends = np.cumsum([len(data) for _, data in cells])[:-1]
    cell_fields = {
        name: np.split(np.asarray(values), ends) for name, values in (cell_data or {}).items()
    }
    field_data = {}
    if path.suffix == ".msh" and mesh.boundary_parts:
        tags = [np.full(len(data), 0, dtype=np.int64) for _, data in cells]
        for tag, (name, facets) in enumerate(sorted(mesh.boundary_parts.items()), start=1):
            cells.append((FACET_TYPE[mesh.dim], facets))
            tags.append(np.full(len(facets), tag, dtype=np.int64))
            field_data[name] = np.array([tag, mesh.dim - 1])
        cell_fields = {"gmsh:physical": tags, "gmsh:geometrical": tags}
    out = meshio.Mesh(points, cells, point_data=point_data, cell_data=cell_fields)
    out.field_data = field_data
    with atomic_path(path) as tmp:
        kwargs = {"file_format": "gmsh22", "binary": False} if path.suffix == ".msh" else {}
        meshio.write(tmp, out, **kwargs)


def write_time_series(
    mesh: Mesh, path: str | Path, times: Sequence[float], point_data: dict[str, np.ndarray]
) -> list[Path]:
    """Write a ParaView time series: PATH.pvd plus PATH_0000.vtu, PATH_0001.vtu, ...

    point_data maps names to (T, N) or (T, N, k) arrays, one slice per time. Returns the
    files written; the .pvd is written last, so it only names steps that exist.
    """
    path = Path(path).with_suffix(".pvd")
    for name, values in point_data.items():
        if len(values) != len(times):
            raise ValueError(f"field '{name}' has {len(values)} steps but {len(times)} times.")
    steps = []
    for i, time in enumerate(times):
        step = path.with_name(f"{path.stem}_{i:04d}.vtu")
        write_mesh(mesh, step, point_data={name: values[i] for name, values in point_data.items()})
        steps.append((float(time), step))
    entries = "\n".join(
        f'    <DataSet timestep="{time!r}" part="0" file={quoteattr(step.name)}/>'
        for time, step in steps
    )
    xml = (
        '<?xml version="1.0"?>\n<VTKFile type="Collection" version="0.1">\n  <Collection>\n'
        f"{entries}\n  </Collection>\n</VTKFile>\n"
    )
    with atomic_path(path) as tmp:
        Path(tmp).write_text(xml)
    return [*(step for _, step in steps), path]


# ---- reading helpers ------------------------------------------------------------------------
def _formats_of(path: Path) -> list[str]:
    """meshio formats for the extension, gmsh first (.msh is also an ANSYS extension)."""
    suffixes = "".join(path.suffixes[-2:]).lower()
    for ext in (suffixes, path.suffix.lower()):
        if ext in meshio.extension_to_filetypes:
            return sorted(meshio.extension_to_filetypes[ext], key=lambda f: f != "gmsh")
    known = ", ".join(sorted(meshio.extension_to_filetypes))
    raise MeshError(f"{path}: unsupported extension '{path.suffix}'; expected one of {known}.")


def meshio_read(path: Path, formats: list[str]) -> meshio.Mesh:
    """The first format that reads; else MeshError with the first format's reason."""
    if "vtu" in formats and path.suffix == ".vtu":
        check_vtu_payload(path)
    reasons = []
    for file_format in formats:
        # meshio prints its reason and calls sys.exit(1) on many malformed files: catch both.
        captured = io.StringIO()
        try:
            with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
                return meshio.read(path, file_format=file_format)
        except (Exception, SystemExit) as error:
            lines = captured.getvalue().strip().splitlines() or [str(error) or type(error).__name__]
            reasons.append(lines[0].strip()[:200])
    raise MeshError(
        f"{path}: cannot be read as {' or '.join(formats)} ({reasons[0]}); "
        "expected a complete, well-formed mesh file."
    )


def check_vtu_payload(path: Path, budget: int | None = None) -> None:
    """Refuse a .vtu whose compressed arrays declare more uncompressed bytes than the
    budget (a few MB of zlib can claim gigabytes), before anything is decompressed. Reads
    the block headers (VTK's zlib/lz4/lzma layout: block count, block size, last block
    size, ...) of inline base64 arrays and of appended ones, raw or base64."""
    budget = memory_budget() if budget is None else budget
    content = path.read_bytes()
    marker = content.find(b"<AppendedData")
    head = content if marker < 0 else content[:marker] + b"</VTKFile>"
    try:
        root = ElementTree.fromstring(head)
    except ElementTree.ParseError:
        return  # not XML: meshio's reading says what is wrong with it
    if not root.get("compressor"):
        return
    wide = root.get("header_type", "UInt32") == "UInt64"
    size, kind = (8, "Q") if wide else (4, "I")
    appended, encoded = _appended(content, marker)
    total = 0
    for array in root.iter("DataArray"):
        if array.get("format") == "binary":
            header = (array.text or "").strip()[: 4 * size].encode()
        elif array.get("format") == "appended" and (array.get("offset") or "").isdigit():
            start = int(array.get("offset"))
            header = appended[start : start + (4 if encoded else 3) * size]
        else:
            continue
        try:  # 3 ints of 4 or 8 bytes (base64: exactly 16 or 32 characters)
            header = (
                base64.b64decode(header) if encoded or array.get("format") == "binary" else header
            )
            blocks, block, last = struct.unpack("<" + kind * 3, header[: 3 * size])
        except (ValueError, struct.error):
            raise MeshError(f"{path}: a compressed array's header is malformed.") from None
        total += (blocks - 1) * block + (last or block) if blocks else 0
    if total > budget:
        raise MeshError(
            f"{path}: its compressed arrays unpack to {total / 2**30:.1f} GiB; expected at "
            f"most {budget / 2**30:.1f} GiB (a quarter of this machine's memory)."
        )


def _appended(content: bytes, marker: int) -> tuple[bytes, bool]:
    """The bytes after <AppendedData ...>_ and whether they are base64 (else raw)."""
    if marker < 0:
        return b"", False
    tag_end = content.find(b">", marker)
    start = content.find(b"_", tag_end) + 1
    return content[start:], b'encoding="base64"' in content[marker:tag_end]


def check_xdmf_references(path: Path) -> None:
    """Refuse XDMF files whose data items (HDF5 of any extension, or raw binary) or
    XIncludes refer to files outside the file's own folder, or to anything but regular
    files."""
    folder = path.resolve().parent
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as error:
        raise MeshError(f"{path}: cannot be parsed as XML ({error}); expected XDMF.") from None
    references = [  # XInclude of another document (meshio includes parts of its own)
        element.get("href")
        for element in root.iter()
        if str(element.tag).endswith("include") and element.get("href")
    ]
    for item in root.iter("DataItem"):
        if item.get("Format", "XML").upper() in ("HDF", "BINARY"):
            reference = (item.text or "").strip()
            if item.get("Format").upper() == "HDF":
                reference = reference.rsplit(":", 1)[0]  # file:dataset
            references.append(reference)
    for reference in references:
        target = (folder / reference).resolve()
        if not target.is_relative_to(folder) or not target.is_file():
            raise MeshError(
                f"{path}: refers to data file '{reference}', outside its folder or not a "
                "regular file; expected data files next to the .xdmf file."
            )


def mesh_from_meshio(raw: meshio.Mesh) -> Mesh:
    return mesh_and_nodes(raw)[0]


def mesh_and_nodes(raw: meshio.Mesh) -> tuple[Mesh, np.ndarray]:
    """The mesh of a meshio mesh, of any linear cell types (solvers.cells), and the indices
    into raw.points of its nodes: points no cell uses (the mid-edge nodes of higher-order
    cells, whose corners are kept) are dropped. Cells of the mesh's dimension are its
    cells; lower-dimensional blocks are boundary facets (gmsh physical groups) or ignored."""
    blocks = [(CORNERS.get(b.type, b.type), b.type, b.data) for b in raw.cells]
    solid = {kind for kind, _, _ in blocks if kind in FACES}
    dim = 3 if solid else 2
    kinds = ("polygon", *VERTICES) if dim == 3 else ("polygon", "triangle", "quad")
    unknown = sorted({b.type for b in raw.cells} - set(CORNERS) - set(kinds) - {"line", "vertex"})
    if unknown:
        dimension(unknown[0])  # raises naming the type and the supported ones
    cells = [(kind, data) for kind, _, data in blocks if dimension_of(kind) == dim]
    if not cells:
        raise MeshError("contains no cells (the file parsed to points, lines or nothing)")
    higher = sorted({original for kind, original, _ in blocks if original != kind})
    if higher:
        note(
            f"{', '.join(higher)} cells are read by their corner vertices; the values at their "
            "other nodes are dropped."
        )
    shapes = tuple(linear(kind, data) for kind, data in cells)
    kept = np.unique(np.concatenate([data.ravel() for _, data in shapes]))
    if kept[0] < 0 or kept[-1] >= len(raw.points):
        raise MeshError(
            f"has a cell referring to node {kept[0] if kept[0] < 0 else kept[-1]}, out of "
            f"range; expected indices in [0, {len(raw.points) - 1}]"
        )
    renumber = np.full(len(raw.points), -1, dtype=np.int64)
    renumber[kept] = np.arange(len(kept))
    points = _planar(np.asarray(raw.points, dtype=np.float64), dim)[kept]
    shapes = tuple((kind, renumber[data]) for kind, data in shapes)
    parts = {name: renumber[facets] for name, facets in _physical_parts(raw, dim).items()}
    return Mesh.from_shapes(points, shapes, parts), kept


def dimension_of(kind: str) -> int:
    """A cell type's dimension: 3 solid, 2 planar, 1 or 0 for lines and vertices."""
    return {"line": 1, "vertex": 0}.get(kind) or dimension(kind)


def _planar(points: np.ndarray, dim: int) -> np.ndarray:
    """points with a zero z column of a planar mesh dropped."""
    if dim == 2 and points.shape[1] == 3:
        scale = max(float(np.abs(points[:, :2]).max()), 1.0)
        if np.abs(points[:, 2]).max() > 1e-12 * scale:
            raise MeshError(
                "is a surface in 3D (planar cells with non-zero z); expected a planar 2D mesh "
                "or a 3D mesh of solid cells"
            )
        return points[:, :2]
    if points.shape[1] != dim:
        raise MeshError(f"has {dim}D cells but {points.shape[1]}D points; expected {dim}D points")
    return points


def _physical_parts(raw: meshio.Mesh, dim: int) -> dict[str, np.ndarray]:
    """Facet blocks tagged with gmsh physical groups, by group name (or 'tag_N'), as the
    simplicial facets of the split (quads fanned like the cells' faces)."""
    tags = raw.cell_data.get("gmsh:physical")
    if tags is None:
        return {}
    names = {int(v[0]): k for k, v in raw.field_data.items() if int(v[1]) == dim - 1}
    found: dict[str, list[np.ndarray]] = {}
    for block, block_tags in zip(raw.cells, tags, strict=True):
        kind, data = (
            linear(block.type, block.data) if block.type in CORNERS else (block.type, block.data)
        )
        if kind not in FACET_KINDS[dim]:
            continue
        for tag in np.unique(block_tags):
            name = names.get(int(tag), f"tag_{int(tag)}")
            facets = data[block_tags == tag]
            found.setdefault(name, []).extend(fan(facets) if facets.shape[1] > dim else [facets])
    return {name: np.concatenate(blocks) for name, blocks in found.items()}


def _as_3d(points: np.ndarray) -> np.ndarray:
    if points.shape[1] == 3:
        return points
    return np.column_stack([points, np.zeros(len(points))])


def _vtk_field(mesh: Mesh, name: str, values) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] != mesh.num_nodes:
        raise ValueError(
            f"point field '{name}' has {values.shape[0]} rows, mesh has {mesh.num_nodes}."
        )
    if values.ndim == 2 and values.shape[1] == 2:
        values = _as_3d(values)
    return values
