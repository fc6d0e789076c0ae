"""Production-function estimation (OLS, FE, OP, LP, ACF, Wooldridge) and TFP."""

from impact.productivity.prodest import prodest

__all__ = ["prodest"]
