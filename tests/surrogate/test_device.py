"""Devices and precisions of prediction: --device auto|cpu|cuda[:N], --precision 32|bf16."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from solvers import geometry
from solvers.errors import InputError
from surrogate.cli import main
from surrogate.metrics import relative_l2
from surrogate.model.checkpoint import load_surrogate
from surrogate.model.device import check_precision, resolve_device
from surrogate.model.rollout import predict_many, predict_on_mesh
from surrogate.physics import pose
from tests.surrogate.test_checkpoint_format import FIXTURES, stored, stored_setup

NO_GPU = not torch.cuda.is_available()


def heat_rollout(out, *extra) -> int:
    """`surrogate rollout` of the heat fixture on a small generated plate."""
    return main(
        [
            "rollout",
            "--checkpoint",
            str(FIXTURES / "heat_holes.ckpt"),
            "--geometry",
            "rectangle_with_holes",
            "--h",
            "0.1",
            "--dirichlet",
            "hole_0=1",
            "--out",
            str(out),
            *extra,
        ]
    )


def test_auto_and_cpu_resolve_here_and_nonsense_is_one_sentence():
    assert resolve_device("auto") == torch.device("cuda" if not NO_GPU else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match="expected auto, cpu, cuda or cuda:N"):
        resolve_device("gpu0")
    with pytest.raises(InputError, match="expected one of 32, bf16"):
        check_precision("16")


@pytest.mark.skipif(not NO_GPU, reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_sentence(capsys, tmp_path):
    with pytest.raises(InputError, match="has no CUDA GPU"):
        resolve_device("cuda:0")
    code = heat_rollout(tmp_path / "r", "--device", "cuda")
    assert code == 2 and "has no CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("name", ["heat_holes", "elasticity_holes", "cylinder_flow"])
def test_bf16_predicts_what_fp32_does_to_its_precision(name):
    mesh, values, arrays = stored(name)
    model = load_surrogate(FIXTURES / f"{name}.ckpt", "cpu")
    setup = stored_setup(values, arrays)
    full = predict_on_mesh(model, mesh, setup, values["steps"], "32")
    half = predict_on_mesh(model, mesh, setup, values["steps"], "bf16")
    assert np.array_equal(full, arrays["predicted"])  # fp32 as before, bit for bit
    assert not np.array_equal(half, full)  # the network did run in bf16
    assert relative_l2(half, full) < 0.02  # bf16 keeps about 3 significant digits


def test_metrics_record_the_device_precision_and_time_per_step(tmp_path):
    out = tmp_path / "r"
    code = heat_rollout(
        out, "--steps", "4", "--device", "cpu", "--precision", "bf16", "--no-pictures"
    )
    metrics = json.loads(Path(out / "metrics.json").read_text())
    assert code == 0 and metrics["precision"] == "bf16" and metrics["device"].startswith("cpu")
    timings = metrics["timings"]
    assert timings["surrogate_s_per_step"] == pytest.approx(timings["surrogate_s"] / 4)


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("heat_holes", {"dirichlet": {"hole_0": "1.0"}, "inputs": {}}),
        (
            "elasticity_holes",
            {"dirichlet": {"left": "0"}, "inputs": {}, "traction": {"right": "0.3,0"}},
        ),
    ],
)
def test_a_batch_of_meshes_predicts_what_one_at_a_time_does(name, values):
    model = load_surrogate(FIXTURES / f"{name}.ckpt")
    meshes = [
        geometry.rectangle_with_holes(seed=seed, h=h)
        for seed, h in ((1, 0.12), (2, 0.15), (3, 0.1))
    ]
    cases = [(mesh, pose(model.schema, mesh, **values)) for mesh in meshes]
    steps = 3 if model.schema.transient else 1
    batched = predict_many(model, cases, steps, batch_size=2)  # a batch of 2, then of 1
    for (mesh, setup), together in zip(cases, batched, strict=True):
        alone = predict_on_mesh(model, mesh, setup, steps)
        assert together.shape == alone.shape == (steps, mesh.num_nodes, alone.shape[-1])
        np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5 * np.abs(alone).max())


def test_several_meshes_from_the_command_line_get_a_folder_each(tmp_path, capsys):
    alone, many = tmp_path / "alone", tmp_path / "many"
    assert heat_rollout(alone, "--seed", "2", "--steps", "3", "--no-pictures") == 0
    options = ["--seed", "1", "2", "3", "--batch-size", "2", "--steps", "3", "--no-pictures"]
    assert heat_rollout(many, *options, "--reference") == 0
    assert sorted(p.name for p in many.iterdir()) == ["seed_1", "seed_2", "seed_3"]
    assert "3 meshes, 3 step(s) each" in capsys.readouterr().out
    # seed 2 went in a batch with seed 1: the same states as alone, to fp32 tolerance
    together = json.loads((many / "seed_2" / "metrics.json").read_text())
    assert together["timings"]["batch_meshes"] == 2
    assert len(together["fields"]["u"]["relative_l2"]) == 3  # the reference ran for each
    import meshio

    last = "rollout_0003.vtu"
    np.testing.assert_allclose(
        meshio.read(many / "seed_2" / last).point_data["u"],
        meshio.read(alone / last).point_data["u"],
        rtol=1e-4,
        atol=1e-5,
    )


def test_a_folder_of_meshes_is_rolled_out_mesh_by_mesh(tmp_path, capsys):
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    for seed in (4, 5):
        geometry.rectangle_with_holes(seed=seed, h=0.15).write(meshes / f"plate_{seed}.msh")
    (meshes / "notes.txt").write_text("not a mesh")
    options = ["--checkpoint", str(FIXTURES / "heat_holes.ckpt"), "--mesh", str(meshes)]
    options += ["--dirichlet", "hole_0=1", "--steps", "2", "--no-pictures"]
    assert main(["rollout", *options, "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["plate_4", "plate_5"]
    (meshes / "plate_4.msh").write_text("$MeshFormat\n")  # one broken mesh: nothing written
    assert main(["rollout", *options, "--out", str(tmp_path / "again")]) == 2
    assert "plate_4.msh" in capsys.readouterr().err
    assert not (tmp_path / "again").exists()


def test_many_rollouts_need_distinct_plain_folder_names(tmp_path):
    from surrogate.predict import rollouts_to_folders

    model = load_surrogate(FIXTURES / "heat_holes.ckpt")
    mesh = geometry.rectangle_with_holes(seed=1, h=0.15)
    setup = pose(model.schema, mesh, {"hole_0": "1"}, {})
    for names in (["a", "a"], ["a", "../escape"], ["", "b"]):
        with pytest.raises(InputError, match="not distinct plain names"):
            rollouts_to_folders(model, [(n, mesh, setup) for n in names], 1, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape").exists()
