"""Readout training speed on the embedded default (mini-SciVid, resize baseline, cached features).

Prints training steps per second and examples per second for each readout of a task (the
readouts a run there trains: mini stand-ins where the task names them).
Usage: python benchmarks/train_speed.py [--task flyvsfly] [--steps 50] [--batch-size 32]
"""
import argparse, time
from flax import nnx
from scivid.mini import resolve_data_dir, is_mini_scivid
from scivid.run import RunConfig, split_table, feature_shapes
from scivid.tasks import get_task
from scivid.trainer import TrainConfig, make_optimizer, make_train_step, batch_features, readout_inputs
from scivid.task import train_batches
from scivid.zoo import load_backbone

def measure(task, backbone, table, readout: str, steps: int, batch_size: int) -> float:
    "Seconds per training step of `readout` (after compilation), data loading included."
    model = task.readouts[readout](feature_shapes(backbone, table), nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, make_optimizer(task, steps), wrt=nnx.Param)
    step, batches = make_train_step(task), train_batches(table, batch_size, seed=0)
    model.train()
    def one():
        batch = next(batches)
        feats, clips = batch_features(backbone, batch)
        return float(step(model, optimizer, feats, readout_inputs(batch, clips)))
    one()  # compile
    start = time.perf_counter()
    for _ in range(steps): one()
    return (time.perf_counter() - start) / steps

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--task', default='flyvsfly'); ap.add_argument('--backbone', default='resize')
    ap.add_argument('--steps', type=int, default=50); ap.add_argument('--batch-size', type=int, default=32)
    args = ap.parse_args()
    task, backbone, root = get_task(args.task), load_backbone(args.backbone), resolve_data_dir(None)
    task = task.for_data(mini=is_mini_scivid(root))
    config = RunConfig(task=args.task, backbone=args.backbone, progress=False)
    table = split_table(task, backbone, root, task.train_split, True, config)
    for readout in task.readouts:
        sec = measure(task, backbone, table, readout, args.steps, args.batch_size)
        print(f'{args.task} {readout:>10}: {1 / sec:6.2f} steps/s, {args.batch_size / sec:8.1f} examples/s '
              f'(batch {args.batch_size}, cached {args.backbone} features)')
