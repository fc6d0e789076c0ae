"""The year loop of the cluster-firm generator: three potential paths with common draws.

Paths (DGP.md §0 rule 1): ``00`` no cluster policy at all, ``0S`` the realised cell
exposure without own membership, ``DS`` observed. Every random draw is made once per
firm-year and shared by the three paths; cross-firm statistics use the ``00`` path
(rule 2); exit uses the ``00`` path (rule 3).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from impact.datasets.cluster.params import ClusterPanelParams
from impact.datasets.cluster.world import World

__all__ = ["PATHS", "simulate"]

PATHS = ("00", "0S", "DS")
_SIZE_CUTS = (50.0, 250.0)


def _effect(path: tuple[float, ...], e: np.ndarray) -> np.ndarray:
    """Effect by event time ``e >= 0`` (last value carried forward); 0 where ``e < 0``."""
    arr = np.asarray(path, dtype=float)
    out = arr[np.clip(e, 0, len(arr) - 1)]
    return np.where(e >= 0, out, 0.0)


def _sector_mean(values: np.ndarray, sector: np.ndarray, n_sectors: int) -> np.ndarray:
    s = np.bincount(sector, weights=values, minlength=n_sectors + 1)
    c = np.bincount(sector, minlength=n_sectors + 1)
    return (s / np.maximum(c, 1))[sector]


def _sector_quantile(values: np.ndarray, sector: np.ndarray, q: float) -> np.ndarray:
    s = pd.Series(values).groupby(sector).transform(lambda v: v.quantile(q))
    return s.to_numpy()


class _Firms:
    """Per-firm state arrays that grow as firms enter."""

    FIELDS = (
        "cell",
        "region",
        "sector",
        "ht",
        "launch",
        "h",
        "u",
        "z",
        "entry",
        "alive",
        "join",
        "mult",
        "size_cls",
        "base_year",
        "founder",
    )
    PATH_FIELDS = ("K", "inv", "l_prev", "rd_prev", "omega_prev")

    def __init__(self) -> None:
        self.n = 0
        self.a: dict[str, np.ndarray] = {}
        self.p: dict[str, np.ndarray] = {}

    def add(self, cols: dict[str, np.ndarray], path_cols: dict[str, np.ndarray]) -> None:
        m = len(next(iter(cols.values())))
        for k in self.FIELDS:
            self.a[k] = np.concatenate([self.a[k], cols[k]]) if self.n else cols[k]
        for k in self.PATH_FIELDS:
            self.p[k] = (
                np.concatenate([self.p[k], path_cols[k]], axis=1) if self.n else path_cols[k]
            )
        self.n += m


def _new_firms(
    p: ClusterPanelParams, w: World, rng: np.random.Generator, n: int, year: int, entrant: bool
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    cell = rng.choice(w.n_cells, size=n, p=w.cell_prob)
    sector = w.cell_sector[cell]
    launch = w.launch_year[cell]
    k_mean = p.mu_k + (p.entrant_k_shift if entrant else 0.0)
    logk = rng.normal(k_mean, p.sd_k0, n)
    if entrant:
        u = rng.normal(p.entrant_u_mean, p.entrant_u_sd, n)
    else:
        u = rng.normal(0.0, p.sigma_xi / np.sqrt(1 - p.rho**2), n)
    z = rng.normal(0.0, p.sigma_w / np.sqrt(1 - p.rho_w**2), n)
    first_launch = min(y for y, _ in p.launch_waves)
    cols = {
        "cell": cell,
        "region": w.cell_region[cell],
        "sector": sector,
        "ht": w.high_tech[sector],
        "launch": launch,
        "h": rng.normal(0.0, 1.0, n),
        "u": u,
        "z": z,
        "entry": np.full(
            n,
            year
            if entrant
            else year - 1 - np.round(rng.gamma(p.age_shape, p.age_scale, n)).astype(np.int64),
        ),
        "alive": np.ones(n, dtype=bool),
        "join": np.zeros(n, dtype=np.int64),
        "mult": np.full(n, np.nan),
        "size_cls": np.full(n, -1, dtype=np.int64),
        "base_year": np.where(launch > 0, launch - 1, first_launch - 1),
        "founder": np.zeros(n, dtype=bool),
    }
    nan3 = np.full((3, n), np.nan)
    path_cols = {
        "K": np.tile(np.exp(logk), (3, 1)),
        "inv": np.zeros((3, n)),
        "l_prev": nan3.copy(),
        "rd_prev": np.zeros((3, n)),
        "omega_prev": nan3.copy(),
    }
    return cols, path_cols


def simulate(
    p: ClusterPanelParams,
    world: World,
    rng: np.random.Generator,
    *,
    n_firms: int,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Simulate the economy; return one row per firm-year of the observed window.

    Columns: firm ids and design columns, plus ``<outcome>_<path>`` for every outcome
    (``omega``, ``l``, ``k``, ``y``, ``m``, ``inv``, ``rd``) on every path.
    """
    t0 = p.first_year - p.burn_in
    firms = _Firms()
    # incumbents at the start of the burn-in, scaled so that ~n_firms are alive in first_year
    n_start = round(n_firms / (1.0 + p.entry_rate - 0.054) ** p.burn_in)
    firms.add(*_new_firms(p, world, rng, n_start, t0, entrant=False))
    kap = p.selection_kappas()
    shocks = dict(p.year_shocks)
    log_sm = np.log(p.materials_share / (1.0 - p.materials_share))
    price = np.zeros(p.n_sectors + 1)
    records: list[dict[str, np.ndarray]] = []
    for t in range(t0, p.last_year + 1):
        if t > t0:
            n_new = rng.poisson(p.entry_rate * int(firms.a["alive"].sum()))
            if n_new:
                firms.add(*_new_firms(p, world, rng, n_new, t, entrant=True))
        a, pp = firms.a, firms.p
        idx = np.flatnonzero(a["alive"])
        n = len(idx)
        sec, ht, launch = a["sector"][idx], a["ht"][idx], a["launch"][idx]
        is_new = a["entry"][idx] == t
        # ---- common draws (rule 4): one per firm-year, shared by the three paths
        xi = rng.normal(0.0, p.sigma_xi, n)
        eps = rng.normal(0.0, p.sigma_eps, n)
        eta_l = rng.normal(0.0, p.sigma_l, n)
        nu = rng.normal(0.0, p.sigma_nu, n) if p.sigma_nu > 0 else np.zeros(n)
        u_wage = rng.normal(0.0, p.sigma_w, n)
        u_rd, u_exit, u_join, u_lumpy = rng.uniform(size=(4, n))
        price = price + p.price_drift + rng.normal(0.0, p.price_sd, p.n_sectors + 1)
        u = np.where(is_new, a["u"][idx], p.rho * a["u"][idx] + xi)
        z = np.where(is_new, a["z"][idx], p.rho_w * a["z"][idx] + u_wage)
        a["u"][idx], a["z"][idx] = u, z
        trend = np.where(ht, p.tau_high, p.tau_low) * (t - p.first_year)
        omega0 = trend + shocks.get(t, 0.0) + u
        log_wage = world.region_wage[a["region"][idx] - 1] + p.wage_trend * (t - p.first_year) + z
        real_wage = p.real_wage_level + log_wage - (price[sec] - p.price_drift * (t - t0 + 1))
        # ---- treatment status (membership fixed once drawn; rule 1)
        join = a["join"][idx]
        member = (join > 0) & (join <= t)
        e = np.where(join > 0, t - join, -99)
        exposed = (launch > 0) & (t >= launch)
        ec = np.where(exposed, t - launch, -99)
        mult = np.nan_to_num(a["mult"][idx], nan=0.0)
        if p.cohort_multipliers is not None:
            founder_mult = np.where(a["founder"][idx], *p.cohort_multipliers)
            mult = mult * founder_mult
        innov_mult = mult * np.where(ht, p.high_tech_innovation_multiplier, 1.0)
        d_omega = np.where(member, _effect(p.effect_omega, e), 0.0) * mult
        d_l = np.where(member, _effect(p.effect_l, e), 0.0) * mult
        d_rd = np.where(member, _effect(p.effect_rd, e), 0.0) * innov_mult
        if p.anticipation_rd:
            d_rd = d_rd + np.where(e == -1, p.anticipation_rd, 0.0) * innov_mult
        s_on = p.spillovers
        s_omega = np.where(exposed & s_on, _effect(p.spill_omega, ec), 0.0)
        s_l = np.where(exposed & s_on, _effect(p.spill_l, ec), 0.0)
        # ---- the three paths
        out: dict[str, np.ndarray] = {}
        k_path, l_path, omega_path = [], [], []
        for j, name in enumerate(PATHS):
            spill = 0.0 if name == "00" else (1.0 if name == "0S" else (~member).astype(float))
            direct = 1.0 if name == "DS" else 0.0
            omega = omega0 + direct * d_omega + spill * s_omega
            K_prev, inv_prev = pp["K"][j, idx], pp["inv"][j, idx]
            K = np.where(is_new, K_prev, (1.0 - p.delta_k) * K_prev + inv_prev)
            k = np.log(K)
            l_star = (np.log(p.beta_l) + p.beta0 + p.beta_k * k + omega - real_wage) / (
                1 - p.beta_l
            )
            l_prev = np.where(np.isnan(pp["l_prev"][j, idx]), l_star, pp["l_prev"][j, idx])
            adj = p.labour_adjust
            lab = adj * l_star + (1 - adj) * l_prev + eta_l + direct * d_l + spill * s_l
            k_path.append(k), l_path.append(lab), omega_path.append(omega)
            pp["K"][j, idx] = K
            out[f"omega_{name}"], out[f"l_{name}"], out[f"k_{name}"] = omega, lab, k
            out[f"y_{name}"] = p.beta0 + p.beta_l * lab + p.beta_k * k + omega + eps
            out[f"m_{name}"] = p.beta0 + p.beta_l * lab + p.beta_k * k + omega + log_sm
        # ---- sector-year statistics on the no-policy path (rule 2)
        omega_bar = _sector_mean(omega0, sec, p.n_sectors)
        l_bar = _sector_mean(l_path[0], sec, p.n_sectors)
        k_bar = _sector_mean(k_path[0], sec, p.n_sectors)
        logistic = np.log(u_rd) - np.log1p(-u_rd)
        rd_icpt = np.where(ht, p.rd_intercept_high, p.rd_intercept_low)
        for j, name in enumerate(PATHS):
            omega_t = omega_path[j] - omega_bar
            inv = p.delta_k * np.exp(k_path[j] + p.iota_omega * omega_t + nu)
            if p.lumpy_investment > 0:
                inv = np.where(u_lumpy < p.lumpy_investment, 0.0, inv)
            pp["inv"][j, idx] = inv
            out[f"inv_{name}"] = inv
            latent = (
                rd_icpt
                + p.rd_omega * omega_t
                + p.rd_l * (l_path[j] - l_bar)
                + p.rd_h * a["h"][idx]
                + p.rd_persistence * pp["rd_prev"][j, idx]
                + logistic
            )
            if name == "DS":
                latent = latent + d_rd
            rd = (latent > 0).astype(float)
            out[f"rd_{name}"] = rd
            pp["rd_prev"][j, idx] = rd
            pp["l_prev"][j, idx] = l_path[j]
        # ---- size class at the baseline year (multiplier of §4.6)
        emp_obs = np.exp(l_path[2])
        cls = np.searchsorted(np.asarray(_SIZE_CUTS), emp_obs, side="right")
        set_cls = (t <= a["base_year"][idx]) | (a["size_cls"][idx] < 0)
        a["size_cls"][idx] = np.where(set_cls, cls, a["size_cls"][idx])
        a["mult"][idx] = np.asarray(p.size_multipliers)[a["size_cls"][idx]]
        # ---- record the observed window
        if t >= p.first_year:
            rec = {
                "firm": idx,
                "year": np.full(n, t),
                "entry": a["entry"][idx],
                "omega_bar": omega_bar,
                "l_bar": l_bar,
                "real_wage": real_wage,
                "log_wage": log_wage,
            }
            rec.update(out)
            records.append(rec)
        # ---- joining decisions for t + 1 from observed states at t (selection)
        omega_obs_t = omega_path[2] - omega_bar
        d_omega_obs = omega_path[2] - np.where(
            np.isnan(pp["omega_prev"][2, idx]), omega_path[2], pp["omega_prev"][2, idx]
        )
        for j in range(3):
            pp["omega_prev"][j, idx] = omega_path[j]
        # ---- exit at the end of t (no-policy path, rule 3)
        index = omega0 + p.exit_k_weight * (k_path[0] - k_bar)
        q = _sector_quantile(index, sec, p.exit_quantile)
        exits = (index < q) | (u_exit < p.random_exit)
        eligible = (launch > 0) & (t + 1 >= launch) & (join == 0) & ~exits
        score = (
            p.kappa_0
            + kap["L"] * (l_path[2] - l_bar)
            + kap["omega"] * omega_obs_t
            + kap["h"] * a["h"][idx]
            + kap["rd"] * pp["rd_prev"][2, idx]
            + kap["delta"] * d_omega_obs
            + p.kappa_1 * (t + 1 == launch)
        )
        joins = eligible & (u_join < 1.0 / (1.0 + np.exp(-score)))
        a["join"][idx[joins]] = t + 1
        a["founder"][idx[joins]] = t + 1 == launch[joins]
        a["alive"][idx[exits]] = False
        if progress is not None:
            progress(t)
    df = pd.DataFrame({k: np.concatenate([r[k] for r in records]) for k in records[0]})
    firm = df["firm"].to_numpy()
    for col in ("cell", "region", "sector", "ht", "launch", "join", "size_cls", "h", "founder"):
        df[col] = firms.a[col][firm]
    df["mult"] = np.asarray(p.size_multipliers)[df["size_cls"].to_numpy()]
    return df
