"""Small-sample corrections: one explicit object with the fixest, full and none presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from impact.errors import EmptySampleError, InvalidOptionError

__all__ = ["SSC", "SmallSample", "small_sample"]


@dataclass(frozen=True)
class SSC:
    """Small-sample correction settings.

    Parameters
    ----------
    k_adj : bool
        Multiply by ``(N-1)/(N-K)`` (iid: divide the SSR by ``N-K`` instead of ``N``;
        heteroskedastic: the HC1 factor ``N/(N-K)`` together with ``cluster_adj``).
    k_fixef : {"nested", "full", "none"}
        How fixed effects enter ``K``: ``"nested"`` (fixest) leaves out the levels of
        dimensions nested in a cluster variable; ``"full"`` counts every identified
        level, as dummy-variable OLS does; ``"none"`` counts none.
    cluster_adj : bool
        Multiply clustered variances by ``G/(G-1)``.
    cluster_df : {"min", "conventional"}
        Multi-way clustering: ``"min"`` uses the smallest number of clusters in every
        ``G/(G-1)`` term (fixest default); ``"conventional"`` uses each term's own ``G``.
    t_df : {"min", "conventional"}
        Clustered inference: t distribution with ``min(G)-1`` degrees of freedom
        (``"min"``) or ``N-K`` (``"conventional"``).
    name : str
        Label printed in summaries and tables.

    Notes
    -----
    ``SSC.fixest()`` equals R fixest's default ``ssc()`` and pyfixest's default;
    ``SSC.full()`` equals Stata ``regress, vce(cluster)`` / statsmodels OLS with all
    fixed effects as dummy variables. See ``docs/conventions.md``.

    Examples
    --------
    Wooldridge's Example 14.1 (``jtrain``, firm fixed effects) with standard errors clustered by
    firm: the preset decides whether the 54 firm effects, nested in the clusters, count in ``K``.
    pyfixest (as R fixest) reports 0.1434 for ``grant``; least squares with firm dummies
    (statsmodels, Stata ``areg``) reports 0.1762.

    >>> import impact
    >>> jtrain = impact.datasets.load("jtrain").dropna(subset=["lscrap"])
    >>> formula = "lscrap ~ d88 + d89 + grant + grant_1 | fcode"
    >>> for ssc in (impact.SSC.fixest(), impact.SSC.full()):
    ...     fit = impact.feols(formula, jtrain, vcov={"cluster": "fcode"}, ssc=ssc)
    ...     print(ssc.name, f"{fit.se['grant']:.4f}")
    fixest 0.1434
    full 0.1762
    """

    k_adj: bool = True
    k_fixef: Literal["nested", "full", "none"] = "nested"
    cluster_adj: bool = True
    cluster_df: Literal["min", "conventional"] = "min"
    t_df: Literal["min", "conventional"] = "min"
    name: str = "custom"

    def __post_init__(self) -> None:
        if self.k_fixef not in ("nested", "full", "none"):
            raise InvalidOptionError(
                f"k_fixef must be 'nested', 'full' or 'none', got {self.k_fixef!r}."
            )
        if self.cluster_df not in ("min", "conventional"):
            raise InvalidOptionError(
                f"cluster_df must be 'min' or 'conventional', got {self.cluster_df!r}."
            )
        if self.t_df not in ("min", "conventional"):
            raise InvalidOptionError(f"t_df must be 'min' or 'conventional', got {self.t_df!r}.")

    @classmethod
    def fixest(cls) -> SSC:
        """fixest/pyfixest defaults: FE nested in the cluster not counted, G/(G-1), t(G-1)."""
        return cls(name="fixest")

    @classmethod
    def full(cls) -> SSC:
        """Every identified FE level counted in K: equals dummy-variable OLS."""
        return cls(k_fixef="full", name="full")

    @classmethod
    def none(cls) -> SSC:
        """No small-sample factors (HC0, CRV0, SSR/N); t degrees of freedom as fixest."""
        return cls(k_adj=False, k_fixef="none", cluster_adj=False, name="none")


@dataclass(frozen=True)
class SmallSample:
    """The numbers an SSC produces for one model and vcov type.

    Attributes
    ----------
    K : int
        Parameters counted in the ``(N-1)/(N-K)`` factor.
    factors : tuple of float
        Multiplicative factor per variance term (one, or one per multi-way subset).
    df_t : int
        Degrees of freedom of the t distribution for tests and intervals.
    """

    K: int
    factors: tuple[float, ...]
    df_t: int


def small_sample(
    ssc: SSC,
    *,
    vcov_type: Literal["iid", "hetero", "cluster"],
    N: int,
    k: int,
    fe_levels: int,
    fe_rank_full: int,
    fe_levels_nested: int,
    n_fe_nested: int,
    n_fe: int,
    G: tuple[int, ...] = (),
    G_min: int | None = None,
) -> SmallSample:
    """Compute K, the variance factors and the t degrees of freedom.

    Parameters
    ----------
    ssc : SSC
    vcov_type : {"iid", "hetero", "cluster"}
    N : int
        Observations.
    k : int
        Estimated slope coefficients (after collinearity drops).
    fe_levels : int
        Sum of levels over fixed-effect dimensions.
    fe_rank_full : int
        Identified fixed-effect coefficients (used by ``k_fixef="full"``).
    fe_levels_nested : int
        Levels of the dimensions nested in a cluster variable.
    n_fe_nested : int
        Number of nested dimensions.
    n_fe : int
        Number of fixed-effect dimensions.
    G : tuple of int
        Cluster counts of each variance term (multi-way: every subset intersection).
    G_min : int
        Smallest cluster count among the cluster variables themselves.
    """
    fe_fixest = fe_levels - (n_fe - 1) if n_fe > 1 else fe_levels
    if ssc.k_fixef == "none" or n_fe == 0:
        K = k
    elif ssc.k_fixef == "full":
        K = k + fe_rank_full
    elif vcov_type == "cluster" and n_fe_nested:
        K = k + fe_fixest - fe_levels_nested + n_fe_nested
    else:
        K = k + fe_fixest
    if N - K <= 0 and (ssc.k_adj or vcov_type == "iid"):
        raise EmptySampleError(
            f"{N} observations and {K} parameters (slopes and fixed effects): no residual "
            "degrees of freedom are left to estimate the variance."
        )
    K_adj = (N - 1) / (N - K) if ssc.k_adj else 1.0
    if vcov_type == "iid":
        # sigma^2 = SSR/(N-K) with k_adj, SSR/N without; expressed relative to SSR/N
        factor = N / (N - K) if ssc.k_adj else 1.0
        return SmallSample(K=K, factors=(factor,), df_t=N - K)
    if vcov_type == "hetero":
        g = N / (N - 1) if ssc.cluster_adj else 1.0
        return SmallSample(K=K, factors=(K_adj * g,), df_t=N - K)
    gmin = int(G_min if G_min is not None else min(G))
    factors = []
    for g_term in G:
        g_used = gmin if ssc.cluster_df == "min" else g_term
        gf = g_used / (g_used - 1) if ssc.cluster_adj else 1.0
        factors.append(K_adj * gf)
    df_t = gmin - 1 if ssc.t_df == "min" else N - K
    return SmallSample(K=K, factors=tuple(factors), df_t=df_t)
