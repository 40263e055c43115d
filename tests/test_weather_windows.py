"""Window counts of the WeatherBench 2 splits on a full hourly time axis (timestamps only)."""
import numpy as np
import pandas as pd
import pytest

from scivid.weather_data import (WEATHER_SPLITS, WEATHER_FRAME_INTERVAL, weather_window_frames,
                                 window_start_times)

HOURS = np.timedelta64(1, 'h')


@pytest.fixture(scope='module')
def full_hourly():
    "The release's hourly axis over every split's range (1979-01-01 .. 2021-12-31)."
    return pd.date_range('1979-01-01', '2021-12-31T23', freq='h').values


@pytest.mark.parametrize('split,count', [('online_dev', 78), ('offline_dev', 730), ('test', 732)])
def test_eval_counts(full_hourly, split, count):
    frames = weather_window_frames(full_hourly, split)
    assert frames.shape == (count, 32)


def test_train_count_and_bounds(full_hourly):
    frames = weather_window_frames(full_hourly, 'train')
    hours = (np.datetime64('2018-01-01T00') - np.datetime64('1979-01-02T00')) // HOURS
    assert len(frames) == (hours - 1 - 372) // 6 + 1  # every 6 h start whose last frame is in 2017
    t = full_hourly[frames]
    assert t[0, 0] == np.datetime64('1979-01-02T00')
    assert t[-1, -1] <= np.datetime64('2017-12-31T23') < t[-1, -1] + 6 * HOURS


@pytest.mark.parametrize('split', list(WEATHER_SPLITS))
def test_window_geometry(full_hourly, split):
    rule = WEATHER_SPLITS[split]
    t = full_hourly[weather_window_frames(full_hourly, split)]
    assert (np.diff(t, axis=1) == WEATHER_FRAME_INTERVAL).all()  # 32 frames, 12 h apart
    assert (np.diff(t[:, 0]) == rule.stride_hours * HOURS).all()
    assert t[0, 0] == np.datetime64(rule.first_day, 'h') + rule.offset_hours * HOURS  # offset from 00:00
    assert t[-1, -1] < np.datetime64(rule.last_day, 'h') + 24 * HOURS  # last day included
    assert t[-1, -1] + rule.stride_hours * HOURS >= np.datetime64(rule.last_day, 'h') + 24 * HOURS  # maximal


def test_first_window_times(full_hourly):
    first = {k: full_hourly[weather_window_frames(full_hourly, k)][0, 0] for k in WEATHER_SPLITS}
    assert first['online_dev'] == np.datetime64('2018-01-01T06')
    assert first['offline_dev'] == np.datetime64('2017-12-24T18')
    assert first['test'] == np.datetime64('2019-12-24T12')


def test_partial_and_coarser_store():
    # a 6-hourly store with a gap keeps only windows whose 32 frames all exist
    a = pd.date_range('2018-01-01', '2018-02-28T18', freq='6h').values
    b = pd.date_range('2018-04-01', '2018-05-31T18', freq='6h').values
    times = np.concatenate([a, b])
    frames = weather_window_frames(times, 'offline_dev')
    t = times[frames]
    assert (np.diff(t, axis=1) == WEATHER_FRAME_INTERVAL).all()
    starts = window_start_times('offline_dev').astype('datetime64[ns]')
    inside = lambda lo, hi: ((starts >= lo) & (starts + 372 * HOURS <= hi)).sum()
    assert len(frames) == inside(a[0], a[-1]) + inside(b[0], b[-1])
    assert len(weather_window_frames(times, 'test')) == 0
