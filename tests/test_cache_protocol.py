"""A cached training run draws what the protocol draws (issue: augmentation under the cache).

The same seed, the same steps: batches read from the feature cache must carry the same clips,
zooms, crops, blur, flips, windows and track samples as batches made on the fly. The features
compared are the backbone's own output, so any difference in what the backbone saw shows up.
Expected values come from the on-the-fly path (`cache=False`, which never touches the cache) and
from the records themselves, never from the cache."""
from dataclasses import replace
from itertools import islice
from pathlib import Path
import numpy as np
import pytest

from scivid.clips import VIDEO_KEYS
from scivid.datasets import open_split, write_split
from scivid.run import RunConfig, split_table
from scivid.tasks import get_task
from scivid.task import train_batches, visited_pairs
from scivid.trainer import batch_features
from scivid.zoo import load_backbone

SIZES = {'flyvsfly': 10, 'calms21': 10, 'typhoon': 10, 'movi': 12}  # training records of the tiny data folder
BATCH = 4


@pytest.fixture(scope='module')
def tiny_root(mini_root, tmp_path_factory):
    "A data folder with the first few training records of mini-SciVid (small enough to cache every view)."
    root = tmp_path_factory.mktemp('tiny')
    for dataset, n in SIZES.items():
        records = open_split(dataset, 'train', mini_root)
        write_split(dataset, 'train', [records[i] for i in range(n)], root, 1)
    return root


def tables(task_name, root, tmp_path, epochs, monkeypatch):
    "The cached and the on-the-fly training examples of one run configuration, and the backbone."
    monkeypatch.setenv('SCIVID_CACHE_DIR', str(tmp_path / 'cache'))
    task = get_task(task_name)
    n = len(split_table(task, None, root, task.train_split, True, RunConfig(task=task_name, cache=False)))
    config = RunConfig(task=task_name, data_dir=str(root), examples=epochs * n, batch_size=BATCH, progress=False,
                       cache_dtype='float32')  # stored exactly as computed, so any difference is a different draw
    backbone = load_backbone(config.backbone)
    cached = split_table(task, backbone, root, task.train_split, True, config)
    fresh = split_table(task, backbone, root, task.train_split, True, replace(config, cache=False))
    return task, backbone, cached, fresh, n


def assert_same_batches(backbone, cached, fresh, steps, seed=0):
    "Every key of `steps` training batches equal, features computed on the fly for `fresh`."
    for step, (a, b) in enumerate(islice(zip(train_batches(cached, BATCH, seed), train_batches(fresh, BATCH, seed)), steps)):
        feats_a, _ = batch_features(backbone, a)
        feats_b, _ = batch_features(backbone, b)
        np.testing.assert_allclose(feats_a['features'], feats_b['features'], atol=1e-6, err_msg=f'step {step}')
        keys = sorted(set(a) - {'features', 'grid_features'})
        assert keys == sorted(set(b) - set(VIDEO_KEYS)), (keys, sorted(b))
        for k in keys: np.testing.assert_array_equal(a[k], b[k], err_msg=f'{k} at step {step}')


@pytest.mark.parametrize('task_name', ['flyvsfly', 'calms21'])
def test_cached_views_are_the_protocol_draws(task_name, tiny_root, tmp_path, monkeypatch):
    "Behaviour: a 3-epoch budget caches 3 views (zoom, crop, blur, flip), and every epoch sees new ones."
    task, backbone, cached, fresh, n = tables(task_name, tiny_root, tmp_path, 3, monkeypatch)
    assert_same_batches(backbone, cached, fresh, steps=3 * n // BATCH)
    assert cached.table.views == 3
    # and the views differ: epoch 1 does not repeat epoch 0's augmentation of example 0
    assert not np.array_equal(cached.example(0, 0)['features'], cached.example(0, 1)['features'])


@pytest.mark.parametrize('task_name', ['typhoon', 'stir'])
def test_windowed_tasks_cache_every_window(task_name, tiny_root, tmp_path, monkeypatch):
    "Typhoon and MOVi: the cache has a slot for each of the 9 window starts, and draws as on the fly."
    task, backbone, cached, fresh, n = tables(task_name, tiny_root, tmp_path, 5, monkeypatch)
    assert_same_batches(backbone, cached, fresh, steps=5 * n // BATCH)
    assert cached.table.views == 9
    # the cache computed exactly the windows the run visits (lazily), each holding the window it names
    visits = {cached.examples.slot(0, v) for i, v in [(0, 0), *visited_pairs(5 * n, n, 0)] if i == 0}
    assert set(np.flatnonzero(cached.table.done[:, 0]).tolist()) == visits and len(visits) > 1
    record = fresh.records[0]
    for w in visits:  # slot w holds the window starting at frame w, read from the record by hand
        stored = cached.table.example(0, w)
        if task_name == 'typhoon':
            np.testing.assert_array_equal(stored['observed_pressure'], np.asarray(record['pressure'][w:w + 12], np.float32))
            np.testing.assert_array_equal(stored['pressure'], np.asarray(record['pressure'][w + 12:w + 24], np.float32))
        else:
            assert int(stored['start']) == w
            assert stored['tracks'].shape == (24, 2048, 2)  # every track stays available to the per-step draw


def test_track_draws_are_fresh_every_epoch(tiny_root, tmp_path, monkeypatch):
    "MOVi: two views that use the same cached window still draw different tracks."
    task, backbone, cached, fresh, n = tables('stir', tiny_root, tmp_path, 5, monkeypatch)
    slots = [cached.examples.slot(0, v) for v in range(40)]
    v0, v1 = [v for v in range(40) if slots[v] == slots[0]][:2]
    a, b = cached.example(0, v0), cached.example(0, v1)
    np.testing.assert_array_equal(a['features'], b['features'])
    assert not np.array_equal(a['query_xy'], b['query_xy'])
