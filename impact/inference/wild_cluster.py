"""Wild cluster bootstrap of one OLS coefficient, from cluster-level sufficient statistics
(the "fast and wild" algorithm of Roodman, MacKinnon, Nielsen & Webb 2019), with any
absorbed fixed effects.

Pure functions. With ``w = X~ (X~'X~)^{-1} e_j`` (the coefficient's weight on every row;
``X~`` the design with the fixed effects absorbed), the bootstrap coefficient of draw ``b``
moves by ``sum_g v_gb s_g`` with ``s_g = sum over cluster g of w u``, and its cluster
scores are ``S = J V`` with ``J_hg = sum over cluster h of w (M u^(g))``: ``u^(g)`` the
residuals of cluster g (zero elsewhere) and ``M`` the residual maker of the full model
(fixed effects and regressors), so fixed effects need not be nested in the clusters.
``J`` costs one absorption of ``G`` columns; then each draw costs ``O(G^2)``. Under the
restricted bootstrap (WCR) the residuals are linear in the null value ``theta``, so ``s``
and ``J`` are too, and the bootstrap t-statistics at any ``theta`` come from per-draw sums:
confidence sets by test inversion need no refit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np

from impact._typing import FloatArray, IntArray
from impact.engine.kernels import group_sums
from impact.errors import InvalidOptionError

__all__ = ["WEIGHT_TYPES", "WildDraws", "draw_weights", "wild_draws"]

#: Auxiliary distributions of the cluster weights (mean 0, variance 1).
WEIGHT_TYPES = ("rademacher", "webb", "mammen", "normal")
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
_SQRT5 = np.sqrt(5.0)
#: Most cluster weights held at once (G x B floats: 1.2 GiB).
MAX_WEIGHTS = 160_000_000
#: Draws are processed in blocks of this many (memory: G x block floats a few times).
_BLOCK = 4096


def draw_weights(kind: str, G: int, B: int, rng: np.random.Generator) -> tuple[FloatArray, bool]:
    """The ``G x B`` cluster weights; Rademacher signs are fully enumerated (``2^G``
    columns) when ``2^G <= B``. Returns the weights and whether they are enumerated.

    Raises
    ------
    InvalidOptionError
        More than :data:`MAX_WEIGHTS` weights (memory).
    """
    if G * B > MAX_WEIGHTS:
        raise InvalidOptionError(
            f"{G:,} clusters x {B:,} draws is more than {MAX_WEIGHTS:,} weights "
            f"({8 * MAX_WEIGHTS / 2**30:.1f} GiB): use fewer draws."
        )
    if kind == "rademacher" and G < 63 and 2**G <= B:
        return np.array(list(product((-1.0, 1.0), repeat=G))).T, True
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=(G, B)), False
    if kind == "webb":
        return rng.choice(_WEBB, size=(G, B)), False
    if kind == "mammen":
        low, high = (1 - _SQRT5) / 2, (1 + _SQRT5) / 2
        p_low = (_SQRT5 + 1) / (2 * _SQRT5)
        return np.where(rng.random((G, B)) < p_low, low, high), False
    return rng.standard_normal((G, B)), False


@dataclass(frozen=True)
class WildDraws:
    """Per-draw sums from which the bootstrap t-statistic at any null value follows:
    numerator ``n0 - theta n1``, squared score norm ``a - 2 theta b + theta^2 c`` (times
    the small-sample factor); ``n1 = b = c = 0`` for the unrestricted bootstrap."""

    n0: FloatArray
    n1: FloatArray
    a: FloatArray
    b: FloatArray
    c: FloatArray
    ssc: float

    def t_stats(self, theta: float) -> FloatArray:
        num = self.n0 - theta * self.n1
        den = self.ssc * (self.a - 2 * theta * self.b + theta**2 * self.c)
        with np.errstate(divide="ignore", invalid="ignore"):
            return num / np.sqrt(np.clip(den, 0.0, None))


def _cluster_matrices(
    w: FloatArray,
    u: FloatArray,
    boot: IntArray,
    G: int,
    terms: Sequence[tuple[float, IntArray, int]],
    residualise: Callable,
) -> tuple[FloatArray, list[FloatArray]]:
    """``s`` (G,) and, per variance term, ``J`` (H x G) for residuals ``u``: ``J_hg`` sums
    ``w M u^(g)`` over the term's cluster ``h`` (``u^(g)``: ``u`` on bootstrap cluster g)."""
    s = group_sums(boot, G, w * u)
    Js = [np.empty((H, G)) for _, _, H in terms]
    for start in range(0, G, 64):  # absorb the masked residuals 64 clusters at a time
        cols = np.arange(start, min(start + 64, G))
        U = np.where(boot[:, None] == cols[None, :], u[:, None], 0.0)
        R = w[:, None] * residualise(U)
        for J, (_, codes, H) in zip(Js, terms, strict=True):
            J[:, cols] = group_sums(codes, H, R)
    return s, Js


@dataclass(frozen=True)
class _LowRank:
    """``J = diag(s) - W M`` (``W`` G x k, ``M`` k x G): the cluster-score map when the
    fixed effects are nested in the clusters (or absent)."""

    s: FloatArray
    W: FloatArray
    M: FloatArray

    def __matmul__(self, V: FloatArray) -> FloatArray:
        return self.s[:, None] * V - self.W @ (self.M @ V)


def _low_rank(
    w: FloatArray, u: FloatArray, cluster: IntArray, G: int, X: FloatArray, A: FloatArray
) -> tuple[FloatArray, _LowRank]:
    """``s`` and ``J`` for residuals ``u`` when ``M U = U - X A X'U`` on every masked
    residual column up to fixed effects nested in the clusters (which ``w`` and ``X``,
    demeaned, are orthogonal to): ``J_hg = 1{h=g} s_g - W_h' A C_g`` with ``W`` the cluster
    sums of ``w x`` and ``C`` those of ``x u``. O(G k) per draw instead of O(G^2)."""
    s = group_sums(cluster, G, w * u)
    W = group_sums(cluster, G, w[:, None] * X)
    C = group_sums(cluster, G, X * u[:, None])
    return s, _LowRank(s=s, W=W, M=A @ C.T)


def wild_draws(
    w: FloatArray,
    u0: FloatArray,
    u1: FloatArray | None,
    cluster: IntArray,
    V: FloatArray,
    terms: Sequence[tuple[float, IntArray, int]],
    residualise: Callable[[FloatArray], FloatArray],
    nested: tuple[FloatArray, FloatArray] | None = None,
) -> WildDraws:
    """The per-draw sums of the wild cluster bootstrap.

    Parameters
    ----------
    w : ndarray (n,)
        The coefficient's row weights ``X~ (X~'X~)^{-1} e_j``.
    u0, u1 : ndarray (n,)
        Residuals of the bootstrap data-generating process: restricted ``u0 - theta u1``
        (WCR), or unrestricted ``u0`` with ``u1`` None (WCU).
    cluster : ndarray of int (n,)
        Bootstrap cluster codes ``0 .. G - 1`` (one weight each).
    V : ndarray (G, B)
        Cluster weights.
    terms : sequence of (factor, codes, H)
        The variance's terms: ``sum_k factor_k * sum_h (cluster-h score)^2`` over the
        clusters ``codes`` (``0 .. H - 1``) of term k; the factor carries the small-sample
        correction and, for multi-way clustering, the inclusion-exclusion sign. One-way:
        one term whose codes are the bootstrap clusters (or coarser: the subcluster
        bootstrap draws finer weights than the variance's clusters).
    residualise : callable
        ``U -> M U``, the residual maker of the full model (fixed effects and regressors).
    nested : (X, A), optional
        The demeaned design and ``(X'X)^{-1}`` when the fixed effects are nested in the
        clusters or absent and the one term's clusters are the bootstrap clusters: the
        cluster-score map is then diagonal plus rank k (no ``G x G`` matrix).
    """
    G, B = V.shape
    if nested is not None:
        (f,) = (t[0] for t in terms)
        s0, J0 = _low_rank(w, u0, cluster, G, *nested)
        zero = np.zeros(G)
        s1, J1 = _low_rank(w, u1, cluster, G, *nested) if u1 is not None else (
            zero, _LowRank(zero, np.zeros((G, 1)), np.zeros((1, G)))
        )  # fmt: skip
        maps = [(f, J0, J1)]
    else:
        s0, J0s = _cluster_matrices(w, u0, cluster, G, terms, residualise)
        if u1 is not None:
            s1, J1s = _cluster_matrices(w, u1, cluster, G, terms, residualise)
        else:
            s1, J1s = np.zeros(G), [np.zeros_like(J) for J in J0s]
        maps = [(t[0], J0, J1) for t, J0, J1 in zip(terms, J0s, J1s, strict=True)]
    out = {k: np.zeros(B) for k in ("n0", "n1", "a", "b", "c")}
    for start in range(0, B, _BLOCK):
        Vb = V[:, start : start + _BLOCK]
        sl = slice(start, start + Vb.shape[1])
        out["n0"][sl], out["n1"][sl] = s0 @ Vb, s1 @ Vb
        for f, J0, J1 in maps:
            S0, S1 = J0 @ Vb, J1 @ Vb
            out["a"][sl] += f * np.einsum("gb,gb->b", S0, S0)
            out["b"][sl] += f * np.einsum("gb,gb->b", S0, S1)
            out["c"][sl] += f * np.einsum("gb,gb->b", S1, S1)
    return WildDraws(ssc=1.0, **out)
