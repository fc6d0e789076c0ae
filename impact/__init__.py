"""impact: econometric impact evaluation for firm panels.

Public API only; see ``docs/`` and DESIGN.md for the contract.
"""

from __future__ import annotations

from impact import datasets, errors
from impact._version import __version__
from impact.data.panel import Panel
from impact.data.samplelog import SampleLog
from impact.design.cohorts import cohort_from_membership
from impact.diagnostics.bacon import bacon
from impact.diagnostics.contamination import contamination_weights
from impact.diagnostics.honest_did import honest_did
from impact.diagnostics.pretrend import pretrend_power
from impact.diagnostics.twfe_weights import twfe_weights
from impact.estimators.adjust import adjust
from impact.estimators.att_gt import att_gt
from impact.estimators.cell_itt import cell_itt
from impact.estimators.conley_taber import conley_taber
from impact.estimators.ddd import ddd
from impact.estimators.did_multiplegt import did_multiplegt
from impact.estimators.did_wildboot import did_wildboot
from impact.estimators.etwfe import etwfe
from impact.estimators.event_study import event_study
from impact.estimators.feols import feols
from impact.estimators.fepois import fepois
from impact.estimators.randomization import randomization_test
from impact.estimators.synthdid import synthdid
from impact.estimators.wildboot import wildboot
from impact.inference.ssc import SSC
from impact.productivity.prodest import prodest
from impact.productivity.tfp_did import tfp_did
from impact.report.etable import etable
from impact.report.evaluate import EvaluationReport, evaluate
from impact.report.figures import plot_event_study
from impact.report.spec import Spec
from impact.results.linear import FeolsResult
from impact.results.poisson import FepoisResult
from impact.results.productivity import ProdestResult

__all__ = [
    "SSC",
    "EvaluationReport",
    "FeolsResult",
    "FepoisResult",
    "Panel",
    "ProdestResult",
    "SampleLog",
    "Spec",
    "__version__",
    "adjust",
    "att_gt",
    "bacon",
    "cell_itt",
    "cohort_from_membership",
    "conley_taber",
    "contamination_weights",
    "datasets",
    "ddd",
    "did_multiplegt",
    "did_wildboot",
    "errors",
    "etable",
    "etwfe",
    "evaluate",
    "event_study",
    "feols",
    "fepois",
    "honest_did",
    "plot_event_study",
    "pretrend_power",
    "prodest",
    "randomization_test",
    "synthdid",
    "tfp_did",
    "twfe_weights",
    "wildboot",
]
