"""Ready for a GPU (issue 18, items 1 and 2): `scivid doctor`, the `[gpu]` extra, JAX's share of a GPU set by scivid,
and extraction that backs off to a smaller batch when the backbone runs out of memory."""
import configparser, contextlib, io, os, re, subprocess, sys
from pathlib import Path
import jax, torch
from scivid.cli import main

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
