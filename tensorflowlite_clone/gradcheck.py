"""Gradient checking: central finite differences, relative errors, and `compare_gradients`,
which lines up autodiff, hand-derived and numerical gradients step by step.

The finite-difference helpers follow cs231n's `gradient_check.py`. Use float64: with float32
the differences drown in rounding.

`compare_gradients` answers "which step of my hand derivation is wrong?". It asks the model
for its forward pass as named tensors, gets autodiff gradients for all of them (parameters
*and* intermediates such as "scores" or "hidden_pre") from one tape, and walks them from the
loss back towards the inputs; the first tensor whose hand-derived gradient disagrees with
autodiff is the first wrong step.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any, SupportsFloat

import numpy as np

from .tape import GradientTape
from .tensor import ArrayLike, Tensor


def rel_error(a: ArrayLike, b: ArrayLike, floor: float = 1e-8, per_entry: bool = True) -> float:
    """The relative error of a and b (arrays of the same or broadcastable shapes), a float.

    per_entry=True, cs231n's measure: max over the entries of |a - b| / max(floor, |a| + |b|).
    per_entry=False: max |a - b| / max(floor, max(|a| + |b|)), the worst difference relative
    to the largest entry, so that entries near zero (where finite differences are mostly
    rounding) do not dominate. NaN or inf anywhere gives inf: it never reads as agreement.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size == 0 and b.size == 0:
        return 0.0
    with np.errstate(invalid="ignore", over="ignore"):  # both end as inf, below
        difference, scale = np.abs(a - b), np.abs(a) + np.abs(b)
        err = (np.max(difference / np.maximum(floor, scale)) if per_entry
               else np.max(difference) / max(floor, float(np.max(scale))))
    return float(err) if np.isfinite(err) else float("inf")


def _check_x(x, caller):
    """x is nudged in place, so it must be a writable floating-point ndarray: in an integer
    array x[ix] + h would be truncated to an integer, and the differences would be garbage."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{caller}: x must be a NumPy array (it is perturbed in place), "
                        f"got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{caller}: x must be a floating-point array, got {x.dtype}")
    if not x.flags.writeable:
        raise ValueError(f"{caller}: x is read-only, but it is perturbed in place; "
                         "pass a writable copy")


def _nudged(f, x, ix, h, read=float):
    """`read(f(x))` with x[ix] raised by h, then lowered by h; x[ix] is restored exactly, even
    if `f` raises."""
    old = x[ix]  # a scalar copy
    try:
        x[ix] = old + h
        plus = read(f(x))
        x[ix] = old - h
        minus = read(f(x))
    finally:
        x[ix] = old
    return plus, minus


def _as_float64_copy(value):
    return np.array(value, dtype=np.float64)  # a copy: f may return a view of x


def numerical_gradient(f: Callable[[np.ndarray], SupportsFloat], x: np.ndarray,
                       h: float = 1e-5) -> np.ndarray:
    """d f(x) / dx by central differences; `f` returns a scalar, `x` (an ndarray) is perturbed in
    place one entry at a time and restored exactly, even if `f` raises. Returns float64.
    x must be a writable floating-point array (TypeError / ValueError otherwise): an integer
    array would truncate each nudge x + h to an integer."""
    _check_x(x, "numerical_gradient")
    grad = np.zeros(x.shape)
    for ix in np.ndindex(x.shape):
        plus, minus = _nudged(f, x, ix, h)
        grad[ix] = (plus - minus) / (2 * h)
    return grad


def numerical_gradient_array(f: Callable[[np.ndarray], ArrayLike], x: np.ndarray, df: ArrayLike,
                             h: float = 1e-5) -> np.ndarray:
    """The gradient of sum(f(x) * df) for array-valued `f`: the VJP of f at x with `df`.
    x as for `numerical_gradient`: a writable floating-point array."""
    _check_x(x, "numerical_gradient_array")
    grad = np.zeros(x.shape)
    for ix in np.ndindex(x.shape):
        plus, minus = _nudged(f, x, ix, h, read=_as_float64_copy)
        grad[ix] = np.sum((plus - minus) * df) / (2 * h)
    return grad


def grad_check_sparse(f: Callable[[np.ndarray], SupportsFloat], x: np.ndarray,
                      analytic_grad: ArrayLike, num_checks: int = 10, h: float = 1e-5,
                      seed: int | None = None, verbose: bool = False) -> list[float]:
    """Compare `analytic_grad` with central differences at `num_checks` random entries of `x`.

    Returns the list of relative errors. `seed` feeds a private generator, so NumPy's global
    random state is left alone. With `verbose`, prints each check as cs231n does.
    x as for `numerical_gradient`: a writable floating-point array.
    """
    _check_x(x, "grad_check_sparse")
    rng = np.random.default_rng(seed)
    analytic_grad = np.asarray(analytic_grad)
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        plus, minus = _nudged(f, x, ix, h)
        numerical, analytic = (plus - minus) / (2 * h), float(analytic_grad[ix])
        errors.append(rel_error(numerical, analytic))
        if verbose:
            print(f"numerical: {numerical:f} analytic: {analytic:f}, relative error: {errors[-1]:e}")
    return errors


# --- step-by-step comparison -------------------------------------------------------------------
@dataclass
class GradientRow:
    """One tensor of the model: how its gradients compare (None: that gradient was not given)."""
    name: str
    kind: str                      # "parameter" or "intermediate"
    shape: tuple
    hand_vs_autodiff: float | None
    numerical_vs_autodiff: float | None
    ok: bool
    note: str = ""


@dataclass
class GradientComparison:
    """The result of `compare_gradients`; `print(result)` shows it as a table.

    rows: one per named tensor, in backward order (from the loss towards the inputs).
    first_disagreement: name of the first row whose hand-derived gradient disagrees with
        autodiff (the first wrong step of the hand derivation), or None.
    first_numerical_disagreement: the first row where autodiff disagrees with finite
        differences (which points at the engine or the model, not the derivation), or None.
    autodiff, hand_derived, numerical: the gradients themselves, name -> ndarray.
    """
    loss: float
    rows: list
    first_disagreement: str | None
    first_numerical_disagreement: str | None
    tol: float
    numerical_tol: float
    autodiff: dict = field(repr=False, default_factory=dict)
    hand_derived: dict = field(repr=False, default_factory=dict)
    numerical: dict = field(repr=False, default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    def __getitem__(self, name: str) -> GradientRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def __str__(self):
        width = max([len("tensor")] + [len(r.name) for r in self.rows])
        lines = [f"loss {self.loss:.10g}; rows run from the loss back to the inputs "
                 f"(tolerances: hand {self.tol:g}, numerical {self.numerical_tol:g})",
                 f"{'tensor':<{width}}  {'shape':<12}  {'hand vs autodiff':>16}  "
                 f"{'numerical vs autodiff':>21}  ok"]
        for r in self.rows:
            line = (f"{r.name:<{width}}  {str(r.shape):<12}  {_fmt(r.hand_vs_autodiff):>16}  "
                    f"{_fmt(r.numerical_vs_autodiff):>21}  {'yes' if r.ok else 'NO'}")
            lines.append(line + (f"  ({r.note})" if r.note else ""))
        return "\n".join(lines + self._summary_lines())

    def _summary_lines(self):
        """The sentences under the table (as `__str__` ends)."""
        lines = []
        if self.first_disagreement:
            lines.append(f"first disagreement: d loss/d {self.first_disagreement} "
                         "(the hand derivation goes wrong at this step)")
        elif any(r.hand_vs_autodiff is not None for r in self.rows):
            lines.append("the hand-derived gradients agree with autodiff")
        if self.first_numerical_disagreement:
            lines.append(f"autodiff disagrees with finite differences first at "
                         f"{self.first_numerical_disagreement}")
        return lines

    def _repr_html_(self):
        """The table `print(result)` shows, as HTML for Jupyter: one <tr> per row, agreeing rows
        green and marked "agrees", the others red and marked "DISAGREES" (words as well as
        colours), the first wrong step of the hand derivation in bold and named below the table.
        Each row's <tr> carries the class "agree" or "disagree" (plus "first-disagree")."""
        cell = 'style="padding:2px 8px;text-align:{}"'
        head = "".join(f"<th {cell.format(align)}>{escape(title)}</th>" for title, align in (
            ("tensor", "left"), ("kind", "left"), ("shape", "left"), ("hand vs autodiff", "right"),
            ("numerical vs autodiff", "right"), ("verdict", "left")))
        body = []
        for r in self.rows:
            first = r.name == self.first_disagreement
            classes = ("agree" if r.ok else "disagree") + (" first-disagree" if first else "")
            colour = "#c8ecc9" if r.ok else ("#ff9e9e" if first else "#ffcdd2")
            verdict = "agrees" if r.ok else "DISAGREES"
            if first:
                verdict += ": first wrong step"
            if r.name == self.first_numerical_disagreement:
                verdict += " (autodiff vs finite differences first differs here)"
            if r.note:
                verdict += f" ({r.note})"
            weight = "font-weight:bold;" if first else ""
            cells = [(r.name, "left"), (r.kind, "left"), (str(r.shape), "left"),
                     (_fmt(r.hand_vs_autodiff), "right"), (_fmt(r.numerical_vs_autodiff), "right"),
                     (verdict, "left")]
            body.append(f'<tr class="{classes}" style="background:{colour};color:#1a1a1a;{weight}">'
                        + "".join(f"<td {cell.format(align)}>{escape(text)}</td>"
                                  for text, align in cells) + "</tr>")
        caption = (f"loss {self.loss:.10g}; rows run from the loss back to the inputs "
                   f"(tolerances: hand {self.tol:g}, numerical {self.numerical_tol:g})")
        summary = "".join(f"<p style=\"margin:2px 0\">{escape(line)}</p>"
                          for line in self._summary_lines())
        return (f'<div class="gradient-comparison"><table style="border-collapse:collapse">'
                f'<caption style="text-align:left">{escape(caption)}</caption>'
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
                f"{summary}</div>")


def _fmt(error):
    return "-" if error is None else f"{error:.2e}"


def compare_gradients(model: Any, X: np.ndarray, y: np.ndarray, reg: float = 0.0,
                      hand_derived: Callable[..., Mapping[Any, ArrayLike]] | Mapping[Any, ArrayLike]
                      | None = None, h: float = 1e-5, numerical: bool = True, tol: float = 1e-7,
                      numerical_tol: float = 1e-4) -> GradientComparison:
    """Autodiff vs hand-derived vs numerical gradients of `model`'s loss on (X, y), per tensor.

    The model provides (as `models.softmax.Softmax` and `models.two_layer_net.TwoLayerNet` do):
      - `params`: dict name -> ndarray (perturbed in place here for finite differences);
      - `forward_tensors(X, y, reg, nudge=None) -> (loss, tensors)`: the forward pass from engine
        primitives, `tensors` a dict name -> Tensor in forward order, parameters and named
        intermediates alike; `nudge` maps intermediate names to arrays added to them;
      - `hand_derived_gradients(params, X, y, reg) -> dict name -> ndarray` (the default
        `hand_derived`).
    `hand_derived` may be such a function or a ready dict whose keys are names or named Tensors.
    It may cover any subset of the names; rows it omits show "-". Pass `numerical=False` to skip
    finite differences (they cost two forward passes per entry: use a small batch).
    A row is ok when its errors are within `tol` (hand vs autodiff; both exact up to rounding in
    float64, so loosen it for float32) and `numerical_tol` (finite differences: cs231n calls
    errors below 1e-4 fine where there are kinks, and log(p) of a small probability p loses
    accuracy to the step h too). Entries below the finite differences' resolution (a few ulps
    of the loss over 2h) are compared at that resolution rather than relative to themselves.
    """
    needed = ["params", "forward_tensors"] + (["hand_derived_gradients"] if hand_derived is None
                                              else [])
    missing = [name for name in needed if not hasattr(model, name)]
    if missing:
        raise TypeError(f"compare_gradients: model must provide {', '.join(needed)} (as "
                        "models.softmax.Softmax and models.two_layer_net.TwoLayerNet do); "
                        f"{type(model).__name__} lacks {', '.join(missing)}")
    if y is None:
        raise ValueError("compare_gradients: y must be the labels, got None")
    with GradientTape() as tape:
        loss, tensors = model.forward_tensors(X, y, reg)
    autodiff = {name: g.numpy() for name, g in
                tape.gradient(loss, tensors, unconnected_gradients="zero").items()}

    if hand_derived is None:
        hand_derived = model.hand_derived_gradients
    if callable(hand_derived):  # copies: a buggy derivation must not corrupt the model
        hand_derived = hand_derived({k: v.copy() for k, v in model.params.items()}, X, y, reg)
    hand = {(key.name if isinstance(key, Tensor) else key): np.asarray(g)
            for key, g in hand_derived.items()}
    unknown = sorted(set(hand) - set(tensors))
    if unknown:
        raise ValueError(f"compare_gradients: hand-derived gradients for unknown tensors {unknown}; "
                         f"the model's tensors are {list(tensors)}")

    numeric = _numerical_gradients(model, X, y, reg, tensors, h) if numerical else {}
    # central differences cannot tell apart gradients closer than a few ulps of the loss over
    # 2h (one ulp is 1.1e-11 at a loss of 1): entries that small, such as a bias's before a
    # batchnorm (zero, up to rounding), are compared at that resolution
    numerical_floor = max(1e-8, 4 * np.spacing(abs(float(loss))) / (2 * h) / numerical_tol)

    rows = []
    for name in reversed(tensors):  # backward order: the loss first
        shape = tuple(autodiff[name].shape)
        hand_err, note = None, ""
        if name in hand:
            if hand[name].shape != shape:
                hand_err, note = float("inf"), f"hand-derived shape {hand[name].shape}"
            else:
                hand_err = rel_error(autodiff[name], hand[name])
        num_err = (rel_error(autodiff[name], numeric[name], floor=numerical_floor)
                   if name in numeric else None)
        ok = ((hand_err is None or hand_err <= tol)
              and (num_err is None or num_err <= numerical_tol))
        kind = "parameter" if name in model.params else "intermediate"
        rows.append(GradientRow(name, kind, shape, hand_err, num_err, ok, note))

    first_hand = next((r.name for r in rows if r.hand_vs_autodiff is not None
                       and not r.hand_vs_autodiff <= tol), None)
    first_num = next((r.name for r in rows if r.numerical_vs_autodiff is not None
                      and not r.numerical_vs_autodiff <= numerical_tol), None)
    return GradientComparison(float(loss), rows, first_hand, first_num, tol, numerical_tol,
                              autodiff, hand, numeric)


def _numerical_gradients(model, X, y, reg, tensors, h):
    """Central differences of the loss: parameters perturbed in place, intermediates nudged."""
    def loss_at(nudge=None):
        return float(model.forward_tensors(X, y, reg, nudge=nudge)[0])

    grads = {}
    for name, t in tensors.items():
        if name in model.params:
            grads[name] = numerical_gradient(lambda _: loss_at(), model.params[name], h)
        else:
            grads[name] = numerical_gradient(lambda d, name=name: loss_at({name: d}),
                                             np.zeros(t.shape), h)
    return grads
