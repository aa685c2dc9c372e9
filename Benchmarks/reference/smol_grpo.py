"""Plain-PyTorch twin of allot-bench's smol-grpo-step suite: one GRPO step of
SmolLM2-135M-Instruct (weights from the GGUF via smol_hf.py, run by llama.py's plain
decoder, not transformers'), one thread.

A step: --prompts-per-step prompts (drawn in a seeded order from the --prompts file that
allot-bench writes: the trainer's prompt ids and answers), each left-padded to the longest
and prefilled once, its KV cache copied to its --group rows; batched decoding at
--temperature of up to --max-new tokens, the batch running until every row has produced
EOS (<|im_end|>) or the limit; rewards (the reply's last number equals the answer) and
group-normalised advantages; then the clipped surrogate (β = 0, one pass, old log-probs
from sampling) forward + backward over every completion token in chunks of --chunk rows,
gradient-norm clip 1, and an AdamW step (--lr, no weight decay).

Prints, as the median of --steps timed steps after one warm-up: sample_seconds,
update_seconds, step_seconds, mean_length (completion tokens per row), and peak_rss_mb.
"""
import json
import os
import random
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch
import torch.nn.functional as F

import llama
import smol_hf


def twin_model():
    """llama.py's decoder holding SmolLM2-135M-Instruct's weights."""
    hf, tokenizer = smol_hf.load()
    state = {k.removeprefix("model."): v for k, v in hf.state_dict().items()}
    model = llama.Llama()
    with torch.no_grad():
        model.embed.weight.copy_(state["embed_tokens.weight"])
        model.norm.copy_(state["norm.weight"])
        names = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj",
                 "o": "self_attn.o_proj", "gate": "mlp.gate_proj", "up": "mlp.up_proj",
                 "down": "mlp.down_proj"}
        for i, layer in enumerate(model.layers):
            for ours, theirs in names.items():
                getattr(layer, ours).weight.copy_(state[f"layers.{i}.{theirs}.weight"])
            layer.n1.copy_(state[f"layers.{i}.input_layernorm.weight"])
            layer.n2.copy_(state[f"layers.{i}.post_attention_layernorm.weight"])
    return model, tokenizer


def attention_mask(valid, queries):
    """Boolean [b, 1, queries, keys]: causal over the last `queries` positions, padded keys
    hidden, and every position sees itself (so a padding row is never empty)."""
    keys = valid.shape[1]
    q = torch.arange(keys - queries, keys)[:, None]
    k = torch.arange(keys)[None]
    mask = (k <= q)[None] & valid[:, None, :]
    return (mask | (k == q)[None])[:, None]


def step(model, tokenizer, opt, prompts, args, eos):
    g, new = args.group, args.max_new
    started = time.perf_counter()
    # Sampling: each prompt prefilled once, its cache repeated for its group.
    p = max(len(x["ids"]) for x in prompts)
    ids = torch.tensor([[eos] * (p - len(x["ids"])) + x["ids"] for x in prompts])
    valid = torch.tensor([[False] * (p - len(x["ids"])) + [True] * len(x["ids"]) for x in prompts])
    b = len(prompts) * g
    with torch.no_grad():
        small = [(torch.empty(len(prompts), llama.KV, p + new, llama.HD),
                  torch.empty(len(prompts), llama.KV, p + new, llama.HD)) for _ in range(llama.L)]
        logits = model(ids, 0, small, last_only=True, mask=attention_mask(valid, p))[:, -1]
        caches = [(k.repeat_interleave(g, 0), v.repeat_interleave(g, 0)) for k, v in small]
        logits = logits.repeat_interleave(g, 0)
        valid = torch.cat([valid.repeat_interleave(g, 0), torch.ones(b, new, dtype=torch.bool)], 1)
        tokens, old, done = [], [], torch.zeros(b, dtype=torch.bool)
        lengths = torch.full((b,), new)
        for t in range(new):
            logp = torch.log_softmax(logits / args.temperature, -1)
            token = torch.multinomial(logp.exp(), 1)
            tokens.append(token[:, 0])
            old.append(logp.gather(1, token)[:, 0])
            ended = (token[:, 0] == eos) & ~done
            lengths[ended] = t + 1
            done |= ended
            if bool(done.all()) or t == new - 1:
                break
            mask = attention_mask(valid[:, : p + t + 1], 1)
            logits = model(token, p + t, caches, mask=mask)[:, -1]
    tokens, old = torch.stack(tokens, 1), torch.stack(old, 1)
    width = tokens.shape[1]
    completion_mask = torch.arange(width)[None] < lengths[:, None]
    texts = tokenizer.batch_decode([row[:n].tolist() for row, n in zip(tokens, lengths)],
                                   skip_special_tokens=True)
    rewards = torch.tensor([smol_hf.reward(text, prompts[i // g]["answer"])
                            for i, text in enumerate(texts)])
    grouped = rewards.view(-1, g)
    advantages = ((grouped - grouped.mean(1, keepdim=True))
                  / (grouped.std(1, keepdim=True) + 1e-4)).view(-1)
    sampled = time.perf_counter()

    # The update: the clipped surrogate over every completion token, in chunks of rows.
    model.train()
    opt.zero_grad(set_to_none=True)
    sequences = torch.cat([ids.repeat_interleave(g, 0), tokens], 1)
    full_valid = valid[:, : p + width]
    total = completion_mask.sum()
    for start in range(0, b, args.chunk):
        rows = slice(start, start + args.chunk)
        logits = model(sequences[rows], mask=attention_mask(full_valid[rows], p + width),
                       rows=slice(p - 1, p - 1 + width))
        logp = torch.log_softmax(logits / args.temperature, -1).gather(
            2, tokens[rows, :, None])[..., 0]
        ratio = torch.exp(logp - old[rows])
        a = advantages[rows, None]
        surrogate = torch.minimum(ratio * a, ratio.clamp(1 - 0.2, 1 + 0.28) * a)
        (-(surrogate * completion_mask[rows]).sum() / total).backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    model.eval()
    finished = time.perf_counter()
    return sampled - started, finished - sampled, float(lengths.float().mean())


def main():
    args = smol_hf.step_arguments().parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with open(args.prompts) as f:
        pool = json.load(f)
    random.Random(0).shuffle(pool)
    model, tokenizer = twin_model()
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    n = args.prompts_per_step
    runs = []
    for i in range(args.steps + 1):
        batch = [pool[(i * n + j) % len(pool)] for j in range(n)]
        runs.append(step(model, tokenizer, opt, batch, args, eos))
    smol_hf.report(runs[1:])


if __name__ == "__main__":
    main()
