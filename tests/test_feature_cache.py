"""Feature cache with the trainer's real pieces: scivid.task.Examples in, the trainer reading the
table; cached features equal on-the-fly ones, training from the cache gives the same metrics, and a
cache made by another backbone, preprocessing or key is refused."""
import json, shutil
import numpy as np
import optax
import pytest
from flax import nnx
from scivid.core import ScividError
from scivid.backbones import embed, ResizeBackbone
from scivid.feature_cache import FeatureTable, feature_table
from scivid.hf_backbones import load_hf_backbone, save_tiny_model
from scivid.readouts import LinearReadout
from scivid.task import Examples, Task
from scivid.trainer import TrainConfig, evaluate, fit, readout_predictor

K = 3  # classes


def toy_records(n=24, seed=0):
    "Videos whose colour channel carries the label, plus noise."
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        label = i % K
        video = rng.integers(0, 100, (6, 32, 32, 3)).astype(np.uint8)
        video[..., label] += 120
        out.append({'video': video, 'label': label})
    return out


def make_example(record, training, rng):
    return {'video': (record['video'].astype(np.float32) / 255)[None], 'label': np.eye(K, dtype=np.float32)[record['label']]}


def toy_task():
    return Task(
        name='toy', dataset='toy', eval_splits=('val',), train_split='train', make_example=make_example,
        readouts={'linear': lambda shapes, rngs: LinearReadout(shapes['features'], K, rngs=rngs)},
        loss=lambda out, batch: optax.sigmoid_binary_cross_entropy(out, batch['label']).mean(-1),
        predict=nnx.sigmoid,
        score=lambda p, b: {'correct': p.argmax(-1) == b['label'].argmax(-1), 'brier': ((p - b['label']) ** 2).sum(-1)},
        reduce=lambda s: {'acc': float(np.mean(s['correct'])), 'brier': float(np.mean(s['brier']))},
        controls={}, headline='acc')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return save_tiny_model('videomae', tmp_path_factory.mktemp('models') / 'videomae')


def test_cached_features_equal_on_the_fly(tmp_path, tiny):
    backbone = load_hf_backbone(tiny, offline=True)
    examples = Examples(toy_records(10), make_example, training=False, seed=0)
    table = feature_table(backbone, examples, tmp_path / 'c.zarr', {'task': 'toy', 'split': 'val'}, batch_size=4,
                          progress=False)
    assert len(table) == 10
    for i in (0, 7):
        item, direct = table.example(i), embed(backbone, examples.example(i)['video'])
        assert 'video' not in item and item['features'].shape == (1, 6, 16, 32)
        np.testing.assert_allclose(item['features'], direct['features'], atol=1e-5)
        np.testing.assert_allclose(item['grid_features'], direct['grid_features'], atol=1e-5)
        np.testing.assert_array_equal(item['label'], examples.example(i)['label'])
    half = feature_table(backbone, examples, tmp_path / 'h.zarr', {'task': 'toy'}, dtype='float16', progress=False)
    np.testing.assert_allclose(half.example(3)['features'], table.example(3)['features'], atol=2e-2, rtol=2e-3)


def test_training_from_cache_matches_on_the_fly(tmp_path, tiny):
    task, backbone = toy_task(), load_hf_backbone(tiny, offline=True)
    train = Examples(toy_records(24, seed=1), make_example, training=True, seed=0)
    val = Examples(toy_records(12, seed=2), make_example, training=False, seed=0)
    config = TrainConfig(examples=8 * 12, batch_size=8, seed=0, lr=0.05, eval_every=6, minival_examples=12)
    results = {}
    for mode in ('fly', 'cache'):
        tr, va = (train, val) if mode == 'fly' else (
            feature_table(backbone, train, tmp_path / 'tr.zarr', {'split': 'train'}, progress=False),
            feature_table(backbone, val, tmp_path / 'va.zarr', {'split': 'val'}, progress=False))
        model = task.readouts['linear']({'features': (6, 16, 32)}, nnx.Rngs(0))
        history = fit(task, model, backbone, tr, va, config, progress=False)
        metrics, _ = evaluate(task, {'linear': readout_predictor(task, model)}, backbone, va, batch_size=5)
        results[mode] = history, metrics['linear']
    (h_fly, m_fly), (h_cache, m_cache) = results['fly'], results['cache']
    np.testing.assert_allclose([r['loss'] for r in h_cache], [r['loss'] for r in h_fly], rtol=1e-4, atol=1e-6)
    assert h_fly[-1]['loss'] < h_fly[0]['loss']  # it did learn something
    assert m_cache['acc'] == m_fly['acc']
    np.testing.assert_allclose(m_cache['brier'], m_fly['brier'], rtol=1e-4)
    assert h_cache[5]['minival/acc'] == h_fly[5]['minival/acc']


def test_stale_cache_is_refused(tmp_path, tiny):
    examples = Examples(toy_records(4), make_example, training=False, seed=0)
    key = {'task': 'toy', 'split': 'val'}
    feature_table(load_hf_backbone(tiny, offline=True), examples, tmp_path / 'c.zarr', key, progress=False)
    other_weights = load_hf_backbone(save_tiny_model('videomae', tmp_path / 'other', seed=1), name=str(tiny), offline=True)
    with pytest.raises(ScividError, match='built for something else.*backbone.weights'):
        feature_table(other_weights, examples, tmp_path / 'c.zarr', key, progress=False)
    restyled = tmp_path / 'restyled'  # same weights, another preprocessing (processor JSON: mean/std 0.5)
    shutil.copytree(tiny, restyled)
    proc = json.loads((restyled / 'preprocessor_config.json').read_text())
    (restyled / 'preprocessor_config.json').write_text(json.dumps(proc | {'image_mean': [.5] * 3, 'image_std': [.5] * 3}))
    other_prep = load_hf_backbone(restyled, name=str(tiny), offline=True)
    with pytest.raises(ScividError, match=r'backbone.mean: cached \[0.485, 0.456, 0.406\], now \[0.5, 0.5, 0.5\]'):
        feature_table(other_prep, examples, tmp_path / 'c.zarr', key, progress=False)
    with pytest.raises(ScividError, match='built for something else.*backbone.'):
        feature_table(ResizeBackbone(), examples, tmp_path / 'c.zarr', key, progress=False)
    with pytest.raises(ScividError, match="key.split: cached 'val', now 'test'"):
        feature_table(load_hf_backbone(tiny, offline=True), examples, tmp_path / 'c.zarr', key | {'split': 'test'},
                      progress=False)
    with pytest.raises(ScividError, match='views: cached 1, now 2'):
        feature_table(load_hf_backbone(tiny, offline=True), examples, tmp_path / 'c.zarr', key, views=2, progress=False)
    rebuilt = feature_table(other_prep, examples, tmp_path / 'c.zarr', key, rebuild=True, progress=False)
    assert rebuilt.identity['backbone']['mean'] == [0.5] * 3


def test_views_and_resume(tmp_path):
    class Augmented(Examples):
        fail_after = None
        def example(self, i, view=0):
            if self.fail_after is not None and i >= self.fail_after: raise RuntimeError('interrupted')
            ex = super().example(i, view)
            return ex | {'video': ex['video'] * np.random.default_rng([i, view]).uniform(0.5, 1)}

    examples = Augmented(toy_records(6), make_example, training=True, seed=0)
    examples.fail_after = 4
    with pytest.raises(RuntimeError):
        feature_table(ResizeBackbone(), examples, tmp_path / 'v.zarr', {'split': 'train'}, views=2, batch_size=2,
                      progress=False)
    with pytest.raises(ScividError, match='incomplete'):
        FeatureTable(tmp_path / 'v.zarr')
    examples.fail_after = None
    table = feature_table(ResizeBackbone(), examples, tmp_path / 'v.zarr', {'split': 'train'}, views=2, progress=False)
    for v in (0, 1, 2, 3):  # the trainer's view is its epoch: wraps around the 2 cached views
        np.testing.assert_allclose(table.example(5, v)['features'],
                                   embed(ResizeBackbone(), examples.example(5, v % 2)['video'])['features'], atol=1e-6)
    assert not np.allclose(table.example(5, 0)['features'], table.example(5, 1)['features'])
