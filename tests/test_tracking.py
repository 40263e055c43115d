"""Tracking (STIR) tests beyond the notebook: metric cross-checks, control on the stored key
points, learning on mini-SciVid, and the memory bound of long-video evaluation."""
import math, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest

from scivid.tracking import STIR, score, reduce, no_motion, MAX_POINTS

THRESHOLDS = (4, 8, 16, 32, 64)


def plain_stir_accuracy(videos):
    """The protocol written out by hand, with Python floats and loops.

    `videos`: list of (predicted end points, true end points), unpadded lists of (x, y) in
    [0, 1]; the two lists of a video may differ in length."""
    within = {t: 0 for t in THRESHOLDS}
    total = 0
    for predicted, true in videos:
        true_px = [(round(x * 1280), round(y * 1024)) for x, y in true]
        for x, y in predicted:
            px, py = round(x * 1280), round(y * 1024)
            nearest = min(math.hypot(px - tx, py - ty) for tx, ty in true_px)
            total += 1
            for t in THRESHOLDS:
                if nearest <= t: within[t] += 1
    per_threshold = {t: within[t] / total for t in THRESHOLDS}
    return sum(per_threshold.values()) / len(THRESHOLDS), per_threshold


def random_videos(rng, n):
    "Random STIR-like videos: P start points, E != P true end points, predictions near them."
    videos = []
    for _ in range(n):
        P, E = rng.integers(1, MAX_POINTS + 1), rng.integers(1, MAX_POINTS + 1)
        true = rng.uniform(0, 1, (E, 2))
        near = true[rng.integers(0, E, P)]  # each prediction near some true end point...
        noise = rng.normal(0, 1, (P, 2)) * rng.choice([2, 10, 30, 100], (P, 1)) / np.array([1280, 1024])
        videos.append((np.clip(near + noise, 0, 1).astype(np.float32), true.astype(np.float32)))
    return videos


def test_stir_accuracy_matches_plain_computation():
    rng = np.random.default_rng(0)
    videos = random_videos(rng, 23)
    # Library path: padded batches (garbage in the padding), predictions [B, 34, T, 4] whose
    # last frame holds the end points, scored batch by batch and reduced over the split.
    stats = []
    for start in range(0, len(videos), 8):
        chunk = videos[start:start + 8]
        B, T = len(chunk), 16
        preds = rng.uniform(0, 1, (B, MAX_POINTS, T, 4)).astype(np.float32)
        batch = {'query_mask': np.zeros((B, MAX_POINTS), bool), 'end_mask': np.zeros((B, MAX_POINTS), bool),
                 'end_xy': rng.uniform(0, 1, (B, MAX_POINTS, 2)).astype(np.float32)}
        for b, (pred, true) in enumerate(chunk):
            preds[b, :len(pred), -1, :2] = pred
            batch['query_mask'][b, :len(pred)] = True
            batch['end_xy'][b, :len(true)] = true
            batch['end_mask'][b, :len(true)] = True
        stats.append(score(preds, batch))
    metrics = reduce({k: np.concatenate([s[k] for s in stats]) for k in stats[0]})
    acc, per_threshold = plain_stir_accuracy([(p.tolist(), t.tolist()) for p, t in videos])
    assert 0.1 < acc < 0.9  # the random case exercises every threshold
    assert metrics['acc'] == pytest.approx(acc, abs=1e-12)
    for t in THRESHOLDS:
        assert metrics[f'acc@{t}px'] == pytest.approx(per_threshold[t], abs=1e-12)
    assert len(set(per_threshold.values())) > 2
