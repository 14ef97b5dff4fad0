"""The shipped BLIP tokenizer: bert-base-uncased ids plus [DEC]/[ENC], built without network access."""

from __future__ import annotations

import socket

import pytest

from vlkit.models import tokenizer as tok_mod
from vlkit.models.tokenizer import VOCAB_FILE, blip_tokenizer


def test_shipped_vocab_is_bert_base_uncased() -> None:
    vocab = VOCAB_FILE.read_text(encoding="utf-8").splitlines()
    assert len(vocab) == 30522
    assert (vocab[0], vocab[101], vocab[102], vocab[103]) == ("[PAD]", "[CLS]", "[SEP]", "[MASK]")


def test_special_tokens_and_ids() -> None:
    tok = blip_tokenizer()
    assert len(tok) == 30524
    assert (tok.bos_token, tok.bos_token_id, tok.dec_token_id) == ("[DEC]", 30522, 30522)
    assert tok.enc_token_id == tok.convert_tokens_to_ids("[ENC]") == 30523
    assert (tok.cls_token_id, tok.sep_token_id, tok.pad_token_id) == (101, 102, 0)
    assert blip_tokenizer() is tok  # cached: models share one instance


def test_lower_cases_and_pads_like_bert() -> None:
    tok = blip_tokenizer()
    batch = tok(["A Picture of", "a DOG"], padding="longest", return_tensors="pt")
    assert batch.input_ids.tolist() == [[101, 1037, 3861, 1997, 102], [101, 1037, 3899, 102, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]
    assert tok.decode([30522, 1037, 3899, 102], skip_special_tokens=True) == "a dog"


def test_builds_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access attempted while building the tokenizer")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    tok_mod.blip_tokenizer.cache_clear()
    try:
        assert len(blip_tokenizer()) == 30524
    finally:
        tok_mod.blip_tokenizer.cache_clear()
