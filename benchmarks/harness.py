"""Speed and memory of one two-layer-net training step: the engine (eager, and traced with
tflc.jit) against the seed's hand-derived NumPy step on the same data and dtype (and PyTorch /
HIPS autograd when installed).

Every implementation runs the same step: forward, softmax loss with reg * sum(W*W), full
backward, SGD update of W1, b1, W2, b2. Implementations are timed interleaved, in one
process, so machine noise hits them alike; figures are medians with interquartile ranges and
ratios to the hand-derived step (also the ratio of the fastest rounds, which noise moves less).
Run it as `tflc bench` (see `--help`).
"""
import json
import os
import platform
import resource
import statistics
import time
import tracemalloc

import numpy as np

import tensorflowlite_clone as tflc
from models.two_layer_net import TwoLayerNet, _traced_loss

SIZES = {  # name: (N, D, H, C)
    "cifar": (200, 3072, 100, 10),
    "digits": (200, 64, 100, 10),
    "tiny": (5, 4, 10, 3),
}
REG, LR = 5e-6, 1e-3


def make_problem(size, dtype, seed=0):
    """Random data and a fresh net of the given size and dtype (same for every implementation)."""
    N, D, H, C = SIZES[size]
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)).astype(dtype)
    y = rng.integers(0, C, N)
    params = {"W1": 1e-2 * rng.standard_normal((D, H)), "b1": np.zeros(H),
              "W2": 1e-2 * rng.standard_normal((H, C)), "b2": np.zeros(C)}
    return X, y, {k: v.astype(dtype) for k, v in params.items()}


# --- the implementations: each `make_*(X, y, params)` returns a zero-argument step ---------------
def make_hand(X, y, params):
    """The seed's hand-derived step (models.two_layer_net.manual_loss) plus the SGD update."""
    return _net_step(X, y, params, "manual")


def make_engine(X, y, params):
    """The engine through TwoLayerNet's autodiff path plus the same SGD update."""
    return _net_step(X, y, params, "autodiff")


def make_traced(X, y, params):
    """The engine's step recorded once and replayed (TwoLayerNet's method="traced", tflc.jit)."""
    return _net_step(X, y, params, "traced")


def _net_step(X, y, params, method):
    """One step of TwoLayerNet.loss(method=...) on copies of `params`, plus the SGD update."""
    net = _net_with(params)

    def step():
        loss, grads = net.loss(X, y, reg=REG, method=method)
        for k, g in grads.items():
            net.params[k] -= LR * g
        return loss
    if method == "traced":  # what the plan keeps between calls counts as the step's memory
        step.kept_bytes = lambda: plan_for(_traced_loss, net.params, X, y, REG).kept_bytes
    return step


def plan_for(jitted, *args):
    """The plan `jitted` (tflc.jit) replays for these arguments."""
    return jitted.plans[tflc.tracing._describe(args, [])]


def _net_with(params):
    return TwoLayerNet.from_params({k: v.copy() for k, v in params.items()})


def make_torch(X, y, params):
    import torch
    torch.set_num_threads(_blas_threads() or 1)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}

    def step():
        hidden = torch.relu(Xt @ p["W1"] + p["b1"])
        scores = hidden @ p["W2"] + p["b2"]
        loss = (torch.nn.functional.cross_entropy(scores, yt)
                + REG * ((p["W1"] * p["W1"]).sum() + (p["W2"] * p["W2"]).sum()))
        grads = torch.autograd.grad(loss, list(p.values()))
        with torch.no_grad():
            for v, g in zip(p.values(), grads):
                v -= LR * g
        return float(loss.detach())
    return step


def make_autograd(X, y, params):
    import autograd
    import autograd.numpy as anp

    def loss_fn(p):
        hidden = anp.maximum(anp.dot(X, p["W1"]) + p["b1"], 0)
        scores = anp.dot(hidden, p["W2"]) + p["b2"]
        scores = scores - anp.max(scores, axis=1, keepdims=True)
        logp = scores - anp.log(anp.sum(anp.exp(scores), axis=1, keepdims=True))
        return (-anp.mean(logp[np.arange(len(y)), y])
                + REG * (anp.sum(p["W1"] * p["W1"]) + anp.sum(p["W2"] * p["W2"])))
    value_and_grad = autograd.value_and_grad(loss_fn)
    p = {k: v.copy() for k, v in params.items()}

    def step():
        loss, grads = value_and_grad(p)
        for k in p:
            p[k] -= LR * grads[k]
        return loss
    return step


IMPLEMENTATIONS = {"hand": make_hand, "engine": make_engine, "traced": make_traced,
                   "torch": make_torch, "autograd": make_autograd}
NUMPY_BASED = ("hand", "engine", "traced")  # peak memory is traced for these


def available():
    """Names of the implementations that can run here (peers only when installed)."""
    names = list(NUMPY_BASED)
    for name in ("torch", "autograd"):
        try:
            __import__(name)
            names.append(name)
        except ImportError:
            pass
    return names


# --- measuring -------------------------------------------------------------------------------------
def settle_allocator():
    """Free one large block first, so every case runs in the same allocator state whatever ran
    before it. glibc raises its mmap threshold (and trim threshold, twice that) to the largest
    block freed, up to 32 MiB; until then arrays above 128 KiB (digits in float64) are mapped
    and unmapped, or the heap top trimmed, on every step, and each step pays hundreds of page
    faults. Without this, `--sizes digits` alone timed the engine at 3.3x hand, after cifar 1.6x.
    The block must stay below the 32 MiB cap, or the threshold does not move at all."""
    block = np.ones(16 * 2**20 // 8)
    del block


def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_steps(steps, rounds, min_round_seconds=0.05, faults=None):
    """Per-step seconds of each step function, `rounds` interleaved rounds each. If `faults` is
    a dict, it receives each step's minor page faults per call (a sign of allocator churn)."""
    batch = {}
    for name, step in steps.items():  # warm up, and size each round to take a while
        step()
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < min_round_seconds / 5:
            step()
            n += 1
        batch[name] = max(1, n * 5)
    samples = {name: [] for name in steps}
    faulted = dict.fromkeys(steps, 0)
    for _ in range(rounds):
        for name, step in steps.items():
            before = minor_faults()
            start = time.perf_counter()
            for _ in range(batch[name]):
                step()
            samples[name].append((time.perf_counter() - start) / batch[name])
            faulted[name] += minor_faults() - before
    if faults is not None:
        faults.update({name: faulted[name] / (rounds * batch[name]) for name in steps})
    return samples


def peak_memory(step):
    """Peak bytes traced (tracemalloc: NumPy allocations) during one step, plus what the step
    keeps between calls (`step.kept_bytes()`, where it has one: a traced step's buffers)."""
    step()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak + getattr(step, "kept_bytes", lambda: 0)()


def summary(samples):
    q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return {"median_ms": median * 1e3, "iqr_ms": (q3 - q1) * 1e3}


PER_OP_CASES = {  # name: how the chain applies the op to a 4x4 tensor
    "add": lambda x, c: x + c, "multiply": lambda x, c: x * c, "matmul": lambda x, c: x @ c,
    "exp": lambda x, c: tflc.exp(x * 0.0), "relu": lambda x, c: tflc.relu(x),
    "sum": lambda x, c: tflc.sum(x, axis=1, keepdims=True) + x,
    "max": lambda x, c: tflc.max(x, axis=1, keepdims=True) + x,
    "getitem": lambda x, c: x[np.arange(4), np.arange(4)] + x,
}


def per_op_overhead(length=50, rounds=7):
    """Microseconds a user pays per op on 4x4 inputs (forward, record and VJP, NumPy's own
    work included), from chains of `length` ops so that the tape's set-up is amortised.
    Returns {"eager": {op: us}, "traced": {op: us}}: the same chain replayed by tflc.jit
    runs only the ops' forwards and VJPs, so the difference is the tape's own cost."""
    rng = np.random.default_rng(0)
    x0 = tflc.Variable(rng.standard_normal((4, 4)) * 0.1)
    c = tflc.Tensor(np.eye(4) * 0.5)
    results = {"eager": {}, "traced": {}}
    for name, apply in PER_OP_CASES.items():  # (each closure is used within its own iteration)
        def forward(x):
            for _ in range(length):
                x = apply(x, c)  # noqa: B023
            return x

        def eager():
            with tflc.GradientTape() as tape:
                x = forward(x0)
            tape.gradient(x, x0)

        traced = tflc.jit(tflc.value_and_grad(forward))
        x0_array = x0.numpy()
        with tflc.GradientTape() as tape:  # ops one application records (the op, plus glue)
            apply(x0, c)
        ops = len(tape.records)
        samples = time_steps({"eager": eager, "traced": lambda: traced(x0_array)},  # noqa: B023
                             rounds, 0.02)
        for kind in results:
            results[kind][name] = min(samples[kind]) / (length * ops) * 1e6
    return results


# --- environment -------------------------------------------------------------------------------------
def _blas_threads():
    try:
        from threadpoolctl import threadpool_info
        return next((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), None)
    except ImportError:
        return None


def environment():
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE")}
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [{k: i.get(k) for k in ("internal_api", "version", "num_threads",
                                                 "architecture")}
                        for i in threadpool_info() if i["user_api"] == "blas"]
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    return info


def run(sizes=("cifar", "digits", "tiny"), dtypes=("float64", "float32"), rounds=15,
        implementations=None, threads=1, per_op=True, progress=None):
    """Measure everything; returns a JSON-able dict."""
    from contextlib import nullcontext
    try:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(limits=threads, user_api="blas") if threads else nullcontext()
    except ImportError:
        limit = nullcontext()
    names = implementations or available()
    report = {"environment": None, "threads": threads, "rounds": rounds, "results": []}
    with limit:
        report["environment"] = environment()
        settle_allocator()
        cases = [(s, d) for s in sizes for d in dtypes]
        for size, dtype in (progress(cases) if progress else cases):
            X, y, params = make_problem(size, np.dtype(dtype))
            steps = {name: IMPLEMENTATIONS[name](X, y, params) for name in names}
            first_loss = {name: float(step()) for name, step in steps.items()}  # same data: agree
            faults = {}
            samples = time_steps(steps, rounds, faults=faults)
            hand, hand_best = statistics.median(samples["hand"]), min(samples["hand"])
            for name in names:
                row = {"size": size, "dtype": dtype, "impl": name, **summary(samples[name]),
                       "ratio": statistics.median(samples[name]) / hand,
                       # the fastest rounds: machine noise only ever adds, so this moves less
                       "best_ratio": min(samples[name]) / hand_best,
                       "faults_per_step": faults[name], "first_loss": first_loss[name]}
                if name in NUMPY_BASED:
                    row["peak_kib"] = peak_memory(steps[name]) / 1024
                report["results"].append(row)
            hand_peak = next(r["peak_kib"] for r in report["results"][-len(names):]
                             if r["impl"] == "hand")
            for row in report["results"][-len(names):]:
                if "peak_kib" in row:
                    row["memory_ratio"] = row["peak_kib"] / hand_peak
        if per_op:
            per_op = per_op_overhead()
            report["per_op_us"], report["per_op_traced_us"] = per_op["eager"], per_op["traced"]
    return report


def format_table(report):
    lines = [f"{'size':7} {'dtype':8} {'impl':9} {'median ms':>10} {'IQR ms':>8} "
             f"{'x hand':>7} {'best x':>7} {'peak KiB':>9} {'mem x':>6} {'faults':>7}"]
    for r in report["results"]:
        peak = f"{r['peak_kib']:9.0f}" if "peak_kib" in r else " " * 9
        mem = f"{r['memory_ratio']:6.2f}" if "memory_ratio" in r else " " * 6
        faults = f"{r['faults_per_step']:7.1f}" if "faults_per_step" in r else ""
        lines.append(f"{r['size']:7} {r['dtype']:8} {r['impl']:9} {r['median_ms']:10.3f} "
                     f"{r['iqr_ms']:8.3f} {r['ratio']:7.2f} {r['best_ratio']:7.2f} {peak} {mem} "
                     f"{faults}")
    if "per_op_us" in report:
        ops = ", ".join(f"{k} {v:.1f} ({report['per_op_traced_us'][k]:.1f})"
                        for k, v in report["per_op_us"].items())
        lines.append(f"per op on 4x4, record+forward+VJP, us (in a trace): {ops}")
    env = report["environment"]
    blas = env["blas"] if isinstance(env["blas"], str) else ", ".join(
        f"{b['internal_api']} {b['version']} ({b['num_threads']} threads, {b['architecture']})"
        for b in env["blas"])
    lines.append(f"numpy {env['numpy']}, BLAS: {blas}; OPENBLAS_CORETYPE="
                 f"{env['OPENBLAS_CORETYPE']}, OPENBLAS_L2_SIZE={env['OPENBLAS_L2_SIZE']}")
    return "\n".join(lines)


def save_json(report, path):
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
