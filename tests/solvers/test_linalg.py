"""Saddle-point LU on a fixed pattern: solutions against dense solves, and refusals."""

import numpy as np
import pytest
import scipy.sparse as sp

from solvers import SolverError
from solvers.linalg import SaddlePointLU


def saddle_point(rng: np.random.Generator, n: int = 30, m: int = 8) -> sp.csc_matrix:
    """[[K, B^T], [B, 0]]: K a nonsymmetric path-graph block with a strong diagonal, B (m, n)
    sparse with full rank, so the whole matrix is invertible."""
    k = sp.diags(
        [rng.uniform(-1, 1, n - 1), rng.uniform(4, 5, n), rng.uniform(-1, 1, n - 1)], [-1, 0, 1]
    )
    b = sp.random(m, n, density=0.2, random_state=rng) + sp.eye(m, n)
    return sp.csc_matrix(sp.bmat([[k, b.T], [b, None]]))


def test_each_matrix_on_the_pattern_is_solved():
    rng = np.random.default_rng(0)
    first = saddle_point(rng)
    lu = SaddlePointLU(first.indices, first.indptr)
    assert sorted(lu._order) == list(range(first.shape[0]))  # a permutation
    for data in (first.data, rng.uniform(1, 2, first.nnz) * first.data):
        matrix = sp.csc_matrix((data, first.indices, first.indptr), first.shape)
        b = rng.normal(size=first.shape[0])
        np.testing.assert_allclose(lu.factorize(data)(b), np.linalg.solve(matrix.toarray(), b))


def test_a_singular_matrix_is_refused():
    matrix = saddle_point(np.random.default_rng(1))
    data = matrix.data.copy()
    data[matrix.indptr[3] : matrix.indptr[4]] = 0.0  # a zero column
    with pytest.raises(SolverError, match="singular"):
        SaddlePointLU(matrix.indices, matrix.indptr).factorize(data)
