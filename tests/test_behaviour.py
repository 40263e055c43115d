"""Learning test: on mini-SciVid the cross-attention readout beats the label-frequency control."""
import pytest
from scivid.run import RunConfig, run

# (task, examples seen, batch size, learning rate): a short CPU budget.
BUDGETS = [('flyvsfly', 32 * 400, 32, 1e-3), ('calms21', 16 * 150, 16, 1e-3)]

@pytest.mark.parametrize('task, examples, batch_size, lr', BUDGETS)
def test_attention_beats_label_frequency_control(tmp_path, mini_root, task, examples, batch_size, lr):
    result = run(RunConfig(task=task, data_dir=str(mini_root), out_dir=str(tmp_path), examples=examples,
                           batch_size=batch_size, lr=lr, readouts=('attention',), splits=('val',),
                           eval_every=examples // batch_size, progress=False))
    val = {name: m['mAP'] for name, m in result.evaluations['val'].metrics.items()}
    print(task, {k: round(v, 4) for k, v in val.items()})
    # the control's mAP is the mean positive rate (~0.1 to 0.15 here); the readout must clearly beat it
    assert val['attention'] > max(1.4 * val['control'], val['control'] + 0.05), val
    assert (tmp_path / 'metrics.json').exists() and (tmp_path / 'figures' / 'training.png').exists()
