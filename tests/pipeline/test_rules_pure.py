"""The rules are pure functions: each returns what it measured; none takes a dict to write signals into
(the chain used to pass one ``signals`` dict through every rule, so a rule could read what an earlier one
wrote and a test could not call one rule on its own)."""

import importlib
import inspect
import pkgutil

import dapt.pipeline.rules as rules_package


def _public_functions():
    for info in pkgutil.iter_modules(rules_package.__path__):
        module = importlib.import_module(f"{rules_package.__name__}.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and not name.startswith("_"):
                yield f"{info.name}.{name}", fn


def test_no_rule_takes_a_signals_dict_to_fill():
    functions = dict(_public_functions())
    assert {"gopher.gopher_quality", "gopher.gopher_repetition", "fineweb.fineweb_quality", "c4.c4_page"} <= set(functions)
    takes = [name for name, fn in functions.items() if "signals" in inspect.signature(fn).parameters]
    assert takes == []
