"""tflc.nn: every function's forward against a NumPy reference (and PyTorch, where installed),
gradients against central finite differences and second derivatives through nested tapes
(float64), axis arguments, the conventions at the kinks, float32 end to end, stability at +-1000,
cross_entropy against the seed's softmax loss, traces, and bad labels / ids / arguments."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensorflowlite_clone as tflc
from models.softmax import softmax_loss

nn = tflc.nn
SWEEP = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- NumPy references --------------------------------------------------------------------------
def np_sigmoid(x):
    return np.exp(-np.logaddexp(0, -x))


def np_gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def np_gelu_exact(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def np_logsumexp(x, axis=None, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def np_log_softmax(x, axis=-1):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def np_softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


REFERENCES = {  # name: (tflc function, NumPy reference, kinks to keep random points away from)
    "relu": (nn.relu, lambda x: np.maximum(x, 0), (0.0,)),
    "sigmoid": (nn.sigmoid, np_sigmoid, ()),
    "softplus": (nn.softplus, lambda x: np.logaddexp(0, x), ()),
    "silu": (nn.silu, lambda x: x * np_sigmoid(x), ()),
    "gelu": (nn.gelu, np_gelu_tanh, ()),
    "gelu_exact": (lambda x: nn.gelu(x, approximate=False), np_gelu_exact, ()),
    "elu": (nn.elu, lambda x: np.where(x > 0, x, np.expm1(x)), (0.0,)),
    "elu_alpha": (lambda x: nn.elu(x, alpha=0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)),
                  (0.0,)),
    "leaky_relu": (nn.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), (0.0,)),
    "leaky_relu_0.2": (lambda x: nn.leaky_relu(x, negative_slope=0.2),
                       lambda x: np.where(x > 0, x, 0.2 * x), (0.0,)),
    "relu6": (nn.relu6, lambda x: np.clip(x, 0, 6), (0.0, 6.0)),
    "hardtanh": (nn.hardtanh, lambda x: np.clip(x, -1, 1), (-1.0, 1.0)),
    "hardtanh_-2_3": (lambda x: nn.hardtanh(x, min_val=-2, max_val=3), lambda x: np.clip(x, -2, 3),
                      (-2.0, 3.0)),
}


def points(shape, kinks=(), seed=0, scale=4.0):
    """Random points spread over [-scale, scale] + 3 (both corners of relu6 too), none within
    0.05 of a kink, so central differences see one smooth piece."""
    x = np.random.default_rng(seed).uniform(-scale, scale + 3.0, shape)
    for k in kinks:
        x = np.where(np.abs(x - k) < 0.05, k + 0.1, x)
    return x


SHAPES = [(), (1,), (7,), (2, 3), (2, 1, 3)]


# --- elementwise activations ---------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("shape", SHAPES)
def test_activation_forward_matches_numpy(name, shape):
    f, reference, kinks = REFERENCES[name]
    x = points(shape, kinks, seed=len(shape))
    out = f(x)
    assert isinstance(out, tflc.Tensor) and out.shape == x.shape and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), reference(x), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(f(tflc.Tensor(x)).numpy(), reference(x), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("shape", [(), (3, 4)])
def test_activation_gradients(name, shape, check_grads, check_hvp):
    f, _, kinks = REFERENCES[name]
    x = points(shape, kinks, seed=1)
    check_grads(f, x)
    check_hvp(f, x)


def test_relu_and_sigmoid_are_the_engine_ops():
    assert nn.relu is tflc.relu and nn.sigmoid is tflc.sigmoid


@pytest.mark.parametrize("f, x, expected", [
    (nn.relu, [0.0], [0.0]),
    (nn.leaky_relu, [0.0], [0.01]),
    (lambda x: nn.leaky_relu(x, 0.3), [0.0], [0.3]),
    (nn.relu6, [0.0, 6.0, -1.0, 3.0, 7.0], [0.0, 0.0, 0.0, 1.0, 0.0]),
    (nn.hardtanh, [-1.0, 1.0, -2.0, 0.0, 2.0], [0.0, 0.0, 0.0, 1.0, 0.0]),
    (lambda x: nn.hardtanh(x, -2.0, 3.0), [-2.0, 3.0, 0.0], [0.0, 0.0, 1.0]),
    (nn.elu, [0.0], [1.0]),
    (lambda x: nn.elu(x, alpha=0.5), [0.0], [0.5]),
    (nn.softplus, [0.0], [0.5]),
])
def test_derivatives_at_the_kinks(f, x, expected):
    """The README's table: the piece outside the open interval where f is the identity, as
    torch (relu6, hardtanh, leaky_relu) and jax.nn.relu / relu6 take it."""
    x = tflc.Tensor(np.array(x))
    with tflc.GradientTape() as tape:
        tape.watch(x)
        y = tflc.sum(f(x))
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), expected)


def test_the_kink_conventions_are_torchs():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = np.array([-2.0, -1.0, 0.0, 1.0, 6.0, 7.0])
    pairs = [(nn.relu, F.relu), (nn.leaky_relu, F.leaky_relu), (nn.relu6, F.relu6),
             (nn.hardtanh, F.hardtanh), (nn.elu, F.elu), (nn.softplus, F.softplus)]
    for ours, theirs in pairs:
        t = torch.tensor(x, requires_grad=True)
        theirs(t).sum().backward()
        assert ours(x).numpy().tolist() == pytest.approx(theirs(torch.tensor(x)).tolist())
        assert tflc.grad(lambda v, f=ours: tflc.sum(f(v)))(x).numpy().tolist() == \
            pytest.approx(t.grad.tolist()), ours


def test_gelu_default_is_jaxs_tanh_form():
    x = np.linspace(-4, 4, 9)
    np.testing.assert_allclose(nn.gelu(x).numpy(), np_gelu_tanh(x), rtol=1e-13)
    np.testing.assert_allclose(nn.gelu(x, approximate=True).numpy(), np_gelu_tanh(x), rtol=1e-13)


def test_gelu_exact():
    x = np.linspace(-6, 6, 13)
    np.testing.assert_allclose(nn.gelu(x, approximate=False).numpy(), np_gelu_exact(x),
                               rtol=1e-12, atol=1e-15)


def test_activations_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = points((4, 5), (-1.0, 0.0, 1.0, 6.0), seed=3)
    pairs = [(nn.softplus, F.softplus), (nn.silu, F.silu), (nn.sigmoid, torch.sigmoid),
             (nn.gelu, lambda t: F.gelu(t, approximate="tanh")),
             (lambda v: nn.elu(v, 0.7), lambda t: F.elu(t, 0.7)),
             (lambda v: nn.leaky_relu(v, 0.2), lambda t: F.leaky_relu(t, 0.2)),
             (nn.relu6, F.relu6), (lambda v: nn.hardtanh(v, -2, 3), lambda t: F.hardtanh(t, -2, 3)),
             (lambda v: nn.gelu(v, approximate=False), F.gelu)]
    for ours, theirs in pairs:
        t = torch.tensor(x, requires_grad=True)
        theirs(t).sum().backward()
        np.testing.assert_allclose(ours(x).numpy(), theirs(torch.tensor(x)).numpy(),
                                   rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(tflc.grad(lambda v, f=ours: tflc.sum(f(v)))(x).numpy(),
                                   t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_softplus_is_stable_in_both_tails():
    x = np.array([-1000.0, -40.0, -1.0, 0.0, 1.0, 40.0, 1000.0])
    out = nn.softplus(x).numpy()
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, np.logaddexp(0, x), rtol=1e-15, atol=0)
    grad = tflc.grad(lambda v: tflc.sum(nn.softplus(v)))(x).numpy()
    np.testing.assert_allclose(grad, np_sigmoid(x), rtol=1e-15, atol=1e-300)


def test_elu_and_silu_are_finite_far_out():
    x = np.array([-1000.0, 1000.0])
    for f in (nn.elu, nn.silu, nn.gelu, lambda v: nn.gelu(v, approximate=False)):
        # no overflow on the side a where does not pick, nor 0 * inf in its gradient
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            with tflc.GradientTape() as tape:
                v = tflc.Tensor(x)
                tape.watch(v)
                y = tflc.sum(f(v))
            grad = tape.gradient(y, v).numpy()
        assert np.all(np.isfinite(f(x).numpy())) and np.all(np.isfinite(grad)), f
    np.testing.assert_array_equal(nn.elu(x).numpy(), [-1.0, 1000.0])


def test_elu_is_exact_near_zero():
    x = np.array([-1e-10, -1e-5, -0.3])
    np.testing.assert_allclose(nn.elu(x).numpy(), np.expm1(x), rtol=1e-15)


def test_hardtanh_refuses_bad_bounds():
    with pytest.raises(ValueError, match="min_val"):
        nn.hardtanh(np.ones(2), 2.0, 1.0)
    with pytest.raises(TypeError, match="max_val"):
        nn.hardtanh(np.ones(2), -1.0, np.ones(2))


# --- softmax, log_softmax, logsumexp -------------------------------------------------------------
AXES = [-1, 0, 1, (0, 1), None]


@pytest.mark.parametrize("axis", AXES)
def test_softmax_and_log_softmax_forward_and_gradients(axis, check_grads, check_hvp):
    x = np.random.default_rng(5).standard_normal((3, 4)) * 2
    np.testing.assert_allclose(nn.softmax(x, axis).numpy(), np_softmax(x, axis), rtol=1e-13)
    np.testing.assert_allclose(nn.log_softmax(x, axis).numpy(), np_log_softmax(x, axis),
                               rtol=1e-13)
    for f in (lambda v: nn.softmax(v, axis), lambda v: nn.log_softmax(v, axis)):
        check_grads(f, x)
        check_hvp(f, x)


def test_softmax_default_axis_is_the_last():
    x = np.random.default_rng(6).standard_normal((2, 3, 4))
    np.testing.assert_allclose(nn.softmax(x).numpy(), np_softmax(x, -1), rtol=1e-13)
    np.testing.assert_allclose(nn.softmax(x).numpy().sum(-1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(nn.log_softmax(x).numpy(), np_log_softmax(x, -1), rtol=1e-13)


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_forward_and_gradients(axis, keepdims, check_grads, check_hvp):
    x = np.random.default_rng(7).standard_normal((3, 4)) * 2
    out = nn.logsumexp(x, axis=axis, keepdims=keepdims)
    expected = np_logsumexp(x, axis, keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-13)
    f = lambda v: nn.logsumexp(v, axis=axis, keepdims=keepdims)  # noqa: E731
    check_grads(f, x)
    check_hvp(f, x)


@pytest.mark.parametrize("axis", [None, 0, -1])
def test_logsumexp_gradient_is_softmax(axis):
    x = np.random.default_rng(8).standard_normal((3, 5))
    grad = tflc.grad(lambda v: tflc.sum(nn.logsumexp(v, axis=axis)))(x).numpy()
    np.testing.assert_allclose(grad, np_softmax(x, axis), rtol=1e-13)


@SWEEP
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seed=st.integers(0, 2**32 - 1),
       data=st.data())
def test_softmax_family_over_random_shapes_and_axes(shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = np.random.default_rng(seed).standard_normal(shape) * 3
    np.testing.assert_allclose(nn.softmax(x, axis).numpy(), np_softmax(x, axis), rtol=1e-12)
    np.testing.assert_allclose(nn.log_softmax(x, axis).numpy(), np_log_softmax(x, axis),
                               rtol=1e-12, atol=1e-14)
    keepdims = data.draw(st.booleans())
    np.testing.assert_allclose(nn.logsumexp(x, axis, keepdims).numpy(),
                               np_logsumexp(x, axis, keepdims), rtol=1e-12, atol=1e-14)


def test_softmax_family_is_stable_at_1000():
    x = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, 999.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        sm, lsm, lse = nn.softmax(x).numpy(), nn.log_softmax(x).numpy(), nn.logsumexp(x, 1).numpy()
    np.testing.assert_allclose(sm, np_softmax(x), rtol=1e-14, atol=1e-300)
    np.testing.assert_array_equal(lsm[0], [0.0, -1000.0, -2000.0])
    np.testing.assert_allclose(lsm, np_log_softmax(x), rtol=1e-14)
    np.testing.assert_allclose(lse, [1000.0, -1000.0 + math.log(3), 1000.0 + math.log(2 + math.exp(-1))],
                               rtol=1e-15)
    for f in (nn.softmax, nn.log_softmax, lambda v: nn.logsumexp(v, 1)):
        grad = tflc.grad(lambda v, f=f: tflc.sum(f(v) * np.arange(3.0)))(x).numpy()
        assert np.all(np.isfinite(grad))


def test_logsumexp_of_infinite_slices():
    x = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [-np.inf, 2.0]])
    with np.errstate(divide="ignore"):
        out = nn.logsumexp(x, axis=1).numpy()
    np.testing.assert_array_equal(out, [-np.inf, np.inf, 2.0])


def test_softmax_family_match_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(9).standard_normal((3, 4)) * 3
    w = np.random.default_rng(10).standard_normal((3, 4))
    cases = [(lambda v: nn.softmax(v, 0), lambda t: torch.softmax(t, 0)),
             (lambda v: nn.log_softmax(v, 1), lambda t: torch.log_softmax(t, 1)),
             (lambda v: nn.logsumexp(v, 1, True), lambda t: torch.logsumexp(t, 1, keepdim=True))]
    for ours, theirs in cases:
        t = torch.tensor(x, requires_grad=True)
        out = theirs(t)
        weights = w[:, :out.shape[1]]
        (out * torch.tensor(weights)).sum().backward()
        np.testing.assert_allclose(ours(x).numpy(), out.detach().numpy(), rtol=1e-13)
        grad = tflc.grad(lambda v, f=ours, u=weights: tflc.sum(f(v) * u))(x).numpy()
        np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-12, atol=1e-15)


# --- float32 end to end --------------------------------------------------------------------------
FLOAT32_CASES = {
    **{name: f for name, (f, _, _) in REFERENCES.items()},
    "softmax": nn.softmax, "log_softmax": lambda v: nn.log_softmax(v, 0),
    "logsumexp": lambda v: nn.logsumexp(v, 1), "logsumexp_all": nn.logsumexp,
    "cross_entropy": lambda v: nn.cross_entropy(v, np.array([0, 3, 1])),
    "dropout": lambda v: nn.dropout(v, 0.5, np.random.default_rng(0)),
    "embedding": lambda v: nn.embedding(np.array([[0, 2], [2, 2]]), v),
}


@pytest.mark.parametrize("name", sorted(FLOAT32_CASES))
def test_float32_stays_float32(name):
    f = FLOAT32_CASES[name]
    x = tflc.Tensor(points((3, 4), (-2, -1, 0, 1, 3, 6), seed=11).astype(np.float32))
    with tflc.GradientTape() as tape:
        tape.watch(x)
        out = f(x)
        loss = tflc.sum(out * 1.5)
    assert out.dtype == np.float32, out.dtype
    assert tape.gradient(loss, x).dtype == np.float32


def test_one_hot_dtype():
    assert nn.one_hot(np.array([1, 0]), 3).dtype == np.float64
    assert nn.one_hot(np.array([1, 0]), 3, dtype=np.float32).dtype == np.float32


# --- one_hot, cross_entropy ----------------------------------------------------------------------
@pytest.mark.parametrize("labels", [np.array([2, 0, 1, 2]), np.array([[0, 1], [3, 3]]),
                                    np.array(3), np.zeros(0, np.int64), [1, 0], np.uint8([3])])
def test_one_hot_forward(labels):
    out = nn.one_hot(labels, 4)
    np.testing.assert_array_equal(out.numpy(), np.eye(4)[np.asarray(labels, dtype=np.intp)])
    assert out.shape == np.shape(labels) + (4,)


def test_one_hot_has_no_gradient():
    x = tflc.Tensor(np.ones((2, 3)))
    labels = tflc.Tensor(np.array([0, 2]))
    with tflc.GradientTape() as tape:
        tape.watch(x)
        hot = nn.one_hot(labels, 3)
        loss = tflc.sum(hot * x)
    assert [r.op for r in tape.records] == [tflc.multiply, tflc.sum]  # one_hot's ops: no gradient
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), [[1, 0, 0], [0, 0, 1]])


@pytest.mark.parametrize("labels, match", [
    (np.array([0, 3]), r"one_hot: labels must be integers in 0\.\.2, got 3 at index 1"),
    (np.array([-1, 0]), r"labels .* got -1 at index 0"),
    (np.array([[0, 1], [5, 0]]), r"labels .* got 5 at index \(1, 0\)"),
    (np.array([0.0, 1.0]), r"one_hot: labels must be integers, got dtype float64"),
    (np.array([True, False]), r"labels must be integers, got dtype bool"),
])
def test_one_hot_refuses_bad_labels(labels, match):
    with pytest.raises(ValueError, match=match):
        nn.one_hot(labels, 3)


def test_one_hot_refuses_bad_num_classes():
    with pytest.raises(ValueError, match="num_classes"):
        nn.one_hot(np.array([0]), 0)
    with pytest.raises(TypeError, match="num_classes"):
        nn.one_hot(np.array([0]), 2.0)


def np_cross_entropy(logits, labels):
    return -np.mean(np_log_softmax(logits, 1)[np.arange(len(labels)), labels])


def test_cross_entropy_forward_and_gradients(check_grads, check_hvp):
    rng = np.random.default_rng(12)
    logits, labels = rng.standard_normal((5, 4)) * 2, np.array([0, 3, 1, 1, 2])
    out = nn.cross_entropy(logits, labels)
    assert out.shape == () and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), np_cross_entropy(logits, labels), rtol=1e-14)
    f = lambda v: nn.cross_entropy(v, labels)  # noqa: E731
    check_grads(f, logits)
    check_hvp(f, logits)
    grad = tflc.grad(f)(logits).numpy()  # the seed's dL/dS = (q - 1_y) / N
    np.testing.assert_allclose(grad, (np_softmax(logits, 1) - np.eye(4)[labels]) / 5,
                               rtol=1e-12, atol=1e-15)


def test_cross_entropy_is_the_seeds_softmax_loss():
    rng = np.random.default_rng(13)
    X, W, y = rng.standard_normal((50, 8)), 0.1 * rng.standard_normal((8, 5)), rng.integers(0, 5, 50)
    loss, dW = softmax_loss(W, X, y, 0.0)
    Wt = tflc.Tensor(W)
    with tflc.GradientTape() as tape:
        tape.watch(Wt)
        ours = nn.cross_entropy(X @ Wt, y)
    np.testing.assert_allclose(float(ours), loss, rtol=1e-13)
    np.testing.assert_allclose(tape.gradient(ours, Wt).numpy(), dW, rtol=1e-11, atol=1e-15)


def test_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    logits, labels = rng.standard_normal((6, 3)) * 4, np.array([2, 0, 1, 1, 0, 2])
    t = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(t, torch.tensor(labels))
    loss.backward()
    np.testing.assert_allclose(float(nn.cross_entropy(logits, labels)), loss.item(), rtol=1e-14)
    grad = tflc.grad(lambda v: nn.cross_entropy(v, labels))(logits).numpy()
    np.testing.assert_allclose(grad, t.grad.numpy(), rtol=1e-12, atol=1e-16)


def test_cross_entropy_is_finite_for_huge_logits():
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss = nn.cross_entropy(logits, np.array([1, 1]))
    assert float(loss) == pytest.approx(1000.0)


@pytest.mark.parametrize("labels, match", [
    (np.array([0, 1, 4]), r"cross_entropy: labels must be 3 integers in 0\.\.3 \(one per row of "
                          r"logits\), got 4 at index 2"),
    (np.array([0, -1, 2]), r"labels .* got -1 at index 1"),
    (np.array([0, 1]), r"labels must be 3 integers .* got shape \(2,\)"),
    (np.array([[0, 1, 2]]), r"labels .* got shape \(1, 3\)"),
    (np.array([0.0, 1.0, 2.0]), r"cross_entropy: labels must be integers, got dtype float64"),
    (np.array([True, False, True]), r"labels must be integers, got dtype bool"),
    ([0, 1, 7], r"labels .* got 7 at index 2"),
])
def test_cross_entropy_refuses_bad_labels(labels, match):
    with pytest.raises(ValueError, match=match):
        nn.cross_entropy(np.zeros((3, 4)), labels)


def test_cross_entropy_refuses_bad_logits():
    with pytest.raises(ValueError, match=r"logits must be 2-D, \(N, C\), got shape \(4,\)"):
        nn.cross_entropy(np.zeros(4), np.array([0]))
    with pytest.raises(ValueError, match="no rows"):
        nn.cross_entropy(np.zeros((0, 3)), np.zeros(0, np.int64))


def _replays_match(loss, runs=3):
    step = tflc.jit(tflc.value_and_grad(loss))
    rng = np.random.default_rng(15)
    for _ in range(runs):
        logits, labels = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
        value, grad = step(logits, labels)
        expected_value, expected_grad = tflc.value_and_grad(loss)(logits, labels)
        np.testing.assert_allclose(float(value), float(expected_value), rtol=1e-14)
        np.testing.assert_allclose(grad.numpy(), expected_grad.numpy(), rtol=1e-13)
    assert all(plan is not None for plan in step.plans.values())  # replayed, not run eagerly


@pytest.mark.parametrize("loss", [
    lambda logits, labels: nn.cross_entropy(logits, labels),
    lambda logits, labels: tflc.sum(nn.one_hot(labels, 4) * logits),
], ids=["cross_entropy", "one_hot"])
def test_labels_are_bound_in_a_trace(loss):
    """Labels reach the ops as the argument array, so a replay uses the new call's labels."""
    _replays_match(loss)


def test_labels_used_as_input_and_index_in_one_trace():
    """The compiled step once deleted the labels after their last use as an input, though a
    backward scatter_add still read them as an index parameter."""
    _replays_match(lambda logits, labels: nn.cross_entropy(logits, labels)
                   + tflc.sum(nn.one_hot(labels, 4) * logits))


# --- dropout -------------------------------------------------------------------------------------
def test_dropout_forward_is_inverted_dropout():
    x = np.random.default_rng(16).standard_normal((4, 5))
    out = nn.dropout(x, 0.3, np.random.default_rng(1)).numpy()
    keep = np.random.default_rng(1).random((4, 5)) < 0.7
    np.testing.assert_allclose(out, np.where(keep, x / 0.7, 0.0), rtol=1e-15)


def test_dropout_keeps_one_minus_rate_and_the_mean():
    x = np.ones((200, 500))
    out = nn.dropout(x, 0.25, np.random.default_rng(2)).numpy()
    assert abs(np.mean(out != 0) - 0.75) < 0.005
    assert abs(out.mean() - 1.0) < 0.01
    assert set(np.unique(out)) == {0.0, 1 / 0.75}


def test_dropout_gradient_is_the_mask(check_grads, check_hvp):
    x = np.random.default_rng(17).standard_normal((3, 4))
    check_grads(lambda v: nn.dropout(v, 0.5, np.random.default_rng(3)), x)
    mask = (np.random.default_rng(3).random((3, 4)) < 0.5) / 0.5
    grad = tflc.grad(lambda v: tflc.sum(nn.dropout(v, 0.5, np.random.default_rng(3))))(x)
    np.testing.assert_array_equal(grad.numpy(), mask)
    check_hvp(lambda v: nn.dropout(v, 0.5, np.random.default_rng(3)), x)


def test_dropout_rate_zero_is_the_identity():
    x = tflc.Tensor(np.arange(6.0))
    rng = np.random.default_rng(4)
    state = rng.bit_generator.state
    assert nn.dropout(x, 0, rng) is x
    assert rng.bit_generator.state == state  # no draw
    raw = np.arange(3.0)
    with tflc.GradientTape() as tape:
        tape.watch(raw)
        y = tflc.sum(nn.dropout(raw, 0.0, rng) * 2.0)
    np.testing.assert_array_equal(tape.gradient(y, raw).numpy(), [2.0, 2.0, 2.0])


def test_dropout_under_a_trace_draws_a_fresh_mask_every_call():
    rng = np.random.default_rng(5)
    step = tflc.jit(tflc.value_and_grad(lambda x: tflc.sum(nn.dropout(x, 0.5, rng))))
    x = np.ones((4, 5))
    with pytest.warns(RuntimeWarning, match=r"draws a dropout mask .* runs eagerly"):
        first = float(step(x)[0])
    values = [first] + [float(step(x)[0]) for _ in range(9)]
    assert len(set(values)) > 1  # not one frozen mask
    assert all(v % 2 == 0 and 0 <= v <= 40 for v in values)  # each kept entry counts 1 / 0.5


@pytest.mark.parametrize("rate, error", [(1.0, ValueError), (-0.1, ValueError), (1.5, ValueError),
                                         (float("nan"), ValueError), (True, TypeError),
                                         ("0.5", TypeError), (np.ones(2) * 0.5, TypeError)])
def test_dropout_refuses_bad_rates(rate, error):
    with pytest.raises(error, match="dropout: rate"):
        nn.dropout(np.ones(3), rate, np.random.default_rng(0))


def test_dropout_wants_a_generator():
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        nn.dropout(np.ones(3), 0.5, 0)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        nn.dropout(np.ones(3), 0.5, np.random.RandomState(0))


# --- embedding -----------------------------------------------------------------------------------
@pytest.mark.parametrize("ids", [np.array([2, 0, 2]), np.array([[1, 1], [0, 3]]), np.array(3),
                                 [0, 1], np.zeros(0, np.int64)])
def test_embedding_forward(ids):
    W = np.arange(12.0).reshape(4, 3)
    out = nn.embedding(ids, W)
    assert out.shape == np.shape(ids) + (3,)
    np.testing.assert_array_equal(out.numpy(), W[np.asarray(ids, dtype=np.intp)])


def test_embedding_gradient_accumulates_repeated_ids(check_grads, check_hvp):
    W = np.random.default_rng(18).standard_normal((4, 3))
    ids = np.array([[2, 0], [2, 2]])
    check_grads(lambda w: nn.embedding(ids, w), W)
    check_hvp(lambda w: nn.embedding(ids, w), W)
    grad = tflc.grad(lambda w: tflc.sum(nn.embedding(ids, w)))(W).numpy()
    np.testing.assert_array_equal(grad, [[1] * 3, [0] * 3, [3] * 3, [0] * 3])


def test_embedding_matches_torch():
    torch = pytest.importorskip("torch")
    W = np.random.default_rng(19).standard_normal((5, 2))
    ids = np.array([[4, 0, 4], [1, 4, 0]])
    t = torch.tensor(W, requires_grad=True)
    out = torch.nn.functional.embedding(torch.tensor(ids), t)
    out.sum().backward()
    np.testing.assert_array_equal(nn.embedding(ids, W).numpy(), out.detach().numpy())
    grad = tflc.grad(lambda w: tflc.sum(nn.embedding(ids, w)))(W).numpy()
    np.testing.assert_array_equal(grad, t.grad.numpy())


@pytest.mark.parametrize("ids, match", [
    (np.array([0, 4]), r"embedding: ids must be integers in 0\.\.3, got 4 at index 1"),
    (np.array([-1]), r"ids .* got -1 at index 0"),
    (np.array([0.0, 1.0]), r"embedding: ids must be integers, got dtype float64"),
    (np.array([True]), r"ids must be integers, got dtype bool"),
])
def test_embedding_refuses_bad_ids(ids, match):
    with pytest.raises(ValueError, match=match):
        nn.embedding(ids, np.zeros((4, 2)))


def test_embedding_wants_a_matrix():
    with pytest.raises(ValueError, match=r"embedding: W must be 2-D"):
        nn.embedding(np.array([0]), np.zeros(4))
