"""Every error and warning class of the package lives in impact.errors and is exported
there (users catch them from one module; the API page documents that module's members)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import impact
import impact.errors


def test_every_error_and_warning_class_is_exported_by_impact_errors():
    defined = {n for n, o in vars(impact.errors).items()
               if inspect.isclass(o) and o.__module__ == "impact.errors"}  # fmt: skip
    assert defined <= set(impact.errors.__all__)


def test_no_module_defines_its_own_error_or_warning_class():
    outside = []
    for info in pkgutil.walk_packages(impact.__path__, "impact."):
        if info.name.endswith("__main__") or info.name == "impact.errors":  # __main__ runs the CLI
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and obj.__module__ == info.name
                    and issubclass(obj, (impact.errors.ImpactError, impact.errors.ImpactWarning))):  # fmt: skip
                outside.append(f"{info.name}.{name}")
    assert outside == []
