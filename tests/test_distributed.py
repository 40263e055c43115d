"""A run as 2 `jax.distributed` processes (localhost coordinator, CPU) gives the 1-process run's results (issue 16).

The same small run (Fly-vs-Fly, resize backbone, the linear readout, 16 training examples at batch 8, the test
split) is made by one process and by two, each with a fresh feature cache. With two, each process extracts its
share of every cache (`feature_table_part`), each training batch is split over the two processes' devices, the
predictions are gathered so that metrics see every example once, and only process 0 writes the run folder.
The feature caches must be identical, and the records equal up to float32 rounding: two devices add their halves
of each gradient before the all-reduce, one device adds all rows in one order (1e-5 relative is far above that
rounding after two Adam steps and far below any real difference, e.g. a batch row lost or counted twice).
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scivid.cost import COST_DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = '''
import json, os, sys
import jax
index, count, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
if count > 1: jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=count, process_id=index)
from scivid.run import run, RunConfig
r = run(RunConfig(task="flyvsfly", readouts=("linear",), examples=16, batch_size=8, splits=("test",), eval_every=1000,
                  out_dir=out, progress=False))  # minival once, at the end
print(json.dumps({"process": jax.process_index(), "devices": jax.device_count(), "pid": os.getpid(), "records": len(r.records)}))
'''


def _free_port():
    with socket.socket() as s:
        s.bind(('localhost', 0)); return s.getsockname()[1]


def _start(count, out, cache, port, mini):
    env = os.environ | {'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]),
                        'JAX_PLATFORMS': 'cpu', 'SCIVID_CACHE_DIR': str(cache), 'SCIVID_DATA_DIR': str(mini)}
    env.pop('XLA_FLAGS', None)  # one device per process
    return [subprocess.Popen([sys.executable, '-c', SCRIPT, str(p), str(count), str(port), str(out)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in range(count)]


def _reports(procs):
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs): assert p.returncode == 0, err[-3000:]
    return sorted((json.loads(out.strip().splitlines()[-1]) for out, _ in outs), key=lambda r: r['process'])


def _caches(cache):
    from scivid.feature_cache import FeatureTable
    return {p.name: FeatureTable(p, complete=False) for p in sorted((cache / 'features').glob('*.zarr'))}


def test_two_processes_make_the_one_process_run(tmp_path, mini_root):
    one = _start(1, tmp_path / 'run1', tmp_path / 'cache1', 0, mini_root)  # all three processes at once
    two = _start(2, tmp_path / 'run2', tmp_path / 'cache2', _free_port(), mini_root)
    r1, r2 = _reports(one), _reports(two)
    assert [r['devices'] for r in r1 + r2] == [1, 2, 2] and r2[0]['records'] == r2[1]['records'] == r1[0]['records']
    assert (tmp_path / 'run2' / '.lock').read_text().strip() == str(r2[0]['pid'])  # process 0 held the run folder
    m1, m2 = (pd.DataFrame(json.loads((tmp_path / f'run{k}' / 'metrics.json').read_text())) for k in (1, 2))
    key = ['readout', 'split', 'metric']
    m1, m2 = m1.sort_values(key).reset_index(drop=True), m2.sort_values(key).reset_index(drop=True)
    assert len(m1) > 5 and 'linear' in set(m1.readout)
    same = [c for c in m1 if c != 'value' and c not in COST_DEFAULTS]  # cost: what each execution took
    pd.testing.assert_frame_equal(m1[same], m2[same])
    assert (m1.extract_s > 0).all() and (m2.extract_s > 0).all()  # both measured their extraction
    np.testing.assert_allclose(m2.value, m1.value, rtol=1e-5, atol=1e-7)
    c1, c2 = _caches(tmp_path / 'cache1'), _caches(tmp_path / 'cache2')
    assert sorted(c1) == sorted(c2) and len(c1) == 3  # train, val, test
    for name, a in c1.items():
        b = c2[name]
        np.testing.assert_array_equal(a.done, b.done, err_msg=name)
        for v, i in zip(*np.nonzero(a.done)):
            x, y = a.example(int(i), int(v)), b.example(int(i), int(v))
            assert sorted(x) == sorted(y)
            for k in x: np.testing.assert_array_equal(x[k], y[k], err_msg=f'{name} example {i} view {v} {k}')
