"""Another solver's runs as they really are (issue 30): quads, hexahedra, mixed meshes and
cell data ingest, train and replay with `rollout --series`, and the output carries the
cells they came with."""

import itertools

import meshio
import numpy as np
import pytest

from solvers import heat
from solvers.mesh import Mesh
from solvers.mesh_io import write_time_series
from surrogate.cli import main
from surrogate.data.ingest import ingest_series
from surrogate.data.manifest import check_dataset, read_manifest
from surrogate.data.sample import DatasetError, read_sample, sample_path
from tests.surrogate.conftest import QUICK

HEAT = "configs/small/heat_holes.yaml"
RULES = "hot: {x: [null, 0.001], role: dirichlet}\nrest: {rest: true, role: neumann}\n"


def grid(n: int, dim: int, mixed: bool = False) -> Mesh:
    """The unit square (quads) or cube (hexahedra) in n cells a side, its x = 0 side the
    part 'hot'; mixed: every other square cut into two triangles."""
    index = lambda *ijk: sum(c * (n + 1) ** a for a, c in enumerate(ijk))  # noqa: E731
    points = np.array(list(itertools.product(range(n + 1), repeat=dim)), float)[:, ::-1] / n
    corners = [(0, 0), (1, 0), (1, 1), (0, 1)]
    if dim == 3:
        corners = [(*c, 0) for c in corners] + [(*c, 1) for c in corners]
    cells = np.array(
        [
            [index(*(np.add(cell, c))) for c in corners]
            for cell in itertools.product(range(n), repeat=dim)
        ]
    )
    kind = "quad" if dim == 2 else "hexahedron"
    shapes = ((kind, cells),)
    if mixed:
        shapes = (("quad", cells[::2]), ("triangle", np.concatenate([cells[1::2, :3],
                  cells[1::2][:, [0, 2, 3]]])))  # fmt: skip
    mesh = Mesh.from_shapes(points, shapes)
    facets = mesh.boundary_facets
    return mesh.with_parts({"hot": facets[np.all(mesh.points[facets, 0] == 0, axis=1)]})


def run_of(mesh: Mesh, folder, seed: int, cell_kappa: bool = False):
    """A heat run on mesh from a random start, the hot side at 1, as another solver would
    write it: a .pvd of .vtu files with the original cells (kappa as cell data)."""
    start = np.random.default_rng(seed).uniform(0, 0.5, mesh.num_nodes)
    u = heat(mesh, u0=start, dirichlet={"hot": 1.0}, kappa=0.05, dt=0.01, steps=5)
    pvd = folder / "run.pvd"
    kappa = np.full((6, mesh.num_nodes), 0.05)
    write_time_series(mesh, pvd, 0.01 * np.arange(6), {"u": u, "kappa": kappa})
    if cell_kappa:  # the same run with kappa stored per cell instead
        for k in range(6):
            step = folder / f"run_{k:04d}.vtu"
            raw = meshio.read(step)
            raw.cell_data = {"kappa": [np.full(len(b.data), 0.05) for b in raw.cells]}
            del raw.point_data["kappa"]
            meshio.write(step, raw)
    return pvd, u


@pytest.mark.parametrize(
    ("dim", "mixed", "cell_kappa", "kinds"),
    [
        (2, False, False, ["quad"]),
        (2, True, True, ["quad", "triangle"]),
        (3, False, False, ["hexahedron"]),
    ],
    ids=["quads", "mixed with cell data", "hexahedra"],
)
def test_runs_of_other_cells_ingest_train_and_replay_with_their_cells(
    tmp_path, dim, mixed, cell_kappa, kinds
):
    runs = []
    for seed in range(5):  # five geometries: training splits by geometry
        mesh = grid((5 if dim == 2 else 2) + seed, dim, mixed)
        (tmp_path / f"run{seed}").mkdir()
        runs.append(run_of(mesh, tmp_path / f"run{seed}", seed, cell_kappa))
    rules = tmp_path / "parts.yaml"
    rules.write_text(RULES)
    data = tmp_path / "data"
    sources = [str(pvd) for pvd, _ in runs]
    ingest = ["ingest", *sources, "--fields", "kappa,u", "--pinned", "u", "--parts", str(rules)]
    assert main([*ingest, "--out", str(data)]) == 0
    assert check_dataset(data) == []
    sample = read_sample(sample_path(data, 0))
    assert [kind for kind, _ in sample.mesh.shapes] == kinds
    np.testing.assert_allclose(sample.fields["u"][..., 0], runs[0][1])
    np.testing.assert_allclose(sample.fields["kappa"], 0.05)  # cell data averaged: still 0.05
    description = read_manifest(data)["fields"]["kappa"]["description"]
    assert ("volume-weighted average" in description) == cell_kappa

    train = ["train", "--config", HEAT, "--data.folder", str(data), *QUICK]
    assert main([*train, "--trainer.default_root_dir", str(tmp_path / "train")]) == 0
    checkpoint = tmp_path / "train" / "checkpoints" / "last.ckpt"
    out = tmp_path / "replay"
    replay = ["rollout", "--checkpoint", str(checkpoint), "--series", sources[-1]]
    assert main([*replay, "--parts", str(rules), "--out", str(out), "--no-pictures"]) == 0
    written = meshio.read(out / "rollout_0005.vtu")
    assert [block.type for block in written.cells] == kinds  # the cells as they came
    for (_, data_in), block in zip(mesh.shapes, written.cells, strict=True):
        np.testing.assert_array_equal(block.data, data_in)


def test_a_field_of_point_data_in_some_steps_and_cell_data_in_others_is_refused(tmp_path):
    mesh = grid(3, 2)
    pvd, _ = run_of(mesh, tmp_path, 0)
    step = tmp_path / "run_0003.vtu"
    raw = meshio.read(step)
    raw.cell_data = {"kappa": [np.ones(len(b.data)) for b in raw.cells]}
    del raw.point_data["kappa"]
    meshio.write(step, raw)
    code = main(["ingest", str(pvd), "--fields", "u,kappa", "--out", str(tmp_path / "d")])
    assert code == 2 and not (tmp_path / "d").exists()


def test_cell_data_of_the_wrong_length_is_refused(tmp_path):
    from surrogate.data.ingest import NodeFields

    mesh = grid(3, 2)
    raw = meshio.Mesh(np.column_stack([mesh.points, np.zeros(mesh.num_nodes)]),
                      [("quad", mesh.shapes[0][1])])  # fmt: skip
    raw.cell_data = {"kappa": [np.ones(len(mesh.shapes[0][1]) - 1)]}
    convert = NodeFields(mesh, np.arange(mesh.num_nodes), ["kappa"])
    with pytest.raises(DatasetError, match="cell field 'kappa' has 8 values; expected one per"):
        convert(raw, tmp_path / "step.vtu")


def test_an_exodus_series_ingests_every_step_with_cell_data(tmp_path):
    netCDF4 = pytest.importorskip("netCDF4")
    mesh = grid(3, 2)
    points = np.column_stack([mesh.points, np.zeros(mesh.num_nodes)])
    u = np.stack([mesh.points[:, 0] * k for k in range(4)])
    raw = meshio.Mesh(points, list(mesh.shapes), point_data={"u": u[0]})
    meshio.write(tmp_path / "run.e", raw)  # one step; the others appended as solvers do
    with netCDF4.Dataset(tmp_path / "run.e", "a") as nc:
        nc.createDimension("num_elem_var", 1)  # meshio writes no element variables: add one
        names = nc.createVariable("name_elem_var", "S1", ("num_elem_var", "len_string"))
        names[0, :6] = netCDF4.stringtochar(np.array(["kappa"], "S6"))
        kappa = nc.createVariable("vals_elem_var1eb1", "f8", ("time_step", "num_el_in_blk1"))
        kappa[0] = np.full(9, 0.5)
        for k in range(1, 4):
            nc.variables["time_whole"][k] = 0.1 * k
            nc.variables["vals_nod_var1"][k] = u[k]
            nc.variables["vals_elem_var1eb1"][k] = np.full(9, 0.5)
    out = tmp_path / "data"
    assert main(["ingest", str(tmp_path / "run.e"), "--fields", "u,kappa", "--out", str(out)]) == 0
    sample = read_sample(sample_path(out, 0))
    np.testing.assert_allclose(sample.times, [0, 0.1, 0.2, 0.3], atol=1e-7)
    np.testing.assert_allclose(sample.fields["u"][..., 0], u)
    np.testing.assert_allclose(sample.fields["kappa"], 0.5)
    assert [kind for kind, _ in sample.mesh.shapes] == ["quad"]


def test_a_series_whose_cells_change_between_steps_is_refused(tmp_path):
    mesh = grid(3, 2)
    pvd, _ = run_of(mesh, tmp_path, 0)
    step = tmp_path / "run_0002.vtu"
    raw = meshio.read(step)
    quads = raw.cells[0].data
    raw.cells = [meshio.CellBlock("triangle", np.concatenate([quads[:, :3], quads[:, [0, 2, 3]]]))]
    meshio.write(step, raw)
    with pytest.raises(DatasetError, match=r"run_0002\.vtu: its mesh differs from run_0000\.vtu"):
        ingest_series(pvd, ["u"])


def test_polyhedra_are_refused_naming_the_type():
    from types import SimpleNamespace

    from solvers.errors import MeshError
    from solvers.mesh_io import mesh_and_nodes

    block = SimpleNamespace(type="polyhedron8", data=np.arange(8)[None])
    raw = SimpleNamespace(cells=[block], points=np.zeros((8, 3)), cell_data={})
    with pytest.raises(MeshError, match="has cells of type polyhedron8; expected triangles"):
        mesh_and_nodes(raw)
