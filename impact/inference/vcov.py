"""Variance estimators as pure functions on arrays: iid, HC1, multi-way cluster, CRV3."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impact._typing import FloatArray, IntArray, VcovSpec
from impact.errors import InvalidOptionError, close_matches_hint
from impact.inference.clusters import cluster_sums

__all__ = [
    "VcovRequest",
    "cluster_intersections",
    "crv3_vcov",
    "meat_cluster",
    "one_cluster",
    "parse_vcov",
    "psd_fix",
]

_SIMPLE = {"iid": "iid", "hetero": "hetero", "hc1": "hetero", "robust": "hetero"}


@dataclass(frozen=True)
class VcovRequest:
    """A parsed vcov specification.

    Attributes
    ----------
    kind : {"iid", "hetero", "CRV1", "CRV3"}
    clusters : tuple of str
        Cluster variables (empty for iid/hetero).
    """

    kind: str
    clusters: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Display label, e.g. ``"Clustered (firm_id)"``."""
        if self.kind == "iid":
            return "IID"
        if self.kind == "hetero":
            return "Heteroskedasticity-robust (HC1)"
        tag = " & ".join(self.clusters)
        return f"Clustered ({tag})" if self.kind == "CRV1" else f"CRV3 jackknife ({tag})"


def parse_vcov(vcov: VcovSpec) -> VcovRequest:
    """Read a vcov spec.

    Accepted: ``"iid"``, ``"hetero"`` (``"HC1"``), ``{"cluster": "a"}``,
    ``{"CRV1": ["a", "b"]}`` or pyfixest's ``{"CRV1": "a+b"}`` (two-way), ``{"CRV3": "a"}``.
    """
    if vcov is None:
        return VcovRequest("iid")
    if isinstance(vcov, str):
        key = vcov.lower()
        if key not in _SIMPLE:
            raise InvalidOptionError(
                f"vcov={vcov!r} is not known; use 'iid', 'hetero' or {{'cluster': 'col'}}."
                + close_matches_hint(vcov, ["iid", "hetero", "HC1"])
            )
        return VcovRequest(_SIMPLE[key])
    if isinstance(vcov, Mapping):
        if len(vcov) != 1:
            raise InvalidOptionError(f"vcov must have exactly one key, got {list(vcov)}.")
        ((key, cols),) = vcov.items()
        kinds = {"cluster": "CRV1", "crv1": "CRV1", "crv3": "CRV3"}
        if str(key).lower() not in kinds:
            raise InvalidOptionError(
                f"vcov key {key!r} is not known; use 'cluster', 'CRV1' or 'CRV3'."
                + close_matches_hint(str(key), ["cluster", "CRV1", "CRV3"])
            )
        # pyfixest's "a+b" is two-way clustering by a and b (a list is never split)
        names = tuple(c.strip() for c in cols.split("+")) if isinstance(cols, str) else tuple(cols)
        if not names or not all(isinstance(c, str) for c in names):
            raise InvalidOptionError(f"cluster variables must be column names, got {cols!r}.")
        kind = kinds[str(key).lower()]
        if kind == "CRV3" and len(names) != 1:
            raise InvalidOptionError("CRV3 supports one-way clustering only.")
        return VcovRequest(kind, tuple(dict.fromkeys(names)))
    raise InvalidOptionError(f"vcov must be a string or a dict, got {type(vcov).__name__}.")


def one_cluster(vcov: VcovSpec, estimator: str) -> str | None:
    """The cluster column of an influence-function estimator's ``vcov``: None (units)
    or ``{"cluster": col}`` with one column; anything else is an InvalidOptionError."""
    if vcov is None:
        return None
    req = parse_vcov(vcov)
    if req.kind != "CRV1" or len(req.clusters) != 1:
        raise InvalidOptionError(
            f"{estimator} supports vcov=None or {{'cluster': col}} (one column)."
        )
    return req.clusters[0]


def cluster_intersections(
    codes: Sequence[IntArray],
) -> list[tuple[int, IntArray, int]]:
    """Every non-empty subset of cluster dimensions for inclusion–exclusion.

    Returns
    -------
    list of (sign, codes, G)
        ``sign`` is +1 for odd-sized subsets and -1 for even-sized ones (Cameron,
        Gelbach & Miller 2011); ``codes`` are the intersection's cluster codes.
    """
    out = []
    for size in range(1, len(codes) + 1):
        for subset in itertools.combinations(range(len(codes)), size):
            if size == 1:
                c = codes[subset[0]]
                g = int(c.max()) + 1 if len(c) else 0
            else:
                key = np.zeros(len(codes[0]), dtype=np.int64)
                for j in subset:
                    key = key * (int(codes[j].max()) + 1) + codes[j]
                c, uniq = pd.factorize(key)
                g = len(uniq)
            out.append((1 if size % 2 else -1, np.asarray(c, dtype=np.intp), g))
    return out


def meat_cluster(scores: FloatArray, codes: IntArray, n_clusters: int) -> FloatArray:
    """``sum_g s_g s_g'`` with ``s_g`` the within-cluster sum of score rows."""
    S = cluster_sums(scores, codes, n_clusters)
    return S.T @ S


def psd_fix(V: FloatArray) -> tuple[FloatArray, bool]:
    """Set negative eigenvalues to zero (Cameron, Gelbach & Miller 2011, §2.3).

    Returns
    -------
    V : ndarray
        The fixed matrix (unchanged if already PSD).
    fixed : bool
        Whether any eigenvalue was negative.
    """
    vals, vecs = np.linalg.eigh((V + V.T) / 2)
    if vals.min(initial=0.0) >= -1e-12 * max(abs(vals).max(initial=0.0), 1e-300):
        return V, False
    vals = np.clip(vals, 0.0, None)
    return (vecs * vals) @ vecs.T, True


def crv3_vcov(beta: FloatArray, beta_jack: FloatArray, factor: float) -> FloatArray:
    """CRV3 from leave-one-cluster-out estimates: ``factor * sum_g (b_g - b)(b_g - b)'``.

    Centred at the full-sample estimate, as pyfixest and MacKinnon, Nielsen & Webb
    (2023) do; ``factor`` is the small-sample factor of the SSC (fixest convention).
    """
    D = beta_jack - beta[None, :]
    return factor * (D.T @ D)
