"""PyTorch twin of allot-bench's llama suite: a Llama decoder of SmolLM2-135M's shape
(vocabulary 49152, 30 layers, width 576, 9 query heads on 3 key/value heads of 64, SwiGLU
MLP 1536, RMSNorm, RoPE θ = 100000, tied head; random weights), written in plain PyTorch,
one thread.

--mode sample:   batch 64 prompts of 16 tokens, 32 new tokens each, sampled (temperature 1)
                 with a preallocated KV cache; prints tokens_per_sec (new tokens per second).
--mode train:    next-token cross-entropy on batch 16 x 128 tokens, forward + backward +
                 AdamW; prints tokens_per_sec and peak_rss_mb (the process's peak RSS).
--mode generate: transformers' LlamaForCausalLM.generate of the same shape, batch 1, greedy,
                 a 16-token prompt and 32 new tokens; prints tokens_per_sec.
"""
import argparse
import resource
import time

import torch
import torch.nn.functional as F

V, L, D, I, H, KV, HD, THETA, EPS = 49152, 30, 576, 1536, 9, 3, 64, 100000.0, 1e-5
B, PROMPT, NEW = 64, 16, 32


def rotate(x, cos, sin):  # x [b, h, t, hd]; rotate-half layout
    a, b = x[..., : HD // 2], x[..., HD // 2:]
    return x * cos + torch.cat([-b, a], -1) * sin


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        lin = lambda i, o: torch.nn.Linear(i, o, bias=False)
        self.q, self.k, self.v, self.o = lin(D, H * HD), lin(D, KV * HD), lin(D, KV * HD), lin(H * HD, D)
        self.gate, self.up, self.down = lin(D, I), lin(D, I), lin(I, D)
        self.n1, self.n2 = torch.nn.Parameter(torch.ones(D)), torch.nn.Parameter(torch.ones(D))

    def forward(self, x, cos, sin, cache=None, start=0, mask=None):
        b, t, _ = x.shape
        h = F.rms_norm(x, (D,), self.n1, EPS)
        q = rotate(self.q(h).view(b, t, H, HD).transpose(1, 2), cos, sin)
        k = rotate(self.k(h).view(b, t, KV, HD).transpose(1, 2), cos, sin)
        v = self.v(h).view(b, t, KV, HD).transpose(1, 2)
        if cache is not None:
            cache[0][:, :, start:start + t] = k
            cache[1][:, :, start:start + t] = v
            k, v = cache[0][:, :, : start + t], cache[1][:, :, : start + t]
        causal = mask is None and t > 1  # a mask, when given, holds causality itself
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                           enable_gqa=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, H * HD))
        h = F.rms_norm(x, (D,), self.n2, EPS)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Llama(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(V, D)
        self.layers = torch.nn.ModuleList(Layer() for _ in range(L))
        self.norm = torch.nn.Parameter(torch.ones(D))
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)
        self.inv_freq = 1.0 / THETA ** (torch.arange(0, HD, 2).float() / HD)

    def forward(self, ids, start=0, caches=None, last_only=False, mask=None, rows=None):
        t = ids.shape[1]
        angles = torch.arange(start, start + t).float()[:, None] * self.inv_freq[None]
        angles = torch.cat([angles, angles], -1)
        cos, sin = angles.cos(), angles.sin()
        x = self.embed(ids)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, None if caches is None else caches[i], start, mask)
        if last_only:
            x = x[:, -1:]
        if rows is not None:  # only these positions' logits
            x = x[:, rows]
        return F.rms_norm(x, (D,), self.norm, EPS) @ self.embed.weight.T


def sample(model):
    with torch.no_grad():
        prompts = torch.randint(3, V, (B, PROMPT))
        caches = [(torch.empty(B, KV, PROMPT + NEW, HD), torch.empty(B, KV, PROMPT + NEW, HD))
                  for _ in range(L)]
        logits = model(prompts, 0, caches, last_only=True)[:, -1]
        for step in range(NEW):
            logp = torch.log_softmax(logits, -1)
            token = torch.multinomial(logp.exp(), 1)
            _ = logp.gather(1, token)
            if step < NEW - 1:
                logits = model(token, PROMPT + step, caches)[:, -1]
    return B * NEW


def make_train(model):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    batch = torch.randint(3, V, (16, 129))

    def train():
        opt.zero_grad(set_to_none=True)
        logits = model(batch[:, :-1])
        F.cross_entropy(logits.reshape(-1, V), batch[:, 1:].reshape(-1)).backward()
        opt.step()
        return 16 * 128

    return train


def make_generate():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=V, hidden_size=D, intermediate_size=I, num_hidden_layers=L,
                         num_attention_heads=H, num_key_value_heads=KV, head_dim=HD,
                         rms_norm_eps=EPS, rope_theta=THETA, tie_word_embeddings=True,
                         max_position_embeddings=8192)
    hf = LlamaForCausalLM(config).eval()
    prompt = torch.randint(3, V, (1, PROMPT))

    def generate():
        with torch.no_grad():
            hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=NEW,
                        min_new_tokens=NEW, do_sample=False, pad_token_id=0)
        return NEW

    return generate


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["sample", "train", "generate"], required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    if args.mode == "generate":
        work = make_generate()
    else:
        model = Llama()
        print(f"parameters={sum(p.numel() for p in model.parameters())}")
        work = (lambda: sample(model)) if args.mode == "sample" else make_train(model)
    work()
    rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        tokens = work()
        rates.append(tokens / (time.perf_counter() - start))
    rates.sort()
    print(f"tokens_per_sec={rates[len(rates) // 2]:.2f}")
    print(f"peak_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
