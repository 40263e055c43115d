"""Decoded 16-frame Fly-vs-Fly clips per second on one CPU core.

One clip = read one record from the ArrayRecord shards + parse the SequenceExample +
decode 16 JPEG frames of 144x144 to uint8 [16, 144, 144, 3].

    python benchmarks/decode_flyvsfly.py                  # synthetic release-format records in a temp dir
    python benchmarks/decode_flyvsfly.py --data-dir DIR   # an existing data dir (release or mini-SciVid)
    python benchmarks/decode_flyvsfly.py --mini           # mini-SciVid from the cache (generated if needed)
    SCIVID_DATA_DIR=DIR python benchmarks/decode_flyvsfly.py

Prints the clips/s figure (wall clock, and per CPU-second, which does not depend on other
processes sharing the core) and a breakdown of where the time goes.
"""
import argparse, os, tempfile, time
from pathlib import Path

import numpy as np

from scivid.core import env_data_dir
from scivid.datasets import open_split, write_split
from scivid.protobuf import decode_sequence_example

CLIP_LEN = 16


def synthetic_fly_video(rng, t=24, size=144):
    "Grey arena with two dark flies moving about, plus sensor noise (realistic JPEG sizes)."
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    bg = 200 - 40 * ((xx - size / 2) ** 2 + (yy - size / 2) ** 2) / size ** 2
    pos = rng.uniform(30, size - 30, (2, 2)) + np.cumsum(rng.normal(0, 2, (t, 2, 2)), 0)
    frames = []
    for k in range(t):
        img = bg.copy()
        for x, y in pos[k]:
            img -= 150 * np.exp(-((xx - x) ** 2 / 40 + (yy - y) ** 2 / 15))
        img += rng.normal(0, 4, img.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return np.stack(frames)


def write_synthetic(root, n, rng):
    examples = ({'frames': synthetic_fly_video(rng), 'labels': np.full(24, i % 7)} for i in range(n))
    write_split('flyvsfly', 'train', examples, root, num_shards=4)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data-dir', default=None, help='data dir with full/fly_vs_fly (default: $SCIVID_DATA_DIR, else synthetic)')
    p.add_argument('--mini', action='store_true', help='use mini-SciVid (scivid.mini.mini_scivid_dir(), generated once)')
    p.add_argument('--split', default='train')
    p.add_argument('--records', type=int, default=200, help='synthetic records to write')
    p.add_argument('--seconds', type=float, default=10.0, help='measuring time')
    p.add_argument('--cpu', type=int, default=None, help='CPU to pin to (default: the first allowed one)')
    args = p.parse_args()

    cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    rng = np.random.default_rng(0)
    if args.mini:
        from scivid.mini import mini_scivid_dir
        root = mini_scivid_dir()
    else:
        root = Path(args.data_dir).expanduser() if args.data_dir else env_data_dir()
    if root is None:
        root = Path(tempfile.mkdtemp(prefix='scivid-bench-'))
        t0 = time.perf_counter()
        write_synthetic(root, args.records, rng)
        print(f"wrote {args.records} synthetic 24-frame records to {root} in {time.perf_counter() - t0:.1f} s")
    ds = open_split('flyvsfly', args.split, root)
    rec = ds.records
    sizes = [len(rec[i]) for i in range(min(len(rec), 20))]
    print(f"data: {root} ({len(ds)} records, {len(rec.shards)} shards, ~{np.mean(sizes) / 1e3:.0f} kB per record), "
          f"pinned to CPU {cpu}")

    def one_clip():
        ex = ds[int(rng.integers(len(ds)))]
        n = len(ex['frames'])
        start = int(rng.integers(max(n - CLIP_LEN, 0) + 1))
        idx = np.minimum(np.arange(start, start + CLIP_LEN), n - 1)
        return ex['frames'].decode(idx)

    clip = one_clip()
    assert clip.shape[0] == CLIP_LEN and clip.shape[-1] == 3 and clip.dtype == np.uint8, clip.shape
    for _ in range(20): one_clip()  # warm-up (file cache, readers)
    count, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < args.seconds:
        one_clip(); count += 1
    rate = count / (time.perf_counter() - t0)
    cpu_rate = count / (time.process_time() - c0)  # per CPU-second: robust to other load on the core

    # breakdown on 200 clips
    idx = rng.integers(len(ds), size=200)
    t = time.perf_counter(); raw = [rec[int(i)] for i in idx]; t_read = time.perf_counter() - t
    t = time.perf_counter(); parsed = [ds._decode(*decode_sequence_example(r)) for r in raw]; t_parse = time.perf_counter() - t
    t = time.perf_counter()
    for ex in parsed: ex['frames'].decode(np.arange(min(CLIP_LEN, len(ex['frames']))))
    t_jpeg = time.perf_counter() - t
    print(f"clip shape {tuple(clip.shape)} {clip.dtype}")
    print(f"per clip: record read {t_read / 200 * 1e3:.2f} ms, protobuf {t_parse / 200 * 1e3:.2f} ms, "
          f"JPEG decode of {CLIP_LEN} frames {t_jpeg / 200 * 1e3:.2f} ms")
    print(f"decoded 16-frame Fly-vs-Fly clips per second on one core: {rate:.0f} wall-clock, "
          f"{cpu_rate:.0f} per CPU-second (load average {os.getloadavg()[0]:.1f})")


if __name__ == '__main__':
    main()
