"""The Dirichlet mixture: hand-computed weights on a three-node graph, and on a plate with
an untrained network, the linearity it guarantees whatever the weights."""

import math

import pytest
import torch
from torch_geometric.data import Batch

from solvers.errors import InputError
from solvers.geometry import rectangle_with_holes
from surrogate.data.graphs import NODE_TYPES, node_type_features
from surrogate.graph import MeshGraph, mesh_graph
from surrogate.rollout import rollout
from surrogate.training.adapter import FieldAdapter
from surrogate.training.mixture import KEY_SIZE
from surrogate.training.module import SurrogateModule

POISSON_SCHEMA = {
    "transient": False, "dim": 2, "inputs": [["kappa", 1], ["source", 1]],
    "targets": [["u", 1, True]], "node_types": list(NODE_TYPES),
}  # fmt: skip
MIXTURE = {"u": "source"}


def three_nodes() -> MeshGraph:
    """Dirichlet nodes at x = 0 (u = 1) and x = 1 (u = 3), a free node at x = 0.25 with
    source 2 (the other sources 0, kappa 1)."""
    codes = torch.tensor([NODE_TYPES.index(n) for n in ("dirichlet", "dirichlet", "neumann")])
    graph = MeshGraph(
        x=torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 2.0]]),
        y=torch.tensor([[1.0], [3.0], [0.0]]),
        pos=torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.25, 0.0]]),
    )
    graph.node_type = torch.nn.functional.one_hot(codes, len(NODE_TYPES)).float()
    return graph


def test_weights_follow_the_learnt_locality_and_the_source_response_its_amplitude():
    adapter = FieldAdapter(POISSON_SCHEMA, dirichlet_mixture=MIXTURE).eval()
    assert adapter.out_dim == 1 + 2 * KEY_SIZE + 1  # p, then q, k, b
    graph = three_nodes()
    # the network sees neither the prescribed u nor the source's amplitude
    features = adapter.features(graph, graph.x, None, graph.y)
    assert features[:, :3].tolist() == [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]
    # q = k = 0 and softplus(b) = 1: w_ij ~ 1 / |x_i - x_j|, so the free node weighs the
    # boundary values 0.75 : 0.25 (distances 0.25 and 0.75); p = 0.1 times |source| = 2
    output = torch.zeros(3, adapter.out_dim)
    output[:, 0], output[:, -1] = 0.1, math.log(math.e - 1)
    predicted = adapter.predict(graph, output, graph.x, None, graph.y)
    torch.testing.assert_close(predicted[:, 0], torch.tensor([1.0, 3.0, 0.75 * 1 + 0.25 * 3 + 0.2]))


def untrained_module_and_plate():
    """An untrained MeshGraphNet surrogate with the mixture and a 0.2-cell unit plate held
    at prescribed values on its whole outer boundary."""
    torch.manual_seed(0)
    module = SurrogateModule(
        {"name": "meshgraphnet", "latent": 8, "blocks": 1}, POISSON_SCHEMA, {"num_levels": 1},
        dirichlet_mixture=MIXTURE,
    ).eval()  # fmt: skip
    mesh = rectangle_with_holes(holes=[], h=0.2)
    graph = mesh_graph(mesh, num_levels=1)
    graph.node_type = node_type_features(mesh, {p: "dirichlet" for p in mesh.boundary_parts})
    return module, graph


def test_a_mixed_prediction_is_linear_in_boundary_values_and_source_amplitude():
    module, graph = untrained_module_and_plate()
    n = graph.num_nodes
    kappa, source = torch.rand(n, 1) + 0.5, torch.randn(n, 1)
    dirichlet = graph.node_type[:, NODE_TYPES.index("dirichlet")] > 0

    def predicted(g, f):
        inputs = torch.cat([kappa, f], dim=1)
        return rollout(module, module.adapter, graph, inputs, g * dirichlet[:, None])[0]

    g1, g2, zero = torch.randn(n, 1), torch.randn(n, 1), torch.zeros(n, 1)
    # affine in g for a given source (the weights may depend on kappa and f / |f|) ...
    torch.testing.assert_close(
        predicted(g1 + g2, source) + predicted(zero, source),
        predicted(g1, source) + predicted(g2, source),
    )
    # ... with the source's response proportional to its amplitude
    torch.testing.assert_close(
        predicted(g1, 3 * source), predicted(g1, source) + 2 * predicted(zero, source)
    )
    # a constant boundary value without a source comes back everywhere
    torch.testing.assert_close(predicted(torch.full((n, 1), 0.7), zero), torch.full((n, 1), 0.7))


def test_a_batch_mixes_each_sample_from_its_own_boundary_values():
    module, graph = untrained_module_and_plate()
    n = graph.num_nodes
    dirichlet = graph.node_type[:, NODE_TYPES.index("dirichlet")] > 0
    plates = []
    for value in (1.0, -2.0):
        plate = graph.clone()
        plate.x = torch.cat([torch.ones(n, 1), torch.zeros(n, 1)], dim=1)
        plate.y = torch.full((n, 1), value) * dirichlet[:, None]
        plates.append(plate)
    batch = Batch.from_data_list(plates)
    predicted = rollout(module, module.adapter, batch, batch.x, batch.y)[0]
    torch.testing.assert_close(predicted[:n], torch.full((n, 1), 1.0))
    torch.testing.assert_close(predicted[n:], torch.full((n, 1), -2.0))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dirichlet_mixture": {"q": None}}, "names 'q', which is not a target with prescribed"),
        ({"dirichlet_mixture": {"u": "heat"}}, "'heat', which is not an input"),
        ({"dirichlet_mixture": MIXTURE, "target_scales": {"u": "source"}}, "both name u"),
    ],
)
def test_bad_dirichlet_mixture_is_one_sentence(options, message):
    with pytest.raises(InputError, match=message):
        FieldAdapter(POISSON_SCHEMA, **options)


def test_dirichlet_mixture_on_a_transient_problem_is_one_sentence():
    schema = {**POISSON_SCHEMA, "transient": True}
    with pytest.raises(InputError, match="dirichlet_mixture is for steady problems"):
        FieldAdapter(schema, dirichlet_mixture={"u": None})
