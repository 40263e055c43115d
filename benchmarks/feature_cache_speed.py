"""Readout training speed with and without the frozen-feature cache, for a small VideoMAE on CPU.

    python benchmarks/feature_cache_speed.py [--width 384 --layers 12 --batch 8 --steps 6 --readout attention]

Builds a randomly initialised VideoMAE with SciVid's geometry (16 frames, 224x224, patch 16,
tubelet 2: 8x14x14 tokens) at VideoMAE-S's width and depth by default (384, 12 layers), a
toy 3-class task of 16-frame clips, and times the trainer's own training step (scivid.trainer: train_batches -> batch_features ->
train_step) on the fly (decode + backbone + readout) and from a feature cache (read +
readout). The first step (jit compilation) is excluded; the median step time is reported, with
the one-off cost of building the cache and the number of steps after which it has paid off.
The readout's own cost is the same both ways, so the ratio is (backbone + readout) / (read +
readout): bigger backbones (VideoMAE-B is 2x wider) give larger ratios.

It also prints bytes per clip on disk, as runs store features (float16, native time steps,
zstd-compressed): for this model's cache, and for VideoMAE-B's geometry (8 x 14 x 14 x 768
tokens per 16-frame clip) with random features standing in for the model's (noise compresses
worst, so this is an upper bound). The old layout (float32, upsampled to 16 steps) took 9.6 MB.
"""
import os
import argparse, tempfile, time
from pathlib import Path
import numpy as np
import optax
import torch
import transformers
from flax import nnx
from scivid.feature_cache import feature_table
from scivid.hf_backbones import load_hf_backbone, IMAGENET_MEAN, IMAGENET_STD
from scivid.core import atomic_write_json
from scivid.readouts import AttentionReadout, LinearReadout
from scivid.task import Examples, Task, train_batches
from scivid.trainer import batch_features, make_optimizer, make_train_step, readout_inputs

K = 3


def make_example(record, training, rng):
    return {'video': (record['video'].astype(np.float32) / 255)[None], 'label': np.eye(K, dtype=np.float32)[record['label']]}


def toy_task(num_params):
    return Task(name='toy', dataset='toy', eval_splits=('val',), train_split='train', make_example=make_example,
                readouts={'attention': lambda s, rngs: AttentionReadout(s['features'], K, num_params, 8, 0.5, rngs=rngs),
                          'linear': lambda s, rngs: LinearReadout(s['features'], K, rngs=rngs)},
                loss=lambda out, b: optax.sigmoid_binary_cross_entropy(out, b['label']).mean(-1),
                predict=nnx.sigmoid, score=None, reduce=None, controls={}, headline='acc')


def small_videomae(path, width, layers, seed=0):
    config = transformers.VideoMAEConfig(hidden_size=width, num_hidden_layers=layers, num_attention_heads=width // 64,
                                         intermediate_size=4 * width, use_mean_pooling=False)
    torch.manual_seed(seed)
    transformers.VideoMAEModel(config).save_pretrained(path)
    atomic_write_json(Path(path) / 'preprocessor_config.json',
                      {'crop_size': {'height': 224, 'width': 224}, 'do_center_crop': True, 'size': {'shortest_edge': 224},
                       'image_mean': list(IMAGENET_MEAN), 'image_std': list(IMAGENET_STD)})
    return path


def step_seconds(task, readout, backbone, table, steps, batch_size):
    "Median wall time of the trainer's step (batch loading + features + update), first step excluded."
    model = task.readouts[readout]({'features': (16, 196, backbone.model.config.hidden_size)}, nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, make_optimizer(task, 1000), wrt=nnx.Param)
    train_step, batches, times = make_train_step(task), train_batches(table, batch_size, seed=0), []
    for _ in range(steps + 1):
        t = time.perf_counter()
        batch = next(batches)
        feats, clips = batch_features(backbone, batch)
        float(train_step(model, optimizer, feats, readout_inputs(batch, clips)))
        times.append(time.perf_counter() - t)
    return float(np.median(times[1:]))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--width', type=int, default=384, help='VideoMAE-S: 384')
    p.add_argument('--layers', type=int, default=12, help='VideoMAE-S: 12')
    p.add_argument('--examples', type=int, default=32)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--steps', type=int, default=6, help='timed steps on the fly (the cached run does 4x more)')
    p.add_argument('--readout', choices=('attention', 'linear'), default='attention')
    p.add_argument('--num-params', type=int, default=128, help='attention readout width')
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp())
    backbone = load_hf_backbone(small_videomae(tmp / 'videomae', args.width, args.layers), offline=True,
                                batch_size=args.batch)
    rng = np.random.default_rng(0)
    records = [{'video': rng.integers(0, 255, (16, 112, 112, 3), dtype=np.uint8), 'label': i % K}
               for i in range(args.examples)]
    examples, task = Examples(records, make_example, training=True, seed=0), toy_task(args.num_params)
    print(f'VideoMAE width {args.width}, {args.layers} layers, 16x224x224 clips, batch {args.batch}, '
          f'{args.readout} readout, torch threads {torch.get_num_threads()}')
    fly = step_seconds(task, args.readout, backbone, examples, args.steps, args.batch)
    print(f'on the fly : {fly:8.3f} s/step')
    t = time.perf_counter()
    table = feature_table(backbone, examples, tmp / 'cache.zarr', {'task': 'toy', 'split': 'train'},
                          batch_size=args.batch, dtype='float16', progress=False)
    build = time.perf_counter() - t
    cached = step_seconds(task, args.readout, backbone, table, 4 * args.steps, args.batch)
    print(f'from cache : {cached:8.3f} s/step   (building it: {build:.1f} s for {args.examples} examples)')
    print(f'speed ratio: {fly / cached:.1f}x; the cache pays off after {build / max(fly - cached, 1e-9):.1f} steps')
    print(f'bytes/clip : {folder_bytes(tmp / "cache.zarr") / args.examples / 1e6:.2f} MB (this model, float16, native steps)')
    n = 8
    feature_table(NoiseVideoMAEB(), Examples(records[:n], make_example, training=True, seed=0), tmp / 'b.zarr',
                  {'task': 'toy', 'split': 'geometry'}, batch_size=n, dtype='float16', progress=False)
    print(f'bytes/clip : {folder_bytes(tmp / "b.zarr") / n / 1e6:.2f} MB (VideoMAE-B geometry 8x14x14x768, float16; '
          f'old layout: {16 * 14 * 14 * 768 * 4 / 1e6:.2f} MB)')
    print(f'load average: {" ".join(f"{x:.2f}" for x in os.getloadavg())}')


def folder_bytes(path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob('*') if f.is_file())


class NoiseVideoMAEB:
    "VideoMAE-B's output geometry (8 steps of 14x14 tokens of width 768 for 16 frames) with random values."
    name = 'noise-videomae-b'
    def preprocess(self, video): return video
    def encode(self, inputs):
        grid = np.random.default_rng(0).normal(0, 1, (len(inputs), 8, 14, 14, 768)).astype(np.float32)
        return {'features': grid.reshape(len(inputs), 8, 196, 768), 'grid_features': grid}
    def describe(self): return {'name': self.name}


if __name__ == '__main__':
    main()
