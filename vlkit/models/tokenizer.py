"""BLIP's tokenizer: bert-base-uncased WordPiece plus ``[DEC]`` (id 30522, BOS) and ``[ENC]`` (id 30523).

The vocabulary ships inside the package, so building a model never touches the network.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

VOCAB_FILE = Path(__file__).parent / "assets" / "bert_base_uncased_vocab.txt"
CLS_TOKEN_ID, SEP_TOKEN_ID, PAD_TOKEN_ID = 101, 102, 0
DEC_TOKEN_ID, ENC_TOKEN_ID = 30522, 30523
VOCAB_SIZE = 30524


@lru_cache(maxsize=1)
def blip_tokenizer() -> Any:
    """The shared BLIP tokenizer (a ``transformers.BertTokenizerFast``), with ``.enc_token_id``/``.dec_token_id``."""
    import inspect

    from transformers import BertTokenizerFast

    if "vocab" in inspect.signature(BertTokenizerFast.__init__).parameters:  # transformers >= 5
        vocab = {t: i for i, t in enumerate(VOCAB_FILE.read_text(encoding="utf-8").splitlines())}
        tok = BertTokenizerFast(vocab=vocab, do_lower_case=True)
    else:
        tok = BertTokenizerFast(vocab_file=str(VOCAB_FILE), do_lower_case=True)
    tok.add_special_tokens({"bos_token": "[DEC]"})
    tok.add_special_tokens({"additional_special_tokens": ["[ENC]"]})
    tok.enc_token_id = tok.convert_tokens_to_ids("[ENC]")
    tok.dec_token_id = tok.bos_token_id
    if (tok.dec_token_id, tok.enc_token_id, len(tok)) != (DEC_TOKEN_ID, ENC_TOKEN_ID, VOCAB_SIZE):
        raise RuntimeError(f"Unexpected [DEC]/[ENC] ids or vocab size from {VOCAB_FILE}; the file is corrupt.")
    return tok
