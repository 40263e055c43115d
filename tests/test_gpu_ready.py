"""Ready for a GPU (issue 18, items 1 and 2): `scivid doctor`, the `[gpu]` extra, JAX's share of a GPU set by scivid,
and extraction that backs off to a smaller batch when the backbone runs out of memory."""
import configparser, contextlib, io, os, re, subprocess, sys
from pathlib import Path
import jax, torch
import numpy as np
from scivid.backbones import ResizeBackbone
from scivid.cli import main
from scivid.feature_cache import feature_table

ROOT = Path(__file__).resolve().parents[1]

def test_doctor_prints_devices_and_versions():
    with contextlib.redirect_stdout(io.StringIO()) as out: code = main(['doctor'])
    text = out.getvalue()
    assert code == 0, text
    for name, version in [('jax', jax.__version__), ('torch', torch.__version__)]: assert f'{name} {version}' in text, text
    jax_lines = [l for l in text.split('\n') if re.match(r'  (cpu|gpu|tpu|cuda|rocm):\d+ ', l) and not l.startswith('  cuda')]
    assert len(jax_lines) == len(jax.devices()), text  # one line per device JAX sees
    assert f'host: {os.cpu_count()} CPU cores' in text, text
    if jax.default_backend() == 'cpu': assert 'accelerator: none' in text and 'pip install -e ".[gpu]"' in text, text

def test_the_command_line_starts_without_jax_or_torch():
    "`scivid doctor` imports JAX and torch inside the command: importing the command line stays fast."
    code = "import sys, scivid.cli; print(sorted({'jax', 'torch'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=os.environ | {'PYTHONPATH': str(ROOT)})
    assert out.stdout.strip() == '[]', out.stderr

def test_jax_gpu_share_is_set_before_jax_starts_and_the_users_wins():
    code = "import os, scivid.cli; print(os.environ['XLA_PYTHON_CLIENT_MEM_FRACTION'])"
    env = {k: v for k, v in os.environ.items() if k != 'XLA_PYTHON_CLIENT_MEM_FRACTION'} | {'PYTHONPATH': str(ROOT)}
    for given, want in [(None, '.5'), ('.8', '.8')]:  # .5: the original SciVid README's value
        e = env if given is None else env | {'XLA_PYTHON_CLIENT_MEM_FRACTION': given}
        out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=e)
        assert out.stdout.strip() == want, (given, out.stdout, out.stderr)

def test_gpu_extra_brings_cuda_jax_at_the_pinned_version():
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini')
    pins = dict(r.split('==') for r in cfg['DEFAULT']['requirements'].split() if '==' in r)
    gpu = cfg['DEFAULT']['gpu_requirements'].split()
    assert f"jax[cuda12]=={pins['jax']}" in gpu and f"torch=={pins['torch']}" in gpu, gpu
    assert 'pip install -e ".[gpu]"' in (ROOT / 'README.md').read_text()


class TwoClipExamples:
    "Examples of two random clips each (what a feature cache reads: len() and example(i, view))."
    def __len__(self): return 6
    def example(self, i, view=0):
        return {'video': np.random.default_rng(i).random((2, 4, 32, 32, 3), dtype=np.float32), 'label': np.float32(i)}

class TightResize(ResizeBackbone):
    "The resize baseline on a device that fits at most 3 clips per pass: larger passes raise CUDA's out-of-memory error."
    def encode(self, inputs):
        if len(inputs) > 3: raise RuntimeError('CUDA out of memory. Tried to allocate 2.00 GiB (simulated)')
        return super().encode(inputs)

def test_extraction_backs_off_on_out_of_memory_with_identical_features(tmp_path, capfd):
    "4 examples x 2 clips per batch: 8 clips fail, 4 fail, 2 fit; every feature equals one clip encoded at a time."
    examples = TwoClipExamples()
    table = feature_table(TightResize(), examples, tmp_path / 'tight.zarr', {'task': 'toy'}, batch_size=4, label='toy')
    err = capfd.readouterr().err
    assert 'out of memory at 8 clips per backbone pass: continuing at 4' in err, err
    assert 'out of memory at 4 clips per backbone pass: continuing at 2' in err, err
    assert re.search(r'caching toy done: 12 clips in [\d.]+ s \([\d.]+ clips/s\); device busy \d+% of it', err), err  # the end line
    plain = ResizeBackbone()  # the same model with room to spare, one clip per pass
    for i in range(len(examples)):
        video = examples.example(i)['video']
        want = np.concatenate([plain.encode(plain.preprocess(video[c:c + 1]))['grid_features'] for c in range(2)])
        np.testing.assert_array_equal(table.example(i)['grid_features'], want)


def test_bfloat16_backbone_is_recorded_and_keyed(tmp_path):
    "A backbone in bfloat16 says so in describe() (a cache of its own) and gives features near float32's."
    from scivid.backbones import embed
    from scivid.feature_cache import default_cache_path
    from scivid.hf_backbones import load_hf_backbone, save_tiny_model
    from scivid.devices import backbone_dtype
    folder = save_tiny_model('videomae', tmp_path / 'tiny')
    full, half = (load_hf_backbone(str(folder), device='cpu', dtype=d, offline=True) for d in (None, 'bfloat16'))
    assert (backbone_dtype(full), backbone_dtype(half)) == ('float32', 'bfloat16')  # None on a CPU: float32
    key = {'task': 'toy'}
    assert default_cache_path(full, key, root=tmp_path) != default_cache_path(half, key, root=tmp_path)
    video = np.random.default_rng(0).random((2, 4, 32, 32, 3), dtype=np.float32)
    a, b = embed(full, video)['features'], embed(half, video)['features']
    assert not np.array_equal(a, b)
    # bfloat16 keeps 8 significant bits (relative step 2**-8 per rounding); two layers of rounding stay within a few %
    assert np.abs(a - b).max() <= 0.05 * np.abs(a).max(), np.abs(a - b).max() / np.abs(a).max()
