"""Problem families: turn a recipe and a random generator into one solved Sample.

Each family draws its geometry and parameters from the recipe's ranges (see `draw`), runs
the reference solver and returns the fields the recipe declares, plus meta: the drawn
parameters and the role of every boundary part (dirichlet, neumann, inflow, outflow, wall,
obstacle), from which node types are built. Everything is a pure function of the recipe
and the generator, so a sample does not depend on which worker made it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import solvers
from solvers import dfg, geometry
from solvers.errors import ProblemError
from solvers.navier_stokes import FlowProblem, navier_stokes, parabolic_inflow
from solvers.taylor_hood import circular_parts
from surrogate.data.random_fields import gaussian_field, log_normal_field
from surrogate.data.sample import Sample

BOX_SIDES = ("left", "right", "bottom", "top")


def draw(spec, rng: np.random.Generator):
    """A value from a recipe entry: a number or string as is; [low, high] uniform (integers
    when both ends are integers, inclusive); {log_uniform: [low, high]} log-uniform."""
    if isinstance(spec, dict) and set(spec) == {"log_uniform"}:
        low, high = spec["log_uniform"]
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))
    if isinstance(spec, list) and len(spec) == 2:
        low, high = spec
        if isinstance(low, int) and isinstance(high, int):
            return int(rng.integers(low, high + 1))
        return float(rng.uniform(low, high))
    return spec


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31))


def _holes_plate(params: dict, rng: np.random.Generator, drawn: dict) -> solvers.Mesh:
    drawn["holes"] = count = draw(params["holes"], rng)
    holes = geometry.random_holes(_seed(rng), count, radius=tuple(params["radius"]))
    drawn["hole_geometry"] = [[h.x, h.y, h.rx, h.ry or h.rx, h.angle] for h in holes]
    return geometry.rectangle_with_holes(holes=holes, h=params["h"])


def _column(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(*np.shape(values)[:2], -1)


def poisson_holes(params: dict, rng: np.random.Generator) -> Sample:
    """-div(kappa grad u) = f on a plate with holes; outer sides at random values, holes
    insulated; kappa log-normal, f a smooth random field."""
    drawn: dict = {}
    mesh = _holes_plate(params, rng, drawn)
    return _diffusion(mesh, params, rng, drawn, BOX_SIDES)


def heat_holes(params: dict, rng: np.random.Generator) -> Sample:
    """du/dt = div(kappa grad u) on a plate with holes held at random temperatures, outer
    sides insulated, from a smooth random initial temperature."""
    drawn: dict = {}
    mesh = _holes_plate(params, rng, drawn)
    kappa = _log_normal(params["kappa"], rng, mesh, drawn)
    u0 = 0.5 + 0.25 * gaussian_field(rng, 2, params["initial_length"])(mesh.points)
    holes = [part for part in mesh.boundary_parts if part.startswith("hole")]
    temperatures = {part: draw(params["hole_temperature"], rng) for part in holes}
    drawn["hole_temperatures"] = temperatures
    dt, steps = params["dt"], params["steps"]
    u = solvers.heat(mesh, u0=u0, kappa=kappa, dirichlet=temperatures, dt=dt, steps=steps)
    roles = {part: "dirichlet" if part in holes else "neumann" for part in mesh.boundary_parts}
    kappa_t = np.broadcast_to(kappa[None, :, None], (steps + 1, mesh.num_nodes, 1))
    return Sample(
        mesh, {"kappa": kappa_t.copy(), "u": u[..., None]}, dt * np.arange(steps + 1),
        {"parameters": drawn, "part_roles": roles},
    )  # fmt: skip


def elasticity_holes(params: dict, rng: np.random.Generator) -> Sample:
    """Plane-stress plate with holes clamped on the left, a random traction on the right."""
    drawn: dict = {}
    mesh = _holes_plate(params, rng, drawn)
    E, nu = draw(params["E"], rng), draw(params["nu"], rng)
    angle, magnitude = draw(params["traction_angle"], rng), draw(params["traction"], rng)
    traction = (magnitude * np.cos(angle), magnitude * np.sin(angle))
    drawn |= {"E": E, "nu": nu, "traction": list(traction)}
    d = solvers.elasticity(
        mesh, E=E, nu=nu, plane="stress", dirichlet={"left": 0.0}, traction={"right": traction}
    )
    stress = solvers.von_mises(mesh, d, E, nu, "stress")
    ones = np.ones((mesh.num_nodes, 1))
    roles = {part: "dirichlet" if part == "left" else "neumann" for part in mesh.boundary_parts}
    load = np.zeros((mesh.num_nodes, 2))  # the model must see the load: traction on its nodes
    load[mesh.part_nodes("right")] = traction
    fields = {"E": E * ones, "nu": nu * ones, "traction": load, "displacement": d,
              "von_mises": stress[:, None]}  # fmt: skip
    return Sample(mesh, fields, meta={"parameters": drawn, "part_roles": roles})


def cylinder_flow(params: dict, rng: np.random.Generator) -> Sample:
    """Flow past a cylinder of random position and size in a channel, Reynolds number
    drawn from a range, inflow ramped up smoothly over `ramp` seconds from rest; the states
    are saved from `record_from` seconds on."""
    length, height = params["length"], params["height"]
    radius = draw(params["radius"], rng)
    x, y = draw(params["center_x"], rng), draw(params["center_y"], rng)
    reynolds, nu = draw(params["reynolds"], rng), params["viscosity"]
    mean_speed = reynolds * nu / (2 * radius)
    drawn = {"radius": radius, "center": [x, y], "reynolds": reynolds, "mean_speed": mean_speed}
    obstacle = geometry.Hole(x, y, radius)
    mesh = geometry.channel_with_obstacle(
        length, height, obstacle, params["h"], params["h_obstacle"]
    )
    inflow = ramped(parabolic_inflow(1.5 * mean_speed, 0.0, height), params["ramp"])
    walls = {"walls": (0.0, 0.0), "obstacle": (0.0, 0.0)}
    velocity = {"inlet": inflow, **walls}
    penalty = grad_div_penalty(params, mean_speed, 2 * radius)
    problem = FlowProblem(mesh, nu, velocity, "obstacle", circular_parts(mesh), penalty)
    start = record_start(params)
    flow = navier_stokes(problem, params["dt"], start + params["steps"], max_cfl=params["max_cfl"])
    recorded = flow.step_times > flow.times[start]
    roles = {"inlet": "inflow", "outlet": "outflow", "walls": "wall", "obstacle": "obstacle"}
    drawn["drag_lift_max"] = (
        dfg.force_coefficients(flow.forces[recorded], mean_speed, 2 * radius).max(axis=0).tolist()
    )
    fields = {"velocity": flow.velocity[start:], "pressure": flow.pressure[start:, :, None]}
    return Sample(mesh, fields, flow.times[start:], {"parameters": drawn, "part_roles": roles})


def record_start(params: dict) -> int:
    """Solver steps run before the first saved state: `record_from` seconds (a start from
    rest is run but not learnt from); recipes from before it (resumed datasets) had none."""
    return round(params.get("record_from", 0.0) / params["dt"])


def grad_div_penalty(params: dict, mean_speed: float, diameter: float) -> float:
    """The flow solver's grad-div penalty (m^2/s) from the recipe's dimensionless one, per
    mean speed x obstacle diameter; recipes from before it (resumed datasets) had none."""
    return params.get("grad_div", 0.0) * mean_speed * diameter


def ramped(profile, ramp: float):
    """The inflow profile (x, t) scaled by a smooth step from 0 at t = 0 to 1 at t = ramp."""

    def inflow(points: np.ndarray, t: float) -> np.ndarray:
        s = min(t / ramp, 1.0) if ramp > 0 else 1.0
        return profile(points, t) * (s * s * (3 - 2 * s))

    return inflow


def poisson_box_holes(params: dict, rng: np.random.Generator) -> Sample:
    """3D: -div(kappa grad u) = f in a box with spherical holes; xmin/xmax at random
    values, other faces and holes insulated."""
    drawn: dict = {}
    drawn = {"holes": draw(params["holes"], rng)}
    mesh = geometry.box_with_holes(n_holes=drawn["holes"], seed=_seed(rng), h=params["h"])
    return _diffusion(mesh, params, rng, drawn, ("xmin", "xmax"))


def _diffusion(mesh, params: dict, rng: np.random.Generator, drawn: dict, fixed) -> Sample:
    """Log-normal kappa, smooth random source, the parts in fixed at random values and
    the rest of the boundary insulated: the steady diffusion sample of both Poisson
    families."""
    kappa = _log_normal(params["kappa"], rng, mesh, drawn)
    drawn["source_amplitude"] = amplitude = draw(params["source_amplitude"], rng)
    source = amplitude * gaussian_field(rng, mesh.dim, params["source_length"])(mesh.points)
    values = {part: draw(params["boundary_values"], rng) for part in fixed}
    drawn["boundary_values"] = values
    u = solvers.poisson(mesh, kappa=kappa, source=source, dirichlet=values)
    roles = {part: "dirichlet" if part in values else "neumann" for part in mesh.boundary_parts}
    fields = {"kappa": kappa[:, None], "source": source[:, None], "u": u[:, None]}
    return Sample(mesh, fields, meta={"parameters": drawn, "part_roles": roles})


def _log_normal(spec: dict, rng: np.random.Generator, mesh, drawn: dict) -> np.ndarray:
    log_std, length = draw(spec["log_std"], rng), draw(spec["length"], rng)
    drawn["kappa"] = {"mean": spec["mean"], "log_std": log_std, "length": length}
    return log_normal_field(rng, mesh.dim, spec["mean"], log_std, length)(mesh.points)


FAMILIES: dict[str, Callable[[dict, np.random.Generator], Sample]] = {
    "poisson_holes": poisson_holes,
    "heat_holes": heat_holes,
    "elasticity_holes": elasticity_holes,
    "cylinder_flow": cylinder_flow,
    "poisson_box_holes": poisson_box_holes,
}


def family(name: str) -> Callable[[dict, np.random.Generator], Sample]:
    if name not in FAMILIES:
        raise ProblemError(f"family '{name}' is unknown; expected one of {', '.join(FAMILIES)}.")
    return FAMILIES[name]
