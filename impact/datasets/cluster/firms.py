"""Firms of the synthetic cluster panel: entry, membership status, productivity draws and
inputs, the building blocks :func:`impact.datasets.cluster.simulate.simulate` steps through
(DGP.md §2-§4)."""

from __future__ import annotations

import numpy as np

from impact.datasets.cluster.params import ClusterPanelParams
from impact.datasets.cluster.world import World

__all__ = [
    "SIZE_CUTS",
    "Firms",
    "effect",
    "materials",
    "new_firms",
    "productivity_draw",
    "sector_mean",
    "sector_quantile",
    "status",
]

SIZE_CUTS = (50.0, 250.0)


def effect(path: tuple[float, ...], e: np.ndarray) -> np.ndarray:
    """Effect by event time ``e >= 0`` (last value carried forward); 0 where ``e < 0``."""
    arr = np.asarray(path, dtype=float)
    out = arr[np.clip(e, 0, len(arr) - 1)]
    return np.where(e >= 0, out, 0.0)


def sector_mean(
    values: np.ndarray, sector: np.ndarray, n_sectors: int, on: np.ndarray
) -> np.ndarray:
    """Sector mean over the firms in ``on`` (alive on the no-policy path), per row."""
    s = np.bincount(sector[on], weights=values[on], minlength=n_sectors + 1)
    c = np.bincount(sector[on], minlength=n_sectors + 1)
    return (s / np.maximum(c, 1))[sector]


def sector_quantile(values: np.ndarray, sector: np.ndarray, q: float, on: np.ndarray) -> np.ndarray:
    """Sector quantile over the firms in ``on``, per row."""
    out = np.zeros(int(sector.max()) + 1)
    for s in np.unique(sector[on]):
        out[s] = np.quantile(values[on & (sector == s)], q)
    return out[sector]


class Firms:
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
        "leave",
        "mult",
        "size_cls",
        "base_year",
        "founder",
        "v",
        "r",
    )
    PATH_FIELDS = ("K", "inv", "l_prev", "rd_prev", "omega_prev", "exp_prev", "stock", "alive")

    def __init__(self) -> None:
        self.n = 0
        self._a: dict[str, np.ndarray] = {}
        self._p: dict[str, np.ndarray] = {}
        self.a: dict[str, np.ndarray] = {}
        self.p: dict[str, np.ndarray] = {}

    def add(self, cols: dict[str, np.ndarray], path_cols: dict[str, np.ndarray]) -> None:
        """Append firms; storage grows geometrically so appends are amortised O(1)."""
        m = len(next(iter(cols.values())))
        need = self.n + m
        cap = len(self._a["cell"]) if self._a else 0
        if need > cap:
            new_cap = max(need, int(cap * 1.5))
            for k in self.FIELDS:
                arr = np.zeros(new_cap, dtype=cols[k].dtype)
                if self.n:
                    arr[: self.n] = self._a[k][: self.n]
                self._a[k] = arr
            for k in self.PATH_FIELDS:
                arr = np.zeros((3, new_cap), dtype=path_cols[k].dtype)
                if self.n:
                    arr[:, : self.n] = self._p[k][:, : self.n]
                self._p[k] = arr
        for k in self.FIELDS:
            self._a[k][self.n : need] = cols[k]
        for k in self.PATH_FIELDS:
            self._p[k][:, self.n : need] = path_cols[k]
        self.n = need
        self.a = {k: v[:need] for k, v in self._a.items()}
        self.p = {k: v[:, :need] for k, v in self._p.items()}


def new_firms(
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
        "leave": np.zeros(n, dtype=np.int64),
        "mult": np.full(n, np.nan),
        "size_cls": np.full(n, -1, dtype=np.int64),
        "base_year": np.where(launch > 0, launch - 1, first_launch - 1),
        "founder": np.zeros(n, dtype=bool),
        "v": rng.normal(0.0, p.export_intensity_fe_sd, n),
        "r": rng.normal(0.0, p.rd_intensity_fe_sd, n),
    }
    nan3 = np.full((3, n), np.nan)
    path_cols = {
        "K": np.tile(np.exp(logk), (3, 1)),
        "inv": np.zeros((3, n)),
        "l_prev": nan3.copy(),
        "rd_prev": np.zeros((3, n)),
        "omega_prev": nan3.copy(),
        "exp_prev": np.zeros((3, n)),
        "stock": np.zeros((3, n)),
        "alive": np.ones((3, n), dtype=bool),
    }
    return cols, path_cols


def status(p: ClusterPanelParams, a: dict[str, np.ndarray], idx: np.ndarray, t: int) -> dict:
    """Membership, exposure and the structural shifts of one year (DGP.md §4.6)."""
    join, launch, ht = a["join"][idx], a["launch"][idx], a["ht"][idx]
    leave = a["leave"][idx]
    member = (join > 0) & (join <= t) & ((leave == 0) | (t < leave))
    e = np.where(join > 0, t - join, -99)
    exposed = (launch > 0) & (t >= launch) & p.spillovers
    ec = np.where(exposed, t - launch, -99)
    mult = np.nan_to_num(a["mult"][idx], nan=0.0)
    if p.cohort_multipliers is not None:
        mult = mult * np.where(a["founder"][idx], *p.cohort_multipliers)
    innov = mult * np.where(ht, p.high_tech_innovation_multiplier, 1.0)

    def direct(path: tuple[float, ...], m: np.ndarray) -> np.ndarray:
        return np.where(member, effect(path, e), 0.0) * m

    rd_int_path = (0.0, -0.20) if p.rd_crowding_out else p.effect_rd_intensity
    d = {
        "omega": direct(p.effect_omega, mult),
        "l": direct(p.effect_l, mult),
        "rd": direct(p.effect_rd, innov),
        "export": direct(p.effect_export, mult),
        "intensity": direct(p.effect_export_intensity, mult),
        "rd_int": direct(rd_int_path, innov),
        "patents": direct(p.effect_patents, innov),
        "innov": direct(p.effect_innovation, innov),
    }
    if p.anticipation_rd:
        d["rd"] = d["rd"] + np.where(e == -1, p.anticipation_rd, 0.0) * innov
    spill = {
        "omega": np.where(exposed, effect(p.spill_omega, ec), 0.0),
        "l": np.where(exposed, effect(p.spill_l, ec), 0.0),
        "export": np.where(exposed, effect(p.spill_export, ec), 0.0),
    }
    return {"member": member, "direct": d, "spill": spill}


def productivity_draw(
    p: ClusterPanelParams,
    u_prev: np.ndarray,
    xi: np.ndarray,
    xi_mid: np.ndarray | None,
    is_new: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """AR(1) productivity step; returns ``(u_t, u seen when labour is chosen)``.

    With ``labour_timing = b > 0`` the year is split at t - b (the ACF Monte Carlo): u moves
    ``u_mid = rho^(1-b) u_prev + a`` and ``u_t = rho^b u_mid + c`` with innovation variances
    that keep the annual process AR(1) with the same rho and sd(u); labour sees
    ``E[u_t | u_mid] = rho^b u_mid``. Entrants keep their entry draw.
    """
    if p.labour_timing <= 0 or xi_mid is None:
        u = np.where(is_new, u_prev, p.rho * u_prev + xi)
        return u, u
    b = p.labour_timing
    sd_u = p.sigma_xi / np.sqrt(1.0 - p.rho**2)
    r_a, r_b = p.rho ** (1.0 - b), p.rho**b
    u_mid = r_a * u_prev + sd_u * np.sqrt(1.0 - r_a**2) * xi_mid
    c = xi * (sd_u * np.sqrt(1.0 - r_b**2) / p.sigma_xi)
    u = np.where(is_new, u_prev, r_b * u_mid + c)
    return u, np.where(is_new, u_prev, r_b * u_mid)


def materials(p: ClusterPanelParams, lab, k, omega) -> np.ndarray:
    log_sm = np.log(p.materials_share / (1.0 - p.materials_share))
    if p.materials == "leontief":
        return p.beta0 + p.beta_l * lab + p.beta_k * k + omega + log_sm
    if p.materials == "lp_valid":  # m = m(omega, k): a valid Levinsohn-Petrin proxy
        return p.beta0 + log_sm + (p.beta_k * k + omega) / (1.0 - p.beta_l)
    raise ValueError(f"materials must be 'leontief' or 'lp_valid', got {p.materials!r}")
