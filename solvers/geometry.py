"""gmsh-backed domains for the data families, each boundary part tagged by name.

gmsh (OpenCASCADE kernel) does the CAD booleans and the meshing: a maintained mesher with
size fields is far more robust than anything hand-written. Meshes are deterministic for a
given seed (the seed only picks hole positions; gmsh itself is deterministic).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from solvers.errors import ProblemError
from solvers.mesh import Mesh

try:
    import gmsh
except (ImportError, OSError):  # no wheel, or its system libraries missing (a lent GPU image)
    gmsh = None  # meshes made elsewhere still load, train and predict; meshing says why not

GMSH_ELEMENT = {2: 2, 3: 4}  # gmsh element type codes: 3-node triangle, 4-node tetrahedron
# OpenCASCADE pads bounding boxes by about 1e-7: a side is matched within this distance.
TOL = 1e-5


@dataclass(frozen=True)
class Hole:
    """An elliptic hole (circle when ry is None), or a sphere in 3D (z set, rx the radius)."""

    x: float
    y: float
    rx: float
    ry: float | None = None
    angle: float = 0.0
    z: float | None = None


def random_holes(
    seed: int,
    count: int,
    bounds: tuple[float, ...] = (0.0, 0.0, 1.0, 1.0),
    radius: tuple[float, float] = (0.05, 0.15),
    elliptic: bool = True,
    gap: float = 0.05,
) -> list[Hole]:
    """Non-overlapping random holes inside bounds (x0, y0, x1, y1) or (x0, y0, z0, x1, y1, z1),
    at least gap apart and from the outer boundary; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    d = len(bounds) // 2
    low, high = np.array(bounds[:d]), np.array(bounds[d:])
    holes: list[Hole] = []
    for _ in range(2000 * max(count, 1)):
        if len(holes) == count:
            return holes
        rx = rng.uniform(*radius)
        ry = rng.uniform(0.5, 1.0) * rx if elliptic and d == 2 else None
        margin = rx + gap
        if np.any(high - low <= 2 * margin):
            break
        center = rng.uniform(low + margin, high - margin)
        if all(np.linalg.norm(center - _center(h)) > rx + h.rx + gap for h in holes):
            angle = rng.uniform(0, np.pi) if ry is not None else 0.0
            z = float(center[2]) if d == 3 else None
            holes.append(Hole(float(center[0]), float(center[1]), rx, ry, angle, z))
    raise ProblemError(
        f"could not place {count} holes of radius {radius} in {bounds}; "
        "expected fewer or smaller holes."
    )


def rectangle_with_holes(
    width: float = 1.0,
    height: float = 1.0,
    holes: list[Hole] | None = None,
    n_holes: int = 3,
    seed: int = 0,
    h: float = 0.05,
    h_hole: float | None = None,
) -> Mesh:
    """Plate [0, width] x [0, height] minus circular/elliptic holes (random from seed when
    holes is None). Parts: left, right, bottom, top, hole_0, hole_1, ..."""
    if holes is None:
        holes = random_holes(seed, n_holes, (0, 0, width, height))
    with _gmsh_model():
        occ = gmsh.model.occ
        plate = occ.addRectangle(0, 0, 0, width, height)
        if holes:
            occ.cut([(2, plate)], [(2, _add_disk(hole)) for hole in holes])
        occ.synchronize()
        _tag_boundary(
            2, _box_sides(width, height, ("left", "right", "bottom", "top")), holes, "hole"
        )
        _refine_near(_part_entities(holes, 2), h, h_hole or h / 3, _reach(holes))
        return _generate(2)


def channel_with_obstacle(
    length: float = 2.2,
    height: float = 0.41,
    obstacle: Hole = Hole(0.2, 0.2, 0.05),
    h: float = 0.04,
    h_obstacle: float | None = None,
) -> Mesh:
    """Channel [0, length] x [0, height] with one obstacle. Parts: inlet (x=0), outlet
    (x=length), walls (y=0 and y=height), obstacle."""
    with _gmsh_model():
        occ = gmsh.model.occ
        channel = occ.addRectangle(0, 0, 0, length, height)
        occ.cut([(2, channel)], [(2, _add_disk(obstacle))])
        occ.synchronize()
        sides = _box_sides(length, height, ("inlet", "outlet", "walls", "walls"))
        _tag_boundary(2, sides, [obstacle], "obstacle", numbered=False)
        _refine_near(_part_entities([obstacle], 2), h, h_obstacle or h / 4, 4 * obstacle.rx)
        return _generate(2)


def dfg_channel(h: float = 0.04, h_obstacle: float | None = None) -> Mesh:
    """The DFG flow-around-cylinder channel (Schaefer and Turek 1996): [0, 2.2] x [0, 0.41],
    cylinder of radius 0.05 at (0.2, 0.2)."""
    return channel_with_obstacle(2.2, 0.41, Hole(0.2, 0.2, 0.05), h, h_obstacle)


def l_shape(size: float = 1.0, h: float = 0.05, h_corner: float | None = None) -> Mesh:
    """[0, size]^2 minus its upper-right quarter, refined at the re-entrant corner.
    Parts: bottom, right, top, left, notch (the two re-entrant edges)."""
    s, c = size, size / 2
    with _gmsh_model():
        occ = gmsh.model.occ
        square = occ.addRectangle(0, 0, 0, s, s)
        occ.cut([(2, square)], [(2, occ.addRectangle(c, c, 0, c, c))])
        occ.synchronize()
        sides = [
            ("bottom", lambda lo, hi: hi[1] < TOL),
            ("left", lambda lo, hi: hi[0] < TOL),
            ("right", lambda lo, hi: lo[0] > s - TOL),
            ("top", lambda lo, hi: lo[1] > s - TOL),
            ("notch", lambda lo, hi: True),
        ]
        _tag_boundary(2, sides, [], "")
        corner = [t for _, t in gmsh.model.getEntities(0) if np.allclose(_bbox(0, t)[0][:2], c)]
        _refine_near(("PointsList", corner), h, h_corner or h / 5, size / 4)
        return _generate(2)


def annulus(r_inner: float = 0.5, r_outer: float = 1.0, h: float = 0.05) -> Mesh:
    """Ring between two circles centred at the origin. Parts: inner, outer."""
    with _gmsh_model():
        occ = gmsh.model.occ
        occ.cut(
            [(2, occ.addDisk(0, 0, 0, r_outer, r_outer))],
            [(2, occ.addDisk(0, 0, 0, r_inner, r_inner))],
        )
        occ.synchronize()
        radius = lambda lo, hi: np.max(np.abs(np.concatenate([lo, hi])[:2]))  # noqa: E731
        sides = [
            ("inner", lambda lo, hi: radius(lo, hi) < (r_inner + r_outer) / 2),
            ("outer", lambda lo, hi: True),
        ]
        _tag_boundary(2, sides, [], "")
        gmsh.option.setNumber("Mesh.MeshSizeMax", h)
        return _generate(2)


def box_with_holes(
    size: tuple[float, float, float] = (1.0, 1.0, 1.0),
    holes: list[Hole] | None = None,
    n_holes: int = 2,
    seed: int = 0,
    h: float = 0.1,
    h_hole: float | None = None,
) -> Mesh:
    """Box [0, a] x [0, b] x [0, c] minus spherical holes (Hole with z; rx the radius).
    Parts: xmin, xmax, ymin, ymax, zmin, zmax, hole_0, ..."""
    a, b, c = size
    if holes is None:
        holes = random_holes(seed, n_holes, (0, 0, 0, a, b, c), radius=(0.1, 0.2), gap=0.1)
    with _gmsh_model():
        occ = gmsh.model.occ
        box = occ.addBox(0, 0, 0, a, b, c)
        if holes:
            spheres = [(3, occ.addSphere(hole.x, hole.y, hole.z, hole.rx)) for hole in holes]
            occ.cut([(3, box)], spheres)
        occ.synchronize()
        sides = []
        for axis, name, extent in ((0, "x", a), (1, "y", b), (2, "z", c)):
            sides.append((f"{name}min", lambda lo, hi, i=axis: hi[i] < TOL))
            sides.append((f"{name}max", lambda lo, hi, i=axis, e=extent: lo[i] > e - TOL))
        _tag_boundary(3, sides, holes, "hole")
        _refine_near(_part_entities(holes, 3), h, h_hole or h / 2, _reach(holes))
        return _generate(3)


# The generated domains by name (for `surrogate solve --geometry` and rollouts): a seed
# places the random holes of those that have them; the measure is the domain's area (2D)
# or volume (3D), from which the node count is estimated before meshing.
NAMED = {
    "rectangle_with_holes": (lambda seed, h: rectangle_with_holes(seed=seed, h=h), 1.0, 2),
    "channel_with_obstacle": (lambda seed, h: channel_with_obstacle(h=h), 2.2 * 0.41, 2),
    "dfg_channel": (lambda seed, h: dfg_channel(h=h), 2.2 * 0.41, 2),
    "l_shape": (lambda seed, h: l_shape(h=h), 0.75, 2),
    "annulus": (lambda seed, h: annulus(h=h), 0.75 * np.pi, 2),
    "box_with_holes": (lambda seed, h: box_with_holes(seed=seed, h=h), 1.0, 3),
}
MAX_NODES = 5_000_000  # what a generated mesh may have; more would mesh for many minutes


def named(name: str, seed: int = 0, h: float = 0.05, max_nodes: int = MAX_NODES) -> Mesh:
    """The generated domain of that name (NAMED), refused before meshing when cell size h
    would give it more than max_nodes nodes."""
    if name not in NAMED:
        raise ProblemError(f"geometry '{name}' is unknown; expected one of {', '.join(NAMED)}.")
    make, measure, dim = NAMED[name]
    if not (isinstance(h, int | float) and np.isfinite(h) and h > 0):
        raise ProblemError(f"the cell size h is {h!r}; expected a positive finite number.")
    check_nodes(name, measure, dim, h, max_nodes)
    return make(int(seed), float(h))


def check_nodes(name: str, measure: float, dim: int, h: float, max_nodes: int = MAX_NODES) -> float:
    """The estimated node count of a domain of that area or volume meshed at cell size h;
    ProblemError, before any meshing, when it exceeds max_nodes."""
    estimate = (1.2 if dim == 2 else 1.5) * measure / h**dim
    if estimate > max_nodes:
        raise ProblemError(
            f"{name} at h = {h:g} would have about {estimate:,.0f} nodes; expected at most "
            f"{max_nodes:,} (a larger h, or --max-nodes)."
        )
    return estimate


# ---- gmsh plumbing ------------------------------------------------------------------------
Rule = tuple[str, Callable[[np.ndarray, np.ndarray], bool]]


@contextlib.contextmanager
def _gmsh_model() -> Iterator[None]:
    """A fresh, quiet gmsh model; gmsh is initialised here unless the caller already did."""
    if gmsh is None:
        raise ProblemError(
            "meshing a geometry needs gmsh, which cannot be imported here; install it (and "
            "the system libraries of scripts/system-deps.sh) or bring meshes made elsewhere."
        )
    owned = not gmsh.isInitialized()
    if owned:
        gmsh.initialize(interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add("surrogate-geometry")
    try:
        yield
    except Exception as error:  # gmsh raises bare Exceptions with its log line
        if isinstance(error, ProblemError):
            raise
        raise ProblemError(
            f"gmsh could not build the geometry ({error}); check its parameters."
        ) from None
    finally:
        gmsh.model.remove()
        if owned:
            gmsh.finalize()


def _add_disk(hole: Hole) -> int:
    rx, ry, angle = hole.rx, hole.ry or hole.rx, hole.angle
    if ry > rx:  # OpenCASCADE wants the major radius first
        rx, ry, angle = ry, rx, angle + np.pi / 2
    disk = gmsh.model.occ.addDisk(hole.x, hole.y, 0, rx, ry)
    if angle:
        gmsh.model.occ.rotate([(2, disk)], hole.x, hole.y, 0, 0, 0, 1, angle)
    return disk


def _bbox(dim: int, tag: int) -> tuple[np.ndarray, np.ndarray]:
    box = gmsh.model.getBoundingBox(dim, tag)
    return np.array(box[:3]), np.array(box[3:])


def _center(hole: Hole) -> np.ndarray:
    return np.array([hole.x, hole.y] if hole.z is None else [hole.x, hole.y, hole.z])


def _reach(holes: list[Hole]) -> float:
    return 2 * max((hole.rx for hole in holes), default=0.0)


def _box_sides(width: float, height: float, names: tuple[str, str, str, str]) -> list[Rule]:
    left, right, bottom, top = names
    return [
        (left, lambda lo, hi: hi[0] < TOL),
        (right, lambda lo, hi: lo[0] > width - TOL),
        (bottom, lambda lo, hi: hi[1] < TOL),
        (top, lambda lo, hi: lo[1] > height - TOL),
    ]


def _tag_boundary(dim: int, rules: list[Rule], holes: list[Hole], prefix: str, numbered=True):
    """Put every boundary entity (curves in 2D, surfaces in 3D) into a named physical group:
    the first matching rule, else the nearest hole."""
    groups: dict[str, list[int]] = {}
    for _, tag in gmsh.model.getEntities(dim - 1):
        lo, hi = _bbox(dim - 1, tag)
        name = next((n for n, rule in rules if rule(lo, hi)), None)
        if name is None and holes:
            middle = ((lo + hi) / 2)[: len(_center(holes[0]))]
            nearest = int(np.argmin([np.linalg.norm(middle - _center(h)) for h in holes]))
            name = f"{prefix}_{nearest}" if numbered else prefix
        if name is None:
            raise ProblemError(f"boundary entity {tag} matched no part; expected a tagged side.")
        groups.setdefault(name, []).append(tag)
    for name, tags in groups.items():
        gmsh.model.addPhysicalGroup(dim - 1, tags, name=name)
    gmsh.model.addPhysicalGroup(dim, [t for _, t in gmsh.model.getEntities(dim)], name="domain")


def _part_entities(holes: list[Hole], dim: int) -> tuple[str, list[int]]:
    """The boundary entities of the holes, as a Distance-field list."""
    tags = []
    for group_dim, group in gmsh.model.getPhysicalGroups(dim - 1):
        if gmsh.model.getPhysicalName(group_dim, group).startswith(("hole", "obstacle")):
            tags += list(gmsh.model.getEntitiesForPhysicalGroup(group_dim, group))
    return ("CurvesList" if dim == 2 else "SurfacesList"), tags


def _refine_near(entities: tuple[str, list[int]], h: float, h_fine: float, reach: float):
    """Cell size h_fine on the given entities, growing linearly to h at distance reach."""
    if h <= 0 or h_fine <= 0:
        raise ProblemError(f"mesh sizes are h={h}, h_fine={h_fine}; expected positive sizes.")
    gmsh.option.setNumber("Mesh.MeshSizeMax", h)
    kind, tags = entities
    if not tags:
        return
    field = gmsh.model.mesh.field
    distance = field.add("Distance")
    field.setNumbers(distance, kind, tags)
    threshold = field.add("Threshold")
    field.setNumber(threshold, "InField", distance)
    field.setNumber(threshold, "SizeMin", h_fine)
    field.setNumber(threshold, "SizeMax", h)
    field.setNumber(threshold, "DistMin", 0.0)
    field.setNumber(threshold, "DistMax", max(reach, 2 * h))
    field.setAsBackgroundMesh(threshold)
    gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
    gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)


def _generate(dim: int) -> Mesh:
    """Mesh the model and convert it, physical groups of dimension dim-1 becoming parts."""
    gmsh.model.mesh.generate(dim)
    node_tags, coords, _ = gmsh.model.mesh.getNodes()
    index = np.full(int(node_tags.max()) + 1, -1, dtype=np.int64)
    index[node_tags.astype(np.int64)] = np.arange(len(node_tags))
    points = coords.reshape(-1, 3)[:, :dim]
    cells = _elements(dim, -1, dim + 1)
    parts = {}
    for group_dim, group in gmsh.model.getPhysicalGroups(dim - 1):
        facets = [
            _elements(dim - 1, e, dim)
            for e in gmsh.model.getEntitiesForPhysicalGroup(group_dim, group)
        ]
        parts[gmsh.model.getPhysicalName(group_dim, group)] = index[np.concatenate(facets)]
    return Mesh(points, index[cells], parts)


def _elements(dim: int, entity: int, nodes_per_element: int) -> np.ndarray:
    element_type = GMSH_ELEMENT[dim] if dim >= 2 else 1  # 1 = 2-node line
    _, node_tags = gmsh.model.mesh.getElementsByType(element_type, entity)
    return node_tags.astype(np.int64).reshape(-1, nodes_per_element)
