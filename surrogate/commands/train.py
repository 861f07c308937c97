"""`surrogate train --config configs/NAME.yaml [--resume] [LightningCLI options]`.

LightningCLI does the parsing: --print_config, overrides such as --trainer.max_steps 100
or --model.lr 3e-4, and the resolved config saved as config.yaml in the run folder
(trainer.default_root_dir). The run folder also gets checkpoints/best.ckpt (lowest
validation rollout error) and checkpoints/last.ckpt, TensorBoard and CSV logs and loss.png.
"""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a surrogate from a config (LightningCLI options; see --help)",
        description="Train a surrogate: surrogate train --config configs/NAME.yaml "
        "[--resume] [--trainer.KEY VALUE] [--model.KEY VALUE] [--data.KEY VALUE]. "
        "All options are LightningCLI's; `surrogate train --help` lists them.",
        add_help=False,
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from surrogate.training.cli import train  # lightning loads only when training

    train(args.options)
