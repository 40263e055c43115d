"""Feature extraction by 2 `jax.distributed` processes (localhost coordinator, CPU) gives the 1-process cache (issue 16).

Two processes each compute their share of the feature cache of mini-SciVid's Fly-vs-Fly val split (resize backbone)
(its first 24 examples) with `feature_table_part`, writing into one cache concurrently; the cache must equal, example by example, the one
`feature_table` builds in a single process, and each process must have computed only its own examples (each once).
"""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FIRST = 24  # the split's first examples (a test of the mechanics, kept short)
SCRIPT = '''
import json, sys
import jax
index, count, port, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=count, process_id=index)
from scivid.backbones import ResizeBackbone
from scivid.distributed import feature_table_part
sys.path.insert(0, sys.argv[5]); from test_distributed import val_side
examples = val_side()
table = feature_table_part(ResizeBackbone(), examples, path, {"task": "flyvsfly", "split": "val"}, progress=False)
print(json.dumps({"process": jax.process_index(), "computed": examples.calls, "complete": bool(table.done.all())}))
'''


def val_side():
    "The backbone side of mini-SciVid's Fly-vs-Fly val examples, counting which examples are read."
    from scivid.mini import mini_scivid_dir
    from scivid.run import split_examples, BackboneSide
    from scivid.tasks import get_task
    class Counting(BackboneSide):
        calls = []
        def __len__(self): return min(FIRST, len(self.examples))
        def example(self, i, slot=0):
            self.calls.append(i); return super().example(i, slot)
    task = get_task('flyvsfly').for_data(mini=True)
    return Counting(split_examples(task, mini_scivid_dir(), 'val', False, 0))


def _free_port():
    with socket.socket() as s:
        s.bind(('localhost', 0)); return s.getsockname()[1]


def test_two_processes_build_the_one_process_cache(tmp_path):
    from scivid.backbones import ResizeBackbone
    from scivid.feature_cache import feature_table, FeatureTable
    env = os.environ | {'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]), 'JAX_PLATFORMS': 'cpu'}
    env.pop('SCIVID_DATA_DIR', None)
    port, path = _free_port(), tmp_path / 'parts.zarr'
    procs = [subprocess.Popen([sys.executable, '-c', SCRIPT, str(p), '2', str(port), str(path), str(ROOT / 'tests')],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs): assert p.returncode == 0, err[-2000:]
    reports = sorted((json.loads(out.strip().splitlines()[-1]) for out, _ in outs), key=lambda r: r['process'])
    examples = val_side()
    n = len(examples)
    assert [r['process'] for r in reports] == [0, 1] and all(r['complete'] for r in reports)
    assert sorted(reports[0]['computed']) == list(range(0, n, 2))  # its share only, each example once
    assert sorted(reports[1]['computed']) == list(range(1, n, 2))
    one = feature_table(ResizeBackbone(), examples, tmp_path / 'one.zarr', {'task': 'flyvsfly', 'split': 'val'},
                        progress=False)
    two = FeatureTable(path)
    assert len(two) == len(one) == n > 10
    for i in range(n):
        a, b = one.example(i), two.example(i)
        assert sorted(a) == sorted(b)
        for k in a: np.testing.assert_array_equal(a[k], b[k], err_msg=f'example {i}, {k}')
