"""Studies on mini-SciVid, end to end: a few-shot sweep and a frame-order ablation run as a suite, land in the
results store with records that say what each run varied, and the paper notebook draws their tables from it.

Expected values come from elsewhere: the few-shot subset is counted from the records' label lists, the tables'
numbers are the runs' own metrics.json values, and the ablation is checked on the backbone's input frames.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import papermill as pm
import pytest

from scivid.suite import SuiteConfig, run_suite, read_store
from scivid.run import RunConfig, split_records, split_table, training_subset
from scivid.tasks import TASKS
from scivid.mini import mini_scivid_dir
from scivid.zoo import load_backbone

ROOT = Path(__file__).resolve().parents[1]
SMALL = dict(tasks=('flyvsfly',), readouts=('linear',), examples=32, batch_size=16, splits=('test',), draws=1)


@pytest.fixture(scope='module')
def study(tmp_path_factory):
    "One suite folder: a few-shot sweep (k = 4, 8), then a frame-order ablation (k = 4, frames shuffled) added to it."
    out = tmp_path_factory.mktemp('study')
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv('SCIVID_DATA_DIR', raising=False)
        sweep = run_suite(SuiteConfig(out=str(out), shots=(4, 8), **SMALL), progress=False)
        ablation = run_suite(SuiteConfig(out=str(out), shots=(4,), frame_orders=('shuffled',), **SMALL), progress=False)
    assert sweep.ok and ablation.ok, (sweep.failed, ablation.failed)
    return out, [*sweep.ran, *ablation.ran]


def test_study_runs_land_in_the_store_saying_what_they_varied(study):
    out, ran = study
    assert sorted(ran) == ['flyvsfly-resize-linear-s0-4shot-d0', 'flyvsfly-resize-linear-s0-4shot-d0-shuffled',
                           'flyvsfly-resize-linear-s0-8shot-d0']
    store = read_store(out)
    trained = store[store.readout == 'linear']
    assert sorted(set(zip(trained.shots, trained.frame_order))) == [(4, 'original'), (4, 'shuffled'), (8, 'original')]
    records = split_records(TASKS['flyvsfly'], mini_scivid_dir(), 'train', True)
    lists = [np.asarray(records[i]['labels']) for i in range(len(records))]
    single = np.bincount([int(l[0]) for l in lists if len(set(l.tolist())) == 1], minlength=7)
    for k in (4, 8):  # train_size: k clips of each class, or all of a class with fewer single-label clips
        assert set(trained[trained.shots == k].train_size) == {int(np.minimum(k, single).sum())}
    assert set(store[store.readout == 'control'].train_size) == {int(np.minimum(4, single).sum()),
                                                                 int(np.minimum(8, single).sum())}


def test_paper_draws_the_study_tables_from_the_store(study, tmp_path):
    out, _ = study
    pm.execute_notebook(str(ROOT / 'nbs' / 'paper.ipynb'), str(tmp_path / 'paper.ipynb'), cwd=str(ROOT / 'nbs'),
                        parameters=dict(results=str(out / 'results.parquet'), out_dir=str(tmp_path / 'paper')),
                        progress_bar=False, kernel_name='python3')
    mine = lambda run: next(r['value'] for r in json.loads((out / run / 'metrics.json').read_text())
                            if r['readout'] == 'linear' and r['metric'] == 'mAP' and r['split'] == 'test')
    few = pd.read_csv(tmp_path / 'paper' / 'few_shot.csv', index_col=[0, 1, 2])
    for k in (4, 8):  # one draw: the table shows the run's value to 3 decimals
        assert few.loc[('flyvsfly', 'resize', 'linear'), str(k)] == pytest.approx(
            mine(f'flyvsfly-resize-linear-s0-{k}shot-d0'), abs=5e-4)
    orders = pd.read_csv(tmp_path / 'paper' / 'frame_order.csv', index_col=[0, 1, 2, 3])
    row = orders.loc[('flyvsfly', 'resize', 'linear', '4 shots')]
    assert row['shuffled'] == pytest.approx(mine('flyvsfly-resize-linear-s0-4shot-d0-shuffled'))
    assert row['original'] == pytest.approx(mine('flyvsfly-resize-linear-s0-4shot-d0'))
    assert (tmp_path / 'paper' / 'figures' / 'few_shot_flyvsfly.png').stat().st_size > 1000


def test_the_backbone_sees_the_frames_in_the_ablations_order(tmp_path, monkeypatch):
    "The resize baseline keeps one feature step per frame, so reversing the frames reverses its features in time."
    monkeypatch.setenv('SCIVID_CACHE_DIR', str(tmp_path))
    task, backbone, root = TASKS['flyvsfly'], load_backbone('resize'), mini_scivid_dir()
    table = lambda order: split_table(task, backbone, root, 'test', False, RunConfig(frame_order=order, progress=False))
    plain, reverse = table('original').example(3), table('reversed').example(3)
    assert plain['features'].shape[1] == 16
    np.testing.assert_array_equal(reverse['features'], plain['features'][:, ::-1])
    np.testing.assert_array_equal(reverse['label'], plain['label'])


def test_the_factorised_readout_is_trained_only_when_named(tmp_path):
    "Selectable by name on a behaviour task (the toy in nbs/30_readouts.ipynb shows it learns frame order)."
    from scivid.run import run
    res = run(RunConfig(task='flyvsfly', out_dir=str(tmp_path / 'run'), examples=32, batch_size=16, readouts='factorised',
                        splits='test', progress=False))
    assert {r['readout'] for r in res.records} == {'factorised', 'control'}
    assert (tmp_path / 'run' / 'checkpoints' / 'factorised' / 'latest.json').exists()
    assert 'factorised' not in TASKS['flyvsfly'].readouts  # a run without --readouts trains the task's readouts only
