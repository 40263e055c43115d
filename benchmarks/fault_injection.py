"""Damage a copy of mini-SciVid in ten ways; `scivid data check --deep` and `scivid train` must name each one.

For every case the dataset it needs is copied out of mini-SciVid (hard links; the damaged
file is rewritten, never the original), damaged, then

- `scivid data check --deep --json` must report the damage, naming the file (and record,
  variable, time where there is one);
- `scivid train` on the task that reads it (resize backbone, one batch, one split) must
  exit non-zero with a one-line error naming the same thing, instead of NaN metrics, a
  false "training diverged" or a traceback.

    python benchmarks/fault_injection.py                 # every case, train in-process
    python benchmarks/fault_injection.py --subprocess    # every case, both commands as subprocesses
    python benchmarks/fault_injection.py --cases 'NaN chunk,missing shard'

Prints a table (damage, data-check message, train exit code and message) and exits 1 if
any case was not reported. tests/test_fault_injection.py runs it.
"""
import argparse, contextlib, io, json, os, shutil, subprocess, sys, tempfile, time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Case:
    "One kind of damage: what it copies, how it damages the copy, and what the messages must name."
    name: str  # what a person would call the damage
    files: tuple  # glob patterns below `full/` of the files and folders the case copies (what its run reads)
    damage: Callable  # root -> list of strings both messages must contain (file, record, variable...)
    train: tuple  # `scivid train` arguments of the task that reads the damaged data


# ---- damaging files (never in place: a hard-linked file is replaced, so mini-SciVid stays intact) ----

def rewrite(path: Path, data: bytes) -> None:
    "Replace `path` by a new file holding `data` (breaks a hard link instead of writing through it)."
    path.unlink()
    path.write_bytes(data)


def fly_shard(root, split='val', i=1):
    from scivid.datasets import split_prefix
    from scivid.records import shard_path
    return shard_path(split_prefix('flyvsfly', split, root), i, 2)


def read_shard(path) -> list:
    from array_record.python.array_record_module import ArrayRecordReader
    r = ArrayRecordReader(str(path))
    out = [r.read([j])[0] for j in range(r.num_records())]
    r.close()
    return out


def write_shard(path, records: list) -> None:
    "Rewrite one shard file with `records` (the release's writer options)."
    from array_record.python.array_record_module import ArrayRecordWriter
    from scivid.records import WRITE_OPTIONS
    path.unlink()
    w = ArrayRecordWriter(str(path), WRITE_OPTIONS)
    for r in records: w.write(r)
    w.close()


def truncated_shard(root):
    p = fly_shard(root)
    rewrite(p, p.read_bytes()[:p.stat().st_size // 2])
    return [str(p)]


def zero_filled_shard(root):
    p = fly_shard(root)
    rewrite(p, bytes(p.stat().st_size))
    return [str(p)]


def missing_shard(root):
    p = fly_shard(root)
    p.unlink()
    return [str(p.name)]


def flipped_bytes(root):
    "Flip 16 bytes a tenth into the first shard: inside an early record's compressed chunk."
    p = fly_shard(root, i=0)
    data = bytearray(p.read_bytes())
    mid = len(data) // 10
    data[mid:mid + 16] = bytes(b ^ 0xFF for b in data[mid:mid + 16])
    rewrite(p, bytes(data))
    return [str(p), 'record ']


def missing_key(root):
    "Record 3 of the first shard (not record 0, which the quick check reads) loses its label list."
    from scivid.datasets import LABELS
    from scivid.protobuf import decode_sequence_example, encode_sequence_example
    p = fly_shard(root, i=0)
    recs = read_shard(p)
    context, sequence = decode_sequence_example(recs[3])
    del context[LABELS]
    recs[3] = encode_sequence_example(context, sequence)
    write_shard(p, recs)
    return [str(p), 'record 3 ', LABELS]


def nan_frame(root):
    "Infrared frame 3 of record 1 of a typhoon val shard becomes NaN."
    from scivid.datasets import DATASETS, split_prefix
    from scivid.protobuf import decode_sequence_example, encode_sequence_example
    from scivid.records import shard_path
    p = shard_path(split_prefix('typhoon', 'val', root), 0, 2)
    recs = read_shard(p)
    lay = DATASETS['typhoon']
    ex = lay.decode(*decode_sequence_example(recs[1]))
    ex['infrared'][3] = np.nan
    recs[1] = encode_sequence_example(*lay.encode(ex))
    write_shard(p, recs)
    return [str(p), 'record 1 ', 'infrared[3, 0, 0]']


def weather_store(root):
    from scivid.weather_data import store_path
    return store_path(root)


def first_train_chunk(root, variable='temperature_850'):
    "The chunk file of `variable` at the first frame of the first train window (what a run reads first)."
    from scivid.weather_data import WeatherWindows, chunk_files
    t = int(WeatherWindows(root, 'train').frames[0, 0])
    return chunk_files(weather_store(root), variable, t)[0]


def missing_variable(root):
    "A variable's folder is gone while the consolidated metadata still lists it."
    folder = weather_store(root) / 'specific_humidity_700'
    shutil.rmtree(folder)
    return ['specific_humidity_700', str(folder)]


def deleted_chunk(root):
    p = first_train_chunk(root)
    p.unlink()
    return [str(p), 'missing']


def nan_chunk(root):
    "A chunk rewritten (with the store's own codec) as an all-NaN frame."
    import numcodecs
    p = first_train_chunk(root)
    meta = json.loads((p.parent / '.zarray').read_text())
    codec = numcodecs.get_codec(meta['compressor'])
    rewrite(p, codec.encode(np.full(meta['chunks'], np.nan, np.dtype(meta['dtype']))))
    return [str(p), 'non-finite']


def garbage_chunk(root):
    p = first_train_chunk(root, 'geopotential_500')
    rewrite(p, np.random.default_rng(0).bytes(p.stat().st_size))
    return [str(p), 'does not decode']


FLY_FILES = ('fly_vs_fly/train_*', 'fly_vs_fly/val_*')  # a run on val reads no test shard
ONE_BATCH = ('--examples', '8', '--batch-size', '8', '--readouts', 'linear')
FLY = ('--task', 'flyvsfly', '--splits', 'val', *ONE_BATCH)
WEATHER = ('--task', 'weatherbench', '--splits', 'online_dev', '--batch-size', '8', '--examples', '8')
CASES = [
    Case('truncated shard', FLY_FILES, truncated_shard, FLY),
    Case('zero-filled shard', FLY_FILES, zero_filled_shard, FLY),
    Case('missing shard', FLY_FILES, missing_shard, FLY),
    Case('flipped bytes inside a record', FLY_FILES, flipped_bytes, FLY),
    Case('missing key in a later record', FLY_FILES, missing_key, FLY),
    Case('NaN frame (typhoon infrared)', ('digital_typhoon_slim/train_imsize_*', 'digital_typhoon_slim/val_*'), nan_frame,
         ('--task', 'typhoon', '--splits', 'val', *ONE_BATCH)),
    Case('weather variable missing, still listed', ('weatherbench',), missing_variable, WEATHER),
    Case('deleted weather chunk', ('weatherbench',), deleted_chunk, WEATHER),
    Case('NaN weather chunk', ('weatherbench',), nan_chunk, WEATHER),
    Case('garbage weather chunk', ('weatherbench',), garbage_chunk, WEATHER),
]


# ---- running the commands ----

def copy_mini(src: Path, dst: Path, patterns: tuple) -> Path:
    "A data dir at `dst` with the `patterns` of `src/full` (hard-linked where possible) and its mini-SciVid manifest."
    from scivid.mini import MANIFEST
    dst.mkdir(parents=True)
    link = lambda a, b: os.link(a, b) if os.stat(a).st_dev == os.stat(dst).st_dev else shutil.copy2(a, b)
    for pattern in patterns:
        for f in sorted((src / 'full').glob(pattern)):
            to = dst / 'full' / f.relative_to(src / 'full')
            to.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(f, to, copy_function=link) if f.is_dir() else link(f, to)
    shutil.copy2(src / MANIFEST, dst / MANIFEST)  # runs there use the mini-SciVid readouts
    return dst


def scivid(argv: list, subprocess_: bool, env: dict) -> tuple[int, str, str]:
    "(exit code, stdout, stderr) of `scivid ARGV`, in a child process or in this one."
    if subprocess_:
        r = subprocess.run([sys.executable, '-c', 'import sys; from scivid.cli import main; sys.exit(main())', *argv],
                           capture_output=True, text=True, env=env, timeout=600)
        return r.returncode, r.stdout, r.stderr
    from scivid.cli import main
    out, err = io.StringIO(), io.StringIO()
    old = dict(os.environ)
    os.environ.update(env)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err): code = main(argv)
    except SystemExit as e: code = e.code  # argparse
    except Exception as e: code, err = 'crash', io.StringIO(f'{type(e).__name__}: {e}')  # a traceback: the case fails
    finally: os.environ.clear(); os.environ.update(old)
    return code, out.getvalue(), err.getvalue()


def error_line(stderr: str) -> str:
    "The one-line `scivid: error:` message, or the last line of stderr."
    lines = [l for l in stderr.splitlines() if l.strip()]
    errs = [l for l in lines if l.startswith('scivid: error:')]
    return errs[-1] if errs else (lines[-1] if lines else '')


def run_case(case: Case, src: Path, work: Path, subprocess_: bool = False) -> dict:
    "Damage a fresh copy, run both commands, and say whether each named the damage."
    root = copy_mini(src, work / 'data', case.files)
    names = case.damage(root)
    env = {'SCIVID_CACHE_DIR': str(work / 'cache'), 'JAX_PLATFORMS': 'cpu',
           'PYTHONPATH': os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')])}
    t0 = time.perf_counter()
    code, out, err = scivid(['data', 'check', '--deep', '--json', '--data-dir', str(root)], subprocess_, env)
    try: problems = [p for row in json.loads(out) for p in row['problems']]
    except ValueError: problems = [f'not JSON: {out[:200]!r} {err[-300:]!r}']
    found = [p for p in problems if all(n in p for n in names)]
    t1 = time.perf_counter()
    train_code, _, train_err = scivid(['train', *case.train, '--data-dir', str(root), '--out', str(work / 'run')],
                                      subprocess_, env)
    message = error_line(train_err)
    return {'damage': case.name, 'names': names, 'root': str(root), 'check_code': code, 'check': found[0] if found else '; '.join(problems[:3]),
            'check_ok': code == 1 and bool(found), 'train_code': train_code, 'train': message,
            'train_ok': train_code == 2 and message.startswith('scivid: error:') and all(n in message for n in names),
            'seconds': (round(t1 - t0, 1), round(time.perf_counter() - t1, 1))}


def run_cases(cases: list, src: Path, work: Path, subprocess_cases: set = frozenset()) -> list[dict]:
    "Every case in its own folder below `work` (deleted after it ran)."
    rows = []
    for k, case in enumerate(cases):
        folder = work / f'case{k}'
        try: rows.append(run_case(case, src, folder, case.name in subprocess_cases))
        finally: shutil.rmtree(folder, ignore_errors=True)
    return rows


def table(rows: list[dict], width: int = 170) -> str:
    "The rows as a Markdown table (the case's data dir shown as DATA, messages cut at `width` characters)."
    def short(r, key):
        m = r[key].replace(r['root'], 'DATA').replace('|', '/')
        return m if len(m) <= width else m[:width - 3] + '...'
    lines = ['| damage | data check --deep | train exit | train message | ok |', '|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['damage']} | {short(r, 'check')} | {r['train_code']} | {short(r, 'train')} | "
                     f"{'yes' if r['check_ok'] and r['train_ok'] else 'NO'} |")
    return '\n'.join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--cases', default='', help='comma-separated case names (default: all)')
    p.add_argument('--subprocess', action='store_true', help='run both commands as child processes (slower)')
    args = p.parse_args(argv)
    from scivid.mini import mini_scivid_dir
    src = mini_scivid_dir()
    cases = [c for c in CASES if not args.cases or c.name in args.cases.split(',')]
    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        rows = run_cases(cases, src, Path(work), {c.name for c in cases} if args.subprocess else set())
        print(table(rows))
        print(f'{sum(r["check_ok"] and r["train_ok"] for r in rows)} of {len(rows)} cases reported by both commands '
              f'({time.perf_counter() - t0:.0f} s)')
    return 0 if all(r['check_ok'] and r['train_ok'] for r in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
