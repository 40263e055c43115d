"""A newcomer's first hour (issue 14): the notebook and the command line are the same run, and say what they report.

The README's "Running" section pairs a papermill command with "the same run from a shell". Run both, in that
order, on the same (default) run folder: the shell command must resume the notebook's run (no new training
step, the same records), not refuse it as another run. The budget is shrunk to two steps in both commands.
"""
import json, os, re, shlex, subprocess, sys
from pathlib import Path
from scivid.cost import COST_DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
SMALL = '64'  # examples: two steps at batch 32 (the README says 3200)


def readme_pair() -> tuple[list, list]:
    "The README's notebook command and the shell command it calls the same run."
    lines = [l.strip() for l in (ROOT / 'README.md').read_text().splitlines()]
    i = next(i for i, l in enumerate(lines) if l.startswith('scivid train') and 'the same run from a shell' in l)
    notebook, shell = shlex.split(lines[i - 1]), shlex.split(lines[i].split('#')[0])
    assert notebook[:2] == ['papermill', 'nbs/train.ipynb'], lines[i - 1]
    return notebook, shell


def small(cmd: list) -> list:
    "`cmd` with its training budget shrunk and the notebook path absolute."
    out = [str(ROOT / c) if c == 'nbs/train.ipynb' else c for c in cmd]
    for flag in ('examples', '--examples'):
        if flag in out: out[out.index(flag) + 1] = SMALL
    return out


def checkpoints(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in (folder / 'checkpoints').rglob('*')}


def test_shell_command_resumes_the_notebook_run(tmp_path):
    notebook, shell = readme_pair()
    env = dict(os.environ, JAX_PLATFORMS='cpu')
    first = subprocess.run([sys.executable, '-m', *small(notebook)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-3000:]
    task = notebook[notebook.index('task') + 1]
    folder = tmp_path / 'runs' / f'{task}-resize'  # both commands' default run folder
    before, records = checkpoints(folder), json.loads((folder / 'metrics.json').read_text())
    assert before, 'the notebook run kept no checkpoint'
    second = subprocess.run([sys.executable, '-c', 'import sys; from scivid.cli import main; sys.exit(main())', *small(shell)[1:]],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-3000:]  # not "holds another run"
    assert checkpoints(folder) == before  # resumed at its last step: no new step trained or saved
    scores = lambda rs: [{k: v for k, v in r.items() if k not in COST_DEFAULTS} for r in rs]  # cost: of each execution
    assert scores(json.loads((folder / 'metrics.json').read_text())) == scores(records)
    assert f'run folder: {Path("runs") / f"{task}-resize"}' in second.stdout, second.stdout
    # the summary explains itself: the headline, its unit and direction, and what each baseline is
    out = second.stdout
    assert 'rmse: RMSE of the forecast central pressure in hPa' in out and 'lower is better' in out, out
    for name, about in [('blind', 'trained identically on zero features'), ('control', 'fixed per-step mean pressure'),
                        ('persistence', 'last observed pressure')]:
        assert re.search(rf'^{name} .*{about}', out, re.M), (name, out)
    assert 'beats blind' in out and out.index('val') < out.index('test'), out
