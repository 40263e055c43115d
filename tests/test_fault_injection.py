"""Ten kinds of damage to a copy of mini-SciVid: `scivid data check --deep` and `scivid train` name each one.

The damage and what the messages must name (file, record, variable, time) come from
benchmarks/fault_injection.py, which damages the files itself; the checker and the run
only get the damaged data dir. One case runs both commands as child processes (the real
`scivid` exit codes and stderr), the others call the same `scivid.cli.main` in-process.
"""
import sys
from pathlib import Path
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'benchmarks'))
import fault_injection as fi  # noqa: E402

SUBPROCESS = {'garbage weather chunk'}  # fails fast: the child processes' imports (10-15 s) dominate


@pytest.fixture(scope='module')
def rows(mini_root, tmp_path_factory):
    rows = fi.run_cases(fi.CASES, mini_root, tmp_path_factory.mktemp('faults'), SUBPROCESS)
    print('\n' + fi.table(rows))
    return {r['damage']: r for r in rows}


def test_ten_kinds_of_damage():
    assert len({c.name for c in fi.CASES}) == len({c.damage for c in fi.CASES}) >= 10


@pytest.mark.parametrize('case', [c.name for c in fi.CASES])
def test_check_and_train_name_the_damage(rows, case):
    r = rows[case]
    assert r['check_code'] == 1 and r['check_ok'], r  # a problem naming every one of r['names']
    assert r['train_code'] == 2, r  # a ScividError, not exit 0 with NaN metrics nor a traceback
    assert r['train'].startswith('scivid: error: ') and all(n in r['train'] for n in r['names']), r
