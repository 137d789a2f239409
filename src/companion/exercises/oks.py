"""Exercise jcra/01: object keypoint similarity (OKS) by hand, checked against pycocotools.

    similarity_k = exp(-d_k^2 / (2 * s^2 * kappa_k^2)),  kappa_k = 2 * sigma_k,  s^2 = person area
    OKS = mean of similarity_k over the keypoints labelled in the ground truth (v_k > 0)

The reference OKS is pycocotools' own ``COCOeval.computeOks`` on a one-image data set, so the
exercise checks the student's formula against the evaluator that defines COCO keypoint AP.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval, Params

from companion.exercises.feedback import Feedback, as_array, as_number, checker, correct, not_yet, require_answer
from companion.jcra.data.skeleton import COCO_KEYPOINTS

# A standing person in a unit box (x right, y down), COCO-17 order; the exercises place and scale it.
STANDING_TEMPLATE = np.array(
    [
        [0.50, 0.08],
        [0.46, 0.06],
        [0.54, 0.06],
        [0.41, 0.08],
        [0.59, 0.08],
        [0.33, 0.22],
        [0.67, 0.22],
        [0.25, 0.40],
        [0.75, 0.40],
        [0.22, 0.56],
        [0.78, 0.56],
        [0.40, 0.56],
        [0.60, 0.56],
        [0.39, 0.77],
        [0.61, 0.77],
        [0.38, 0.97],
        [0.62, 0.97],
    ]
)


@dataclass(frozen=True)
class PersonExercise:
    """One ground-truth person and one prediction of it.

    Attributes:
        truth: float64[17, 3] ground truth (x, y, v) in pixels; v = 0 unlabelled (x = y = 0, as in
            COCO), 1 labelled but occluded, 2 labelled and visible.
        prediction: float64[17, 2] predicted (x, y) in pixels.
        area: the person's segmentation area s^2 in pixels^2.
        sigmas: float64[17] COCO's per-keypoint sigmas (pycocotools' ``kpt_oks_sigmas``).
        names: the 17 keypoint names.
    """

    truth: np.ndarray
    prediction: np.ndarray
    area: float
    sigmas: np.ndarray
    names: tuple[str, ...]

    @property
    def labelled(self) -> np.ndarray:
        """bool[17]: keypoints that count in OKS."""
        return self.truth[:, 2] > 0


def make_person(seed: int = 0) -> PersonExercise:
    """A seeded person 80x200 px with two unlabelled and two occluded joints, and a noisy prediction."""
    rng = np.random.default_rng(seed)
    width, height = 80.0, 200.0
    origin = np.array([60.0, 30.0]) + rng.uniform(0, 20, size=2)
    xy = origin + STANDING_TEMPLATE * [width, height] + rng.normal(0, 1.5, size=(17, 2))
    visibility = np.full(17, 2.0)
    visibility[rng.choice([3, 4], size=1)] = 0  # one ear is not labelled
    visibility[16] = 0  # nor the right ankle
    visibility[[9, 13]] = 1  # left wrist and left knee occluded but labelled
    truth = np.column_stack([np.where(visibility[:, None] > 0, xy, 0.0), visibility])
    sigmas = np.asarray(Params(iouType="keypoints").kpt_oks_sigmas, dtype=np.float64)
    # Errors grow with the joint's labelling spread; one wrist is badly off.
    prediction = xy + rng.normal(0, 1, size=(17, 2)) * (12 * sigmas)[:, None] * np.sqrt(width * height) / 40
    prediction[10] += [14.0, -9.0]
    area = float(np.round(0.55 * width * height))
    return PersonExercise(truth=truth, prediction=prediction, area=area, sigmas=sigmas, names=COCO_KEYPOINTS)


def pycocotools_oks(person: PersonExercise) -> float:
    """OKS of ``person.prediction`` against ``person.truth`` computed by pycocotools' COCOeval."""
    truth = person.truth
    labelled = truth[person.labelled]
    x0, y0 = labelled[:, :2].min(0)
    x1, y1 = labelled[:, :2].max(0)
    annotation = {
        "id": 1,
        "image_id": 1,
        "category_id": 1,
        "iscrowd": 0,
        "area": person.area,
        "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
        "keypoints": truth.flatten().tolist(),
        "num_keypoints": int(person.labelled.sum()),
    }
    detection = {
        "image_id": 1,
        "category_id": 1,
        "score": 1.0,
        "keypoints": np.column_stack([person.prediction, np.ones(17)]).flatten().tolist(),
    }
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
        ground_truth = COCO()
        ground_truth.dataset = {
            "images": [{"id": 1, "width": 400, "height": 400}],
            "annotations": [annotation],
            "categories": [{"id": 1, "name": "person"}],
        }
        ground_truth.createIndex()
        evaluator = COCOeval(ground_truth, ground_truth.loadRes([detection]), "keypoints")
        evaluator.params.imgIds = [1]
        evaluator._prepare()
        return float(evaluator.computeOks(1, 1)[0, 0])


def _similarities(
    person: PersonExercise,
    kappa_scale: float = 2.0,
    area_power: float = 1.0,
    half: float = 2.0,
    distance_power: float = 2.0,
) -> np.ndarray:
    """float64[17] per-keypoint similarity; the keyword arguments produce the usual slips."""
    distance = np.linalg.norm(person.prediction - person.truth[:, :2], axis=1)
    kappa = kappa_scale * person.sigmas
    return np.exp(-(distance**distance_power) / (half * person.area**area_power * kappa**2))


# The usual slips, each as (what the student did, the hint that points at it).
_SLIPS = {
    "kappa": (dict(kappa_scale=1.0), "your values match kappa_k = sigma_k.", "pycocotools uses kappa_k = 2 * sigma_k."),
    "scale": (
        dict(area_power=0.5),
        "your values match s instead of s^2 in the denominator.",
        "the person's area already is s^2; do not take its square root.",
    ),
    "half": (
        dict(half=1.0),
        "your values match a denominator without the factor 2.",
        "the Gaussian's exponent is d^2 / (2 * s^2 * kappa^2).",
    ),
    "distance": (
        dict(distance_power=1.0),
        "your values match the distance d instead of d^2.",
        "square the Euclidean distance (dx^2 + dy^2) before dividing.",
    ),
}


@checker
def check_similarities(similarities, person: PersonExercise) -> Feedback:
    """``similarities``: float[17], exp(-d_k^2 / (2 s^2 kappa_k^2)) per keypoint (unlabelled ones are not checked)."""
    answer = as_array(similarities, "similarities", (17,), "[keypoints]")
    labelled = person.labelled
    if np.allclose(answer[labelled], _similarities(person)[labelled], rtol=1e-5, atol=1e-9):
        return correct(f"all {labelled.sum()} labelled keypoints match the formula.")
    for arguments, problem, hint in _SLIPS.values():
        if np.allclose(answer[labelled], _similarities(person, **arguments)[labelled], rtol=1e-5, atol=1e-9):
            return not_yet(problem, hint)
    if np.any((answer < 0) | (answer > 1)):
        return not_yet("some similarities fall outside [0, 1].", "exp of a non-positive number lies in (0, 1].")
    wrong = [person.names[k] for k in np.flatnonzero(labelled & ~np.isclose(answer, _similarities(person), rtol=1e-5))]
    return not_yet(
        f"{len(wrong)} labelled keypoints differ from the formula, e.g. {', '.join(wrong[:3])}.",
        "d_k is the pixel distance between predicted and true keypoint k.",
    )


@checker
def check_oks(oks_value, person: PersonExercise) -> Feedback:
    """``oks_value``: the prediction's OKS, compared with pycocotools' ``computeOks``."""
    answer = as_number(oks_value, "oks_value")
    reference = pycocotools_oks(person)
    if abs(answer - reference) <= 1e-6:
        return correct("your OKS equals pycocotools' COCOeval.computeOks for this person.")
    similarity = _similarities(person)
    labelled, visible = person.labelled, person.truth[:, 2] == 2
    averaging_slips = {
        "averaged over all 17 keypoints, unlabelled ones included": similarity.mean(),
        "averaged over the visible keypoints (v = 2) only": similarity[visible].mean(),
        "summed instead of averaged": similarity[labelled].sum(),
    }
    for slip, value in averaging_slips.items():
        if abs(answer - value) <= 1e-6:
            return not_yet(
                f"your value is the similarities {slip}.",
                "OKS averages over the keypoints labelled in the ground truth, v > 0 (visible or occluded).",
            )
    for arguments, problem, hint in _SLIPS.values():
        if abs(answer - _similarities(person, **arguments)[labelled].mean()) <= 1e-6:
            return not_yet(problem.replace("values match", "OKS matches"), hint)
    if not 0 <= answer <= 1:
        return not_yet(f"OKS must lie in [0, 1], yours is {answer:.4g}.", "it is a mean of similarities in (0, 1].")
    side = "higher" if answer > reference else "lower"
    return not_yet(
        f"your OKS is {side} than pycocotools' value.",
        "check the similarities first (check_similarities), then which keypoints you average over.",
    )


@checker
def check_most_tolerant(keypoint, person: PersonExercise) -> Feedback:
    """``keypoint``: the name of a keypoint that tolerates the largest pixel error for a given similarity."""
    require_answer(keypoint, "most_tolerant_keypoint", "a keypoint name such as 'nose'")
    if keypoint not in person.names:
        return not_yet(f"{keypoint!r} is not a COCO keypoint name.", f"use one of: {', '.join(person.names)}.")
    tolerance = person.sigmas / person.sigmas.max()
    if np.isclose(tolerance[person.names.index(keypoint)], 1.0):
        return correct(f"{keypoint} has the largest sigma, so the same OKS allows it the largest pixel error.")
    return not_yet(
        f"{keypoint} is not the most tolerant keypoint.",
        "solve similarity_k = 0.5 for d_k: the allowed distance grows with kappa_k * s, and s is the "
        "same for every keypoint of one person.",
    )
