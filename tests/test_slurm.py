"""`scivid suite --executor slurm` on a real single-node Slurm (issue 16) gives the records of `--executor local`.

Slurm comes up through `.ci/start_slurm.sh` (which `.ci/run` calls first; here it is called again, quick when Slurm
is up, and never installs anything from the test). The test is skipped, saying why, only where Slurm cannot be started.
One small suite (Fly-vs-Fly, the resize baseline, the linear readout, 8 training examples, the test split) runs
through each executor into its own folder. The Slurm suite is interrupted (killed) right after it submitted its job;
the same command again must wait for that job, not submit a second one. The two results stores must then hold the
same records, value for value (the runs are deterministic on CPU: the same seed, data and feature cache).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from scivid.cost import COST_DEFAULTS
import pytest

from scivid.suite import read_store, DONE
from scivid.executors import SLURM_JOB

ROOT = Path(__file__).resolve().parents[1]
STATUS = Path(os.environ.get('SCIVID_SLURM_STATUS', '/tmp/scivid-slurm-status'))
RUN = 'flyvsfly-resize-linear-s0'
ARGS = ('--backbones', 'resize', '--tasks', 'flyvsfly', '--readouts', 'linear', '--examples', '8', '--batch-size', '8',
        '--splits', 'test')
SLURM = ('--executor', 'slurm', '--time', '10')


def _slurm_or_skip():
    "Start Slurm with the CI script where it is installed; skip with the script's reason where it cannot run."
    if shutil.which('slurmctld') and shutil.which('sbatch'):
        subprocess.run(['bash', str(ROOT / '.ci' / 'start_slurm.sh')], capture_output=True, timeout=120)
    elif not STATUS.exists():
        pytest.skip('Slurm is not installed (slurm-wlm, munge): run .ci/start_slurm.sh as root to install and start it')
    status = STATUS.read_text().strip() if STATUS.exists() else 'no status from .ci/start_slurm.sh'
    if status != 'up': pytest.skip(f'Slurm cannot be started here: {status}')


def _suite(out, *extra) -> subprocess.CompletedProcess:
    "`scivid suite ARGS --out OUT EXTRA` in its own process, as a user runs it (stdout and stderr captured)."
    code = 'import sys; from scivid.cli import main; sys.exit(main(sys.argv[1:]))'
    return subprocess.run([sys.executable, '-c', code, 'suite', *ARGS, '--out', str(out), *extra],
                          capture_output=True, text=True, timeout=600)


def _submit_and_interrupt(out) -> str:
    "Start the Slurm suite in a process, kill it once it has submitted its run; the id of the job it left running."
    code = 'import sys; from scivid.cli import main; sys.exit(main(sys.argv[1:]))'
    suite = subprocess.Popen([sys.executable, '-c', code, 'suite', *ARGS, '--out', str(out), *SLURM],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    record, deadline = out / RUN / SLURM_JOB, time.time() + 60
    try:
        while not record.exists():
            assert suite.poll() is None and time.time() < deadline, 'the suite ended before submitting its run'
            time.sleep(0.2)
    finally:
        os.killpg(suite.pid, signal.SIGKILL); suite.wait()
    return json.loads(record.read_text())['job_id']


def test_slurm_suite_gives_the_local_records(tmp_path, monkeypatch):
    _slurm_or_skip()
    monkeypatch.delenv('SCIVID_DATA_DIR', raising=False)  # mini-SciVid
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]))  # the jobs import this scivid
    job = _submit_and_interrupt(tmp_path / 'slurm')
    again = _suite(tmp_path / 'slurm', *SLURM)  # the same command again, while the job runs
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.split('\n')[0] == '1 runs done, 0 already complete, 0 failed', again.stdout  # it waited for the job
    local = _suite(tmp_path / 'local')
    assert local.returncode == 0, local.stderr[-2000:]
    assert json.loads((tmp_path / 'slurm' / RUN / SLURM_JOB).read_text())['job_id'] == job  # waited, did not resubmit
    assert [p.name for p in (tmp_path / 'slurm' / 'slurm').iterdir() if p.is_dir()] == [str(job)]  # submitit's logs: one job
    assert not (tmp_path / 'local' / RUN / SLURM_JOB).exists()
    local, slurm = read_store(tmp_path / 'local'), read_store(tmp_path / 'slurm')
    assert len(local) > 5 and set(local.run) == {RUN} and 'linear' in set(local.readout)
    key = ['readout', 'split', 'metric', 'step']
    same = [c for c in local if c not in COST_DEFAULTS]  # cost: what each execution took, measured in each
    pd.testing.assert_frame_equal(slurm.sort_values(key).reset_index(drop=True)[same],
                                  local.sort_values(key).reset_index(drop=True)[same])
    for out in ('local', 'slurm'): assert (tmp_path / out / RUN / DONE).exists()
