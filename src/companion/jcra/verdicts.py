"""Decision rules of the ``jcra.*`` claims: pure functions, numbers in, a :class:`Verdict` out.

Each rule is the one declared in ``data/claims.yaml`` (``test.rule``) for its claim; the notebooks
measure and apply it. Noisy comparisons arrive as :class:`companion.stats.Interval` and decide on
it (``inconclusive`` when the interval straddles the threshold). Paper readings (69.2 AP, x1.78)
are passed in from the registry, never stored here.
"""

from __future__ import annotations

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
# COCO AP of one training recipe varies by a few tenths between runs; one point is a generous band
COCO_AP_TOLERANCE = 1.0


def one_stage(
    max_abs_difference_px: float,
    max_abs_difference_score: float,
    results_per_image: float,
    queries: int,
    grouping: Interval | None = None,
) -> Verdict:
    """jcra.one_stage: is inference the network's output, one person per query, with no post-processing?

    ``max_abs_difference_*``: largest difference between ``predict``'s results and the raw network
    output (px, score); ``results_per_image`` vs ``queries``: nothing removed or merged.
    ``grouping``: share of confident queries whose joints all lie nearest to one ground-truth
    person (trained model), reported as the measured quality of "grouping with no post-processing".

    - by design: predict equals the output within 1e-3 px and 1e-6 in score, one result per query;
    - not reproduced: it does not (then some post-processing changed the output).
    """
    same = (
        max_abs_difference_px <= ONE_STAGE_TOLERANCE_PX
        and max_abs_difference_score <= ONE_STAGE_TOLERANCE_SCORE
        and results_per_image == queries
    )
    grouped = (
        f"; {grouping.format('.0f', scale=100, unit='%')} of confident queries put all joints on one person"
        if grouping is not None
        else "; grouping quality not measured (untrained model)"
    )
    if not same:
        return Verdict(
            "not reproduced",
            f"predict differs from the network output (max {max_abs_difference_px:.2g} px, "
            f"{max_abs_difference_score:.2g} in score, {results_per_image:g} results for {queries} queries)" + grouped,
        )
    return Verdict(
        "by design",
        f"checked: predict equals the network output sorted by score (max {max_abs_difference_px:.1g} px), "
        f"{results_per_image:g} results per image for {queries} queries" + grouped,
        design=ONE_STAGE_DESIGN,
    )


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

    - reproduced: every interval lies above 0;
    - not reproduced: some interval lies below 0 (an asymmetric split is better);
    - inconclusive: otherwise (an interval straddles 0);
    - not measurable here: no symmetric split (odd total depth).
    """
    if symmetric_split is None or not differences:
        return Verdict("not measurable here", "no symmetric split at this total depth (use an even total depth)")
    parts = ", ".join(f"vs {name} {d.format('+.3f')}" for name, d in differences.items())
    budget = f"smallest difference this budget detects {detectable:.3f} AP"
    worse = [name for name, d in differences.items() if d.below(0)]
    if worse:
        return Verdict("not reproduced", f"{', '.join(worse)} beats symmetric {symmetric_split}: {parts}; {budget}")
    if all(d.above(0) for d in differences.values()):
        return Verdict("reproduced", f"symmetric {symmetric_split} beats every other split: {parts}; {budget}")
    straddling = f"AP(symmetric {symmetric_split}) minus other splits, 95% intervals straddle 0"
    return Verdict("inconclusive", f"{straddling}: {parts}; {budget}")


def coco_ap(synthetic_ap: float, coco_val_ap: float | None, reported_ap: float) -> Verdict:
    """jcra.coco_ap: keypoint AP (%) on COCO val2017 against the paper's reading.

    Without COCO (``coco_val_ap`` None) the claim is not measurable here; the synthetic AP is named as
    not comparable. With COCO: reproduced within ``COCO_AP_TOLERANCE`` points of the reading.
    """
    synthetic = f"synthetic val AP {synthetic_ap:.1f} (measured here, not comparable with the paper's COCO number)"
    if coco_val_ap is None:
        return Verdict("not measurable here", f"no COCO val2017 here; {synthetic}")
    gap = coco_val_ap - reported_ap
    text = f"COCO val2017 AP {coco_val_ap:.1f} vs {reported_ap:.1f} reported ({gap:+.1f}); {synthetic}"
    if gap >= -COCO_AP_TOLERANCE:
        return Verdict("reproduced", text)
    return Verdict("not reproduced", text)


def crowdpose(
    proxy_by_level: dict[str, tuple[float, float]],
    real_ap: float | None = None,
    real_split: str | None = None,
    best_published: tuple[str, float] | None = None,
) -> Verdict:
    """jcra.crowdpose: does JCRA beat the best published CrowdPose test AP (%)?

    ``proxy_by_level``: crowd level -> (JCRA AP, bottom-up baseline AP) in % on the synthetic crowd
    split, the labelled proxy reported in every case. ``real_ap`` on ``real_split`` of CrowdPose
    and ``best_published`` (method, test AP) decide when given; only the test split is compared.
    """
    proxy = ", ".join(f"{level} {mine:.1f} vs {theirs:.1f}" for level, (mine, theirs) in proxy_by_level.items())
    proxy = f"synthetic crowd proxy (JCRA vs bottom-up AP %, not comparable with the paper): {proxy}"
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
