"""The model layer: what a checkpoint needs to predict. The typed schema of a dataset, the
per-problem adapter (features, normalisers, loss mask, stepping) with its target scales and
superposition, the Surrogate (network + adapter), rollout, and checkpoint loading with its
format migrations. Imports nothing from training."""
