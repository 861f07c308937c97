"""The U-Net and its baselines: invariances, batching, and equivalent execution paths."""

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

import surrogate.nn.message_passing as message_passing
from solvers import Mesh, geometry
from surrogate.graph import mesh_graph
from surrogate.nn import meshgraphnet
from surrogate.nn.baselines import DenseDiffPoolUNet, TopKGraphUNet
from surrogate.nn.unet import MultigridUNet, UNetConfig

LEVELS = 3


# The invariance tests run for both assignments and with attention at the coarsest level.
VARIANTS = [{"assignment": "hard"}, {"assignment": "learned"}, {"attention_heads": 4}]


def network(assignment="hard", dim=2, **kw):
    torch.manual_seed(0)
    config = UNetConfig(
        in_dim=3, out_dim=2, dim=dim, latent=16, blocks=[1, 1, 2], assignment=assignment, **kw
    )
    net = MultigridUNet(config)
    net.train()
    net(
        graph(
            geometry.rectangle_with_holes(seed=9, h=0.08)
            if dim == 2
            else geometry.box_with_holes(seed=1, n_holes=1, h=0.2)
        )
    )
    return net.eval()  # normalisers have statistics now


def graph(mesh: Mesh, seed: int = 0):
    x = np.random.default_rng(seed).normal(size=(mesh.num_nodes, 3))
    return mesh_graph(mesh, x, num_levels=LEVELS)


@pytest.fixture(scope="module")
def plate():
    return geometry.rectangle_with_holes(seed=2, h=0.05)


@pytest.mark.parametrize("options", VARIANTS)
def test_permutation_equivariance(plate, options):
    net = network(**options)
    perm = np.random.default_rng(1).permutation(plate.num_nodes)
    inverse = np.argsort(perm)
    permuted = Mesh(plate.points[perm], inverse[plate.cells])
    x = np.random.default_rng(0).normal(size=(plate.num_nodes, 3))
    with torch.no_grad():
        y = net(mesh_graph(plate, x, num_levels=LEVELS))
        y_perm = net(mesh_graph(permuted, x[perm], num_levels=LEVELS))
    np.testing.assert_allclose(y_perm, y[perm], atol=1e-5)


@pytest.mark.parametrize("options", VARIANTS)
def test_translation_invariance(plate, options):
    net = network(**options)
    shifted = Mesh(plate.points + [0.5, -0.25], plate.cells)
    with torch.no_grad():
        np.testing.assert_allclose(net(graph(shifted)), net(graph(plate)), atol=1e-5)


@pytest.mark.parametrize("options", VARIANTS[1:])
def test_batch_of_different_meshes_equals_one_by_one(options):
    net = network(**options)
    graphs = [graph(geometry.rectangle_with_holes(seed=s, h=0.06), s) for s in (0, 1)]
    graphs.append(graph(geometry.l_shape(h=0.08), 2))
    with torch.no_grad():
        batched = net(Batch.from_data_list(graphs))
        single = torch.cat([net(g) for g in graphs])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_3d_batch_equals_one_by_one():
    net = network(dim=3)
    graphs = [graph(geometry.box_with_holes(seed=s, n_holes=1, h=0.2), s) for s in (0, 1)]
    with torch.no_grad():
        np.testing.assert_allclose(
            net(Batch.from_data_list(graphs)), torch.cat([net(g) for g in graphs]), atol=1e-5
        )


@pytest.mark.parametrize("assignment", ["hard", "learned"])
def test_chunked_inference_matches_the_plain_path(plate, monkeypatch, assignment):
    net = network(assignment)
    g = graph(plate)
    assert g.num_nodes > 400
    with torch.no_grad():
        plain = net(g)
        # Several chunks of edges and of nodes (encoder, node updates, lift, decoder).
        monkeypatch.setattr(message_passing, "CHUNK_ROWS", 100)
        chunked = net(g)
    np.testing.assert_allclose(chunked, plain, atol=1e-5)


def test_activation_checkpointing_gives_the_same_gradients(plate):
    g = graph(plate)
    grads = []
    for use_checkpoint in (False, True):
        net = network(checkpoint=use_checkpoint)
        net.zero_grad()
        net(g).square().mean().backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in net.parameters()]))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-4, atol=1e-7)


def test_activation_checkpointing_recomputes_in_the_backward_pass(plate):
    """The first layer of each checkpointed step runs twice in training (forward, then
    again for the backward pass; torch stops a recomputation once it has what the backward
    pass needs) and once without checkpointing or without gradients."""
    g = graph(plate)
    for use_checkpoint, grad, runs in ((False, True, 1), (True, True, 2), (True, False, 1)):
        net = network(checkpoint=use_checkpoint).train()
        firsts = [
            net.node_encoder[0],
            net.edge_encoders[0][0],
            net.down[0][0].edge_src,
            net.decoder[0],
        ]
        calls = []
        for layer in firsts:
            layer.register_forward_hook(lambda module, *_, calls=calls: calls.append(module))
        with torch.set_grad_enabled(grad):
            out = net(g)
            if grad:
                out.square().mean().backward()
        assert [calls.count(layer) for layer in firsts] == [runs] * len(firsts)


@pytest.mark.parametrize("heads, blocks", [(-1, [1, 1]), (3, [1, 1]), (4, [2])])
def test_attention_needs_heads_dividing_the_latent_size_and_a_coarse_level(heads, blocks):
    with pytest.raises(ValueError, match="attention_heads"):
        UNetConfig(3, 2, latent=16, blocks=blocks, attention_heads=heads)


def test_hierarchy_depth_mismatch_is_refused(plate):
    with pytest.raises(ValueError, match="needs 3"):
        network()(mesh_graph(plate, np.zeros((plate.num_nodes, 3)), num_levels=2))


def test_flat_meshgraphnet_has_about_the_unets_parameter_count():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    unet = MultigridUNet(UNetConfig(3, 2, latent=128))
    flat = meshgraphnet(3, 2, 2, latent=128)
    assert flat.num_levels == 1 and len(flat.bottom) == 15
    assert abs(count(unet) / count(flat) - 1) < 0.1


@pytest.mark.parametrize("baseline", [TopKGraphUNet, DenseDiffPoolUNet])
def test_baselines_run_and_batch(plate, baseline):
    torch.manual_seed(0)
    net = baseline(3, 2, latent=16).eval()
    graphs = [graph(plate, 0), graph(geometry.l_shape(h=0.1), 1)]
    with torch.no_grad():
        batched = net(Batch.from_data_list(graphs))
        single = torch.cat([net(g) for g in graphs])
    assert batched.shape == (sum(g.num_nodes for g in graphs), 2)
    # DiffPool's untrained outputs reach 1e13: compare to their scale, not to 1e-5 absolute
    # (the dense products sum in another order when batched).
    np.testing.assert_allclose(batched, single, atol=1e-5 * float(single.abs().max()))
