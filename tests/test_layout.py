"""The layout's import rules (issue 13): the engine imports nothing of its users (the application
`tensorflowlite_clone.app`, `models`, `viz`, `benchmarks`), and the entry point loads nothing heavy
before its Ctrl-C guard."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tensorflowlite_clone"
USERS = ("tensorflowlite_clone.app", "models", "viz", "benchmarks")
# `python -m tensorflowlite_clone` is the package's own hook into the application, not engine
ENGINE_FILES = sorted(p for p in PACKAGE.rglob("*.py")
                      if "app" not in p.relative_to(PACKAGE).parts and p.name != "__main__.py")


def imported_modules(path):
    """The absolute names of the modules a file imports, anywhere in it (lazy imports too)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(filter(None, [base, node.module]))
            names += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return names


def is_user(name):
    return any(name == user or name.startswith(user + ".") for user in USERS)


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_modules_import_none_of_their_users(path):
    assert [name for name in imported_modules(path) if is_user(name)] == []


def loaded_after(statement):
    script = f"import sys; {statement}; print(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    return set(done.stdout.split())


def test_importing_the_engine_loads_no_user():
    loaded = loaded_after("import tensorflowlite_clone, tensorflowlite_clone.gradcheck, "
                          "tensorflowlite_clone.optim")
    assert sorted(name for name in loaded if is_user(name)) == []


def test_the_entry_point_loads_nothing_heavy_before_its_guard():
    loaded = loaded_after("from tensorflowlite_clone.app.__main__ import run")
    heavy = {"tensorflowlite_clone.app.cli", "models", "viz", "benchmarks", "matplotlib",
             "sklearn", "tqdm", "graphviz"}
    assert loaded & heavy == set()


def test_python_dash_m_and_the_console_script_share_the_guarded_entry_point():
    from tensorflowlite_clone import __main__ as dash_m
    from tensorflowlite_clone.app import __main__ as entry
    assert dash_m.run is entry.run
