"""Peak memory and step time of the WeatherBench 2 DPT readout's training step.

Builds the residual DPT readout (scivid.weather.ResidualDPT) at SciVid's size (reassemble
4 x 1024, head 512), feeds it grid features like a ViT-L backbone's (14 x 14 tokens of width
1024) and trains it for a few steps at the real output size (181 x 360 x 16 lead steps x 3
variables, batch 16) with the task's loss and optimizer (AdamW + update clip), jitted with
gradients. Prints XLA's compiled memory analysis, the process's peak resident memory and
the step times.

    python benchmarks/dpt_memory.py                      # the protocol size
    python benchmarks/dpt_memory.py --batch 2 --steps 2  # quick look
    python benchmarks/dpt_memory.py --analyse-only       # compile and print the memory plan, no step

Measured (jax 0.10.2, 2 shared CPU cores, protocol size, batch 16): 93.5 M parameters; XLA plan
7.70 GiB (arguments 1.43, outputs 1.05, temporaries 5.22); process peak RSS 11.0 GiB; 8.43 TFLOP
and ~890 s CPU per step (compile ~3 min). The batch is what matters for memory: batch 2 plans
2.69 GiB.
"""
from __future__ import annotations
import argparse, resource, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
import numpy as np, jax, jax.numpy as jnp
from flax import nnx
from scivid.weather import ResidualDPT, WEATHERBENCH, WEATHER_DPT
from scivid.weather_data import WEATHER_MEANS, WEATHER_STDS, WEATHER_TARGET_FRAMES
from scivid.trainer import make_optimizer, make_train_step


def gib(n: float) -> str: return f'{n / 2**30:.2f} GiB'


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--lat', type=int, default=181)
    p.add_argument('--lon', type=int, default=360)
    p.add_argument('--grid', type=int, default=14, help='token grid side (h = w)')
    p.add_argument('--width', type=int, default=1024, help='token width D')
    p.add_argument('--frames', type=int, default=16, help='frames of grid features given (the DPT reads the last)')
    p.add_argument('--feature-dim', type=int, default=WEATHER_DPT['feature_dims'][0], help='reassemble width (x4)')
    p.add_argument('--head-dim', type=int, default=WEATHER_DPT['head_dim'])
    p.add_argument('--steps', type=int, default=3, help='timed steps after the first (compiling) one')
    p.add_argument('--analyse-only', action='store_true', help='print the compiled memory plan, do not run')
    a = p.parse_args(argv)

    task = WEATHERBENCH  # its loss and optimizer (the model below is built at the requested size)
    shape = (a.frames, a.grid, a.grid, a.width)
    model = ResidualDPT(shape, (a.feature_dim,) * 4, a.head_dim, rngs=nnx.Rngs(0))
    params = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    optimizer = nnx.Optimizer(model, make_optimizer(task, steps=1000), wrt=nnx.Param)
    rng = np.random.default_rng(0)
    feats = {'grid_features': jnp.asarray(rng.normal(size=(a.batch, *shape)), jnp.float32)}
    field = lambda *s: jnp.asarray(WEATHER_MEANS + WEATHER_STDS * rng.normal(size=(*s, a.lat, a.lon, 3)), jnp.float32)
    inputs = {'last_frame': field(a.batch), 'targets': field(a.batch, WEATHER_TARGET_FRAMES),
              'mask': jnp.ones(a.batch, bool)}
    print(f'DPT readout: {params / 1e6:.1f} M parameters; features [{a.batch}, {", ".join(map(str, shape))}] -> '
          f'output [{a.batch}, {WEATHER_TARGET_FRAMES}, {a.lat}, {a.lon}, 3]; jax {jax.__version__} on {jax.devices()[0].platform}')

    train_step = make_train_step(task)  # the trainer's own jitted step: loss, grads, optimizer update
    graph, state = nnx.split((model, optimizer))

    @jax.jit
    def pure_step(state, feats, inputs):  # the same computation as a pure function, for XLA's memory plan
        m, o = nnx.merge(graph, state)
        loss, grads = nnx.value_and_grad(lambda m: task.loss(m(feats, inputs), inputs).mean())(m)
        o.update(m, grads)
        return loss, nnx.state((m, o))

    t = time.perf_counter()
    compiled = pure_step.lower(state, feats, inputs).compile()
    print(f'compile: {time.perf_counter() - t:.1f} s')
    mem = compiled.memory_analysis()
    if mem is not None:
        print(f'XLA memory plan: arguments {gib(mem.argument_size_in_bytes)}, outputs {gib(mem.output_size_in_bytes)}, '
              f'temporaries {gib(mem.temp_size_in_bytes)}, generated code {gib(mem.generated_code_size_in_bytes)}')
        print(f'XLA peak (arguments + outputs + temporaries): '
              f'{gib(mem.argument_size_in_bytes + mem.output_size_in_bytes + mem.temp_size_in_bytes)}')
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    if cost and 'flops' in cost:
        print(f'XLA cost analysis: {cost["flops"] / 1e12:.2f} TFLOP per training step')
    if a.analyse_only: return

    times, cpu = [], []
    for i in range(a.steps + 1):
        t, c = time.perf_counter(), time.process_time()
        loss = float(train_step(model, optimizer, feats, inputs))
        times.append(time.perf_counter() - t); cpu.append(time.process_time() - c)
        print(f'step {i}: {times[-1]:.2f} s wall, {cpu[-1]:.2f} s CPU, loss {loss:.4f}'
              + (' (includes compilation)' if i == 0 else ''))
    if a.steps:
        print(f'step time (mean of {a.steps} after the first): {np.mean(times[1:]):.2f} s wall, '
              f'{np.mean(cpu[1:]):.2f} s CPU on {jax.device_count()} device(s), {len(__import__("os").sched_getaffinity(0))} cores')
    print(f'process peak resident memory: {gib(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)}')


if __name__ == '__main__':
    main()
