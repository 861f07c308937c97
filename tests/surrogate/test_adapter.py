"""The adapter on hand-made graphs: features, pinned entries, loss masks, noise, direct
targets, per-sample scales, superposition and pushforward unrolling."""

import pytest
import torch
from torch_geometric.data import Batch

from solvers.errors import InputError
from solvers.geometry import rectangle_with_holes
from surrogate.graph import MeshGraph, mesh_graph
from surrogate.model.adapter import FieldAdapter, masked_mse
from surrogate.model.rollout import rollout
from surrogate.node_types import NODE_TYPES
from surrogate.training.module import SurrogateModule
from tests.surrogate.conftest import schema


def square_graph(node_type_names, inputs, state, y) -> MeshGraph:
    """A graph of len(node_type_names) nodes and no edges carrying an item's fields."""
    codes = torch.tensor([NODE_TYPES.index(n) for n in node_type_names])
    graph = MeshGraph(inputs=torch.tensor(inputs), y=torch.tensor(y))
    if state is not None:
        graph.state = torch.tensor(state)
    graph.node_type = torch.nn.functional.one_hot(codes, len(NODE_TYPES)).float()
    return graph


HEAT_SCHEMA = schema(True, [("kappa", 1)], [("u", 1, True), ("q", 1, False)])


def heat_pair() -> MeshGraph:
    """kappa, [u, q] at t and [u, q] at t + 1; node 0 is dirichlet, node 1 neumann."""
    return square_graph(
        ["dirichlet", "neumann"], [[1.0], [2.0]], [[5.0, 7.0], [6.0, 8.0]], [[9.0, 1.0], [3.0, 4.0]]
    )


def test_adapter_pins_prescribed_entries_and_masks_them_out_of_the_loss():
    adapter = FieldAdapter(HEAT_SCHEMA).eval()
    graph = heat_pair()
    assert adapter.in_dim == 1 + 2 + 2 + len(NODE_TYPES) and adapter.out_dim == 2
    assert adapter.pinned(graph).tolist() == [[True, False], [False, False]]
    features, target, free, step = adapter.training_example(graph, graph.state)
    # untrained normalisers are the identity: features are raw values
    given = features[:, 3:5]
    assert given.tolist() == [[9.0, 0.0], [0.0, 0.0]]  # only the pinned u of node 0
    assert target.tolist() == [[4.0, -6.0], [-3.0, -4.0]]  # y - state
    assert free.tolist() == [[False, True], [True, True]]
    # the loss ignores the pinned entry however wrong the prediction is there
    assert masked_mse(target + torch.tensor([[100.0, 0], [0, 0]]), target, free) == 0
    predicted = adapter.predict(graph, torch.zeros(2, 2), step, graph.state)
    assert predicted.tolist() == [[9.0, 7.0], [6.0, 8.0]]  # pinned u takes y; rest = state


def test_noise_perturbs_free_state_only_and_the_target_still_reaches_y():
    torch.manual_seed(0)
    adapter = FieldAdapter(HEAT_SCHEMA, noise=0.5).train()
    graph = heat_pair()
    features, target, *_ = adapter.training_example(graph, graph.state)
    noisy_state = adapter.value_norm.inverse(features[:, 1:3])
    assert noisy_state[0, 0] == 5.0  # pinned entry: no noise
    assert not torch.equal(noisy_state[1], torch.tensor([6.0, 8.0]))
    delta = adapter.output_norm.inverse(target)
    torch.testing.assert_close(noisy_state + delta, graph.y)


def test_a_direct_target_is_predicted_as_a_value_and_not_fed_back():
    """q direct (as the pressure of incompressible flow): its state at t is no feature, its
    target is its value at t + 1, and a prediction does not add the state to it."""
    adapter = FieldAdapter(HEAT_SCHEMA, direct=["q"]).eval()
    graph = heat_pair()
    assert adapter.in_dim == 1 + 1 + 2 + len(NODE_TYPES)
    features, target, _, step = adapter.training_example(graph, graph.state)
    assert features[:, :2].tolist() == [[1.0, 5.0], [2.0, 6.0]]  # kappa, u at t; no q
    assert target.tolist() == [[4.0, 1.0], [-3.0, 4.0]]  # u: y - state; q: y
    output = torch.tensor([[0.5, 2.0], [0.5, 3.0]])
    predicted = adapter.predict(graph, output, step, graph.state)
    assert predicted.tolist() == [[9.0, 2.0], [6.5, 3.0]]


def heat_module_and_history():
    """A small untrained heat surrogate (normalisers filled by one batch) and a training
    item on a unit plate at t = 2 with the two states before it; node 0 is held."""
    torch.manual_seed(0)
    module = SurrogateModule(
        {"name": "meshgraphnet", "latent": 8, "blocks": 1},
        HEAT_SCHEMA.to_dict(),
        {"num_levels": 1},
        pushforward=2,
    )
    graph = mesh_graph(rectangle_with_holes(holes=[], h=0.5), num_levels=1)
    n = graph.num_nodes
    codes = torch.full((n,), NODE_TYPES.index("neumann"))
    codes[0] = NODE_TYPES.index("dirichlet")
    graph.node_type = torch.nn.functional.one_hot(codes, len(NODE_TYPES)).float()
    states = torch.randn(4, n, 2)  # u, q at t = 0..3
    kappa = 1 + torch.rand(4, n, 1)
    graph.inputs, graph.state, graph.y = kappa[2], states[2], states[3]
    graph.earlier_input_steps, graph.earlier_target_steps = kappa[:2], states[:2]
    module.surrogate.adapter.training_example(graph.clone(), graph.state)
    return module, graph, kappa, states


@pytest.mark.parametrize("j", [0, 1, 2])
def test_pushforward_trains_from_the_networks_own_state(j, monkeypatch):
    """j steps unrolled from the true state at t - j, with each step's inputs and pinned
    values, replace the state at t; the inputs at t, the normalisers and the mode stay."""
    module, graph, kappa, states = heat_module_and_history()
    monkeypatch.setattr(torch, "randint", lambda high, size: torch.tensor(j))
    counts = [m.count.clone() for m in module.modules() if hasattr(m, "total_sq")]
    pushed = module._pushed_forward(graph.clone(), graph.state)
    assert module.training
    assert [m.count for m in module.modules() if hasattr(m, "total_sq")] == counts
    expected = states[2]
    if j:
        module.eval()
        expected = states[2 - j]
        adapter = module.surrogate.adapter
        for t in range(2 - j, 2):  # by hand: one step t -> t + 1 at a time
            step = adapter.step(graph, kappa[t], states[t + 1])
            graph.x = adapter.features(step, expected, graph.node_type)
            expected = adapter.predict(graph, module(graph), step, expected)
        assert not torch.allclose(expected, states[2])
        assert expected[0, 0] == states[2][0, 0]  # the held value
    torch.testing.assert_close(pushed, expected)


def test_pushforward_on_a_steady_problem_is_one_sentence():
    with pytest.raises(InputError, match="pushforward is 1; expected 0, or a positive"):
        SurrogateModule(
            {"name": "meshgraphnet", "latent": 8, "blocks": 1},
            {**HEAT_SCHEMA.to_dict(), "transient": False},
            {"num_levels": 1},
            pushforward=1,
        )


@pytest.mark.parametrize(
    ("schema", "direct", "message"),
    [
        (HEAT_SCHEMA, ["p"], "direct names p, which the dataset does not predict"),
        (schema(False, [("kappa", 1)], [("q", 1, False)]), ["q"], "direct is for transient"),
    ],
)
def test_bad_direct_is_one_sentence(schema, direct, message):
    with pytest.raises(InputError, match=message):
        FieldAdapter(schema, direct=direct)


ELASTICITY_SCHEMA = schema(
    False, [("E", 1), ("traction", 2)], [("displacement", 2, True), ("von_mises", 1, False)]
)
SCALES = {"displacement": "traction / E", "von_mises": "traction"}


def two_plates(loads):
    """A batch of two 2-node plates: node 0 clamped and unloaded, node 1 loaded."""
    graphs = []
    for E, (tx, ty) in loads:
        inputs = [[E, 0.0, 0.0], [E, tx, ty]]
        graphs.append(square_graph(["dirichlet", "neumann"], inputs, None, [[0.0] * 3] * 2))
    return Batch.from_data_list(graphs)


def untrained_module_and_plate(**options):
    """A small untrained MeshGraphNet surrogate of ELASTICITY_SCHEMA and a unit plate whose
    nodes are all neumann."""
    torch.manual_seed(0)
    module = SurrogateModule(
        {"name": "meshgraphnet", "latent": 8, "blocks": 1},
        ELASTICITY_SCHEMA.to_dict(),
        {"num_levels": 1},
        **options,
    ).surrogate.eval()
    graph = mesh_graph(rectangle_with_holes(holes=[], h=0.5), num_levels=1)
    graph.node_type = torch.zeros(graph.num_nodes, len(NODE_TYPES))
    graph.node_type[:, NODE_TYPES.index("neumann")] = 1
    return module, graph


def test_target_scales_are_per_sample_products_of_input_magnitudes():
    adapter = FieldAdapter(ELASTICITY_SCHEMA, target_scales=SCALES).eval()
    batch = two_plates([(200.0, (0.6, 0.8)), (50.0, (0.0, -0.25))])
    scale, input_scale, log_magnitudes = adapter.step(batch, batch.inputs, torch.zeros(4, 3))[3]
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
    first = rollout(module, graph, base, given)[0]
    second = rollout(module, graph, stiffer, given)[0]
    torch.testing.assert_close(second, first * torch.tensor([1.5, 1.5, 3.0]))


FLOW_SCHEMA = schema(True, [], [("velocity", 2, True), ("pressure", 1, False)])
FLOW_SCALES = {"velocity": "velocity", "pressure": "velocity * velocity"}


def two_channels(peaks, factor=1.0):
    """A batch of two 2-node channels: node 0 on the inflow at peak speed (its value at t
    + 1 is in y), node 1 inside; states and targets are multiples of the peak."""
    graphs = []
    for peak in peaks:
        state = [[peak, 0.0, 0.0], [0.5 * peak, 0.25 * peak, -0.25 * peak**2]]
        y = [[peak, 0.0, 0.0], [0.75 * peak, 0.25 * peak, -0.5 * peak**2]]
        graphs.append(square_graph(["inflow", "interior"], [[], []], state, y))
    return Batch.from_data_list(graphs)


def test_a_pinned_target_scales_by_its_prescribed_peak_and_its_log_is_a_feature():
    """Channels at 2 and 0.5 m/s: velocity is scaled by the inflow's peak, the pressure by
    its square, and the network sees the same shapes for both plus log(peak)."""
    adapter = FieldAdapter(FLOW_SCHEMA, target_scales=FLOW_SCALES, direct=["pressure"]).eval()
    assert adapter.in_dim == 1 + 2 + 3 + len(NODE_TYPES)
    batch = two_channels([2.0, 0.5])
    scale, _, log_magnitudes = adapter.step(batch, batch.inputs, batch.y).scales
    expected = [[2.0, 2.0, 4.0]] * 2 + [[0.5, 0.5, 0.25]] * 2
    torch.testing.assert_close(scale, torch.tensor(expected))
    torch.testing.assert_close(log_magnitudes[:, 0], torch.tensor([2.0, 2.0, 0.5, 0.5]).log())
    features, target, _, step = adapter.training_example(batch, batch.state)
    torch.testing.assert_close(features[:, 0], log_magnitudes[:, 0])  # untrained: raw
    torch.testing.assert_close(features[:2, 1:], features[2:, 1:])  # the same shapes
    assert features[:2, 1:6].tolist() == [[1.0, 0.0, 1.0, 0.0, 0.0], [0.5, 0.25, 0.0, 0.0, 0.0]]
    torch.testing.assert_close(target[:2], target[2:])  # velocity change / peak, p / peak²
    assert target[:2].tolist() == [[0.0, 0.0, 0.0], [0.25, 0.0, -0.5]]
    output = torch.tensor([[0.0, 0.0, 0.0], [0.25, 0.0, -0.5]]).repeat(2, 1)
    predicted = adapter.predict(batch, output, step, batch.state)
    torch.testing.assert_close(predicted, batch.y)


def test_noise_is_drawn_in_units_of_each_samples_scale():
    torch.manual_seed(0)
    adapter = FieldAdapter(FLOW_SCHEMA, noise=0.1, target_scales=FLOW_SCALES).train()
    batch = two_channels([2.0, 0.5])
    features, *_ = adapter.training_example(batch, batch.state)
    torch.manual_seed(0)
    draw = 0.1 * torch.randn(4, 3)
    scale = torch.tensor([[2.0, 2.0, 4.0]] * 2 + [[0.5, 0.5, 0.25]] * 2)
    noisy = adapter.value_norm.inverse(features[:, 1:4]) * scale  # velocity, pressure at t
    torch.testing.assert_close(noisy - batch.state, draw * ~adapter.pinned(batch) * scale)


SUPERPOSE = {"displacement": "traction", "von_mises": "|traction|"}


def test_superposition_combines_the_responses_along_each_axis():
    """Plates pulled along (0.6, 0.8) and (0, -0.25): the network sees |traction| only;
    its outputs [R (2 x 2), B (2 x 2)] give displacement R d and von Mises |B d|."""
    adapter = FieldAdapter(ELASTICITY_SCHEMA, superpose=SUPERPOSE).eval()
    assert adapter.out_dim == 4 + 4
    batch = two_plates([(200.0, (0.6, 0.8)), (50.0, (0.0, -0.25))])
    step = adapter.step(batch, batch.inputs, torch.zeros(4, 3))
    features = adapter.features(step, None, batch.node_type)
    assert features[:, :3].tolist() == [[200, 0, 0], [200, 1, 0], [50, 0, 0], [50, 0.25, 0]]
    R, B = [1.0, 3.0, 2.0, 4.0], [3.0, 0.0, 0.0, 4.0]
    output = torch.tensor([R + B]).repeat(4, 1)
    combined = adapter.normalized(batch, output, step)
    # R d: (1 * 0.6 + 3 * 0.8, 2 * 0.6 + 4 * 0.8); |B d| = |(3 * 0.6, 4 * 0.8)|
    on_first = [3.0, 4.4, (1.8**2 + 3.2**2) ** 0.5]
    on_second = [-3.0, -4.0, 4.0]
    torch.testing.assert_close(combined, torch.tensor([on_first] * 2 + [on_second] * 2))
    # von Mises not superposed: its one column follows displacement's four, used as it is
    mixed = FieldAdapter(ELASTICITY_SCHEMA, superpose={"displacement": "traction"}).eval()
    assert mixed.out_dim == 4 + 1
    predicted = mixed.normalized(batch, torch.tensor([R + [7.0]]).repeat(4, 1), step)
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
        return rollout(module, graph, inputs, torch.zeros(n, 3))[0]

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
