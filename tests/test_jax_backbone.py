"""Issue 17: the JAX (Flax NNX) encoder through whole runs: frozen runs match the transformers path, and
fine-tuning trains the backbone, keeps it in the checkpoint and says so in the result records."""
import numpy as np
import pytest
import orbax.checkpoint as ocp
from flax import nnx
from scivid.cli import main
from scivid.hf_backbones import save_tiny_model

def run_config(tmp_path, mini_root, name, **kw):
    from scivid.run import RunConfig
    return RunConfig(**(dict(task='flyvsfly', data_dir=str(mini_root), out_dir=str(tmp_path / name), readouts=('linear',),
                             splits=('val',), progress=False) | kw))

def restore_model(run_dir, readout):
    "The model part of a readout's checkpoint in a run folder (saved as {'0': model, '1': optimizer})."
    return ocp.StandardCheckpointer().restore(next((run_dir / 'checkpoints' / readout).glob('step_*')).absolute())['0']

def test_frozen_jax_run_matches_torch(tmp_path, mini_root, monkeypatch):
    """The same tiny VideoMAE folder, frozen, through both implementations: features agree to ~1e-6 (the parity test
    of 22a_jax_vit), so the readouts trained on them give the same val mAP within 1e-3 relative; the two feature
    caches are separate stores (describe() differs by `impl`)."""
    from scivid.run import run
    monkeypatch.setenv('SCIVID_CACHE_DIR', str(tmp_path / 'cache'))
    tiny = save_tiny_model('videomae', tmp_path / 'tiny')
    mAP = {impl: run(run_config(tmp_path, mini_root, impl, backbone=str(tiny), backbone_impl=impl, examples=32,
                                batch_size=16, eval_every=2, cache_dtype='float32')).evaluations['val'].metrics['linear']['mAP']
           for impl in ('torch', 'jax')}
    assert mAP['jax'] == pytest.approx(mAP['torch'], rel=1e-3), mAP
    stores = [p for p in (tmp_path / 'cache' / 'features').iterdir() if p.suffix == '.zarr']
    assert len(stores) == 4, stores  # train and val, for each implementation
    assert 'backbone' not in restore_model(tmp_path / 'jax', 'linear')  # frozen: the checkpoint holds the readout only

def test_finetune_run_trains_the_backbone(tmp_path, mini_root):
    """A fine-tuning run (multiplier 0.5): the readout's checkpoint holds a backbone whose parameters moved away from the
    loaded ones, and the records say finetune=True with the multiplier for the readout, the defaults for the control.
    (That fine-tuning lowers the training loss against a frozen control is tested in 35_finetune.)"""
    from scivid.run import run
    from scivid.jax_vit import load_jax_backbone
    tiny = save_tiny_model('videomae', tmp_path / 'tiny')
    result = run(run_config(tmp_path, mini_root, 'ft', backbone=str(tiny), backbone_impl='jax', finetune=True,
                            backbone_lr_mult=0.5, examples=16, batch_size=8, eval_every=2))
    assert result.config.cache is False  # bypassed: features change as the backbone trains
    by_readout = {r['readout']: (r['finetune'], r['backbone_lr_mult']) for r in result.records}
    assert by_readout == {'linear': (True, 0.5), 'control': (False, 0.0)}, by_readout
    loaded = nnx.to_pure_dict(nnx.state(load_jax_backbone(tiny).encoder, nnx.Param))
    trained = restore_model(tmp_path / 'ft', 'linear')['backbone']
    moved = max(float(np.abs(np.asarray(trained['blocks'][str(i)]['fc1']['kernel']) - np.asarray(block['fc1']['kernel'])).max())
                for i, block in loaded['blocks'].items())
    assert moved > 1e-5, moved

@pytest.mark.parametrize('argv, expected', [
    (['--finetune', '--backbone-lr-mult', '0.1'], '--backbone-impl jax'),
    (['--backbone-impl', 'jax', '--finetune'], '--backbone-lr-mult'),
    (['--backbone-lr-mult', '0.1'], '--finetune'),
])
def test_finetune_mistakes_are_one_line(capsys, argv, expected):
    code = main(['train', '--task', 'flyvsfly', '--examples', '0', *argv])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and err.count('\n') == 1, err

def test_fourds_npz_runs_end_to_end(tmp_path, mini_root, monkeypatch):
    """A randomly initialised 4DS parameter file in the released layout, given by its path, loads and runs a mini
    Fly-vs-Fly run: a readout trained on its features is evaluated (finite mAP in [0, 1]) beside the control, and the
    registry name finds the same file under its release name in $SCIVID_4DS_DIR (same weights fingerprint)."""
    from scivid.run import run
    from scivid.fourds import write_random_fourds
    from scivid.zoo import load_backbone
    monkeypatch.setenv('SCIVID_CACHE_DIR', str(tmp_path / 'cache'))
    npz = write_random_fourds(tmp_path / 'scaling4d_dist_b.npz')
    result = run(run_config(tmp_path, mini_root, '4ds', backbone=str(npz), examples=16, batch_size=8, eval_every=2))
    mAP = {r['readout']: r['value'] for r in result.records if r['metric'] == 'mAP'}
    assert set(mAP) == {'linear', 'control'} and all(0 <= v <= 1 for v in mAP.values()), mAP
    monkeypatch.setenv('SCIVID_4DS_DIR', str(tmp_path))
    assert load_backbone('4ds-b-dist-e').describe()['weights'] == load_backbone(str(npz)).describe()['weights']
