"""Sphinx configuration of impact's documentation site.

Built in CI with warnings as errors and every executable page run:
``sphinx-build -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import impact

project = "impact"
author = "impact developers"
copyright = "2026, impact developers"  # noqa: A001 (Sphinx's name)
release = impact.__version__
version = release

extensions = [
    "myst_nb",  # Markdown pages and executed Markdown notebooks (MyST-NB)
    "sphinx.ext.autodoc",
    "numpydoc",  # renders the numpydoc docstrings of the API reference
    "sphinx.ext.mathjax",
]

source_suffix = {".md": "myst-nb", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "README.md", "**/.ipynb_checkpoints", "jupyter_execute"]
root_doc = "index"

# MyST: $math$, definition lists, anchors on headings for the cross-page links
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# Every executable page runs at every build; an error in a cell fails the build.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 600
nb_execution_show_tb = True
nb_merge_streams = True

# numpydoc: no auto-generated member tables (the API page lists what matters)
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_typehints = "none"  # signatures stay readable; types are in the Parameters
autodoc_member_order = "bysource"

html_theme = "furo"
html_title = f"impact {release}"
html_static_path: list[str] = []
