"""Every row of the framework table (aither/frameworks.py) is real, and what lists frameworks
outside Python (pyproject's extras and mypy overrides, noxfile's sessions) agrees with it.

Nothing here imports a framework: adapters and samplers are found in their source files.
"""

from __future__ import annotations

import ast
import importlib.util
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest

from aither.adapters.registry import ADAPTERS, COMPOSED
from aither.frameworks import FRAMEWORKS, Framework, by_root, sessions
from aither.sampling import SAMPLERS

ROOT = Path(__file__).resolve().parents[2]
ROWS = pytest.mark.parametrize("row", FRAMEWORKS, ids=[row.root for row in FRAMEWORKS])


def _pyproject() -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        tomllib = pytest.importorskip("tomli")
    with (ROOT / "pyproject.toml").open("rb") as file:
        data: dict[str, Any] = tomllib.load(file)
    return data


def _defines(target: str) -> bool:
    """Whether ``"module:name"`` names a top-level class or function of an aither module,
    read from its source (importing it would import its framework)."""
    module, _, name = target.partition(":")
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, f"{module} does not exist"
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    return any(isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name for node in tree.body)


def test_roots_are_unique() -> None:
    assert len(by_root()) == len(FRAMEWORKS)


@ROWS
def test_each_import_string_names_a_real_class_or_function(row: Framework) -> None:
    assert row.adapter is not None or row.sampler is not None or row.session == "langchain"
    for target in (row.adapter, row.sampler):
        if target is not None:
            assert target.startswith("aither.") and _defines(target), target


@ROWS
def test_each_adapter_row_names_a_model_module_of_its_root(row: Framework) -> None:
    if row.adapter is not None:
        assert row.model_module is not None and row.model_module.startswith(row.root + ".")
    assert not row.composed or row.adapter is not None


@ROWS
def test_each_row_has_its_extra_and_its_tests(row: Framework) -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    for extra in (row.extra, *row.session_extras):
        assert extra in extras, f"pyproject has no extra {extra!r}"
    for path in row.tests:
        assert (ROOT / path).exists(), path


@ROWS
def test_mypy_skips_each_framework_that_aither_imports(row: Framework) -> None:
    overrides = _pyproject()["tool"]["mypy"]["overrides"]
    skipped = {module for override in overrides for module in override["module"]}
    if row.adapter is not None or row.sampler is not None:
        assert f"{row.package}.*" in skipped, f"add {row.package}.* to [[tool.mypy.overrides]]"


def test_the_registry_and_the_samplers_read_the_table() -> None:
    assert {row.root: (row.adapter, row.extra) for row in FRAMEWORKS if row.adapter} == ADAPTERS
    assert {row.root: row.sampler for row in FRAMEWORKS if row.sampler} == SAMPLERS
    assert tuple(row.root for row in FRAMEWORKS if row.composed) == COMPOSED


def test_every_extra_in_all_exists() -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    (everything,) = extras["all"]
    names = everything.partition("[")[2].rstrip("]").split(",")
    assert set(names) <= set(extras)
    # gemini-legacy pins an older protobuf than tensorflow-cpu's: its own session, never `all`
    assert {row.extra for row in FRAMEWORKS} - {"gemini-legacy"} <= set(names)


def test_nox_runs_a_session_per_group_of_rows() -> None:
    pytest.importorskip("nox")  # the core session runs without nox installed
    noxfile = runpy.run_path(str(ROOT / "noxfile.py"))
    declared = noxfile["SESSIONS"]
    for name, (extras, paths) in sessions().items():
        assert declared[name] == (",".join(extras), " ".join(paths))
    for row in FRAMEWORKS:
        extras, paths = declared[row.session]
        assert row.extra in extras.split(",") and set(row.tests) <= set(paths.split())
