"""Write the notebooks in docs/notebooks/ from the cells below: `python docs/notebooks/make_notebooks.py`.

The .ipynb files are what learners open; they are stored without outputs (run them to see the
numbers and pictures), so they hold no machine-specific paths. Edit the cells here, re-run this
script and commit both; tests/test_notebooks.py runs every notebook and checks that the
committed files are what this script writes.

Each notebook is a list of cells: ("md", text) for an explanation, ("code", source) for code.
"""
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

def imports(gradcheck, models):
    """Every notebook starts with this cell: the package is installed by `make setup` (pip
    install -e .); from a bare checkout, docs/notebooks/ is two folders below the repository
    root. `gradcheck`: the names the notebook uses from tensorflowlite_clone.gradcheck;
    `models`: its import line from models/."""
    return f"""\
import shutil

import numpy as np
from IPython.display import display

try:
    import tensorflowlite_clone as tflc
except ImportError:  # not installed: use the checkout this notebook sits in
    import pathlib
    import sys
    sys.path.insert(0, str(pathlib.Path.cwd().resolve().parents[1]))
    import tensorflowlite_clone as tflc

import viz
{models}
from tensorflowlite_clone.app.data import load_digits
from tensorflowlite_clone.gradcheck import {gradcheck}

np.set_printoptions(precision=4, suppress=True)


def show(drawing):
    \"\"\"Display a viz.draw_graph drawing (a graphviz.Digraph, which renders itself as SVG in
    Jupyter with Graphviz's `dot`); without Graphviz, say so and go on.\"\"\"
    if shutil.which("dot"):
        display(drawing)
    else:
        print("(graph not drawn: Graphviz's `dot` is not installed; see viz.graph.INSTALL_HINT)")"""


DIGITS = """\
digits = load_digits()            # scikit-learn's bundled 8x8 digits: no download
X, y = digits.X_train[:N], digits.y_train[:N]   # pixels in [0, 1], the mean image subtracted
print("X", X.shape, X.dtype, "  y", y.shape, "labels", y)"""


SOFTMAX = [
    ("md", r"""# 1. The softmax gradient: by hand, by tape, by finite differences

The softmax classifier scores a batch $X$ (shape $(N, D)$, one image per row) with weights $W$
$(D, C)$: $S = XW$ is $(N, C)$, one row $s_i$ of class scores per image. Its loss is the mean
cross-entropy plus L2 regularisation:

$$L = \frac{1}{N}\sum_{i=1}^{N} L_i + \mathrm{reg}\sum_k W_k^2, \qquad
L_i = -\log q_{i, y_i}, \qquad q_{ij} = \frac{e^{s_{ij}}}{\sum_c e^{s_{ic}}}.$$

We derive $\partial L / \partial W$ by hand as the seed document does, then let the engine's
`GradientTape` compute it, then check both against central finite differences. Every
comparison prints a relative error and `assert`s it is tiny, so this notebook fails loudly if
the math breaks."""),
    ("code", imports("numerical_gradient, rel_error",
                     "from models.softmax import softmax_loss, softmax_loss_vectorized")),
    ("md", r"""A small batch of the bundled digits: $N = 20$ images of $D = 64$ pixels, $C = 10$ classes,
and small random weights. Everything is float64: finite differences drown in float32 rounding."""),
    ("code", "N, reg = 20, 0.1\n" + DIGITS + """
rng = np.random.default_rng(0)
W = 0.01 * rng.standard_normal((X.shape[1], digits.num_classes))
print("W", W.shape)"""),
    ("md", r"""## By hand: dimension compatibility, then the chain rule

$\partial L/\partial W$ has $W$'s shape $(D, C)$; $\partial L/\partial S$ has $S$'s shape
$(N, C)$. The chain rule through $S = XW$ multiplies $\partial L/\partial S$ by $X$ or
$X^T$, and only one order has compatible shapes: $X^T$ is $(D, N)$, $(D, N)\cdot(N, C) = (D, C)$.

$$\frac{\partial L}{\partial W} = X^T \frac{\partial L}{\partial S} \qquad (2)$$

Each $L_i$ depends only on its own row $s_i$, so row $i$ of $\partial L/\partial S$ is
$\frac{1}{N}\,\partial L_i/\partial s_i$, and the softmax derivative gives
$\partial L_i/\partial s_{ij} = q_{ij} - \mathbb{1}[j = y_i]$: the probabilities, with 1
taken off at the correct class. Together with the regulariser's $2\,\mathrm{reg}\,W$:

$$\frac{\partial L}{\partial W} = \frac{1}{N} X^T (Q - \mathbb{1}_y) + 2\,\mathrm{reg}\,W \qquad (5)$$"""),
    ("code", """\
def softmax_probs(W):
    scores = X @ W                                   # S, (N, C)
    scores = scores - scores.max(axis=1, keepdims=True)   # softmax ignores a shift: no overflow
    q = np.exp(scores)
    return q / q.sum(axis=1, keepdims=True)          # Q, (N, C)


def loss_of(W):
    q = softmax_probs(W)
    return -np.log(q[np.arange(N), y]).mean() + reg * np.sum(W * W)


q = softmax_probs(W)
dS = q.copy()
dS[np.arange(N), y] -= 1                             # Q - 1_y
dS /= N                                              # dL/dS, (N, C)
dW_hand = X.T @ dS + 2 * reg * W                     # (D, N) . (N, C) = (D, C)
print(f"loss {loss_of(W):.6f}")
print(f"dW (D, C) {dW_hand.shape} = X^T {X.T.shape} . dL/dS {dS.shape} + 2 reg W {W.shape}")"""),
    ("md", r"""The seed's vectorised code (`models.softmax.softmax_loss_vectorized`) computes the same thing;
it divides by $N$ at the end instead of in $\partial L/\partial S$."""),
    ("code", """\
loss_seed, dW_seed = softmax_loss_vectorized(W, X, y, reg)
err = rel_error(dW_hand, dW_seed)
print(f"relative error, our dW vs the seed's code: {err:.2e}")
assert err < 1e-12 and abs(loss_seed - loss_of(W)) < 1e-12"""),
    ("md", r"""## By tape

The same forward pass, written with the engine's ops inside a `GradientTape`. The tape records
each op (a Wengert list); `tape.gradient` sweeps it backwards, applying each op's
vector-Jacobian product. We also ask for the gradient of the scores, to check the middle step
$\partial L/\partial S = (Q - \mathbb{1}_y)/N$ on its own. (`persistent=True` keeps the records
so that we can ask twice and draw the graph afterwards.)"""),
    ("code", """\
W_t = tflc.Variable(W, name="W")                     # a Variable is watched automatically
with tflc.GradientTape(persistent=True) as tape:
    scores = X @ W_t
    scores.name = "scores"
    shifted = scores - tflc.max(tflc.stop_gradient(scores), axis=1, keepdims=True)
    e = tflc.exp(shifted)
    probs = e / tflc.sum(e, axis=1, keepdims=True)
    loss = -tflc.mean(tflc.log(probs[np.arange(N), y])) + reg * tflc.sum(W_t * W_t)
dW_tape, dS_tape = tape.gradient(loss, [W_t, scores])

err_S = rel_error(dS_tape.numpy(), dS)
err_W = rel_error(dW_tape.numpy(), dW_hand)
print(f"loss by tape {float(loss):.6f}")
print(f"relative error, dL/dS by hand vs by tape: {err_S:.2e}")
print(f"relative error, dW by hand vs by tape: {err_W:.2e}")
assert err_S < 1e-10 and err_W < 1e-10"""),
    ("md", r"""`models.softmax.softmax_loss` is that tape, packaged with the seed's signature
`(W, X, y, reg) -> (loss, dW)`:"""),
    ("code", """\
loss_model, dW_model = softmax_loss(W, X, y, reg)
err = rel_error(dW_model, dW_hand)
print(f"relative error, dW by hand vs models.softmax.softmax_loss: {err:.2e}")
assert err < 1e-10"""),
    ("md", r"""## By finite differences

The central difference $\big(L(W + h e_k) - L(W - h e_k)\big) / 2h$ for each of the $D \cdot C$
entries knows nothing about derivatives, so it checks the derivation and the engine alike.

Which relative error? cs231n's per-entry $|a - b| / (|a| + |b|)$ is unfair where the true
gradient is nearly zero: pixels that are (almost) blank in every digit give columns of $X$ that
are (almost) zero after the mean image is subtracted, and rows of $\partial L/\partial W$ that
are little more than $2\,\mathrm{reg}\,W$. There the difference quotient's rounding error
($\sim 10^{-10}$) is a sizeable fraction of the entry. So we measure the worst difference
relative to the largest entry (`per_entry=False`), and show the per-entry one beside it."""),
    ("code", """\
dW_num = numerical_gradient(loss_of, W.copy(), h=1e-5)   # perturbs its argument in place
err_num = rel_error(dW_num, dW_hand, per_entry=False)
err_tape = rel_error(dW_num, dW_tape.numpy(), per_entry=False)
print(f"relative error, dW by finite differences vs by hand: {err_num:.2e}")
print(f"relative error, dW by finite differences vs by tape: {err_tape:.2e}")
per_entry = np.abs(dW_num - dW_hand) / np.maximum(1e-8, np.abs(dW_num) + np.abs(dW_hand))
worst = tuple(int(i) for i in np.unravel_index(np.argmax(per_entry), W.shape))
print(f"(per entry, cs231n's measure: {per_entry.max():.1e}, at dW{worst} = {dW_hand[worst]:.1e}, "
      f"where the largest |dW| is {np.abs(dW_hand).max():.1e})")
assert err_num < 1e-7 and err_tape < 1e-7"""),
    ("md", r"""## The graph the tape recorded

`viz.draw_graph` draws the tape's records: grey boxes are ops, the amber box the parameter $W$,
blue dashed boxes the data. With `show_grads=True` each node also shows a summary
(min / mean / max) of the loss's gradient with respect to it. The row maxima that keep `exp`
from overflowing come in as a constant (the blue $(N, 1)$ box): `stop_gradient` keeps their
computation off the tape, which is right because softmax ignores the shift of a row, so their
true gradient is zero anyway."""),
    ("code", """\
show(viz.draw_graph(tape, loss, params={"W": W_t}, inputs={"X": X, "y": y}, show_grads=True,
                    rankdir="TB", title="softmax loss on 20 digits"))"""),
]


TWO_LAYER = [
    ("md", r"""# 2. The two-layer net's backward pass, step by step

The seed's network: affine, ReLU, affine, softmax loss.

$$s_1 = X W_1 + b_1,\qquad h = \max(0, s_1),\qquad s_2 = h W_2 + b_2,\qquad
L = \frac{1}{N}\sum_i -\log \mathrm{softmax}(s_2)_{i, y_i} + \mathrm{reg}\,(\|W_1\|^2 + \|W_2\|^2)$$

We run the forward pass, then derive each vector-Jacobian product (VJP) of the backward pass as
the seed writes it, and after each step compare it with the gradient the tape computes for the
same intermediate. The shapes are printed at every step. They are the seed's **dimension
compatibility** argument: a gradient has the shape of the tensor it is taken with respect to, and
for each matrix product there is only one way to multiply the upstream gradient by the other
factor (transposed or not, on the left or on the right) that gives that shape."""),
    ("code", imports("rel_error", "from models.two_layer_net import TwoLayerNet")),
    ("code", "N, H, reg = 16, 10, 0.05\n" + DIGITS + """
np.random.seed(0)
net = TwoLayerNet(X.shape[1], H, digits.num_classes, std=0.1)
W1, b1, W2, b2 = (net.params[k] for k in ("W1", "b1", "W2", "b2"))
for k, v in net.params.items():
    print(k, v.shape)"""),
    ("md", r"""## Forward, twice

First in NumPy exactly as the seed does, keeping every intermediate; then from the engine's ops
on a tape (`net.forward_tensors`, which names the intermediates `hidden_pre` $= s_1$,
`hidden` $= h$, `scores` $= s_2$ and `probs` $= q$). The tape gives us $\partial L / \partial t$
for every named tensor $t$ in one backward sweep."""),
    ("code", """\
s1 = X @ W1 + b1                         # (N, H)  hidden_pre
s1_relu = (s1 > 0) * s1                  # (N, H)  hidden
scores = s1_relu @ W2 + b2               # (N, C)
q = np.exp(scores - scores.max(axis=1, keepdims=True))
q /= q.sum(axis=1, keepdims=True)        # (N, C)  probs
loss = -np.log(q[np.arange(N), y]).mean() + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

with tflc.GradientTape(persistent=True) as tape:
    loss_t, tensors = net.forward_tensors(X, y, reg)
tape_grads = {name: g.numpy() for name, g in tape.gradient(loss_t, tensors).items()}

print(f"loss: NumPy {loss:.8f}, tape {float(loss_t):.8f}")
for name, t in tensors.items():
    print(f"  {name:<10} {str(t.shape):<9} dL/d{name} {tape_grads[name].shape}")
assert abs(loss - float(loss_t)) < 1e-12"""),
    ("md", r"""A small helper prints each step's shapes and its relative error against the tape's gradient
of the same tensor, and asserts they agree."""),
    ("code", """\
def step(name, grad, rule):
    err = rel_error(grad, tape_grads[name])
    print(f"{rule}\\n    relative error vs tape: {err:.2e}")
    assert grad.shape == tape_grads[name].shape and err < 1e-9, name
    return grad"""),
    ("md", r"""## Backward, one VJP at a time

**Scores.** As for the softmax classifier, $\partial L/\partial s_2 = (Q - \mathbb{1}_y)/N$.
(The seed keeps `ds2` without the $1/N$ and divides each parameter gradient by $N$ at the end;
here the $1/N$ goes in at once, so every intermediate is a true gradient of $L$.)"""),
    ("code", """\
dscores = q.copy()
dscores[np.arange(N), y] -= 1
dscores /= N
dscores = step("scores", dscores, f"dscores {dscores.shape} = (Q - 1_y) / N")"""),
    ("md", r"""**Second layer.** $s_2 = h W_2 + b_2$. $\partial L/\partial W_2$ must be $(H, C)$: from $h$
$(N, H)$ and `dscores` $(N, C)$ only $h^T \cdot$ `dscores` fits. $b_2$ $(C,)$ was broadcast over
the $N$ rows, so its gradient sums them."""),
    ("code", """\
dW2 = step("W2", s1_relu.T @ dscores + 2 * reg * W2,
           f"dW2 {W2.shape} = hidden^T {s1_relu.T.shape} . dscores {dscores.shape} + 2 reg W2")
db2 = step("b2", dscores.sum(axis=0), f"db2 {b2.shape} = sum over the rows of dscores {dscores.shape}")"""),
    ("md", r"""**Into the hidden layer.** $\partial L/\partial h$ must be $(N, H)$: `dscores` $(N, C)$ times
$W_2^T$ $(C, H)$."""),
    ("code", """\
dhidden = step("hidden", dscores @ W2.T,
               f"dhidden {s1_relu.shape} = dscores {dscores.shape} . W2^T {W2.T.shape}")"""),
    ("md", r"""**The ReLU.** $h = \max(0, s_1)$ entrywise, so its VJP multiplies by the mask
$\mathbb{1}[s_1 > 0]$: the gradient passes where the input was positive and stops elsewhere."""),
    ("code", """\
mask = s1 > 0
dhidden_pre = step("hidden_pre", mask * dhidden,
                   f"dhidden_pre {s1.shape} = [s1 > 0] * dhidden {dhidden.shape}")
print(f"the mask lets {mask.mean():.0%} of the entries through")"""),
    ("md", r"""**First layer.** $s_1 = X W_1 + b_1$: $X^T$ $(D, N)$ times `dhidden_pre` $(N, H)$ gives
$(D, H)$, $W_1$'s shape; $b_1$ sums the rows again."""),
    ("code", """\
dW1 = step("W1", X.T @ dhidden_pre + 2 * reg * W1,
           f"dW1 {W1.shape} = X^T {X.T.shape} . dhidden_pre {dhidden_pre.shape} + 2 reg W1")
db1 = step("b1", dhidden_pre.sum(axis=0),
           f"db1 {b1.shape} = sum over the rows of dhidden_pre {dhidden_pre.shape}")"""),
    ("md", r"""The seed's own code (`net.loss(..., method="manual")`) gives the same parameter gradients:"""),
    ("code", """\
_, manual = net.loss(X, y, reg=reg, method="manual")
ours = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
for k in ours:
    err = rel_error(ours[k], manual[k])
    print(f"relative error, {k} step by step vs the seed's code: {err:.2e}")
    assert err < 1e-12"""),
    ("md", r"""## Watch the tape do it

The step-through explorer (`viz.explore`) replays the same recording: step forward through the
ops, then backward one VJP at a time, each step's rule shown with its shapes, gradients
appearing on a node only once the sweep has reached it. The page is one self-contained HTML
file: `save` writes it (here to a temporary folder) to open in any browser, offline."""),
    ("code", """\
import tempfile
from pathlib import Path

params = {k: tensors[k] for k in TwoLayerNet.PARAMS}
page = viz.explore(tape, loss_t, params=params, inputs={"X": X, "y": y})
saved = page.save(Path(tempfile.mkdtemp()) / "two_layer_explorer.html")
print("the same page, standalone (open it in a browser):", saved)
page"""),
]


DEBUGGER = [
    ("md", r"""# 3. Finding a planted bug with the gradient debugger

A hand-derived backward pass can be wrong in a way that still runs: every shape fits, nothing
raises, and only a gradient check says something is off. A plain check
(one relative error per parameter) says *that* $W_1$'s gradient is wrong, not *where* the
derivation went wrong.

`compare_gradients(model, X, y, reg, hand_derived=...)` answers the second question. It takes
the model's forward pass as named tensors (parameters and intermediates), gets autodiff's
gradient for every one of them from one tape, central finite differences for each, and the
hand-derived gradients you supply; then it walks the tensors from the loss back towards the
input. The first tensor whose hand-derived gradient disagrees with autodiff is the first wrong
step of the derivation."""),
    ("code", imports("compare_gradients", "from models.two_layer_net import TwoLayerNet")),
    ("code", "N, H, reg = 8, 10, 0.05\n" + DIGITS + """
np.random.seed(0)
net = TwoLayerNet(X.shape[1], H, digits.num_classes, std=0.1)"""),
    ("md", r"""## The planted bug: the ReLU mask forgotten

The seed's backward, written out, with one line missing: the gradient `ds1` reaching the hidden
layer goes on to $W_1$ and $b_1$ *without* the ReLU's mask $\mathbb{1}[s_1 > 0]$. The function
returns the gradients of the intermediates too (as true gradients of $L$, divided by $N$), so
that the debugger can check each step."""),
    ("code", """\
def backward(params, X, y, reg, relu_mask=True, mean=True):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    n = N if mean else 1                         # (mean=False: the next section's bug)
    s1 = X @ W1 + b1
    s1_relu = (s1 > 0) * s1
    q = np.exp(s1_relu @ W2 + b2)
    q /= q.sum(axis=1, keepdims=True)
    ds2 = q.copy()
    ds2[np.arange(N), y] -= 1                    # dL/ds2 * N: the seed divides by N below
    grads = {"scores": ds2 / n}
    grads["W2"] = s1_relu.T @ ds2 / n + 2 * reg * W2
    grads["b2"] = ds2.sum(axis=0) / n
    ds1 = ds2 @ W2.T                             # dL/d(hidden) * N
    grads["hidden"] = ds1 / n
    if relu_mask:
        ds1 = (s1 > 0) * ds1                     # <- the line the buggy version forgets
    grads["hidden_pre"] = ds1 / n
    grads["W1"] = X.T @ ds1 / n + 2 * reg * W1
    grads["b1"] = ds1.sum(axis=0) / n
    return grads


def forgot_relu_mask(params, X, y, reg):
    return backward(params, X, y, reg, relu_mask=False)"""),
    ("md", r"""## The comparison table

Rows run from the loss back to the input. "hand vs autodiff" is the relative error of your
gradient against the tape's; "numerical vs autodiff" that of finite differences against the
tape's (a check on the engine itself: it should agree everywhere). A `-` means that gradient
was not given (we did not derive one for `probs`)."""),
    ("code", """\
result = compare_gradients(net, X, y, reg, hand_derived=forgot_relu_mask)
result"""),
    ("md", r"""Read it from the top: `scores`, $W_2$, $b_2$ and `hidden` agree, so everything up to
$\partial L/\partial h$ is right. `hidden_pre` is the first row that disagrees: the step from
$h$ back to $s_1$, the ReLU, is wrong. $W_1$ and $b_1$ disagree too, but only because the error
flows on to them: fixing them directly would be fixing the symptom. The finite differences agree
with autodiff on every row, so the engine is right and the derivation is not."""),
    ("code", """\
print("first wrong step:", result.first_disagreement)
print("engine vs finite differences first disagree at:", result.first_numerical_disagreement)
assert result.first_disagreement == "hidden_pre"
assert result.first_numerical_disagreement is None
assert {r.name for r in result.rows if not r.ok} == {"hidden_pre", "W1", "b1"}"""),
    ("md", r"""## The same on the graph

`viz.draw_graph(..., hand_derived=...)` colours each node that has a hand-derived gradient:
green where it agrees with autodiff, red where it does not; the red node nearest the loss gets a
thick border and the words "first wrong step"."""),
    ("code", """\
with tflc.GradientTape(persistent=True) as tape:
    loss, tensors = net.forward_tensors(X, y, reg)
buggy = forgot_relu_mask(net.params, X, y, reg)
graph = viz.draw_graph(tape, loss, inputs={"X": X, "y": y}, hand_derived=buggy, rankdir="TB",
                       title="a hand derivation that forgot the ReLU mask")
assert "first wrong step" in graph.source
show(graph)"""),
    ("md", r"""The step-through explorer takes the same `hand_derived` gradients: its nodes are coloured by
agreement and the page names the first wrong step at the top. Step backwards to `hidden_pre`
to see the rule the derivation should have applied there."""),
    ("code", """\
viz.explore(tape, loss, inputs={"X": X, "y": y}, hand_derived=buggy,
            title="a hand derivation that forgot the ReLU mask")"""),
    ("md", r"""## The fix

Put the mask back (`relu_mask=True`): every row agrees, and every node turns green."""),
    ("code", """\
fixed = compare_gradients(net, X, y, reg, hand_derived=backward)
assert fixed.ok and fixed.first_disagreement is None
worst = max(r.hand_vs_autodiff for r in fixed.rows if r.hand_vs_autodiff is not None)
print(f"largest relative error, hand vs autodiff: {worst:.2e}")
fixed"""),
    ("code", """\
show(viz.draw_graph(tape, loss, inputs={"X": X, "y": y},
                    hand_derived=backward(net.params, X, y, reg), rankdir="TB",
                    title="the fixed derivation: every step agrees"))"""),
    ("md", r"""## Another classic: forgetting the mean's $1/N$

Forget to divide by $N$ (`mean=False`) and the very first step, $\partial L/\partial s_2$, is
wrong; every gradient after it inherits the factor $N$ (the weights' only partly: their
$2\,\mathrm{reg}\,W$ term is right). (Finite differences are skipped here: `numerical=False`.)"""),
    ("code", """\
def forgot_one_over_n(params, X, y, reg):
    return backward(params, X, y, reg, mean=False)


wrong_n = compare_gradients(net, X, y, reg, hand_derived=forgot_one_over_n, numerical=False)
assert wrong_n.first_disagreement == "scores"
print(wrong_n)"""),
]


NOTEBOOKS = {
    "01_softmax_gradient.ipynb": SOFTMAX,
    "02_two_layer_backward.ipynb": TWO_LAYER,
    "03_gradient_debugger.ipynb": DEBUGGER,
}


def build(cells, stem):
    """The notebook, without outputs; cell ids are fixed so that re-running this script gives
    the same files."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                  "language": "python"},
                   "language_info": {"name": "python"}}
    for k, (kind, text) in enumerate(cells):
        cell = (nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell)(text)
        cell.id = f"{stem[:2]}-{k:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def text_of(name):
    """The .ipynb text this script writes for `name`."""
    return nbformat.writes(build(NOTEBOOKS[name], name)) + "\n"


def main():
    for name in NOTEBOOKS:
        (HERE / name).write_text(text_of(name), encoding="utf-8")
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
