"""PyTorch twin of allot-bench's language-model benchmarks: the same decoder-only
transformer (vocabulary 99, 4 pre-norm blocks, width 128, 4 heads, GELU-tanh MLP x4,
learned positions, tied head; 0.8M parameters), one thread.

--mode sample: batch 64 prompts of 16 tokens, 48 new tokens each, sampled with a KV cache
               (temperature 1); prints tokens_per_sec (new tokens per second).
--mode sft:    teacher-forced cross-entropy on batch 32 x 112 tokens, forward + backward +
               AdamW; prints tokens_per_sec (sequence tokens per second).
--mode grpo:   one GRPO step: 16 prompts x 8 completions of 120 sampled tokens (KV cache),
               then the clipped surrogate on their log-probs, backward, AdamW; prints
               tokens_per_sec (completion tokens per second of step time) and the split."""
import argparse
import math
import time

import torch
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--mode", choices=["sample", "sft", "grpo"], required=True)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--repeats", type=int, default=5)
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)

V, L, D, H, C = 99, 4, 128, 4, 224


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = torch.nn.LayerNorm(D), torch.nn.LayerNorm(D)
        self.wq, self.wk, self.wv, self.wo = (torch.nn.Linear(D, D) for _ in range(4))
        self.fc1, self.fc2 = torch.nn.Linear(D, 4 * D), torch.nn.Linear(4 * D, D)

    def forward(self, x, cache=None):
        b, t, _ = x.shape
        h = self.ln1(x)
        split = lambda y: y.view(b, t, H, D // H).transpose(1, 2)
        q, k, v = split(self.wq(h)), split(self.wk(h)), split(self.wv(h))
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        causal = cache is None or t > 1
        a = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        x = x + self.wo(a.transpose(1, 2).reshape(b, t, D))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class LM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = torch.nn.Embedding(V, D)
        self.pos = torch.nn.Embedding(C, D)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))
        self.ln = torch.nn.LayerNorm(D)

    def forward(self, ids, start=0, caches=None):
        t = ids.shape[1]
        x = self.tok(ids) + self.pos(torch.arange(start, start + t))
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.ln(x) @ self.tok.weight.T


model = LM()
print(f"parameters={sum(p.numel() for p in model.parameters())}")


def sample():
    with torch.no_grad():
        prompts = torch.randint(3, V, (64, 16))
        caches = [dict() for _ in range(L)]
        logits = model(prompts, 0, caches)[:, -1]
        for step in range(48):
            probs = torch.softmax(logits, -1)
            token = torch.multinomial(probs, 1)
            _ = torch.log_softmax(logits, -1).gather(1, token)
            logits = model(token, 16 + step, caches)[:, -1]
    return 64 * 48


opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
batch = torch.randint(3, V, (32, 113))


def sft():
    opt.zero_grad(set_to_none=True)
    logits = model(batch[:, :-1])
    F.cross_entropy(logits.reshape(-1, V), batch[:, 1:].reshape(-1)).backward()
    opt.step()
    return 32 * 112


def grpo():
    global last_split
    start = time.perf_counter()
    prompts = torch.randint(3, V, (16, 16)).repeat_interleave(8, dim=0)
    with torch.no_grad():
        caches = [dict() for _ in range(L)]
        logits = model(prompts, 0, caches)[:, -1]
        tokens, old = [], []
        for step in range(120):
            logp = torch.log_softmax(logits, -1)
            token = torch.multinomial(logp.exp(), 1)
            tokens.append(token)
            old.append(logp.gather(1, token))
            logits = model(token, 16 + step, caches)[:, -1]
    sampled = time.perf_counter()
    completions = torch.cat(tokens, 1)
    old = torch.cat(old, 1)
    rewards = torch.rand(16, 8).round()
    adv = ((rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, keepdim=True) + 1e-6)).reshape(-1, 1)
    opt.zero_grad(set_to_none=True)
    seq = torch.cat([prompts, completions], 1)
    logits = model(seq[:, :-1])[:, 15:]
    new = torch.log_softmax(logits, -1).gather(2, completions.unsqueeze(2)).squeeze(2)
    ratio = (new - old).clamp(-20, 20).exp()
    loss = -torch.minimum(ratio * adv, ratio.clamp(0.8, 1.28) * adv).mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    done = time.perf_counter()
    last_split = (sampled - start, done - sampled)
    return 128 * 120


last_split = (0, 0)
work = {"sample": sample, "sft": sft, "grpo": grpo}[args.mode]
work()
times = []
for _ in range(args.repeats):
    start = time.perf_counter()
    tokens = work()
    times.append(tokens / (time.perf_counter() - start))
times.sort()
print(f"tokens_per_sec={times[len(times) // 2]:.1f}")
if args.mode == "grpo":
    print(f"sample_seconds={last_split[0]:.3f}")
    print(f"train_seconds={last_split[1]:.3f}")
