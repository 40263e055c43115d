"""Digital Typhoon task: the headline RMSE uses exactly lead steps 0, 1, 2, 5, 11."""
import itertools
import numpy as np
from scivid.typhoon import typhoon_score, typhoon_reduce, TYPHOON_HEADLINE_STEPS


def test_headline_uses_exactly_steps_0_1_2_5_11():
    # RMSE 2**k at lead step k: every subset of steps has a different mean, so the headline
    # value identifies the steps it averages.
    target = np.full((2, 12), 1000.0)
    preds = target + np.array([[1.0], [-1.0]]) * 2.0 ** np.arange(12)
    m = typhoon_reduce(typhoon_score(preds, {'pressure': target}))
    for k in range(12):
        np.testing.assert_allclose(m[f'rmse/step_{k}'], 2.0 ** k)
    assert TYPHOON_HEADLINE_STEPS == (0, 1, 2, 5, 11)
    np.testing.assert_allclose(m['rmse'], (1 + 2 + 4 + 32 + 2048) / 5)
    means = {steps: np.mean([2.0 ** k for k in steps]) for steps in itertools.combinations(range(12), 5)}
    assert [s for s, v in means.items() if np.isclose(v, m['rmse'])] == [(0, 1, 2, 5, 11)]


def test_mae_and_relative_error():
    target = np.array([[1000.0] * 12, [950.0] * 12])
    preds = target + np.array([[10.0], [-19.0]])
    m = typhoon_reduce(typhoon_score(preds, {'pressure': target}))
    np.testing.assert_allclose(m['mae'], 14.5)
    np.testing.assert_allclose(m['rel_err'], (10 / 1000 + 19 / 950) / 2)
