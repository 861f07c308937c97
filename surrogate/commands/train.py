"""`surrogate train --config configs/NAME.yaml [--resume] [LightningCLI options]`.

LightningCLI does the parsing: --print_config, overrides such as --trainer.max_steps 100
or --model.lr 3e-4, and the resolved config saved as config.yaml in the run folder
(trainer.default_root_dir). The run folder also gets checkpoints/best.ckpt (lowest
validation rollout error) and checkpoints/last.ckpt, TensorBoard and CSV logs and loss.png.

--ensemble K trains K members of one model one after the other, with seeds 0..K-1, into
ROOT/member_0 ... ROOT/member_{K-1} (ROOT: --trainer.default_root_dir, default runs/train):
K times the compute of one run; `surrogate rollout --checkpoint` each member to use them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from solvers.errors import ProblemError
from surrogate import values


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

    options, members = _ensemble(list(args.options))
    if members is None:
        train(options)
        return
    root = Path("runs/train")
    if "--trainer.default_root_dir" in options:
        at = options.index("--trainer.default_root_dir")
        root = Path(options[at + 1]) if at + 1 < len(options) else root
        del options[at : at + 2]
    for k in range(members):
        print(f"member {k + 1} of {members}: seed {k}, {root / f'member_{k}'}", flush=True)
        seeded = ["--seed_everything", str(k)]
        train([*options, *seeded, "--trainer.default_root_dir", str(root / f"member_{k}")])


def _ensemble(options: list[str]) -> tuple[list[str], int | None]:
    """The options without --ensemble K, and K (None when not given)."""
    if "--ensemble" not in options:
        return options, None
    at = options.index("--ensemble")
    text = options[at + 1] if at + 1 < len(options) else ""
    members = values.Number(int, 2, 64, meaning="a number of members").check(text, "--ensemble")
    rest = options[:at] + options[at + 2 :]
    if any(option.startswith("--seed_everything") for option in rest):
        raise ProblemError("--ensemble chooses the seeds (0..K-1); drop --seed_everything.")
    return rest, members
