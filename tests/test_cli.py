"""The `scivid` command: one-line errors with the fix, and controls reported without training."""
import json, shutil, subprocess, sys
import numpy as np
import pytest
from scivid.cli import main
from scivid.clips import middle_clip_indices
from scivid.datasets import open_split

def run_cli(capsys, *argv):
    "Exit code and stderr of `scivid ARGV`."
    code = main(list(argv))
    return code, capsys.readouterr().err

@pytest.mark.parametrize('argv, expected', [
    (['train', '--task', 'flies'], 'unknown task'),
    (['train', '--task', 'flyvsfly', '--backbone', 'resnet9000', '--examples', '0'], "backbone"),
    (['train', '--task', 'flyvsfly', '--data-dir', '/no/such/dir', '--examples', '0'], '/no/such/dir'),
    (['train', '--task', 'flyvsfly', '--splits', 'validation', '--examples', '0'], 'choose one of: test, val'),
])
def test_user_mistakes_are_one_line(capsys, argv, expected):
    code, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.startswith('scivid: error: ') and expected in err and err.count('\n') == 1, err

def test_console_script_is_installed():
    exe = shutil.which('scivid')
    assert exe, 'the scivid console script is not on PATH (pip install -e .)'
    out = subprocess.run([exe, 'train', '--task', 'flies'], capture_output=True, text=True)
    assert out.returncode == 2 and 'choose one of: calms21, flyvsfly, stir, typhoon, weatherbench' in out.stderr

def test_control_without_training_equals_positive_rate(tmp_path, mini_root, capsys):
    "With --examples 0 the label-frequency control's mAP is the mean positive rate of the split."
    code = main(['train', '--task', 'flyvsfly', '--examples', '0', '--splits', 'val', '--no-cache',
                 '--data-dir', str(mini_root), '--out', str(tmp_path)])
    assert code == 0
    records = json.loads((tmp_path / 'metrics.json').read_text())
    assert {r['readout'] for r in records} == {'control'}
    got = {r['metric']: r['value'] for r in records}
    val = open_split('flyvsfly', 'val', mini_root)
    middle = [r['labels'][middle_clip_indices(len(r['labels']), 16)[8]] for r in (val[i] for i in range(len(val)))]
    rates = np.bincount(middle, minlength=7) / len(middle)
    assert got['mAP'] == pytest.approx(rates[:6].mean(), abs=1e-9)
    assert got['AP/lunging'] == pytest.approx(rates[0], abs=1e-9)
