"""Training: the adapter on a hand-made graph, every config's smoke run, safe checkpoints,
reproducibility, the NaN guard, kill-and-resume and a 2-process DDP run on CPU."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import Timer
from torch_geometric.data import Batch

from solvers.errors import InputError
from solvers.geometry import rectangle_with_holes
from surrogate.cli import main
from surrogate.commands.demo import _steps
from surrogate.data.graphs import NODE_TYPES, MeshDataset
from surrogate.graph import MeshGraph, mesh_graph
from surrogate.metrics import rmse
from surrogate.rollout import rollout
from surrogate.training.adapter import FieldAdapter, masked_mse
from surrogate.training.checkpoint import load_surrogate
from surrogate.training.cli import train
from surrogate.training.data import MeshDataModule
from surrogate.training.evaluate import evaluate
from surrogate.training.module import SurrogateModule, TrainingDiverged
from tests.surrogate.conftest import QUICK, quick_train, recipe_of

CONFIGS = sorted(Path("configs").rglob("*.yaml"))


def square_graph(node_type_names, x, y) -> MeshGraph:
    codes = torch.tensor([NODE_TYPES.index(n) for n in node_type_names])
    graph = MeshGraph(x=torch.tensor(x), y=torch.tensor(y))
    graph.node_type = torch.nn.functional.one_hot(codes, len(NODE_TYPES)).float()
    return graph


HEAT_SCHEMA = {
    "transient": True, "dim": 2, "inputs": [["kappa", 1]],
    "targets": [["u", 1, True], ["q", 1, False]], "node_types": list(NODE_TYPES),
}  # fmt: skip


def test_adapter_pins_prescribed_entries_and_masks_them_out_of_the_loss():
    adapter = FieldAdapter(HEAT_SCHEMA).eval()
    # x = [kappa, u, q] at t; y = [u, q] at t + 1; node 0 is dirichlet, node 1 neumann
    graph = square_graph(["dirichlet", "neumann"], [[1.0, 5.0, 7.0], [2.0, 6.0, 8.0]],
                         [[9.0, 1.0], [3.0, 4.0]])  # fmt: skip
    assert adapter.in_dim == 1 + 2 + 2 + len(NODE_TYPES) and adapter.out_dim == 2
    assert adapter.pinned(graph).tolist() == [[True, False], [False, False]]
    features, target, free = adapter.training_example(graph)
    # untrained normalisers are the identity: features are raw values
    given = features[:, 3:5]
    assert given.tolist() == [[9.0, 0.0], [0.0, 0.0]]  # only the pinned u of node 0
    assert target.tolist() == [[4.0, -6.0], [-3.0, -4.0]]  # y - state
    assert free.tolist() == [[False, True], [True, True]]
    # the loss ignores the pinned entry however wrong the prediction is there
    assert masked_mse(target + torch.tensor([[100.0, 0], [0, 0]]), target, free) == 0
    state = graph.x[:, 1:]
    predicted = adapter.predict(graph, torch.zeros(2, 2), graph.x[:, :1], state, graph.y)
    assert predicted.tolist() == [[9.0, 7.0], [6.0, 8.0]]  # pinned u takes y; rest = state


def test_noise_perturbs_free_state_only_and_the_target_still_reaches_y():
    torch.manual_seed(0)
    adapter = FieldAdapter(HEAT_SCHEMA, noise=0.5).train()
    graph = square_graph(["dirichlet", "neumann"], [[1.0, 5.0, 7.0], [2.0, 6.0, 8.0]],
                         [[9.0, 1.0], [3.0, 4.0]])  # fmt: skip
    features, target, _ = adapter.training_example(graph)
    noisy_state = adapter.value_norm.inverse(features[:, 1:3])
    assert noisy_state[0, 0] == 5.0  # pinned entry: no noise
    assert not torch.equal(noisy_state[1], torch.tensor([6.0, 8.0]))
    delta = adapter.output_norm.inverse(target)
    torch.testing.assert_close(noisy_state + delta, graph.y)


def test_a_direct_target_is_predicted_as_a_value_and_not_fed_back():
    """q direct (as the pressure of incompressible flow): its state at t is no feature, its
    target is its value at t + 1, and a prediction does not add the state to it."""
    adapter = FieldAdapter(HEAT_SCHEMA, direct=["q"]).eval()
    graph = square_graph(["dirichlet", "neumann"], [[1.0, 5.0, 7.0], [2.0, 6.0, 8.0]],
                         [[9.0, 1.0], [3.0, 4.0]])  # fmt: skip
    assert adapter.in_dim == 1 + 1 + 2 + len(NODE_TYPES)
    features, target, _ = adapter.training_example(graph)
    assert features[:, :2].tolist() == [[1.0, 5.0], [2.0, 6.0]]  # kappa, u at t; no q
    assert target.tolist() == [[4.0, 1.0], [-3.0, 4.0]]  # u: y - state; q: y
    state = graph.x[:, 1:]
    output = torch.tensor([[0.5, 2.0], [0.5, 3.0]])
    predicted = adapter.predict(graph, output, graph.x[:, :1], state, graph.y)
    assert predicted.tolist() == [[9.0, 2.0], [6.5, 3.0]]


def heat_module_and_history():
    """A small untrained heat surrogate (normalisers filled by one batch) and a training
    item on a unit plate at t = 2 with the two states before it; node 0 is held."""
    torch.manual_seed(0)
    module = SurrogateModule({"name": "meshgraphnet", "latent": 8, "blocks": 1}, HEAT_SCHEMA,
                             {"num_levels": 1}, pushforward=2)  # fmt: skip
    graph = mesh_graph(rectangle_with_holes(holes=[], h=0.5), num_levels=1)
    n = graph.num_nodes
    codes = torch.full((n,), NODE_TYPES.index("neumann"))
    codes[0] = NODE_TYPES.index("dirichlet")
    graph.node_type = torch.nn.functional.one_hot(codes, len(NODE_TYPES)).float()
    states = torch.randn(4, n, 2)  # u, q at t = 0..3
    kappa = 1 + torch.rand(4, n, 1)
    graph.x, graph.y = torch.cat([kappa[2], states[2]], dim=1), states[3]
    graph.earlier_input_steps, graph.earlier_target_steps = kappa[:2], states[:2]
    module.adapter.training_example(graph.clone())
    return module, graph, kappa, states


@pytest.mark.parametrize("j", [0, 1, 2])
def test_pushforward_trains_from_the_networks_own_state(j, monkeypatch):
    """j steps unrolled from the true state at t - j, with each step's inputs and pinned
    values, replace the state at t; the inputs at t, the normalisers and the mode stay."""
    module, graph, kappa, states = heat_module_and_history()
    monkeypatch.setattr(torch, "randint", lambda high, size: torch.tensor(j))
    counts = [m.count.clone() for m in module.modules() if hasattr(m, "total_sq")]
    pushed = module._pushed_forward(graph.clone())
    assert module.training
    assert [m.count for m in module.modules() if hasattr(m, "total_sq")] == counts
    expected = states[2]
    if j:
        module.eval()
        expected = states[2 - j]
        for t in range(2 - j, 2):  # by hand: one step t -> t + 1 at a time
            graph.x = module.adapter.features(graph, kappa[t], expected, states[t + 1])
            expected = module.adapter.predict(graph, module(graph), kappa[t], expected,
                                              states[t + 1])  # fmt: skip
        assert not torch.allclose(expected, states[2])
        assert expected[0, 0] == states[2][0, 0]  # the held value
    torch.testing.assert_close(pushed, torch.cat([kappa[2], expected], dim=1))


def test_pushforward_on_a_steady_problem_is_one_sentence():
    with pytest.raises(InputError, match="pushforward is 1; expected 0, or a positive"):
        SurrogateModule({"name": "meshgraphnet", "latent": 8, "blocks": 1},
                        {**HEAT_SCHEMA, "transient": False}, {"num_levels": 1},
                        pushforward=1)  # fmt: skip


@pytest.mark.parametrize(
    ("schema", "direct", "message"),
    [
        (HEAT_SCHEMA, ["p"], "direct names p, which the dataset does not predict"),
        ({**HEAT_SCHEMA, "transient": False}, ["q"], "direct is for transient problems"),
    ],
)
def test_bad_direct_is_one_sentence(schema, direct, message):
    with pytest.raises(InputError, match=message):
        FieldAdapter(schema, direct=direct)


ELASTICITY_SCHEMA = {
    "transient": False, "dim": 2, "inputs": [["E", 1], ["traction", 2]],
    "targets": [["displacement", 2, True], ["von_mises", 1, False]],
    "node_types": list(NODE_TYPES),
}  # fmt: skip
SCALES = {"displacement": "traction / E", "von_mises": "traction"}


def two_plates(loads):
    """A batch of two 2-node plates: node 0 clamped and unloaded, node 1 loaded."""
    graphs = []
    for E, (tx, ty) in loads:
        x = [[E, 0.0, 0.0], [E, tx, ty]]
        graphs.append(square_graph(["dirichlet", "neumann"], x, [[0.0, 0.0, 0.0]] * 2))
    return Batch.from_data_list(graphs)


def untrained_module_and_plate(**options):
    """A small untrained MeshGraphNet surrogate of ELASTICITY_SCHEMA and a unit plate whose
    nodes are all neumann."""
    torch.manual_seed(0)
    module = SurrogateModule(
        {"name": "meshgraphnet", "latent": 8, "blocks": 1}, ELASTICITY_SCHEMA,
        {"num_levels": 1}, **options,
    ).eval()  # fmt: skip
    graph = mesh_graph(rectangle_with_holes(holes=[], h=0.5), num_levels=1)
    graph.node_type = torch.zeros(graph.num_nodes, len(NODE_TYPES))
    graph.node_type[:, NODE_TYPES.index("neumann")] = 1
    return module, graph


def test_target_scales_are_per_sample_products_of_input_magnitudes():
    adapter = FieldAdapter(ELASTICITY_SCHEMA, target_scales=SCALES).eval()
    batch = two_plates([(200.0, (0.6, 0.8)), (50.0, (0.0, -0.25))])
    scale, input_scale, log_magnitudes = adapter.sample_scales(batch, batch.x, torch.zeros(4, 3))
    assert log_magnitudes is None  # input magnitudes stay hidden: the response is linear
    # |traction| is 1 and 0.25: displacement scales 1/200 and 0.25/50, von Mises 1 and 0.25
    expected = [[0.005, 0.005, 1.0]] * 2 + [[0.005, 0.005, 0.25]] * 2
    torch.testing.assert_close(scale, torch.tensor(expected))
    torch.testing.assert_close(input_scale[:, 0], torch.tensor([200.0, 200.0, 50.0, 50.0]))
    torch.testing.assert_close(input_scale[:, 1], torch.tensor([1.0, 1.0, 0.25, 0.25]))


def test_a_scaled_prediction_is_linear_in_load_and_inverse_in_stiffness():
    """The network sees E / |E| and the traction's direction only, so a 3x load on a 2x
    stiffer plate gives 1.5x the displacement and 3x the stress, whatever the weights."""
    module, graph = untrained_module_and_plate(target_scales=SCALES)
    n = graph.num_nodes
    base = torch.cat([torch.full((n, 1), 100.0), torch.rand(n, 2)], dim=1)
    stiffer = base * torch.tensor([2.0, 3.0, 3.0])
    given = torch.zeros(n, 3)
    first = rollout(module, module.adapter, graph, base, given)[0]
    second = rollout(module, module.adapter, graph, stiffer, given)[0]
    torch.testing.assert_close(second, first * torch.tensor([1.5, 1.5, 3.0]))


FLOW_SCHEMA = {
    "transient": True, "dim": 2, "inputs": [],
    "targets": [["velocity", 2, True], ["pressure", 1, False]], "node_types": list(NODE_TYPES),
}  # fmt: skip
FLOW_SCALES = {"velocity": "velocity", "pressure": "velocity * velocity"}


def two_channels(peaks, factor=1.0):
    """A batch of two 2-node channels: node 0 on the inflow at peak speed (its value at t
    + 1 is in y), node 1 inside; states and targets are multiples of the peak."""
    graphs = []
    for peak in peaks:
        x = [[peak, 0.0, 0.0], [0.5 * peak, 0.25 * peak, -0.25 * peak**2]]
        y = [[peak, 0.0, 0.0], [0.75 * peak, 0.25 * peak, -0.5 * peak**2]]
        graphs.append(square_graph(["inflow", "interior"], x, y))
    return Batch.from_data_list(graphs)


def test_a_pinned_target_scales_by_its_prescribed_peak_and_its_log_is_a_feature():
    """Channels at 2 and 0.5 m/s: velocity is scaled by the inflow's peak, the pressure by
    its square, and the network sees the same shapes for both plus log(peak)."""
    adapter = FieldAdapter(FLOW_SCHEMA, target_scales=FLOW_SCALES, direct=["pressure"]).eval()
    assert adapter.in_dim == 1 + 2 + 3 + len(NODE_TYPES)
    batch = two_channels([2.0, 0.5])
    scale, _, log_magnitudes = adapter.sample_scales(batch, batch.x[:, :0], batch.y)
    expected = [[2.0, 2.0, 4.0]] * 2 + [[0.5, 0.5, 0.25]] * 2
    torch.testing.assert_close(scale, torch.tensor(expected))
    torch.testing.assert_close(log_magnitudes[:, 0], torch.tensor([2.0, 2.0, 0.5, 0.5]).log())
    features, target, _ = adapter.training_example(batch)
    torch.testing.assert_close(features[:, 0], log_magnitudes[:, 0])  # untrained: raw
    torch.testing.assert_close(features[:2, 1:], features[2:, 1:])  # the same shapes
    assert features[:2, 1:6].tolist() == [[1.0, 0.0, 1.0, 0.0, 0.0], [0.5, 0.25, 0.0, 0.0, 0.0]]
    torch.testing.assert_close(target[:2], target[2:])  # velocity change / peak, p / peak²
    assert target[:2].tolist() == [[0.0, 0.0, 0.0], [0.25, 0.0, -0.5]]
    output = torch.tensor([[0.0, 0.0, 0.0], [0.25, 0.0, -0.5]]).repeat(2, 1)
    state = batch.x
    predicted = adapter.predict(batch, output, batch.x[:, :0], state, batch.y)
    torch.testing.assert_close(predicted, batch.y)


def test_noise_is_drawn_in_units_of_each_samples_scale():
    torch.manual_seed(0)
    adapter = FieldAdapter(FLOW_SCHEMA, noise=0.1, target_scales=FLOW_SCALES).train()
    batch = two_channels([2.0, 0.5])
    features, _, _ = adapter.training_example(batch)
    torch.manual_seed(0)
    draw = 0.1 * torch.randn(4, 3)
    scale = torch.tensor([[2.0, 2.0, 4.0]] * 2 + [[0.5, 0.5, 0.25]] * 2)
    noisy = adapter.value_norm.inverse(features[:, 1:4]) * scale  # velocity, pressure at t
    torch.testing.assert_close(noisy - batch.x, draw * ~adapter.pinned(batch) * scale)


SUPERPOSE = {"displacement": "traction", "von_mises": "|traction|"}


def test_superposition_combines_the_responses_along_each_axis():
    """Plates pulled along (0.6, 0.8) and (0, -0.25): the network sees |traction| only;
    its outputs [R (2 x 2), B (2 x 2)] give displacement R d and von Mises |B d|."""
    adapter = FieldAdapter(ELASTICITY_SCHEMA, superpose=SUPERPOSE).eval()
    assert adapter.out_dim == 4 + 4
    batch = two_plates([(200.0, (0.6, 0.8)), (50.0, (0.0, -0.25))])
    features = adapter.features(batch, batch.x, None, torch.zeros(4, 3))
    assert features[:, :3].tolist() == [[200, 0, 0], [200, 1, 0], [50, 0, 0], [50, 0.25, 0]]
    R, B = [1.0, 3.0, 2.0, 4.0], [3.0, 0.0, 0.0, 4.0]
    output = torch.tensor([R + B]).repeat(4, 1)
    combined = adapter.normalized(batch, output, batch.x)
    # R d: (1 * 0.6 + 3 * 0.8, 2 * 0.6 + 4 * 0.8); |B d| = |(3 * 0.6, 4 * 0.8)|
    on_first = [3.0, 4.4, (1.8**2 + 3.2**2) ** 0.5]
    on_second = [-3.0, -4.0, 4.0]
    torch.testing.assert_close(combined, torch.tensor([on_first] * 2 + [on_second] * 2))
    # von Mises not superposed: its one column follows displacement's four, used as it is
    mixed = FieldAdapter(ELASTICITY_SCHEMA, superpose={"displacement": "traction"}).eval()
    assert mixed.out_dim == 4 + 1
    predicted = mixed.normalized(batch, torch.tensor([R + [7.0]]).repeat(4, 1), batch.x)
    torch.testing.assert_close(predicted[:, :2], combined[:, :2])
    assert predicted[:, 2].tolist() == [7.0] * 4


def test_a_superposed_prediction_is_linear_in_the_load_direction():
    """Whatever the weights: turning the load turns the response as the sum of the two
    axis responses, and reversing it reverses the displacement but not the stress."""
    module, graph = untrained_module_and_plate(target_scales=SCALES, superpose=SUPERPOSE)
    n = graph.num_nodes
    support = (torch.rand(n, 1) > 0.5).float()

    def predicted(tx, ty):
        inputs = torch.cat([torch.full((n, 1), 100.0), support * torch.tensor([tx, ty])], 1)
        return rollout(module, module.adapter, graph, inputs, torch.zeros(n, 3))[0]

    along_x, along_y, turned = predicted(1.0, 0.0), predicted(0.0, 1.0), predicted(0.6, 0.8)
    torch.testing.assert_close(turned[:, :2], 0.6 * along_x[:, :2] + 0.8 * along_y[:, :2])
    reversed_ = predicted(-0.6, -0.8)
    torch.testing.assert_close(reversed_[:, :2], -turned[:, :2])
    torch.testing.assert_close(reversed_[:, 2], turned[:, 2])


@pytest.mark.parametrize(
    ("superpose", "message"),
    [
        ({"strain": "traction"}, "names 'strain', which the dataset does not predict"),
        ({"displacement": "force"}, "'force', which is not an input"),
        ({"von_mises": "|traction"}, "'|traction', which is not an input"),
    ],
)
def test_bad_superpose_is_one_sentence(superpose, message):
    with pytest.raises(InputError, match=message):
        FieldAdapter(ELASTICITY_SCHEMA, superpose=superpose)


def test_superpose_on_a_transient_problem_is_one_sentence():
    with pytest.raises(InputError, match="superpose is for steady problems"):
        FieldAdapter(HEAT_SCHEMA, superpose={"u": "kappa"})


@pytest.mark.parametrize(
    ("scales", "message"),
    [
        ({"displacement": "traction / G"}, "names 'G', which is not an input or a pinned"),
        ({"displacement": "von_mises"}, "names 'von_mises', which is not an input or a pin"),
        ({"displacement": "traction ** 2"}, "not a product of input or pinned target names"),
        ({"strain": "traction"}, "names strain, which the dataset does not predict"),
    ],
)
def test_bad_target_scales_are_one_sentence(scales, message):
    with pytest.raises(InputError, match=message):
        FieldAdapter(ELASTICITY_SCHEMA, target_scales=scales)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to("configs")))
def test_every_config_trains_and_its_checkpoint_predicts_the_same(config, datasets, tmp_path):
    assert quick_train(config, datasets, tmp_path) == 0
    assert (tmp_path / "config.yaml").exists() and (tmp_path / "loss.png").exists()
    assert (tmp_path / "metrics.csv").read_text().count("val/rollout_rel_l2") == 1
    raw = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert raw["global_step"] == 2 and raw["hyper_parameters"]["schema"]["recipe"]
    module = load_surrogate(tmp_path / "checkpoints" / "last.ckpt")
    again = load_surrogate(tmp_path / "checkpoints" / "last.ckpt")
    folder = datasets / recipe_of(config)
    graph = MeshDataset(folder, [0], module.hparams.hierarchy, trajectories=True)[0]
    first = module.rollout_errors(graph.clone(), 2)
    assert first == again.rollout_errors(graph.clone(), 2)
    assert all(np.isfinite(v) and v > 0 for v in first.values())


def test_pushforward_trains_from_the_cli_on_items_with_history(datasets, monkeypatch, tmp_path):
    histories, setup = [], MeshDataModule.setup
    monkeypatch.setattr(MeshDataModule, "setup", lambda self, stage=None: (
        histories.append(self.history), setup(self, stage)))  # fmt: skip
    config = Path("configs/heat_holes.yaml")
    assert quick_train(config, datasets, tmp_path, "--model.pushforward", "2") == 0
    assert histories == [2]  # model.pushforward sets data.history
    assert load_surrogate(tmp_path / "checkpoints" / "last.ckpt").hparams.pushforward == 2


def test_pushforward_longer_than_the_trajectories_is_one_sentence(datasets, capsys, tmp_path):
    config = Path("configs/heat_holes.yaml")  # tiny trajectories of 4 states
    assert quick_train(config, datasets, tmp_path, "--model.pushforward", "3") == 2
    error = capsys.readouterr().err
    assert "model.pushforward 3 needs trajectories of at least 5 states" in error
    assert "Traceback" not in error


def test_training_is_bit_reproducible_on_cpu(datasets, tmp_path):
    config = Path("configs/heat_holes.yaml")
    weights = []
    for run in ("a", "b"):
        assert quick_train(config, datasets, tmp_path / run, "--trainer.max_steps", "3") == 0
        weights.append(torch.load(tmp_path / run / "checkpoints" / "last.ckpt",
                                  weights_only=True)["state_dict"])  # fmt: skip
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_nan_loss_stops_training_naming_the_step(datasets, monkeypatch, capsys, tmp_path):
    def poisoned(self, graph):
        return torch.full((graph.num_nodes, self.adapter.out_dim), float("nan"))

    monkeypatch.setattr(SurrogateModule, "forward", poisoned)
    assert quick_train(Path("configs/poisson_holes.yaml"), datasets, tmp_path) == 2
    error = capsys.readouterr().err
    assert "the training loss became nan at step 0" in error and "Traceback" not in error
    assert issubclass(TrainingDiverged, RuntimeError)


def test_resume_after_kill_continues_from_the_saved_step(datasets, tmp_path):
    config = Path("configs/poisson_holes.yaml")
    command = [sys.executable, "-m", "surrogate.cli", "train", "--config", str(config),
               "--data.folder", str(datasets / "poisson_holes"),
               "--trainer.default_root_dir", str(tmp_path), *QUICK]  # fmt: skip
    command += ["--trainer.max_steps", "100000"]  # keeps going until killed
    last = tmp_path / "checkpoints" / "last.ckpt"
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (last.exists() and _step(last) >= 4):
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    saved = _step(last)
    assert saved >= 4 and process.returncode == -signal.SIGKILL
    done = subprocess.run([*command[:-1], str(saved + 2), "--resume"], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    output = done.stdout.decode() + done.stderr.decode()
    assert f"Restored all states from the checkpoint at {last}" in output
    assert _step(last) == saved + 2


def test_last_checkpoint_holds_the_last_step_when_the_metric_stops_improving(datasets, tmp_path):
    """A learning rate too small to change float32 weights: validation at steps 2, 4, 6
    gives the same error, so best.ckpt stays at step 2; last.ckpt must still move on."""
    frozen = ["--model.lr", "1e-30", "--model.lr_final", "1e-30", "--trainer.max_steps", "6"]
    assert quick_train(Path("configs/poisson_holes.yaml"), datasets, tmp_path, *frozen) == 0
    assert _step(tmp_path / "checkpoints" / "best.ckpt") == 2
    assert _step(tmp_path / "checkpoints" / "last.ckpt") == 6


def _step(path: Path) -> int:
    for _ in range(20):  # the checkpoint may be mid-write
        try:
            return torch.load(path, weights_only=True)["global_step"]
        except (RuntimeError, EOFError):
            time.sleep(0.1)
    raise AssertionError(f"{path} never became readable")


def test_train_returns_the_step_reached_and_the_demo_says_when_time_cut_it_short(
    datasets, tmp_path
):
    config = Path("configs/heat_holes.yaml")
    options = ["--config", str(config), "--data.folder", str(datasets / recipe_of(config)),
               "--trainer.default_root_dir", str(tmp_path), *QUICK]  # fmt: skip
    assert train(options) == 2
    assert _steps(2, 2) == "2"
    assert _steps(628, 4000) == "628 of 4,000 (stopped by the time limit)"


def test_resume_without_a_checkpoint_is_an_error(datasets, capsys, tmp_path):
    config = Path("configs/poisson_holes.yaml")
    assert quick_train(config, datasets, tmp_path, "--resume") == 2
    error = capsys.readouterr().err
    assert "last.ckpt does not exist; nothing to continue from" in error
    assert not (tmp_path / "checkpoints").exists()


def test_decay_over_time_follows_the_share_of_max_time_spent():
    module, _ = untrained_module_and_plate(lr=1e-3, lr_final=1e-5, decay_over_time=True)
    timer, elapsed = Timer(duration={"minutes": 10}), [0.0]
    timer.time_elapsed = lambda stage="train": elapsed[0]
    module.trainer = SimpleNamespace(callbacks=[timer])
    optimizers = module.configure_optimizers()
    optimizer, schedule = optimizers["optimizer"], optimizers["lr_scheduler"]["scheduler"]
    rates = []
    for seconds in (0, 150, 300, 600, 900):  # the step count plays no part
        elapsed[0] = seconds
        optimizer.step()
        schedule.step()
        rates.append(schedule.get_last_lr()[0])
    assert rates == pytest.approx([1e-3, 10**-3.5, 1e-4, 1e-5, 1e-5])


def test_decay_over_time_needs_max_time_and_trains_with_it(datasets, capsys, tmp_path):
    config = Path("configs/poisson_holes.yaml")
    assert quick_train(config, datasets, tmp_path, "--model.decay_over_time", "true") == 2
    assert "trainer.max_time, which is not set" in capsys.readouterr().err
    assert not (tmp_path / "checkpoints").exists()
    assert quick_train(config, datasets, tmp_path, "--model.decay_over_time", "true",
                       "--trainer.max_time", "00:00:10:00") == 0  # fmt: skip


def test_ddp_with_two_cpu_processes_on_gloo(datasets, tmp_path):
    command = [sys.executable, "-m", "surrogate.cli", "train",
               "--config", "configs/poisson_holes.yaml",
               "--data.folder", str(datasets / "poisson_holes"),
               "--trainer.default_root_dir", str(tmp_path), *QUICK,
               "--trainer.accelerator", "cpu", "--trainer.strategy", "ddp",
               "--trainer.devices", "2"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Starting with 2 processes" in done.stdout + done.stderr
    raw = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert raw["global_step"] == 2


def test_print_config_shows_the_resolved_config(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--config", "configs/heat_holes.yaml", "--model.lr", "3e-4",
              "--print_config"])  # fmt: skip
    assert exit_.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["lr"] == 3e-4 and printed["model"]["network"]["name"] == "unet"


def test_missing_dataset_is_one_sentence(capsys, tmp_path):
    code = main(["train", "--config", "configs/poisson_holes.yaml",
                 "--data.folder", str(tmp_path / "nothing")])  # fmt: skip
    error = capsys.readouterr().err
    assert code == 2 and "no dataset here (no manifest.json)" in error
    assert "Traceback" not in error


def test_foreign_checkpoints_are_refused_in_one_sentence(tmp_path):
    plain = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, plain)
    with pytest.raises(InputError, match="not a surrogate checkpoint"):
        load_surrogate(plain)
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a zip at all")
    with pytest.raises(InputError, match="not a readable surrogate checkpoint"):
        load_surrogate(garbage)
    with pytest.raises(InputError, match="no such checkpoint file"):
        load_surrogate(tmp_path / "missing.ckpt")


def test_evaluate_averages_the_rollout_errors_over_samples(datasets, tmp_path):
    assert quick_train(Path("configs/heat_holes.yaml"), datasets, tmp_path) == 0
    module = load_surrogate(tmp_path / "checkpoints" / "last.ckpt")
    folder = datasets / "heat_holes"
    measured = evaluate(module, folder, [0, 3], steps=2, rmse_horizons=(1, 3))
    items = [MeshDataset(folder, [i], module.hparams.hierarchy, trajectories=True)[0]
             for i in (0, 3)]  # fmt: skip
    each = [module.rollout_errors(item.clone(), 2)["u"] for item in items]
    mean, largest = measured.relative_l2["u"]
    assert mean == pytest.approx(np.mean(each)) and largest == pytest.approx(max(each))
    states = [module.rollout_states(item.clone(), 3) for item in items]
    for h in (1, 3):  # MeshGraphNets: the mean over samples of the MSE over steps 1..h
        mse = [rmse(predicted[:h], truth[:h]) ** 2 for predicted, truth in states]
        assert measured.rmse["u"][h] == pytest.approx(np.sqrt(np.mean(mse)))
    assert measured.rmse["u"][1] != measured.rmse["u"][3]


def test_rmse_averages_over_steps_nodes_and_components():
    truth = np.zeros((2, 3, 2))
    predicted = truth.copy()
    predicted[0, 0] = (3.0, 4.0)  # 25 over the 12 entries
    assert rmse(predicted, truth) == pytest.approx(np.sqrt(25 / 12))
    assert rmse(predicted[:1], truth[:1]) == pytest.approx(np.sqrt(25 / 6))
    assert rmse(predicted[1:], truth[1:]) == 0.0
