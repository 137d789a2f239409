"""Run by torchrun from test_train_ddp.py: a few DDP steps, then every rank reports its weights."""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from companion.jcra.config import get_config
from companion.jcra.train import TrainParams, train

annotations, images, out_dir = (Path(a) for a in sys.argv[1:4])
torch.set_num_threads(1)
params = TrainParams(steps=3, batch_size=1, lr=1e-3, warmup_steps=1, checkpoint_every=3, log_every=1)
model = train(get_config("tiny"), annotations, images, out_dir, params, progress=False, device="cpu")
flat = torch.cat(
    [p.detach().flatten() for p in model.state_dict().values() if p.is_floating_point()]
)  # weights + BN stats
gathered = [torch.zeros_like(flat) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, flat)
if dist.get_rank() == 0:
    torch.manual_seed(params.seed)  # train() initialises the model from this seed
    initial = torch.cat(
        [p.detach().flatten() for p in type(model)(model.config).state_dict().values() if p.is_floating_point()]
    )
    report = {
        "world_size": dist.get_world_size(),
        "max_difference_between_ranks": max((g - gathered[0]).abs().max().item() for g in gathered),
        "moved": (flat - initial).abs().max().item(),
    }
    (out_dir / "ddp_report.json").write_text(json.dumps(report))
dist.barrier()  # leave together: a rank tearing gloo down while the other still works aborts
dist.destroy_process_group()
