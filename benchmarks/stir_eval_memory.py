"""Peak memory of evaluating the tracking task on one long STIR video.

STIR videos run to thousands of frames, but the evaluation needs only the 16 frames of the
`linspace_clip` (first to last frame). This benchmark writes one long mini STIR video
(`scivid.synth_tracking.stir_video`, 160 x 128 JPEG frames) as a release-format record,
then, in a fresh process, measures the peak resident memory (Linux VmHWM, reset through
/proc/self/clear_refs before each step) above the memory held before the step, for:

1. `make_example`: decoding and resizing the 16-frame clip of the record;
2. the whole evaluation of that video (`scivid.trainer.evaluate` with the resize backbone,
   the full-size tracking readout, compiled beforehand, and the no-motion control), once
   and then again (the first run includes one-time allocations: threads, allocator arenas);
3. for contrast, decoding every frame of the video (what the evaluation must never do).

It also reports the numpy allocation peaks (tracemalloc; decoded frames are numpy arrays,
the readout's XLA buffers are not counted there) and the size all the decoded frames take. Run:

    python benchmarks/stir_eval_memory.py                # a 2,000-frame video
    python benchmarks/stir_eval_memory.py --frames 500 --json
"""
from __future__ import annotations
import argparse, json, subprocess, sys, tempfile, time, tracemalloc
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np


def _status_kb(field: str) -> int:
    "A memory field of /proc/self/status, in kB."
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(field + ':'): return int(line.split()[1])
    raise RuntimeError(f'no {field} in /proc/self/status (this benchmark needs Linux)')


def peak_above_now(step) -> tuple[float, object]:
    "Run `step()`; return (peak resident MB above the resident memory before it, its result)."
    Path('/proc/self/clear_refs').write_text('5')  # reset the high-water mark VmHWM to VmRSS
    before = _status_kb('VmRSS')
    out = step()
    return (_status_kb('VmHWM') - before) / 1024, out


def measure(root: str) -> dict:
    "In a fresh process: the memory of making the example, evaluating, and decoding everything."
    import jax
    from flax import nnx
    from scivid.datasets import open_split
    from scivid.backbones import ResizeBackbone
    from scivid.task import Examples, stack_examples
    from scivid.trainer import evaluate, readout_predictor, control_predictor, batch_features
    from scivid.tracking import STIR, make_example, make_tracking_readout, no_motion
    split = open_split('stir', 'test', root)
    record = split[0]
    frames = record['frames']
    H, W = frames.decode([0]).shape[1:3]
    backbone = ResizeBackbone()
    # Compile the readout on a batch of the right shapes before measuring anything.
    warm = stack_examples([make_example(record, False)]) | {'mask': np.ones(1, bool)}
    feats, _ = batch_features(backbone, warm)
    model = make_tracking_readout({k: v.shape[1:] for k, v in feats.items()}, nnx.Rngs(0))
    model.eval()
    predictors = {'attention': readout_predictor(STIR, model), 'control': control_predictor(no_motion)}
    jax.block_until_ready(predictors['attention'](feats, warm))
    del warm, feats

    tracemalloc.start()
    example_mb, example = peak_above_now(lambda: make_example(record, False))
    numpy_peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    del example
    run = lambda: evaluate(STIR, predictors, backbone, Examples(split, make_example, False), batch_size=1)
    t0 = time.perf_counter()
    eval_mb, (metrics, _) = peak_above_now(run)  # the first evaluation: one-time allocations included
    eval_s = time.perf_counter() - t0
    tracemalloc.start()
    repeat_mb, _ = peak_above_now(run)  # the same again: steady state
    eval_numpy_mb = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    tracemalloc.start()
    all_mb, video = peak_above_now(lambda: frames.decode(np.arange(len(frames))))
    all_numpy_mb = tracemalloc.get_traced_memory()[1] / 1e6  # resident memory may reuse freed pages; this cannot
    tracemalloc.stop()
    return {'frames': len(frames), 'frame_hw': [int(H), int(W)],
            'encoded_mb': sum(map(len, frames.encoded)) / 1e6,
            'all_frames_decoded_mb': video.nbytes / 1e6, 'clip_decoded_mb': 16 * H * W * 3 / 1e6,
            'make_example_peak_mb': example_mb, 'make_example_numpy_peak_mb': numpy_peak_mb,
            'evaluate_peak_mb': eval_mb, 'evaluate_repeat_peak_mb': repeat_mb, 'evaluate_numpy_peak_mb': eval_numpy_mb,
            'evaluate_seconds': eval_s, 'decode_all_peak_mb': all_mb, 'decode_all_numpy_peak_mb': all_numpy_mb,
            'control_acc': metrics['control']['acc']}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--frames', type=int, default=2000, help='length of the STIR video')
    p.add_argument('--json', action='store_true', help='print one JSON line instead of a report')
    p.add_argument('--measure', help=argparse.SUPPRESS)  # internal: data dir to measure in this process
    args = p.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    from scivid.datasets import write_split
    from scivid.synth_tracking import stir_video
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        write_split('stir', 'test', [stir_video(np.random.default_rng(0), args.frames, vid_idx=0)], root, 1)
        made = time.perf_counter() - t0
        out = subprocess.run([sys.executable, __file__, '--measure', root], check=True, capture_output=True, text=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(r))
        return
    print(f"STIR video: {r['frames']} frames of {r['frame_hw'][1]}x{r['frame_hw'][0]}, {r['encoded_mb']:.1f} MB of JPEGs "
          f"(written in {made:.0f} s); all frames decoded = {r['all_frames_decoded_mb']:.1f} MB, "
          f"the 16-frame clip = {r['clip_decoded_mb']:.2f} MB")
    print(f"make_example:          peak +{r['make_example_peak_mb']:.1f} MB resident "
          f"(numpy allocations peak {r['make_example_numpy_peak_mb']:.1f} MB)")
    print(f"evaluate (readout + control, resize backbone): peak +{r['evaluate_peak_mb']:.1f} MB resident "
          f"({r['evaluate_repeat_peak_mb']:.1f} MB when repeated; numpy allocations peak {r['evaluate_numpy_peak_mb']:.1f} MB), "
          f"{r['evaluate_seconds']:.1f} s")
    print(f"decoding every frame (contrast): peak +{r['decode_all_peak_mb']:.1f} MB resident")


if __name__ == '__main__':
    main()
