"""COCO caption evaluation (BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, optional SPICE) through pycocoevalcap.

Captions are tokenized with the Stanford PTB tokenizer shipped in pycocoevalcap (lower-cased, punctuation
dropped), exactly as the COCO caption server does; that and METEOR/SPICE run Java. Scores are on
pycocoevalcap's scale (fractions; papers print them x100, e.g. CIDEr 1.297 → 129.7).

Where no Java runtime can be installed, ``tokenizer="simple"`` (``run.caption_tokenizer: simple``) uses
:func:`simple_tokenize`, a pure-Python stand-in that matches PTB on plain captions but not on every
contraction or symbol, and METEOR is then reported as ``nan``: not the official protocol.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_METRICS = ("Bleu", "METEOR", "ROUGE_L", "CIDEr")
_KNOWN_METRICS = ("Bleu", "METEOR", "ROUGE_L", "CIDEr", "SPICE")
_JAVA_HINT = "install a Java runtime (e.g. `apt-get install default-jre`) and make sure `java` is on PATH"


def java_available() -> bool:
    """Whether a ``java`` executable is on PATH (needed by the PTB tokenizer, METEOR and SPICE)."""
    return shutil.which("java") is not None


def build_coco_gt(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Build a COCO-captions ground truth from ``[{"image_id", "captions": [str, ...]}]``.

    ``"caption"`` (a string or a list, as in the Karpathy annotation files) is accepted for ``"captions"``;
    entries sharing an ``image_id`` are merged. Image ids are kept as given.
    """
    captions_by_image: dict[Any, list[str]] = {}
    for item in items:
        captions = item.get("captions", item.get("caption"))
        if captions is None:
            raise ValueError(f"ground-truth item for image {item.get('image_id')!r} has no 'captions' field")
        if isinstance(captions, str):
            captions = [captions]
        captions_by_image.setdefault(item["image_id"], []).extend(captions)
    annotations = []
    for image_id, captions in captions_by_image.items():
        for caption in captions:
            annotations.append({"image_id": image_id, "caption": caption, "id": len(annotations)})
    return {
        "images": [{"id": image_id} for image_id in captions_by_image],
        "annotations": annotations,
        "info": {},
        "licenses": [],
        "type": "captions",
    }


def _references_by_image(ground_truth: Mapping[str, Any] | str | Path) -> dict[Any, list[str]]:
    if isinstance(ground_truth, str | Path):
        with open(ground_truth, encoding="utf-8") as f:
            ground_truth = json.load(f)
    if "annotations" not in ground_truth:
        raise ValueError("ground_truth must be COCO captions format with an 'annotations' list (see build_coco_gt)")
    refs: dict[Any, list[str]] = {}
    for ann in ground_truth["annotations"]:
        refs.setdefault(ann["image_id"], []).append(ann["caption"])
    return refs


def ptb_tokenize(sentences: Sequence[str]) -> list[str]:
    """Tokenize with pycocoevalcap's Stanford PTB tokenizer (one Java call), dropping its punctuation tokens.

    Raises:
        RuntimeError: ``java`` is not on PATH.
    """
    if not java_available():
        raise RuntimeError(f"caption evaluation tokenizes with Stanford's PTBTokenizer, which needs Java: {_JAVA_HINT}")
    import pycocoevalcap.tokenizer.ptbtokenizer as ptb

    jar = Path(ptb.__file__).with_name(ptb.STANFORD_CORENLP_3_4_1_JAR)
    text = "\n".join(s.replace("\n", " ") for s in sentences)
    # The temp file lives in the system temp dir, not next to the jar: site-packages may be read-only.
    fd, path = tempfile.mkstemp(suffix=".txt", prefix="vlkit_ptb_")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
        cmd = ["java", "-cp", str(jar), "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines", "-lowerCase", path]
        proc = subprocess.run(cmd, capture_output=True, check=False)
    finally:
        os.remove(path)
    if proc.returncode != 0:
        raise RuntimeError(f"PTBTokenizer failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace')}")
    lines = proc.stdout.decode("utf-8").split("\n")
    if len(lines) < len(sentences):
        raise RuntimeError(f"PTBTokenizer returned {len(lines)} lines for {len(sentences)} sentences")
    drop = set(ptb.PUNCTUATIONS)
    return [" ".join(tok for tok in line.rstrip().split(" ") if tok not in drop) for line in lines[: len(sentences)]]


# Clitics PTB splits off a word ("dog's" → "dog 's", "don't" → "do n't").
_CLITIC = re.compile(r"(n't|'s|'re|'ve|'ll|'d|'m)$")
# PTB writes brackets as -LRB- etc.; lower-cased they are not in pycocoevalcap's drop list, so they stay.
_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-"}
# Everything else that is not part of a word is punctuation PTB drops (in-word hyphens and apostrophes stay).
_PUNCT = re.compile(r"[^\w\s'\-()\[\]{}]|(?<!\w)['-]|['-](?!\w)")


def simple_tokenize(sentences: Sequence[str]) -> list[str]:
    """A Java-free approximation of :func:`ptb_tokenize`: lower-case, punctuation removed, clitics split off.

    Identical to PTB on captions made of words, spaces and sentence punctuation (e.g. every caption of the
    synthetic world; ``tests/metrics`` checks it against the Java tokenizer when Java is present).
    """
    out = []
    for sentence in sentences:
        tokens = []
        text = _PUNCT.sub(" ", sentence.lower())
        for word in re.sub(r"([()\[\]{}])", r" \1 ", text).split():
            m = _CLITIC.search(word)
            if word in _BRACKETS:
                tokens.append(_BRACKETS[word])
            elif m and m.start() > 0:
                tokens += [word[: m.start()], m.group(1)]
            else:
                tokens.append(word)
        out.append(" ".join(tokens))
    return out


def _spice_scorer() -> Any:
    from pycocoevalcap.spice import get_stanford_models as models
    from pycocoevalcap.spice.spice import Spice

    jar = Path(models.SPICEDIR) / models.SPICELIB / f"{models.JAR}.jar"
    if not jar.exists():
        # pycocoevalcap would download CoreNLP silently here; make it an explicit, one-time user step.
        raise RuntimeError(
            f"SPICE needs Stanford CoreNLP ({jar} is missing). Fetch it once with "
            "`python -m pycocoevalcap.spice.get_stanford_models`, or evaluate with spice=False."
        )
    return Spice()


def _meteor(gts: dict[Any, list[str]], res: dict[Any, list[str]]) -> float:
    from pycocoevalcap.meteor.meteor import Meteor

    scorer = Meteor()
    try:
        score, _ = scorer.compute_score(gts, res)
    except Exception as err:
        # Meteor's destructor waits on its lock; free it and stop the JVM so a failure cannot hang the process.
        scorer.meteor_p.kill()
        if scorer.lock.locked():
            scorer.lock.release()
        raise RuntimeError(f"METEOR (Java, -Xmx2G) failed: {err!r}; check that `java` runs and has 2 GB") from err
    return float(score)


def score_captions(
    gts: Mapping[Any, Sequence[str]],
    res: Mapping[Any, str],
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> dict[str, float]:
    """Corpus scores of already tokenized captions (see :func:`ptb_tokenize`).

    Args:
        gts: image id → tokenized reference captions.
        res: image id → one tokenized candidate caption; must cover the same ids as ``gts``.
        metrics: any of ``Bleu`` (gives ``Bleu_1..4``), ``METEOR``, ``ROUGE_L``, ``CIDEr``, ``SPICE``.

    Returns:
        One float per metric key. If ``java`` is missing, METEOR is skipped with a warning and reported as
        ``nan``; SPICE then raises (it was asked for explicitly).
    """
    unknown = [m for m in metrics if m not in _KNOWN_METRICS]
    if unknown:
        raise ValueError(f"unknown caption metrics {unknown}; choose from {list(_KNOWN_METRICS)}")
    if set(gts) != set(res):
        raise ValueError("gts and res must cover the same image ids")
    if not res:
        raise ValueError("no captions to evaluate")
    gts_lists = {k: list(v) for k, v in gts.items()}
    res_lists = {k: [res[k]] for k in gts}
    out: dict[str, float] = {}
    for metric in metrics:
        if metric == "Bleu":
            from pycocoevalcap.bleu.bleu import Bleu

            with contextlib.redirect_stdout(io.StringIO()):  # BleuScorer prints its n-gram stats
                scores, _ = Bleu(4).compute_score(gts_lists, res_lists)
            out.update({f"Bleu_{n + 1}": float(s) for n, s in enumerate(scores)})
        elif metric == "METEOR":
            if java_available():
                out["METEOR"] = _meteor(gts_lists, res_lists)
            else:
                logger.warning("METEOR skipped (reported as nan): `java` is not on PATH; %s", _JAVA_HINT)
                out["METEOR"] = math.nan
        elif metric == "ROUGE_L":
            from pycocoevalcap.rouge.rouge import Rouge

            out["ROUGE_L"] = float(Rouge().compute_score(gts_lists, res_lists)[0])
        elif metric == "CIDEr":
            from pycocoevalcap.cider.cider import Cider

            out["CIDEr"] = float(Cider().compute_score(gts_lists, res_lists)[0])
        else:
            if not java_available():
                raise RuntimeError(f"SPICE needs Java: {_JAVA_HINT}")
            out["SPICE"] = float(_spice_scorer().compute_score(gts_lists, res_lists)[0])
    return out


def coco_caption_eval(
    predictions: Sequence[Mapping[str, Any]],
    ground_truth: Mapping[str, Any] | str | Path,
    metrics: Sequence[str] = DEFAULT_METRICS,
    spice: bool = False,
    tokenizer: str = "ptb",
) -> dict[str, float]:
    """Evaluate generated captions the way the COCO caption server does.

    Args:
        predictions: ``[{"image_id", "caption"}]``, one per image; ids are matched to the ground truth by
            their string form (``"391895"`` matches ``391895``).
        ground_truth: COCO captions json (dict or path), e.g. ``coco_karpathy_test_gt.json`` or the output of
            :func:`build_coco_gt`. Only the predicted images are scored, as LAVIS does.
        metrics: subset of ``Bleu``, ``METEOR``, ``ROUGE_L``, ``CIDEr`` (``SPICE`` too, like ``spice=True``).
        spice: also compute SPICE (slow, needs 8 GB for Java and Stanford CoreNLP on disk).
        tokenizer: ``ptb`` (Stanford's, Java: the official protocol) or ``simple`` (:func:`simple_tokenize`).

    Returns:
        ``Bleu_1..4``, ``METEOR``, ``ROUGE_L``, ``CIDEr`` (+ ``SPICE``) on pycocoevalcap's 0-1 scale (CIDEr
        0-10), and ``agg_metrics`` = ``CIDEr + Bleu_4`` (those of the two that were computed).

    Raises:
        RuntimeError: ``java`` is missing (the PTB tokenizer needs it; METEOR alone would just be skipped).
    """
    if tokenizer not in ("ptb", "simple"):
        raise ValueError(f"caption tokenizer {tokenizer!r} is not 'ptb' or 'simple' (run.caption_tokenizer)")
    refs = _references_by_image(ground_truth)
    by_str = {str(k): k for k in refs}
    candidates: dict[Any, str] = {}
    for pred in predictions:
        key = by_str.get(str(pred["image_id"]))
        if key is None:
            raise KeyError(f"predicted image_id {pred['image_id']!r} is not in the caption ground truth")
        if key in candidates:
            raise ValueError(f"image_id {pred['image_id']!r} has more than one predicted caption")
        candidates[key] = str(pred["caption"])
    if not candidates:
        raise ValueError("no predictions to evaluate")
    if len(candidates) < len(refs):
        logger.warning("caption evaluation covers %d of %d ground-truth images", len(candidates), len(refs))
    ids = list(candidates)
    flat_refs = [caption for i in ids for caption in refs[i]]
    tokenize = ptb_tokenize if tokenizer == "ptb" else simple_tokenize
    tokens = tokenize([candidates[i] for i in ids] + flat_refs)
    res_tok = dict(zip(ids, tokens[: len(ids)]))
    gts_tok: dict[Any, list[str]] = {}
    cursor = len(ids)
    for i in ids:
        gts_tok[i] = tokens[cursor : cursor + len(refs[i])]
        cursor += len(refs[i])
    requested = list(metrics) + (["SPICE"] if spice and "SPICE" not in metrics else [])
    out = score_captions(gts_tok, res_tok, requested)
    agg = [out[m] for m in ("CIDEr", "Bleu_4") if m in out]
    out["agg_metrics"] = float(sum(agg)) if agg else next(iter(out.values()))
    return out
