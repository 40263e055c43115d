"""Nearest-neighbour search speed for retrieval (scivid.retrieval.nearest) on random embeddings.

    python benchmarks/knn_speed.py [--sizes 100000 1000000 --dim 768 --queries 256 --k 10]

Times the batched, chunked L2 search on whatever device JAX uses (here the CPU), for index sizes
of 10^5 and 10^6 clips, and prints ms per query, multiply-adds per second and the projected time
for as many queries as index clips (scale from the printed rate: the cost grows with
queries x index size).
"""
import argparse, os, time
import numpy as np
import jax
from scivid.retrieval import nearest


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--sizes', type=int, nargs='+', default=[100_000, 1_000_000])
    p.add_argument('--dim', type=int, default=768)
    p.add_argument('--queries', type=int, default=256)
    p.add_argument('--k', type=int, default=10)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), {args.dim}-d float32 embeddings, k = {args.k}")
    for n in args.sizes:
        index = rng.standard_normal((n, args.dim), dtype=np.float32)
        queries = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
        nearest(queries[:8], index, args.k)  # compile
        t = time.perf_counter()
        nearest(queries, index, args.k)
        dt = time.perf_counter() - t
        rate = args.queries * n * args.dim / dt
        print(f"index {n:>9,}: {dt / args.queries * 1e3:8.2f} ms per query, {rate / 1e9:6.1f} G multiply-adds/s; "
              f"{n:,} queries would take {n * dt / args.queries / 60:.1f} min")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == '__main__':
    main()
