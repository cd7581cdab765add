"""The tools package has an order: the catalogue on top, nothing imports back up to it."""

from __future__ import annotations

import itertools

import grimp


def test_no_module_of_engine_tools_imports_back_round_to_itself() -> None:
    graph = grimp.build_graph("engine")
    modules = sorted(m for m in graph.modules if m.startswith("engine.tools."))
    cycles = [
        (a, b)
        for a, b in itertools.combinations(modules, 2)
        if graph.find_shortest_chain(importer=a, imported=b)
        and graph.find_shortest_chain(importer=b, imported=a)
    ]
    assert cycles == []
    catalog = "engine.tools.catalog"
    users = graph.find_modules_that_directly_import(catalog)
    assert {m for m in users if m.startswith("engine.tools.")} <= {"engine.tools.commands"}
