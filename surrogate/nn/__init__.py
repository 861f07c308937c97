"""Networks: generic (features in, features out) and unaware of the physics.

Every network is built by name from plain options, `build_network(spec, in_dim, out_dim,
dim)` with spec = {"name": ..., **options}, so a checkpoint can store what it needs to
rebuild the network as plain data and never names a class to import.
"""

from __future__ import annotations

import inspect

from torch import nn

from surrogate.nn.baselines import DenseDiffPoolUNet, TopKGraphUNet
from surrogate.nn.unet import MultigridUNet, UNetConfig


def unet(in_dim: int, out_dim: int, dim: int, **options) -> MultigridUNet:
    """The multigrid Graph U-Net; options are UNetConfig's (latent, blocks, ...)."""
    return MultigridUNet(UNetConfig(in_dim, out_dim, dim, **options))


def meshgraphnet(
    in_dim: int, out_dim: int, dim: int, latent: int = 128, blocks: int = 15, mlp_layers: int = 2
) -> MultigridUNet:
    """The flat MeshGraphNet (Pfaff et al. 2021): one level, `blocks` processor steps."""
    return MultigridUNet(UNetConfig(in_dim, out_dim, dim, latent, [blocks], mlp_layers))


def graphunet(
    in_dim: int, out_dim: int, dim: int, latent: int = 128, depth: int = 3, pool_ratio: float = 0.5
) -> TopKGraphUNet:
    """PyG's GraphUNet with TopK pooling (ignores geometry, so dim is unused)."""
    return TopKGraphUNet(in_dim, out_dim, latent, depth, pool_ratio)


def diffpool(
    in_dim: int, out_dim: int, dim: int, latent: int = 128, clusters: tuple[int, ...] = (64, 16)
) -> DenseDiffPoolUNet:
    """Dense DiffPool U-Net: O(N^2) memory, for meshes of a few thousand nodes at most."""
    return DenseDiffPoolUNet(in_dim, out_dim, latent, tuple(clusters))


NETWORKS = {
    "unet": unet,
    "meshgraphnet": meshgraphnet,
    "graphunet": graphunet,
    "diffpool": diffpool,
}
UNET_OPTIONS = set(inspect.signature(UNetConfig).parameters) - {"in_dim", "out_dim", "dim"}


def build_network(spec: dict, in_dim: int, out_dim: int, dim: int) -> nn.Module:
    """The network spec names, for in_dim node features, out_dim outputs, dim-D meshes."""
    options = dict(spec)
    name = options.pop("name", None)
    if name not in NETWORKS:
        raise ValueError(f"network name '{name}' is unknown; expected one of {list(NETWORKS)}.")
    factory = NETWORKS[name]
    known = UNET_OPTIONS if name == "unet" else set(inspect.signature(factory).parameters)
    unknown = set(options) - (known - {"in_dim", "out_dim", "dim"})
    if unknown:
        raise ValueError(
            f"network '{name}' has no option(s) {sorted(unknown)}; expected some of "
            f"{sorted(known - {'in_dim', 'out_dim', 'dim'})}."
        )
    for key, value in options.items():
        _check_size(f"model.network.{key}", value)
    return factory(in_dim, out_dim, dim, **options)


def _check_size(what: str, value) -> None:
    """Whole-number options (widths, depths, per-level block counts) from 1 to 4096 (heads
    from 0), fractions (pool ratios) inside (0, 1]; strings and booleans are the
    factories' to check."""
    if isinstance(value, bool | str):
        return
    listed = isinstance(value, list | tuple)
    low = 0 if what.endswith("heads") else 1
    fits = not listed or 1 <= len(value) <= 16
    for item in value if listed else [value]:
        whole = isinstance(item, int) and not isinstance(item, bool) and low <= item <= 4096
        fits &= whole or (isinstance(item, float) and 0 < item <= 1)
    if not fits:
        raise ValueError(
            f"{what} is {value!r}; expected whole numbers from {low} to 4096 (a list of 1 "
            "to 16 for per-level counts) or a fraction in (0, 1]."
        )


def levels_needed(spec: dict) -> int:
    """How many hierarchy levels the network reads (1 for networks without one)."""
    if spec.get("name") == "unet":
        return len(spec.get("blocks", UNetConfig(1, 1).blocks))
    return 1
