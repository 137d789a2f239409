"""MoE dispatch: unicast sends a token once per destination rank, MultiWrite once per token."""

import numpy as np
import pytest

from companion.multiwrite.dispatch import destination_sets, expert_choices
from companion.multiwrite.scenario import Scenario
from companion.multiwrite.simulation import simulate

BASE = dict(
    collective="dispatch", topology="star", ranks=8, tokens_per_rank=16, token_bytes=1024, top_k=4, experts_per_rank=2
)


def test_experts_are_distinct_and_seeded():
    s = Scenario(**BASE)
    choices = expert_choices(s)
    assert choices.shape == (8, 16, 4)
    assert all(len(set(row)) == 4 for row in choices.reshape(-1, 4).tolist())
    assert np.array_equal(choices, expert_choices(s))
    assert not np.array_equal(choices, expert_choices(s.with_(seed=1)))


def test_skewed_routing_concentrates_tokens():
    uniform = Scenario(**{**BASE, "tokens_per_rank": 256})
    skewed = uniform.with_(routing="skewed", routing_skew=1.5)
    load = lambda s: np.bincount((expert_choices(s) // s.experts_per_rank).ravel(), minlength=8)  # noqa: E731
    assert load(skewed).max() > load(uniform).max()


@pytest.mark.parametrize("algorithm, copies", [("mesh", "per destination rank"), ("multiwrite", "per token")])
def test_bytes_leaving_each_rank(algorithm, copies):
    s = Scenario(algorithm=algorithm, **BASE)
    sets = destination_sets(s)
    links = simulate(s).links.set_index("link")
    for r in range(s.ranks):
        if copies == "per destination rank":
            tokens_sent = sum(len(d) for d in sets[r])
        else:
            tokens_sent = sum(1 for d in sets[r] if d)
        assert links.loc[f"r{r}->sw", "payload_bytes"] == tokens_sent * s.token_bytes


def test_multiwrite_removes_the_duplicates_of_unicast_dispatch():
    mesh = simulate(Scenario(algorithm="mesh", **BASE))
    multiwrite = simulate(Scenario(algorithm="multiwrite", **BASE))
    assert mesh.max_link_duplication > 1 and multiwrite.max_link_duplication == 1
    assert multiwrite.total_link_bytes < mesh.total_link_bytes


def _reference_mesh_programs(s):
    """The mesh plan as first written: for every destination in shifted order, a scan of every token."""
    from companion.multiwrite.dispatch import _pack, _token_pieces
    from companion.multiwrite.operation import Write

    sets = destination_sets(s)
    grain = s.chunk_bytes_for(s.tokens_per_rank * s.token_bytes)
    programs = []
    for r in range(s.ranks):
        tokens = {t: _token_pieces(s, r, t, grain) for t in range(s.tokens_per_rank)}
        writes = []
        for step in range(1, s.ranks):
            d = (r + step) % s.ranks
            needed = [p for t, dests in enumerate(sets[r]) if d in dests for p in tokens[t]]
            if needed:
                writes.append(Write(r, (d,), _pack(needed, grain)))
        programs.append(writes)
    return programs


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(collective="dispatch", algorithm="mesh", topology="star", ranks=8, tokens_per_rank=16, seed=seed)
        for seed in range(3)
    ]
    + [
        Scenario(collective="dispatch", algorithm="mesh", topology="leafspine", ranks=32, routing="skewed", seed=4),
        Scenario(collective="dispatch", algorithm="mesh", ranks=24, top_k=2, experts_per_rank=1, token_bytes=3000),
        Scenario(collective="dispatch", algorithm="mesh", ranks=16, tokens_per_rank=64, max_chunks_per_message=2),
    ],
    ids=lambda s: f"{s.topology}-{s.ranks}-{s.routing}-seed{s.seed}-top{s.top_k}",
)
def test_mesh_plan_equals_the_scan_per_destination(scenario):
    from companion.multiwrite.dispatch import plan

    fields = lambda programs: [[(w.src, w.dests, w.chunks, w.kind) for w in ws] for ws in programs]  # noqa: E731
    assert fields(plan(scenario).programs) == fields(_reference_mesh_programs(scenario))


def _gumbel_top_k(s):
    """Expert choice as first written: the Gumbel-top-k of every token, Gumbel numbers drawn one rank at a time."""
    rng = np.random.default_rng(s.seed)
    experts = s.ranks * s.experts_per_rank
    return np.stack(
        [
            np.argpartition(-rng.gumbel(size=(s.tokens_per_rank, experts)), s.top_k - 1, axis=-1)[:, : s.top_k]
            for _ in range(s.ranks)
        ]
    )


@pytest.mark.parametrize("seed, ranks, top_k", [(0, 8, 4), (1, 16, 8), (7, 32, 2), (3, 5, 1)])
def test_uniform_choices_equal_the_gumbel_top_k_they_replace(seed, ranks, top_k):
    s = Scenario(**{**BASE, "seed": seed, "ranks": ranks, "top_k": top_k, "tokens_per_rank": 64})
    assert np.array_equal(expert_choices(s), _gumbel_top_k(s))


def test_close_draws_fall_back_to_the_gumbel_numbers_from_the_same_state(monkeypatch):
    """Every gap "too close": each rank's Gumbel numbers are drawn again, from the state before its uniform
    draws (without the rewind, every rank after the first would use other draws)."""
    import companion.multiwrite.dispatch as dispatch

    s = Scenario(**{**BASE, "ranks": 16})
    monkeypatch.setattr(dispatch, "UNIFORM_GAP", 1.0)
    assert np.array_equal(expert_choices(s), _gumbel_top_k(s))
