"""Readout training is data-parallel over all local devices, with the same numbers on 1 or N devices.

Each case runs in a fresh process, since the number of (CPU) devices is fixed when JAX starts:
`XLA_FLAGS=--xla_force_host_platform_device_count=N` gives N devices. The same readouts are
trained with the same seed and batches on 1, 2 and 4 devices: the loss histories and the
final parameters agree (to float32 reduction-order rounding, which Adam amplifies
where a gradient is nearly zero), and on N devices every training
batch is really split into N slices."""
import json, os, subprocess, sys, textwrap
import numpy as np
import pytest

SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np, jax, optax
    from flax import nnx
    from scivid import trainer
    from scivid.readouts import AttentionReadout, LinearReadout
    from scivid.task import Task

    K = 3
    class Table:  # features that say the class (plus noise), one clip of 4 steps x 6 tokens x 8
        def __init__(self, n, seed): self.n, self.seed = n, seed
        def __len__(self): return self.n
        def example(self, i, view=0):
            rng = np.random.default_rng([self.seed, i])
            label = i % K
            f = rng.normal(size=(1, 4, 6, 8)).astype(np.float32); f[..., label] += 1
            return {'features': f, 'label': np.eye(K, dtype=np.float32)[label]}

    task = Task(name='toy', dataset='toy', eval_splits=('val',), train_split='train', make_example=None,
                readouts={'linear': lambda s, rngs: LinearReadout(s['features'], K, rngs=rngs),
                          'attention': lambda s, rngs: AttentionReadout(s['features'], K, 16, 4, 0.0, rngs=rngs)},
                loss=lambda out, b: optax.sigmoid_binary_cross_entropy(out, b['label']).mean(-1),
                predict=jax.nn.sigmoid, score=lambda p, b: {'p': np.asarray(p)}, reduce=lambda s: {'m': 0.0},
                controls={}, headline='m')
    split_sizes = []
    place = trainer.place
    def spy(tree, mesh, split):  # record how every training batch is laid out
        out = place(tree, mesh, split)
        if split: split_sizes.append(sorted({s.data.shape[0] for s in jax.tree.leaves(out)[0].addressable_shards}))
        return out
    trainer.place = spy
    result = {'devices': jax.device_count()}
    for name, make in task.readouts.items():
        model = make({'features': (4, 6, 8)}, nnx.Rngs(0))
        config = trainer.TrainConfig(examples=8 * 30, batch_size=8, lr=1e-2, eval_every=1000)
        history = trainer.fit(task, model, None, Table(40, 0), None, config, progress=False)
        result[name] = {'loss': [r['loss'] for r in history],
                        'params': [np.asarray(p).ravel().tolist() for p in jax.tree.leaves(nnx.state(model, nnx.Param))]}
    result['split'] = split_sizes[0]
    print(json.dumps(result))
''')


def train(devices: int, tmp_path) -> dict:
    env = dict(os.environ, XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}', JAX_PLATFORMS='cpu')
    out = subprocess.run([sys.executable, '-c', SCRIPT], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_same_training_on_one_two_and_four_devices(tmp_path):
    one, two, four = (train(n, tmp_path) for n in (1, 2, 4))
    assert (one['devices'], two['devices'], four['devices']) == (1, 2, 4)
    assert (one['split'], two['split'], four['split']) == ([8], [4], [2])  # each device gets its slice of 8
    for name in ('linear', 'attention'):
        loss = one[name]['loss']
        assert np.mean(loss[-5:]) < np.mean(loss[:5]) - 0.05, loss  # it learns: equal runs are not two idle ones
        for other in (two, four):
            np.testing.assert_allclose(other[name]['loss'], one[name]['loss'], rtol=1e-5, atol=1e-6)
            # Adam divides by the gradient's running RMS: where a gradient is ~0, reduction-order rounding moves
            # a parameter by a fraction of one step (lr 1e-2); measured up to 1.6e-3 after 30 steps
            for a, b in zip(other[name]['params'], one[name]['params']):
                np.testing.assert_allclose(a, b, rtol=1e-3, atol=3e-3)
