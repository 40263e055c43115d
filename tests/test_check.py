"""`python -m scivid.check --json` on a small data dir, before and after damaging a shard."""
import json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pytest

from scivid.datasets import DATASETS, TYPHOON_FLOATS, TYPHOON_INTS, split_prefix, write_split
from scivid.records import shard_path

try:
    import scivid.weather_data as weather_data
except ImportError:
    weather_data = None

SIZES = {'flyvsfly': 5, 'calms21': 4, 'typhoon': 3, 'stir': 2, 'movi': 3}  # records per split
SHARDS = {'flyvsfly': 3, 'calms21': 2, 'typhoon': 1, 'stir': 2, 'movi': 2}


def examples(dataset, n, rng):
    if dataset in ('flyvsfly', 'calms21'):
        return [{'frames': rng.integers(0, 255, (3, 20, 24), dtype=np.uint8), 'labels': rng.integers(0, 7, 3)}
                for _ in range(n)]
    if dataset == 'typhoon':
        return [{'key': str(k), 'infrared': rng.uniform(170, 300, (3, 8, 8)).astype(np.float32),
                 **{f: rng.random(3).astype(np.float32) for f in TYPHOON_FLOATS},
                 **{f: rng.integers(0, 9, 3) for f in TYPHOON_INTS}} for k in range(n)]
    if dataset == 'stir':
        return [{'frames': rng.integers(0, 255, (2, 16, 20, 3), dtype=np.uint8), 'start_xy': rng.random((2, 2)),
                 'end_xy': rng.random((1, 2)), 'vid_idx': k, 'duration': 2.0} for k in range(n)]
    return [{'frames': rng.integers(0, 255, (2, 16, 16, 3), dtype=np.uint8), 'tracks': rng.random((2, 2048, 2)),
             'visible': rng.random((2, 2048)) > 0.5} for _ in range(n)]


def write_weather(root):
    "A tiny store holding the frames of the first window of every split."
    import xarray as xr
    times = np.unique(np.concatenate([weather_data.window_start_times(s)[0] + np.arange(32) * np.timedelta64(12, 'h')
                                      for s in weather_data.WEATHER_SPLITS])).astype('datetime64[ns]')
    ds = xr.Dataset({v: (('time', 'latitude', 'longitude'), np.ones((len(times), 3, 4), np.float32))
                     for v in weather_data.WEATHER_VARIABLES},
                    coords={'time': times, 'latitude': np.linspace(-90, 90, 3), 'longitude': np.arange(0, 360, 90.)})
    weather_data.write_weatherbench(root, ds)


def run_check(root):
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(repo), os.environ.get('PYTHONPATH', '')])}
    r = subprocess.run([sys.executable, '-m', 'scivid.check', '--data-dir', str(root), '--json'],
                       capture_output=True, text=True, timeout=300, cwd=repo, env=env)
    assert r.returncode in (0, 1), (r.returncode, r.stderr[-2000:])  # a normal exit, not a crash
    return r.returncode, {(row['dataset'], row['split']): row for row in json.loads(r.stdout)}


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    rng = np.random.default_rng(0)
    for dataset, layout in DATASETS.items():
        for split in layout.splits:
            write_split(dataset, split, examples(dataset, SIZES[dataset], rng), root, SHARDS[dataset])
    if weather_data is not None: write_weather(root)
    return root


def test_check_reports_every_split(data_dir):
    code, rows = run_check(data_dir)
    want = {(d, s) for d, lay in DATASETS.items() for s in lay.splits}
    assert want <= set(rows)
    for d, s in want:
        row = rows[d, s]
        assert row['ok'] and row['problems'] == [], row
        assert row['records'] == SIZES[d] and row['shards'] == row['expected_shards'] == SHARDS[d]
        assert row['release_shards'] == DATASETS[d].release_shards
        assert row['path'] == f'{split_prefix(d, s, data_dir)}.array_record-NNNNN-of-NNNNN'
    if weather_data is not None:
        weather = {s: rows['weatherbench', s] for s in weather_data.WEATHER_SPLITS}
        assert all(r['ok'] and r['records'] >= 1 for r in weather.values()), weather
        assert code == 0
    else:
        pytest.skip('scivid.weather_data not available: weatherbench part skipped')


def test_check_names_a_truncated_shard(data_dir):
    bad = shard_path(split_prefix('calms21', 'val', data_dir), 1, 2)
    good = bad.read_bytes()
    try:
        bad.write_bytes(good[:len(good) // 3])
        code, rows = run_check(data_dir)
    finally:
        bad.write_bytes(good)
    assert code == 1
    row = rows['calms21', 'val']
    assert row['ok'] is False
    assert any(str(bad) in p for p in row['problems']), row['problems']
    others = [r for k, r in rows.items() if k != ('calms21', 'val') and k[0] != 'weatherbench']
    assert all(r['ok'] for r in others)


def test_check_reports_missing_dataset_folder(tmp_path):
    write_split('movi', 'train', examples('movi', 2, np.random.default_rng(1)), tmp_path, 1)
    code, rows = run_check(tmp_path)
    assert code == 1 and rows['movi', 'train']['ok'] and rows['movi', 'train']['records'] == 2
    fly = rows['flyvsfly', 'train']
    assert not fly['ok'] and fly['problems'][0].startswith(f"missing folder {tmp_path / 'full' / 'fly_vs_fly'}")


def test_json_even_without_a_data_dir(tmp_path):
    "`--json` always prints JSON: a missing data dir is one row naming it (exit 2), not a bare stderr line."
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join([str(repo), os.environ.get('PYTHONPATH', '')])}
    r = subprocess.run([sys.executable, '-m', 'scivid.check', '--data-dir', str(tmp_path / 'nowhere'), '--json', '--deep'],
                       capture_output=True, text=True, timeout=300, cwd=repo, env=env)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    rows = json.loads(r.stdout)
    assert len(rows) == 1 and rows[0]['ok'] is False and str(tmp_path / 'nowhere') in rows[0]['problems'][0], rows
