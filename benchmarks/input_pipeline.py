"""Behaviour clips per second through scivid's input pipeline, on one CPU core.

    python benchmarks/input_pipeline.py                    # synthetic release-format Fly-vs-Fly records
    python benchmarks/input_pipeline.py --dataset calms21  # synthetic CalMS21 records (285 x 512)
    python benchmarks/input_pipeline.py --data-dir DIR     # an existing data dir (release or mini-SciVid)
    python benchmarks/input_pipeline.py --mini             # mini-SciVid from the cache (generated if needed)

Prints, each as clips/s on one core (wall clock, and per CPU-second, which does not depend on
other processes sharing the core), with the load average:

- raw decode: read a record from the ArrayRecord shards, parse the SequenceExample, decode its
  16 JPEG frames to uint8 (one grey channel, as the task reads them; the 3-channel decode beside it);
- host train pipeline: the task's training examples (frames 0..15 decoded grey + the random
  zoom/crop(/blur/flip) drawn and composed with the resize into two maps), stacked into
  uint8 batches of 8 ready to transfer;
- host val pipeline: the same without augmentation;
- device transform: `render_video` of those batches (maps applied, scaled to [0, 1], 3 channels,
  224 x 224 float32), jitted; on a CPU-only machine it runs on the same core;
- end to end: host train pipeline + device transform, one after the other on the one core.

The original SciVid reader's figures on this kind of data (issue 12, median of 5 fresh processes,
one core each): train pipeline 25.1 clips/s, val 32.1, raw decode 228. Targets: train >= 125
(5x), raw decode >= 340 (1.5x).
"""
import argparse, os, sys, tempfile, time
from pathlib import Path


def pin(cpu):
    "Run this process on one CPU, single-threaded BLAS and XLA (before numpy and jax start their threads)."
    os.sched_setaffinity(0, {cpu})
    os.environ.update(OPENBLAS_NUM_THREADS='1', OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
                      XLA_FLAGS='--xla_cpu_multi_thread_eigen=false')


if __name__ == '__main__':
    _cpu = next((int(a.split('=')[1]) for a in sys.argv if a.startswith('--cpu=')), None)
    pin(_cpu if _cpu is not None else min(os.sched_getaffinity(0)))

import numpy as np

from scivid.clips import render_video
from scivid.core import env_data_dir
from scivid.datasets import open_split, write_split
from scivid.task import Examples, stack_examples
from scivid.tasks import get_task

CLIP_LEN, BATCH = 16, 8
SIZES = {'flyvsfly': (144, 144), 'calms21': (285, 512)}  # release frame sizes (PROTOCOL.md)


def synthetic_video(rng, t, h, w):
    "Grey arena with two dark animals moving about, plus sensor noise (realistic JPEG sizes)."
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    bg = 200 - 40 * ((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / (h * w)
    pos = rng.uniform(30, min(h, w) - 30, (2, 2)) + np.cumsum(rng.normal(0, 2, (t, 2, 2)), 0)
    frames = []
    for k in range(t):
        img = bg.copy()
        for x, y in pos[k]:
            img -= 150 * np.exp(-((xx - x) ** 2 / 40 + (yy - y) ** 2 / 15))
        img += rng.normal(0, 4, img.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return np.stack(frames)


def rate(fn, seconds):
    "(wall-clock, per-CPU-second) calls of `fn` per second, after a warm-up."
    for _ in range(3): fn()
    count, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        fn(); count += 1
    return count / (time.perf_counter() - t0), count / (time.process_time() - c0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dataset', default='flyvsfly', choices=sorted(SIZES))
    p.add_argument('--data-dir', default=None, help='data dir in the release layout (default: $SCIVID_DATA_DIR, else synthetic)')
    p.add_argument('--mini', action='store_true', help='use mini-SciVid (scivid.mini.mini_scivid_dir(), generated once)')
    p.add_argument('--records', type=int, default=200, help='synthetic 24-frame records to write')
    p.add_argument('--seconds', type=float, default=8.0, help='measuring time per figure')
    p.add_argument('--cpu', type=int, default=None, help='CPU to pin to, as --cpu=N (default: the first allowed one)')
    args = p.parse_args()
    cpu = min(os.sched_getaffinity(0))
    rng = np.random.default_rng(0)
    if args.mini:
        from scivid.mini import mini_scivid_dir
        root = mini_scivid_dir()
    else:
        root = Path(args.data_dir).expanduser() if args.data_dir else env_data_dir()
    if root is None:
        root = Path(tempfile.mkdtemp(prefix='scivid-bench-'))
        t0 = time.perf_counter()
        h, w = SIZES[args.dataset]
        write_split(args.dataset, 'train', ({'frames': synthetic_video(rng, 24, h, w), 'labels': [i % 3]}
                                            for i in range(args.records)), root, num_shards=4)
        print(f"wrote {args.records} synthetic 24-frame {h}x{w} records to {root} in {time.perf_counter() - t0:.1f} s")
    task = get_task(args.dataset)
    records = open_split(args.dataset, 'train', root)
    shape = records[0]['frames'].decode([0], grey=True).shape[1:3]
    print(f"data: {root} ({len(records)} {args.dataset} train records, frames {shape[0]}x{shape[1]}), pinned to CPU {cpu}")

    order = rng.permutation(np.arange(10 ** 6) % len(records))
    pos = iter(range(10 ** 9))
    next_record = lambda: records[int(order[next(pos) % len(order)])]
    def decode(grey):
        return lambda: next_record()['frames'].decode(np.arange(CLIP_LEN), grey=grey)
    def host(training):
        ex = Examples.of_task(task, records, training, seed=0)
        return lambda: stack_examples([ex.example(int(order[next(pos) % len(order)]), 0) for _ in range(BATCH)])
    batch = host(True)()
    render = lambda: render_video(batch['frames'], batch['warp_y'], batch['warp_x'])
    assert batch['frames'].dtype == np.uint8 and batch['frames'].shape == (BATCH, 1, CLIP_LEN, *shape, 1), batch['frames'].shape
    assert render().shape == (BATCH, 1, CLIP_LEN, 224, 224, 3)

    rows = [('raw decode (grey, as read)', rate(decode(True), args.seconds), 1),
            ('raw decode (3 channels)', rate(decode(False), args.seconds), 1),
            (f'host train pipeline (uint8 batches of {BATCH})', rate(host(True), args.seconds), BATCH),
            (f'host val pipeline (uint8 batches of {BATCH})', rate(host(False), args.seconds), BATCH),
            (f'device transform (render_video, batch {BATCH})', rate(render, args.seconds), BATCH)]
    train, dev = rows[2][1][1] * BATCH, rows[4][1][1] * BATCH
    print(f"{'':48s} {'clips/s':>8s} {'per CPU-s':>10s}")
    for name, (wall, cpu_rate), n in rows:
        print(f"{name:48s} {wall * n:8.0f} {cpu_rate * n:10.0f}")
    print(f"{'end to end, train (host + device, one core)':48s} {'':8s} {1 / (1 / train + 1 / dev):10.0f}")
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores)")


if __name__ == '__main__':
    main()
