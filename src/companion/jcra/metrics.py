"""COCO keypoint evaluation: pycocotools' COCOeval (AP at <= 20 persons per image), xtcocotools'
CrowdPose mode (APE / APM / APH by crowd index), and OKS in numpy.

OKS (object keypoint similarity), as pycocotools computes it for one prediction d and one ground
truth person g with area s^2 and labelled joints v_k > 0:

    OKS = mean over labelled k of exp(-d_k^2 / (2 * s^2 * kappa_k^2)),  kappa_k = 2 * sigma_k

and, when g has no labelled joint, the distances are measured to g's box grown by its own size
on every side (such persons are ignored by COCOeval anyway). AP averages the precision over OKS
thresholds 0.50:0.05:0.95 and recall 0:0.01:1.

The evaluators print a lot; their output is captured and returned under ``summary_text``.
Ground truth is read through ``data.coco.load_annotations`` (its one area fallback: 0.53 x box
area where a file has no ``area``, as xtcocotools does). This module imports only ``data/``.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data.coco import ImageRecord, KeypointAnnotations, load_annotations

COCO_STAT_NAMES = ("AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL")
CROWDPOSE_STAT_NAMES = ("AP", "AP50", "AP75", "AR", "AR50", "AR75", "APE", "APM", "APH")
MODES = ("coco", "crowdpose")


def oks_matrix(
    dt_keypoints: np.ndarray,
    gt_keypoints: np.ndarray,
    gt_areas: np.ndarray,
    sigmas: np.ndarray,
    gt_bboxes: np.ndarray | None = None,
) -> np.ndarray:
    """OKS between every prediction and every ground-truth person, as pycocotools computes it.

    Args:
        dt_keypoints: float[D, K, 2 or 3] predicted (x, y[, score]); the score is not used.
        gt_keypoints: float[G, K, 3] ground truth (x, y, v); v > 0 is labelled.
        gt_areas: float[G] person areas (s^2).
        sigmas: float[K] per-keypoint sigmas.
        gt_bboxes: float[G, 4] COCO boxes (x, y, w, h); needed only for persons with no labelled joint.

    Returns:
        float64[D, G] OKS values in [0, 1].
    """
    dt = np.asarray(dt_keypoints, dtype=np.float64)
    gt = np.asarray(gt_keypoints, dtype=np.float64)
    areas = np.asarray(gt_areas, dtype=np.float64)
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if dt.ndim != 3 or dt.shape[-1] < 2:
        raise ValueError(f"dt_keypoints must have shape [D, K, 2 or 3], got {dt.shape}")
    if gt.ndim != 3 or gt.shape[-1] != 3 or gt.shape[1] != dt.shape[1]:
        raise ValueError(f"gt_keypoints must have shape [G, {dt.shape[1]}, 3], got {gt.shape}")
    if areas.shape != (gt.shape[0],):
        raise ValueError(f"gt_areas must have shape [{gt.shape[0]}], got {areas.shape}")
    if sigmas.shape != (gt.shape[1],):
        raise ValueError(f"sigmas must have shape [{gt.shape[1]}], got {sigmas.shape}")
    variances = (2.0 * sigmas) ** 2
    labelled = gt[..., 2] > 0  # [G, K]
    dx = dt[:, None, :, 0] - gt[None, :, :, 0]  # [D, G, K]
    dy = dt[:, None, :, 1] - gt[None, :, :, 1]
    none_labelled = ~labelled.any(axis=1)  # [G]
    if none_labelled.any():
        if gt_bboxes is None:
            raise ValueError("gt_bboxes is needed for ground-truth persons without labelled joints")
        boxes = np.asarray(gt_bboxes, dtype=np.float64)
        x0 = boxes[:, 0] - boxes[:, 2]
        x1 = boxes[:, 0] + 2 * boxes[:, 2]
        y0 = boxes[:, 1] - boxes[:, 3]
        y1 = boxes[:, 1] + 2 * boxes[:, 3]
        xd, yd = dt[:, None, :, 0], dt[:, None, :, 1]
        box_dx = np.maximum(0, x0[None, :, None] - xd) + np.maximum(0, xd - x1[None, :, None])
        box_dy = np.maximum(0, y0[None, :, None] - yd) + np.maximum(0, yd - y1[None, :, None])
        dx = np.where(none_labelled[None, :, None], box_dx, dx)
        dy = np.where(none_labelled[None, :, None], box_dy, dy)
    e = (dx**2 + dy**2) / variances / (areas[None, :, None] + np.spacing(1)) / 2
    weight = np.where(none_labelled[:, None], True, labelled)[None].astype(np.float64)  # [1, G, K]
    return (np.exp(-e) * weight).sum(axis=-1) / weight.sum(axis=-1)


def keypoint_similarities(
    dt_keypoints: np.ndarray, gt_keypoints: np.ndarray, gt_area: float, sigmas: np.ndarray
) -> np.ndarray:
    """Per-keypoint similarity exp(-d_k^2 / (2 s^2 kappa_k^2)) for one pair; NaN where unlabelled.

    Args:
        dt_keypoints: float[K, 2 or 3]; gt_keypoints: float[K, 3]; gt_area: s^2; sigmas: float[K].
    Returns:
        float64[K]; its nan-mean is the pair's OKS.
    """
    dt = np.asarray(dt_keypoints, dtype=np.float64)
    gt = np.asarray(gt_keypoints, dtype=np.float64)
    d2 = ((dt[:, :2] - gt[:, :2]) ** 2).sum(axis=-1)
    similarity = np.exp(-d2 / ((2.0 * np.asarray(sigmas)) ** 2) / (gt_area + np.spacing(1)) / 2)
    return np.where(gt[:, 2] > 0, similarity, np.nan)


def _load_results(results: list | Path | str) -> list[dict]:
    if isinstance(results, (str, Path)):
        path = Path(results)
        if not path.is_file():
            raise FileNotFoundError(f"results file not found: {path}")
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from error
        where = str(path)
    else:
        where = "results"
    if not isinstance(results, list):
        raise ValueError(f"{where}: expected a list of COCO keypoint results, got {type(results).__name__}")
    for i, item in enumerate(results):
        for key in ("image_id", "keypoints", "score"):
            if not isinstance(item, dict) or key not in item:
                raise ValueError(
                    f"{where}[{i}]: missing field {key!r} (COCO results need image_id, category_id, keypoints, score)"
                )
    # COCO.loadRes adds fields to the dicts it is given; keep the caller's list untouched.
    return [dict(copy.deepcopy(item), category_id=item.get("category_id", 1)) for item in results]


def coco_keypoint_stats(
    gt_json: Path | str,
    results: list | Path | str,
    mode: str = "coco",
    sigmas: np.ndarray | None = None,
    use_area: bool | None = None,
) -> dict:
    """Evaluate COCO-format keypoint ``results`` against the ground truth file ``gt_json``.

    Args:
        gt_json: COCO keypoints annotation file.
        results: list of {"image_id", "category_id", "keypoints": [x, y, s] * K, "score"} or a
            JSON file of it, in the ground truth's pixel coordinates.
        mode: "coco" (pycocotools, keypoints) or "crowdpose" (xtcocotools, keypoints_crowd;
            the images need ``crowdIndex``).
        sigmas: float[K]; default: the COCO-17 or CrowdPose-14 sigmas, by the file's K.
        use_area: OKS scale from the annotation's ``area`` (True) or 0.53 x box area (False).
            Default True for "coco" and False for "crowdpose" (CrowdPose's own protocol).

    Returns:
        dict of fractions: "coco" mode AP, AP50, AP75, APM, APL, AR, AR50, AR75, ARM, ARL;
        "crowdpose" mode AP, AP50, AP75, AR, AR50, AR75, APE, APM, APH. A value is -1.0 where
        the evaluator finds no ground truth for it (pycocotools' convention). Also
        "summary_text": the evaluator's printed summary, and "n_results".
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    gt_json = Path(gt_json)
    if not gt_json.is_file():
        raise FileNotFoundError(f"ground-truth annotation file not found: {gt_json}")
    layout = load_annotations(gt_json).layout
    k = layout.num_keypoints
    if sigmas is None:
        sigmas = layout.sigmas
    sigmas = np.asarray(sigmas, dtype=np.float64)
    if sigmas.shape != (k,):
        raise ValueError(f"sigmas must have {k} values (the keypoints of {gt_json.name}), got {sigmas.shape}")
    detections = _load_results(results)
    for i, item in enumerate(detections):
        if len(item["keypoints"]) != 3 * k:
            raise ValueError(f"results[{i}].keypoints: expected 3*{k}={3 * k} numbers, got {len(item['keypoints'])}")
    names = COCO_STAT_NAMES if mode == "coco" else CROWDPOSE_STAT_NAMES
    if not detections:  # the evaluators cannot load an empty result list; nothing found = zero
        return {**{name: 0.0 for name in names}, "summary_text": "no detections: every AP and AR is 0", "n_results": 0}
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        if mode == "coco":
            stats = _pycocotools_stats(gt_json, detections, sigmas, True if use_area is None else use_area)
        else:
            stats = _xtcocotools_crowd_stats(gt_json, detections, sigmas, False if use_area is None else use_area)
    out = {name: float(value) for name, value in zip(names, stats)}
    out["summary_text"] = buffer.getvalue()
    out["n_results"] = len(detections)
    return out


def _pycocotools_stats(gt_json: Path, detections: list[dict], sigmas: np.ndarray, use_area: bool) -> np.ndarray:
    if not use_area:
        raise ValueError("use_area=False is only available in mode='crowdpose' (xtcocotools)")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO(str(gt_json))
    dt = gt.loadRes(detections)
    evaluator = COCOeval(gt, dt, "keypoints")
    evaluator.params.kpt_oks_sigmas = sigmas
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator.stats


def import_xtcocotools() -> tuple[type, type]:
    """xtcocotools' (COCO, COCOeval), importable beside numpy 2.

    The published xtcocotools 1.14.3 wheel has its C mask module compiled against numpy 1, and
    importing it under numpy 2 fails ("numpy.dtype size changed"). That module is a copy of
    pycocotools' ``_mask`` (same functions: masks and box IoU; keypoint OKS never calls it), so
    when the import fails we register pycocotools' build under xtcocotools' name and import
    again. The evaluation code that runs is xtcocotools' own. The clean fix is an xtcocotools
    built against numpy 2 (``pip install --no-binary xtcocotools xtcocotools==1.14.3``).
    """
    import sys

    try:
        from xtcocotools.coco import COCO
        from xtcocotools.cocoeval import COCOeval
    except ValueError as error:
        if "dtype size changed" not in str(error):
            raise
        from pycocotools import _mask as pycocotools_mask

        sys.modules["xtcocotools._mask"] = pycocotools_mask
        for name in ("xtcocotools.mask", "xtcocotools.coco", "xtcocotools.cocoeval"):
            sys.modules.pop(name, None)
        from xtcocotools.coco import COCO
        from xtcocotools.cocoeval import COCOeval
    return COCO, COCOeval


def _xtcocotools_crowd_stats(gt_json: Path, detections: list[dict], sigmas: np.ndarray, use_area: bool) -> np.ndarray:
    COCO, COCOeval = import_xtcocotools()
    document = json.loads(gt_json.read_text(encoding="utf-8"))
    for i, image in enumerate(document["images"]):
        if "crowdIndex" not in image:
            raise ValueError(f"{gt_json}: images[{i}].crowdIndex: CrowdPose mode needs each image's crowd index")
    gt = COCO(str(gt_json))
    dt = gt.loadRes(detections)
    evaluator = COCOeval(gt, dt, "keypoints_crowd", sigmas=sigmas, use_area=use_area)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator.stats


def _people_of(image: ImageRecord):
    """The persons of one image that are not a crowd and have a labelled joint."""
    return (p for p in image.persons if not p.iscrowd and (p.keypoints[:, 2] > 0).any())


def _people(annotations: KeypointAnnotations):
    """``(image id, person)`` of every person that is not a crowd and has a labelled joint."""
    for image in annotations.images:
        for person in _people_of(image):
            yield image.id, person


def ground_truth_as_results(gt_json: Path | str, score: float = 1.0) -> list[dict]:
    """The ground truth's persons with labelled joints as COCO results (a sanity check: AP 1.0)."""
    return [
        {"image_id": image_id, "category_id": 1, "keypoints": person.keypoints.ravel().tolist(), "score": score}
        for image_id, person in _people(load_annotations(gt_json))
    ]


def format_stats(stats: dict) -> str:
    """One line per statistic, as the CLI prints them (``-1`` = not defined on this data)."""
    names = [name for name in (*COCO_STAT_NAMES, *CROWDPOSE_STAT_NAMES) if name in stats]
    return "\n".join(f"{name:5s} {stats[name]: .3f}" for name in dict.fromkeys(names))


def similarity_at(fraction: float, sigmas: np.ndarray) -> np.ndarray:
    """Keypoint similarity of each joint placed ``fraction`` of the person scale s away: exp(-f^2 / (2 kappa^2))."""
    return np.exp(-(fraction**2) / (2 * (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2))


def expected_oks(fraction: float, sigmas: np.ndarray) -> float:
    """Mean OKS of a prediction whose every coordinate has Gaussian error of std ``fraction * s``.

    With d^2 = (fraction * s)^2 * chi^2_2, E[exp(-d^2 / (2 s^2 kappa^2))] = 1 / (1 + fraction^2 / kappa^2),
    so the expected OKS (all joints labelled) is the mean of that over the K joints.
    """
    kappa2 = (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2
    return float(np.mean(1.0 / (1.0 + fraction**2 / kappa2)))


def perturbed_ground_truth(gt_json: Path | str, fraction: float, seed: int) -> list[dict]:
    """The ground truth as results, each coordinate moved by N(0, (fraction * sqrt(area))^2) pixels.

    Scores are random, so the ranking carries no information.
    """
    rng = np.random.default_rng(seed)
    results = []
    for image_id, person in _people(load_annotations(gt_json)):
        kp = person.keypoints.copy()
        kp[:, :2] += rng.normal(0.0, fraction * np.sqrt(person.area), size=kp[:, :2].shape)
        results.append(
            {
                "image_id": image_id,
                "category_id": 1,
                "keypoints": kp.ravel().tolist(),
                "score": float(rng.uniform(0.5, 1.0)),
            }
        )
    return results


def ap_versus_noise(gt_json: Path | str, fractions: list[float], repeats: int = 3, seed: int = 0, mode: str = "coco"):
    """AP of noisy copies of the ground truth, per noise level and repeat (a pandas DataFrame).

    Columns: fraction (noise std / person scale), repeat, AP, AP50, AP75, mean_oks (measured over
    the labelled joints of every person against its own noisy copy), expected_oks (formula).
    """
    import pandas as pd

    annotations = load_annotations(gt_json)
    sigmas = annotations.layout.sigmas
    people = [person for _, person in _people(annotations)]
    truth = np.stack([person.keypoints for person in people])
    areas = np.array([person.area for person in people])
    rows = []
    for fraction in fractions:
        for repeat in range(repeats):
            results = perturbed_ground_truth(gt_json, fraction, seed=seed * 1000 + repeat)
            noisy = np.array([r["keypoints"] for r in results], dtype=np.float64).reshape(truth.shape)
            own = [
                oks_matrix(noisy[i : i + 1], truth[i : i + 1], areas[i : i + 1], sigmas)[0, 0]
                for i in range(len(people))
            ]
            stats = coco_keypoint_stats(gt_json, results, mode=mode)
            rows.append(
                {
                    "fraction": fraction,
                    "repeat": repeat,
                    "AP": stats["AP"],
                    "AP50": stats["AP50"],
                    "AP75": stats["AP75"],
                    "mean_oks": float(np.mean(own)),
                    "expected_oks": expected_oks(fraction, sigmas),
                }
            )
    return pd.DataFrame(rows)


def matched_keypoint_similarities(gt_json: Path | str, results: list | Path | str):
    """Per ground-truth person and joint, the similarity to its best-matching prediction.

    For each person (not crowd, with labelled joints) the prediction of the same image with the
    highest OKS is its match (COCOeval matches greedily by score; for a per-joint picture the
    best match is what a reader wants to see). Returns a pandas DataFrame with columns image_id,
    person, keypoint, distance_px, similarity, oks.
    """
    import pandas as pd

    annotations = load_annotations(gt_json)
    layout = annotations.layout
    detections = _load_results(results)
    rows = []
    for image in annotations.images:
        people = [p for p in image.persons if not p.iscrowd and (p.keypoints[:, 2] > 0).any()]
        preds = [d for d in detections if d["image_id"] == image.id]
        if not people or not preds:
            continue
        truth = np.stack([p.keypoints for p in people])
        areas = np.array([p.area for p in people])
        dt = np.array([d["keypoints"] for d in preds], dtype=np.float64).reshape(len(preds), -1, 3)
        matrix = oks_matrix(dt, truth, areas, layout.sigmas)
        for person in range(len(people)):
            best = int(matrix[:, person].argmax())
            similarity = keypoint_similarities(dt[best], truth[person], areas[person], layout.sigmas)
            distance = np.linalg.norm(dt[best, :, :2] - truth[person, :, :2], axis=-1)
            for k, name in enumerate(layout.keypoints):
                if truth[person, k, 2] > 0:
                    rows.append(
                        {
                            "image_id": image.id,
                            "person": person,
                            "keypoint": name,
                            "distance_px": float(distance[k]),
                            "similarity": float(similarity[k]),
                            "oks": float(matrix[best, person]),
                        }
                    )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- AP over a resampled set of images


@dataclass(frozen=True)
class ImageEvaluation:
    """COCOeval's matching on one image (area range all, at most 20 persons): ``scores`` float[D],
    ``matched`` and ``ignored`` bool[T, D] per OKS threshold, ``ground_truth`` persons counted."""

    scores: np.ndarray
    matched: np.ndarray
    ignored: np.ndarray
    ground_truth: int


def image_evaluations(gt_json: Path | str, results: list | Path | str, mode: str = "coco") -> list[ImageEvaluation]:
    """The evaluator's per-image matching of ``results``, one entry per image of ``gt_json`` in file
    order, so that :func:`average_precision` can recompute AP on any multiset of images (bootstrap).

    ``mode`` as in :func:`coco_keypoint_stats`: "coco" (pycocotools) or "crowdpose" (xtcocotools'
    keypoints_crowd with its OKS scale of 0.53 x box area; :func:`average_precision` over the
    images of one crowd level is then that level's APE / APM / APH)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode == "coco":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    else:
        COCO, COCOeval = import_xtcocotools()

    annotations = load_annotations(gt_json)
    detections = _load_results(results)
    thresholds = len(np.linspace(0.5, 0.95, 10))
    empty = ImageEvaluation(np.zeros(0), np.zeros((thresholds, 0), bool), np.zeros((thresholds, 0), bool), 0)
    if not detections:
        counts = [sum(1 for _ in _people_of(image)) for image in annotations.images]
        return [dataclasses.replace(empty, ground_truth=n) for n in counts]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_json))
        if mode == "coco":
            evaluator = COCOeval(gt, gt.loadRes(detections), "keypoints")
            evaluator.params.kpt_oks_sigmas = annotations.layout.sigmas
        else:
            evaluator = COCOeval(gt, gt.loadRes(detections), "keypoints_crowd", annotations.layout.sigmas, False)
        evaluator.evaluate()
    per_image = dict(zip(evaluator.params.imgIds, evaluator.evalImgs[: len(evaluator.params.imgIds)]))
    out = []
    for image in annotations.images:
        entry = per_image.get(image.id)
        if entry is None:
            out.append(empty)
            continue
        out.append(
            ImageEvaluation(
                np.asarray(entry["dtScores"], dtype=np.float64),
                np.asarray(entry["dtMatches"]) > 0,
                np.asarray(entry["dtIgnore"], dtype=bool),
                int((~np.asarray(entry["gtIgnore"], dtype=bool)).sum()),
            )
        )
    return out


def average_precision(evaluations: list[ImageEvaluation], images: np.ndarray | None = None) -> float:
    """COCO AP (mean over OKS thresholds 0.50:0.05:0.95 of the 101-point interpolated precision), as
    ``COCOeval.accumulate`` computes it, over the images ``images`` (indices, repeats allowed)."""
    chosen = [evaluations[i] for i in (range(len(evaluations)) if images is None else images)]
    ground_truth = sum(e.ground_truth for e in chosen)
    if ground_truth == 0:
        return -1.0
    scores = np.concatenate([e.scores for e in chosen])
    order = np.argsort(-scores, kind="mergesort")
    matched = np.concatenate([e.matched for e in chosen], axis=1)[:, order]
    ignored = np.concatenate([e.ignored for e in chosen], axis=1)[:, order]
    true_positives = np.cumsum(matched & ~ignored, axis=1, dtype=np.float64)
    false_positives = np.cumsum(~matched & ~ignored, axis=1, dtype=np.float64)
    recall_points = np.linspace(0.0, 1.0, 101)
    precisions = []
    for tp, fp in zip(true_positives, false_positives):
        recall = tp / ground_truth
        precision = np.maximum.accumulate((tp / np.maximum(tp + fp, np.spacing(1)))[::-1])[::-1]
        where = np.searchsorted(recall, recall_points, side="left")
        sampled = np.zeros(len(recall_points))
        inside = where < len(precision)
        sampled[inside] = precision[where[inside]]
        precisions.append(sampled.mean())
    return float(np.mean(precisions))


# ----------------------------------------------------------------------------- grouping without post-processing


def grouping_purity(gt_json: Path | str, results: list | Path | str, min_score: float = 0.3, near: float = 0.5):
    """For every result with ``score >= min_score``: do all its joints that land on a person land on one?

    A predicted joint k lands on a ground-truth person of its image (not crowd, joint k labelled)
    when its keypoint similarity exp(-d^2 / (2 s^2 kappa_k^2)) to that person's joint k is at
    least ``near`` (0.5: the similarity AP50 asks of a whole pose); it goes to the most similar
    such person. The result is ``pure`` when the joints that landed went to one person. Returns a
    pandas DataFrame with columns image_index (position in the file), image_id, image_persons
    (ground-truth persons of the image), score, joints (that landed), persons (distinct they landed
    on), pure; results with no landed joint are left out.
    """
    import pandas as pd

    annotations = load_annotations(gt_json)
    kappa2 = (2.0 * annotations.layout.sigmas) ** 2
    detections = [d for d in _load_results(results) if d["score"] >= min_score]
    by_image: dict[int, list[dict]] = {}
    for d in detections:
        by_image.setdefault(int(d["image_id"]), []).append(d)
    rows = []
    for index, image in enumerate(annotations.images):
        people = list(_people_of(image))
        if not people:
            continue
        truth = np.stack([p.keypoints for p in people])  # [G, K, 3]
        areas = np.array([p.area for p in people])
        for d in by_image.get(image.id, []):
            predicted = np.asarray(d["keypoints"], dtype=np.float64).reshape(-1, 3)[:, :2]
            d2 = ((truth[..., :2] - predicted[None]) ** 2).sum(-1)  # [G, K]
            similarity = np.exp(-d2 / (areas[:, None] + np.spacing(1)) / kappa2 / 2)
            similarity = np.where(truth[..., 2] > 0, similarity, 0.0)
            landed = similarity.max(axis=0) >= near
            if not landed.any():
                continue
            owners = set(similarity.argmax(axis=0)[landed].tolist())
            rows.append(
                {
                    "image_index": index,
                    "image_id": image.id,
                    "image_persons": len(people),
                    "score": float(d["score"]),
                    "joints": int(landed.sum()),
                    "persons": len(owners),
                    "pure": len(owners) == 1,
                }
            )
    columns = ["image_index", "image_id", "image_persons", "score", "joints", "persons", "pure"]
    return pd.DataFrame(rows, columns=columns)
