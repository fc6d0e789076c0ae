"""Trade and innovation outcome equations of the synthetic panel (DGP.md §4.7).

Pure functions of one year's states and the year's common draws; the caller evaluates
them once per potential path with the same draws (coupling, DGP.md §0 rule 4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impact.datasets.cluster.params import ClusterPanelParams

__all__ = [
    "TradeDraws",
    "draw_trade",
    "export_intensity",
    "export_status",
    "negbin_quantile",
    "patents",
    "product_innovation",
    "rd_intensity",
]


def _logit_noise(u: np.ndarray) -> np.ndarray:
    return np.log(u) - np.log1p(-u)


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class TradeDraws:
    """Common draws of one year for the trade and innovation equations."""

    exp_noise: np.ndarray
    int_noise: np.ndarray
    rd_noise: np.ndarray
    patent_u: np.ndarray
    innov_noise: np.ndarray


def draw_trade(p: ClusterPanelParams, rng: np.random.Generator, n: int) -> TradeDraws:
    """Draw one year's shared noise (logistic draws from uniforms, normals)."""
    u_exp, u_pat, u_inn = rng.uniform(size=(3, n))
    return TradeDraws(
        exp_noise=_logit_noise(u_exp),
        int_noise=rng.normal(0.0, p.export_intensity_sd, n),
        rd_noise=rng.normal(0.0, p.rd_intensity_sd, n),
        patent_u=u_pat,
        innov_noise=_logit_noise(u_inn),
    )


def export_status(
    p: ClusterPanelParams,
    *,
    ht: np.ndarray,
    omega_t: np.ndarray,
    l_dev: np.ndarray,
    h: np.ndarray,
    prev: np.ndarray,
    shift: np.ndarray,
    noise: np.ndarray,
) -> np.ndarray:
    """Sunk-cost export participation: 1 if the latent index is positive."""
    icpt = np.where(ht, p.export_icpt_high, p.export_icpt_low)
    latent = (
        icpt
        + p.export_omega * omega_t
        + p.export_l * l_dev
        + p.export_h * h
        + p.export_persistence * prev
        + shift
        + noise
    )
    return (latent > 0).astype(float)


def export_intensity(
    p: ClusterPanelParams,
    *,
    omega_t: np.ndarray,
    h: np.ndarray,
    v: np.ndarray,
    shift: np.ndarray,
    noise: np.ndarray,
) -> np.ndarray:
    """Export share of sales for exporters, in (0, 1)."""
    return _expit(p.export_intensity_icpt + 0.5 * omega_t + 0.3 * h + v + shift + noise)


def rd_intensity(
    p: ClusterPanelParams,
    *,
    ht: np.ndarray,
    h: np.ndarray,
    r: np.ndarray,
    shift: np.ndarray,
    noise: np.ndarray,
) -> np.ndarray:
    """log(R&D / sales) of R&D performers."""
    return np.log(0.02) + np.log(2.0) * ht + 0.3 * h + r + shift + noise


def patents(
    p: ClusterPanelParams,
    *,
    ht: np.ndarray,
    stock: np.ndarray,
    stock_norm: float,
    h: np.ndarray,
    l_dev: np.ndarray,
    shift: np.ndarray,
    u: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected patents and the NegBin2 count from the shared uniform (inverse CDF).

    Returns
    -------
    mu, count : ndarray
    """
    icpt = np.where(ht, p.patent_icpt_high, p.patent_icpt_low)
    log_mu = icpt + 0.5 * np.log1p(stock / stock_norm) + 0.4 * h + 0.2 * l_dev + shift
    mu = np.exp(log_mu)
    return mu, negbin_quantile(u, mu, p.patent_alpha)


def negbin_quantile(u: np.ndarray, mu: np.ndarray, alpha: float) -> np.ndarray:
    """Inverse CDF of NegBin2(mean mu, variance mu + alpha mu^2) at ``u``.

    The smallest k with CDF(k) >= u, by the pmf recursion
    P(k) = P(k-1) (k - 1 + 1/alpha) / k * (1 - q) with q = (1/alpha) / (1/alpha + mu).
    """
    size = 1.0 / alpha
    q = size / (size + mu)
    pmf = q**size
    cdf = pmf.copy()
    count = np.zeros_like(mu)
    active = np.flatnonzero(u > cdf)
    k = 0
    while active.size:
        k += 1
        pmf_a = pmf[active] * (k - 1 + size) / k * (1.0 - q[active])
        pmf[active] = pmf_a
        cdf[active] += pmf_a
        count[active] = k
        still = u[active] > cdf[active]
        active = active[still & (pmf_a > 0)]
    return count


def product_innovation(
    p: ClusterPanelParams,
    *,
    ht: np.ndarray,
    rd: np.ndarray,
    h: np.ndarray,
    shift: np.ndarray,
    noise: np.ndarray,
) -> np.ndarray:
    """CIS-type product innovation indicator."""
    latent = p.innovation_icpt + 1.5 * rd + 0.5 * h + 0.5 * ht + shift + noise
    return (latent > 0).astype(float)
