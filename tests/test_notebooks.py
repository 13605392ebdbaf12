"""Every notebook under docs/notebooks/ runs top to bottom (nbclient, kernel python3), and says
what it should: the relative errors it prints are tiny, the planted bug is found.

A notebook runs in a fresh temporary directory, with the repository root on the kernel's
PYTHONPATH, so `import tensorflowlite_clone` works from a clone that was never pip-installed.
A failing cell is reported with its source and the error. Skips (with the reason) where nbclient,
nbformat or ipykernel is missing. Without Graphviz's `dot` the notebooks still run (their graphs
show as text), and the check that the graphs were drawn is left out.
"""
import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "docs" / "notebooks"
CELL_TIMEOUT = 120  # seconds per cell

_missing = [m for m in ("nbformat", "nbclient", "ipykernel") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"running notebooks needs {', '.join(_missing)} "
                                "(pip install nbclient nbformat ipykernel)")

# A relative error the notebooks print: "relative error, dW by hand vs by tape: 1.23e-16"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours of IPython's tracebacks
_REL_ERROR = re.compile(r"relative error[^:\n]*: ([0-9.]+e[-+][0-9]+)")


def _names():
    return sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def _kernel_env(tmp_path):
    """The kernel's environment: the repository root importable, one BLAS thread (the notebooks
    are small; threads only contend on a 2-core machine), temporary files (the explorer page the
    second notebook saves) under the test's tmp_path."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _text(output):
    """The text a cell output shows: stream text, or the text/plain of a result."""
    if output.get("output_type") == "stream":
        return output.get("text", "")
    return output.get("data", {}).get("text/plain", "")


def run_notebook(name, tmp_path):
    """Execute docs/notebooks/`name` in tmp_path; returns the executed notebook. A failure is
    an AssertionError naming the cell, showing its source and the error."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    try:  # cwd and env go to the kernel manager, which starts the kernel with them
        client.execute(cwd=str(tmp_path), env=_kernel_env(tmp_path))
    except CellExecutionError as error:
        failed = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(
            o.get("output_type") == "error" for o in c.get("outputs", []))), None)
        source = nb.cells[failed].source if failed is not None else "(cell not found)"
        trace = _ANSI.sub("", error.traceback or "")
        ename, evalue = error.ename, error.evalue
        if failed is not None:  # an error while displaying a result has no ename of its own
            output = next(o for o in nb.cells[failed].outputs if o.get("output_type") == "error")
            ename, evalue = output.get("ename", ename), output.get("evalue", evalue)
        pytest.fail(f"{name}: cell {failed} failed with {ename}: {evalue}\n"
                    f"--- the cell ---\n{source}\n--- the kernel's report ---\n{trace}", pytrace=False)
    return nb


@pytest.mark.parametrize("name", _names())
def test_notebook_runs_and_its_errors_are_small(name, tmp_path):
    nb = run_notebook(name, tmp_path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    text = "\n".join(_text(o) for c in code for o in c.get("outputs", []))
    errors = [float(e) for e in _REL_ERROR.findall(text)]
    for line in text.splitlines():  # the numbers the learner reads are the ones asserted
        for e in _REL_ERROR.findall(line):
            assert float(e) < 1e-7, f"{name}: {line.strip()}"
    if name.startswith("01") or name.startswith("02"):
        assert len(errors) >= 5, f"{name}: expected relative errors in the output, got:\n{text}"
    # the drawings display inline: graphviz.Digraph renders itself as SVG with `dot` (without
    # it IPython shows a warning and the text repr, and the notebook still runs)
    kinds = {k for c in code for o in c.get("outputs", []) for k in o.get("data", {})}
    html = "".join(o["data"]["text/html"] for c in code for o in c.get("outputs", [])
                   if "text/html" in o.get("data", {}))
    if name.startswith(("02", "03")):  # the explorer, in an iframe
        assert "<iframe" in html, f"{name}: the explorer was not displayed"
    if shutil.which("dot") and not name.startswith("02"):
        assert "image/svg+xml" in kinds, f"{name}: no graph was displayed"
    if name.startswith("03"):
        assert 'class="disagree first-disagree"' in html and "first wrong step" in html
        assert "first wrong step: hidden_pre" in text


def test_there_are_notebooks():
    assert {"01_softmax_gradient.ipynb", "02_two_layer_backward.ipynb",
            "03_gradient_debugger.ipynb"} <= set(_names())


def test_committed_notebooks_are_what_the_generator_writes():
    """The .ipynb files are written by docs/notebooks/make_notebooks.py and stored without
    outputs (no machine-specific paths, no embedded pictures): edit the script, re-run it.
    Compared cell by cell (kind and source), so another nbformat's formatting does not matter."""
    import nbformat
    sys.path.insert(0, str(NOTEBOOKS))
    try:
        import make_notebooks
    finally:
        sys.path.remove(str(NOTEBOOKS))
    for name in make_notebooks.NOTEBOOKS:
        committed = nbformat.read(NOTEBOOKS / name, as_version=4)
        written = make_notebooks.build(make_notebooks.NOTEBOOKS[name], name)
        assert [(c.cell_type, c.source) for c in committed.cells] == [
            (c.cell_type, c.source) for c in written.cells], (
            f"{name} differs from what make_notebooks.py writes: run "
            "`python docs/notebooks/make_notebooks.py`")
        assert all(not c.get("outputs") and c.get("execution_count") is None
                   for c in committed.cells if c.cell_type == "code"), f"{name} has outputs"
