"""The two-layer step where the allocator makes a step pay for its temporaries: each
implementation alone in a new Python process, with glibc's mmap threshold held at its default
of 128 KiB (MALLOC_MMAP_THRESHOLD_), timed after a warm-up, with its minor page faults per step.

glibc serves arrays above the threshold from mmap, so every such temporary costs page faults
on every call. It raises the threshold to the largest block freed (and trims its heap behind
them), so what a fresh process pays depends on what it happened to free before: from nothing
to this case, in which it never rose. `tflc bench` settles the allocator first, so that every
case sees the same raised thresholds, which hides the difference; a traced step keeps buffers
for its temporaries (tracing.py), so it allocates little more than what it returns.

    python -m benchmarks.allocator                  # digits, float64: hand, traced, engine
    python -m benchmarks.allocator --size cifar --dtype float32
"""
import argparse
import os
import resource
import subprocess
import sys
import time

import numpy as np

STEPS, ROUNDS = 500, 10


def measure(size, dtype, implementation, steps=STEPS):
    """(microseconds, minor page faults) per step of one implementation, in this process."""
    from threadpoolctl import threadpool_limits

    from . import harness
    with threadpool_limits(limits=1, user_api="blas"):
        step = harness.IMPLEMENTATIONS[implementation](*harness.make_problem(size, np.dtype(dtype)))
        for _ in range(50):
            step()
        faults, rounds = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, []
        for _ in range(ROUNDS):  # (the fastest round: noise from the machine only ever adds)
            start = time.perf_counter()
            for _ in range(steps // ROUNDS):
                step()
            rounds.append((time.perf_counter() - start) / (steps // ROUNDS))
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / steps
    return min(rounds) * 1e6, faults


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="digits", choices=("cifar", "digits", "tiny"))
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--implementations", nargs="+", default=["hand", "traced", "engine"])
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # (the child)
    args = parser.parse_args(argv)
    if args.one:
        print(*measure(args.size, args.dtype, args.implementations[0]))
        return 0
    print(f"{args.size} {args.dtype}, each in a fresh process with glibc's mmap threshold held "
          f"at 128 KiB, the fastest of {ROUNDS} rounds of {STEPS // ROUNDS} steps:")
    hand = None
    for name in args.implementations:
        out = subprocess.run([sys.executable, "-m", "benchmarks.allocator", "--one", "--size",
                              args.size, "--dtype", args.dtype, "--implementations", name],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}).stdout.split()
        us, faults = map(float, out)
        hand = hand or (us if name == "hand" else None)
        ratio = f"  {us / hand:4.2f}x hand" if hand else ""
        print(f"  {name:7} {us:9.1f} us a step  {faults:6.1f} page faults a step{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
