"""`surrogate rollout`: a trained surrogate on a mesh it never saw, exported for ParaView,
optionally checked against the bundled solver (--reference)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from solvers import Mesh, geometry
from solvers.errors import ProblemError
from solvers.mesh_io import meshio_read
from surrogate import values
from surrogate.commands import add_device_options, add_node_budget
from surrogate.expressions import parse_scalar
from surrogate.model.schema import Schema


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "rollout",
        help="roll a trained surrogate out on a new mesh and export it",
        description="Predict with a trained surrogate on any mesh: steady models predict "
        "once, transient ones step forward --steps times. Writes rollout.pvd (+ one .vtu per "
        "step), PNG/GIF pictures and, with --reference, the solver's fields, the error and "
        "metrics.json. With --series, a stored run (e.g. your own solver's) gives the mesh, "
        "initial state, boundary values and inputs, and is the reference.",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        required=True,
        help="a .ckpt from surrogate train; repeat for an ensemble (its mean is predicted, "
        "its spread written beside it)",
    )
    domain = p.add_mutually_exclusive_group(required=True)
    domain.add_argument(
        "--mesh",
        type=Path,
        action="append",
        help="any meshio-readable mesh file, or a folder of them; repeat for several (one "
        "output folder each, OUT/NAME, predicted --batch-size at a time)",
    )
    domain.add_argument("--geometry", choices=sorted(geometry.NAMED), help="a generated geometry")
    domain.add_argument(
        "--series", type=Path, help="a run to replay: .pvd, folder of .vtu files or .xdmf"
    )
    p.add_argument(
        "--seed",
        type=values.SEED.flag("--seed"),
        nargs="+",
        default=[0],
        help="geometry seed(s) (default 0); several: one output folder each, OUT/seed_K",
    )
    p.add_argument(
        "--batch-size",
        type=values.Number(int, 1, 1024).flag("--batch-size"),
        default=8,
        help="meshes predicted together when there are several (default 8)",
    )
    p.add_argument(
        "--h",
        type=values.CELL_SIZE.flag("--h"),
        default=0.04,
        help="geometry cell size (default 0.04)",
    )
    p.add_argument("--parts", type=Path, help="YAML rules naming boundary parts by position")
    p.add_argument(
        "--dirichlet",
        action="append",
        default=[],
        metavar="[PART=]VALUE",
        help="a part held at a prescribed value (repeat for several); VALUE alone: the whole "
        "boundary",
    )
    p.add_argument(
        "--traction",
        action="append",
        default=[],
        metavar="PART=FX,FY",
        help="a loaded part (elasticity)",
    )
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an input field: a number, a formula in x, y, z or a .vtu holding it on the mesh "
        "(default: mid-range of the recipe)",
    )
    p.add_argument("--initial", help="initial state: a number or a .vtu with the target field")
    p.add_argument(
        "--steps",
        type=values.STEPS.flag("--steps"),
        help="steps to predict (default: the recipe's)",
    )
    p.add_argument("--reference", action="store_true", help="also run the bundled solver")
    p.add_argument("--no-pictures", action="store_true", help="skip the PNG and GIF")
    trust = p.add_argument_group("trust (transient rollouts)")
    for name, what in [
        ("spread", "the ensemble's spread"),
        ("residual", "the physics residual"),
        ("estimate", "the estimated relative error"),
    ]:
        trust.add_argument(
            f"--max-{name}",
            dest=f"max_{name}",
            type=values.POSITIVE.flag(f"--max-{name}"),
            help=f"stop at the first step whose {what} (relative, per step) passes this",
        )
    trust.add_argument(
        "--fallback",
        choices=("solver",),
        help="at that step, continue with the bundled solver instead of stopping",
    )
    add_device_options(p)
    add_node_budget(p)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    from surrogate.data.ingest import load_rules
    from surrogate.model.ensemble import load_members
    from surrogate.predict import Guard, rollout_to_folder, rollouts_to_folders

    members = load_members(args.checkpoint, args.device)
    schema = members[0].schema
    rules = load_rules(args.parts) if args.parts else None
    times = None
    if args.series:
        mesh, setup, times = _replay(args, schema, rules)
        cases = [("", mesh, setup)]
        steps = _steps(args.steps, schema, len(times) - 1)
    else:
        steps = _steps(args.steps, schema)
        cases = [
            (name, mesh, _pose(args, schema, mesh)) for name, mesh in _meshes(args, schema, rules)
        ]
    guard = Guard(
        args.max_spread, args.max_residual, args.max_estimate, fallback=args.fallback == "solver"
    )
    options = dict(
        reference=bool(args.reference or args.series),
        pictures=not args.no_pictures,
        overwrite=args.overwrite,
        guard=guard,
        inputs=(
            *args.checkpoint,
            *(args.mesh or ()),
            args.series,
            args.parts,
            _file(args.initial),
            *(Path(item.partition("=")[2]) for item in args.input if item.endswith(".vtu")),
        ),
        precision=args.precision,
    )
    if len(cases) > 1:
        results = rollouts_to_folders(
            members, cases, steps, args.out, batch_size=args.batch_size, **options
        )
        _report_many(results, schema, steps, args)
        return
    _, mesh, setup = cases[0]
    result = rollout_to_folder(members, mesh, setup, steps, args.out, times=times, **options)
    timings = result.metrics["timings"]
    print(mesh)
    print(
        f"{schema.recipe} surrogate: {steps} step(s) in {timings['surrogate_s']:.2f} s on "
        f"{result.metrics['device']}, precision {result.metrics['precision']}"
    )
    if "solver_s" in timings:
        print(f"reference solver: {timings['solver_s']:.2f} s")
    labels = {
        "relative_l2": "relative L2 error",
        "spread": "spread",
        "residual": "residual",
        "estimate": "estimated error",
    }
    for name, figures in result.metrics["fields"].items():
        shown = [f"{labels[k]} {figures[k][-1]:.3%}" for k in labels if figures.get(k)]
        if shown:
            print(f"{name} at the last step: {', '.join(shown)}")
    print(f"wrote {args.out / 'rollout.pvd'}")


def _meshes(args: argparse.Namespace, schema: Schema, rules: dict | None) -> list:
    """(name, mesh) of every --mesh file (a folder: each mesh file in it) or --seed; the
    name is the output folder's when there are several."""
    from surrogate.data.ingest import apply_rules

    if args.geometry:
        named = [
            (f"seed_{seed}", geometry.named(args.geometry, seed, args.h, args.max_nodes), None)
            for seed in dict.fromkeys(args.seed)
        ]
    else:
        files = [f for path in args.mesh for f in _mesh_files(path)]
        stems = [f.stem for f in files]
        unique = len(set(stems)) == len(stems)
        named = [
            (f.stem if unique else f"{k:03d}_{f.stem}", Mesh.read(f), f)
            for k, f in enumerate(files)
        ]
    cases = []
    for name, mesh, source in named:
        mesh = apply_rules(mesh, rules, source or Path(args.geometry))
        _check_dim(mesh, schema)
        if not mesh.boundary_parts and any("=" not in item for item in args.dirichlet):
            mesh = mesh.with_parts({"boundary": mesh.boundary_facets})  # --dirichlet VALUE
        cases.append((name, mesh))
    return cases


def _mesh_files(path: Path) -> list[Path]:
    """A mesh file as given; a folder's mesh files (extensions meshio reads), sorted."""
    if not path.is_dir():
        return [path]
    files = sorted(
        f for f in path.iterdir() if f.is_file() and not f.name.startswith(".") and _is_mesh_file(f)
    )
    if not files:
        raise ProblemError(
            f"--mesh {path}: the folder holds no mesh file; expected .msh, .vtu, ..."
        )
    return files


def _is_mesh_file(path: Path) -> bool:
    import meshio

    known = meshio.extension_to_filetypes
    return path.suffix.lower() in known or "".join(path.suffixes[-2:]).lower() in known


def _pose(args: argparse.Namespace, schema: Schema, mesh):
    """The set-up the command line gives, on one mesh."""
    from surrogate import physics

    return physics.pose(
        schema,
        mesh,
        _pairs(args.dirichlet, "--dirichlet", whole=list(mesh.boundary_parts)),
        {name: _input(value, name, mesh) for name, value in _pairs(args.input, "--input").items()},
        _pairs(args.traction, "--traction"),
        _initial(args.initial, mesh, schema),
    )


def _report_many(results: list, schema: Schema, steps: int, args: argparse.Namespace) -> None:
    seconds = sum(r.metrics["timings"]["surrogate_s"] for r in results)
    print(
        f"{schema.recipe} surrogate: {len(results)} meshes, {steps} step(s) each, in "
        f"{seconds:.2f} s on {results[0].metrics['device']} (batches of {args.batch_size}), "
        f"{len(results) / max(seconds, 1e-9):.2f} meshes per second"
    )
    for result in results:
        errors = [
            f"{name} {figures['relative_l2'][-1]:.3%}"
            for name, figures in result.metrics["fields"].items()
            if figures.get("relative_l2")
        ]
        shown = f", relative L2 error at the last step: {', '.join(errors)}" if errors else ""
        print(f"{result.folder}: {result.mesh.num_nodes:,} nodes{shown}")


def _replay(args: argparse.Namespace, schema: Schema, rules: dict | None):
    """Mesh, Setup and times of the stored run --series names."""
    from surrogate import physics
    from surrogate.data.ingest import ingest_series

    given = [
        flag
        for flag, value in [
            ("--dirichlet", args.dirichlet),
            ("--input", args.input),
            ("--traction", args.traction),
            ("--initial", args.initial),
        ]
        if value
    ]
    if given:
        raise ProblemError(
            f"--series gives the boundary values, inputs and initial state itself; drop "
            f"{', '.join(given)}."
        )
    names = [*schema.input_names, *schema.target_names]
    sample = ingest_series(args.series, names, rules, schema.dt)
    _check_dim(sample.mesh, schema)
    times = sample.times - sample.times[0]
    if schema.transient and len(times) > 1 and not np.isclose(times[1], schema.dt):
        raise ProblemError(
            f"{args.series}: steps of {times[1]:g} but the model was trained on steps of "
            f"{schema.dt:g}; expected a series saved every {schema.dt:g}."
        )
    return sample.mesh, physics.from_series(schema, sample), times


def _check_dim(mesh, schema: Schema) -> None:
    if mesh.dim != schema.dim:
        raise ProblemError(f"the mesh is {mesh.dim}D but the model was trained in {schema.dim}D.")


def _steps(steps: int | None, schema: Schema, available: int | None = None) -> int:
    """Steps to predict: --steps, else the run's length (or the recipe's)."""
    if not schema.transient:
        if steps not in (None, 1):
            raise ProblemError(f"a steady model predicts once; got --steps {steps}.")
        return 1
    default = available if available is not None else schema.parameters.get("steps", 50)
    steps = steps if steps is not None else int(default)
    if steps < 1:
        raise ProblemError(f"--steps is {steps}; expected at least 1.")
    if available is not None and steps > available:
        raise ProblemError(f"--steps is {steps} but the series holds {available} step(s).")
    return steps


def _initial(value: str | None, mesh, schema: Schema):
    if value is None or not schema.transient:
        return None
    if _file(value) is None:
        return float(value)
    name, size = schema.targets[0].name, schema.targets[0].components
    return _field_from_file(Path(value), name, mesh, "--initial")[:, :size]


def _file(value: str | None) -> Path | None:
    """--initial as a file, when it is no number."""
    try:
        float(value)
    except (TypeError, ValueError):
        return None if value is None else Path(value)
    return None


def _input(value: str, name: str, mesh) -> float | str | np.ndarray:
    """--input NAME=VALUE: a number (as typed: the family checks it), a formula in x, y, z
    evaluated at the nodes, or a .vtu file holding the field on the rollout mesh."""
    if value.endswith(".vtu"):
        return _field_from_file(Path(value), name, mesh, f"--input {name}")
    parsed = parse_scalar(value, f"--input {name}")
    return value if isinstance(parsed, float) else parsed(mesh.points)[:, None]


def _field_from_file(path: Path, name: str, mesh, flag: str) -> np.ndarray:
    """(N, C) values of the point or cell field `name` in a .vtu on the rollout mesh."""
    from surrogate.data.ingest import NodeFields

    if path.suffix != ".vtu" or not path.is_file():
        raise ProblemError(
            f"{flag} {str(path)!r}; expected a number or a .vtu file holding the field "
            f"'{name}' on the rollout mesh."
        )
    raw = meshio_read(path, ["vtu"])
    same = len(raw.points) == mesh.num_nodes and np.allclose(
        np.asarray(raw.points)[:, : mesh.dim], mesh.points, atol=1e-9, rtol=0
    )
    if not same:
        raise ProblemError(
            f"{path}: its {len(raw.points)} points are not the rollout mesh's "
            f"{mesh.num_nodes} nodes; expected the field on the rollout mesh."
        )
    return NodeFields(mesh, np.arange(mesh.num_nodes), [name])(raw, path)[name]


def _pairs(items: list[str], flag: str, whole: list[str] | None = None) -> dict[str, str]:
    """NAME=VALUE items as a dict; with `whole` (the boundary's parts), a bare VALUE holds
    every part at it, as in `surrogate solve`."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep and whole is not None:
            pairs |= dict.fromkeys(whole, item.strip())
            continue
        if not sep or not key.strip():
            raise ProblemError(f"{flag} {item!r}; expected NAME=VALUE.")
        pairs[key.strip()] = value.strip()
    return pairs
