"""Convolution, pooling, unpooling and resampling (tensorflowlite_clone.convolution) and the
sliding-windows op they are composed of (ops/windows.py): forward against direct NumPy loops (and
PyTorch when installed), gradients against central finite differences in float64 over stride /
padding / dilation / groups / sizes / modes, second derivatives, ties in max pooling, repeated
indices in unpooling, float32 end to end, errors, traces."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorflowlite_clone as tflc
from tensorflowlite_clone import convolution as cv
from tensorflowlite_clone.ops.windows import _col2im, _windows

RNG = np.random.default_rng(0)


def _rand(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


def _tuple(v, n):
    return (v,) * n if isinstance(v, int) else tuple(v)


# --- direct NumPy references (loops over output positions) ----------------------------------------
def conv_reference(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    nsp = x.ndim - 2
    stride, padding, dilation = _tuple(stride, nsp), _tuple(padding, nsp), _tuple(dilation, nsp)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    N, C, F, k = x.shape[0], x.shape[1], w.shape[0], w.shape[2:]
    cg, fg = C // groups, F // groups
    sizes = [(n - d * (kk - 1) - 1) // s + 1 for n, kk, s, d in zip(xp.shape[2:], k, stride,
                                                                    dilation)]
    out = np.zeros((N, F, *sizes))
    for pos in np.ndindex(*sizes):
        patch = xp[(slice(None), slice(None)) + tuple(
            slice(o * s, o * s + d * (kk - 1) + 1, d) for o, s, d, kk in zip(pos, stride,
                                                                           dilation, k))]
        for g in range(groups):
            out[(slice(None), slice(g * fg, (g + 1) * fg)) + pos] = np.tensordot(
                patch[:, g * cg:(g + 1) * cg], w[g * fg:(g + 1) * fg],
                axes=(list(range(1, nsp + 2)), list(range(1, nsp + 2))))
    return out if b is None else out + b.reshape((F,) + (1,) * nsp)


def conv_transpose_reference(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                             dilation=1):
    nsp = x.ndim - 2
    stride, padding, dilation, extra = (_tuple(v, nsp) for v in
                                        (stride, padding, dilation, output_padding))
    N, C, k = x.shape[0], x.shape[1], w.shape[2:]
    cg, fg = C // groups, w.shape[1]
    full = [(n - 1) * s + d * (kk - 1) + 1 + e for n, s, d, kk, e in zip(x.shape[2:], stride,
                                                                        dilation, k, extra)]
    out = np.zeros((N, fg * groups, *full))
    for pos in np.ndindex(*x.shape[2:]):
        for off in np.ndindex(*k):
            at = tuple(o * s + j * d for o, j, s, d in zip(pos, off, stride, dilation))
            for g in range(groups):
                contribution = x[(slice(None), slice(g * cg, (g + 1) * cg)) + pos] @ \
                    w[(slice(g * cg, (g + 1) * cg), slice(None)) + off]
                out[(slice(None), slice(g * fg, (g + 1) * fg)) + at] += contribution
    out = out[(slice(None), slice(None)) + tuple(slice(p, n - p) for p, n in zip(padding, full))]
    return out if b is None else out + b.reshape((-1,) + (1,) * nsp)


def _pool_geometry(n, k, s, p, d, ceil_mode):
    span = d * (k - 1) + 1
    count = (n + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (count - 1) * s >= n + p:
        count -= 1
    return count


def pool_reference(x, kind, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                   count_include_pad=True):
    """torch's pooling, written out: windows that start at o * stride - padding."""
    nsp = 2
    k = _tuple(kernel_size, nsp)
    s = k if stride is None else _tuple(stride, nsp)
    p, d = _tuple(padding, nsp), _tuple(dilation, nsp)
    H, W = x.shape[-2:]
    sizes = [_pool_geometry(n, *args, ceil_mode) for n, *args in zip((H, W), k, s, p, d)]
    out = np.zeros(x.shape[:-2] + tuple(sizes))
    for oh, ow in np.ndindex(*sizes):
        rows = [oh * s[0] - p[0] + j * d[0] for j in range(k[0])]
        cols = [ow * s[1] - p[1] + j * d[1] for j in range(k[1])]
        inside = [(r, c) for r in rows for c in cols if 0 <= r < H and 0 <= c < W]
        values = np.stack([x[..., r, c] for r, c in inside], axis=-1)
        if kind == "max":
            out[..., oh, ow] = values.max(axis=-1)
        else:
            h0, w0 = oh * s[0] - p[0], ow * s[1] - p[1]
            padded = ((min(h0 + k[0], H + p[0]) - h0) * (min(w0 + k[1], W + p[1]) - w0))
            out[..., oh, ow] = values.sum(axis=-1) / (padded if count_include_pad
                                                      else len(inside))
    return out


# --- forward against the references --------------------------------------------------------------
CONV2D_CASES = [
    dict(),
    dict(stride=2),
    dict(padding=1),
    dict(stride=(2, 1), padding=(1, 2)),
    dict(dilation=2, padding=2),
    dict(groups=2),
    dict(stride=2, padding=1, dilation=(1, 2), groups=2),
    dict(padding="same", dilation=(2, 1)),
    dict(padding="valid", stride=3),
]


@pytest.mark.parametrize("kwargs", CONV2D_CASES, ids=str)
def test_conv2d_forward_matches_direct_loops(kwargs):
    x, w, b = _rand(2, 4, 7, 6), _rand(6, 4 // kwargs.get("groups", 1), 3, 2), _rand(6)
    out = cv.conv2d(x, w, b, **kwargs)
    ref_kwargs = dict(kwargs)
    if ref_kwargs.get("padding") == "valid":
        ref_kwargs["padding"] = 0
    if ref_kwargs.get("padding") == "same":  # total d (k - 1): (2, 1) rows, (0, 1) columns
        xp = np.pad(x, ((0, 0), (0, 0), (2, 2), (0, 1)))
        ref_kwargs["padding"] = 0
        np.testing.assert_allclose(out.numpy(), conv_reference(xp, w, b, **ref_kwargs),
                                   atol=1e-12)
        assert out.shape[2:] == x.shape[2:]
        return
    np.testing.assert_allclose(out.numpy(), conv_reference(x, w, b, **ref_kwargs), atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 2), st.integers(1, 3), st.integers(0, 2),
       st.integers(1, 2), st.integers(1, 3), st.integers(4, 8), st.booleans())
def test_conv_forward_over_drawn_arguments(nsp, groups, k, pad, dilation, stride, n, bias):
    sizes = (n, n - 1, n - 2)[:nsp]
    x = _rand(2, 2 * groups, *sizes)
    w = _rand(2 * groups, 2, *(k,) * nsp)
    b = _rand(2 * groups) if bias else None
    conv = {1: cv.conv1d, 2: cv.conv2d, 3: cv.conv3d}[nsp]
    if any(s + 2 * pad < dilation * (k - 1) + 1 for s in sizes):
        with pytest.raises(ValueError, match="does not fit"):
            conv(x, w, b, stride, pad, dilation, groups)
        return
    out = conv(x, w, b, stride, pad, dilation, groups)
    np.testing.assert_allclose(out.numpy(), conv_reference(x, w, b, stride, pad, dilation,
                                                           groups), atol=1e-12)


CONV_TRANSPOSE_CASES = [
    dict(),
    dict(stride=2),
    dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2)),
    dict(stride=2, padding=1, output_padding=1, groups=2, dilation=2),
    dict(padding=1, output_padding=1, dilation=2),  # output_padding < dilation, stride 1
]


@pytest.mark.parametrize("kwargs", CONV_TRANSPOSE_CASES, ids=str)
def test_conv_transpose2d_forward_matches_direct_loops(kwargs):
    x, w, b = _rand(2, 4, 4, 3), _rand(4, 3, 3, 2), _rand(3 * kwargs.get("groups", 1))
    out = cv.conv_transpose2d(x, w, b, **kwargs)
    np.testing.assert_allclose(out.numpy(), conv_transpose_reference(x, w, b, **kwargs),
                               atol=1e-12)


def test_conv_transpose_is_the_gradient_of_conv_with_respect_to_its_input():
    x, w, g = _rand(2, 3, 7, 6), _rand(4, 3, 3, 3), None
    xt = tflc.Tensor(x)
    with tflc.GradientTape() as tape:
        tape.watch(xt)
        y = cv.conv2d(xt, w, stride=2, padding=1)
    g = _rand(*y.shape)
    dx = tape.gradient(y, xt, output_gradients=g)
    # conv2d's output (7 + 2 - 3) // 2 + 1 = 4 rows maps back to 7 with output_padding 0 / 1
    back = cv.conv_transpose2d(g, w, stride=2, padding=1, output_padding=(0, 1))
    np.testing.assert_allclose(back.numpy(), dx.numpy(), atol=1e-12)


POOL_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1)),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=2, stride=2, ceil_mode=True),
]


@pytest.mark.parametrize("kwargs", POOL_CASES + [dict(kernel_size=2, dilation=2, padding=1),
                                                 dict(kernel_size=3, dilation=(1, 2), padding=1,
                                                      ceil_mode=True, stride=2)], ids=str)
def test_max_pool2d_forward_matches_direct_loops(kwargs):
    x = _rand(2, 3, 7, 6)
    np.testing.assert_array_equal(cv.max_pool2d(x, **kwargs).numpy(),
                                  pool_reference(x, "max", **kwargs))


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kwargs", POOL_CASES, ids=str)
def test_avg_pool2d_forward_matches_direct_loops(kwargs, count_include_pad):
    x = _rand(2, 3, 7, 6)
    np.testing.assert_allclose(
        cv.avg_pool2d(x, count_include_pad=count_include_pad, **kwargs).numpy(),
        pool_reference(x, "avg", count_include_pad=count_include_pad, **kwargs), atol=1e-12)


def test_pooling_in_1d_3d_without_a_batch_axis_and_divisor_override():
    x = _rand(2, 3, 9)
    np.testing.assert_array_equal(cv.max_pool1d(x, 3, 2).numpy(),
                                  np.stack([x[..., i:i + 3].max(-1) for i in (0, 2, 4, 6)], -1))
    np.testing.assert_allclose(cv.avg_pool1d(x, 3, 2).numpy(),
                               np.stack([x[..., i:i + 3].mean(-1) for i in (0, 2, 4, 6)], -1))
    v = _rand(2, 1, 4, 4, 6)
    np.testing.assert_array_equal(cv.max_pool3d(v, 2).numpy(),
                                  v.reshape(2, 1, 2, 2, 2, 2, 3, 2).max(axis=(3, 5, 7)))
    np.testing.assert_allclose(cv.avg_pool3d(v, 2).numpy(),
                               v.reshape(2, 1, 2, 2, 2, 2, 3, 2).mean(axis=(3, 5, 7)))
    chw = _rand(3, 4, 4)  # (C, H, W), as torch takes it
    np.testing.assert_array_equal(cv.max_pool2d(chw, 2).numpy(),
                                  chw.reshape(3, 2, 2, 2, 2).max(axis=(2, 4)))
    np.testing.assert_allclose(cv.avg_pool2d(chw, 2, divisor_override=3).numpy(),
                               chw.reshape(3, 2, 2, 2, 2).sum(axis=(2, 4)) / 3)


# --- gradients against central finite differences (float64) ----------------------------------------
@pytest.mark.parametrize("kwargs", CONV2D_CASES, ids=str)
def test_conv2d_gradients(check_grads, kwargs):
    x, w, b = _rand(2, 4, 6, 5), _rand(4, 4 // kwargs.get("groups", 1), 3, 2), _rand(4)
    check_grads(lambda x, w, b: cv.conv2d(x, w, b, **kwargs), x, w, b)


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=2, dilation=2, groups=3)],
                         ids=str)
def test_conv1d_and_conv3d_gradients(check_grads, kwargs):
    g = kwargs.get("groups", 1)
    check_grads(lambda x, w, b: cv.conv1d(x, w, b, **kwargs), _rand(2, 3, 9), _rand(3, 3 // g, 3),
                _rand(3))
    check_grads(lambda x, w: cv.conv3d(x, w, **kwargs), _rand(1, 3, 5, 4, 5),
                _rand(3, 3 // g, 2, 2, 3))


@pytest.mark.parametrize("kwargs", CONV_TRANSPOSE_CASES, ids=str)
def test_conv_transpose2d_gradients(check_grads, kwargs):
    x, w, b = _rand(2, 4, 3, 3), _rand(4, 2, 3, 2), _rand(2 * kwargs.get("groups", 1))
    check_grads(lambda x, w, b: cv.conv_transpose2d(x, w, b, **kwargs), x, w, b)


def test_conv_transpose1d_and_3d(check_grads):
    check_grads(lambda x, w: cv.conv_transpose1d(x, w, stride=2, padding=1), _rand(2, 3, 4),
                _rand(3, 2, 3))
    x, w = _rand(1, 2, 2, 3, 2), _rand(2, 1, 2, 2, 2)
    out = cv.conv_transpose3d(x, w, stride=(1, 2, 1))
    np.testing.assert_allclose(out.numpy(), conv_transpose_reference(x, w, stride=(1, 2, 1)),
                               atol=1e-12)


@pytest.mark.parametrize("kwargs", POOL_CASES + [dict(kernel_size=2, dilation=2, padding=1)],
                         ids=str)
def test_max_pool2d_gradients(check_grads, kwargs):
    check_grads(lambda x: cv.max_pool2d(x, **kwargs), _rand(2, 2, 6, 5))


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kwargs", POOL_CASES, ids=str)
def test_avg_pool2d_gradients(check_grads, kwargs, count_include_pad):
    check_grads(lambda x: cv.avg_pool2d(x, count_include_pad=count_include_pad, **kwargs),
                _rand(2, 2, 6, 5))


def test_second_derivatives_through_conv_and_pooling(check_hvp):
    """conv is bilinear in (x, w): the Hessian's cross terms run windows' VJP (col2im) and
    col2im's VJP (windows) on an outer tape."""
    check_hvp(lambda x, w, b: cv.conv2d(x, w, b, stride=2, padding=1, groups=2) ** 2,
              _rand(1, 2, 5, 5), _rand(2, 1, 3, 3), _rand(2))
    check_hvp(lambda x, w: tflc.tanh(cv.conv_transpose2d(x, w, stride=2)), _rand(1, 2, 3, 3),
              _rand(2, 1, 2, 2))
    check_hvp(lambda x: cv.avg_pool2d(x * x, 3, 1, 1, count_include_pad=False),
              _rand(1, 1, 4, 4))
    check_hvp(lambda x: cv.max_pool2d(x, 2) ** 3, _rand(1, 2, 4, 4))


# --- ties, indices -------------------------------------------------------------------------------
def test_max_pool2d_splits_the_gradient_evenly_among_tied_maxima():
    x = tflc.Tensor(np.array([[[[1.0, 2.0, 0.0, 0.0],
                                [2.0, 2.0, 0.0, 5.0]]]]))
    with tflc.GradientTape() as tape:
        tape.watch(x)
        y, index = cv.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), [[[[2.0, 5.0]]]])
    np.testing.assert_array_equal(index.numpy(), [[[[1, 7]]]])  # the first maximum, as torch
    assert index.dtype == np.int64
    third = 1 / 3
    np.testing.assert_allclose(tape.gradient(y, x).numpy(),
                               [[[[0, third, 0, 0], [third, third, 0, 1]]]])


def test_overlapping_windows_accumulate_and_split_at_ties():
    x = tflc.Tensor(np.ones((1, 1, 3, 3)))
    with tflc.GradientTape() as tape:  # 4 windows of 4 tied ones: each entry gets 1/4 a window
        tape.watch(x)
        y = cv.max_pool2d(x, 2, stride=1)
    np.testing.assert_allclose(tape.gradient(y, x).numpy()[0, 0],
                               [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1),
                                         dilation=(2, 1), ceil_mode=True)], ids=str)
def test_max_pool2d_indices_point_at_the_maxima(kwargs):
    x = _rand(2, 3, 7, 6)
    y, index = cv.max_pool2d(x, return_indices=True, **kwargs)
    flat = x.reshape(2, 3, -1)
    picked = np.take_along_axis(flat, index.numpy().reshape(2, 3, -1), axis=-1)
    np.testing.assert_array_equal(picked.reshape(y.shape), y.numpy())


def test_max_pool_pads_with_the_lowest_value():
    x = -1e300 * np.ones((1, 1, 2, 2))
    np.testing.assert_array_equal(cv.max_pool2d(x, 3, 1, 1).numpy(), -1e300)
    x = tflc.Tensor(_rand(1, 1, 4, 4, dtype=np.float32))
    with tflc.detect_anomaly():  # the padding is finite: nothing to report
        with tflc.GradientTape() as tape:
            tape.watch(x)
            y = cv.max_pool2d(x, 3, 2, 1)
        assert tape.gradient(y, x).numpy().sum() == y.size
    ints = np.array([[[[-5, -7], [-9, -6]]]], dtype=np.int32)
    out = cv.max_pool2d(ints, 2, 1, 1)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out.numpy()[0, 0], [[-5, -5, -7], [-5, -5, -6], [-9, -6, -6]])


# --- dtypes --------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [
    lambda x, w, b: cv.conv2d(x, w, b, stride=2, padding=1, groups=2),
    lambda x, w, b: cv.conv_transpose2d(x, w, b[:2], stride=2, padding=1, output_padding=1),
    lambda x, w, b: cv.max_pool2d(cv.conv2d(x, w, b, padding="same", groups=2), 3, 2, 1,
                                            ceil_mode=True),
    lambda x, w, b: cv.avg_pool2d(x * w[0, 0, 0, 0] + b[0], 3, 2, 1, ceil_mode=True,
                                  count_include_pad=False),
    lambda x, w, b: cv.max_unpool2d(*cv.max_pool2d(x * b[0], 3, 1, 1, return_indices=True), 3,
                                    1, 1),
    lambda x, w, b: cv.interpolate(x * b[0], scale_factor=(1.5, 0.7), mode="bilinear"),
    lambda x, w, b: cv.interpolate(x * b[0], size=(9, 4), mode="nearest-exact"),
], ids=["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "max_unpool2d",
        "interpolate-bilinear", "interpolate-nearest-exact"])
def test_float32_stays_float32(layer):
    x, w, b = (tflc.Tensor(_rand(*s, dtype=np.float32)) for s in
               ((2, 4, 6, 6), (4, 2, 3, 3), (4,)))
    with tflc.GradientTape() as tape:
        tape.watch([x, w, b])
        y = layer(x, w, b)
    assert y.dtype == np.float32
    for g in tape.gradient(tflc.sum(y * 0.5), [x, w, b], unconnected_gradients="zero"):
        assert g.dtype == np.float32


# --- errors: they name the function and the shapes, before anything is recorded -------------------
@pytest.mark.parametrize("call, error, message", [
    (lambda: cv.conv2d(np.ones((3, 8, 8)), np.ones((4, 3, 3, 3))), ValueError,
     r"conv2d: the input must be 4-D \(N, C, H, W\), got shape \(3, 8, 8\)"),
    (lambda: cv.conv2d(np.ones((1, 3, 8, 8)), np.ones((4, 3, 3))), ValueError,
     r"conv2d: the weight must be 4-D .* got shape \(4, 3, 3\)"),
    (lambda: cv.conv2d(np.ones((1, 3, 8, 8)), np.ones((4, 2, 3, 3))), ValueError,
     r"conv2d: the weight \(4, 2, 3, 3\) with groups=1 takes 2 input channels, but the input "
     r"\(1, 3, 8, 8\) has 3"),
    (lambda: cv.conv2d(np.ones((1, 4, 8, 8)), np.ones((3, 2, 3, 3)), groups=2), ValueError,
     r"conv2d: the weight's 3 output channels .* groups=2"),
    (lambda: cv.conv2d(np.ones((1, 3, 8, 8)), np.ones((4, 3, 3, 3)), np.ones(3)), ValueError,
     r"conv2d: the bias must have shape \(4,\) for the weight \(4, 3, 3, 3\), got \(3,\)"),
    (lambda: cv.conv2d(np.ones((1, 3, 2, 8)), np.ones((4, 3, 3, 3))), ValueError,
     r"conv2d: the kernel \(3, 3\) \(dilation \(1, 1\)\) does not fit in the input "
     r"\(1, 3, 2, 8\), padded to \(2, 8\)"),
    (lambda: cv.conv2d(np.ones((1, 3, 8, 8)), np.ones((4, 3, 3, 3)), stride=0), ValueError,
     r"conv2d: stride must be at least 1, got 0"),
    (lambda: cv.conv2d(np.ones((1, 3, 8, 8)), np.ones((4, 3, 3, 3)), stride=1.5), TypeError,
     r"conv2d: stride must be an int or 2 ints, got 1.5"),
    (lambda: cv.conv2d(np.ones((1, 3, 8, 8)), np.ones((4, 3, 3, 3)), padding=(1, 2, 3)),
     TypeError, r"conv2d: padding must be an int or 2 ints"),
    (lambda: cv.conv2d(np.ones((1, 3, 8, 8)), np.ones((4, 3, 3, 3)), padding="same", stride=2),
     ValueError, r"conv2d: padding='same' needs stride 1"),
    (lambda: cv.conv2d(np.ones((1, 3, 8, 8)), np.ones((4, 3, 3, 3)), groups=0), ValueError,
     r"conv2d: groups must be a positive integer, got 0"),
    (lambda: cv.conv1d(np.ones((1, 3, 8, 8)), np.ones((4, 3, 3))), ValueError,
     r"conv1d: the input must be 3-D \(N, C, L\), got shape \(1, 3, 8, 8\)"),
    (lambda: cv.conv_transpose2d(np.ones((1, 3, 4, 4)), np.ones((2, 3, 3, 3))), ValueError,
     r"conv_transpose2d: the weight \(2, 3, 3, 3\) takes 2 input channels, but the input "
     r"\(1, 3, 4, 4\) has 3"),
    (lambda: cv.conv_transpose2d(np.ones((1, 3, 4, 4)), np.ones((3, 3, 3, 3)), stride=2,
                                 output_padding=2), ValueError,
     r"conv_transpose2d: output_padding 2 must be smaller than the stride \(2, 2\) or the "
     r"dilation \(1, 1\)"),
    (lambda: cv.conv_transpose2d(np.ones((1, 3, 1, 1)), np.ones((3, 3, 1, 1)), padding=1),
     ValueError, r"conv_transpose2d: the input \(1, 3, 1, 1\) .* leaves an output of shape "
     r"\(-1, -1\)"),
    (lambda: cv.max_pool2d(np.ones((1, 1, 4, 4)), 2, padding=2), ValueError,
     r"max_pool2d: padding \(2, 2\) must be at most half the kernel \(2, 2\)"),
    (lambda: cv.max_pool2d(np.ones((1, 1, 1, 4)), 2), ValueError,
     r"max_pool2d: the input \(1, 1, 1, 4\) padded by \(0, 0\) is smaller than the kernel"),
    (lambda: cv.max_pool2d(np.ones(4), 2), ValueError,
     r"max_pool2d: the input must be 4-D \(N, C, H, W\) or 3-D without N, got shape \(4,\)"),
    (lambda: cv.avg_pool2d(np.ones((1, 1, 4, 4)), (2, 2, 2)), TypeError,
     r"avg_pool2d: kernel_size must be an int or 2 ints, got \(2, 2, 2\)"),
    (lambda: cv.avg_pool2d(np.ones((1, 1, 4, 4)), 2, divisor_override=0), ValueError,
     r"avg_pool2d: divisor_override must be a positive integer, got 0"),
    (lambda: cv.conv2d([["a"]], np.ones((4, 3, 3, 3))), TypeError, r"conv2d: cannot make"),
    # unpooling
    (lambda: cv.max_unpool2d(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), int), 2,
                             output_size=(6, 4)), ValueError,
     r"max_unpool2d: output_size \(6, 4\) must lie within a stride \(2, 2\) of the default "
     r"size \(4, 4\)"),
    (lambda: cv.max_unpool2d(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), int), 2,
                             output_size=(1, 4, 4)), TypeError,
     r"max_unpool2d: output_size must be 2 or 4 ints, got \(1, 4, 4\)"),
    (lambda: cv.max_unpool2d(np.ones((1, 1, 2, 2)), np.full((1, 1, 2, 2), 16), 2), ValueError,
     r"max_unpool2d: indices must lie in \[0, 16\), the flattened output plane \(4, 4\); "
     r"got 16"),
    (lambda: cv.max_unpool1d(np.ones((1, 1, 2)), [[[0, -1]]], 2), ValueError,
     r"max_unpool1d: indices must lie in \[0, 4\), .* got -1"),
    (lambda: cv.max_unpool2d(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)), 2), TypeError,
     r"max_unpool2d: indices must be integers .* got float64"),
    (lambda: cv.max_unpool2d(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 4), int), 2), ValueError,
     r"max_unpool2d: indices \(1, 1, 4\) must have the input's shape \(1, 1, 2, 2\)"),
    (lambda: cv.max_unpool3d(np.ones((2, 2)), np.zeros((2, 2), int), 2), ValueError,
     r"max_unpool3d: the input must be 5-D \(N, C, D, H, W\) or 4-D without N"),
    (lambda: cv.max_unpool2d(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), int), 0), ValueError,
     r"max_unpool2d: kernel_size must be at least 1, got 0"),
    (lambda: cv.max_unpool2d(np.ones((1, 1, 1, 1)), np.zeros((1, 1, 1, 1), int), 1,
                             padding=1), ValueError,
     r"max_unpool2d: the input \(1, 1, 1, 1\) with kernel \(1, 1\), stride \(1, 1\) and "
     r"padding \(1, 1\) leaves an output of shape \(-1, -1\)"),
    # resampling
    (lambda: cv.interpolate(np.ones((1, 1, 4)), 8, mode="cubic"), ValueError,
     r"interpolate: mode must be one of 'nearest', 'nearest-exact', 'linear', 'bilinear', "
     r"'trilinear', got 'cubic'"),
    (lambda: cv.interpolate(np.ones((1, 1, 4, 4)), 2, mode="bilinear", antialias=True),
     ValueError, r"interpolate: antialias=True is not supported"),
    (lambda: cv.interpolate(np.ones((1, 4)), 8), ValueError,
     r"interpolate: the input must be 3-D \(N, C, L\), 4-D \(N, C, H, W\) or 5-D "
     r"\(N, C, D, H, W\), got shape \(1, 4\)"),
    (lambda: cv.interpolate(np.ones((1, 1, 4)), 8, mode="bilinear"), ValueError,
     r"interpolate: mode 'bilinear' needs a 4-D input \(N, C, H, W\), got shape \(1, 1, 4\)"),
    (lambda: cv.interpolate(np.ones((1, 1, 4, 4)), 8, align_corners=True), ValueError,
     r"interpolate: align_corners can only be set with the linear modes .* not with mode "
     r"'nearest'"),
    (lambda: cv.interpolate(np.ones((1, 1, 4))), ValueError,
     r"interpolate: give exactly one of size and scale_factor, got size=None and "
     r"scale_factor=None"),
    (lambda: cv.interpolate(np.ones((1, 1, 4)), 8, 2.0), ValueError,
     r"interpolate: give exactly one of size and scale_factor"),
    (lambda: cv.interpolate(np.ones((1, 1, 4, 4)), (8, 8, 8)), TypeError,
     r"interpolate: size must be an int or 2 ints, got \(8, 8, 8\)"),
    (lambda: cv.interpolate(np.ones((1, 1, 4)), 0), ValueError,
     r"interpolate: size must be at least 1, got 0"),
    (lambda: cv.interpolate(np.ones((1, 1, 4)), 8, recompute_scale_factor=True), ValueError,
     r"interpolate: recompute_scale_factor is not meaningful with an explicit size"),
    (lambda: cv.interpolate(np.ones((1, 1, 4, 4)), scale_factor=(2.0,)), TypeError,
     r"interpolate: scale_factor must be a number or one per spatial axis \(2\), got \(2.0,\)"),
    (lambda: cv.interpolate(np.ones((1, 1, 4)), scale_factor="2"), TypeError,
     r"interpolate: scale_factor must be a number or one per spatial axis \(1\), got '2'"),
    (lambda: cv.interpolate(np.ones((1, 1, 4)), scale_factor=-2.0), ValueError,
     r"interpolate: scale_factor must be positive and finite, got -2.0"),
    (lambda: cv.interpolate(np.ones((1, 1, 4, 4)), scale_factor=(2, 0.2)), ValueError,
     r"interpolate: scale_factor \(2, 0.2\) turns the spatial shape \(4, 4\) into \(8, 0\); "
     r"every size must be at least 1"),
])
def test_errors_name_the_function_and_the_shapes(call, error, message):
    with tflc.GradientTape() as tape:
        with pytest.raises(error, match=message):
            call()
    assert len(tape.records) == 0  # raised before anything was recorded


# --- the windows op --------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(1, 3),
                          st.integers(1, 3), st.integers(0, 2), st.integers(-2, 2)),
                min_size=1, max_size=3), st.integers(0, 2 ** 32 - 1))
def test_col2im_is_the_adjoint_of_windows(axes_params, seed):
    """<windows(x), g> == <x, col2im(g)> for every kernel / stride / dilation / padding
    (a negative hi drops entries), which covers each of col2im's three ways of summing."""
    rng = np.random.default_rng(seed)
    sizes, kernel, stride, dilation, padding = [], [], [], [], []
    for n, k, s, d, lo, hi in axes_params:
        n = max(n, d * (k - 1) + 1 - lo - hi, 1 - hi)  # room for one window
        sizes.append(n)
        kernel.append(k), stride.append(s), dilation.append(d), padding.append((lo, hi))
    shape = (2,) + tuple(sizes)
    axes = tuple(range(1, 1 + len(sizes)))
    params = (axes, tuple(kernel), tuple(stride), tuple(dilation), tuple(padding))
    x = rng.standard_normal(shape)
    windows = _windows.forward(x, *params, 0)
    g = rng.standard_normal(windows.shape)
    back = _col2im.forward(g, shape, *params)
    assert back.shape == shape
    np.testing.assert_allclose(np.sum(windows * g), np.sum(x * back), rtol=1e-10, atol=1e-10)


def test_windows_and_col2im_gradients_and_labels(check_grads, check_hvp):
    params = ((2, 1), (2, 3), (1, 2), (2, 1), ((1, 0), (0, 2)))
    check_grads(lambda x: _windows(x, *params, 0), _rand(2, 5, 4))
    shape = _windows.forward(np.zeros((2, 5, 4)), *params, 0).shape
    check_grads(lambda g: _col2im(g, (2, 5, 4), *params), _rand(*shape))
    check_hvp(lambda x: _windows(x, *params, 0) ** 2, _rand(2, 5, 4))
    assert _windows.label(*params, 0) == ("kernel=(2, 3), stride=(1, 2), dilation=(2, 1), "
                                          "padding=((1, 0), (0, 2))")


def test_windows_is_a_read_only_view_and_col2im_checks_its_shapes():
    x = _rand(2, 3, 6, 6)
    view = _windows.forward(x, (2, 3), (3, 3), (1, 1), (1, 1), ((0, 0), (0, 0)), 0)
    assert np.shares_memory(view, x) and not view.flags.writeable
    with pytest.raises(ValueError, match=r"col2im: windows of shape \(2, 2\) do not come from"):
        _col2im(np.ones((2, 2)), (2, 5), (1,), (2,), (1,), (1,), ((0, 0),))


def test_sliding_window_view_is_numpys_and_differentiable(check_grads):
    x = _rand(4, 5, 6)
    for args in [((3, 2, 2),), ((2, 3), (0, 2)), ((2, 2, 2), None), (2, -1), ((3, 2), (2, 0))]:
        np.testing.assert_array_equal(
            tflc.sliding_window_view(x, *args).numpy(),
            np.lib.stride_tricks.sliding_window_view(x, *args if args[1:] != (None,) else
                                                     args[:1]))
    check_grads(lambda x: tflc.sliding_window_view(x, (2, 3), axis=(0, 2)), x)
    t = tflc.Tensor(x)  # NumPy's own function on a Tensor runs the op (__array_function__)
    with tflc.GradientTape() as tape:
        tape.watch(t)
        y = np.lib.stride_tricks.sliding_window_view(t, 2, axis=1)
    assert isinstance(y, tflc.Tensor)
    grad = tape.gradient(y, t).numpy()
    np.testing.assert_array_equal(grad[0, :, 0], [1, 2, 2, 2, 1])  # interior entries: 2 windows


@pytest.mark.parametrize("args, error, message", [
    (((6,),), ValueError, r"window_shape \(6,\) needs one entry per axis of None"),
    (((6, 7),), ValueError, r"window_shape \(6, 7\) is larger than the input \(4, 5\)"),
    ((2, 2), ValueError, r"axis 2 is out of range for a 2-D input"),
    ((2, (0, 0)), ValueError, r"axis \(0, 0\) repeats an axis"),
    ((2.0,), TypeError, r"window_shape must be an int or a tuple of ints"),
])
def test_sliding_window_view_errors(args, error, message):
    with pytest.raises(error, match="sliding_window_view: " + message):
        tflc.sliding_window_view(np.ones((4, 5)), *args)
    with pytest.raises(ValueError, match="writeable=True is not supported"):
        tflc.sliding_window_view(np.ones((4, 5)), 2, writeable=True)


# --- in a model: traced, against PyTorch ---------------------------------------------------------------
def _conv_net(params, x):
    h = cv.max_pool2d(tflc.relu(cv.conv2d(x, params["w1"], params["b1"], padding=1)), 2)
    h = cv.avg_pool2d(cv.conv2d(h, params["w2"], stride=2, padding=1, groups=2), 2, 1, 1,
                      count_include_pad=False)
    return tflc.sum(h * h)


def test_a_traced_conv_net_step_matches_the_eager_one():
    params = {"w1": _rand(4, 3, 3, 3), "b1": _rand(4), "w2": _rand(4, 2, 3, 3)}
    x = _rand(2, 3, 8, 8)
    with tflc.GradientTape() as tape:
        tensors = {k: tflc.Variable(v) for k, v in params.items()}
        loss = _conv_net(tensors, x)
    eager = tape.gradient(loss, tensors)
    step = tflc.jit(tflc.value_and_grad(_conv_net))
    for _ in range(3):  # the first call records, the next ones replay
        value, grads = step(params, x)
        np.testing.assert_allclose(float(value), float(loss), rtol=1e-12)
        for k in params:
            np.testing.assert_allclose(grads[k].numpy(), eager[k].numpy(), rtol=1e-10)


TORCH_CASES = [
    ("conv2d", (2, 4, 9, 8), (6, 2, 3, 2), 6, dict(stride=(2, 1), padding=(1, 2),
                                                   dilation=(1, 2), groups=2)),
    ("conv2d", (2, 4, 9, 8), (5, 4, 3, 3), 5, dict(padding="same", dilation=2)),
    ("conv2d", (2, 4, 9, 8), (5, 4, 4, 4), None, dict(padding="same")),
    ("conv1d", (2, 4, 9), (5, 4, 3), 5, dict(stride=2, padding=1)),
    ("conv3d", (2, 2, 5, 4, 6), (3, 2, 2, 3, 2), None, dict(stride=(1, 2, 1), padding=1)),
    ("conv_transpose2d", (2, 4, 5, 4), (4, 3, 3, 2), 3, dict(stride=(2, 3), padding=(1, 0),
                                                             output_padding=(1, 2))),
    ("conv_transpose2d", (2, 4, 5, 4), (4, 3, 3, 2), 6, dict(stride=2, padding=1,
                                                             output_padding=1, groups=2,
                                                             dilation=2)),
    ("conv_transpose1d", (2, 4, 5), (4, 3, 3), None, dict(stride=2)),
    ("max_pool2d", (2, 4, 9, 8), None, None, dict(kernel_size=3, stride=2, padding=1,
                                                  ceil_mode=True)),
    ("max_pool2d", (2, 4, 9, 8), None, None, dict(kernel_size=(3, 2), stride=(2, 1),
                                                  padding=(1, 1), dilation=(2, 1))),
    ("avg_pool2d", (2, 4, 9, 8), None, None, dict(kernel_size=3, stride=2, padding=1,
                                                  ceil_mode=True, count_include_pad=False)),
    ("avg_pool2d", (2, 4, 9, 8), None, None, dict(kernel_size=3, stride=2, padding=1,
                                                  ceil_mode=True)),
    ("avg_pool2d", (2, 4, 9, 8), None, None, dict(kernel_size=3, padding=1,
                                                  divisor_override=4)),
    ("max_pool1d", (2, 4, 9), None, None, dict(kernel_size=3, stride=2, padding=1,
                                               ceil_mode=True)),
    ("avg_pool1d", (2, 4, 9), None, None, dict(kernel_size=3, stride=2, padding=1,
                                               ceil_mode=True)),
    ("max_pool3d", (2, 2, 5, 4, 6), None, None, dict(kernel_size=2, ceil_mode=True)),
    ("avg_pool3d", (2, 2, 5, 4, 6), None, None, dict(kernel_size=2, padding=1)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch's note on even kernels
@pytest.mark.parametrize("name, x_shape, w_shape, bias, kwargs", TORCH_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(TORCH_CASES)])
def test_against_pytorch(name, x_shape, w_shape, bias, kwargs):
    torch = pytest.importorskip("torch")
    arrays = [_rand(*x_shape)] + ([_rand(*w_shape)] if w_shape else []) + \
        ([_rand(bias)] if bias else [])
    ours = getattr(cv, name)
    theirs = getattr(torch.nn.functional, name)
    leaves = [torch.tensor(a, requires_grad=True) for a in arrays]
    expected = theirs(*leaves, **kwargs)
    weights = _rand(*expected.shape)
    (expected * torch.tensor(weights)).sum().backward()
    tensors = [tflc.Tensor(a) for a in arrays]
    with tflc.GradientTape() as tape:
        tape.watch(tensors)
        out = ours(*tensors, **kwargs)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), atol=1e-12)
    grads = tape.gradient(out, tensors, output_gradients=weights)
    for g, leaf in zip(grads, leaves):
        np.testing.assert_allclose(g.numpy(), leaf.grad.numpy(), atol=1e-12)


def test_max_pool2d_indices_against_pytorch():
    torch = pytest.importorskip("torch")
    x = _rand(2, 3, 9, 8)
    for kwargs in [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                   dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(2, 1))]:
        _, index = cv.max_pool2d(x, return_indices=True, **kwargs)
        _, expected = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True,
                                                     **kwargs)
        np.testing.assert_array_equal(index.numpy(), expected.numpy())


def test_the_module_exports_what_it_says():
    for name in cv.__all__:
        assert callable(getattr(cv, name))
    assert "sliding_window_view" in tflc.ops.OPS and "windows" not in tflc.ops.OPS
    assert set(itertools.chain(cv.__all__)) >= {"conv2d", "max_pool2d", "avg_pool2d",
                                                "conv_transpose2d"}


def test_the_benchmark_agrees_with_its_references_and_tflc_bench_takes_conv(monkeypatch):
    """benchmarks/conv.py's four implementations compute the same forward pass and gradients
    (here on a smaller problem; the timing itself is never asserted)."""
    from benchmarks import conv as bench
    from tensorflowlite_clone.app.cli import build_parser
    for key, value in {"C": 2, "H": 8, "W": 6, "F": 3, "K": 3, "pad": 1}.items():
        monkeypatch.setitem(bench.SIZE, key, value)
    assert bench.check_agreement() < 1e-12
    for layers in set(bench.LAYERS) - {"net"}:
        problem = bench.make_problem_for(layers, np.float64, N=2)
        hand = bench.make_hand(*problem, layers=layers)()
        eager = bench.make_eager(*problem, layers=layers)()
        np.testing.assert_allclose(eager[0].numpy(), hand[0], atol=1e-12)
        for mine, theirs in zip(eager[1], hand[1]):
            np.testing.assert_allclose(mine.numpy(), theirs, atol=1e-12)
    # the whole ThreeLayerConvNet step: by hand with im2col, and the model's own loss
    X, y, params = bench.make_net_problem(np.float64, N=3)
    loss, grads = bench.net_loss_im2col(X, y, {k: v.copy() for k, v in params.items()},
                                        bench.NET["reg"])
    steps = {m: bench.make_net(X, y, params, m) for m in ("hand", "autodiff", "traced")}
    from models.cnn import ThreeLayerConvNet
    net = ThreeLayerConvNet((2, 8, 6), 3, 3, bench.NET["hidden"], bench.NET["classes"],
                            reg=bench.NET["reg"], dtype=np.float64)
    net.params = {k: v.copy() for k, v in params.items()}
    expected_loss, expected = net.loss(X, y, method="autodiff")
    assert loss == pytest.approx(expected_loss, rel=1e-13)
    for k in expected:
        np.testing.assert_allclose(grads[k], expected[k], rtol=0,
                                   atol=1e-12 * np.abs(expected[k]).max())
    first = {m: step() for m, step in steps.items()}
    assert first["hand"] == pytest.approx(first["traced"], rel=1e-13)
    assert first["autodiff"] == pytest.approx(expected_loss, rel=1e-15)
    assert all(np.array_equal(params[k], net.params[k]) for k in params)  # steps update copies
    assert build_parser().parse_args(["bench", "--conv"]).conv


# --- unpooling: max_unpool -------------------------------------------------------------------------
def unpool_reference(x, index, size):
    """Zeros of (*lead, *size), each plane's entry index[..., j] set to x[..., j] in order (the
    last one written stays, as in torch's kernel)."""
    nsp = len(size)
    lead, count = x.shape[:-nsp], int(np.prod(x.shape[-nsp:]))
    xf, jf = x.reshape(-1, count), index.reshape(-1, count)
    out = np.zeros((len(xf), int(np.prod(size))), x.dtype)
    for plane in range(len(xf)):
        for j in range(count):
            out[plane, jf[plane, j]] = xf[plane, j]
    return out.reshape(lead + tuple(size))


UNPOOL_CASES = [  # (nsp, input shape, kernel, stride, padding, output_size)
    (2, (2, 3, 6, 5), 2, None, 0, (6, 5)),
    (2, (2, 3, 7, 7), 3, 2, 1, None),
    (2, (2, 3, 7, 6), 3, 2, 1, (2, 3, 7, 6)),     # (N, C, H, W) as torch takes it
    (2, (3, 6, 6), (2, 3), (2, 1), (1, 1), None),  # (C, H, W)
    (2, (2, 2, 5, 5), 3, 1, 1, None),              # overlapping windows: indices repeat
    (1, (2, 3, 9), 3, 2, 1, None),
    (1, (3, 8), 2, None, 0, 8),                    # (C, L), an int output_size
    (3, (1, 2, 4, 5, 6), 2, None, 0, (4, 5, 6)),
    (3, (1, 2, 5, 4, 5), (3, 2, 3), (2, 2, 1), (1, 0, 1), None),
]


def _pooled(nsp, shape, kernel, stride, padding, dtype=np.float64):
    x = _rand(*shape, dtype=dtype)
    pool = {1: cv.max_pool1d, 2: cv.max_pool2d, 3: cv.max_pool3d}[nsp]
    y, index = pool(x, kernel, stride, padding, return_indices=True)
    return x, y.numpy(), index.numpy()


@pytest.mark.parametrize("nsp, shape, kernel, stride, padding, output_size", UNPOOL_CASES,
                         ids=[f"{c[0]}d-{i}" for i, c in enumerate(UNPOOL_CASES)])
def test_max_unpool_forward_and_gradients(check_grads, nsp, shape, kernel, stride, padding,
                                          output_size):
    unpool = {1: cv.max_unpool1d, 2: cv.max_unpool2d, 3: cv.max_unpool3d}[nsp]
    x, y, index = _pooled(nsp, shape, kernel, stride, padding)
    out = unpool(y, index, kernel, stride, padding, output_size)
    size = out.shape[-nsp:]
    if output_size is not None:
        assert size == tuple(np.atleast_1d(output_size)[-nsp:])
    np.testing.assert_array_equal(out.numpy(), unpool_reference(y, index, size))
    # the maxima are back where they were, everything else is 0
    if size == x.shape[-nsp:]:
        np.testing.assert_array_equal(out.numpy(), np.where(out.numpy() != 0, x, 0))
    check_grads(lambda y: unpool(y, index, kernel, stride, padding, output_size), y)


def test_max_unpool_keeps_the_last_of_repeated_indices_and_gives_it_the_gradient():
    x = tflc.Tensor(np.array([[[1.0, 2.0, 3.0, 4.0]]]))
    with tflc.GradientTape() as tape:
        tape.watch(x)
        y = cv.max_unpool1d(x, [[[1, 1, 4, 1]]], 3, 1, output_size=(6,))
    np.testing.assert_array_equal(y.numpy(), [[[0, 4, 0, 0, 3, 0]]])  # torch's CPU kernel's
    g = np.array([[[10.0, 20, 30, 40, 50, 60]]])
    np.testing.assert_array_equal(tape.gradient(y, x, output_gradients=g).numpy(),
                                  [[[0, 0, 50, 20]]])  # torch: [20, 20, 50, 20]
    # through a pooling whose windows overlap, the value at a shared maximum is exact
    x = _rand(2, 3, 7, 6)
    y, index = cv.max_pool2d(x, 3, 1, 1, return_indices=True)
    out = cv.max_unpool2d(y, index, 3, 1, 1).numpy()
    picked = out != 0
    np.testing.assert_array_equal(out[picked], x[picked])


def test_max_unpool_takes_tensors_and_int32_indices_and_keeps_dtypes(check_hvp):
    _, y, index = _pooled(2, (2, 2, 4, 4), 2, None, 0, dtype=np.float32)
    out = cv.max_unpool2d(tflc.Tensor(y), tflc.Tensor(index.astype(np.int32)), 2)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), unpool_reference(y, index, (4, 4)))
    ints = cv.max_unpool2d((y * 10).astype(np.int32), index, 2)
    assert ints.dtype == np.int32
    check_hvp(lambda y: cv.max_unpool2d(y, index, 2) ** 3, y.astype(np.float64))


def test_max_unpool_in_a_trace_reads_its_indices_and_runs_eagerly():
    x = _rand(2, 3, 4, 4)
    y, index = (a.numpy() for a in cv.max_pool2d(x, 2, return_indices=True))
    step = tflc.jit(tflc.value_and_grad(lambda y, index: tflc.sum(cv.max_unpool2d(y, index, 2) ** 2)))
    with pytest.warns(RuntimeWarning, match="max_unpool2d's indices"):
        value, grad = step(y, index)
    np.testing.assert_allclose(float(value), np.sum(y ** 2), rtol=1e-12)
    np.testing.assert_array_equal(grad.numpy(), 2 * y)


def test_max_unpool_undoes_max_pool_as_pytorch_does():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    for nsp, shape, kernel, stride, padding, output_size in UNPOOL_CASES:
        pool, unpool = getattr(F, f"max_pool{nsp}d"), getattr(F, f"max_unpool{nsp}d")
        x = _rand(*shape)
        y, index = pool(torch.tensor(x), kernel, stride, padding, return_indices=True)
        ours_y, ours_index = getattr(cv, f"max_pool{nsp}d")(x, kernel, stride, padding,
                                                           return_indices=True)
        np.testing.assert_array_equal(ours_index.numpy(), index.numpy())
        leaf = y.detach().requires_grad_()
        expected = unpool(leaf, index, kernel, stride, padding,
                          (output_size,) if isinstance(output_size, int) else output_size)
        g = _rand(*expected.shape)
        (expected * torch.tensor(g)).sum().backward()
        t = tflc.Tensor(ours_y.numpy())
        with tflc.GradientTape() as tape:
            tape.watch(t)
            out = getattr(cv, f"max_unpool{nsp}d")(t, ours_index, kernel, stride, padding,
                                                   output_size)
        np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())  # bit for bit
        grad = tape.gradient(out, t, output_gradients=g).numpy()
        flat = index.numpy().reshape(-1, int(np.prod(index.shape[-nsp:])))
        if all(len(np.unique(row)) == row.size for row in flat):  # (else see the test above)
            np.testing.assert_array_equal(grad, leaf.grad.numpy())


# --- resampling: interpolate -----------------------------------------------------------------------
def _source(i, n, m, mode, align_corners, factor):
    """Where output entry i of m reads along an axis of n: [(source index, weight), ...],
    torch's formulas written out (nearest's scale in float32, as torch's kernels)."""
    if mode in ("nearest", "nearest-exact"):
        scale = np.float32(n) / np.float32(m) if factor is None else np.float32(1 / factor)
        at = np.float32(i + 0.5 if mode == "nearest-exact" else i) * scale
        return [(min(int(np.floor(at)), n - 1), 1.0)]
    if n == m:
        return [(i, 1.0)]
    if align_corners:
        at = i * (n - 1) / (m - 1) if m > 1 else 0.0
    else:
        at = max((i + 0.5) * (n / m if factor is None else 1 / factor) - 0.5, 0.0)
    lo = min(int(np.floor(at)), n - 1)
    frac = min(max(at - lo, 0.0), 1.0)
    return [(lo, 1 - frac), (min(lo + 1, n - 1), frac)]


def interpolate_reference(x, size, mode, align_corners=False, factors=None, planar_nearest=True):
    """A direct loop over the output entries, each the weighted sum over the corners of its
    cell."""
    nsp = x.ndim - 2
    factors = (None,) * nsp if factors is None else factors
    out = np.zeros(x.shape[:2] + tuple(size))
    for pos in np.ndindex(*size):
        reads = []
        for i, n, m, f in zip(pos, x.shape[2:], size, factors):
            if mode == "nearest" and nsp == 2 and planar_nearest and m in (n, 2 * n):
                reads.append([(i * n // m, 1.0)])  # torch's 2-D nearest kernel: a copy, i >> 1
            else:
                reads.append(_source(i, n, m, mode, align_corners, f))
        for corner in itertools.product(*reads):
            weight = np.prod([w for _, w in corner])
            out[(slice(None), slice(None)) + pos] += weight * x[(slice(None), slice(None)) +
                                                                tuple(j for j, _ in corner)]
    return out


def test_interpolate_known_values():
    a = np.array([[[[1.0, 2.0], [4.0, 5.0]]]])  # torch's documented examples
    np.testing.assert_allclose(cv.interpolate(a, scale_factor=2, mode="bilinear").numpy()[0, 0],
                               [[1.0, 1.25, 1.75, 2.0], [1.75, 2.0, 2.5, 2.75],
                                [3.25, 3.5, 4.0, 4.25], [4.0, 4.25, 4.75, 5.0]])
    np.testing.assert_allclose(
        cv.interpolate(a, size=4, mode="bilinear", align_corners=True).numpy()[0, 0],
        [[1.0, 4 / 3, 5 / 3, 2.0], [2.0, 7 / 3, 8 / 3, 3.0], [3.0, 10 / 3, 11 / 3, 4.0],
         [4.0, 13 / 3, 14 / 3, 5.0]], rtol=1e-15)
    np.testing.assert_array_equal(cv.interpolate(a, scale_factor=2).numpy()[0, 0],
                                  a[0, 0].repeat(2, 0).repeat(2, 1))
    r = np.arange(5.0).reshape(1, 1, 5)
    np.testing.assert_array_equal(cv.interpolate(r, 3).numpy(), [[[0, 1, 3]]])  # floor(i 5/3)
    np.testing.assert_array_equal(cv.interpolate(r, 3, mode="nearest-exact").numpy(),
                                  [[[0, 2, 4]]])                             # floor((i + ½) 5/3)
    np.testing.assert_allclose(cv.interpolate(r, 3, mode="linear").numpy(), [[[1 / 3, 2, 11 / 3]]])
    # 1-D and 3-D "nearest" read at floor(i / scale_factor), even where that keeps the size
    np.testing.assert_array_equal(cv.interpolate(r, scale_factor=1.1).numpy(), [[[0, 0, 1, 2, 3]]])
    np.testing.assert_array_equal(cv.interpolate(r, scale_factor=2.1).numpy()[0, 0, :4],
                                  [0, 0, 0, 1])
    # torch's 2-D kernel copies an axis whose size stays, and reads i >> 1 where it doubles
    plane = np.arange(5.0).reshape(1, 1, 1, 5)
    np.testing.assert_array_equal(cv.interpolate(plane, scale_factor=(1, 1.1)).numpy(), plane)
    np.testing.assert_array_equal(cv.interpolate(plane, scale_factor=(1, 2.1)).numpy(),
                                  plane.repeat(2, axis=-1))
    # linear copies an axis whose size stays, whatever the scale_factor
    np.testing.assert_array_equal(cv.interpolate(r, scale_factor=1.1, mode="linear").numpy(), r)
    # recompute_scale_factor: the scale from the sizes (4 -> 6), not 1 / 1.7
    np.testing.assert_allclose(
        cv.interpolate(np.arange(4.0).reshape(1, 1, 4), scale_factor=1.7, mode="linear",
                       recompute_scale_factor=True).numpy(),
        [[[0, 0.5, 7 / 6, 11 / 6, 2.5, 3]]])


INTERPOLATE_CASES = [
    dict(size=(7, 5), mode="nearest"),
    dict(size=(3, 2), mode="nearest"),
    dict(scale_factor=(1.7, 0.6), mode="nearest"),
    dict(scale_factor=2, mode="nearest"),
    dict(size=(7, 3), mode="nearest-exact"),
    dict(scale_factor=(0.8, 2.3), mode="nearest-exact"),
    dict(size=(7, 5), mode="bilinear"),
    dict(size=(3, 2), mode="bilinear"),
    dict(size=(7, 1), mode="bilinear", align_corners=True),
    dict(size=(3, 9), mode="bilinear", align_corners=True),
    dict(scale_factor=(1.7, 0.6), mode="bilinear"),
    dict(scale_factor=(1.7, 0.6), mode="bilinear", recompute_scale_factor=True),
]


@pytest.mark.parametrize("kwargs", INTERPOLATE_CASES, ids=str)
def test_interpolate2d_forward_and_gradients(check_grads, kwargs):
    x = _rand(2, 3, 5, 4)
    factors = None
    if "scale_factor" in kwargs:
        factors = cv._factors("interpolate", kwargs["scale_factor"], 2)
        size = tuple(int(np.floor(n * f)) for n, f in zip(x.shape[2:], factors))
        if kwargs.get("recompute_scale_factor"):
            factors = None
    else:
        size = kwargs["size"]
    out = cv.interpolate(x, **kwargs)
    assert out.shape == x.shape[:2] + size
    np.testing.assert_allclose(out.numpy(), interpolate_reference(
        x, size, kwargs["mode"], kwargs.get("align_corners", False), factors), atol=1e-12)
    check_grads(lambda x: cv.interpolate(x, **kwargs), x)


@pytest.mark.parametrize("kwargs", [
    dict(size=11, mode="linear"),
    dict(size=4, mode="linear", align_corners=True),
    dict(scale_factor=1.3, mode="nearest"),
    dict(size=12, mode="nearest"),
], ids=str)
def test_interpolate1d_forward_and_gradients(check_grads, kwargs):
    x = _rand(2, 3, 6)
    out = cv.interpolate(x, **kwargs)
    size = out.shape[2:]
    factors = None if "size" in kwargs else (kwargs["scale_factor"],)
    np.testing.assert_allclose(out.numpy(), interpolate_reference(
        x, size, kwargs["mode"], kwargs.get("align_corners", False), factors), atol=1e-12)
    check_grads(lambda x: cv.interpolate(x, **kwargs), x)


def test_interpolate3d_forward_and_gradients(check_grads, check_hvp):
    x = _rand(1, 2, 3, 4, 2)
    for kwargs in [dict(size=(5, 2, 3), mode="trilinear"),
                   dict(size=(2, 6, 3), mode="trilinear", align_corners=True),
                   dict(size=(6, 3, 4), mode="nearest")]:
        out = cv.interpolate(x, **kwargs)
        np.testing.assert_allclose(out.numpy(), interpolate_reference(
            x, kwargs["size"], kwargs["mode"], kwargs.get("align_corners", False)), atol=1e-12)
        check_grads(lambda x, kwargs=kwargs: cv.interpolate(x, **kwargs), x)
    check_hvp(lambda x: cv.interpolate(x, size=(4, 3, 3), mode="trilinear") ** 2, x)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.data())
def test_interpolate_over_drawn_sizes(nsp, data):
    sizes = tuple(data.draw(st.lists(st.integers(1, 6), min_size=nsp, max_size=nsp)))
    out = tuple(data.draw(st.lists(st.integers(1, 9), min_size=nsp, max_size=nsp)))
    mode = data.draw(st.sampled_from(["nearest", "nearest-exact",
                                      ("linear", "bilinear", "trilinear")[nsp - 1]]))
    align = data.draw(st.booleans()) if mode not in ("nearest", "nearest-exact") else None
    x = _rand(2, 2, *sizes)
    got = cv.interpolate(x, out, mode=mode, align_corners=align)
    np.testing.assert_allclose(got.numpy(), interpolate_reference(x, out, mode, bool(align)),
                               atol=1e-12)
    if all(m % n == 0 for n, m in zip(sizes, out)) and mode == "nearest":  # whole multiples
        expected = x
        for a, (n, m) in enumerate(zip(sizes, out)):
            expected = expected.repeat(m // n, axis=2 + a)
        np.testing.assert_array_equal(got.numpy(), expected)


def test_interpolate_in_a_trace_replays_and_tflc_nn_exports_it():
    params = {"w": _rand(3, 2, 3, 3)}
    x = _rand(2, 2, 5, 4)

    def loss(params, x):
        h = cv.interpolate(tflc.nn.relu(x), scale_factor=1.5, mode="bilinear")
        return tflc.sum(cv.interpolate(cv.conv2d(h, params["w"], padding=1), size=(3, 3)) ** 2)

    with tflc.GradientTape() as tape:
        w = {"w": tflc.Variable(params["w"])}
        eager_loss = loss(w, x)
    eager = tape.gradient(eager_loss, w)
    step = tflc.jit(tflc.value_and_grad(loss))
    for _ in range(3):
        value, grads = step(params, x)
        np.testing.assert_allclose(float(value), float(eager_loss), rtol=1e-12)
        np.testing.assert_allclose(grads["w"].numpy(), eager["w"].numpy(), rtol=1e-10)
    for name in ("interpolate", "max_unpool1d", "max_unpool2d", "max_unpool3d"):
        assert getattr(tflc.nn, name) is getattr(cv, name) and name in tflc.nn.__all__


def test_interpolate_against_pytorch():
    """Drawn shapes, sizes, scale factors and modes in float64 and float32: the same values and
    gradients as torch's CPU kernels (which its float32 forward matches to rounding)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    checked = 0
    while checked < 120:
        nsp = int(rng.integers(1, 4))
        shape = (2, 2) + tuple(int(n) for n in rng.integers(1, 7, nsp))
        dtype = (np.float32, np.float64)[checked % 2]
        mode = ("nearest", "nearest-exact", ("linear", "bilinear", "trilinear")[nsp - 1])[
            int(rng.integers(3))]
        kwargs = {}
        if rng.random() < 0.5:
            kwargs["size"] = tuple(int(n) for n in rng.integers(1, 11, nsp))
        else:
            kwargs["scale_factor"] = tuple(float(np.round(rng.uniform(0.3, 3.2), 2))
                                           for _ in range(nsp))
            if any(n * f < 1 for n, f in zip(shape[2:], kwargs["scale_factor"])):
                continue
            if rng.random() < 0.3:
                kwargs["recompute_scale_factor"] = True
            elif mode == "nearest" and nsp != 2 and any(
                    np.floor(n * f) in (n, 2 * n) and f not in (1, 2)
                    for n, f in zip(shape[2:], kwargs["scale_factor"])):
                continue  # torch's backward reads otherwise than its forward: the next test
        if mode not in ("nearest", "nearest-exact") and rng.random() < 0.5:
            kwargs["align_corners"] = True
        checked += 1
        x = rng.standard_normal(shape).astype(dtype)
        leaf = torch.tensor(x, requires_grad=True)
        expected = torch.nn.functional.interpolate(leaf, mode=mode, **kwargs)
        g = rng.standard_normal(expected.shape).astype(dtype)
        (expected * torch.tensor(g)).sum().backward()
        t = tflc.Tensor(x)
        with tflc.GradientTape() as tape:
            tape.watch(t)
            out = cv.interpolate(t, mode=mode, **kwargs)
        grad = tape.gradient(out, t, output_gradients=g)
        assert out.dtype == grad.dtype == dtype
        atol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), atol=atol, rtol=0,
                                   err_msg=f"{shape} {mode} {kwargs}")
        np.testing.assert_allclose(grad.numpy(), leaf.grad.numpy(), atol=10 * atol, rtol=0,
                                   err_msg=f"{shape} {mode} {kwargs}")


def test_interpolate_nearest_gradient_is_its_forwards_where_torchs_is_not(check_grads):
    """torch's 1-D nearest forward reads floor(i / 1.1) = [0, 0, 1, 2, 3] from 5 entries, but its
    backward sends the gradient back as if it had read [0, 1, 2, 3, 4]; the gradient here is the
    forward's derivative (checked against finite differences)."""
    x = _rand(1, 2, 5)
    out = cv.interpolate(x, scale_factor=1.1)
    np.testing.assert_array_equal(out.numpy(), x[..., [0, 0, 1, 2, 3]])
    check_grads(lambda x: cv.interpolate(x, scale_factor=1.1), x)
    t = tflc.Tensor(x)
    with tflc.GradientTape() as tape:
        tape.watch(t)
        y = cv.interpolate(t, scale_factor=1.1)
    np.testing.assert_array_equal(tape.gradient(y, t).numpy()[0, 0], [2, 1, 1, 1, 0])
    torch = pytest.importorskip("torch")
    leaf = torch.tensor(x, requires_grad=True)
    expected = torch.nn.functional.interpolate(leaf, scale_factor=1.1)
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    expected.backward(torch.ones_like(expected))
    np.testing.assert_array_equal(leaf.grad.numpy()[0, 0], [1, 1, 1, 1, 1])  # torch's
