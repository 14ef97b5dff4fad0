"""Two CPU processes (gloo): gathers, DDP training through `torchrun -m vlkit train`, gathered evaluation."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.multiprocessing as mp

from tests.runners.conftest import cli_command, final_weights, max_abs_diff, read_log, subprocess_env
from vlkit.common import dist as vdist
from vlkit.runners.checkpointing import load_checkpoint_file, step_checkpoints


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gather_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    assert vdist.init_distributed_from_env()
    try:
        x = torch.full((2, 3), float(rank + 1), requires_grad=True)
        gathered = vdist.all_gather_with_grad(x)
        weights = torch.arange(gathered.numel(), dtype=torch.float32).view_as(gathered)
        (gathered * weights).sum().backward()
        no_grad = vdist.concat_all_gather(x)
        objs = vdist.all_gather_object({"rank": rank})
        torch.save(
            {
                "gathered": gathered.detach(),
                "grad": x.grad,
                "no_grad": no_grad,
                "no_grad_req": no_grad.requires_grad,
                "objs": objs,
            },
            Path(out_dir) / f"rank{rank}.pt",
        )
        vdist.barrier()
    finally:
        torch.distributed.destroy_process_group()


def test_gather_helpers_two_processes(tmp_path: Path) -> None:
    mp.spawn(_gather_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    expected = torch.cat([torch.full((2, 3), 1.0), torch.full((2, 3), 2.0)])
    weights = torch.arange(12, dtype=torch.float32).view(4, 3)
    for rank in range(2):
        got = torch.load(tmp_path / f"rank{rank}.pt", weights_only=False)
        assert torch.equal(got["gathered"], expected) and torch.equal(got["no_grad"], expected)
        assert not got["no_grad_req"]
        # every rank's loss uses the whole gathered tensor: this rank's slice gets the sum over ranks
        assert torch.equal(got["grad"], 2 * weights[2 * rank : 2 * rank + 2])
        assert got["objs"] == [{"rank": 0}, {"rank": 1}]


def test_single_process_helpers_are_identity() -> None:
    x = torch.randn(3, 2)
    assert vdist.all_gather_with_grad(x) is x and vdist.concat_all_gather(x) is x
    vdist.barrier()  # no process group: must not raise


def _torchrun(cfg_path: Path, out: Path, *options: str) -> None:
    launcher = cli_command()[1:]  # ["-m", "vlkit"] (or the test launcher)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), *launcher,
        "train", "--cfg-path", str(cfg_path), "--options", f"run.output_dir={out}", *options,
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=subprocess_env(), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.mark.slow
def test_torchrun_two_processes_match_one_process_on_the_whole_batch(
    run_toy: Callable[..., dict[str, Any]], toy_cfg_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    # 2 ranks x 4 samples per step see the same 8 samples as 1 process x 8; dropout off so only data matters.
    opts = ["model.dropout=0.0", "run.max_epoch=2", "datasets._toy_runner_data.n_val=7"]
    _torchrun(toy_cfg_path, out, "run.job_name=ddp", "run.batch_size_train=4", *opts)
    single = run_toy(*opts, "run.batch_size_train=8", "run.job_name=single")
    ddp_w, single_w = final_weights(out / "ddp"), final_weights(single["job_dir"])
    ddp_w.pop("calls"), single_w.pop("calls")
    assert max_abs_diff(ddp_w, single_w) <= 1e-6

    records = read_log(out / "ddp")
    assert sum(r["type"] == "summary" for r in records) == 1  # only rank 0 logs
    assert [r["step"] for r in records if r["type"] == "train"] == list(range(1, 7))
    # evaluation: 7 val samples split 4/3 over the ranks (uneven last batch), gathered once, in order
    results = json.loads((out / "ddp" / "result" / "val_epoch1.json").read_text())
    assert [r["index"] for r in results] == list(range(7))
    single_eval = [r for r in read_log(single["job_dir"]) if r["type"] == "eval"]
    ddp_eval = [r for r in records if r["type"] == "eval"]
    assert [r["n"] for r in ddp_eval] == [7, 7]
    assert [r["mse"] for r in ddp_eval] == pytest.approx([r["mse"] for r in single_eval], abs=1e-6)


@pytest.mark.slow
def test_torchrun_resume_restores_every_ranks_rng(toy_cfg_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    opts = ["run.batch_size_train=4", "run.save_every_n_steps=2", "run.keep_last_n=0", "model.dropout=0.3"]
    _torchrun(toy_cfg_path, out, "run.job_name=full", *opts)
    ckpts = step_checkpoints(out / "full" / "checkpoints")
    first_step, first = ckpts[0]
    assert first_step == 2  # mid-epoch: 3 updates per epoch with 2 ranks
    rng = load_checkpoint_file(first)["rng"]
    assert len(rng) == 2 and not torch.equal(rng[0]["torch"], rng[1]["torch"])  # per-rank dropout streams
    (out / "resumed" / "checkpoints").mkdir(parents=True)
    shutil.copy(first, out / "resumed" / "checkpoints")
    _torchrun(toy_cfg_path, out, "run.job_name=resumed", "run.resume_ckpt_path=auto", *opts)
    assert max_abs_diff(final_weights(out / "full"), final_weights(out / "resumed")) == 0.0


@pytest.mark.slow
def test_torchrun_fsdp_trains_resumes_and_matches_ddp(toy_cfg_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    opts = ["run.batch_size_train=4", "run.save_every_n_steps=2", "run.keep_last_n=0", "model.dropout=0.0"]
    _torchrun(toy_cfg_path, out, "run.job_name=ddp", *opts)
    _torchrun(toy_cfg_path, out, "run.job_name=fsdp", "run.strategy=fsdp", *opts)
    assert max_abs_diff(final_weights(out / "ddp"), final_weights(out / "fsdp")) <= 1e-6
    first = step_checkpoints(out / "fsdp" / "checkpoints")[0][1]  # mid-epoch, gathered by the sharded run
    (out / "resumed" / "checkpoints").mkdir(parents=True)
    shutil.copy(first, out / "resumed" / "checkpoints")
    _torchrun(toy_cfg_path, out, "run.job_name=resumed", "run.strategy=fsdp", "run.resume_ckpt_path=auto", *opts)
    assert max_abs_diff(final_weights(out / "fsdp"), final_weights(out / "resumed")) <= 1e-6
