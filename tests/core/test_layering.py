"""aither has no import cycle, and the server's layers import downwards only.

The graph is built from the source (``ast``), so it needs no framework and no server
dependency: every ``import`` counts, those inside functions too (a lazy import still ties two
modules together), except those under ``if TYPE_CHECKING:``, which never run.

Layers (see docs/server.md, "Layout"):

- ``aither.schema``: what the SDK and the server agree on; imports nothing else of aither.
- ``aither.server.analysis`` (the domain): pure functions, the label join's rule and scoring;
  imports no other server package and no database or web library.
- ``aither.server.ingest``: decodes spans into records; imports the domain, never storage or routes.
- ``aither.server.storage``: SQL; imports the domain, never routes.
- ``aither.server.routes``: HTTP; builds no SQL (no ``sqlalchemy`` expressions, no tables).
- ``aither.server.drift`` builds on ``aither.server.detection`` (its rules, anomalies and
  engine); detection reaches back into drift at one lazy import only, and no module cycle
  results. Storage's imports of detection and drift (the ingest hooks, the rollup helpers) are
  the known ones listed below; a new one fails the test.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "aither"

KNOWN_CYCLE_EDGES: set[tuple[str, str]] = set()
"""Edges (lazy imports) left out of the cycle check; each must still exist."""


@dataclass
class Module:
    name: str
    internal: set[str] = field(default_factory=set)
    """The aither modules it imports."""
    external: set[str] = field(default_factory=set)
    """The dotted names of what else it imports (``sqlalchemy.engine``, ``json``)."""


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for branch in node.orelse:
                yield from _imports(ast.Module(body=[branch], type_ignores=[]))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        else:
            yield from _imports(node)


@cache
def graph() -> dict[str, Module]:
    """Every module of the aither package, with what it imports."""
    files: dict[str, tuple[Path, bool]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        files[".".join(parts[:-1] if is_package else parts)] = (path, is_package)

    def known(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    modules: dict[str, Module] = {}
    for name, (path, is_package) in files.items():
        module = Module(name)
        package = name if is_package else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, *([node.module] if node.module else [])])
                # ``from pkg import sub`` imports the submodule; ``from mod import name`` the module
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                    for alias in node.names
                ]
            for target in targets:
                if target == "aither" or target.startswith("aither."):
                    found = known(target)
                    if found is not None and found != name:
                        module.internal.add(found)
                else:
                    module.external.add(target)
        modules[name] = module
    return modules


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _in(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _violations(source: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{m.name} -> {target}"
        for m in graph().values()
        if _in(m.name, source)
        for target in m.internal
        if _in(target, *forbidden)
    )


def test_the_graph_sees_the_package() -> None:
    modules = graph()
    assert len(modules) > 100
    joins = modules["aither.server.storage.joins"]
    assert {"aither.server.analysis.label_join", "aither.schema.envelope"} <= joins.internal
    assert "sqlalchemy" in joins.external
    assert "aither.sampling.dispatch" in modules["aither.sampling.builtins"].internal  # a lazy import


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_cycle() -> None:
    edges = {name: set(module.internal) for name, module in graph().items()}
    for source, target in KNOWN_CYCLE_EDGES:
        assert target in edges[source], f"{source} no longer imports {target}: drop it from KNOWN_CYCLE_EDGES"
        edges[source].discard(target)
    assert cycles(edges) == []


def test_the_schema_package_imports_nothing_else_of_aither() -> None:
    outside = [
        v for v in _violations("aither.schema", ("aither",)) if not _in(v.split(" -> ")[1], "aither.schema")
    ]
    assert outside == []


def test_the_sdk_never_imports_the_server() -> None:
    # the CLI starts the server; everything else is the SDK, which talks to it over HTTP only
    leaks = [
        v
        for v in _violations("aither", ("aither.server",))
        if not _in(v.split(" -> ")[0], "aither.server", "aither.cli")
    ]
    assert leaks == []


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("aither.server.ingest", ("aither.server.storage", "aither.server.routes", "aither.server.app")),
        ("aither.server.storage", ("aither.server.routes", "aither.server.app", "aither.server.dashboard")),
    ],
)
def test_server_layers_import_downwards(layer: str, forbidden: tuple[str, ...]) -> None:
    assert _violations(layer, forbidden) == []


def test_the_domain_imports_no_other_server_package() -> None:
    outside = [
        v
        for v in _violations("aither.server.analysis", ("aither.server",))
        if not _in(v.split(" -> ")[1], "aither.server.analysis")
    ]
    assert outside == []


def test_the_domain_uses_no_database_or_web_library() -> None:
    used = {
        f"{m.name} -> {target}"
        for m in graph().values()
        if _in(m.name, "aither.server.analysis")
        for target in m.external
        if _in(target, "sqlalchemy", "fastapi", "starlette", "pydantic")
    }
    assert used == set()


def test_routes_build_no_sql() -> None:
    # a route asks storage (or a feature's store) for rows; a Connection type and the database
    # errors it maps to HTTP statuses are all it may take from SQLAlchemy
    allowed = ("sqlalchemy.engine", "sqlalchemy.exc")
    sql = sorted(
        f"{m.name} -> {target}"
        for m in graph().values()
        if _in(m.name, "aither.server.routes")
        for target in m.external
        if _in(target, "sqlalchemy") and not _in(target, *allowed)
    )
    tables = _violations("aither.server.routes", ("aither.server.storage.schema",))
    assert sql + tables == []


DETECTION_TO_DRIFT = [
    # Resolving anomalies by quiet skips those drift owns; drift resolves them itself.
    "aither.server.detection.engine -> aither.server.drift.rules",
]
"""Detection's imports of drift: drift imports detection, so each is a package-level loop."""

STORAGE_UPWARD = [
    "aither.server.storage -> aither.server.detection.engine",  # re-exports Detection, attach
    "aither.server.storage -> aither.server.drift.monitor",  # tells drift where telemetry lives
    "aither.server.storage.ingest -> aither.server.detection.hook",  # a write feeds detection
    "aither.server.storage.ingest -> aither.server.drift.hook",  # ... and drift
    "aither.server.storage.metrics -> aither.server.detection.rollups",  # histogram quantiles
    "aither.server.storage.volume -> aither.server.detection.rollups",  # the Rollup windows
]
"""Storage's imports of the features above it: the known ones, none to add."""


def test_detection_reaches_into_drift_at_the_known_edge_only() -> None:
    assert _violations("aither.server.detection", ("aither.server.drift",)) == DETECTION_TO_DRIFT
    # drift builds on detection: that direction is the layer's, not a loop to grow
    assert _violations("aither.server.drift", ("aither.server.detection",))


def test_storage_imports_detection_and_drift_at_the_known_edges_only() -> None:
    found = _violations("aither.server.storage", ("aither.server.detection", "aither.server.drift"))
    assert found == sorted(STORAGE_UPWARD)
