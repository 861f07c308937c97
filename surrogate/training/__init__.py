"""Training: the per-problem adapter, the LightningModule and DataModule, checkpoints."""
