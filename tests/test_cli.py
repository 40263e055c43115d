"""The `scivid` command: one-line errors with the fix, and controls reported without training."""
import json, shutil, subprocess, sys
import pytest
from scivid.cli import main
from scivid.datasets import FLY_CLASSES
from test_records_fixture import read_label_lists  # independent reader: ArrayRecordReader + protobuf

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
    "With --examples 0 the label-frequency control's mAP is the mean positive rate of the split's label lists."
    code = main(['train', '--task', 'flyvsfly', '--examples', '0', '--splits', 'val', '--no-cache',
                 '--data-dir', str(mini_root), '--out', str(tmp_path)])
    assert code == 0
    records = json.loads((tmp_path / 'metrics.json').read_text())
    assert {r['readout'] for r in records} == {'control'}
    got = {r['metric']: r['value'] for r in records}
    lists = read_label_lists(mini_root / 'full' / 'fly_vs_fly' / 'val_fly_split_ids_shuffle')
    assert len(lists) == 120 and any(len(set(ls)) == 2 for ls in lists)  # the mini split holds two-label clips
    # a constant score's AP is the class's positive rate (0 without positives); mAP averages the 6 non-background classes
    rates = [sum(c in ls for ls in lists) / len(lists) for c in range(7)]
    assert got['mAP'] == pytest.approx(sum(rates[:6]) / 6, abs=1e-9)
    for c, name in enumerate(FLY_CLASSES): assert got[f'AP/{name}'] == pytest.approx(rates[c], abs=1e-9)
