"""Evaluation metrics of the official protocols (COCO caption, retrieval recall, VQA, NLVR², VisDial, video).

Every metric returns a plain ``dict[str, float]`` with an ``agg_metrics`` entry used to pick the best
checkpoint. pycocoevalcap (and Java) are only touched when a caption metric is computed.
"""

from vlkit.metrics.captioning import build_coco_gt, coco_caption_eval, ptb_tokenize, score_captions, simple_tokenize
from vlkit.metrics.classification import classification_accuracy
from vlkit.metrics.retrieval import best_positive_ranks, itc_topk_itm_rerank, rank_slice, retrieval_metrics
from vlkit.metrics.video_retrieval import video_retrieval_metrics
from vlkit.metrics.visdial import visdial_metrics, visdial_ndcg, visdial_ranking_metrics
from vlkit.metrics.vqa import answer_accuracy, vqa_accuracy
from vlkit.metrics.vqa_normalize import normalize_answer

__all__ = [
    "answer_accuracy",
    "best_positive_ranks",
    "build_coco_gt",
    "classification_accuracy",
    "coco_caption_eval",
    "itc_topk_itm_rerank",
    "normalize_answer",
    "ptb_tokenize",
    "rank_slice",
    "retrieval_metrics",
    "score_captions",
    "simple_tokenize",
    "video_retrieval_metrics",
    "visdial_metrics",
    "visdial_ndcg",
    "visdial_ranking_metrics",
    "vqa_accuracy",
]
