"""Extraction clips/s and readout training steps/s on 1, 2 and 4 forced host (CPU) devices (issue 16).

    python benchmarks/data_parallel_speed.py [--devices 1,2,4] [--task flyvsfly] [--steps 30] [--clips 64]

Each device count runs in its own process (`XLA_FLAGS=--xla_force_host_platform_device_count=N`: the
count is fixed when JAX starts). In each: extraction = a fresh feature cache of the first `--clips`
training examples of mini-SciVid with the resize backbone (`feature_table`, decode + encode + write);
training = `--steps` data-parallel steps of the task's attention readout at batch 32 on cached features
(batch split over the devices, readout replicated, as `fit` does; compilation excluded). Prints one
line per device count and the load average. On a 2-core machine the forced devices share the same
cores, so expect no speed-up: the point of the devices there is correctness, not speed.
"""
import argparse, json, os, subprocess, sys, textwrap

CHILD = textwrap.dedent('''
    import json, sys, tempfile, time
    import jax
    from flax import nnx
    from scivid.feature_cache import feature_table
    from scivid.mini import resolve_data_dir, is_mini_scivid
    from scivid.run import RunConfig, split_table, split_examples, feature_shapes, BackboneSide
    from scivid.task import train_batches
    from scivid.tasks import get_task
    from scivid.trainer import (make_optimizer, make_train_step, batch_features, readout_inputs, data_mesh, place,
                                check_split)
    from scivid.zoo import load_backbone
    task_name, steps, clips, batch_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), 32
    backbone, root = load_backbone('resize'), resolve_data_dir(None)
    task = get_task(task_name).for_data(mini=is_mini_scivid(root))

    class First(BackboneSide):  # the first `clips` training examples
        def __len__(self): return min(clips, len(self.examples))
    side = First(split_examples(task, root, task.train_split, True, 0))
    start = time.perf_counter()
    feature_table(backbone, side, tempfile.mkdtemp() + '/bench.zarr', {'bench': 'data_parallel'}, progress=False)
    extract = len(side) / (time.perf_counter() - start)

    table = split_table(task, backbone, root, task.train_split, True,
                        RunConfig(task=task_name, examples=batch_size * (steps + 1), progress=False))
    mesh = data_mesh(); check_split(batch_size, mesh)
    model = task.readouts['attention'](feature_shapes(backbone, table), nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, make_optimizer(task, steps + 1), wrt=nnx.Param)
    nnx.update((model, optimizer), place(nnx.state((model, optimizer)), mesh, split=False))
    step, batches = make_train_step(task), train_batches(table, batch_size, seed=0)
    model.train()
    def one():
        batch = next(batches)
        feats, c = batch_features(backbone, batch)
        return float(step(model, optimizer, *place((feats, readout_inputs(batch, c)), mesh, split=True)))
    one()  # compile
    start = time.perf_counter()
    for _ in range(steps): one()
    train = steps / (time.perf_counter() - start)
    print(json.dumps({'devices': jax.device_count(), 'extract_clips_per_s': extract, 'train_steps_per_s': train}))
''')


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--devices', default='1,2,4'); p.add_argument('--task', default='flyvsfly')
    p.add_argument('--steps', type=int, default=30); p.add_argument('--clips', type=int, default=64)
    args = p.parse_args()
    print(f'{args.task}, resize backbone, mini-SciVid; attention readout at batch 32 (data-parallel over the devices)')
    print(f"{'devices':>8} {'extraction clips/s':>19} {'training steps/s':>17} {'examples/s':>11}")
    for n in map(int, args.devices.split(',')):
        env = os.environ | {'XLA_FLAGS': f'--xla_force_host_platform_device_count={n}', 'JAX_PLATFORMS': 'cpu'}
        out = subprocess.run([sys.executable, '-c', CHILD, args.task, str(args.steps), str(args.clips)], env=env,
                             capture_output=True, text=True)
        if out.returncode: sys.exit(out.stderr[-3000:])
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['devices']:>8} {r['extract_clips_per_s']:>19.1f} {r['train_steps_per_s']:>17.2f} "
              f"{32 * r['train_steps_per_s']:>11.1f}   (load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores)")


if __name__ == '__main__':
    main()
