"""Decision rules of the ``jcra.*`` claims: pure functions, numbers in, a :class:`Verdict` out.

Each rule is the one declared in ``data/claims.yaml`` (``test.rule``) for its claim; the notebooks
measure and apply it. Noisy comparisons arrive as :class:`companion.stats.Interval` and decide on
it (``inconclusive`` when the interval straddles the threshold). Paper readings (69.2 AP, x1.78)
are passed in from the registry, never stored here.
"""

from __future__ import annotations

import math

from companion.claims import Verdict
from companion.stats import Interval

# jcra.one_stage and jcra.direct_regression hold because of this code; the rules check it is not broken.
ONE_STAGE_DESIGN = (
    "companion.jcra.predict.outputs_to_results: score = sigmoid(logit), keypoints scaled to the image, "
    "one result per pose query, nothing removed or merged (no NMS, no grouping, no heatmap decoding)"
)
DIRECT_REGRESSION_DESIGN = (
    "companion.jcra.model.JCRA.forward: each pose query's decoder layers regress (x, y) of all K joints "
    "as refinements of its reference pose; the model has no heatmap head"
)
# predict must equal the network output up to float32 rounding of a multiply by the image size
ONE_STAGE_TOLERANCE_PX = 1e-3
ONE_STAGE_TOLERANCE_SCORE = 1e-6
# most confident queries hold one person's joints; random joints of 2+ persons agree with p <= 0.5^16
GROUPING_THRESHOLD = 0.5
MIN_CONFIDENT_QUERIES = 50  # keeps the grouping interval narrower than about +-0.14


def one_stage(
    max_abs_difference_px: float,
    max_abs_difference_score: float,
    results_per_image: float,
    queries: int,
    grouping: Interval | None = None,
    confident_queries: int = 0,
) -> Verdict:
    """jcra.one_stage: is inference the network's output, one person per query, and does the
    learned grouping hold one person per query?

    ``max_abs_difference_*``: largest difference between ``predict``'s results and the raw network
    output (px, score); ``results_per_image`` vs ``queries``: nothing removed or merged.
    ``grouping``: share of the ``confident_queries`` (score >= 0.3, images with 2+ persons) whose
    joints all land on one ground-truth person, with its 95% interval over images.

    - not reproduced: predict differs from the output by 1e-3 px (1e-6 in score) or more, or
      returns another number of results than queries (a post-processing step changed the answer);
    - inconclusive: no grouping measurement, fewer than ``MIN_CONFIDENT_QUERIES`` confident
      queries, or a grouping interval that contains 0.5;
    - partly: the grouping interval lies below 0.5 (one-stage output, but the learned grouping
      mostly mixes persons);
    - by design: the grouping interval lies above 0.5.
    """
    same = (
        max_abs_difference_px < ONE_STAGE_TOLERANCE_PX
        and max_abs_difference_score < ONE_STAGE_TOLERANCE_SCORE
        and results_per_image == queries
    )
    check = (
        f"predict equals the network output sorted by score (max {max_abs_difference_px:.1g} px), "
        f"{results_per_image:g} results per image for {queries} queries"
    )
    if not same:
        return Verdict(
            "not reproduced",
            f"predict differs from the network output (max {max_abs_difference_px:.2g} px, "
            f"{max_abs_difference_score:.2g} in score, {results_per_image:g} results for {queries} queries)",
        )
    if grouping is None or confident_queries < MIN_CONFIDENT_QUERIES:
        return Verdict(
            "inconclusive",
            f"{check}; grouping not measured: {confident_queries} confident queries on images with 2+ persons "
            f"(at least {MIN_CONFIDENT_QUERIES} needed; untrained or weakly trained model)",
        )
    grouped = (
        f"{grouping.format('.0f', scale=100, unit='%')} of {confident_queries} confident queries "
        f"put all their joints on one person"
    )
    if grouping.straddles(GROUPING_THRESHOLD):
        return Verdict("inconclusive", f"{check}; {grouped}: the interval contains 50%")
    if grouping.below(GROUPING_THRESHOLD):
        return Verdict("partly", f"{check}, but only {grouped}: the learned grouping mostly mixes persons")
    return Verdict("by design", f"checked: {check}; {grouped}", design=ONE_STAGE_DESIGN)


def direct_regression(heatmap_outputs: int, coordinates_per_query: int, num_keypoints: int) -> Verdict:
    """jcra.direct_regression: does the network output coordinates per query and no heatmap?

    ``heatmap_outputs``: output tensors with spatial axes (counted on a forward pass);
    ``coordinates_per_query``: regressed numbers per query for the keypoints (2 K expected).
    """
    if heatmap_outputs == 0 and coordinates_per_query == 2 * num_keypoints:
        return Verdict(
            "by design",
            f"checked on a forward pass: {coordinates_per_query} coordinates regressed per query "
            f"(x, y of {num_keypoints} joints), no output tensor with spatial axes",
            design=DIRECT_REGRESSION_DESIGN,
        )
    return Verdict(
        "not reproduced",
        f"forward pass has {heatmap_outputs} spatial output(s) and {coordinates_per_query} coordinates per query "
        f"(expected 0 and {2 * num_keypoints})",
    )


def detectable_difference(seed_std: float, seeds: int) -> float:
    """Smallest AP difference between two splits that ``seeds`` seeds each resolve at 95%:
    1.96 standard errors of a difference of two means, ``1.96 * seed_std * sqrt(2 / seeds)``."""
    if seeds < 2:
        return float("inf")
    return 1.96 * seed_std * (2 / seeds) ** 0.5


def symmetric(differences: dict[str, Interval], symmetric_split: str | None, detectable: float) -> Verdict:
    """jcra.symmetric: does the symmetric split have a higher AP than every asymmetric split?

    ``differences``: asymmetric split (e.g. ``"1/3"``) -> AP(symmetric) - AP(that split), an
    interval bootstrapped over validation images and seeds; ``detectable``: the smallest
    difference the budget resolves (:func:`detectable_difference`).

    The interval covers the sampling of images (and of the seeds drawn); the seed-to-seed spread
    of training enters through ``detectable``, so a difference must also be at least that large:

    - reproduced: every interval lies above 0 and every difference is at least ``detectable``;
    - not reproduced: some interval lies below 0 by at least ``detectable`` (an asymmetric split
      is better);
    - inconclusive: otherwise (an interval straddles 0, or the gap is within the seed noise);
    - not measurable here: no symmetric split (odd total depth).
    """
    if symmetric_split is None or not differences:
        return Verdict("not measurable here", "no symmetric split at this total depth (use an even total depth)")
    parts = ", ".join(f"vs {name} {d.format('+.3f')}" for name, d in differences.items())
    budget = (
        f"smallest difference this budget detects {detectable:.3f} AP"
        if math.isfinite(detectable)
        else "one seed per split: no seed spread to size the smallest detectable difference"
    )
    worse = [name for name, d in differences.items() if d.below(0) and -d.estimate >= detectable]
    if worse:
        return Verdict("not reproduced", f"{', '.join(worse)} beats symmetric {symmetric_split}: {parts}; {budget}")
    if all(d.above(0) and d.estimate >= detectable for d in differences.values()):
        return Verdict("reproduced", f"symmetric {symmetric_split} beats every other split: {parts}; {budget}")
    straddling = (
        f"AP(symmetric {symmetric_split}) minus other splits: an interval straddles 0 or a gap is within seed noise"
    )
    return Verdict("inconclusive", f"{straddling}: {parts}; {budget}")


def coco_ap(synthetic_ap: float, coco_val_ap: Interval | None, reported_ap: float, floor_ap: float) -> Verdict:
    """jcra.coco_ap: keypoint AP (%) on COCO val2017 of a model trained on COCO at paper scale.

    ``coco_val_ap``: that AP with its interval over images, or None (no COCO, or no model trained on
    it: a CPU model trained on synthetic images says nothing about the reading). ``reported_ap``:
    the paper's reading (69.2); ``floor_ap``: PETR R-50's val2017 AP (68.8), the nearest public
    design. Reproduced when the interval contains or lies above the reading; not reproduced when
    it lies below the floor; partly otherwise. The synthetic AP is named as not comparable.
    """
    synthetic = f"synthetic val AP {synthetic_ap:.1f} (measured here, not comparable with the paper's COCO number)"
    if coco_val_ap is None:
        return Verdict(
            "not measurable here", f"no COCO val2017 AP of a model trained on COCO at paper scale; {synthetic}"
        )
    text = f"COCO val2017 AP {coco_val_ap.format('.1f')} vs {reported_ap:.1f} reported; {synthetic}"
    if coco_val_ap.high >= reported_ap:
        return Verdict("reproduced", text)
    if coco_val_ap.high < floor_ap:
        return Verdict("not reproduced", f"{text}; below PETR R-50's {floor_ap:.1f}")
    return Verdict("partly", f"{text}; between PETR R-50's {floor_ap:.1f} and the reading")


def crowdpose(
    proxy_by_level: dict[str, dict[str, Interval]],
    real_ap: float | None = None,
    real_split: str | None = None,
    best_published: tuple[str, float] | None = None,
) -> Verdict:
    """jcra.crowdpose: does JCRA beat the best published CrowdPose test AP (%)?

    ``proxy_by_level``: crowd level -> ``{"jcra", "bottomup", "difference"}`` AP (%) on the
    synthetic crowd split with 95% bootstrap intervals over the level's images
    (``evaluate.crowd_level_intervals``; difference = JCRA minus the bottom-up baseline): the
    labelled proxy, reported in every case but never deciding, since it is not CrowdPose.
    ``real_ap`` on ``real_split`` of CrowdPose and ``best_published`` (method, test AP) decide
    when given; only the test split is compared.
    """
    proxy = _crowd_proxy(proxy_by_level)
    if real_ap is None or best_published is None:
        return Verdict("not measurable here", f"no CrowdPose data here; {proxy}")
    if real_split != "test":
        return Verdict(
            "not measurable here",
            f"published rows are on CrowdPose test, this run measured {real_split} ({real_ap:.1f} AP); {proxy}",
        )
    name, best = best_published
    text = f"CrowdPose test AP {real_ap:.1f} vs best published {best:.1f} ({name}); {proxy}"
    return Verdict("reproduced" if real_ap > best else "not reproduced", text)


def _crowd_proxy(proxy_by_level: dict[str, dict[str, Interval]]) -> str:
    """The synthetic proxy in words: per level both APs and the difference with their intervals,
    and where the difference interval leaves out 0."""

    def bounds(interval: Interval, sign: str = "") -> str:
        return f"{interval.estimate:{sign}.1f} [{interval.low:{sign}.1f}, {interval.high:{sign}.1f}]"

    levels = "; ".join(
        f"{level} {bounds(i['jcra'])} vs {bounds(i['bottomup'])}, difference {bounds(i['difference'], '+')}"
        for level, i in proxy_by_level.items()
    )
    ahead = [level for level, i in proxy_by_level.items() if i["difference"].above(0)]
    behind = [level for level, i in proxy_by_level.items() if i["difference"].below(0)]
    told = f"JCRA ahead at: {', '.join(ahead) or 'none'}; behind at: {', '.join(behind) or 'none'}; "
    return (
        "synthetic crowd proxy (JCRA vs bottom-up AP % [95% bootstrap CI over the level's images], "
        f"not comparable with the paper): {levels or 'no level measured'} ({told}the rest cannot be told apart)"
    )


# jcra.speed_78: the protocol that stands for "previous state-of-the-art bottom-up" (see the registry's `baseline`)
SPEED_DECISIVE_BASELINE = "bottomup_flip"
SPEED_IDEAL_BASELINE = "bottomup_ideal"
SPEED_BASELINE_NAMES = {
    "bottomup": "trained single scale",
    "bottomup_flip": "flip test",
    "bottomup_multiscale": "multi-scale",
    "bottomup_ideal": "ideal maps",
}


def _case_names(cases: list[tuple[int, int]]) -> str:
    return ", ".join(f"{persons}p@{size}px" for size, persons in sorted(cases)) or "none"


def _speed_range(intervals: dict[tuple[int, int], Interval]) -> str:
    estimates = sorted(interval.estimate for interval in intervals.values())
    return f"x{estimates[0]:.2f}-x{estimates[-1]:.2f}"


def speed_78(
    speedups: dict[str, dict[tuple[int, int], Interval]],
    ap_difference: Interval,
    jcra_ap: float,
    bottomup_ap: float,
    throughput_reading: float,
    time_reading: float,
) -> Verdict:
    """``jcra.speed_78``: is JCRA x``throughput_reading`` faster than the bottom-up state of the art?

    ``speedups[baseline][(input_size, persons)]``: baseline time / JCRA time with its paired
    bootstrap interval, for ``bottomup`` (trained, single scale), ``bottomup_flip`` (decides),
    ``bottomup_multiscale`` and ``bottomup_ideal`` (network + post-processing on ground-truth maps);
    every measured case enters. ``ap_difference``: JCRA AP minus the flip-test baseline's
    (``bottomup_ap``), same training budget.

    Against the flip test: reproduced when every case's interval lies above the reading, not
    reproduced when every one lies below, inconclusive when none decides, partly otherwise. A
    reproduced verdict becomes partly when some ideal-map interval lies below the reading (the win
    then exists only against the trained baseline) or when JCRA's AP is below the baseline's.
    """
    for needed in (SPEED_DECISIVE_BASELINE, SPEED_IDEAL_BASELINE):
        if not speedups.get(needed):
            raise ValueError(f"speedups has no case for {needed!r}; it holds {sorted(speedups)}")
    decisive = speedups[SPEED_DECISIVE_BASELINE]
    above = [case for case, interval in decisive.items() if interval.above(throughput_reading)]
    below = [case for case, interval in decisive.items() if interval.below(throughput_reading)]
    if len(above) == len(decisive):
        outcome = "reproduced"
    elif len(below) == len(decisive):
        outcome = "not reproduced"
    elif not above and not below:
        outcome = "inconclusive"
    else:
        outcome = "partly"
    ideal_below = [case for case, iv in speedups[SPEED_IDEAL_BASELINE].items() if iv.below(throughput_reading)]
    only_trained = outcome == "reproduced" and bool(ideal_below)
    less_accurate = ap_difference.below(0.0)
    if outcome == "reproduced" and (only_trained or less_accurate):
        outcome = "partly"
    time_cases = [case for case, interval in decisive.items() if interval.above(time_reading)]
    others = "; ".join(
        f"{SPEED_BASELINE_NAMES.get(name, name)} {_speed_range(intervals)}"
        for name, intervals in speedups.items()
        if name != SPEED_DECISIVE_BASELINE and intervals
    )
    reason = (
        f"against the flip-test baseline JCRA is {_speed_range(decisive)} faster over {len(decisive)} cases: "
        f"interval above x{throughput_reading:g} in {_case_names(above)}, below in {_case_names(below)}, "
        f"undecided in {len(decisive) - len(above) - len(below)}; above x{time_reading:g} (78% less time) in "
        f"{len(time_cases)}; {others}; ideal-map baseline below x{throughput_reading:g} in {_case_names(ideal_below)}"
        + (" (so the win exists only against the trained baseline)" if only_trained else "")
        + f"; AP at the same budget JCRA {jcra_ap:.3f} vs flip-test baseline {bottomup_ap:.3f}, difference "
        f"{ap_difference.format('.3f')}" + (" (JCRA less accurate)" if less_accurate else "")
    )
    return Verdict(outcome, reason)
