"""A run folder you can trust (issue 13, items 1, 2, 3 and 6): one configuration per folder, refused before anything
is written; arguments checked up front; OS errors as one line; backbone names that fail at once, offline.

Runs are the cheapest that show each behaviour: Fly-vs-Fly on the resize baseline, `--examples 0` (controls only)
on the validation split without the feature cache, and one 2-step training of the linear readout."""
import errno, fcntl, json, os, re, shutil, subprocess, sys, time
from pathlib import Path
import pytest
import scivid.core
from scivid.cli import main
from scivid.cost import COST_DEFAULTS

FAST = ['train', '--task', 'flyvsfly', '--examples', '0', '--splits', 'val', '--no-cache']

def cli(capfd, *argv):
    "Exit code and stderr of `scivid ARGV` (captured at the file descriptor, as a terminal would show it)."
    code = main([str(a) for a in argv])
    return code, capfd.readouterr().err

def one_line(err: str) -> str:
    "The one error line of `err`, and that it is the only line (progress bars, redrawn after '\\r', aside)."
    shown = [line.split('\r')[-1].strip() for line in err.split('\n')]  # what a terminal shows of each line
    progress = r'\d+%\|.*\||^(generating|caching|training) '  # progress bars and phase lines aside
    lines = [line for line in shown if line and not re.search(progress, line)]
    assert len(lines) == 1 and lines[0].startswith('scivid: error: '), err
    return lines[0]

def snapshot(folder) -> dict:
    "Every file and folder under `folder`: relative path -> (bytes or None for folders, mtime in ns)."
    folder = Path(folder)
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None, p.stat().st_mtime_ns)
            for p in [folder, *folder.rglob('*')]}

@pytest.fixture(scope='module')
def base_run(mini_root, tmp_path_factory):
    "A finished controls-only run folder (copied by each test that reruns into it)."
    out = tmp_path_factory.mktemp('base') / 'run'
    assert main([*FAST, '--data-dir', str(mini_root), '--out', str(out)]) == 0
    return out

@pytest.fixture
def run_copy(base_run, tmp_path):
    "A private copy of the base run folder (names, bytes and modification times kept)."
    return Path(shutil.copytree(base_run, tmp_path / 'run', symlinks=True))

@pytest.fixture(scope='module')
def other_data(mini_root, tmp_path_factory):
    "A copy of mini-SciVid's Fly-vs-Fly in which one validation shard was rewritten (same bytes, new mtime)."
    root = tmp_path_factory.mktemp('data')
    for p in mini_root.iterdir():
        if p.is_file(): shutil.copy2(p, root / p.name)
    shutil.copytree(mini_root / 'full' / 'fly_vs_fly', root / 'full' / 'fly_vs_fly')
    shard = sorted((root / 'full' / 'fly_vs_fly').rglob('val*'))[0]
    os.utime(shard, ns=(time.time_ns(), time.time_ns() + 10**9))
    return root

# --- 1. a run folder is one run --------------------------------------------------------------------------------

@pytest.mark.parametrize('change, field', [
    (['--seed', '1'], 'seed'),  # today: config.json overwritten, exit 0
    (['--task', 'calms21'], 'task'),  # (the last --task counts) today: calms21 records in the flyvsfly folder
    (['--backbone', 'flow'], 'backbone'),
    (['--splits', 'test'], 'splits'),  # today: the val records are replaced by test ones
    (['--batch-size', '16'], 'batch_size'),
    ('other data', 'data'),  # today: readouts of other data reported silently
])
def test_rerun_with_another_configuration_is_refused_before_anything_is_written(
        run_copy, mini_root, other_data, capfd, change, field):
    before = snapshot(run_copy)
    data = other_data if change == 'other data' else mini_root
    argv = [*FAST, '--data-dir', data, '--out', run_copy, *([] if change == 'other data' else change)]
    code, err = cli(capfd, *argv)
    assert code == 2
    assert field in one_line(err) and str(run_copy) in err and '--out' in err, err
    assert snapshot(run_copy) == before  # names, bytes and modification times

def test_rerun_with_the_same_configuration_resumes_holding_the_lock(run_copy, mini_root, capfd, monkeypatch):
    "The same configuration reruns into its folder (same records), and holds the folder's lock while it writes."
    import scivid.run
    from scivid.run import RUN_LOCK
    before, held, write = json.loads((run_copy / 'metrics.json').read_text()), [], scivid.run.write_results
    def probing_write(out, records):
        with open(Path(out) / RUN_LOCK) as f:  # what a second process would find
            try: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); held.append(False)
            except BlockingIOError: held.append(True)
        return write(out, records)
    monkeypatch.setattr(scivid.run, 'write_results', probing_write)
    code, _ = cli(capfd, *FAST, '--data-dir', mini_root, '--out', run_copy)
    scores = lambda rs: [{k: v for k, v in r.items() if k not in COST_DEFAULTS} for r in rs]  # cost: of each execution
    assert code == 0 and scores(json.loads((run_copy / 'metrics.json').read_text())) == scores(before)
    assert held == [True]

def test_a_folder_in_use_by_another_process_is_refused(run_copy, mini_root, capfd, monkeypatch):
    from scivid.run import RUN_LOCK
    before = snapshot(run_copy)
    with open(run_copy / RUN_LOCK) as other:  # another process's hold on the folder (flock is per open file)
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, err = cli(capfd, *FAST, '--data-dir', mini_root, '--out', run_copy)
    assert code == 2 and 'in use' in one_line(err) and str(run_copy) in err
    assert snapshot(run_copy) == before

def test_metrics_json_and_csv_agree_after_a_kill_between_the_writes(mini_root, tmp_path, capfd, monkeypatch):
    "A fresh run killed between the two results files: the files present describe the same records; a rerun completes."
    from scivid.results import read_results
    out, write, seen = tmp_path / 'run', scivid.core.atomic_write_bytes, []
    def killed_at_second_results_file(path, data):
        if Path(path).name in ('metrics.json', 'metrics.csv'):
            seen.append(Path(path).name)
            if len(seen) == 2: raise KeyboardInterrupt
        return write(path, data)
    monkeypatch.setattr(scivid.core, 'atomic_write_bytes', killed_at_second_results_file)
    with pytest.raises(KeyboardInterrupt):
        main([*FAST, '--data-dir', str(mini_root), '--out', str(out)])
    monkeypatch.undo()
    assert (out / 'metrics.json').exists()  # the record is the file written first
    records = read_results(out)
    assert len(records) > 0 and records.equals(read_results(out / 'metrics.csv'))
    assert cli(capfd, *FAST, '--data-dir', mini_root, '--out', out)[0] == 0
    import pandas as pd
    assert pd.read_csv(out / 'metrics.csv').equals(read_results(out))

# --- 2. arguments validated up front -----------------------------------------------------------------------------

@pytest.mark.parametrize('args, expected', [
    (['--examples', '-1'], 'examples=-1'),  # today: a run with a negative budget
    (['--examples', '4', '--batch-size', '8'], 'less than one batch'),  # today: 0 steps, untrained readouts reported
    (['--batch-size', '0'], 'batch_size=0'),
    (['--batch-size', '-8'], 'batch_size=-8'),
    (['--eval-every', '0'], 'eval_every=0'),  # today: ZeroDivisionError after config.json is written
    (['--views', '0'], 'views=0'),
    (['--lr', '0'], 'lr=0'),
    (['--lr', 'nan'], 'lr=nan'),
    (['--seed', '-1'], 'seed=-1'),
    (['--splits', 'validation'], "unknown split of flyvsfly 'validation'"),
    (['--readouts', 'mlp'], "unknown readout of flyvsfly 'mlp'"),
])
def test_bad_arguments_are_one_line_and_nothing_is_written(mini_root, tmp_path, capfd, args, expected):
    out = tmp_path / 'run'
    budget = [] if '--examples' in args else ['--examples', '0']  # (old code ran these: keep them short)
    code, err = cli(capfd, 'train', '--task', 'flyvsfly', '--no-cache', '--data-dir', mini_root, '--out', out, *budget,
                    *args)
    assert code == 2 and expected in one_line(err), err
    assert not out.exists()

def test_out_that_is_a_file_is_refused(mini_root, tmp_path, capfd):
    out = tmp_path / 'results.txt'
    out.write_text('my notes\n')
    before = snapshot(tmp_path)
    code, err = cli(capfd, *FAST, '--data-dir', mini_root, '--out', out)
    assert code == 2 and 'is a file' in one_line(err) and str(out) in err
    assert snapshot(tmp_path) == before

def test_out_that_cannot_be_written_is_refused(mini_root, tmp_path, capfd, monkeypatch):
    "As root every folder is writable, so the check is shown on a folder os.access calls read-only."
    locked, access = tmp_path / 'locked', os.access
    locked.mkdir()
    monkeypatch.setattr(os, 'access', lambda p, mode, **kw: False if Path(p) == locked else access(p, mode, **kw))
    code, err = cli(capfd, *FAST, '--data-dir', mini_root, '--out', locked / 'run')
    assert code == 2 and 'cannot be written' in one_line(err) and str(locked) in err
    assert list(locked.iterdir()) == []

@pytest.mark.skipif(os.access('/proc/sys', os.W_OK), reason='needs a read-only file system at /proc/sys')
def test_out_on_a_read_only_file_system_is_refused(mini_root, capfd):
    code, err = cli(capfd, *FAST, '--data-dir', mini_root, '--out', '/proc/sys/scivid-run')
    assert code == 2 and '/proc/sys' in one_line(err)

def train_notebook_config_cell(**params):
    "Execute nbs/train.ipynb's parameters cell, papermill's injected parameters, then its configuration cell."
    nb = json.loads((Path(__file__).parents[1] / 'nbs' / 'train.ipynb').read_text())
    cells = [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code']
    config_cell = next(c for c in cells if 'RunConfig(' in c)
    ns = {}
    exec(cells[0], ns)
    ns.update(params)
    exec(next(c for c in cells if 'from scivid.run import' in c), ns)
    exec(config_cell, ns)
    return ns

@pytest.mark.parametrize('params, expected', [
    ({'examples': 'abc'}, "examples='abc'"),  # `-p examples abc`: today a junk config.json, then a TypeError
    ({'batch_size': 'big'}, "batch_size='big'"),
    ({'eval_every': 1.5}, 'eval_every=1.5'),
    ({'splits': 5}, 'splits=5'),
    ({'cache': 'no'}, "cache='no'"),
    ({'seed': None}, 'seed=None'),
])
def test_papermill_parameters_of_the_wrong_type_are_refused(tmp_path, params, expected):
    from scivid.core import ScividError
    out = tmp_path / 'run'
    with pytest.raises(ScividError, match='.*'.join(map(lambda s: s.replace('(', r'\(').replace('.', r'\.'),
                                                          [expected, '-p ']))):
        train_notebook_config_cell(**{'out_dir': str(out), 'examples': 0, 'splits': 'val', 'cache': False} | params)
    assert not out.exists()

# --- 3. OS errors as one line ------------------------------------------------------------------------------------

def fail_writing(monkeypatch, code: int, name: str, after: int = 0):
    "Make the `after`+1-th atomic write of a file called `name` fail with OSError `code` (a full disk, ...)."
    write, count = scivid.core.atomic_write_bytes, [0]
    def failing(path, data):
        if Path(path).name == name:
            count[0] += 1
            if count[0] > after: raise OSError(code, os.strerror(code), str(path))
        return write(path, data)
    monkeypatch.setattr(scivid.core, 'atomic_write_bytes', failing)

@pytest.mark.parametrize('code, name, fix', [
    (errno.ENOSPC, 'metrics.json', 'the disk is full'),  # today: a traceback (630 lines from orbax's threads)
    (errno.EROFS, 'config.json', 'read-only'),
    (errno.EACCES, 'config.json', 'permission denied'),
])
def test_os_errors_are_one_line_naming_the_path_and_the_fix(mini_root, tmp_path, capfd, monkeypatch, code, name, fix):
    out = tmp_path / 'run'
    fail_writing(monkeypatch, code, name)
    rc, err = cli(capfd, *FAST, '--data-dir', mini_root, '--out', out)
    assert rc == 2 and fix in one_line(err) and str(out / name) in err and 'rerun' in err, err
    if name == 'metrics.json':  # what was complete stays usable
        assert json.loads((out / 'config.json').read_text())['task'] == 'flyvsfly'

def test_a_rerun_after_a_full_disk_resumes_training(mini_root, tmp_path, capfd, monkeypatch):
    "Disk full while checkpointing step 2 of 2: step 1's checkpoint is kept, and the rerun trains only step 2."
    import scivid.trainer
    out = tmp_path / 'run'
    argv = ['train', '--task', 'flyvsfly', '--readouts', 'linear', '--examples', '16', '--batch-size', '8',
            '--eval-every', '1', '--splits', 'val', '--data-dir', mini_root, '--out', out]  # cached features: quicker
    fail_writing(monkeypatch, errno.ENOSPC, 'latest.json', after=1)
    rc, err = cli(capfd, *argv)
    latest = out / 'checkpoints' / 'linear' / 'latest.json'
    assert rc == 2 and 'No space left on device' in one_line(err) and str(latest) in err, err
    assert json.loads(latest.read_text())['step'] == 1
    monkeypatch.undo()
    starts, batches = [], scivid.trainer.train_batches
    monkeypatch.setattr(scivid.trainer, 'train_batches', lambda *a: starts.append(a[-1]) or batches(*a))
    assert cli(capfd, *argv)[0] == 0
    assert starts == [1] and json.loads(latest.read_text())['step'] == 2
    assert {r['readout'] for r in json.loads((out / 'metrics.json').read_text())} == {'linear', 'control'}

# --- 6. backbone names -------------------------------------------------------------------------------------------

def test_an_unknown_backbone_name_fails_at_once_with_the_registry(mini_root, tmp_path, capfd):
    start = time.time()
    code, err = cli(capfd, *FAST, '--backbone', 'resnet9000', '--data-dir', mini_root, '--out', tmp_path / 'run')
    assert code == 2 and time.time() - start < 5  # today: 30 s of hub retries
    assert 'resnet9000' in one_line(err) and 'resize, ' in err and 'videomae-base' in err and 'org/name' in err
    assert not (tmp_path / 'run').exists()

def test_a_close_name_gets_a_suggestion(mini_root, tmp_path, capfd):
    code, err = cli(capfd, *FAST, '--backbone', 'videomae-bse', '--data-dir', mini_root, '--out', tmp_path / 'run')
    assert code == 2 and "did you mean 'videomae-base'" in one_line(err)

def test_an_unreachable_hub_is_not_retried(mini_root, tmp_path, capfd, monkeypatch):
    "A hub id while the hub cannot be reached (here: a closed local port) fails at once, in one line."
    import huggingface_hub.constants
    monkeypatch.setattr(huggingface_hub.constants, 'ENDPOINT', 'http://127.0.0.1:9')
    for var in ('HF_HUB_OFFLINE', 'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy'):
        monkeypatch.delenv(var, raising=False)
    start = time.time()
    code, err = cli(capfd, *FAST, '--backbone', 'some-user/some-model', '--data-dir', mini_root,
                    '--out', tmp_path / 'run')
    assert code == 2 and time.time() - start < 5  # today: 5 retries, about 30 s
    assert 'unreachable' in one_line(err) and 'some-user/some-model' in err

def test_hf_hub_offline_is_honoured(mini_root, tmp_path, capfd, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    start = time.time()
    code, err = cli(capfd, *FAST, '--backbone', 'videomae-base', '--data-dir', mini_root, '--out', tmp_path / 'run')
    assert code == 2 and time.time() - start < 5 and 'videomae-base' in one_line(err)

def test_hub_retry_warnings_reach_the_terminal_once():
    "In a fresh process (where the root logger has a handler, and huggingface_hub is imported after the CLI started)."
    code = ("from scivid.cli import main; main(['train', '--task', 'flies']); import logging, huggingface_hub; "
            "logging.getLogger('huggingface_hub.utils._http').warning('Retrying in 1s [Retry 1/5].')")
    repo = str(Path(__file__).resolve().parents[1])
    env = os.environ | {'PYTHONPATH': os.pathsep.join([repo, os.environ.get('PYTHONPATH', '')])}
    err = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env).stderr
    assert err.count('Retrying in 1s') == 1, err  # today: twice (its own handler, then the root logger's)
