"""Bootstrap intervals: they cover known values at about their confidence, repeat to the bit with a
seed, and refuse samples they cannot handle."""

import numpy as np
import pytest

from companion import stats


def test_interval_of_a_mean_covers_the_true_mean_at_about_its_confidence():
    rng = np.random.default_rng(42)
    covered = 0
    trials = 200
    for trial in range(trials):
        sample = rng.normal(5.0, 2.0, 60)
        interval = stats.bootstrap_interval(np.mean, sample, resamples=400, seed=trial)
        covered += interval.straddles(5.0)
    # percentile bootstrap of a mean of 60 normals: about 0.93-0.95; 200 trials give +-0.03 of noise
    assert 0.88 <= covered / trials <= 0.99


def test_interval_width_shrinks_like_one_over_root_n():
    rng = np.random.default_rng(0)
    small = stats.bootstrap_interval(np.mean, rng.normal(0, 1, 100))
    large = stats.bootstrap_interval(np.mean, rng.normal(0, 1, 1600))
    ratio = (small.high - small.low) / (large.high - large.low)
    assert 3.0 < ratio < 5.5  # sqrt(16) = 4
    assert small.low < small.estimate < small.high


def test_paired_bootstrap_of_a_ratio_sees_through_shared_load():
    """Interleaved timings share the machine's load round by round: pairing removes it from the ratio."""
    rng = np.random.default_rng(1)
    load = rng.uniform(1.0, 3.0, 40)  # each round slowed by a different amount
    baseline, candidate = 2.0 * load, 1.0 * load * rng.normal(1.0, 0.01, 40)

    def ratio(a, b):
        return float(np.median(a / b))

    paired = stats.bootstrap_interval(ratio, baseline, candidate, paired=True)
    assert paired.straddles(2.0) and paired.high - paired.low < 0.02

    def ratio_of_medians(a, b):
        return float(np.median(a) / np.median(b))

    unpaired = stats.bootstrap_interval(ratio_of_medians, baseline, candidate)
    assert unpaired.high - unpaired.low > 10 * (paired.high - paired.low)


def test_same_seed_same_interval_other_seed_other_interval():
    sample = np.random.default_rng(3).exponential(1.0, 50)
    first = stats.bootstrap_interval(np.median, sample, seed=7)
    assert stats.bootstrap_interval(np.median, sample, seed=7) == first
    assert stats.bootstrap_interval(np.median, sample, seed=8) != first
    assert stats.bootstrap_indices(lambda i: float(sample[i].mean()), sample.size, seed=7) == (
        stats.bootstrap_indices(lambda i: float(sample[i].mean()), sample.size, seed=7)
    )


def test_bootstrap_indices_resamples_units_for_statistics_over_sets():
    """E.g. AP over images: the statistic sees which units were drawn, here a ratio of sums."""
    rng = np.random.default_rng(5)
    hits, totals = rng.integers(0, 10, 80), np.full(80, 10)

    def rate(indices):
        return float(hits[indices].sum() / totals[indices].sum())

    interval = stats.bootstrap_indices(rate, 80)
    assert interval.estimate == pytest.approx(hits.sum() / totals.sum())
    assert interval.low < interval.estimate < interval.high
    assert interval.straddles(interval.estimate) and not interval.above(interval.high)


def test_paired_samples_must_have_one_length_and_inputs_are_checked():
    calls = []

    def undefined_on_the_full_sample(indices):  # the full sample is evaluated after the 50 resamples
        calls.append(indices)
        return float("nan") if len(calls) > 50 else 1.0

    with pytest.raises(ValueError, match=r"paired bootstrap needs samples of one length, got \[3, 4\]"):
        stats.bootstrap_interval(lambda a, b: 0.0, np.ones(3), np.ones(4), paired=True)
    with pytest.raises(ValueError, match="non-empty 1-D samples"):
        stats.bootstrap_interval(np.mean, np.array([]))
    with pytest.raises(ValueError, match="non-empty 1-D samples"):
        stats.bootstrap_interval(np.mean, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\), got 1.5"):
        stats.bootstrap_interval(np.mean, np.ones(3), confidence=1.5)
    with pytest.raises(ValueError, match="count must be at least 1, got 0"):
        stats.bootstrap_indices(lambda i: 0.0, 0)
    with pytest.raises(ValueError, match=r"non-finite value \(on \d+ of 2000 resamples\)"):
        stats.bootstrap_interval(lambda a: float("inf") if a.sum() == 3.0 else 1.0, np.array([0.0, 1.0, 2.5]))
    with pytest.raises(ValueError, match=r"non-finite value \(on the full sample\)"):
        stats.bootstrap_indices(undefined_on_the_full_sample, 3, resamples=50)
    with pytest.raises(ValueError, match="interval bounds out of order"):
        stats.Interval(1.0, 2.0, 0.5)


def test_interval_decides_on_its_whole_range_and_feeds_a_record():
    interval = stats.Interval(1.7, 1.5, 1.9)
    assert interval.above(1.4) and not interval.above(1.5) and interval.below(2.0)
    assert interval.straddles(1.78) and not interval.straddles(2.0)
    assert interval.measured("speedup") == {"speedup": 1.7, "speedup_ci_low": 1.5, "speedup_ci_high": 1.9}
    assert interval.format(".3g") == "1.7 (95% CI 1.5 to 1.9)"
    assert stats.Interval(0.2, 0.1, 0.3).format(".0f", scale=100, unit="%") == "20% (95% CI 10% to 30%)"
