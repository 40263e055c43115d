"""Mini-SciVid: deterministic by seed, every split and class present in the designed numbers,
one generation when several processes ask at once, clear errors for missing data dirs."""
import filecmp, json, os, subprocess, sys, textwrap
import av
from pathlib import Path
import numpy as np
import pytest
from scivid.core import ScividError
from scivid.datasets import open_split
from scivid.mini import MANIFEST, MINI_VERSION, mini_scivid_dir, resolve_data_dir
from scivid.synth_behaviour import (BEHAVIOUR_DATASETS, MIN_PER_CLASS, MINI_SPLIT_SIZES,
                                    split_class_counts, write_mini_behaviour)
from scivid.synth_typhoon import TYPHOON_SPLIT_SIZES, write_mini_typhoon


def _files(root):
    return sorted(p.relative_to(root) for p in Path(root).rglob('*') if p.is_file())

def _write_small(root, seed):
    write_mini_behaviour('flyvsfly', root, seed, limit=4)  # no empty shard
    write_mini_typhoon(root, seed, sizes={'train': 2, 'val': 1, 'test': 1}, per_shard=1)

def test_same_seed_same_bytes(tmp_path):
    a, b, c = tmp_path / 'a', tmp_path / 'b', tmp_path / 'c'
    _write_small(a, 0); _write_small(b, 0); _write_small(c, 1)
    assert _files(a) == _files(b) == _files(c) and len(_files(a)) > 0
    assert all(filecmp.cmp(a / f, b / f, shallow=False) for f in _files(a))
    assert not any(filecmp.cmp(a / f, c / f, shallow=False) for f in _files(a))  # another seed: other data


@pytest.mark.parametrize('dataset', list(BEHAVIOUR_DATASETS))
def test_behaviour_records_speak_the_release(mini_root, dataset):
    """Records as the release stores them: 16 to 24 frames, `clip/label/index` = the clip's label list
    (one class for most records; a few [class, background] whose bout ends inside the clip), with the
    planned class counts and every class in every split."""
    classes, label_counts, _ = BEHAVIOUR_DATASETS[dataset]
    background = len(classes) - 1
    for split, n in MINI_SPLIT_SIZES.items():
        ds = open_split(dataset, split, mini_root)
        records = [ds[i] for i in range(n)]  # frames stay encoded
        lengths = {len(r['frames']) for r in records}
        assert min(lengths) >= 16 and max(lengths) <= 24 and len(lengths) > 3, lengths
        labels = [r['labels'].tolist() for r in records]
        assert all(len(l) in (1, 2) for l in labels)
        two = [l for l in labels if len(l) == 2]
        assert 1 <= len(two) <= 0.1 * n and all(l[0] != background and l[1] == background for l in two), two
        counts = np.bincount([l[0] for l in labels], minlength=len(classes))
        assert counts.tolist() == split_class_counts(n, label_counts, MIN_PER_CLASS[split]).tolist()
        assert counts.min() >= MIN_PER_CLASS[split]  # every class in every split


def test_other_datasets_present(mini_root):
    sizes = {**TYPHOON_SPLIT_SIZES, 'train_val': TYPHOON_SPLIT_SIZES['train'] + TYPHOON_SPLIT_SIZES['val']}
    assert {s: len(open_split('typhoon', s, mini_root)) for s in sizes} == sizes
    assert all(len(open_split('stir', s, mini_root)) > 0 for s in ('valid', 'full', 'test'))
    assert len(open_split('movi', 'train', mini_root)) > 0
    assert len(open_split('weatherbench', 'online_dev', mini_root)) > 0
    man = json.loads((mini_root / MANIFEST).read_text())
    assert man['version'] == MINI_VERSION and len(man['datasets']) == 7  # six datasets and the whole videos
    for dataset in BEHAVIOUR_DATASETS:  # whole videos for ethograms, each with one label row per frame
        for i in range(2):
            video = mini_root / 'videos' / dataset / f'video_{i}.mp4'
            with av.open(str(video)) as f: frames = sum(1 for _ in f.decode(video=0))
            labels = (video.parent / f'video_{i}_labels.csv').read_text().splitlines()
            assert labels[0] == 'frame,label' and len(labels) == frames + 1 and frames >= 120
    assert man['bytes'] < 220e6, f"mini-SciVid grew to {man['bytes'] / 1e6:.0f} MB"


def test_resolve_data_dir(tmp_path, monkeypatch):
    assert resolve_data_dir(tmp_path) == tmp_path
    with pytest.raises(ScividError, match='does not exist'): resolve_data_dir(tmp_path / 'missing')
    monkeypatch.setenv('SCIVID_DATA_DIR', str(tmp_path))
    assert resolve_data_dir() == tmp_path
    monkeypatch.setenv('SCIVID_DATA_DIR', str(tmp_path / 'gone'))
    with pytest.raises(ScividError, match='SCIVID_DATA_DIR'): resolve_data_dir()


# A child process that replaces the writers by one slow stub, then asks for the cached copy.
CHILD = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import scivid.mini as m
    def stub(root, seed):
        (Path(root) / 'full' / 'stub').mkdir(parents=True)
        with open(os.environ['STUB_LOG'], 'a') as f: f.write(f'{os.getpid()}\\n')
        time.sleep(1.5)
    m.MINI_WRITERS.clear(); m.MINI_WRITERS['stub'] = stub
    print(m.mini_scivid_dir(seed=7))
""")

def test_cached_copy_generated_once(tmp_path):
    env = {**os.environ, 'SCIVID_CACHE_DIR': str(tmp_path / 'cache'), 'STUB_LOG': str(tmp_path / 'log')}
    procs = [subprocess.Popen([sys.executable, '-c', CHILD], env=env, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    want = tmp_path / 'cache' / f'mini-scivid-v{MINI_VERSION}-seed7'
    assert outs == [str(want)] * 3 and (want / 'full' / 'stub').is_dir()
    assert len((tmp_path / 'log').read_text().split()) == 1  # generated by one process only


def test_incomplete_cached_copy(tmp_path, monkeypatch):
    monkeypatch.setenv('SCIVID_CACHE_DIR', str(tmp_path))
    (tmp_path / f'mini-scivid-v{MINI_VERSION}-seed3' / 'full').mkdir(parents=True)
    with pytest.raises(ScividError, match='incomplete'): mini_scivid_dir(3)
