"""`scivid ethogram` end to end on a mini-SciVid whole video, with a readout trained briefly on mini-SciVid clips.

Checked against what the test reads itself: the video's frame count (decoded here with PyAV), the expert labels'
CSV, and scikit-learn's F1 of the written per-frame labels. A short training run learns little; this test is
about every frame being labelled and scored correctly, not about the readout's skill.
"""
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

from scivid.cli import main
from scivid.mini import mini_scivid_dir
from scivid.run import RunConfig, run
from scivid.tasks import TASKS


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp('ethogram') / 'run'
    run(RunConfig(task='flyvsfly', out_dir=str(out), examples=64, batch_size=32, readouts='linear', splits='test',
                  progress=False))
    return out


def test_ethogram_labels_every_frame_and_scores_against_the_experts(trained, tmp_path, capsys):
    video = mini_scivid_dir() / 'videos' / 'flyvsfly' / 'video_1.mp4'
    labels = video.with_name('video_1_labels.csv')
    out = tmp_path / 'eth'
    assert main(['ethogram', '--run', str(trained), '--video', str(video), '--labels', str(labels), '--stride', '7',
                 '--readout', 'linear', '--out', str(out)]) == 0
    with av.open(str(video)) as f: num_frames = sum(1 for _ in f.decode(video=0))
    frames = pd.read_csv(out / 'frames.csv')
    assert frames.frame.tolist() == list(range(num_frames))  # every frame, the first and last 15 included
    classes = TASKS['flyvsfly'].classes
    probs = frames[[f'p_{c}' for c in classes]].to_numpy()
    assert ((probs >= 0) & (probs <= 1)).all()
    assert frames.label.tolist() == [classes[k] for k in probs.argmax(1)]
    bouts = pd.read_csv(out / 'bouts.csv')  # bouts tile the video, each one label
    assert bouts.start.iloc[0] == 0 and bouts.end.iloc[-1] == num_frames - 1
    assert (bouts.start.iloc[1:].to_numpy() == bouts.end.iloc[:-1].to_numpy() + 1).all()
    for b in bouts.itertuples(): assert set(frames.label[b.start:b.end + 1]) == {b.label}
    expert = pd.read_csv(labels).label
    scores = pd.read_csv(out / 'scores.csv', index_col=0)
    present = sorted(set(expert) | set(frames.label))
    want = f1_score(expert, frames.label, labels=present, average=None, zero_division=0)
    np.testing.assert_allclose(scores.loc[present, 'f1'], want)
    assert (out / 'figures' / 'ethogram.png').stat().st_size > 5000
    assert 'bout_precision' in capsys.readouterr().out


def test_ethogram_refuses_a_run_of_another_task(tmp_path):
    from scivid.core import ScividError
    from scivid.ethogram import video_ethogram
    (tmp_path / 'config.json').write_text('{"task": "typhoon", "backbone": "resize"}')
    with pytest.raises(ScividError, match='ethograms need a behaviour task'):
        video_ethogram(tmp_path, mini_scivid_dir() / 'videos' / 'flyvsfly' / 'video_1.mp4')
