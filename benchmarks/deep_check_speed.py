"""Seconds per GB of `scivid data check --deep`, per dataset, on one core.

The deep check reads every record (protobuf parse, every JPEG frame decoded, floats
scanned for NaN) and every chunk of the weather store, so its cost depends on the kind of
data more than on the bytes: JPEG video costs decoding, typhoon's float infrared costs
parsing. This script times it per dataset on a data dir (mini-SciVid by default) and
prints wall and CPU seconds per GB of files, so a check of the release can be estimated
from the sizes of its folders (CPU seconds do not depend on other processes sharing the
machine). The check runs on one core; mini-SciVid's frames are synthetic, so per GB of
real JPEG frames (which compress differently) the figure is an estimate.

    python benchmarks/deep_check_speed.py                # mini-SciVid from the cache
    python benchmarks/deep_check_speed.py --data-dir DIR
"""
import argparse, time
from pathlib import Path

from scivid.check import check_split, check_weather_chunks
from scivid.datasets import DATASETS, split_prefix
from scivid.weather_data import open_weatherbench, store_path


def files_size(paths) -> int:
    """Bytes of data in the files: mini-SciVid's small shards are mostly sparse footer padding (128 KB per file),
    which the release's large shards hardly have, so holes are not counted."""
    return sum(min(p.stat().st_size, p.stat().st_blocks * 512) for p in paths if p.is_file())


def timed(fn):
    "(result, wall seconds, CPU seconds) of fn()."
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def measure(root: Path) -> list[dict]:
    "One row per dataset: bytes, records (or time steps), wall and CPU seconds of the deep check."
    rows = []
    for dataset, layout in DATASETS.items():
        size, records, wall, cpu, problems = 0, 0, 0.0, 0.0, 0
        for split in layout.splits:
            prefix = split_prefix(dataset, split, root)
            size += files_size(prefix.parent.glob(f'{prefix.name}.array_record-*'))
            row, w, c = timed(lambda: check_split(dataset, split, root, deep=True))
            records, wall, cpu, problems = records + row['records'], wall + w, cpu + c, problems + len(row['problems'])
        rows.append({'dataset': dataset, 'bytes': size, 'items': records, 'wall': wall, 'cpu': cpu, 'problems': problems})
    path = store_path(root)
    ds = open_weatherbench(root)
    found, w, c = timed(lambda: check_weather_chunks(ds, path))
    rows.append({'dataset': 'weatherbench', 'bytes': files_size(path.rglob('*')), 'items': ds.sizes['time'] * 3,
                 'wall': w, 'cpu': c, 'problems': len(found)})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data-dir', help='data dir (default: mini-SciVid)')
    args = p.parse_args(argv)
    from scivid.mini import mini_scivid_dir
    root = Path(args.data_dir) if args.data_dir else mini_scivid_dir()
    rows = measure(root)
    gb = lambda r: r['bytes'] / 1e9
    print(f"{'dataset':13s} {'MB':>7s} {'items':>7s} {'wall s':>7s} {'cpu s':>7s} {'wall s/GB':>9s} {'cpu s/GB':>9s}  problems")
    for r in rows:
        print(f"{r['dataset']:13s} {r['bytes'] / 1e6:7.1f} {r['items']:7d} {r['wall']:7.2f} {r['cpu']:7.2f} "
              f"{r['wall'] / gb(r):9.0f} {r['cpu'] / gb(r):9.0f}  {r['problems']}")
    tot = {k: sum(r[k] for r in rows) for k in ('bytes', 'wall', 'cpu')}
    print(f"{'all':13s} {tot['bytes'] / 1e6:7.1f} {'':7s} {tot['wall']:7.2f} {tot['cpu']:7.2f} "
          f"{tot['wall'] / (tot['bytes'] / 1e9):9.0f} {tot['cpu'] / (tot['bytes'] / 1e9):9.0f}")


if __name__ == '__main__':
    main()
