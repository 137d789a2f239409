"""Training JCRA through the engine: it learns, it resumes exactly, checkpoints are safe and tied to
their config, trained models are cached."""

import csv

import pytest
import torch
from _model_helpers import synthetic_split

import companion.jcra.engine as engine_module
import companion.jcra.train as train_module
from companion import paths, profiles
from companion.jcra.config import get_config
from companion.jcra.engine import DistributedContext, TrainParams, batch_indices, learning_rate_factor
from companion.jcra.recipes import get_recipe
from companion.jcra.train import ensure_trained, load_model, read_checkpoint, train

STILL = {"rotation": 0.0, "scale": (1.0, 1.0), "crop_min_fraction": 1.0}


def _losses(run_dir):
    with open(run_dir / "metrics.csv", newline="") as handle:
        return [float(row["loss"]) for row in csv.DictReader(handle)]


def test_loss_falls_by_half_in_a_few_dozen_steps_on_two_images(tmp_path):
    annotations, images = synthetic_split(tmp_path / "data", n_images=2)
    params = TrainParams(steps=40, batch_size=2, lr=2e-3, warmup_steps=5, log_every=1, checkpoint_every=40, **STILL)
    train(get_config("tiny"), annotations, images, tmp_path / "run", params, progress=False)
    losses = _losses(tmp_path / "run")
    assert len(losses) == 40
    start, end = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert end <= 0.5 * start, f"loss went from {start:.3f} to {end:.3f}"


def test_resume_continues_exactly_where_it_stopped(tmp_path, monkeypatch):
    annotations, images = synthetic_split(tmp_path / "data", n_images=4)
    params = TrainParams(steps=4, batch_size=2, checkpoint_every=2, log_every=1, warmup_steps=1)
    config = get_config("tiny")
    straight = train(config, annotations, images, tmp_path / "straight", params, progress=False)

    real_collate, calls = engine_module.collate, []

    def interrupted_collate(batch):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("simulated interruption after the step-2 checkpoint")
        return real_collate(batch)

    monkeypatch.setattr(engine_module, "collate", interrupted_collate)
    with pytest.raises(KeyboardInterrupt):
        train(config, annotations, images, tmp_path / "resumed", params, progress=False)
    assert read_checkpoint(tmp_path / "resumed" / "checkpoint.pt")["step"] == 2
    monkeypatch.setattr(engine_module, "collate", real_collate)
    resumed = train(config, annotations, images, tmp_path / "resumed", params, progress=False)
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, msg=f"{name} differs after resume")
    assert _losses(tmp_path / "resumed") == _losses(tmp_path / "straight")


def test_checkpoint_loads_weights_only_and_refuses_another_config(tmp_path):
    annotations, images = synthetic_split(tmp_path / "data", n_images=2)
    params = TrainParams(steps=1, batch_size=2, checkpoint_every=1)
    train(get_config("tiny"), annotations, images, tmp_path / "run", params, progress=False)
    path = tmp_path / "run" / "checkpoint.pt"
    torch.load(path, weights_only=True)  # plain tensors and strings: no pickled code
    model = load_model(path, get_config("tiny"))
    assert model.config == get_config("tiny") and not model.training
    with pytest.raises(ValueError, match=r"trained with config 'tiny', not the requested 'small'.*d_model"):
        load_model(path, get_config("small"))
    with pytest.raises(ValueError, match="other training parameters"):
        train(
            get_config("tiny"),
            annotations,
            images,
            tmp_path / "run",
            TrainParams(steps=2, batch_size=2),
            progress=False,
        )
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        read_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a JCRA checkpoint.*companion.jcra/1"):
        read_checkpoint(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "missing.pt")


def test_learning_rate_warms_up_then_decays():
    params = TrainParams(steps=100, warmup_steps=10, min_lr_ratio=0.1)
    factors = [learning_rate_factor(step, params) for step in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a <= b for a, b in zip(factors[:10], factors[1:10]))
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))
    assert factors[-1] == pytest.approx(0.1, abs=0.01)


def test_ranks_get_disjoint_batches_and_the_order_is_a_function_of_the_step():
    params = TrainParams(steps=12, batch_size=2)
    ranks = [list(batch_indices(9, params, DistributedContext(rank, 2), 0)) for rank in range(2)]
    for (step_a, epoch_a, a), (step_b, epoch_b, b) in zip(*ranks):
        assert (step_a, epoch_a) == (step_b, epoch_b) and not set(a) & set(b)
    assert list(batch_indices(9, params, DistributedContext(1, 2), 5)) == ranks[1][5:]
    with pytest.raises(ValueError, match="too few"):
        next(batch_indices(3, params, DistributedContext(0, 2), 0))


def test_train_params_reject_bad_values():
    with pytest.raises(ValueError, match="batch_size"):
        TrainParams(batch_size=0)
    with pytest.raises(ValueError, match="unknown keys"):
        TrainParams.from_dict({"epochs": 3})


def test_ensure_trained_builds_once_and_reuses_the_artifact(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "BUILD_DIR", tmp_path / "build")
    data = {"n_images": 4, "image_size": 64}
    params = {"steps": 2, "batch_size": 2, "checkpoint_every": 2}
    checkpoint = ensure_trained("tiny", data, params, progress=False)
    assert checkpoint.is_file() and checkpoint.parent.parent == tmp_path / "build" / "jcra"
    assert checkpoint.parent.name.startswith("tiny-") and (checkpoint.parent / "meta.json").is_file()

    def no_training(*args, **kwargs):
        raise AssertionError("ensure_trained retrained a cached model")

    monkeypatch.setattr(engine_module, "train", no_training)
    assert ensure_trained("tiny", data, params, progress=False) == checkpoint
    other = train_module.trained_dir(get_config("tiny"), data, TrainParams(steps=3, batch_size=2))
    assert other != checkpoint.parent


def test_the_trained_model_cache_is_per_thread_count(tmp_path, monkeypatch):
    # Another thread count sums in another order: a different model, so never the same cache entry.
    monkeypatch.setattr(paths, "BUILD_DIR", tmp_path / "build")
    data, params = {"n_images": 4, "image_size": 64}, TrainParams(steps=2, batch_size=2)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = train_module.trained_dir(get_config("tiny"), data, params)
        torch.set_num_threads(2)
        two = train_module.trained_dir(get_config("tiny"), data, params)
    finally:
        torch.set_num_threads(threads)
    assert one != two and one.parent == two.parent


def test_recipes_name_a_config_and_valid_training_parameters():
    for recipe in map(get_recipe, profiles.available()):
        assert recipe.model_config().name == recipe.config
        assert recipe.train_params().steps >= 1
    # The default profile is the 20-minute CPU recipe that notebooks 02, 03, 04 and 06 share.
    assert get_recipe("default").config == "small" and get_recipe("default").train == {"steps": 2500, "batch_size": 8}
    with pytest.raises(ValueError, match="profile"):
        get_recipe("huge")


def test_a_profile_without_a_valid_recipe_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "PROFILES_DIR", tmp_path)
    (tmp_path / "bare.yaml").write_text("notebooks: {}\n")
    with pytest.raises(ValueError, match=r"bare.yaml: jcra_recipe: expected a mapping with config"):
        get_recipe("bare")
    (tmp_path / "typo.yaml").write_text("jcra_recipe: {config: tiny, train: {stepz: 3}}\n")
    with pytest.raises(ValueError, match="unknown keys"):
        get_recipe("typo")
