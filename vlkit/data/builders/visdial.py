"""VisDial v1.0: the official json (one object of questions, answers and dialogs) → one sample per round."""

from __future__ import annotations

import json
from typing import Any

from omegaconf import DictConfig
from torch.utils.data import Dataset

from vlkit.data.annotation_schema import FIX_HINT, AnnotationError
from vlkit.data.builders import schemas
from vlkit.data.builders.base_builder import BaseDatasetBuilder
from vlkit.data.datasets import VisDialDataset

DEFAULT_IMAGE_PATTERN = "{split}/VisualDialog_{split}_{image_id:012d}.jpg"


class VisDialBuilder(BaseDatasetBuilder):
    """VisDial v1.0 official json → one sample per round (history = earlier rounds' Q/A).

    The file is checked as a whole (``data.questions``/``answers``/``dialogs``), then dialog by dialog:
    a bad dialog (a missing key, or a question/answer index outside the lists) is an error naming its
    index, or a counted skip.
    """

    IMAGES_HINT = "Download the VisDial v1.0 images (visualdialog.org)"
    SCHEMAS = {"train": schemas.VISDIAL_DIALOG, "eval": schemas.VISDIAL_DIALOG}

    def load_annotation(self, split: str, info: DictConfig) -> Any:
        raw, path = self.read_annotation(split, info)
        schemas.VISDIAL_FILE.check_object(raw, str(path))
        data = raw["data"]
        questions, answers = data["questions"], data["answers"]
        dialogs = self.validate(split, data["dialogs"], path)
        ranged = [d for d in dialogs if self._indices_in_range(d, questions, answers, path, split, data["dialogs"])]
        self._dense = self._dense_annotations(info)
        pattern = info.get("image_pattern", DEFAULT_IMAGE_PATTERN)
        rounds = []
        for dialog in ranged:
            history: list[str] = []
            image = pattern.format(split=raw.get("split", split), image_id=int(dialog["image_id"]))
            for r, turn in enumerate(dialog["dialog"]):
                q, a = questions[turn["question"]], answers[turn["answer"]]
                rounds.append(
                    {
                        "image": image,
                        "image_id": dialog["image_id"],
                        "round_id": r + 1,
                        "caption": dialog["caption"],
                        "history": " ".join(history),
                        "question": q,
                        "options": [answers[i] for i in turn["answer_options"]],
                        "gt_index": turn["gt_index"],
                    }
                )
                history.append(f"{q}? {a}.")
        return rounds

    def _indices_in_range(
        self, dialog: dict, questions: list, answers: list, path: Any, split: str, all_dialogs: list
    ) -> bool:
        """Whether every question/answer index of ``dialog`` points into the lists (else raise, or count a skip)."""
        for r, turn in enumerate(dialog["dialog"]):
            for key, pool, values in (
                ("question", questions, [turn["question"]]),
                ("answer", answers, [turn["answer"]]),
                ("answer_options", answers, turn["answer_options"]),
            ):
                bad = next((v for v in values if not 0 <= v < len(pool)), None)
                if bad is None and key == "answer_options" and not 0 <= turn["gt_index"] < len(values):
                    key, bad, pool = "gt_index", turn["gt_index"], values
                if bad is None:
                    continue
                index = next(i for i, d in enumerate(all_dialogs) if d is dialog)
                problem = f"index {bad} outside the list (0..{len(pool) - 1})"
                if self.policy == "error":
                    raise AnnotationError(str(path), index, f"dialog[{r}].{key}", f"{problem}. {FIX_HINT}")
                err = AnnotationError(str(path), index, f"dialog[{r}].{key}", problem)
                self.annotation_skips[split].record(err.source, err.reason, err.kind)
                return False
        return True

    def _dense_annotations(self, info: DictConfig) -> dict[tuple[int, int], list[float]]:
        dense: dict[tuple[int, int], list[float]] = {}
        if info.get("dense_storage") and self.path(info.dense_storage).is_file():
            for d in json.loads(self.path(info.dense_storage).read_text()):
                dense[(int(d["image_id"]), int(d["round_id"]))] = d["gt_relevance"]
        return dense

    def build_split(self, split: str, annotation: Any, info: DictConfig) -> Dataset:
        return VisDialDataset(annotation, vis_root=self.media_root(), dense=self._dense, **self.common_kwargs(split))
