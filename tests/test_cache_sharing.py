"""Feature caches shared between processes: two runs needing the same cache at once both work (one
builds, the other waits and then reads), nobody reads a half-built cache, and a builder killed half
way leaves a cache the next caller finishes."""
import json, os, signal, subprocess, sys, threading, time
from pathlib import Path
import numpy as np
import pytest
from scivid.backbones import ResizeBackbone, embed
from scivid.feature_cache import feature_table

TESTS = Path(__file__).parent
KEY = {'task': 'toy', 'split': 'train'}


class SlowExamples:
    "Toy 2-clip examples (brightness = index); from example `slow_from` on, each takes `delay` s and touches `signal`."
    def __init__(self, n=8, delay=0.0, slow_from=0, signal=None):
        self.n, self.delay, self.slow_from, self.signal = n, delay, slow_from, signal
    def __len__(self): return self.n
    def example(self, i, view=0):
        if i >= self.slow_from and self.delay:
            if self.signal: Path(self.signal).touch()  # the builder is mid-build (examples < slow_from were loaded)
            time.sleep(self.delay)
        rng = np.random.default_rng([i, view])
        return {'video': np.full((2, 4, 32, 32, 3), i / self.n, np.float32) + rng.random((1, 4, 1, 1, 1), np.float32) * 0.1,
                'label': np.float32([i % 3])}


class Exploding(ResizeBackbone):
    def encode(self, inputs): raise AssertionError('backbone must not run')


class Counting(ResizeBackbone):
    calls = 0
    def encode(self, inputs): Counting.calls += len(inputs); return super().encode(inputs)


def start_builder(path, n, delay, slow_from, signal):
    "A separate process building the cache at `path` with slow examples (batch_size 1)."
    code = (f"import sys; sys.path.insert(0, {str(TESTS)!r})\n"
            "from test_cache_sharing import SlowExamples, KEY\n"
            "from scivid.backbones import ResizeBackbone\n"
            "from scivid.feature_cache import feature_table\n"
            f"feature_table(ResizeBackbone(), SlowExamples({n}, {delay}, {slow_from}, {str(signal)!r}), {str(path)!r}, KEY,"
            " batch_size=1, progress=False)\n")
    return subprocess.Popen([sys.executable, '-c', code], stderr=subprocess.PIPE, text=True,
                            env=os.environ | {'JAX_PLATFORMS': 'cpu'})


def wait_for(signal, proc, timeout=120):
    "Wait until `signal` exists (the builder is mid-build)."
    t0 = time.time()
    while not signal.exists():
        assert proc.poll() is None, f'builder died early: {proc.stderr.read()[-2000:]}'
        assert time.time() - t0 < timeout, 'builder never reached the slow examples'
        time.sleep(0.05)


def wait_done(path, k, proc, timeout=120):
    "Wait until the builder has marked `k` examples done (it loads examples ahead of what it has written)."
    from scivid.feature_cache import _open_arrays
    t0 = time.time()
    while True:
        try:
            if _open_arrays(path)['done'].read().result().any(0).sum() >= k: return
        except (FileNotFoundError, KeyError, ValueError): pass  # the store is not made yet
        assert proc.poll() is None, f'builder died early: {proc.stderr.read()[-2000:]}'
        assert time.time() - t0 < timeout, f'builder never marked {k} examples done'
        time.sleep(0.05)


def assert_features_equal(table, examples):
    "Every cached example equals the backbone run on the fly (the independent computation)."
    assert len(table) == len(examples)
    for i in range(len(examples)):
        direct = embed(ResizeBackbone(), examples.example(i)['video'])
        np.testing.assert_array_equal(table.example(i)['grid_features'], direct['grid_features'])
        np.testing.assert_array_equal(table.example(i)['label'], examples.example(i)['label'])


def test_second_process_waits_for_the_builder(tmp_path, capsys):
    "While another process builds the cache, a second caller waits, then reads it without running its backbone."
    path, sig = tmp_path / 'c.zarr', tmp_path / 'mid-build'
    builder = start_builder(path, n=8, delay=0.4, slow_from=2, signal=sig)
    try:
        wait_for(sig, builder)  # examples 0 and 1 are written; 2..7 take 0.4 s each
        table = feature_table(Exploding(), SlowExamples(8), path, KEY, batch_size=1, progress=True)
        assert builder.wait(timeout=120) == 0, builder.stderr.read()[-2000:]
    finally: builder.kill()
    assert f'waiting for {path} (another process is building it)' in capsys.readouterr().err
    assert_features_equal(table, SlowExamples(8))


def test_killed_builder_is_resumed(tmp_path):
    "A builder killed half way releases the lock; the next call computes only what is missing and equals a fresh build."
    path, sig = tmp_path / 'c.zarr', tmp_path / 'mid-build'
    builder = start_builder(path, n=8, delay=60, slow_from=3, signal=sig)
    try:
        wait_for(sig, builder)  # example 3 is loading (it sleeps) ...
        wait_done(path, 3, builder)  # ... and examples 0..2, loaded before it, are written and done
        os.kill(builder.pid, signal.SIGKILL)
        builder.wait(timeout=30)
    finally: builder.kill()
    Counting.calls, out = 0, []
    resume = threading.Thread(target=lambda: out.append(feature_table(Counting(), SlowExamples(8), path, KEY,
                                                                      batch_size=1, progress=False)), daemon=True)
    resume.start(); resume.join(timeout=120)
    assert not resume.is_alive(), 'the killed builder still blocks the cache'
    assert Counting.calls == 5 * 2  # examples 3..7, 2 clips each: the first 3 were kept
    fresh = feature_table(ResizeBackbone(), SlowExamples(8), tmp_path / 'fresh.zarr', KEY, progress=False)
    for i in range(8):
        for k in ('features', 'grid_features', 'label'):
            np.testing.assert_array_equal(out[0].example(i)[k], fresh.example(i)[k])
    assert_features_equal(out[0], SlowExamples(8))


def test_two_concurrent_train_runs_share_the_cache(tmp_path, mini_root):
    "Two `scivid train` runs started together on one cache folder both finish with identical metrics."
    env = os.environ | {'SCIVID_CACHE_DIR': str(tmp_path / 'cache'), 'JAX_PLATFORMS': 'cpu'}
    argv = ['scivid', 'train', '--task', 'flyvsfly', '--examples', '64', '--batch-size', '8', '--splits', 'val',
            '--readouts', 'linear', '--data-dir', str(mini_root)]
    runs = [subprocess.Popen(argv + ['--out', str(tmp_path / f'run{k}')], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for k in (0, 1)]
    errs = [p.communicate(timeout=600)[1] for p in runs]
    for p, err in zip(runs, errs): assert p.returncode == 0, err[-3000:]
    metrics = [json.loads((tmp_path / f'run{k}' / 'metrics.json').read_text()) for k in (0, 1)]
    values = [{(r['readout'], r['split'], r['metric']): r['value'] for r in m} for m in metrics]
    assert values[0] and values[0] == values[1]
    # whichever started second found the train cache being built (it waited) or built (it read): never both computing
    assert sum('flyvsfly train features' in err for err in errs) == 1, [e[-500:] for e in errs]
