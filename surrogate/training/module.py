"""The LightningModule: a Surrogate (surrogate.model) trained with MeshGraphNets' practice
(online normalisers, noise on transient inputs, loss on free entries only), optional
pushforward training, and a validation rollout whose error picks the best checkpoint."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Timer

from solvers.errors import InputError, SolverError
from surrogate.graph import MeshGraph
from surrogate.metrics import field_errors
from surrogate.model.adapter import masked_mse
from surrogate.model.checkpoint import FORMAT, migrate
from surrogate.model.rollout import rollout, trajectory_rollout
from surrogate.model.surrogate import Surrogate
from surrogate.values import NON_NEGATIVE, POSITIVE, STEPS


class TrainingDiverged(SolverError):
    """The loss became NaN or infinite."""


class SurrogateModule(L.LightningModule):
    """network, schema, hierarchy, noise, target_scales, superpose, direct: the Surrogate's
    (surrogate.model.surrogate; the CLI links schema and hierarchy from the data module);
    pushforward: K > 0 trains each transient step from the network's own prediction of its
    state, unrolled without gradient from j steps earlier, j drawn from 0..K per batch
    (Brandstetter, Worrall and Welling 2022), so that it learns to correct the errors a
    rollout feeds it; lr decays exponentially from lr to lr_final over decay_steps, or with
    decay_over_time over trainer.max_time (so networks of different speeds, compared at
    equal training time, each finish their schedule; the learning rate then depends on the
    machine's speed, so such a run is not bit-reproducible); validation rolls out
    rollout_steps steps."""

    def __init__(
        self,
        network: dict[str, Any],
        schema: dict[str, Any],
        hierarchy: dict[str, Any],
        noise: float = 0.0,
        target_scales: dict[str, str] | None = None,
        superpose: dict[str, str] | None = None,
        direct: list[str] | None = None,
        pushforward: int = 0,
        lr: float = 1e-3,
        lr_final: float = 1e-5,
        decay_steps: int = 10_000,
        decay_over_time: bool = False,
        rollout_steps: int = 50,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        for name, value, kind in [
            ("lr", lr, POSITIVE),
            ("lr_final", lr_final, POSITIVE),
            ("noise", noise, NON_NEGATIVE),
            ("decay_steps", decay_steps, STEPS),
            ("rollout_steps", rollout_steps, STEPS),
        ]:
            kind.check(value, f"model.{name}")
        self.surrogate = Surrogate(
            network, schema, hierarchy, noise, target_scales, superpose, direct
        )
        if pushforward < 0 or (pushforward and not self.surrogate.schema.transient):
            raise InputError(
                f"pushforward is {pushforward}; expected 0, or a positive number of steps "
                "for a transient problem."
            )

    def forward(self, graph: MeshGraph) -> torch.Tensor:
        return self.surrogate(graph)

    def training_step(self, graph: MeshGraph, batch_idx: int) -> torch.Tensor:
        state = getattr(graph, "state", None)  # at t; none when steady
        if self.hparams.pushforward:
            state = self._pushed_forward(graph, state)
        loss = self.loss(graph, state)
        if not torch.isfinite(loss):
            raise TrainingDiverged(
                f"the training loss became {loss.item()} at step {self.global_step}; "
                "lower model.lr, or check the dataset for NaN values."
            )
        self.log("train/loss", loss, prog_bar=True, batch_size=graph.num_graphs)
        return loss

    def loss(self, graph: MeshGraph, state: torch.Tensor | None) -> torch.Tensor:
        """The masked mean squared error of one batch's normalised prediction from state."""
        adapter = self.surrogate.adapter
        features, target, free, step = adapter.training_example(graph, state)
        graph.x = features
        return masked_mse(adapter.normalized(graph, self.forward(graph), step), target, free)

    @torch.no_grad()
    def _pushed_forward(self, graph: MeshGraph, state: torch.Tensor) -> torch.Tensor:
        """The state at t replaced by the network's prediction of it from the true state
        j steps earlier (j drawn from 0..pushforward; none before the normalisers have seen
        a batch). Unrolled in eval mode: the statistics stay the training data's."""
        j = int(torch.randint(self.hparams.pushforward + 1, ()))
        if j == 0 or not self.surrogate.adapter.output_norm.count:
            return state
        past_inputs, past_states = graph.earlier_input_steps[-j:], graph.earlier_target_steps[-j:]
        given = torch.cat([past_states[1:], state[None]])  # pinned values at t - j + 1 .. t
        self.eval()
        try:
            return rollout(self.surrogate, graph, past_inputs, given, past_states[0], j)[-1]
        finally:
            self.train()

    def validation_step(self, graph: MeshGraph, batch_idx: int) -> None:
        predicted, truth = trajectory_rollout(self.surrogate, graph, self.hparams.rollout_steps)
        errors = field_errors(predicted[-1], truth[-1], self.surrogate.schema)
        for name, value in errors.items():
            self.log(f"val/rel_l2/{name}", value, sync_dist=True, batch_size=1)
        mean = sum(errors.values()) / len(errors)
        self.log("val/rollout_rel_l2", mean, prog_bar=True, sync_dist=True, batch_size=1)

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        ratio, steps = self.hparams.lr_final / self.hparams.lr, self.hparams.decay_steps
        rate = ratio ** (1 / steps)
        spent = self._time_spent() if self.hparams.decay_over_time else None

        def factor(step: int) -> float:
            return ratio ** spent() if spent else rate ** min(step, steps)

        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def _time_spent(self):
        """A function giving the fraction of trainer.max_time spent so far (0 to 1), from
        Lightning's Timer, which a resumed run restores."""
        timers = [c for c in self.trainer.callbacks if isinstance(c, Timer)]
        if not timers or timers[0].time_remaining() is None:
            raise InputError(
                "model.decay_over_time decays the learning rate over trainer.max_time, which "
                "is not set; set it (for example --trainer.max_time 00:00:30:00) or use "
                "model.decay_steps."
            )
        timer = timers[0]
        duration = max(timer.time_elapsed() + timer.time_remaining(), 1e-9)

        def spent() -> float:
            return min(timer.time_elapsed() / duration, 1.0)

        return spent

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["surrogate_format"] = FORMAT

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """A resumed run's last.ckpt, of an older format, is migrated before it loads."""
        migrate(checkpoint)
