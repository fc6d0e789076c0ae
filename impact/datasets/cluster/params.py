"""Parameters and scenarios of the synthetic cluster-firm panel (DGP.md §4)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from impact.errors import InvalidOptionError, close_matches_hint

__all__ = [
    "ACF_REPLICA",
    "PRODUCTION_COLUMNS",
    "SCENARIOS",
    "ClusterPanelParams",
    "scenario_params",
]


@dataclass(frozen=True)
class ClusterPanelParams:
    """Every parameter of the generator; defaults are the embedded default scenario.

    Values marked [K] in DGP.md are calibration choices checked by the generator's own
    tests (DGP.md §4.12). Sequences indexed by event time ``e = 0, 1, ...`` use their
    last value for larger ``e``.
    """

    # ----- structure (§4.1)
    first_year: int = 2004
    last_year: int = 2019
    burn_in: int = 20
    n_regions: int = 12
    n_sectors: int = 8
    high_tech_sectors: tuple[int, ...] = (6, 7, 8)
    cell_size_sd: float = 0.5
    region_weight_sd: float = 0.4
    sector_weight_sd: float = 0.4
    entry_rate: float = 0.04
    age_shape: float = 2.0
    age_scale: float = 8.0
    mu_k: float = 6.0
    sd_k0: float = 1.4
    entrant_k_shift: float = -0.5
    launch_waves: tuple[tuple[int, int], ...] = ((2008, 6), (2010, 5), (2012, 5))
    # ----- productivity (§4.2)
    rho: float = 0.8
    sigma_xi: float = 0.18
    tau_low: float = 0.010
    tau_high: float = 0.020
    year_shocks: tuple[tuple[int, float], ...] = ((2009, -0.05), (2010, 0.02))
    entrant_u_mean: float = -0.10
    entrant_u_sd: float = 0.30
    # ----- inputs and output (§4.3)
    beta0: float = 3.36
    beta_l: float = 0.60
    beta_k: float = 0.30
    sigma_eps: float = 0.10
    delta_k: float = 0.08
    iota_omega: float = 1.0
    sigma_nu: float = 0.0
    lumpy_investment: float = 0.0
    labour_adjust: float = 0.6
    labour_timing: float = 0.0
    sigma_l: float = 0.10
    rho_w: float = 0.3
    sigma_w: float = 0.10
    region_wage_sd: float = 0.10
    real_wage_level: float = 3.4
    wage_trend: float = 0.02
    price_drift: float = 0.02
    price_sd: float = 0.01
    materials_price_drift: float = 0.015
    investment_price_drift: float = 0.010
    materials_share: float = 0.55
    # ----- exit (§4.4)
    exit_quantile: float = 0.03
    exit_k_weight: float = 0.1
    random_exit: float = 0.02
    # ----- cluster entry (§4.5)
    selection: str = "realistic"
    kappa_0: float = -2.75
    kappa_L: float = 0.4
    kappa_omega: float = 0.5
    kappa_h: float = 0.5
    kappa_rd: float = 0.8
    kappa_delta: float = 0.0
    kappa_1: float = 1.0
    #: yearly probability that a member leaves its cluster (§4.5; 0: membership absorbing).
    #: A firm that leaves does not re-join; the programme's direct shifts stop, its
    #: accumulated capital, labour and knowledge carry over.
    leave_hazard: float = 0.0
    # ----- R&D performer status (§4.7; used by selection)
    rd_intercept_low: float = -3.6
    rd_intercept_high: float = -2.1
    rd_persistence: float = 4.4
    rd_omega: float = 0.8
    rd_l: float = 0.5
    rd_h: float = 0.8
    # ----- exports (§4.7)
    export_icpt_low: float = -3.5
    export_icpt_high: float = -2.6
    export_persistence: float = 5.0
    export_omega: float = 1.5
    export_l: float = 0.7
    export_h: float = 0.5
    export_intensity_icpt: float = -1.5
    export_intensity_fe_sd: float = 0.8
    export_intensity_sd: float = 0.3
    # ----- R&D intensity, knowledge stock, patents, product innovation (§4.7)
    rd_intensity_fe_sd: float = 0.6
    rd_intensity_sd: float = 0.3
    knowledge_depreciation: float = 0.15
    patent_icpt_low: float = -3.8
    patent_icpt_high: float = -2.3
    patent_alpha: float = 1.5
    innovation_icpt: float = -1.6
    # ----- options for estimator tests (§4.3, §4.4)
    endogenous_exit: bool = False
    materials: str = "leontief"
    materials_error: float = 0.0
    # ----- treatment effects (§4.6)
    effect_omega: tuple[float, ...] = (-0.010, 0.000, 0.010, 0.015, 0.020, 0.020)
    effect_l: tuple[float, ...] = (0.005, 0.010, 0.015, 0.020, 0.020, 0.020)
    effect_rd: tuple[float, ...] = (0.1, 0.2, 0.3, 0.3, 0.3, 0.3)
    effect_export: tuple[float, ...] = (0.0, 0.05, 0.10, 0.12, 0.15, 0.15)
    effect_export_intensity: tuple[float, ...] = (0.0, 0.03, 0.06, 0.08, 0.10, 0.10)
    effect_rd_intensity: tuple[float, ...] = (0.03, 0.05, 0.07, 0.08, 0.10, 0.10)
    effect_patents: tuple[float, ...] = (0.0, 0.0, 0.10, 0.15, 0.18, 0.18)
    effect_innovation: tuple[float, ...] = (0.0, 0.15, 0.25, 0.25, 0.25, 0.25)
    rd_crowding_out: bool = False
    anticipation_rd: float = 0.0
    size_multipliers: tuple[float, float, float] = (1.5, 1.0, 0.4)
    high_tech_innovation_multiplier: float = 1.5
    cohort_multipliers: tuple[float, float] | None = None
    spillovers: bool = True
    spill_l: tuple[float, ...] = (-0.010, -0.010, 0.0, 0.0)
    spill_omega: tuple[float, ...] = (0.0, 0.0, 0.005, 0.005)
    spill_export: tuple[float, ...] = (0.0, 0.0, 0.0, 0.08)
    scenario: str = "default"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def years(self) -> range:
        """Observed years."""
        return range(self.first_year, self.last_year + 1)

    def selection_kappas(self) -> dict[str, float]:
        """Selection coefficients after applying the selection regime."""
        if self.selection == "random":
            return {"L": 0.0, "omega": 0.0, "h": 0.0, "rd": 0.0, "delta": 0.0}
        if self.selection != "realistic":
            raise InvalidOptionError(
                f"selection must be 'realistic' or 'random', got {self.selection!r}."
            )
        return {
            "L": self.kappa_L,
            "omega": self.kappa_omega,
            "h": self.kappa_h,
            "rd": self.kappa_rd,
            "delta": self.kappa_delta,
        }


#: ACF-replica mode (DGP.md §4.3, ``acf_replica=True``): the timing of the
#: Ackerberg-Caves-Frazer (2015) Monte Carlo. Labour is chosen at t - b (b = 0.5) on the
#: productivity then known, with optimisation error sd 0.37 and no partial adjustment;
#: rho = 0.7, sd(omega) = 0.3 and capital depreciation 0.2. The output elasticities stay
#: (0.6, 0.3); add ``beta_k=0.4`` for ACF's constant-returns values (with static labour
#: and constant returns, l - k no longer moves with k and the ACF moments have a second,
#: nearly equally good root on beta_l + beta_k = 1, which prodest reports as a warning).
ACF_REPLICA: dict[str, Any] = {
    "rho": 0.7,
    "sigma_xi": 0.3 * (1.0 - 0.7**2) ** 0.5,
    "delta_k": 0.2,
    "labour_timing": 0.5,
    "labour_adjust": 1.0,
    "sigma_l": 0.37,
}

#: Column roles of the panel's value-added production function, for ``impact.prodest``.
PRODUCTION_COLUMNS: dict[str, str] = {
    "output": "log_va",
    "free": "log_emp",
    "state": "log_k",
    "proxy": "log_materials",
    "unit": "firm_id",
    "time": "year",
}

_NO_EFFECTS: dict[str, Any] = {
    "effect_omega": (0.0,),
    "effect_l": (0.0,),
    "effect_rd": (0.0,),
    "effect_export": (0.0,),
    "effect_export_intensity": (0.0,),
    "effect_rd_intensity": (0.0,),
    "effect_patents": (0.0,),
    "effect_innovation": (0.0,),
    "spillovers": False,
}
_COHORTS: dict[str, Any] = {"cohort_multipliers": (1.2, 0.9)}
_S2: dict[str, Any] = {"selection": "random", "spillovers": False, **_COHORTS}

#: Few treated clusters (S9): of the 96 cells only 12 host a cluster (4 per launch wave).
FEW_TREATED_CELLS: dict[str, Any] = {"launch_waves": ((2008, 4), (2010, 4), (2012, 4))}
#: Few clusters (S9b): 3 regions x 4 sectors = 12 cells, of which 6 host a cluster (2 per
#: launch wave); sector 4 is high-tech.
FEW_CELLS: dict[str, Any] = {
    "n_regions": 3,
    "n_sectors": 4,
    "high_tech_sectors": (4,),
    "launch_waves": ((2008, 2), (2010, 2), (2012, 2)),
}

#: Scenario presets (DGP.md §4.10): overrides of the defaults. S6 (zeros and counts) is
#: always present; S9 and S9b are the default effects in the few-cluster designs (cluster
#: by cell); combine a design with S0 for size (``scenario="S0", **FEW_CELLS``).
SCENARIOS: dict[str, dict[str, Any]] = {
    "default": dict(_COHORTS),
    "S0": {**_NO_EFFECTS, "selection": "random"},
    "S1": {
        **_NO_EFFECTS,
        "selection": "random",
        "effect_omega": (0.05,),
        "size_multipliers": (1.0, 1.0, 1.0),
        "high_tech_innovation_multiplier": 1.0,
    },
    "S2": dict(_S2),
    "S3a": {"kappa_omega": 1.0, "spillovers": False, **_COHORTS},
    "S3b": {"kappa_delta": -2.0, "spillovers": False, **_COHORTS},
    "S4": {"selection": "random", "spillovers": True, **_COHORTS},
    "S5": {**_S2, "anticipation_rd": 0.2},
    "S6": dict(_S2),
    "S7": {**_S2, "materials": "lp_valid"},
    "S7me": {**_S2, "materials_error": 0.2**0.5},
    "S8": {**_S2, "endogenous_exit": True},
    "S9": {**_COHORTS, **FEW_TREATED_CELLS},
    "S9b": {**_COHORTS, **FEW_CELLS},
    # S2 with members that leave at 3% a year (non-absorbing membership: did_multiplegt)
    "S10": {**_S2, "leave_hazard": 0.03},
}


def scenario_params(
    scenario: str = "default", *, acf_replica: bool = False, **overrides: Any
) -> ClusterPanelParams:
    """Parameters of a named scenario with keyword overrides.

    With ``acf_replica=True`` the values of :data:`ACF_REPLICA` are applied on top of the
    scenario (explicit ``overrides`` still win).

    Raises
    ------
    InvalidOptionError
        Unknown scenario or parameter name (with close matches).
    """
    if scenario not in SCENARIOS:
        raise InvalidOptionError(
            f"unknown scenario {scenario!r}; known: {sorted(SCENARIOS)}."
            + close_matches_hint(scenario, SCENARIOS)
        )
    names = {f.name for f in dataclasses.fields(ClusterPanelParams)}
    for key in overrides:
        if key not in names:
            raise InvalidOptionError(
                f"unknown generator parameter {key!r}." + close_matches_hint(key, names)
            )
    replica = ACF_REPLICA if acf_replica else {}
    values = {**SCENARIOS[scenario], **replica, **overrides, "scenario": scenario}
    return ClusterPanelParams(**values)
