"""Device smoke test: the main job, briefly, on whatever devices this machine has; throughput and memory.

What a maintainer runs first on a new GPU machine (after `pip install -e ".[gpu]"`):

    python benchmarks/device_smoke.py [--examples 256] [--batch-size 32] [--backbone resize]

It prints what `scivid doctor` prints (the devices JAX and torch see), says whether an accelerator is there, then
runs the main job (Fly-vs-Fly, the README's first command) twice with a fresh feature cache: on `--backbone`
(default: the resize baseline, whose readout training runs in JAX) and on a tiny random VideoMAE saved on the fly
(a `transformers` backbone in torch, in bfloat16 on a GPU that computes in it: no download). Each run's cost line
follows: seconds and throughput of feature extraction, training and evaluation, peak host and device memory, and
the device; the load average is printed beside them (two cores shared with other work make CPU figures noisy).
Progress bars and phase lines go to stderr, among them the end of each extraction: clips/s and the share of its
wall time the device spent in backbone passes.
About a minute on 2 CPU cores; the run folders and caches go to a temporary folder.
"""
import argparse, os, sys, tempfile, time
from pathlib import Path

def load() -> str:
    "The 1-, 5- and 15-minute load averages."
    return 'load average ' + ', '.join(f'{x:.2f}' for x in os.getloadavg())

def smoke_run(backbone: str, root: Path, out: Path, examples: int, batch_size: int) -> dict:
    "Run the main job once on `backbone` into `out` (a fresh feature cache); returns its cost columns."
    from scivid.cost import COST_DEFAULTS
    from scivid.run import RunConfig, run
    result = run(RunConfig(task='flyvsfly', backbone=backbone, data_dir=str(root), out_dir=str(out), examples=examples,
                           batch_size=batch_size, splits='val', readouts='linear', progress=True))
    record = result.records[0]
    return {k: record[k] for k in COST_DEFAULTS} | {'backbone_dtype': record['backbone_dtype'], 'value': record['value'],
                                                    'metric': record['metric']}

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--examples', type=int, default=256, help='training examples of the linear readout')
    ap.add_argument('--batch-size', type=int, default=32)
    ap.add_argument('--backbone', default='resize', help='registry name, hub id or model folder (besides the tiny VideoMAE)')
    args = ap.parse_args(argv)
    from scivid.devices import doctor_report
    from scivid.cost import cost_line
    from scivid.hf_backbones import save_tiny_model
    from scivid.mini import resolve_data_dir
    import jax, torch
    print(doctor_report(), flush=True)
    accelerators = [d for d in jax.devices() if d.platform != 'cpu']
    if accelerators or torch.cuda.is_available():
        print(f'\naccelerator present: JAX on {len(accelerators)} x {accelerators[0].device_kind if accelerators else "none"}, '
              f'torch on {torch.cuda.device_count()} CUDA device(s)')
    else:
        print('\nno accelerator on this machine: the smoke runs go on the CPU (they check the path, not GPU speed)')
    root = resolve_data_dir(None)  # mini-SciVid from the usual cache (generated once), before the cache moves
    with tempfile.TemporaryDirectory(prefix='scivid-smoke-') as tmp:
        tmp = Path(tmp)
        os.environ['SCIVID_CACHE_DIR'] = str(tmp / 'cache')  # a fresh feature cache: every run extracts
        tiny = save_tiny_model('videomae', tmp / 'tiny-videomae')
        for name, backbone in [(args.backbone, args.backbone), ('tiny random VideoMAE (torch)', str(tiny))]:
            print(f'\n== {name}: Fly-vs-Fly, linear readout, {args.examples} examples at batch {args.batch_size} '
                  f'({load()})', flush=True)
            start = time.perf_counter()
            cost = smoke_run(backbone, root, tmp / f'run-{len(name)}', args.examples, args.batch_size)
            print(f"{cost['metric']} on val {cost['value']:.4f}; backbone in {cost['backbone_dtype']}; "
                  f'{time.perf_counter() - start:.1f} s in all ({load()})')
            print(cost_line(cost), flush=True)
    return 0

if __name__ == '__main__':
    sys.exit(main())
