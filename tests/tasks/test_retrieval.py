"""Retrieval evaluation: ITC for all pairs, ITM re-rank of the top k_test, rows split across ranks; alpha ramp."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import vlkit.tasks.retrieval as retrieval_module
from vlkit.models import load_model
from vlkit.tasks.context import EvalContext, StepContext, linear_ramp
from vlkit.tasks.retrieval import RetrievalRunConfig, RetrievalTask


class _RetrievalEval(torch.utils.data.Dataset):
    """Three images, two captions each (COCO-Karpathy eval layout)."""

    def __init__(self, video: bool = False) -> None:
        g = torch.Generator().manual_seed(0)
        shape = (3, 2, 3, 64, 64) if video else (3, 3, 3, 64, 64)
        self.images = torch.randn(*shape, generator=g) if video else torch.randn(3, 3, 64, 64, generator=g)
        self.text = ["a red circle", "red circle", "a blue square", "blue square", "a green star", "green star"]
        self.txt2img = [0, 0, 1, 1, 2, 2]
        self.img2txt = [[0, 1], [2, 3], [4, 5]]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i]}

    def collater(self, batch: list[dict]) -> dict:
        return {"image": torch.stack([b["image"] for b in batch])}


def _task(k_test: int) -> RetrievalTask:
    task = RetrievalTask()
    task.run_cfg = RetrievalRunConfig(task="retrieval", k_test=k_test, text_batch_size=4)
    return task


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return load_model("blip_retrieval", "tiny").eval()


def test_rerank_with_all_candidates_equals_brute_force_itm_plus_itc(model: torch.nn.Module) -> None:
    dataset = _RetrievalEval()
    i2t, t2i = _task(k_test=6).score_matrices(model, dataset, batch_size=2)
    with torch.no_grad():
        embeds, img_proj = model.image_features(dataset.images)
        _, ids, atts, txt_proj = model.text_features(dataset.text)
        itc = img_proj @ txt_proj.T
        itm = torch.stack([model.itm_scores(embeds[i].expand(6, -1, -1), ids, atts) for i in range(3)])
    torch.testing.assert_close(i2t, itm + itc, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(t2i, (itm + itc).T, atol=1e-4, rtol=1e-4)


def test_rows_split_across_ranks_sum_to_the_single_process_ranking(
    model: torch.nn.Module, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = _RetrievalEval()
    single = _task(k_test=2).score_matrices(model, dataset, batch_size=3)
    assert ((single[0] > -100).sum(dim=1) == 2).all()  # only the top-2 ITC candidates are re-scored
    parts = []
    for rank in (0, 1):  # what each rank contributes before the all-reduce
        monkeypatch.setattr(retrieval_module, "get_rank", lambda r=rank: r)
        monkeypatch.setattr(retrieval_module, "get_world_size", lambda: 2)
        parts.append(_task(k_test=2).score_matrices(model, dataset, batch_size=3))
    for direction in (0, 1):
        summed = parts[0][direction] + parts[1][direction]
        assert torch.equal(summed.argsort(dim=1, descending=True)[:, :2], single[direction].argsort(1, True)[:, :2])


def test_evaluation_reports_recalls_and_writes_json(model: torch.nn.Module, tmp_path: Path) -> None:
    dataset = _RetrievalEval()
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, collate_fn=dataset.collater)
    metrics = _task(k_test=4).evaluation(model, loader, EvalContext(split="test", result_dir=tmp_path))
    for key in ("txt_r1", "txt_r5", "img_r1", "img_r10", "r_mean"):
        assert 0.0 <= metrics[key] <= 100.0
    assert metrics["txt_r10"] == metrics["img_r10"] == 100.0  # 3 images / 6 texts: everything is in the top 10
    assert metrics["agg_metrics"] == metrics["r_mean"]
    assert json.loads((tmp_path / "test.json").read_text())["metrics"] == metrics


def test_alpha_ramps_over_the_first_epoch_and_is_full_outside_training(model: torch.nn.Module) -> None:
    task = _task(k_test=2)
    assert task.alpha_for(model, None) == pytest.approx(0.4)  # no position: full alpha
    assert task.alpha_for(model, StepContext(epoch=0, step_in_epoch=0, steps_per_epoch=10)) == 0.0
    assert task.alpha_for(model, StepContext(epoch=0, step_in_epoch=5, steps_per_epoch=10)) == pytest.approx(0.2)
    assert task.alpha_for(model, StepContext(epoch=3, step_in_epoch=5, steps_per_epoch=10)) == pytest.approx(0.4)
    assert linear_ramp(StepContext(epoch=1, step_in_epoch=0, steps_per_epoch=4), 0.4, 2.0) == pytest.approx(0.2)


def test_train_step_passes_the_ramped_alpha_to_the_model() -> None:
    seen = {}

    def fake_model(samples: dict, alpha: float) -> str:
        seen.update(samples=dict(samples), alpha=alpha)
        return "out"

    task = _task(k_test=2)
    task.run_cfg.alpha = 0.8
    assert task.train_step(fake_model, {"x": 1}, StepContext(epoch=0, step_in_epoch=1, steps_per_epoch=4)) == "out"
    assert seen == {"samples": {"x": 1}, "alpha": pytest.approx(0.2)}


def test_shared_image_keys_and_batched_queries_give_blips_per_pair_scores(model: torch.nn.Module) -> None:
    dataset = _RetrievalEval()
    scores = {}
    for share, pairs in ((False, 1), (True, 4), (True, 256)):  # 4 pairs at k 2: two queries share a pass
        task = _task(k_test=2)
        task.run_cfg.itm_share_image_kv, task.run_cfg.itm_pairs_per_call = share, pairs
        scores[share, pairs] = task.score_matrices(model, dataset, batch_size=2)
    for key in ((True, 4), (True, 256)):
        for got, want in zip(scores[key], scores[False, 1]):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_encoder_index_reads_the_indexed_image(model: torch.nn.Module) -> None:
    with torch.no_grad():
        embeds, _ = model.image_features(_RetrievalEval().images)
        _, ids, atts, _ = model.text_features(["a red circle", "blue square", "a green star", "green star"])
        index = torch.tensor([2, 0, 2, 1])
        torch.testing.assert_close(
            model.itm_scores(embeds, ids, atts, image_index=index), model.itm_scores(embeds[index], ids, atts)
        )
        grouped = model.itm_scores(embeds[:2], ids, atts)  # 4 texts, 2 images: rows 0-1 read image 0, 2-3 image 1
        torch.testing.assert_close(grouped, model.itm_scores(embeds[:2].repeat_interleave(2, dim=0), ids, atts))
        with pytest.raises(ValueError, match="encoder_index takes one image per row"):
            model.text_encoder(
                ids, atts, encoder_hidden_states=embeds, encoder_index=index, encoder_attention_mask=atts
            )
