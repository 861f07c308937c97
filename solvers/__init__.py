"""Finite-element reference solvers on unstructured simplex meshes (numpy + scipy, no torch)."""

from solvers.diffusion import poisson
from solvers.elasticity import elasticity, stress, von_mises
from solvers.errors import InputError, MeshError, ProblemError, SolverError
from solvers.heat import heat
from solvers.linalg import SolverOptions
from solvers.mesh import Mesh

__all__ = [
    "InputError",
    "Mesh",
    "MeshError",
    "ProblemError",
    "SolverError",
    "SolverOptions",
    "elasticity",
    "heat",
    "poisson",
    "stress",
    "von_mises",
]
