"""One module per `surrogate` subcommand: parse, call the library, print."""


def add_device_options(parser) -> None:
    """--device and --precision, for the commands that predict."""
    parser.add_argument(
        "--device",
        default="auto",
        help="auto (a GPU when there is one), cpu, cuda or cuda:N (default auto)",
    )
    parser.add_argument(
        "--precision",
        choices=("32", "bf16"),
        default="32",
        help="the network's precision: 32, or bf16 autocast (default 32)",
    )


def add_node_budget(parser) -> None:
    """--max-nodes, for the commands that mesh a generated geometry."""
    from solvers.geometry import MAX_NODES
    from surrogate.values import NODE_BUDGET

    parser.add_argument(
        "--max-nodes",
        dest="max_nodes",
        type=NODE_BUDGET.flag("--max-nodes"),
        default=MAX_NODES,
        help=f"refuse, before meshing, a generated mesh of more nodes (default {MAX_NODES:,})",
    )
