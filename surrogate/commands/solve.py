"""`surrogate solve`: run a reference problem on a mesh file or a generated geometry."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import solvers
from solvers import geometry
from solvers.atomic import atomic_folder, refuse_inputs_inside
from solvers.cells import split_note
from solvers.errors import ProblemError, note
from solvers.mesh_io import write_mesh, write_time_series
from solvers.navier_stokes import (
    DEFAULT_MAX_CFL,
    FlowProblem,
    navier_stokes,
    parabolic_inflow,
)
from solvers.taylor_hood import circular_parts, require_triangles
from surrogate import values
from surrogate.commands import add_node_budget
from surrogate.expressions import parse_scalar, parse_vector
from surrogate.physics.channel_flow import channel_velocity
from surrogate.plain_yaml import read_yaml

PROBLEMS = ("poisson", "heat", "elasticity", "navier_stokes")
# Parameters a YAML file may set, with their defaults; command-line flags override them.
DEFAULTS = {
    "mesh": None, "geometry": None, "seed": 0, "h": 0.05,
    "kappa": 1.0, "source": 0.0, "dirichlet": None, "neumann": None, "robin": None,
    "u0": 0.0, "dt": 0.01, "steps": 20, "theta": 1.0,
    "E": 1.0, "nu": 0.3, "plane": "strain", "traction": None, "body_force": None,
    "solver": "auto", "rtol": 1e-8,
    "viscosity": 1e-3, "force_part": None, "max_cfl": DEFAULT_MAX_CFL, "inflow_peak": 1.5,
    "grad_div": 0.0,
}  # fmt: skip


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "solve",
        help="run the finite-element reference solver",
        description="Solve poisson, heat, elasticity or navier_stokes (2D) on a mesh file or a "
        "generated geometry and write .vtu (steady) or .pvd + .vtu per step (transient). "
        "Values are numbers or formulas in x, y, z, t such as 'sin(pi*x)*exp(-t)'; boundary "
        "conditions are PART=VALUE (repeatable) or VALUE for the whole boundary. For "
        "navier_stokes, --dirichlet gives velocities (VX,VY) and every other part is a "
        "do-nothing outflow; without it, a channel's inlet gets a parabolic profile of peak "
        "--inflow-peak and its walls and obstacle no-slip.",
    )
    p.add_argument("problem", choices=PROBLEMS)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--mesh", type=Path, help="mesh file (any format meshio reads)")
    where.add_argument("--geometry", choices=sorted(geometry.NAMED), help="generate a domain")
    p.add_argument("--config", type=Path, help="YAML file with any of the parameters below")
    p.add_argument("--seed", type=int, help="geometry seed (random holes)")
    p.add_argument("--h", type=float, help="target cell size of a generated geometry")
    for name in ("kappa", "source", "u0", "E", "nu"):
        p.add_argument(f"--{name}", help=f"{name}: number or formula")
    for name in ("dirichlet", "neumann", "traction"):
        p.add_argument(f"--{name}", action="append", metavar="[PART=]VALUE")
    p.add_argument("--robin", action="append", metavar="[PART=]ALPHA,U_EXT")
    p.add_argument("--body-force", dest="body_force", metavar="FX,FY[,FZ]")
    p.add_argument("--dt", type=float)
    p.add_argument("--steps", type=int)
    p.add_argument("--theta", type=float, help="1 backward Euler, 0.5 Crank-Nicolson")
    p.add_argument("--plane", choices=("strain", "stress"))
    p.add_argument("--solver", choices=solvers.linalg.METHODS)
    p.add_argument("--rtol", type=float, help="relative residual of iterative solves")
    flow = p.add_argument_group("navier_stokes")
    flow.add_argument("--viscosity", type=float, help="kinematic viscosity (default 1e-3)")
    flow.add_argument(
        "--inflow-peak",
        dest="inflow_peak",
        type=float,
        help="peak of the default parabolic inflow (default 1.5)",
    )
    flow.add_argument(
        "--force-part",
        dest="force_part",
        help="part whose drag and lift are written (default: obstacle)",
    )
    flow.add_argument(
        "--max-cfl",
        dest="max_cfl",
        type=float,
        help="split steps to keep |u| dt / h below this (default 3)",
    )
    flow.add_argument(
        "--grad-div",
        dest="grad_div",
        type=float,
        help="grad-div penalty in m^2/s, e.g. 0.2 x mean speed x obstacle size, "
        "for wakes too coarse to run stably without (default 0)",
    )
    add_node_budget(p)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    params = _parameters(args)
    inputs = [params["mesh"], args.config]
    refuse_inputs_inside(args.out, inputs)  # before meshing and solving
    started = time.perf_counter()
    mesh = _make_mesh(params, args.max_nodes)
    if mesh.shapes:
        note(split_note(mesh))
    meshed = time.perf_counter()
    options = solvers.SolverOptions(method=params["solver"], rtol=float(params["rtol"]))
    with atomic_folder(args.out, overwrite=args.overwrite, inputs=inputs) as folder:
        written, summary = _solve(args.problem, mesh, params, options, folder)
    solved = time.perf_counter()
    print(f"{mesh}")
    print(
        f"{args.problem}: {summary}; mesh {meshed - started:.2f} s, solve {solved - meshed:.2f} s"
    )
    print(f"wrote {args.out / written}")


def _solve(problem: str, mesh, params: dict, options, folder: Path) -> tuple[str, str]:
    d = mesh.dim
    if problem == "navier_stokes":
        return _navier_stokes(mesh, params, folder)
    if problem == "poisson":
        u = solvers.poisson(mesh, **_diffusion(params, options))
        values.check_finite(u, "the solution")
        write_mesh(mesh, folder / "solution.vtu", point_data={"u": u})
        return "solution.vtu", f"u in [{u.min():.4g}, {u.max():.4g}]"
    if problem == "heat":
        steps, dt = int(params["steps"]), float(params["dt"])
        values.check_memory((steps + 1) * mesh.num_nodes, "the heat solution")
        u = solvers.heat(
            mesh,
            u0=_scalar(params, "u0"),
            dt=dt,
            steps=steps,
            theta=float(params["theta"]),
            **_diffusion(params, options),
        )
        values.check_finite(u, "the solution", stepped=True)
        write_time_series(mesh, folder / "solution.pvd", np.arange(steps + 1) * dt, {"u": u})
        return (
            "solution.pvd",
            f"{steps} steps of {dt}, final u in [{u[-1].min():.4g}, {u[-1].max():.4g}]",
        )
    E, nu, plane = _scalar(params, "E"), _scalar(params, "nu"), params["plane"]
    body = params["body_force"]
    displacement = solvers.elasticity(
        mesh,
        E=E,
        nu=nu,
        plane=plane,
        dirichlet=_condition(params, "dirichlet", components=d),
        traction=_condition(params, "traction", components=d),
        body_force=None if body is None else parse_vector(body, "body_force"),
        solver=options,
    )
    stress = solvers.von_mises(mesh, displacement, E, nu, plane)
    values.check_finite(displacement, "the displacement")
    write_mesh(
        mesh,
        folder / "solution.vtu",
        point_data={"displacement": displacement, "von_mises": stress},
    )
    largest = np.linalg.norm(displacement, axis=1).max()
    return "solution.vtu", f"max |u| {largest:.4g}, max von Mises {stress.max():.4g}"


def _diffusion(params: dict, options) -> dict:
    """The arguments poisson and heat share."""
    return {
        "kappa": _scalar(params, "kappa"),
        "source": _scalar(params, "source"),
        "dirichlet": _condition(params, "dirichlet"),
        "neumann": _condition(params, "neumann"),
        "robin": _condition(params, "robin", pair=True),
        "solver": options,
    }


def _navier_stokes(mesh, params: dict, folder: Path) -> tuple[str, str]:
    steps, dt = int(params["steps"]), float(params["dt"])
    require_triangles(mesh)
    values.check_memory((steps + 1) * mesh.num_nodes * 8, "the flow history")
    force_part = params["force_part"] or ("obstacle" if "obstacle" in mesh.boundary_parts else None)
    velocity = _flow_velocity(mesh, params)
    viscosity = float(params["viscosity"])
    penalty = float(params["grad_div"])
    problem = FlowProblem(mesh, viscosity, velocity, force_part, circular_parts(mesh), penalty)
    history = navier_stokes(problem, dt, steps, max_cfl=float(params["max_cfl"]))
    velocity = np.pad(history.velocity, ((0, 0), (0, 0), (0, 1)))  # 3 components for glyphs
    fields = {"velocity": velocity, "pressure": history.pressure}
    write_time_series(mesh, folder / "solution.pvd", history.times, fields)
    table = np.column_stack([history.step_times, history.forces, history.cfl])
    np.savetxt(folder / "steps.csv", table, delimiter=",", header="t,force_x,force_y,cfl")
    speed = np.linalg.norm(history.velocity[-1], axis=1).max()
    return (
        "solution.pvd",
        f"{steps} steps of {dt} ({len(history.step_times)} internal), max CFL "
        f"{history.cfl.max():.3g}, final max |u| {speed:.4g}; forces in steps.csv",
    )


def _flow_velocity(mesh, params: dict) -> dict:
    """Velocities by part: --dirichlet as given, else a channel's default inflow and walls."""
    spec = _condition(params, "dirichlet", components=2)
    if spec is not None:
        return spec if isinstance(spec, dict) else dict.fromkeys(mesh.boundary_parts, spec)
    if "inlet" not in mesh.boundary_parts:
        raise ProblemError(
            "navier_stokes needs velocities: expected --dirichlet PART=VX,VY, or a mesh with an "
            f"'inlet' part (this one has {', '.join(sorted(mesh.boundary_parts)) or 'none'})."
        )
    inlet_y = mesh.points[mesh.part_nodes("inlet"), 1]
    inflow = parabolic_inflow(float(params["inflow_peak"]), inlet_y.min(), inlet_y.max())
    return channel_velocity(mesh, inflow)


def _parameters(args: argparse.Namespace) -> dict:
    params = dict(DEFAULTS)
    if args.config is not None:
        params.update(_read_config(args.config))
    for key in DEFAULTS:
        value = getattr(args, key, None)
        if value is not None:
            params[key] = _pairs_to_dict(value) if isinstance(value, list) else value
    if params["mesh"] is None and params["geometry"] is None:
        raise ProblemError("no domain given; expected --mesh FILE or --geometry NAME.")
    return _checked(params)


# The declared kind of each numeric parameter (surrogate.values), checked for flags and
# config entries alike before any work starts.
NUMBERS = {
    "seed": values.SEED, "h": values.CELL_SIZE, "dt": values.TIME_STEP, "steps": values.STEPS,
    "theta": values.THETA, "rtol": values.TOLERANCE, "viscosity": values.POSITIVE,
    "max_cfl": values.POSITIVE, "inflow_peak": values.Number(float),
    "grad_div": values.NON_NEGATIVE,
}  # fmt: skip
CHOICES = {"plane": ("strain", "stress"), "solver": solvers.linalg.METHODS}
POSITIVE_COEFFICIENTS = ("kappa", "E")  # where given as numbers; formulas are checked per node


def _checked(params: dict) -> dict:
    """params with every declared value checked and converted; one sentence otherwise."""
    checked = dict(params)
    for key, kind in NUMBERS.items():
        checked[key] = kind.check(params[key], key)
    for key, allowed in CHOICES.items():
        if params[key] not in allowed:
            raise ProblemError(f"{key} is {params[key]!r}; expected one of {', '.join(allowed)}.")
    for key in POSITIVE_COEFFICIENTS:
        if _is_number(params[key]):
            values.POSITIVE.check(params[key], key)
    if _is_number(params["nu"]):
        values.POISSON_RATIO.check(params["nu"], "nu")
    for key in ("mesh", "geometry", "force_part"):
        if params[key] is not None and not isinstance(params[key], str | Path):
            raise ProblemError(f"{key} is {params[key]!r}; expected a name or a path.")
    return checked


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool)


def _read_config(path: Path) -> dict:
    loaded = read_yaml(path, "YAML")
    if not isinstance(loaded, dict):
        raise ProblemError(
            f"{path}: holds {type(loaded).__name__}; expected a mapping of parameters."
        )
    unknown = set(loaded) - set(DEFAULTS)
    if unknown:
        raise ProblemError(
            f"{path}: unknown parameter(s) {', '.join(sorted(unknown))}; "
            f"expected some of {', '.join(DEFAULTS)}."
        )
    return loaded


def _pairs_to_dict(values: list[str]) -> str | dict:
    """['left=0', 'right=1'] -> {'left': '0', 'right': '1'}; a lone ['0'] stays '0'."""
    if len(values) == 1 and "=" not in values[0]:
        return values[0]
    pairs = {}
    for item in values:
        part, sep, value = item.partition("=")
        if not sep:
            raise ProblemError(f"'{item}' has no part name; expected PART=VALUE.")
        pairs[part.strip()] = value
    return pairs


def _make_mesh(params: dict, max_nodes: int):
    """The mesh of params["mesh"] (a file) or params["geometry"] (seed, h)."""
    if params["mesh"] is not None:
        return solvers.Mesh.read(params["mesh"])
    return geometry.named(params["geometry"], params["seed"], params["h"], max_nodes)


def _scalar(params: dict, key: str):
    return parse_scalar(params[key], key)


def _condition(params: dict, key: str, components: int = 1, pair: bool = False):
    """A boundary condition from a value or {part: value}; vectors and Robin pairs parse
    comma-separated components."""
    spec = params[key]
    if spec is None:
        return None

    def parse(value, where: str):
        if pair:
            items = value.split(",", 1) if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or len(items) != 2:
                raise ProblemError(f"{where} is {value!r}; expected ALPHA,U_EXT.")
            return (parse_scalar(items[0], where), parse_scalar(items[1], where))
        if components > 1:
            return parse_vector(value, where)
        return parse_scalar(value, where)

    if isinstance(spec, dict):
        return {str(part): parse(value, f"{key} on {part}") for part, value in spec.items()}
    return parse(spec, key)
