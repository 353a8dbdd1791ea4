"""The toy LM's PyTorch twin, so transformers' own ``generate`` is the reference.

Same weights and math as :class:`toy_lm.ToyCausalLM`, as a transformers ``PreTrainedModel``
without a cache: run with ``generate(..., use_cache=False)`` transformers re-runs the whole
sequence each step, with its position ids (``cumsum(mask) - 1``) and attention mask.
"""

from __future__ import annotations

import math

import torch
from transformers import GenerationMixin, LlamaConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput

WEIGHTS = ("tok_emb", "pos_emb", "wq", "wk", "wv", "wo", "w1", "w2", "lm_head")


class TorchToyCausalLM(PreTrainedModel, GenerationMixin):
    config_class = LlamaConfig

    def __init__(self, config, tf_model):
        super().__init__(config)
        self.w = torch.nn.ParameterDict({
            k: torch.nn.Parameter(torch.tensor(getattr(tf_model, k).numpy()), requires_grad=False)
            for k in WEIGHTS})
        self.num_heads = config.num_attention_heads
        self.eval()

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, **kwargs):
        w = self.w
        b, t = input_ids.shape
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if position_ids is None:
            position_ids = torch.arange(t)[None].expand(b, t)
        x = w["tok_emb"][input_ids] + w["pos_emb"][position_ids]
        hd = x.shape[-1] // self.num_heads

        def heads(m):
            return (x @ m).view(b, t, self.num_heads, hd).transpose(1, 2)

        q, k, v = heads(w["wq"]), heads(w["wk"]), heads(w["wv"])
        scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
        allowed = torch.tril(torch.ones(t, t, dtype=torch.bool))[None] & (
            attention_mask == 1)[:, None, :]
        scores = torch.where(allowed[:, None], scores, torch.tensor(-1e9))
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, -1)
        h = x + ctx @ w["wo"]
        h = h + torch.tanh(h @ w["w1"]) @ w["w2"]
        return CausalLMOutput(logits=h @ w["lm_head"])


def hf_generate(torch_model, input_ids, attention_mask=None, **kwargs):
    """transformers' generate on numpy inputs -> numpy sequences (or the output object)."""
    import numpy as np

    ids = torch.tensor(np.asarray(input_ids), dtype=torch.long)
    mask = None if attention_mask is None else torch.tensor(np.asarray(attention_mask))
    with torch.no_grad():
        out = torch_model.generate(ids, attention_mask=mask, use_cache=False, **kwargs)
    if isinstance(out, torch.Tensor):
        return out.numpy()
    return out
