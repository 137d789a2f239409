"""Checkers accept the right answer, name the usual slips, survive any junk and never reveal the answer;
their references agree with first principles and with the wings."""

import copy
from math import comb

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from companion.exercises import deformable, dispatch_bytes, link_bytes, matching, oks, one_switch
from companion.exercises.feedback import Feedback
from companion.multiwrite.simulation import simulate

PERSON = oks.make_person(0)
IMAGE = matching.make_image(0)
HEAD = deformable.make_head(0)
FABRIC = link_bytes.FabricExercise()
SWITCH = one_switch.SwitchExercise()
DISPATCH = dispatch_bytes.DispatchExercise()


def _formula_similarities(person):
    distance2 = ((person.prediction - person.truth[:, :2]) ** 2).sum(1)
    return np.exp(-distance2 / (2 * person.area * (2 * person.sigmas) ** 2))


def _right_answers():
    """(checker, answer arguments, exercise) with the answer computed independently of the checker."""
    similarities = _formula_similarities(PERSON)
    terms = matching.reference_terms(IMAGE)
    cost = matching.reference_cost(IMAGE)
    locations, _ = HEAD.layer_sampling()
    h, w = HEAD.spatial_shapes[0]
    n, g, m = FABRIC.n_ranks, FABRIC.ranks_per_leaf, FABRIC.block_bytes
    links = {
        "ring": dict.fromkeys(link_bytes.LINK_CLASSES, (n - 1) * m),
        "mesh": {
            "rank_up": (n - 1) * m,
            "rank_down": (n - 1) * m,
            "leaf_up": g * (n - g) * m,
            "leaf_down": g * (n - g) * m,
        },
        "multiwrite": {"rank_up": m, "rank_down": (n - 1) * m, "leaf_up": g * m, "leaf_down": (n - g) * m},
    }
    bound = (SWITCH.n_ranks - 1) * SWITCH.block_bytes / (SWITCH.link_bandwidth_GBps * 1e9) * 1e6
    sent = np.array([dispatch_bytes.sent_bytes(DISPATCH, k) for k in DISPATCH.top_ks])
    return [
        (oks.check_similarities, (similarities,), PERSON),
        (oks.check_oks, (similarities[PERSON.labelled].mean(),), PERSON),
        (oks.check_most_tolerant, ("right_hip",), PERSON),
        (matching.check_class_cost, (terms["class"],), IMAGE),
        (matching.check_l1_cost, (terms["l1"],), IMAGE),
        (matching.check_oks_cost, (terms["oks"],), IMAGE),
        (matching.check_cost, (cost,), IMAGE),
        (matching.check_assignment, (linear_sum_assignment(cost),), IMAGE),
        (matching.check_unmatched, ([3, 4],), IMAGE),
        (deformable.check_locations, (locations,), HEAD),
        (deformable.check_pixels, (locations[0, 0] * [w, h] - 0.5,), HEAD),
        (
            deformable.check_bilinear,
            (deformable.grid_sample_value(HEAD.value_map, locations[0, 0, deformable.BILINEAR_POINT]),),
            HEAD,
        ),
        (link_bytes.check_link_bytes, (links,), FABRIC),
        (link_bytes.check_redundant_bytes, ((g - 1) * m,), FABRIC),
        (one_switch.check_prediction, ({"mesh": bound, "multiwrite": bound},), SWITCH),
        (one_switch.check_busiest_link, ({"mesh": "both", "multiwrite": "downlink"},), SWITCH),
        (
            one_switch.check_effects,
            (
                {
                    "issue_overhead": "same",
                    "issue_overhead_small_blocks": "faster",
                    "shared_engine": "faster",
                    "slow_replication": "slower",
                },
            ),
            SWITCH,
        ),
        (dispatch_bytes.check_sent_bytes, (sent[:, 0], sent[:, 1]), DISPATCH),
        (
            dispatch_bytes.check_expected_ranks,
            ([(7) * (1 - comb(28, k) / comb(32, k)) for k in DISPATCH.top_ks],),
            DISPATCH,
        ),
    ]


RIGHT = _right_answers()
IDS = [checker.__name__ for checker, _, _ in RIGHT]


@pytest.mark.parametrize("checker, answer, exercise", RIGHT, ids=IDS)
def test_the_right_answer_passes(checker, answer, exercise):
    feedback = checker(*answer, exercise)
    assert isinstance(feedback, Feedback) and feedback.ok, feedback
    assert str(feedback).startswith("correct: ")


@pytest.mark.parametrize("checker, answer, exercise", RIGHT, ids=IDS)
def test_an_unfilled_answer_is_not_yet_with_a_hint(checker, answer, exercise):
    feedback = checker(*([None] * len(answer)), exercise)
    assert not feedback.ok and str(feedback).startswith("not yet: ") and "Hint:" in feedback.message


JUNK = st.one_of(
    st.none(),
    st.just(...),
    st.text(max_size=5),
    st.integers(-10, 10),
    st.floats(allow_nan=True),
    st.lists(st.floats(allow_nan=False, width=32), max_size=6),
    st.dictionaries(
        st.sampled_from(["mesh", "multiwrite", "ring", "x"]),
        st.one_of(st.none(), st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2)),
        max_size=3,
    ),
)


@pytest.mark.parametrize("checker, answer, exercise", RIGHT, ids=IDS)
@settings(max_examples=15, deadline=None)
@given(junk=JUNK)
def test_any_junk_gets_feedback_not_an_exception(checker, answer, exercise, junk):
    feedback = checker(*([junk] * len(answer)), exercise)
    assert isinstance(feedback, Feedback) and not feedback.ok
    assert "could not be checked" not in feedback.message, "every kind of junk gets a specific message"


@settings(max_examples=40, deadline=None)
@given(value=st.floats(0, 1).filter(lambda v: abs(v - oks.pycocotools_oks(PERSON)) > 1e-6))
def test_a_wrong_oks_never_shows_the_right_value(value):
    feedback = oks.check_oks(value, PERSON)
    reference = oks.pycocotools_oks(PERSON)
    assert not feedback.ok
    for digits in (2, 3, 4):
        assert f"{reference:.{digits}f}" not in feedback.message


@pytest.mark.parametrize(
    "slip, expected",
    [
        (lambda s: (s**4)[PERSON.labelled].mean(), "kappa_k = 2 * sigma_k"),
        (lambda s: s.mean(), "unlabelled ones included"),
        (lambda s: s[PERSON.truth[:, 2] == 2].mean(), "visible keypoints (v = 2) only"),
    ],
)
def test_oks_slips_are_named(slip, expected):
    """kappa = sigma instead of 2 sigma turns each similarity s into s^4."""
    assert expected in oks.check_oks(slip(_formula_similarities(PERSON)), PERSON).message


def test_matching_slips_are_named():
    terms, cost = matching.reference_terms(IMAGE), matching.reference_cost(IMAGE)
    assert "transposed" in matching.check_cost(cost.T, IMAGE).message
    assert "misses the OKS term" in matching.check_cost(cost - 7 * terms["oks"], IMAGE).message
    assert (
        "without their weights"
        in matching.check_cost(terms["class"][:, None] + terms["l1"] + terms["oks"], IMAGE).message
    )
    assert "look like pixels" in matching.check_l1_cost(terms["l1"] * 128, IMAGE).message
    greedy = [(1, 0), (4, 1), (0, 2)]  # each person in turn takes its cheapest free query
    assert matching.check_assignment(greedy, IMAGE).message.startswith("your assignment is valid but")


def test_deformable_slips_are_named():
    locations, _ = HEAD.layer_sampling()
    h, w = HEAD.spatial_shapes[0]
    assert "without dividing" in deformable.check_locations(HEAD.reference + HEAD.offsets, HEAD).message
    assert "align_corners=True" in deformable.check_pixels(locations[0, 0] * [w - 1, h - 1], HEAD).message
    border = deformable.grid_sample_value(HEAD.value_map, locations[0, 0, deformable.BILINEAR_POINT], padding="border")
    assert "border padding" in deformable.check_bilinear(border, HEAD).message


def test_link_byte_feedback_names_the_wrong_entry_and_hints_without_the_value():
    right = RIGHT[IDS.index("check_link_bytes")][1][0]
    wrong = copy.deepcopy(right)
    wrong["mesh"]["leaf_up"] = right["ring"]["leaf_up"]
    feedback = link_bytes.check_link_bytes(wrong, FABRIC)
    assert "mesh/leaf_up" in feedback.message and str(right["mesh"]["leaf_up"]) not in feedback.message


def test_grid_sample_reads_column_x_times_width_minus_half():
    """The convention check_pixels teaches: on a map holding its own column index, grid_sample returns x * w - 0.5."""
    h, w = 4, 6
    columns = torch.arange(w, dtype=torch.float64).repeat(h, 1)[None, None]
    for x in (0.3, 0.5, 0.7):
        grid = torch.tensor([[[[2 * x - 1, 0.0]]]], dtype=torch.float64)
        assert F.grid_sample(columns, grid, align_corners=False).item() == pytest.approx(x * w - 0.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pycocotools_oks_is_the_formula(seed):
    person = oks.make_person(seed)
    assert oks.pycocotools_oks(person) == pytest.approx(
        _formula_similarities(person)[person.labelled].mean(), abs=1e-12
    )


@pytest.mark.parametrize("leaves, per_leaf", [(2, 2), (3, 4)])
def test_simulated_link_bytes_match_the_closed_forms(leaves, per_leaf):
    fabric = link_bytes.FabricExercise(n_leaves=leaves, ranks_per_leaf=per_leaf, block_bytes=8192)
    n, g, m = fabric.n_ranks, per_leaf, 8192
    assert link_bytes.simulated_link_bytes(fabric, "ring") == dict.fromkeys(link_bytes.LINK_CLASSES, (n - 1) * m)
    assert link_bytes.simulated_link_bytes(fabric, "mesh") == {
        "rank_up": (n - 1) * m,
        "rank_down": (n - 1) * m,
        "leaf_up": g * (n - g) * m,
        "leaf_down": g * (n - g) * m,
    }
    assert link_bytes.simulated_link_bytes(fabric, "multiwrite") == {
        "rank_up": m,
        "rank_down": (n - 1) * m,
        "leaf_up": g * m,
        "leaf_down": (n - g) * m,
    }


def test_ideal_switch_simulation_sits_just_above_the_bandwidth_bound():
    for algorithm in one_switch.ALGORITHMS:
        simulated = one_switch.simulated_latency_us(SWITCH, algorithm)
        assert SWITCH.bandwidth_bound_us <= simulated <= 1.03 * SWITCH.bandwidth_bound_us
    table = one_switch.effects_table(SWITCH, {name: "same" for name in one_switch.EFFECTS})
    assert list(table["simulated: multiwrite is"]) == ["same", "faster", "faster", "slower"]
    assert list(one_switch.effects_table(SWITCH, None).columns) == ["effect", "what it models"], (
        "no outcome before predicting"
    )


def test_dispatch_counts_equal_the_simulated_uplink_payload():
    for k in (1, 4):
        unicast, multiwrite = dispatch_bytes.sent_bytes(DISPATCH, k)
        for algorithm, expected in (("mesh", unicast), ("multiwrite", multiwrite)):
            links = simulate(DISPATCH.scenario(k, algorithm)).links.set_index("link")
            assert links.loc["r0->sw", "payload_bytes"] == expected


def test_expected_remote_ranks_match_many_sampled_tokens():
    many = dispatch_bytes.DispatchExercise(tokens=4096)
    for k in (2, 8):
        measured = dispatch_bytes.sent_bytes(many, k)[0] / (many.tokens * many.token_bytes)
        assert measured == pytest.approx(dispatch_bytes.expected_remote_ranks(many, k), rel=0.03)
