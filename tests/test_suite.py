"""The suite, the paper notebook and the explore notebook on mini-SciVid, end to end.

One small suite (Fly-vs-Fly, the resize baseline, 32 training examples, the test split) is
run once for the module, with a failing backbone beside it (reported, the suite carries on; the exit
code of `scivid suite` on failures is tested in nbs/62_suite.ipynb). A second invocation from the
command line must skip the finished run and redo a run killed midway cleanly (checkpoints kept).
The paper and explore notebooks must execute on its results under papermill, without a display.
"""
import argparse
import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import papermill as pm
import pytest

from scivid.cli import add_suite_args
from scivid.suite import SuiteConfig, run_suite, read_store, suite_cmd, DONE, PARAMS

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
SMALL = dict(tasks=('flyvsfly',), examples=32, batch_size=16, splits=('test',))  # eval_every: the default, as on the command line
RUN = 'flyvsfly-resize-all-s0'


@pytest.fixture(scope='module')
def suite(tmp_path_factory):
    "A finished small suite (plus one failing run), made with SCIVID_DATA_DIR unset (mini-SciVid)."
    out = tmp_path_factory.mktemp('suite')
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv('SCIVID_DATA_DIR', raising=False)
        result = run_suite(SuiteConfig(backbones=('resize', 'no-such-backbone'), out=str(out), **SMALL), progress=False)
    return out, result


def test_suite_runs_and_reports_the_failing_run(suite):
    out, result = suite
    assert list(result.ran) == [RUN]
    assert list(result.failed) == ['flyvsfly-no-such-backbone-all-s0']
    assert 'no-such-backbone' in result.failed['flyvsfly-no-such-backbone-all-s0']
    folder = out / RUN
    for name in ('train.ipynb', 'metrics.json', 'config.json', DONE, PARAMS, 'checkpoints/attention/latest.json',
                 'checkpoints/blind/latest.json'):
        assert (folder / name).exists(), name
    assert not (out / 'flyvsfly-no-such-backbone-all-s0' / DONE).exists()


def test_store_merges_the_runs_metrics(suite):
    out, result = suite
    store = read_store(out / 'results.parquet')
    metrics = pd.DataFrame(json.loads((out / RUN / 'metrics.json').read_text()))
    assert len(store) == len(metrics) and set(store.data) == {'mini'} and set(store.run) == {RUN}
    assert set(store.readout) == {'attention', 'linear', 'blind', 'control'}
    mine = store.set_index(['readout', 'metric']).value
    theirs = metrics.set_index(['readout', 'metric']).value
    pd.testing.assert_series_equal(mine.sort_index(), theirs.sort_index(), check_names=False)


def test_killed_run_is_redone_cleanly(suite, tmp_path):
    "Kill a suite while its run trains, then run it again: partial outputs go, checkpoints stay."
    out, _ = suite
    folder = out / 'flyvsfly-resize-all-s1'
    code = (f'import sys; from scivid.suite import SuiteConfig, run_suite; '
            f'run_suite(SuiteConfig(seeds=(1,), out={str(out)!r}, **{SMALL!r}), progress=False)')
    env = {k: v for k, v in os.environ.items() if k != 'SCIVID_DATA_DIR'} | {'PYTHONPATH': str(ROOT)}
    proc = subprocess.Popen([sys.executable, '-c', code], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while not (folder / 'config.json').exists():  # written by the run itself, inside the notebook
            assert proc.poll() is None and time.time() < deadline, 'the suite ended before its run started'
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL); proc.wait()
        time.sleep(3)  # its kernel notices its parent is gone and exits within a second
    assert not (folder / DONE).exists()
    (folder / 'figures').mkdir(exist_ok=True); (folder / 'figures' / 'stale.png').write_text('from the killed run')
    (folder / 'checkpoints').mkdir(exist_ok=True); (folder / 'checkpoints' / 'kept').write_text('')
    parser = argparse.ArgumentParser(); add_suite_args(parser)  # the second invocation, from the command line
    args = parser.parse_args(['--backbones', 'resize', '--tasks', 'flyvsfly', '--seeds', '0,1',
                              '--examples', '32', '--batch-size', '16', '--splits', 'test', '--out', str(out)])
    before = (out / RUN / 'train.ipynb').stat().st_mtime
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(io.StringIO()) as printed:
        mp.delenv('SCIVID_DATA_DIR', raising=False)
        code = suite_cmd(args)
    lines = printed.getvalue().split('\n')
    assert code == 0 and lines[0] == '1 runs done, 1 already complete, 0 failed', printed.getvalue()
    assert (out / RUN / 'train.ipynb').stat().st_mtime == before  # the finished run was skipped, untouched
    assert (folder / DONE).exists() and (folder / 'checkpoints' / 'kept').exists()
    assert not (folder / 'figures' / 'stale.png').exists()
    assert set(read_store(out).run) == {RUN, 'flyvsfly-resize-all-s1'}


def _execute(name, out_nb, **params):
    return pm.execute_notebook(str(NBS / f'{name}.ipynb'), str(out_nb), parameters=params, progress_bar=False,
                               cwd=str(ROOT))


def test_paper_tables_come_from_the_store(suite, tmp_path):
    out, _ = suite
    _execute('paper', tmp_path / 'paper.ipynb', results=str(out / 'results.parquet'), out_dir=str(tmp_path / 'paper'))
    frozen = pd.read_csv(tmp_path / 'paper' / 'frozen.csv', index_col=[0, 1])
    store = read_store(out)
    stored = store.query("readout == 'attention' and metric == 'mAP' and split == 'test'").value  # one per seed
    assert len(stored) >= 1
    assert frozen.loc[('mini-SciVid', 'resize'), 'Fly-vs-Fly mAP'] == pytest.approx(stored.mean(), abs=1e-9)
    assert frozen.loc[('SciVid paper', 'resize'), 'Fly-vs-Fly mAP'] == pytest.approx(0.095)
    controls = pd.read_csv(tmp_path / 'paper' / 'controls.csv', index_col=[0, 1, 2])
    control = store.query("readout == 'control' and metric == 'mAP' and split == 'test'").value.mean()
    assert controls.loc[('mini-SciVid', 'flyvsfly', 'resize'), 'control'] == pytest.approx(control, abs=1e-9)
    for fig in ('task_bars', 'normalised'): assert (tmp_path / 'paper' / 'figures' / f'{fig}.png').stat().st_size > 1000
    # score versus cost (issue 18): the score beside the mean cost of the store's runs
    row = pd.read_csv(tmp_path / 'paper' / 'score_cost.csv', index_col=[0, 1, 2]).loc[('flyvsfly', 'mini', 'resize')]
    assert row.score == pytest.approx(stored.mean(), abs=1e-9) and row.runs == store.run.nunique()
    per_run = store.groupby('run')[['train_s', 'eval_s', 'host_peak_mb']].first()  # every record of a run: its cost
    for column in per_run: assert row[column] == pytest.approx(per_run[column].mean(), rel=1e-9) and row[column] > 0
    assert row.projected_hours > 0
    for fig in ('score_cost', 'projected_hours'): assert (tmp_path / 'paper' / 'figures' / f'{fig}.png').stat().st_size > 1000


def test_paper_without_a_store_shows_the_reference(tmp_path):
    nb = _execute('paper', tmp_path / 'paper.ipynb', results=str(tmp_path / 'none' / 'results.parquet'))
    text = json.dumps(nb['cells'])
    assert 'No results store yet' in text and 'scivid suite --backbones' in text
    frozen = pd.read_csv(tmp_path / 'none' / 'paper' / 'frozen.csv', index_col=[0, 1])
    assert set(frozen.index.get_level_values(0)) == {'SciVid paper'}
    assert frozen.loc[('SciVid paper', 'V-JEPA-H'), 'Typhoon RMSE'] == pytest.approx(4.16)


def test_explore_runs_headless_with_the_runs_predictions(suite, tmp_path):
    out, _ = suite
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv('DISPLAY', raising=False); mp.delenv('SCIVID_DATA_DIR', raising=False)
        mp.setenv('MPLBACKEND', 'Agg')
        nb = _execute('explore', tmp_path / 'explore.ipynb', run_dir=str(out / RUN), split='test', index=1)
    outputs = [o for c in nb['cells'] if c['cell_type'] == 'code' for o in c.get('outputs', [])]
    text = json.dumps(outputs)
    assert 'flyvsfly / test / example 1' in text and 'readouts: attention, blind, linear' in text
    assert sum('image/png' in o.get('data', {}) for o in outputs) >= 2  # the clip and the labels with predictions
    assert not any(o.get('output_type') == 'error' for o in outputs)


def test_suite_notebook_skips_the_finished_run(suite, tmp_path):
    out, _ = suite
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv('SCIVID_DATA_DIR', raising=False)
        nb = _execute('suite', tmp_path / 'suite.ipynb', backbones='resize', tasks='flyvsfly', examples=32,
                      batch_size=16, splits='test', out=str(out))
    text = json.dumps(nb['cells'])
    assert f'skipped **{RUN}** (already complete)' in text
