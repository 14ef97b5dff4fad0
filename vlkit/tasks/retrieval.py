"""Image-text retrieval: ITC similarities for every pair, ITM re-ranking of the top ``k_test``, R@1/5/10."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader

from vlkit.common.config import RunConfig
from vlkit.common.dist import all_reduce_sum, broadcast_object, get_rank, get_world_size, is_main_process
from vlkit.common.progress import progress
from vlkit.common.registry import registry
from vlkit.tasks.base_task import BaseTask, eval_context
from vlkit.tasks.common import AlphaRampMixin, unwrap, write_results
from vlkit.tasks.context import EvalContext


@dataclass
class RetrievalRunConfig(RunConfig):
    """Evaluation: ITM re-ranks the ITC top ``k_test`` (BLIP: 256 COCO, 128 Flickr); ITC alpha ramp (1 epoch)."""

    k_test: int = 256
    text_batch_size: int = 256
    itm_pairs_per_call: int = 256  # (query, candidate) pairs per ITM forward pass when re-ranking
    itm_share_image_kv: bool = True  # project each image's cross-attention K/V once per pass, not once per pair
    alpha: float | None = None  # None = the model config's alpha
    alpha_ramp_epochs: float | None = None  # None = DEFAULT_RAMP_EPOCHS


@registry.register_task("retrieval")
class RetrievalTask(AlphaRampMixin, BaseTask):
    """Fine-tune with ITC+ITM; evaluate like BLIP (every rank encodes everything, re-ranking rows are split)."""

    DEFAULT_RAMP_EPOCHS = 1.0

    RUN_CONFIG = RetrievalRunConfig

    @torch.no_grad()
    def score_matrices(
        self, model: nn.Module, dataset: object, batch_size: int, ctx: EvalContext | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(scores_i2t, scores_t2i)`` after ITM re-ranking (summed over ranks); ``ctx``: device and progress."""
        from vlkit.metrics import itc_topk_itm_rerank

        ctx = ctx or EvalContext()

        model = unwrap(model)
        was_training = model.training
        model.eval()
        texts = list(dataset.text)
        text_ids, text_atts, text_proj = [], [], []
        for s in range(0, len(texts), self.run_cfg.text_batch_size):
            _, ids, atts, proj = model.text_features(texts[s : s + self.run_cfg.text_batch_size])
            text_ids.append(ids)
            text_atts.append(atts)
            text_proj.append(proj)
        width = max(t.shape[1] for t in text_ids)
        pad = lambda t: torch.nn.functional.pad(t, (0, width - t.shape[1]))  # noqa: E731
        text_ids = torch.cat([pad(t) for t in text_ids])
        text_atts = torch.cat([pad(t) for t in text_atts])
        text_proj = torch.cat(text_proj)
        loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, collate_fn=dataset.collater)
        image_embeds, image_proj = [], []
        for batch in progress(loader, len(loader), "encode images", ctx.progress):
            media = batch["image"] if "image" in batch else batch["video"]  # video datasets may use either
            embeds, proj = model.image_features(media.to(ctx.device))
            image_embeds.append(embeds)
            image_proj.append(proj)
        image_embeds, image_proj = torch.cat(image_embeds), torch.cat(image_proj)
        sims = image_proj @ text_proj.T
        k = self.run_cfg.k_test
        rank, world = get_rank(), get_world_size()

        share = self.run_cfg.itm_share_image_kv

        def trimmed(ids: torch.Tensor, atts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            width = int(atts.sum(dim=1).max())  # texts were padded to the longest of all; a pass needs its own
            return ids[:, :width], atts[:, :width]

        def i2t(rows: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:  # each image against its k texts
            flat = cand.reshape(-1)
            images = image_embeds[rows]  # shared: k text rows per image read its keys (grouped attention)
            if not share:
                images = images.repeat_interleave(cand.shape[1], dim=0)
            return model.itm_scores(images, *trimmed(text_ids[flat], text_atts[flat]))

        def t2i(rows: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:  # each text against its k images
            k_ = cand.shape[1]
            ids, atts = trimmed(text_ids[rows], text_atts[rows])
            ids, atts = ids.repeat_interleave(k_, dim=0), atts.repeat_interleave(k_, dim=0)
            if not share:
                return model.itm_scores(image_embeds[cand.reshape(-1)], ids, atts)
            images, index = torch.unique(cand.reshape(-1), return_inverse=True)  # texts share candidate images
            return model.itm_scores(image_embeds[images], ids, atts, image_index=index)

        pairs = self.run_cfg.itm_pairs_per_call
        scores_i2t = all_reduce_sum(itc_topk_itm_rerank(sims, k, i2t, rank, world, pairs_per_call=pairs))
        lengths = text_atts.sum(dim=1)  # text queries grouped by length: each call pads little
        scores_t2i = all_reduce_sum(
            itc_topk_itm_rerank(sims.T.contiguous(), k, t2i, rank, world, pairs_per_call=pairs, row_key=lengths)
        )
        model.train(was_training)
        return scores_i2t, scores_t2i

    @torch.no_grad()
    def evaluation(self, model: nn.Module, data_loader: Iterable, ctx: EvalContext | str) -> dict[str, float]:
        ctx = eval_context(ctx, data_loader)
        dataset = ctx.dataset
        batch_size = getattr(data_loader, "batch_size", 32) or 32
        scores_i2t, scores_t2i = self.score_matrices(model, dataset, batch_size, ctx)
        metrics: dict[str, float] = {}
        if is_main_process():
            metrics = self.metrics(scores_i2t.cpu(), scores_t2i.cpu(), dataset)
            write_results({"metrics": metrics}, ctx.result_dir, ctx.result_name)
        return broadcast_object(metrics)

    def metrics(self, scores_i2t: torch.Tensor, scores_t2i: torch.Tensor, dataset: object) -> dict[str, float]:
        from vlkit.metrics import retrieval_metrics

        return retrieval_metrics(scores_i2t, scores_t2i, dataset.txt2img, dataset.img2txt)

    def after_evaluation(self, results: list[dict], ctx: EvalContext) -> dict[str, float]:
        return {}
