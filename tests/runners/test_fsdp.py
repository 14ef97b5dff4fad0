"""run.strategy=fsdp: FSDP2 over the ViT blocks and MED layers, two gloo processes on CPU.

- The captioner (ViT + decoder, no randomness left) trained by 2 FSDP ranks on half a batch each matches
  1 process on the whole batch: same losses, same weights, same evaluation.
- Pre-training (shared encoder/decoder layers grouped, momentum encoders whole, ITM negatives sampled per
  rank) under FSDP matches DDP on the same 2 ranks step for step.
- Resume: the gathered model and optimiser states saved after step 1, loaded into a fresh sharded model,
  give the same step 2.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from vlkit.models import load_model
from vlkit.runners.strategy import build_strategy, shard_units

CAPTIONS = ["red circle", "blue square", "green star", "pink moon"]  # equal token counts: per-rank means agree
KEYS = ("visual_encoder.blocks.1.mlp.fc2.weight", "text_decoder.bert.encoder.layer.3.crossattention.self.key.weight")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _model(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = load_model(name, "tiny", pretrained=False, image_size=32, **({"queue_size": 16} if "pre" in name else {}))
    for module in model.modules():  # no dropout: only the data split may differ between the runs
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if hasattr(module, "dropout") and isinstance(module.dropout, float):
            module.dropout = 0.0
    return model


def _samples(rank: int, world: int) -> dict:
    images = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    rows = slice(rank * 4 // world, (rank + 1) * 4 // world)
    return {"image": images[rows], "text_input": CAPTIONS[rows], "epoch": 0, "iters": 0, "num_iters_per_epoch": 10}


def _steps(train_model: torch.nn.Module, optimizer, rank: int, world: int, steps: range) -> list[float]:  # noqa: ANN001
    losses = []
    for step in steps:
        torch.manual_seed(1000 * rank + step)  # each rank's ITM negative sampling, the same under ddp and fsdp
        loss = train_model(_samples(rank, world)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        total = loss.detach().clone()
        if world > 1:
            torch.distributed.all_reduce(total)
        losses.append(float(total) / world)
    return losses


def _train(name: str, strategy_name: str, rank: int, world: int, resume: bool = False) -> dict:
    model = _model(name)
    strategy = build_strategy(strategy_name, world, torch.device("cpu"))
    train_model = strategy.wrap(model)  # the DDP wrapper, or the sharded model itself
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = _steps(train_model, optimizer, rank, world, range(1))
    out: dict = {}
    if resume:  # restart from the gathered states, as a resumed run does from its checkpoint file
        model_state, optim_state = strategy.model_state(model), strategy.optimizer_state(model, optimizer)
        model = _model(name, seed=5)
        strategy = build_strategy(strategy_name, world, torch.device("cpu"))
        train_model = strategy.wrap(model)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        strategy.load_model_state(model, model_state)
        strategy.load_optimizer_state(model, optimizer, optim_state)
    losses += _steps(train_model, optimizer, rank, world, range(1, 2))
    state = strategy.model_state(model)
    out.update(losses=losses, weights={k: state[k].clone() for k in KEYS if k in state})
    if name == "blip_caption":
        evaluated = strategy.eval_model(model).eval()
        with torch.no_grad():
            out["eval_loss"] = float(evaluated(_samples(0, 1)).loss)
    return out


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        results = {
            "caption_fsdp": _train("blip_caption", "fsdp", rank, world),
            "pretrain_ddp": _train("blip_pretrain", "ddp", rank, world),
            "pretrain_fsdp": _train("blip_pretrain", "fsdp", rank, world),
            "pretrain_fsdp_resumed": _train("blip_pretrain", "fsdp", rank, world, resume=True),
        }
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


def test_shard_units_group_layers_that_share_modules() -> None:
    model = _model("blip_pretrain")
    units = shard_units(model)
    vit = [u for u in units if "Block" in type(u[0]).__name__]
    med = [u for u in units if "MedLayer" in type(u[0]).__name__]
    assert len(vit) == 4 and all(len(u) == 1 for u in vit)  # the momentum ViT's blocks are not sharded
    # the decoder's layer i shares all but self-attention with the encoder's layer i: one group of two
    assert len(med) == 4 and all(len(u) == 2 for u in med)
    with pytest.raises(Exception, match=r"run\.strategy='zero' is not one of ddp, fsdp"):
        build_strategy("zero", 2, torch.device("cpu"))


def test_fsdp_on_two_gloo_processes_matches_one_process_and_ddp(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    single = _train("blip_caption", "ddp", 0, 1)
    for got in ranks:
        fsdp = got["caption_fsdp"]
        assert fsdp["losses"] == pytest.approx(single["losses"], abs=1e-5)
        for key in fsdp["weights"]:
            torch.testing.assert_close(fsdp["weights"][key], single["weights"][key], atol=1e-5, rtol=1e-4)
        assert fsdp["eval_loss"] == pytest.approx(single["eval_loss"], abs=1e-5)
        ddp, sharded, resumed = got["pretrain_ddp"], got["pretrain_fsdp"], got["pretrain_fsdp_resumed"]
        assert sharded["losses"] == pytest.approx(ddp["losses"], abs=1e-5)
        assert resumed["losses"] == pytest.approx(sharded["losses"], abs=1e-6)
        for key in ddp["weights"]:
            torch.testing.assert_close(sharded["weights"][key], ddp["weights"][key], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(resumed["weights"][key], sharded["weights"][key], atol=1e-6, rtol=1e-5)
