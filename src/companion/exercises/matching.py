"""Exercise jcra/02: the Hungarian matching cost matrix of one small image, and its assignment.

A set-prediction model such as JCRA emits Q pose candidates (queries) per image; training must
decide which query answers for which of the N true persons before it can compute a loss. The
cost of giving query q to person n is (weights of ``companion.jcra.config.LossConfig``)::

    cost[q, n] = w_class * focal(p_q) + w_l1 * L1[q, n] + w_oks * (1 - OKS[q, n])

    focal(p)  = alpha (1 - p)^gamma (-log p) - (1 - alpha) p^gamma (-log(1 - p)),  p = sigmoid(logit)
    L1[q, n]  = mean over person n's labelled keypoints and both coordinates of |pred - truth|,
                coordinates as fractions of the canvas (x / width, y / height)
    OKS[q, n] = object keypoint similarity in pixels (see exercise 01)

and ``scipy.optimize.linear_sum_assignment`` picks the one-to-one assignment of least total cost.
The reference is the wing's own :class:`companion.jcra.matcher.HungarianMatcher`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from companion import style
from companion.exercises.feedback import (
    Feedback,
    Unusable,
    as_array,
    checker,
    correct,
    describe_indices,
    not_yet,
    require_answer,
    wrong_entries,
)
from companion.exercises.oks import STANDING_TEMPLATE
from companion.jcra.config import LossConfig
from companion.jcra.matcher import HungarianMatcher
from companion.jcra.oks import keypoint_sigmas


@dataclass(frozen=True)
class MatchingExercise:
    """A 128x96 image with N = 3 persons and Q = 5 predicted poses.

    Attributes:
        canvas_hw: (height, width) in pixels.
        truth: float64[N, K, 2] true keypoints in pixels (0 where unlabelled).
        labelled: bool[N, K].
        areas: float64[N] person areas in pixels^2.
        query_keypoints: float64[Q, K, 2] predicted keypoints in pixels.
        query_logits: float64[Q] person-score logits.
        sigmas: float64[K] COCO sigmas.
        loss: the matching weights (``match_class``, ``match_l1``, ``match_oks``) and focal parameters.
    """

    canvas_hw: tuple[int, int]
    truth: np.ndarray
    labelled: np.ndarray
    areas: np.ndarray
    query_keypoints: np.ndarray
    query_logits: np.ndarray
    sigmas: np.ndarray
    loss: LossConfig

    @property
    def n_queries(self) -> int:
        return self.query_keypoints.shape[0]

    @property
    def n_persons(self) -> int:
        return self.truth.shape[0]


def make_image(seed: int = 0) -> MatchingExercise:
    """Two overlapping persons and one apart; five queries: three guesses of varying quality, one halfway
    between the overlapping persons, one stray. Picking each person's cheapest query in turn is not optimal here."""
    rng = np.random.default_rng(seed)
    boxes = np.array([[8, 10, 30, 70], [22, 16, 26, 62], [84, 6, 36, 84]], dtype=np.float64)  # x, y, w, h
    truth = boxes[:, None, :2] + STANDING_TEMPLATE[None] * boxes[:, None, 2:]
    truth += rng.normal(0, 0.8, size=truth.shape)
    labelled = np.ones(truth.shape[:2], dtype=bool)
    labelled[0, [15, 16]] = False  # person 0's ankles leave the image
    labelled[1, [3, 4, 9]] = False
    truth[~labelled] = 0.0
    areas = np.round(0.55 * boxes[:, 2] * boxes[:, 3])

    def guess(person: int, noise: float) -> np.ndarray:
        centre = boxes[person, :2] + STANDING_TEMPLATE * boxes[person, 2:]
        return centre + rng.normal(0, noise, size=centre.shape)

    between = (guess(0, 1.0) + guess(1, 1.0)) / 2  # a pose halfway between persons 0 and 1
    stray = rng.uniform([0, 0], [128, 96], size=(17, 2))
    query_keypoints = np.stack([guess(2, 2.0), between, guess(0, 4.0), stray, guess(1, 8.0)])
    query_logits = np.array([2.0, 1.5, -0.5, -3.0, 0.5])
    return MatchingExercise(
        canvas_hw=(96, 128),
        truth=truth,
        labelled=labelled,
        areas=areas,
        query_keypoints=query_keypoints,
        query_logits=query_logits,
        sigmas=keypoint_sigmas(17).double().numpy(),
        loss=LossConfig(),
    )


def reference_cost(
    image: MatchingExercise,
    match_class: float | None = None,
    match_l1: float | None = None,
    match_oks: float | None = None,
) -> np.ndarray:
    """float64[Q, N] cost from the wing's ``HungarianMatcher.cost_matrix`` (weights overridable per term)."""
    weights = {
        name: value
        for name, value in (("match_class", match_class), ("match_l1", match_l1), ("match_oks", match_oks))
        if value is not None
    }
    matcher = HungarianMatcher(
        dataclasses.replace(image.loss, **weights), torch.as_tensor(image.sigmas, dtype=torch.float32)
    )
    height, width = image.canvas_hw
    canvas_wh = torch.tensor([width, height], dtype=torch.float64)
    target = {
        "keypoints": torch.as_tensor(image.truth) / canvas_wh,
        "labelled": torch.as_tensor(image.labelled),
        "areas": torch.as_tensor(image.areas),
    }
    with torch.no_grad():
        cost = matcher.cost_matrix(
            torch.as_tensor(image.query_logits),
            torch.as_tensor(image.query_keypoints) / canvas_wh,
            target,
            canvas_wh.float(),
        )
    return cost.double().numpy()


def reference_terms(image: MatchingExercise) -> dict[str, np.ndarray]:
    """The three unweighted terms: ``class`` float[Q], ``l1`` float[Q, N], ``oks`` float[Q, N] (= 1 - OKS)."""
    return {
        "class": reference_cost(image, 1.0, 0.0, 0.0)[:, 0],
        "l1": reference_cost(image, 0.0, 1.0, 0.0),
        "oks": reference_cost(image, 0.0, 0.0, 1.0),
    }


def _matrix(answer, name: str, image: MatchingExercise) -> np.ndarray:
    return as_array(answer, name, (image.n_queries, image.n_persons), "[queries, persons]")


def _mismatch(answer: np.ndarray, expected: np.ndarray, name: str, hint: str) -> Feedback:
    wrong = wrong_entries(answer, expected, rtol=1e-3, atol=1e-5)
    where = describe_indices(wrong, ("query", "person")) if expected.ndim == 2 else describe_indices(wrong, ("query",))
    return not_yet(f"`{name}` differs from the matcher at {where}.", hint)


@checker
def check_class_cost(class_cost, image: MatchingExercise) -> Feedback:
    """``class_cost``: float[Q], the focal classification cost of each query."""
    answer = as_array(class_cost, "class_cost", (image.n_queries,), "[queries]")
    expected = reference_terms(image)["class"]
    if np.allclose(answer, expected, rtol=1e-3, atol=1e-5):
        return correct("the focal cost of every query matches the matcher's.")
    probability = 1 / (1 + np.exp(-image.query_logits))
    alpha, gamma = image.loss.focal_alpha, image.loss.focal_gamma
    positive = alpha * (1 - probability) ** gamma * -np.log(probability)
    if np.allclose(answer, positive, rtol=1e-3, atol=1e-5):
        return not_yet(
            "your cost keeps only the positive (person) term.",
            "subtract the cost of calling the query background: (1 - alpha) p^gamma (-log(1 - p)).",
        )
    if np.allclose(answer, -expected, rtol=1e-3, atol=1e-5):
        return not_yet("your cost has the opposite sign.", "a confident query (large logit) must be cheap to match.")
    return _mismatch(answer, expected, "class_cost", "p is sigmoid(logit), not the logit itself.")


@checker
def check_l1_cost(l1_cost, image: MatchingExercise) -> Feedback:
    """``l1_cost``: float[Q, N], mean absolute keypoint error in canvas fractions over labelled keypoints."""
    answer = _matrix(l1_cost, "l1_cost", image)
    expected = reference_terms(image)["l1"]
    if np.allclose(answer, expected, rtol=1e-3, atol=1e-6):
        return correct("the L1 term matches the matcher's for every query and person.")
    height, width = image.canvas_hw
    ratio = np.median(answer / expected)
    if np.isclose(ratio, 2.0, rtol=1e-3):
        return not_yet(
            "your values are twice the matcher's.", "average over both coordinates, not only over keypoints."
        )
    if np.isclose(ratio, width, rtol=0.3) or np.isclose(ratio, height, rtol=0.3):
        return not_yet("your values look like pixels.", "divide x by the canvas width and y by its height first.")
    if ratio > 5:
        return not_yet("your values are many times the matcher's.", "average over labelled keypoints; do not sum.")
    return _mismatch(
        answer,
        expected,
        "l1_cost",
        "use only the keypoints labelled for person n, in both the numerator and the count.",
    )


@checker
def check_oks_cost(oks_cost, image: MatchingExercise) -> Feedback:
    """``oks_cost``: float[Q, N], 1 - OKS of query q against person n."""
    answer = _matrix(oks_cost, "oks_cost", image)
    expected = reference_terms(image)["oks"]
    if np.allclose(answer, expected, rtol=1e-3, atol=1e-5):
        return correct("1 - OKS matches the matcher's for every query and person.")
    if np.allclose(answer, 1 - expected, rtol=1e-3, atol=1e-5):
        return not_yet("your matrix holds OKS itself.", "a cost must be low for a good match: use 1 - OKS.")
    if np.all(answer < 0.05):
        return not_yet(
            "every entry is close to 0, as if every query matched every person perfectly.",
            "compute OKS in pixels: the areas are in pixels^2.",
        )
    return _mismatch(
        answer, expected, "oks_cost", "reuse your OKS from exercise 01, one (query, person) pair at a time."
    )


@checker
def check_cost(cost, image: MatchingExercise) -> Feedback:
    """``cost``: float[Q, N], the weighted total."""
    answer = _matrix(cost, "cost", image)
    expected = reference_cost(image)
    if np.allclose(answer, expected, rtol=1e-3, atol=1e-4):
        return correct("your cost matrix equals HungarianMatcher.cost_matrix.")
    loss = image.loss
    for term, weights in (("class", (0.0, None, None)), ("L1", (None, 0.0, None)), ("OKS", (None, None, 0.0))):
        if np.allclose(answer, reference_cost(image, *weights), rtol=1e-3, atol=1e-4):
            return not_yet(f"your cost misses the {term} term.", "add all three weighted terms.")
    if np.allclose(answer, reference_cost(image, 1.0, 1.0, 1.0), rtol=1e-3, atol=1e-4):
        return not_yet(
            "your cost adds the terms without their weights.",
            f"use w_class = {loss.match_class}, w_l1 = {loss.match_l1}, w_oks = {loss.match_oks}.",
        )
    return _mismatch(answer, expected, "cost", "check each term first with its own checker.")


def _pairs(assignment, image: MatchingExercise) -> list[tuple[int, int]]:
    """``assignment`` as (query, person) pairs: accepts ``(rows, cols)`` or a list of pairs."""
    require_answer(assignment, "assignment", "the (query, person) pairs, e.g. linear_sum_assignment's (rows, cols)")
    try:
        array = np.asarray(assignment, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise Unusable(
            not_yet(
                "`assignment` could not be read as integer pairs.",
                "give (rows, cols) as returned by linear_sum_assignment, or a list of (query, person).",
            )
        ) from None
    if array.ndim == 2 and array.shape[0] == 2 and array.shape[1] != 2:
        array = array.T
    if array.ndim != 2 or array.shape[1] != 2:
        raise Unusable(
            not_yet(
                f"`assignment` has shape {list(array.shape)}, expected pairs (query, person).",
                "linear_sum_assignment returns two index arrays: rows (queries) and columns (persons).",
            )
        )
    return [(int(q), int(n)) for q, n in array]


@checker
def check_assignment(assignment, image: MatchingExercise) -> Feedback:
    """``assignment``: one query per person, of least total cost."""
    pairs = _pairs(assignment, image)
    queries = [q for q, _ in pairs]
    persons = [n for _, n in pairs]
    if any(not 0 <= q < image.n_queries for q in queries) or any(not 0 <= n < image.n_persons for n in persons):
        return not_yet(
            "an index is out of range.",
            f"queries are 0..{image.n_queries - 1}, persons 0..{image.n_persons - 1}; "
            "check that rows are queries and columns persons.",
        )
    if len(set(queries)) != len(queries) or len(set(persons)) != len(persons):
        return not_yet("a query or a person appears twice.", "the matching is one-to-one.")
    if len(pairs) != min(image.n_queries, image.n_persons):
        return not_yet(f"{len(pairs)} pairs for {image.n_persons} persons.", "every person gets exactly one query.")
    cost = reference_cost(image)
    rows, cols = linear_sum_assignment(cost)
    best = cost[rows, cols].sum()
    total = sum(cost[q, n] for q, n in pairs)
    if total <= best + 1e-6:
        return correct("one query per person, at the least possible total cost.")
    return not_yet(
        "your assignment is valid but its total cost is higher than the best possible.",
        "picking the cheapest query for each person in turn is greedy; the Hungarian algorithm "
        "(linear_sum_assignment) optimises all persons together.",
    )


@checker
def check_unmatched(unmatched, image: MatchingExercise) -> Feedback:
    """``unmatched``: the queries no person is assigned to (the loss trains them towards "no person")."""
    require_answer(unmatched, "unmatched", "a list of query indices")
    try:
        answer = {int(q) for q in unmatched}
    except (TypeError, ValueError, OverflowError):
        return not_yet(
            "`unmatched` should be a list of query indices.", "e.g. the rows linear_sum_assignment did not return."
        )
    rows, _ = linear_sum_assignment(reference_cost(image))
    expected = set(range(image.n_queries)) - {int(r) for r in rows}
    if answer == expected:
        return correct(
            f"{len(expected)} queries stay unmatched; their class loss pushes their score towards 'no person'."
        )
    if len(answer) != len(expected):
        return not_yet(
            f"you list {len(answer)} queries; with {image.n_queries} queries and {image.n_persons} persons, "
            f"{image.n_queries - image.n_persons} stay unmatched.",
            "take the queries missing from the assignment.",
        )
    return not_yet("these are not the queries the optimal assignment leaves out.", "check your assignment first.")


def plot_image(image: MatchingExercise) -> plt.Figure:
    """The persons (labelled keypoints, filled) and the queries (numbered, hollow) on the canvas."""
    style.apply()
    height, width = image.canvas_hw
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for n in range(image.n_persons):
        xy = image.truth[n][image.labelled[n]]
        ax.scatter(xy[:, 0], xy[:, 1], s=18, color=style.method_color(f"person {n}"), label=f"person {n} (true)")
    for q in range(image.n_queries):
        xy = image.query_keypoints[q]
        ax.scatter(xy[:, 0], xy[:, 1], s=30, facecolors="none", edgecolors="0.3", linewidths=0.8)
        ax.annotate(f"q{q}", xy[0], fontsize=9, xytext=(3, -8), textcoords="offset points")
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_aspect("equal")
    ax.set_title("True persons (filled) and the model's queries (hollow): exercise data")
    ax.legend(loc="lower right", fontsize=7)
    return fig
