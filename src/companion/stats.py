"""Intervals for noisy comparisons: percentile bootstrap, seeded so reruns agree to the bit.

Every verdict that compares noisy quantities (timing ratios, AP differences, stress
percentiles) decides on an :class:`Interval`, not on a point estimate.

    ratio = bootstrap_interval(lambda a, b: np.median(a) / np.median(b), baseline_ms, jcra_ms)
    ratio.measured("speedup")  # {"speedup": 1.7, "speedup_ci_low": 1.5, "speedup_ci_high": 1.9}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    """A point estimate with its (95%) confidence bounds."""

    estimate: float
    low: float
    high: float
    confidence: float = CONFIDENCE

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"interval bounds out of order: low {self.low} > high {self.high}")

    def above(self, threshold: float) -> bool:
        """The whole interval lies above ``threshold``."""
        return self.low > threshold

    def below(self, threshold: float) -> bool:
        """The whole interval lies below ``threshold``."""
        return self.high < threshold

    def straddles(self, threshold: float) -> bool:
        """The interval contains ``threshold``: the measurement cannot decide on that side."""
        return self.low <= threshold <= self.high

    def measured(self, name: str) -> dict[str, float]:
        """The three numbers a claim record stores: ``name``, ``name_ci_low``, ``name_ci_high``."""
        return {name: self.estimate, f"{name}_ci_low": self.low, f"{name}_ci_high": self.high}

    def format(self, spec: str = ".3g", scale: float = 1.0, unit: str = "") -> str:
        """E.g. ``'1.72 (95% CI 1.51–1.93)'``; ``scale=100, unit='%'`` for fractions."""
        value, low, high = (format(scale * x, spec) for x in (self.estimate, self.low, self.high))
        return f"{value}{unit} ({100 * self.confidence:.0f}% CI {low}{unit} to {high}{unit})"


def bootstrap_interval(
    statistic: Callable[..., float],
    *samples: np.ndarray,
    paired: bool = False,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap of ``statistic(*samples)``.

    ``paired=True`` draws the same indices for every sample (they must have one length: e.g. the
    two timings of one interleaved round); otherwise each sample is resampled on its own.
    """
    arrays = [np.asarray(s, dtype=float) for s in samples]
    if not arrays or any(a.ndim != 1 or a.size == 0 for a in arrays):
        raise ValueError("bootstrap_interval needs one or more non-empty 1-D samples")
    if paired and len({a.size for a in arrays}) != 1:
        raise ValueError(f"paired bootstrap needs samples of one length, got {[a.size for a in arrays]}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    rng = np.random.default_rng(seed)
    estimates = np.empty(resamples)
    for i in range(resamples):
        if paired:
            index = rng.integers(0, arrays[0].size, arrays[0].size)
            estimates[i] = statistic(*(a[index] for a in arrays))
        else:
            estimates[i] = statistic(*(a[rng.integers(0, a.size, a.size)] for a in arrays))
    return _percentile_interval(estimates, float(statistic(*arrays)), confidence)


def bootstrap_indices(
    statistic: Callable[[np.ndarray], float],
    count: int,
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Interval:
    """Bootstrap over ``count`` units (images, operations, seeds) when the statistic is not a plain
    function of one array: ``statistic(indices)`` recomputes it from the resampled unit indices
    (e.g. AP over a resampled set of images)."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    rng = np.random.default_rng(seed)
    estimates = np.array([statistic(rng.integers(0, count, count)) for _ in range(resamples)], dtype=float)
    return _percentile_interval(estimates, float(statistic(np.arange(count))), confidence)


def _percentile_interval(estimates: np.ndarray, estimate: float, confidence: float) -> Interval:
    bad = int(np.count_nonzero(~np.isfinite(estimates)))
    if bad or not np.isfinite(estimate):
        where = f"on {bad} of {estimates.size} resamples" if bad else "on the full sample"
        raise ValueError(
            f"the statistic gave a non-finite value ({where}); make it defined on every resample "
            "(e.g. no division by an empty count)"
        )
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return Interval(estimate, float(low), float(high), confidence)
