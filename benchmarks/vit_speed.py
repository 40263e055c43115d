"""Forward and forward+backward throughput and peak memory of the JAX ViT encoder (issue 17), with and without remat.

    python benchmarks/vit_speed.py                       # ViT-B and ViT-L, 16 frames, 224 px; batch 1 on a CPU, 8 and 32 on an accelerator
    python benchmarks/vit_speed.py --models B --batches 2 --dtype bfloat16

VideoMAE geometry (tubelet 2 x 16 x 16, fixed sinusoid positions) with random weights: ViT-B is width 768, 12 blocks,
12 heads, MLP 3072 (1568 tokens per 16-frame clip); ViT-L width 1024, 24 blocks, 16 heads, MLP 4096. The backward
pass is the gradient of a scalar of the encoder's output with respect to every parameter (what fine-tuning computes).

Each configuration runs in a fresh process: compiled once (not timed), then timed over `--repeats` calls. Printed per
configuration: seconds per call (wall clock, and CPU seconds of all the process's threads, which other processes on
the machine do not inflate), clips/s (wall clock), XLA's peak buffer estimate of the compiled program (arguments +
outputs + temporaries, from `memory_analysis()`: what remat changes) and the process's peak resident memory (includes
the Python/JAX runtime). The load average is printed before and after: other processes sharing the cores slow the
wall-clock figures, not the memory ones. A configuration whose XLA estimate exceeds 70% of the free memory is
compiled but not run (its estimate is still printed), so a shared machine is never pushed into swapping.
"""
import argparse, json, os, resource, subprocess, sys, time

GEOMETRY = {'B': dict(width=768, depth=12, heads=12, mlp=3072), 'L': dict(width=1024, depth=24, heads=16, mlp=4096)}


def one(model: str, batch: int, mode: str, remat: bool, frames: int, size: int, dtype: str, repeats: int) -> dict:
    "Time one configuration in this process; returns its figures."
    import jax, jax.numpy as jnp
    from flax import nnx
    from scivid.jax_vit import ViTEncoder, ViTGeometry, DTYPES
    g = ViTGeometry(**GEOMETRY[model], patch=(2, 16, 16), frames=frames, eps=1e-12)
    enc = ViTEncoder(g, dtype=DTYPES[dtype], remat=remat, rngs=nnx.Rngs(0))
    graphdef, params = nnx.split(enc)
    pixels = jax.random.normal(jax.random.key(1), (batch, frames, 3, size, size), jnp.float32)

    def forward(params, pixels): return nnx.merge(graphdef, params)(pixels)
    def loss(params, pixels): return jnp.mean(jnp.square(forward(params, pixels).astype(jnp.float32)))
    fn = jax.jit(forward if mode == 'forward' else jax.grad(loss))
    compiled = fn.lower(params, pixels).compile()
    mem = compiled.memory_analysis()
    xla_bytes = None if mem is None else (mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes)
    free = os.sysconf('SC_AVPHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
    seconds = cpu_seconds = None
    if xla_bytes is None or xla_bytes < 0.7 * free:  # never push a shared machine into swapping: report the estimate only
        jax.block_until_ready(compiled(params, pixels))  # first call: allocation, not timed
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(repeats): jax.block_until_ready(compiled(params, pixels))
        seconds, cpu_seconds = (time.perf_counter() - start) / repeats, (time.process_time() - cpu) / repeats
    return {'model': model, 'batch': batch, 'mode': mode, 'remat': remat, 'seconds': seconds, 'cpu_seconds': cpu_seconds,
            'clips_per_s': None if seconds is None else batch / seconds, 'free_gb': free / 2 ** 30,
            'xla_peak_gb': None if xla_bytes is None else xla_bytes / 2 ** 30,
            'rss_peak_gb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20,
            'backend': jax.default_backend()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--models', default='B,L', help='comma-separated: B, L')
    p.add_argument('--batches', default=None, help='comma-separated batch sizes (default: 1 on a CPU, 8,32 on an accelerator)')
    p.add_argument('--frames', type=int, default=16)
    p.add_argument('--size', type=int, default=224)
    p.add_argument('--dtype', default='float32', choices=('float32', 'bfloat16'))
    p.add_argument('--repeats', type=int, default=1)
    p.add_argument('--one', help=argparse.SUPPRESS)  # internal: one configuration as JSON, run in a child process
    a = p.parse_args(argv)
    if a.one:
        print(json.dumps(one(**json.loads(a.one)))); return 0
    import jax
    accel = jax.default_backend() != 'cpu'
    batches = [int(b) for b in (a.batches or ('8,32' if accel else '1')).split(',')]
    print(f'backend {jax.default_backend()}, {os.cpu_count()} CPUs; {a.frames} frames, {a.size} px, {a.dtype}; '
          f'load average before: {os.getloadavg()}', flush=True)
    print(f"{'model':>5} {'batch':>5} {'pass':>16} {'remat':>5} {'s/call':>8} {'CPU s':>8} {'clips/s':>8} {'XLA peak GB':>11} {'RSS peak GB':>11}")
    rows = []
    for model in a.models.split(','):
        for batch in batches:
            for mode, remat in (('forward', False), ('forward+backward', False), ('forward+backward', True)):
                cfg = dict(model=model, batch=batch, mode=mode, remat=remat, frames=a.frames, size=a.size, dtype=a.dtype,
                           repeats=a.repeats)
                out = subprocess.run([sys.executable, __file__, '--one', json.dumps(cfg)], capture_output=True, text=True)
                if out.returncode:
                    print(f'{model:>5} {batch:>5} {mode:>16} {str(remat):>5} failed: {out.stderr.strip().splitlines()[-1]}', flush=True)
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1]); rows.append(r)
                xla = f"{r['xla_peak_gb']:.2f}" if r['xla_peak_gb'] is not None else 'n/a'
                if r['seconds'] is None:
                    print(f"{model:>5} {batch:>5} {mode:>16} {str(remat):>5} {'-':>8} {'-':>8} {'-':>8} {xla:>11} {'-':>11}   "
                          f"not run: needs about {xla} GB, {r['free_gb']:.1f} GB free", flush=True)
                    continue
                print(f"{model:>5} {batch:>5} {mode:>16} {str(remat):>5} {r['seconds']:>8.2f} {r['cpu_seconds']:>8.1f} {r['clips_per_s']:>8.3f} "
                      f"{xla:>11} {r['rss_peak_gb']:>11.2f}", flush=True)
    for model in a.models.split(','):
        for batch in batches:
            pair = [r for r in rows if r['model'] == model and r['batch'] == batch and r['mode'] != 'forward']
            if len(pair) == 2 and all(r['xla_peak_gb'] for r in pair):
                off, on = sorted(pair, key=lambda r: r['remat'])
                timed = all(r['seconds'] for r in pair)
                print(f'ViT-{model} batch {batch}: remat saves {1 - on["xla_peak_gb"] / off["xla_peak_gb"]:.0%} of XLA peak memory '
                      f'({off["xla_peak_gb"]:.2f} -> {on["xla_peak_gb"]:.2f} GB)' + (
                      f', RSS {off["rss_peak_gb"]:.2f} -> {on["rss_peak_gb"]:.2f} GB, forward+backward takes '
                      f'{on["seconds"] / off["seconds"]:.2f}x the time' if timed else ''))
    print(f'load average after: {os.getloadavg()}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
