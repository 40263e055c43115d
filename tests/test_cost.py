"""Cost beside every score (issue 18, item 3): a run's records and the suite's results store carry what it cost.

One small Fly-vs-Fly run (resize baseline, linear readout, 32 examples at batch 16, the test split) with a
feature cache of its own, so that extraction happens in it; its folder is then merged into a suite store as a finished
suite run would be."""
import json, shutil, time
import pytest
from scivid.cost import COST_DEFAULTS, COST_PHASES, cost_line
from scivid.run import RunConfig, run, run_summary
from scivid.suite import DONE, collect_results, write_store, read_store

EXAMPLES, READOUTS = 32, ('linear',)

@pytest.fixture(scope='module')
def costed_run(mini_root, tmp_path_factory):
    "A finished run folder (fresh feature cache) and the wall seconds the test measured around it."
    tmp = tmp_path_factory.mktemp('cost')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv('SCIVID_CACHE_DIR', str(tmp / 'cache'))  # nothing cached: this run extracts its features
        start = time.perf_counter()
        result = run(RunConfig(task='flyvsfly', examples=EXAMPLES, batch_size=16, readouts=READOUTS, splits='test',
                               data_dir=str(mini_root), out_dir=str(tmp / 'run'), progress=False))
        seconds = time.perf_counter() - start
    return result, seconds

def check_cost(rows: list, wall: float):
    "Every record has every cost column; the phases were measured (positive) and fit inside the run's wall time."
    assert rows and all(set(COST_DEFAULTS) <= set(r) for r in rows)
    cost = {k: rows[0][k] for k in COST_DEFAULTS}
    assert all({k: r[k] for k in COST_DEFAULTS} == cost for r in rows)  # one run: one cost on every record
    for phase in COST_PHASES: assert cost[f'{phase}_s'] > 0 and cost[f'{phase}_per_s'] > 0, (phase, cost)
    assert sum(cost[f'{p}_s'] for p in COST_PHASES) <= wall  # phases never counted twice
    assert cost['host_peak_mb'] > 0 and cost['devices'] >= 1 and cost['device'] not in ('', 'unknown')
    assert cost['device_peak_mb'] == 0 if cost['device'] == 'cpu' else cost['device_peak_mb'] > 0
    # examples trained, counted by hand: the budget for each trained readout (rates are rounded to 3 decimals)
    assert cost['train_per_s'] * cost['train_s'] == pytest.approx(EXAMPLES * len(READOUTS), rel=1e-3)
    return cost

def test_run_records_carry_their_cost(costed_run):
    result, wall = costed_run
    records = json.loads((result.out_dir / 'metrics.json').read_text())
    assert records == result.records
    cost = check_cost(records, wall)
    assert {r['backbone_dtype'] for r in records} == {'float32'}  # resize computes in numpy float32
    assert cost_line(cost) in run_summary(result).split('\n')  # the summary ends with what the run cost

def test_suite_store_carries_the_cost(costed_run, tmp_path):
    result, wall = costed_run
    folder = tmp_path / 'suite' / 'flyvsfly-resize-all-s0'
    shutil.copytree(result.out_dir, folder)
    (folder / DONE).write_text(json.dumps({'data': 'mini'}))  # what execute_run marks a finished run with
    store = read_store(write_store(collect_results(tmp_path / 'suite'), tmp_path / 'suite'))
    assert len(store) == len(result.records)
    cost = check_cost(store.to_dict('records'), wall)
    assert cost == {k: result.records[0][k] for k in COST_DEFAULTS}
