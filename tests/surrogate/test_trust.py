"""How far to trust a prediction (issue 32): ensemble mean and spread, physics residuals
beside every rollout, and the guard that stops a rollout or hands it to the solver."""

import json
from pathlib import Path

import meshio
import numpy as np
import pytest
import torch

from solvers import geometry
from solvers.errors import InputError
from surrogate import physics
from surrogate.cli import main
from surrogate.guard import Guard
from surrogate.model.checkpoint import load_surrogate
from surrogate.model.ensemble import check_members
from surrogate.model.rollout import forecast_on_mesh, predict_on_mesh

FIXTURES = Path(__file__).parents[1] / "fixtures" / "checkpoints"
PLATE = geometry.rectangle_with_holes(seed=5, h=0.1)


def perturbed(name: str, seed: int):
    """The fixture's surrogate with its weights moved a little: another member."""
    model = load_surrogate(FIXTURES / f"{name}.ckpt")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for weight in model.parameters():
            weight.add_(0.05 * torch.randn(weight.shape, generator=generator))
    return model


def elastic_setup(model):
    return physics.pose(model.schema, PLATE, {"left": "0"}, {}, {"right": "1,0.2"})


def test_the_ensemble_predicts_the_members_mean_with_their_spread():
    first, second = perturbed("elasticity_holes", 1), perturbed("elasticity_holes", 2)
    setup = elastic_setup(first)
    alone = [predict_on_mesh(model, PLATE, setup) for model in (first, second)]
    forecast = forecast_on_mesh([first, second], PLATE, setup)
    np.testing.assert_allclose(forecast.mean, (alone[0] + alone[1]) / 2, atol=1e-6)
    np.testing.assert_allclose(forecast.spread, np.abs(alone[0] - alone[1]) / 2, atol=1e-6)
    assert forecast_on_mesh([first], PLATE, setup).spread is None


def test_members_of_different_models_are_refused():
    heat, elastic = load_surrogate(FIXTURES / "heat_holes.ckpt"), perturbed("elasticity_holes", 0)
    with pytest.raises(InputError, match=r"b\.ckpt: its fields and time step differ from a\.ckpt"):
        check_members([elastic, heat], ["a.ckpt", "b.ckpt"])
    coarser = perturbed("elasticity_holes", 1)
    coarser.hierarchy["num_levels"] = 2
    with pytest.raises(InputError, match="its hierarchy settings differ"):
        check_members([elastic, coarser], ["a.ckpt", "b.ckpt"])


@pytest.mark.parametrize("name", ["heat_holes", "elasticity_holes"])
def test_the_residual_vanishes_on_the_solvers_states_and_not_on_a_prediction(name):
    model = load_surrogate(FIXTURES / f"{name}.ckpt")
    if name == "heat_holes":
        setup = physics.pose(model.schema, PLATE, {"hole_0": "1"}, {"kappa": "0.05"})
        solved = np.concatenate([setup.initial[None], setup.reference(4)])
        predicted = np.concatenate([setup.initial[None], predict_on_mesh(model, PLATE, setup, 4)])
    else:
        setup = elastic_setup(model)
        solved, predicted = setup.reference(1), predict_on_mesh(model, PLATE, setup)
    (target, exact), = setup.residual(solved).items()  # fmt: skip
    assert np.max(exact.relative) < 1e-8
    assert np.min(setup.residual(predicted)[target].relative[-1]) > 1e-4


def test_the_flow_residual_has_a_floor_on_the_solvers_states_and_grows_on_a_prediction():
    model = load_surrogate(FIXTURES / "cylinder_flow.ckpt")  # 4 training steps: untrained
    channel = geometry.channel_with_obstacle(1.6, 0.41, h=0.05, h_obstacle=0.015)
    setup = physics.pose(model.schema, channel, {}, {})
    solved = np.concatenate([setup.initial[None], setup.reference(3)])
    predicted = np.concatenate([setup.initial[None], predict_on_mesh(model, channel, setup, 3)])
    floor, found = setup.residual(solved), setup.residual(predicted)
    assert set(floor) == {"velocity", "pressure"}  # momentum and continuity rows
    assert floor["velocity"].values.shape == (4, channel.num_nodes, 2)
    assert floor["velocity"].relative[0] == 0  # the initial state
    # P2 fields seen at the vertices: 15% just after the start from rest on this coarse
    # channel, about 3% once the inflow has ramped up (measured), never zero
    assert 0 < np.max(floor["velocity"].relative) < 0.2
    assert np.min(found["velocity"].relative[1:]) > 3 * np.max(floor["velocity"].relative)


def test_the_guard_finds_the_first_crossing():
    figures = {"u": {"residual": [0.1, 0.4, 0.6, 0.9]}, "v": {"spread": [0.0, 0.0, 0.3, 0.3]}}
    assert Guard(max_residual=0.5).crossing(figures) == (3, "the u residual 0.6 passes 0.5")
    assert Guard(max_residual=0.5, max_spread=0.2).crossing(figures)[0] == 3
    assert Guard(max_spread=0.25).crossing(figures) == (3, "the v spread 0.3 passes 0.25")
    assert Guard(max_residual=0.05).crossing(figures)[0] == 1
    assert Guard(max_residual=1.0).crossing(figures) is None
    figures["u"]["estimate"] = [0.01, 0.02, 0.04, 0.08]
    assert Guard(max_estimate=0.03).crossing(figures) == (3, "the u estimate 0.04 passes 0.03")


def rollout(out: Path, *extra: str) -> int:
    args = ["rollout", "--checkpoint", str(FIXTURES / "heat_holes.ckpt"), "--geometry"]
    args += ["rectangle_with_holes", "--h", "0.1", "--dirichlet", "hole_0=1", "--steps", "6"]
    return main([*args, "--reference", "--no-pictures", "--out", str(out), *extra])


def test_a_guarded_rollout_stops_or_hands_over_to_the_solver(tmp_path, capsys):
    assert rollout(tmp_path / "free") == 0
    free = json.loads((tmp_path / "free" / "metrics.json").read_text())
    residuals = free["fields"]["u"]["residual"]
    assert len(residuals) == 6 and all(r > 0 for r in residuals)
    limit = f"{sorted(residuals)[2]:.6g}"  # some steps pass it
    step = next(k for k, r in enumerate(residuals, start=1) if r > float(limit))

    assert rollout(tmp_path / "stop", "--max-residual", limit) == 0
    assert f"step {step}: the u residual" in capsys.readouterr().err
    stopped = json.loads((tmp_path / "stop" / "metrics.json").read_text())
    assert stopped["guard"]["step"] == step and len(stopped["times"]) == step  # 0..step-1
    assert stopped["fields"]["u"]["residual"] == residuals[: step - 1]  # causal: the same

    assert rollout(tmp_path / "hand", "--max-residual", limit, "--fallback", "solver") == 0
    handed = json.loads((tmp_path / "hand" / "metrics.json").read_text())
    assert handed["guard"]["source"] == ["surrogate"] * step + ["solver"] * (7 - step)
    assert "fallback_solver_s" in handed["timings"] and len(handed["times"]) == 7
    last = meshio.read(tmp_path / "hand" / "rollout_0006.vtu").point_data
    assert last["source"].max() == 1.0 and np.max(np.abs(last["u_residual"])) < 1e-8
    assert last["u_error_estimate"].shape == last["u_residual"].shape  # beside the residual

    estimates = free["fields"]["u"]["estimate"]  # the estimated error guards alike
    limit = f"{sorted(estimates)[2]:.6g}"
    step = next(k for k, e in enumerate(estimates, start=1) if e > float(limit))
    assert rollout(tmp_path / "estimate", "--max-estimate", limit) == 0
    assert f"step {step}: the u estimate" in capsys.readouterr().err


def test_guard_options_that_cannot_be_watched_are_one_sentence(tmp_path, capsys):
    assert rollout(tmp_path / "a", "--max-spread", "0.1") == 2
    assert "--max-spread needs an ensemble" in capsys.readouterr().err
    assert rollout(tmp_path / "b", "--fallback", "solver") == 2
    assert "--fallback solver needs --max-spread, --max-residual or" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_rank_correlation_of_hand_made_pairs():
    from surrogate.calibration import rank_correlations

    rising = [(0.1, 0.01), (0.2, 0.5), (0.3, 0.6), (0.9, 0.7)]  # same order, not linear
    falling = [(x, -y) for x, y in rising]
    flat = [(0.1, 0.2), (0.1, 0.3), (0.1, 0.4)]
    rho = rank_correlations({"u": {"spread": rising, "residual": falling}, "v": {"spread": flat}})
    assert rho["u"] == {"spread": pytest.approx(1.0), "residual": pytest.approx(-1.0)}
    assert rho["v"]["spread"] is None


def test_train_ensemble_trains_members_with_seeds_0_to_k(datasets, tmp_path, capsys):
    from tests.surrogate.conftest import quick_train

    config = Path("configs/small/heat_holes.yaml")
    assert quick_train(config, datasets, tmp_path / "ens", "--ensemble", "2") == 0
    saved = [(tmp_path / "ens" / f"member_{k}" / "config.yaml").read_text() for k in (0, 1)]
    assert "seed_everything: 0" in saved[0] and "seed_everything: 1" in saved[1]
    members = [tmp_path / "ens" / f"member_{k}" / "checkpoints" / "last.ckpt" for k in (0, 1)]
    out = tmp_path / "rollout"
    args = ["rollout", *[f"--checkpoint={m}" for m in members], "--geometry"]
    args += ["rectangle_with_holes", "--h", "0.1", "--dirichlet", "hole_0=1", "--steps", "2"]
    assert main([*args, "--no-pictures", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["members"] == 2 and len(metrics["fields"]["u"]["spread"]) == 2
    assert "u_spread" in meshio.read(out / "rollout_0002.vtu").point_data
    assert quick_train(config, datasets, tmp_path / "x", "--ensemble", "1") == 2
    assert "--ensemble is '1'; expected a number of members" in capsys.readouterr().err
