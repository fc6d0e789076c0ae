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

from impact.datasets.cluster import outcomes as O
from impact.datasets.cluster.firms import (
    SIZE_CUTS,
    Firms,
    materials,
    new_firms,
    productivity_draw,
    sector_mean,
    sector_quantile,
    status,
)
from impact.datasets.cluster.params import ClusterPanelParams
from impact.datasets.cluster.world import World

__all__ = ["PATHS", "simulate"]

PATHS = ("00", "0S", "DS")
#: Simulated series kept in the output, by stem (``<stem>_<path>``).
RECORDED = {
    f"{stem}_{path}"
    for stem in (
        "omega",
        "l",
        "k",
        "y",
        "m",
        "inv",
        "rd",
        "export",
        "xval",
        "xint",
        "rdint",
        "rdexp",
        "patmu",
        "patents",
        "innov",
        "sales",
    )
    for path in ("00", "0S", "DS")
}


def simulate(
    p: ClusterPanelParams,
    world: World,
    rng: np.random.Generator,
    *,
    n_firms: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], pd.DataFrame]:
    """Simulate the economy; return one row per firm-year of the observed window.

    Returns ``(observed, paths, prices)``: dicts of equal-length arrays ``observed`` with
    firm ids, design columns,
    ``alive_DS`` and ``<stem>_DS`` for every simulated firm-year; ``paths`` has
    ``alive_00``, ``alive_0S``, ``<stem>_00`` and ``<stem>_0S`` for the firm-years in cluster
    cells only, in the same order as those rows of ``observed`` (outside cluster cells the
    three paths are identical, DGP.md §0 rule 2); and a price table with one
    row per observed year and sector: ``log_p_output``, ``log_p_materials``,
    ``log_p_investment`` (log price levels, random walks with drift).
    """
    t0 = p.first_year - p.burn_in
    firms = Firms()
    # incumbents at the start of the burn-in, scaled so that ~n_firms are alive in first_year
    n_start = round(n_firms / (1.0 + p.entry_rate - 0.054) ** p.burn_in)
    firms.add(*new_firms(p, world, rng, n_start, t0, entrant=False))
    kap = p.selection_kappas()
    shocks = dict(p.year_shocks)
    price = np.zeros(p.n_sectors + 1)
    price_mat = price_inv = 0.0
    records: list[dict[str, np.ndarray]] = []
    path_records: list[dict[str, np.ndarray]] = []
    prices: list[dict[str, object]] = []
    for t in range(t0, p.last_year + 1):
        if t > t0:
            n_new = rng.poisson(p.entry_rate * int(firms.p["alive"][0].sum()))
            if n_new:
                firms.add(*new_firms(p, world, rng, n_new, t, entrant=True))
        a, pp = firms.a, firms.p
        idx = np.flatnonzero(a["alive"])
        n = len(idx)
        sec, ht, launch, h = a["sector"][idx], a["ht"][idx], a["launch"][idx], a["h"][idx]
        alive = pp["alive"][:, idx]
        is_new = a["entry"][idx] == t
        # ---- common draws (rule 4): one per firm-year, shared by the three paths
        xi = rng.normal(0.0, p.sigma_xi, n)
        eps = rng.normal(0.0, p.sigma_eps, n)
        eta_l = rng.normal(0.0, p.sigma_l, n)
        nu = rng.normal(0.0, p.sigma_nu, n) if p.sigma_nu > 0 else np.zeros(n)
        u_wage = rng.normal(0.0, p.sigma_w, n)
        u_rd, u_exit, u_join, u_lumpy = rng.uniform(size=(4, n))
        trade = O.draw_trade(p, rng, n)
        # ACF timing: the mid-period innovation is an extra draw, so default streams are unchanged
        xi_mid = rng.standard_normal(n) if p.labour_timing > 0 else None
        price = price + p.price_drift + rng.normal(0.0, p.price_sd, p.n_sectors + 1)
        price_mat += p.materials_price_drift + rng.normal(0.0, p.price_sd)
        price_inv += p.investment_price_drift + rng.normal(0.0, p.price_sd)
        u, u_seen = productivity_draw(p, a["u"][idx], xi, xi_mid, is_new)
        z = np.where(is_new, a["z"][idx], p.rho_w * a["z"][idx] + u_wage)
        a["u"][idx], a["z"][idx] = u, z
        trend = np.where(ht, p.tau_high, p.tau_low) * (t - p.first_year)
        omega0 = trend + shocks.get(t, 0.0) + u
        log_wage = world.region_wage[a["region"][idx] - 1] + p.wage_trend * (t - p.first_year) + z
        real_wage = p.real_wage_level + log_wage - (price[sec] - p.price_drift * (t - t0 + 1))
        st = status(p, a, idx, t)
        member, dd, ss = st["member"], st["direct"], st["spill"]
        # ---- the three paths: productivity, capital, labour, output
        out: dict[str, np.ndarray] = {}
        k_path, l_path, omega_path, q_path = [], [], [], []
        spill_w = [np.zeros(n), np.ones(n), (~member).astype(float)]
        for j, name in enumerate(PATHS):
            spill, direct = spill_w[j], float(name == "DS")
            omega = omega0 + direct * dd["omega"] + spill * ss["omega"]
            K_prev, inv_prev = pp["K"][j, idx], pp["inv"][j, idx]
            K = np.where(is_new, K_prev, (1.0 - p.delta_k) * K_prev + inv_prev)
            k = np.log(K)
            # labour is chosen on the productivity known at t - b (= omega when b = 0)
            omega_seen = omega if u_seen is u else omega - (u - u_seen)
            l_star = (np.log(p.beta_l) + p.beta0 + p.beta_k * k + omega_seen - real_wage) / (
                1 - p.beta_l
            )
            l_prev = np.where(np.isnan(pp["l_prev"][j, idx]), l_star, pp["l_prev"][j, idx])
            adj = p.labour_adjust
            lab = adj * l_star + (1 - adj) * l_prev + eta_l + direct * dd["l"] + spill * ss["l"]
            y = p.beta0 + p.beta_l * lab + p.beta_k * k + omega + eps
            m = materials(p, lab, k, omega)
            k_path.append(k), l_path.append(lab), omega_path.append(omega)
            q_path.append(np.exp(y) + np.exp(m))
            pp["K"][j, idx] = K
            out[f"omega_{name}"], out[f"l_{name}"], out[f"k_{name}"] = omega, lab, k
            out[f"y_{name}"], out[f"m_{name}"] = y, m
        # ---- sector-year statistics on the no-policy path (rule 2)
        on0 = alive[0]
        omega_bar = sector_mean(omega0, sec, p.n_sectors, on0)
        l_bar = sector_mean(l_path[0], sec, p.n_sectors, on0)
        k_bar = sector_mean(k_path[0], sec, p.n_sectors, on0)
        logistic = np.log(u_rd) - np.log1p(-u_rd)
        rd_icpt = np.where(ht, p.rd_intercept_high, p.rd_intercept_low)
        for j, name in enumerate(PATHS):
            direct = float(name == "DS")
            omega_t = omega_path[j] - omega_bar
            l_dev = l_path[j] - l_bar
            inv = p.delta_k * np.exp(k_path[j] + p.iota_omega * omega_t + nu)
            if p.lumpy_investment > 0:
                inv = np.where(u_lumpy < p.lumpy_investment, 0.0, inv)
            pp["inv"][j, idx] = inv
            latent = (
                rd_icpt
                + p.rd_omega * omega_t
                + p.rd_l * l_dev
                + p.rd_h * h
                + p.rd_persistence * pp["rd_prev"][j, idx]
                + logistic
                + direct * dd["rd"]
            )
            rd = (latent > 0).astype(float)
            exp_status = O.export_status(
                p,
                ht=ht,
                omega_t=omega_t,
                l_dev=l_dev,
                h=h,
                prev=pp["exp_prev"][j, idx],
                shift=direct * dd["export"] + spill_w[j] * ss["export"],
                noise=trade.exp_noise,
            )
            intensity = O.export_intensity(
                p,
                omega_t=omega_t,
                h=h,
                v=a["v"][idx],
                shift=direct * dd["intensity"],
                noise=trade.int_noise,
            )
            rd_int = O.rd_intensity(
                p, ht=ht, h=h, r=a["r"][idx], shift=direct * dd["rd_int"], noise=trade.rd_noise
            )
            rd_exp = rd * np.exp(rd_int) * q_path[j]
            stock = (1.0 - p.knowledge_depreciation) * pp["stock"][j, idx] + rd_exp
            out.update(
                {
                    f"inv_{name}": inv,
                    f"rd_{name}": rd,
                    f"export_{name}": exp_status,
                    f"xval_{name}": exp_status * intensity * q_path[j],
                    f"xint_{name}": intensity,
                    f"rdint_{name}": rd_int,
                    f"rdexp_{name}": rd_exp,
                    f"stock_{name}": stock,
                    f"sales_{name}": q_path[j],
                }
            )
            pp["rd_prev"][j, idx], pp["exp_prev"][j, idx] = rd, exp_status
            pp["stock"][j, idx], pp["l_prev"][j, idx] = stock, l_path[j]
        # patents and product innovation: the stock normaliser comes from the 00 path
        stock_norm = max(float(out["stock_00"][on0].mean()), 1e-12)
        for j, name in enumerate(PATHS):
            direct = float(name == "DS")
            mu, count = O.patents(
                p,
                ht=ht,
                stock=out[f"stock_{name}"],
                stock_norm=stock_norm,
                h=h,
                l_dev=l_path[j] - l_bar,
                shift=direct * dd["patents"],
                u=trade.patent_u,
            )
            out[f"patmu_{name}"], out[f"patents_{name}"] = mu, count
            out[f"innov_{name}"] = O.product_innovation(
                p,
                ht=ht,
                rd=out[f"rd_{name}"],
                h=h,
                shift=direct * dd["innov"],
                noise=trade.innov_noise,
            )
        # ---- size class at the baseline year (multiplier of §4.6)
        cls = np.searchsorted(np.asarray(SIZE_CUTS), np.exp(l_path[2]), side="right")
        set_cls = (t <= a["base_year"][idx]) | (a["size_cls"][idx] < 0)
        a["size_cls"][idx] = np.where(set_cls, cls, a["size_cls"][idx])
        a["mult"][idx] = np.asarray(p.size_multipliers)[a["size_cls"][idx]]
        if t >= p.first_year:
            for sector in range(1, p.n_sectors + 1):
                prices.append(
                    {
                        "year": t,
                        "sector": sector,
                        "log_p_output": float(price[sector]),
                        "log_p_materials": price_mat,
                        "log_p_investment": price_inv,
                    }
                )
            rec = {
                "firm": idx,
                "year": np.full(n, t),
                "entry": a["entry"][idx],
                "real_wage": real_wage,
                "alive_DS": alive[2].copy(),
            }
            rec.update({k: v for k, v in out.items() if k.endswith("_DS") and k in RECORDED})
            records.append(rec)
            # paths differ only inside cluster cells (rule 2): store the others' 00/0S there only
            cc = launch > 0
            prec = {f"alive_{name}": alive[j][cc] for j, name in enumerate(PATHS[:2])}
            prec.update(
                {k: v[cc] for k, v in out.items() if not k.endswith("_DS") and k in RECORDED}
            )
            path_records.append(prec)
        # ---- joining decisions for t + 1 from observed states at t (selection)
        prev_obs = pp["omega_prev"][2, idx]
        d_omega_obs = omega_path[2] - np.where(np.isnan(prev_obs), omega_path[2], prev_obs)
        for j in range(3):
            pp["omega_prev"][j, idx] = omega_path[j]
        # ---- exit at the end of t: no-policy path (rule 3) unless endogenous_exit
        index0 = omega0 + p.exit_k_weight * (k_path[0] - k_bar)
        q = sector_quantile(index0, sec, p.exit_quantile, on0)
        for j in range(3):
            if p.endogenous_exit:
                index = omega_path[j] + p.exit_k_weight * (k_path[j] - k_bar)
            else:
                index = index0
            exits = (index < q) | (u_exit < p.random_exit)
            pp["alive"][j, idx[exits]] = False
        alive_next = pp["alive"][:, idx]
        # with anticipation, the decision to join in t + 2 is taken (applied for) in t + 1
        lead = 2 if p.anticipation_rd else 1
        eligible = (launch > 0) & (t + lead >= launch) & (a["join"][idx] == 0) & alive_next[2]
        score = (
            p.kappa_0
            + kap["L"] * (l_path[2] - l_bar)
            + kap["omega"] * (omega_path[2] - omega_bar)
            + kap["h"] * h
            + kap["rd"] * pp["rd_prev"][2, idx]
            + kap["delta"] * d_omega_obs
            + p.kappa_1 * (t + lead == launch)
        )
        joins = eligible & (u_join < 1.0 / (1.0 + np.exp(-score)))
        a["join"][idx[joins]] = t + lead
        a["founder"][idx[joins]] = t + lead == launch[joins]
        if p.leave_hazard > 0:  # members leave from t + 1 (one draw per firm, own stream use)
            stays = a["leave"][idx] == 0
            leaves = member & stays & (rng.uniform(size=n) < p.leave_hazard)
            a["leave"][idx[leaves]] = t + 1
        a["alive"][idx] = alive_next.any(axis=0)
        if progress is not None:
            progress(t)
    df = _stack(records)
    paths = _stack(path_records)
    firm = df["firm"]
    for col in ("cell", "region", "sector", "ht", "launch", "join", "leave", "size_cls", "h",
                "founder"):  # fmt: skip
        df[col] = firms.a[col][firm]
    return df, paths, pd.DataFrame(prices)


def _stack(records: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate per-year records column by column, freeing each year's arrays as it goes."""
    keys = list(records[0])
    return {k: np.concatenate([r.pop(k) for r in records]) for k in keys}
