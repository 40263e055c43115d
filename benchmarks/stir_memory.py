"""Peak memory of reading a 16-frame linspace clip from one long STIR video.

STIR videos run to thousands of frames; the evaluation only needs 16 of them (the
`linspace_clip` mode, first to last frame). This benchmark writes one 2,000-frame mini STIR
video (160 x 128 JPEG frames) as a release-format record, then, in a fresh process, opens it
with `open_split`, picks 16 frames with `linspace_clip_indices` and decodes only those
(`Frames.decode`). It prints the peak resident memory of that process (resource.getrusage),
its resident memory right after the imports and at the end (holding the example and the
clip), and the size of the decoded clip; for contrast, a second
fresh process decodes every frame of the video.

    python benchmarks/stir_memory.py                 # 2,000 frames in a temporary dir
    python benchmarks/stir_memory.py --frames 500    # a shorter video
"""
from __future__ import annotations
import argparse, json, resource, subprocess, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np


def peak_mb() -> float:
    "Peak resident memory of this process so far, MB (ru_maxrss is KB on Linux)."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    "Current resident memory of this process, MB (Linux /proc)."
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith('VmRSS:'): return int(line.split()[1]) / 1024
    return float('nan')


def read(root: str, clip_len: int, everything: bool) -> dict:
    "In a fresh process: open the split, decode `clip_len` linspace frames (or all), report memory."
    from scivid.datasets import open_split
    from scivid.clips import linspace_clip_indices
    after_imports = rss_mb()
    t0 = time.perf_counter()
    example = open_split('stir', 'test', root)[0]
    frames = example['frames']
    idx = np.arange(len(frames)) if everything else linspace_clip_indices(len(frames), clip_len)
    clip = frames.decode(idx)
    return {'frames_in_video': len(frames), 'decoded_shape': list(clip.shape), 'decoded_mb': clip.nbytes / 1e6,
            'encoded_mb': sum(map(len, frames.encoded)) / 1e6, 'seconds': time.perf_counter() - t0,
            'rss_after_imports_mb': after_imports, 'rss_now_mb': rss_mb(), 'peak_rss_mb': peak_mb()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--frames', type=int, default=2000, help='length of the STIR video')
    p.add_argument('--clip', type=int, default=16, help='frames in the linspace clip')
    p.add_argument('--read', help=argparse.SUPPRESS)  # internal: data dir to read in this process
    p.add_argument('--all', action='store_true', help=argparse.SUPPRESS)  # internal: decode every frame
    args = p.parse_args()
    if args.read:
        print(json.dumps(read(args.read, args.clip, args.all)))
        return
    from scivid.datasets import write_split
    from scivid.synth_tracking import stir_video
    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        video = stir_video(np.random.default_rng(0), args.frames, vid_idx=0)
        shards = write_split('stir', 'test', [video], root, 1)
        print(f"wrote a {args.frames}-frame STIR video ({sum(s.stat().st_size for s in shards) / 1e6:.1f} MB record) "
              f"in {time.perf_counter() - t0:.1f} s; generator peak RSS {peak_mb():.0f} MB")
        for label, extra in [(f'{args.clip}-frame linspace clip', []), ('all frames (for contrast)', ['--all'])]:
            out = subprocess.run([sys.executable, __file__, '--read', root, '--clip', str(args.clip), *extra],
                                 check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"{label}: decoded {r['decoded_shape']} uint8 = {r['decoded_mb']:.1f} MB from "
                  f"{r['encoded_mb']:.1f} MB of JPEGs in {r['seconds']:.2f} s; peak RSS {r['peak_rss_mb']:.0f} MB "
                  f"(RSS {r['rss_after_imports_mb']:.0f} MB after imports, {r['rss_now_mb']:.0f} MB holding the example and clip)")


if __name__ == '__main__':
    main()
