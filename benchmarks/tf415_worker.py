"""Run transformers 4.15's own ``generate`` over a BLIP-shaped decoder (half of verify_tf415_beam.py).

Runs under the Python that has transformers==4.15.0 (the version the original BLIP code pinned); it imports
nothing from vlkit. Usage: ``python tf415_worker.py CASES.pt OUT.pt``. ``CASES.pt`` holds the decoders'
shape and, per decoder, its state dict in vlkit's (= the original BLIP's) key layout and its generation
cases; ``OUT.pt`` gets one ``[rows, L]`` id tensor per case, grouped per decoder, and each decoder's
logits for its first case's prompt.

The decoder is transformers' ``BertLMHeadModel`` with cross-attention; the original BLIP ``med.py`` is a copy
of it without token-type embeddings (zeroed here) whose ``prepare_inputs_for_generation`` also passes the
image features, as the subclass below does.
"""

from __future__ import annotations

import sys

import torch
import transformers
from transformers import BertConfig, BertLMHeadModel


class BlipShapedDecoder(BertLMHeadModel):
    """BERT LM head model that hands the image (or question) features to every generation step."""

    def prepare_inputs_for_generation(
        self, input_ids: torch.Tensor, past: tuple | None = None, attention_mask: torch.Tensor | None = None, **kw
    ) -> dict:
        if attention_mask is None:
            attention_mask = input_ids.new_ones(input_ids.shape)
        if past is not None:
            input_ids = input_ids[:, -1:]
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "past_key_values": past,
            "encoder_hidden_states": kw.get("encoder_hidden_states"),
            "encoder_attention_mask": kw.get("encoder_attention_mask"),
            "use_cache": kw.get("use_cache"),
        }


def build_decoder(shape: dict, state_dict: dict[str, torch.Tensor]) -> BlipShapedDecoder:
    cfg = BertConfig(
        vocab_size=shape["vocab_size"],
        hidden_size=shape["hidden_size"],
        num_hidden_layers=shape["num_layers"],
        num_attention_heads=shape["num_heads"],
        intermediate_size=shape["intermediate_size"],
        max_position_embeddings=shape["max_position_embeddings"],
        layer_norm_eps=shape["layer_norm_eps"],
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        is_decoder=True,
        add_cross_attention=True,
        pad_token_id=0,
    )
    model = BlipShapedDecoder(cfg).eval()
    state = dict(state_dict)
    state["bert.embeddings.token_type_embeddings.weight"] = torch.zeros_like(
        model.bert.embeddings.token_type_embeddings.weight
    )
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    unexpected = [k for k in unexpected if not k.endswith("position_ids")]
    if missing or unexpected:
        raise SystemExit(f"weights do not fit transformers 4.15's BertLMHeadModel: {missing} {unexpected}")
    return model


@torch.no_grad()
def run_case(model: BlipShapedDecoder, case: dict) -> torch.Tensor:
    """One ``generate`` call as the original BLIP code makes it (features pre-expanded for beam search)."""
    feats = case["features"]
    sample = case["do_sample"]
    if not sample:
        feats = feats.repeat_interleave(case["num_beams"], dim=0)
    kwargs = dict(
        input_ids=case["prompt"],
        max_length=case["max_length"],
        min_length=case["min_length"],
        eos_token_id=case["eos_token_id"],
        pad_token_id=case["pad_token_id"],
        repetition_penalty=case["repetition_penalty"],
        encoder_hidden_states=feats,
        encoder_attention_mask=torch.ones(feats.shape[:-1], dtype=torch.long),
    )
    if sample:
        torch.manual_seed(case["seed"])  # BLIP sampled from the global RNG
        return model.generate(do_sample=True, top_p=case["top_p"], num_return_sequences=1, **kwargs)
    return model.generate(num_beams=case["num_beams"], **kwargs)


def main(cases_path: str, out_path: str) -> None:
    if transformers.__version__ != "4.15.0":
        raise SystemExit(f"this worker needs transformers 4.15.0, found {transformers.__version__}")
    payload = torch.load(cases_path)
    outputs, logits = [], []
    for entry in payload["models"]:
        model = build_decoder(payload["shape"], entry["state_dict"])
        outputs.append([run_case(model, case) for case in entry["cases"]])
        first = entry["cases"][0]
        with torch.no_grad():  # one plain forward, to measure how far the two implementations' logits are apart
            logits.append(model(input_ids=first["prompt"], encoder_hidden_states=first["features"]).logits)
    torch.save({"outputs": outputs, "logits": logits, "version": transformers.__version__}, out_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
