"""Speed of convolution and max pooling: the engine's conv2d + max_pool2d (tensorflowlite_clone.
convolution, composed of the windows op, matmul, reshapes, transposes and max) against a
hand-written NumPy im2col implementation of the same two layers, and cs231n's naive loops.

One step is the forward pass of conv (N=50, 3x32x32 input, 32 filters 7x7, padding 3, stride 1)
then 2x2 max pooling with stride 2 (ThreeLayerConvNet's first layers), and the backward pass from
a fixed upstream gradient of the pooled output to dx, dw and db. Four ways:

- hand: NumPy im2col written out by hand, as cs231n's fast_layers do (conv_forward_strides /
  conv_backward_strides with a NumPy col2im; max_pool_forward_reshape / backward_reshape), the
  baseline of the ratios;
- eager: the engine, a GradientTape per step (`tape.gradient(out, [x, w, b],
  output_gradients=dout)`);
- traced: the engine's step recorded once by tflc.jit and replayed (the loss is
  sum(out * dout), whose gradient is the same);
- naive: cs231n's conv_forward_naive / conv_backward_naive / max_pool_*_naive loops, far too slow
  at N=50, so timed at N=NAIVE_N (their cost is linear in N) and scaled to N=50.

The "net" case is a whole training step of ThreeLayerConvNet at those sizes (conv - relu - pool -
affine 100 - relu - affine 10 - softmax loss with L2, backward, SGD update): by hand with the
im2col layers (`net_loss_im2col`), and ThreeLayerConvNet.loss eager ("autodiff") and traced
(its default). A traced step's memory includes the buffers its plan keeps between calls.

    python -m benchmarks.conv                 # float64 and float32, one BLAS thread
    tflc bench --conv                         # the same table
"""
import statistics
import time

import numpy as np

import tensorflowlite_clone as tflc
from tensorflowlite_clone import convolution

from .harness import environment, peak_memory, plan_for, settle_allocator, time_steps

SIZE = {"N": 50, "C": 3, "H": 32, "W": 32, "F": 32, "K": 7, "pad": 3, "stride": 1, "pool": 2}
NAIVE_N = 2


def make_problem(dtype, N=SIZE["N"], seed=0):
    """x, w, b, and the upstream gradient of the pooled output, in `dtype`."""
    s = SIZE
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, s["C"], s["H"], s["W"])).astype(dtype)
    w = (1e-2 * rng.standard_normal((s["F"], s["C"], s["K"], s["K"]))).astype(dtype)
    b = rng.standard_normal(s["F"]).astype(dtype)
    OH = (s["H"] + 2 * s["pad"] - s["K"]) // s["stride"] + 1
    OW = (s["W"] + 2 * s["pad"] - s["K"]) // s["stride"] + 1
    dout = rng.standard_normal((N, s["F"], OH // s["pool"], OW // s["pool"])).astype(dtype)
    return x, w, b, dout


# --- hand-written NumPy im2col (cs231n's fast layers, without Cython) ----------------------------
def conv_forward_im2col(x, w, b, stride, pad):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    OH, OW = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    sN, sC, sH, sW = xp.strides
    view = np.lib.stride_tricks.as_strided(
        xp, (C, HH, WW, N, OH, OW), (sC, sH, sW, sN, stride * sH, stride * sW))
    x_cols = np.ascontiguousarray(view).reshape(C * HH * WW, N * OH * OW)
    res = w.reshape(F, -1) @ x_cols + b.reshape(-1, 1)
    out = np.ascontiguousarray(res.reshape(F, N, OH, OW).transpose(1, 0, 2, 3))
    return out, (x.shape, w, stride, pad, x_cols)


def conv_backward_im2col(dout, cache, dx_too=True):
    (N, C, H, W), w, stride, pad, x_cols = cache
    F, _, HH, WW = w.shape
    _, _, OH, OW = dout.shape
    db = dout.sum(axis=(0, 2, 3))
    dout_r = dout.transpose(1, 0, 2, 3).reshape(F, -1)
    dw = (dout_r @ x_cols.T).reshape(w.shape)
    if not dx_too:  # (a first layer's input needs no gradient)
        return None, dw, db
    dx_cols = (w.reshape(F, -1).T @ dout_r).reshape(C, HH, WW, N, OH, OW)
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dout.dtype)
    for i in range(HH):  # col2im: each kernel offset adds its strided slab
        for j in range(WW):
            dxp[:, :, i:i + stride * OH:stride, j:j + stride * OW:stride] += \
                dx_cols[:, i, j].transpose(1, 0, 2, 3)
    dx = dxp[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def max_pool_forward_reshape(x, size):
    N, C, H, W = x.shape
    x_r = x.reshape(N, C, H // size, size, W // size, size)
    out = x_r.max(axis=3).max(axis=4)
    return out, (x, x_r, out)


def max_pool_backward_reshape(dout, cache):
    """Ties split evenly, as in cs231n's max_pool_backward_reshape (and the engine)."""
    x, x_r, out = cache
    mask = x_r == out[:, :, :, None, :, None]
    dx_r = mask * dout[:, :, :, None, :, None]
    dx_r /= np.sum(mask, axis=(3, 5), keepdims=True)
    return dx_r.reshape(x.shape)


def make_hand(x, w, b, dout, layers="conv+pool"):
    s = SIZE

    def conv_pool():
        c, conv_cache = conv_forward_im2col(x, w, b, s["stride"], s["pad"])
        out, pool_cache = max_pool_forward_reshape(c, s["pool"])
        dc = max_pool_backward_reshape(dout, pool_cache)
        return out, conv_backward_im2col(dc, conv_cache)

    def conv():
        c, conv_cache = conv_forward_im2col(x, w, b, s["stride"], s["pad"])
        return c, conv_backward_im2col(dout, conv_cache)

    def pool():
        out, pool_cache = max_pool_forward_reshape(x, s["pool"])
        return out, (max_pool_backward_reshape(dout, pool_cache),)
    return {"conv+pool": conv_pool, "conv": conv, "pool": pool}[layers]


# --- the engine --------------------------------------------------------------------------------
def _layers(layers):
    s = SIZE

    def conv(x, w, b):
        return convolution.conv2d(x, w, b, stride=s["stride"], padding=s["pad"])

    def pool(x, w, b):
        return convolution.max_pool2d(x, s["pool"])
    return {"conv+pool": lambda x, w, b: pool(conv(x, w, b), w, b), "conv": conv,
            "pool": pool}[layers]


def make_eager(x, w, b, dout, layers="conv+pool"):
    forward = _layers(layers)

    def step():
        xt, wt, bt = tflc.Tensor(x), tflc.Tensor(w), tflc.Tensor(b)
        sources = [xt] if layers == "pool" else [xt, wt, bt]
        with tflc.GradientTape() as tape:
            tape.watch(sources)
            out = forward(xt, wt, bt)
        return out, tape.gradient(out, sources, output_gradients=dout)
    return step


def make_traced(x, w, b, dout, layers="conv+pool"):
    forward = _layers(layers)
    if layers == "pool":
        traced = tflc.jit(tflc.value_and_grad(lambda p, d: tflc.sum(forward(p["x"], None, None) * d)))
        params = {"x": x}
    else:
        traced = tflc.jit(tflc.value_and_grad(lambda p, d: tflc.sum(forward(p["x"], p["w"], p["b"]) * d)))
        params = {"x": x, "w": w, "b": b}

    def step():
        return traced(params, dout)
    step.kept_bytes = lambda: plan_for(traced, params, dout).kept_bytes
    return step


def make_problem_for(layers, dtype, N=SIZE["N"], seed=0):
    """x, w, b and an upstream gradient shaped like the output of `layers`; for "pool", x is
    shaped like the convolution's output."""
    x, w, b, dout = make_problem(dtype, N, seed)
    if layers == "conv+pool":
        return x, w, b, dout
    rng = np.random.default_rng(seed + 1)
    if layers == "conv":
        c = conv_forward_im2col(x, w, b, SIZE["stride"], SIZE["pad"])[0]
        return x, w, b, rng.standard_normal(c.shape).astype(dtype)
    x = rng.standard_normal((N, SIZE["F"], SIZE["H"], SIZE["W"])).astype(dtype)
    return x, w, b, dout


# --- the whole ThreeLayerConvNet step -----------------------------------------------------------
NET = {"hidden": 100, "classes": 10, "reg": 1e-3, "lr": 1e-3}


def make_net_problem(dtype, N=SIZE["N"], seed=0):
    """X, y and a ThreeLayerConvNet's parameters (cs231n's CIFAR-sized defaults at SIZE)."""
    from models.cnn import ThreeLayerConvNet
    s = SIZE
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, s["C"], s["H"], s["W"])).astype(dtype)
    y = rng.integers(0, NET["classes"], N)
    np.random.seed(seed)
    model = ThreeLayerConvNet((s["C"], s["H"], s["W"]), s["F"], s["K"], NET["hidden"],
                              NET["classes"], weight_scale=1e-2, reg=NET["reg"], dtype=dtype)
    return X, y, model.params


def net_loss_im2col(X, y, params, reg):
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax, forward and backward, by
    hand with the im2col layers above: (loss, grads), cs231n's 0.5 * reg * |W|^2."""
    s, N = SIZE, X.shape[0]
    W1, b1, W2, b2, W3, b3 = (params[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    conv, conv_cache = conv_forward_im2col(X, W1, b1, s["stride"], s["pad"])
    relu1 = np.maximum(conv, 0)
    pool, pool_cache = max_pool_forward_reshape(relu1, s["pool"])
    flat = pool.reshape(N, -1)
    hidden_pre = flat @ W2 + b2
    hidden = np.maximum(hidden_pre, 0)
    scores = hidden @ W3 + b3
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    rows = np.arange(N)
    loss = -np.log(probs[rows, y]).mean() + 0.5 * reg * sum(np.sum(W * W) for W in (W1, W2, W3))
    dscores = probs
    dscores[rows, y] -= 1
    dscores /= N
    grads = {"W3": hidden.T @ dscores + reg * W3, "b3": dscores.sum(axis=0)}
    dhidden = (dscores @ W3.T) * (hidden_pre > 0)
    grads["W2"], grads["b2"] = flat.T @ dhidden + reg * W2, dhidden.sum(axis=0)
    drelu1 = max_pool_backward_reshape((dhidden @ W2.T).reshape(pool.shape), pool_cache)
    _, dW1, grads["b1"] = conv_backward_im2col(drelu1 * (conv > 0), conv_cache, dx_too=False)
    grads["W1"] = dW1 + reg * W1
    return float(loss), grads


def make_net(X, y, params, method):
    """One SGD step on copies of `params`: "hand" (net_loss_im2col), or ThreeLayerConvNet.loss
    with method "autodiff" (the eager tape) or "traced" (tflc.jit, its default)."""
    from models import cnn
    s = SIZE
    model = cnn.ThreeLayerConvNet((s["C"], s["H"], s["W"]), s["F"], s["K"], NET["hidden"],
                              NET["classes"], reg=NET["reg"], dtype=X.dtype)
    model.params = {k: v.copy() for k, v in params.items()}

    def step():
        if method == "hand":
            loss, grads = net_loss_im2col(X, y, model.params, NET["reg"])
        else:
            loss, grads = model.loss(X, y, method=method)
        for k, g in grads.items():
            model.params[k] -= NET["lr"] * g
        return loss
    if method == "traced":  # (the arguments ThreeLayerConvNet.loss gives its traced step)
        step.kept_bytes = lambda: plan_for(
            cnn._traced_loss, model.params, X, y, NET["reg"], tuple(model.conv_param.items()),
            tuple(model.pool_param.items())).kept_bytes
    return step


# --- cs231n's naive loops ----------------------------------------------------------------------
def conv_forward_naive(x, w, b, stride, pad):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    OH, OW = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    out = np.zeros((N, F, OH, OW), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    window = xp[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, stride, pad)


def conv_backward_naive(dout, cache):
    x, w, b, stride, pad = cache
    N, F, OH, OW = dout.shape
    _, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    hs, ws = i * stride, j * stride
                    dxp[n, :, hs:hs + HH, ws:ws + WW] += w[f] * dout[n, f, i, j]
                    dw[f] += xp[n, :, hs:hs + HH, ws:ws + WW] * dout[n, f, i, j]
    return dxp[:, :, pad:-pad or None, pad:-pad or None], dw, db


def max_pool_forward_naive(x, size):
    N, C, H, W = x.shape
    out = np.zeros((N, C, H // size, W // size), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(H // size):
                for j in range(W // size):
                    out[n, c, i, j] = np.max(x[n, c, i * size:(i + 1) * size,
                                               j * size:(j + 1) * size])
    return out, (x, size)


def max_pool_backward_naive(dout, cache):
    x, size = cache
    N, C, OH, OW = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    window = x[n, c, i * size:(i + 1) * size, j * size:(j + 1) * size]
                    mask = window == np.max(window)
                    dx[n, c, i * size:(i + 1) * size, j * size:(j + 1) * size] += \
                        mask * dout[n, c, i, j] / mask.sum()
    return dx


def make_naive(x, w, b, dout):
    s = SIZE

    def step():
        c, conv_cache = conv_forward_naive(x, w, b, s["stride"], s["pad"])
        out, pool_cache = max_pool_forward_naive(c, s["pool"])
        dc = max_pool_backward_naive(dout, pool_cache)
        return out, conv_backward_naive(dc, conv_cache)
    return step


# --- running -----------------------------------------------------------------------------------
def check_agreement(dtype=np.float64):
    """The largest difference between the engine's and the hand-written forward and gradients
    (and the naive loops', at N=NAIVE_N): they compute the same thing."""
    x, w, b, dout = make_problem(dtype, N=NAIVE_N)
    hand_out, hand_grads = make_hand(x, w, b, dout)()
    naive_out, naive_grads = make_naive(x, w, b, dout)()
    eager_out, eager_grads = make_eager(x, w, b, dout)()
    _, traced_grads = make_traced(x, w, b, dout)()
    traced_grads = [traced_grads[k] for k in ("x", "w", "b")]
    diffs = [np.abs(np.asarray(a) - np.asarray(c)).max() for a, c in
             [(eager_out, hand_out), (naive_out, hand_out)] +
             list(zip(eager_grads, hand_grads)) + list(zip(traced_grads, hand_grads)) +
             list(zip(naive_grads, hand_grads))]
    return float(max(diffs))


LAYERS = ("conv+pool", "conv", "pool", "net")


def run(dtypes=("float64", "float32"), layers=LAYERS, rounds=11, threads=1, naive=True):
    """Medians of interleaved rounds (harness.time_steps), ratios to the hand-written step, and
    peak memory of one step (tracemalloc)."""
    from contextlib import nullcontext
    try:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(limits=threads, user_api="blas") if threads else nullcontext()
    except ImportError:
        limit = nullcontext()
    report = {"size": dict(SIZE), "naive_n": NAIVE_N, "threads": threads, "rounds": rounds,
              "results": []}
    with limit:
        report["environment"] = environment()
        report["max_abs_difference"] = check_agreement()
        settle_allocator()
        for case in layers:
            for dtype in dtypes:
                if case == "net":
                    problem = make_net_problem(np.dtype(dtype))
                    steps = {name: make_net(*problem, method) for name, method in
                             (("hand", "hand"), ("eager", "autodiff"), ("traced", "traced"))}
                else:
                    problem = make_problem_for(case, np.dtype(dtype))
                    steps = {name: make(*problem, layers=case) for name, make in
                             (("hand", make_hand), ("eager", make_eager),
                              ("traced", make_traced))}
                samples = time_steps(steps, rounds, min_round_seconds=0.5)
                hand, hand_best = statistics.median(samples["hand"]), min(samples["hand"])
                hand_peak = peak_memory(steps["hand"])
                for name, times in samples.items():
                    peak = peak_memory(steps[name]) if name != "hand" else hand_peak
                    report["results"].append({
                        "layers": case, "dtype": dtype, "impl": name,
                        "median_ms": statistics.median(times) * 1e3,
                        "ratio": statistics.median(times) / hand,
                        "best_ratio": min(times) / hand_best,
                        "peak_mib": peak / 2**20, "memory_ratio": peak / hand_peak})
                if naive and case == "conv+pool":
                    report["results"].append(_naive_row(dtype, samples))
    return report


def _naive_row(dtype, samples):
    """cs231n's naive loops at N=NAIVE_N, scaled to N (their cost is linear in N), and the
    engine's speed-up over them, at N and (measured again) at N=NAIVE_N."""
    small = make_problem(np.dtype(dtype), N=NAIVE_N)
    start = time.perf_counter()
    make_naive(*small)()
    seconds = (time.perf_counter() - start) * SIZE["N"] / NAIVE_N
    eager_small = statistics.median(time_steps({"eager": make_eager(*small)}, 5, 0.1)["eager"])
    hand = statistics.median(samples["hand"])
    return {"layers": "conv+pool", "dtype": dtype, "impl": "naive", "median_ms": seconds * 1e3,
            "ratio": seconds / hand, "best_ratio": seconds / min(samples["hand"]),
            "eager_speedup": seconds / statistics.median(samples["eager"]),
            "eager_speedup_at_naive_n": seconds * NAIVE_N / SIZE["N"] / eager_small}


def format_table(report):
    s = report["size"]
    lines = [f"conv2d ({s['F']} filters {s['K']}x{s['K']}, pad {s['pad']}, stride {s['stride']}) "
             f"+ max_pool2d {s['pool']}x{s['pool']}, N={s['N']}, {s['C']}x{s['H']}x{s['W']}: "
             "forward and backward (dx, dw, db); net: ThreeLayerConvNet's whole SGD step; ratios "
             "to the hand-written NumPy im2col step",
             f"{'layers':10} {'dtype':8} {'impl':7} {'median ms':>10} {'x hand':>8} "
             f"{'best x':>8} {'peak MiB':>9} {'mem x':>6}"]
    for r in report["results"]:
        line = (f"{r['layers']:10} {r['dtype']:8} {r['impl']:7} {r['median_ms']:10.1f} "
                f"{r['ratio']:8.2f} {r['best_ratio']:8.2f}")
        if r["impl"] == "naive":
            line += (f"   (timed at N={report['naive_n']} and scaled: eager is "
                     f"{r['eager_speedup']:.0f}x faster; {r['eager_speedup_at_naive_n']:.0f}x "
                     f"at N={report['naive_n']})")
        else:
            line += f" {r['peak_mib']:9.1f} {r['memory_ratio']:6.2f}"
        lines.append(line)
    env = report["environment"]
    blas = env["blas"] if isinstance(env["blas"], str) else ", ".join(
        f"{b['internal_api']} {b['version']} ({b['num_threads']} threads)" for b in env["blas"])
    lines.append(f"largest difference engine vs hand vs naive (float64, N={report['naive_n']}): "
                 f"{report['max_abs_difference']:.1e}; numpy {env['numpy']}, BLAS: {blas}")
    return "\n".join(lines)


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conv", description=__doc__
                                     .split("\n\n")[0])
    parser.add_argument("--dtypes", nargs="+", choices=("float64", "float32"),
                        default=["float64", "float32"])
    parser.add_argument("--layers", nargs="+", choices=LAYERS, default=list(LAYERS))
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-naive", action="store_true", help="skip cs231n's naive loops")
    args = parser.parse_args(argv)
    print(format_table(run(args.dtypes, args.layers, args.rounds, args.threads, not args.no_naive)))


if __name__ == "__main__":
    main()
