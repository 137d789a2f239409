"""COCO keypoint evaluation: pycocotools' COCOeval (AP at <= 20 persons per image), xtcocotools'
CrowdPose mode (APE / APM / APH by crowd index), and OKS in numpy.

OKS (object keypoint similarity), as pycocotools computes it for one prediction d and one ground
truth person g with area s^2 and labelled joints v_k > 0:

    OKS = mean over labelled k of exp(-d_k^2 / (2 * s^2 * kappa_k^2)),  kappa_k = 2 * sigma_k

and, when g has no labelled joint, the distances are measured to g's box grown by its own size
on every side (such persons are ignored by COCOeval anyway). AP averages the precision over OKS
thresholds 0.50:0.05:0.95 and recall 0:0.01:1.

The evaluators print a lot; their output is captured and returned under ``summary_text``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np

from .data.skeleton import layout_for_num_keypoints

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


def _gt_num_keypoints(gt_json: Path) -> int:
    document = json.loads(gt_json.read_text(encoding="utf-8"))
    for category in document.get("categories", []):
        if isinstance(category, dict) and isinstance(category.get("keypoints"), list):
            return len(category["keypoints"])
    raise ValueError(f"{gt_json}: categories: expected one category with a 'keypoints' list")


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
    k = _gt_num_keypoints(gt_json)
    if sigmas is None:
        sigmas = layout_for_num_keypoints(k).sigmas
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


def ground_truth_as_results(gt_json: Path | str, score: float = 1.0) -> list[dict]:
    """The ground truth's persons with labelled joints as COCO results (a sanity check: AP 1.0)."""
    document = json.loads(Path(gt_json).read_text(encoding="utf-8"))
    return [
        {
            "image_id": ann["image_id"],
            "category_id": ann.get("category_id", 1),
            "keypoints": list(ann["keypoints"]),
            "score": score,
        }
        for ann in document["annotations"]
        if not ann.get("iscrowd", 0) and any(v > 0 for v in ann["keypoints"][2::3])
    ]


def format_stats(stats: dict) -> str:
    """One line per statistic, as the CLI prints them (``-1`` = not defined on this data)."""
    names = [name for name in (*COCO_STAT_NAMES, *CROWDPOSE_STAT_NAMES) if name in stats]
    return "\n".join(f"{name:5s} {stats[name]: .3f}" for name in dict.fromkeys(names))


def evaluate_model_on_split(
    checkpoint: Path | str,
    split: str = "crowd",
    data_params: dict | None = None,
    mode: str = "crowdpose",
    batch_size: int = 8,
) -> tuple[dict, list[dict], Path]:
    """Evaluate a trained checkpoint on a named synthetic split (``synthetic.SPLITS``).

    The split is generated at the model's input size unless ``data_params`` says otherwise.
    Returns (stats as ``coco_keypoint_stats`` gives them, the COCO results, the annotation file).
    """
    from .data.coco import synthetic_paths
    from .data.synthetic import ensure_split
    from .predict import evaluate as evaluate_model
    from .train import load_model

    model = load_model(checkpoint)
    params = {"image_size": model.config.input_size, **(data_params or {})}
    annotation_file, image_dir = synthetic_paths(ensure_split(split, params))
    stats, results = evaluate_model(model, annotation_file, image_dir, batch_size=batch_size, mode=mode)
    return stats, results, annotation_file


# ----------------------------------------------------------------------------- how AP reacts to noise


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
    document = json.loads(Path(gt_json).read_text(encoding="utf-8"))
    areas = {
        ann["id"]: float(ann.get("area", ann["bbox"][2] * ann["bbox"][3] * 0.53)) for ann in document["annotations"]
    }
    rng = np.random.default_rng(seed)
    results = []
    for ann in document["annotations"]:
        kp = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
        if ann.get("iscrowd", 0) or not (kp[:, 2] > 0).any():
            continue
        kp[:, :2] += rng.normal(0.0, fraction * np.sqrt(areas[ann["id"]]), size=kp[:, :2].shape)
        results.append(
            {
                "image_id": ann["image_id"],
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

    gt_json = Path(gt_json)
    document = json.loads(gt_json.read_text(encoding="utf-8"))
    sigmas = layout_for_num_keypoints(_gt_num_keypoints(gt_json)).sigmas
    people = [
        ann
        for ann in document["annotations"]
        if not ann.get("iscrowd", 0) and any(v > 0 for v in ann["keypoints"][2::3])
    ]
    truth = np.array([ann["keypoints"] for ann in people], dtype=np.float64).reshape(len(people), -1, 3)
    areas = np.array([float(ann.get("area", ann["bbox"][2] * ann["bbox"][3] * 0.53)) for ann in people])
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

    gt_json = Path(gt_json)
    document = json.loads(gt_json.read_text(encoding="utf-8"))
    layout = layout_for_num_keypoints(_gt_num_keypoints(gt_json))
    detections = _load_results(results)
    rows = []
    for image in document["images"]:
        people = [
            ann
            for ann in document["annotations"]
            if ann["image_id"] == image["id"]
            and not ann.get("iscrowd", 0)
            and any(v > 0 for v in ann["keypoints"][2::3])
        ]
        preds = [d for d in detections if d["image_id"] == image["id"]]
        if not people or not preds:
            continue
        truth = np.array([a["keypoints"] for a in people], dtype=np.float64).reshape(len(people), -1, 3)
        areas = np.array([float(a.get("area", a["bbox"][2] * a["bbox"][3] * 0.53)) for a in people])
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
                            "image_id": image["id"],
                            "person": person,
                            "keypoint": name,
                            "distance_px": float(distance[k]),
                            "similarity": float(similarity[k]),
                            "oks": float(matrix[best, person]),
                        }
                    )
    return pd.DataFrame(rows)
