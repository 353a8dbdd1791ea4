"""PyTorch peers of ``scripts/gpu_run.py``: the same shapes as tfhf's exported programs, run by
PyTorch on the same device, with nothing but torch (the GPU machine has no transformers).

* :class:`Llama`: a Llama decoder (RMSNorm, rotary "rotate half", grouped-query attention
  through ``scaled_dot_product_attention``, SwiGLU MLP, tied or separate LM head) with a static
  KV cache written in place — the gpt-fast recipe. :func:`make_decoder` gives ``generate(ids,
  k)``: prefill, then ``k - 1`` greedy steps, eager or with the step under
  ``torch.compile(mode="reduce-overhead", fullgraph=True)`` (CUDA graphs on a GPU).
* :class:`Bert`: a BERT-base-shaped sequence classifier (post-norm layers, GELU, pooler) and
  :func:`make_train_step`: forward under ``torch.autocast`` (bf16 or fp16 with a
  ``GradScaler``), cross-entropy, backward, ``AdamW`` step.

Weights are seeded random values of the right shapes (norm scales 1): speed, not answers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def torch_dtype(name):
    """tfhf dtype / policy name -> the compute dtype (mixed_bfloat16 -> bfloat16)."""
    return DTYPES[name.replace("mixed_", "")]


def _init(module, std=0.02):
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.fill_(1.0)
            elif name.endswith("bias"):
                p.zero_()
            else:
                p.normal_(0.0, std)
    return module


# ---------------------------------------------------------------------------- Llama
class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(dim)), eps

    def forward(self, x):
        y = x.float()
        y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * y.to(x.dtype)


def _rotate(x, cos, sin):
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, self.heads, self.kv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.d = c.get("head_dim") or h // self.heads
        eps = c.get("rms_norm_eps", 1e-6)
        self.input_norm, self.mlp_norm = RMSNorm(h, eps), RMSNorm(h, eps)
        self.q = nn.Linear(h, self.heads * self.d, bias=False)
        self.k = nn.Linear(h, self.kv * self.d, bias=False)
        self.v = nn.Linear(h, self.kv * self.d, bias=False)
        self.o = nn.Linear(self.heads * self.d, h, bias=False)
        f = c["intermediate_size"]
        self.gate, self.up = nn.Linear(h, f, bias=False), nn.Linear(h, f, bias=False)
        self.down = nn.Linear(f, h, bias=False)

    def forward(self, x, cos, sin, pos, mask, cache):
        b, t, _ = x.shape
        y = self.input_norm(x)
        q = self.q(y).view(b, t, self.heads, self.d).transpose(1, 2)
        k = self.k(y).view(b, t, self.kv, self.d).transpose(1, 2)
        v = self.v(y).view(b, t, self.kv, self.d).transpose(1, 2)
        q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
        kc, vc = cache
        kc.index_copy_(2, pos, k)
        vc.index_copy_(2, pos, v)
        rep = self.heads // self.kv
        a = F.scaled_dot_product_attention(q, kc.repeat_interleave(rep, 1),
                                           vc.repeat_interleave(rep, 1), attn_mask=mask)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, -1))
        y = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(y)) * self.up(y))


class Llama(nn.Module):
    def __init__(self, c, batch, max_len, dtype, device):
        super().__init__()
        h, v = c["hidden_size"], c["vocab_size"]
        self.embed = nn.Embedding(v, h)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(h, c.get("rms_norm_eps", 1e-6))
        self.tied = c.get("tie_word_embeddings", True)
        self.head = None if self.tied else nn.Linear(h, v, bias=False)
        _init(self).to(device=device, dtype=dtype)
        blk = self.blocks[0]
        shape = (batch, blk.kv, max_len, blk.d)
        for i in range(len(self.blocks)):  # buffers: CUDA graphs may update them in place
            self.register_buffer(f"k_cache_{i}", torch.zeros(shape, dtype=dtype, device=device))
            self.register_buffer(f"v_cache_{i}", torch.zeros(shape, dtype=dtype, device=device))
        theta = float(c.get("rope_parameters", {}).get("rope_theta", 10000.0))
        inv = 1.0 / theta ** (torch.arange(0, blk.d, 2, device=device).float() / blk.d)
        ang = torch.arange(max_len, device=device).float()[:, None] * inv[None, :]
        ang = torch.cat([ang, ang], dim=-1)
        self.cos, self.sin = ang.cos().to(dtype), ang.sin().to(dtype)
        self.causal = torch.tril(torch.ones(max_len, max_len, dtype=torch.bool, device=device))

    def forward(self, ids, pos):
        x = self.embed(ids)
        cos, sin = self.cos[pos][None, None], self.sin[pos][None, None]
        mask = self.causal[pos][None, None]
        for i, blk in enumerate(self.blocks):
            cache = (getattr(self, f"k_cache_{i}"), getattr(self, f"v_cache_{i}"))
            x = blk(x, cos, sin, pos, mask, cache)
        x = self.norm(x[:, -1:])
        w = self.embed.weight if self.tied else self.head.weight
        return (x @ w.t()).float()


def make_decoder(config, batch, max_len, dtype, device, compiled=False, seed=0):
    """``generate(ids, k) -> (batch, k) greedy tokens`` of a random Llama with ``config``'s
    shapes: prefill of ``ids`` then ``k - 1`` decode steps of one token each."""
    torch.manual_seed(seed)
    model = Llama(config, batch, max_len, torch_dtype(dtype), device).eval()

    def step(tok, pos):
        return model(tok, pos).argmax(-1)

    if compiled:
        step = torch.compile(step, mode="reduce-overhead", fullgraph=True)

    @torch.inference_mode()
    def generate(ids, k):
        p = ids.shape[1]
        tok = model(ids, torch.arange(p, device=device)).argmax(-1)
        out = [tok]
        for i in range(k - 1):
            tok = step(tok, torch.tensor([p + i], device=device)).clone()
            out.append(tok)
        return torch.cat(out, dim=1)

    return generate


# ---------------------------------------------------------------------------- BERT
class BertLayer(nn.Module):
    def __init__(self, h, heads, f, p):
        super().__init__()
        self.heads, self.p = heads, p
        self.qkv, self.out = nn.Linear(h, 3 * h), nn.Linear(h, h)
        self.attention_norm, self.output_norm = nn.LayerNorm(h, eps=1e-12), nn.LayerNorm(h, eps=1e-12)
        self.up, self.down = nn.Linear(h, f), nn.Linear(f, h)

    def forward(self, x):
        b, s, h = x.shape
        q, k, v = (t.view(b, s, self.heads, -1).transpose(1, 2) for t in self.qkv(x).chunk(3, -1))
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=self.p if self.training else 0.0)
        x = self.attention_norm(x + F.dropout(self.out(a.transpose(1, 2).reshape(b, s, h)),
                                              self.p, self.training))
        y = self.down(F.gelu(self.up(x)))
        return self.output_norm(x + F.dropout(y, self.p, self.training))


class Bert(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        p = c.get("hidden_dropout_prob", 0.1)
        self.word = nn.Embedding(c["vocab_size"], h)
        self.position = nn.Embedding(c.get("max_position_embeddings", 512), h)
        self.token_type = nn.Embedding(2, h)
        self.embed_norm, self.p = nn.LayerNorm(h, eps=1e-12), p
        self.layers = nn.ModuleList(BertLayer(h, c["num_attention_heads"],
                                              c["intermediate_size"], p)
                                    for _ in range(c["num_hidden_layers"]))
        self.pooler, self.classifier = nn.Linear(h, h), nn.Linear(h, c.get("num_labels", 2))

    def forward(self, ids, types):
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.word(ids) + self.position(pos)[None] + self.token_type(types)
        x = F.dropout(self.embed_norm(x), self.p, self.training)
        for layer in self.layers:
            x = layer(x)
        return self.classifier(F.dropout(torch.tanh(self.pooler(x[:, 0])), self.p,
                                         self.training))


def make_train_step(config, batch, seq, policy, device, compiled=False, seed=0):
    """``step()``: one AdamW training step of a random BERT classifier on a fixed batch,
    forward under autocast to ``policy``'s compute dtype (fp16 with loss scaling)."""
    torch.manual_seed(seed)
    model = _init(Bert(config)).to(device).train()
    dtype = torch_dtype(policy)
    fused = device.type == "cuda"
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01, fused=fused)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    ids = torch.randint(1, config["vocab_size"], (batch, seq), device=device)
    types = torch.zeros_like(ids)
    labels = torch.randint(0, config.get("num_labels", 2), (batch,), device=device)
    forward = torch.compile(model) if compiled else model

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = F.cross_entropy(forward(ids, types).float(), labels)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss

    return step


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)

