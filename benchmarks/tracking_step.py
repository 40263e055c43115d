"""Cost of one training step of the tracking (STIR) readout, as the trainer runs it.

    python benchmarks/tracking_step.py [--batch 8 --protocol --features 68]

Times the jitted step (forward, backward, AdamW update) of `TrackingReadout` on random
features of the mini-SciVid `flow` geometry (16 frames x 64 tokens x 68) with 64 query
points, once as scivid computes it (each point's 8 temporal tiles attend with their
query-key products computed apart: `CrossAttention(..., offsets)`) and once attending with
the 8 x 64 summed queries, with the same parameters; prints ms per step, XLA's FLOP count
and the largest output difference between the two. `--protocol` uses the protocol's
readout (1024 params, 8 heads) instead of the mini-SciVid stand-in (128, 4).
"""
import argparse, os, time
import numpy as np
import jax, jax.numpy as jnp, optax
from flax import nnx
from scivid.tracking import make_tracking_readout, make_mini_tracking_readout, tracking_loss, fourier_embed


def summed_queries(model, features, batch):
    "The readout's forward pass attending with every (point, tile) query summed up front."
    q = jnp.asarray(batch['query_xy'], jnp.float32)
    B, Q, _ = q.shape
    q = model.to_params(model.query_out(jax.nn.gelu(model.query_in(fourier_embed(q)))))
    q = (q[:, :, None] + model.tile_embedding[...]).reshape(B, Q * model.num_tiles, -1)
    out = model.head(model.attend(q, model.tokens(features['features']))).reshape(B, Q, -1, 4)
    return {'xy': jax.nn.sigmoid(out[..., :2]), 'visible': out[..., 2], 'certain': out[..., 3]}


def timed_step(model, forward, feats, batch, steps):
    "Median ms of the jitted step and its XLA FLOP count."
    graph, state = nnx.split((model, nnx.Optimizer(model, optax.adamw(1e-3), wrt=nnx.Param)))
    def step(state, feats, batch):
        m, opt = nnx.merge(graph, state)
        loss, grads = nnx.value_and_grad(lambda m: tracking_loss(forward(m, feats, batch), batch).mean())(m)
        opt.update(m, grads)
        return loss, nnx.state((m, opt))
    compiled = jax.jit(step).lower(state, feats, batch).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    jax.block_until_ready(compiled(state, feats, batch))
    times = []
    for _ in range(steps):
        t = time.perf_counter(); jax.block_until_ready(compiled(state, feats, batch)); times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times)), cost.get('flops', 0) / 1e9


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--features', type=int, default=68, help='token width D (flow: 68, resize: 48)')
    p.add_argument('--steps', type=int, default=10)
    p.add_argument('--protocol', action='store_true', help="the protocol's readout, not the mini stand-in")
    args = p.parse_args()
    T, N, D, B, Q = 16, 64, args.features, args.batch, 64
    r = np.random.default_rng(0)
    feats = {'features': jnp.asarray(r.normal(size=(B, T, N, D)), jnp.float32)}
    batch = {'query_xy': jnp.asarray(r.random((B, Q, 2)), jnp.float32),
             'target_xy': jnp.asarray(r.random((B, Q, T, 2)), jnp.float32),
             'target_visible': jnp.ones((B, Q, T), bool), 'query_mask': jnp.ones((B, Q), bool)}
    make = make_tracking_readout if args.protocol else make_mini_tracking_readout
    model = make({'features': (T, N, D), 'grid_features': (T, 8, 8, D)}, nnx.Rngs(0))
    diff = float(jnp.abs(model(feats, batch)['xy'] - summed_queries(model, feats, batch)['xy']).max())
    print(f"tracking readout ({'protocol' if args.protocol else 'mini stand-in'}), batch {B}, {Q} points, "
          f"features {T}x{N}x{D}; largest xy difference between the two: {diff:.1e}")
    for name, forward in (('tiles apart (scivid)', lambda m, f, b: m(f, b)), ('summed queries', summed_queries)):
        ms, gflop = timed_step(model, forward, feats, batch, args.steps)
        print(f'{name:22s} {ms:8.1f} ms/step  {gflop:6.2f} GFLOP/step  {gflop / ms * 1000:6.1f} GFLOP/s')
    print(f'load average: {" ".join(f"{x:.2f}" for x in os.getloadavg())}')


if __name__ == '__main__':
    main()
