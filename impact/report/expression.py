"""Spec expressions (``[derived]`` outcomes): the engine's whitelisted grammar, never eval'd.

See :mod:`impact.engine.expressions` for the grammar; this module is the report's door to it.
"""

from __future__ import annotations

from impact.engine.expressions import (
    FUNCTIONS,
    MAX_EXPRESSION_LENGTH,
    evaluate_expression,
    expression,
    parse_expression,
)

__all__ = [
    "FUNCTIONS",
    "MAX_EXPRESSION_LENGTH",
    "evaluate_expression",
    "expression",
    "parse_expression",
]
