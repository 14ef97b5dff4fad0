"""Question answering datasets (VQAv2/VG style, and video QA)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from vlkit.data.bad_samples import Skipped
from vlkit.data.datasets.base import VLDataset, collate
from vlkit.data.io import BadSampleError


class VQADataset(VLDataset):
    """Training: ``image``, ``text_input`` (question), ``answer`` (unique answers), ``weight`` (agreement)."""

    media_key = "image"

    def visual(self, rel: str) -> torch.Tensor:
        return self.image(rel)

    def load(self, index: int) -> dict[str, Any]:
        entry = self.annotation[index]
        answers = entry["answer"] if isinstance(entry["answer"], list) else [entry["answer"]]
        counts = Counter(a.strip().lower() for a in answers if a and a.strip())
        if not counts:
            raise BadSampleError(f"question {entry.get('question_id', index)}", "question has no answer")
        total = sum(counts.values())
        return {
            "image": self.visual(entry[self.media_key]),
            "text_input": self.text(entry["question"], f"question {entry.get('question_id', index)}"),
            "answers": list(counts),
            "weights": [c / total for c in counts.values()],
            "question_id": int(entry.get("question_id", index)),
        }

    def collater(self, samples: list[dict | Skipped | None]) -> dict[str, Any]:
        """Flattens each question's answers: ``answer`` (list), ``weight`` [N], ``n_answers`` [B]."""
        kept = [s for s in samples if isinstance(s, dict)]
        skipped = [s for s in samples if not isinstance(s, dict)]
        batch = collate([{k: v for k, v in s.items() if k not in ("answers", "weights")} for s in kept] + skipped)
        batch["answer"] = [a for s in kept for a in s["answers"]]
        batch["weight"] = torch.tensor([w for s in kept for w in s["weights"]])
        batch["n_answers"] = torch.tensor([len(s["answers"]) for s in kept])
        return batch


class VQAEvalDataset(VLDataset):
    """Evaluation: ``image``, ``text_input``, ``question_id``; carries the answer list and the ground truth."""

    media_key = "image"

    def __init__(
        self,
        *args: Any,
        answer_list: list[str] | None = None,
        eval_annotations: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.answer_list = answer_list or []
        self.eval_annotations = eval_annotations

    def visual(self, rel: str) -> torch.Tensor:
        return self.image(rel)

    def load(self, index: int) -> dict[str, Any]:
        entry = self.annotation[index]
        return {
            "image": self.visual(entry[self.media_key]),
            "text_input": self.text(entry["question"], f"question {entry.get('question_id', index)}"),
            "question_id": int(entry.get("question_id", index)),
        }

    def annotations_for_eval(self) -> Any:
        """Official annotation json when configured, else the split's own answers."""
        if self.eval_annotations and Path(self.eval_annotations).is_file():
            return json.loads(Path(self.eval_annotations).read_text(encoding="utf-8"))
        return [
            {
                "question_id": int(e.get("question_id", i)),
                "answers": e["answer"] if isinstance(e["answer"], list) else [e["answer"]],
            }
            for i, e in enumerate(self.annotation)
            if "answer" in e
        ]
