"""Golden files for LlamaModelTests: tiny random Llama-family models and their logits from
Hugging Face transformers (the reference implementation), plus SmolLM2-135M-Instruct's
last-position logits and greedy generations.

    python Tests/PretrainedTests/golden/make_model_golden.py            # tiny models
    python Tests/PretrainedTests/golden/make_model_golden.py \
        --smollm2 .models/SmolLM2-135M-Instruct.Q4_1.gguf --export /tmp/smollm2-f32

Tiny models: each is saved as a Hugging Face directory (config.json, model.safetensors in
F32) under golden/<name>/ with logits.json: for each case the token ids [B, T], position
ids, left-padding counts and the logits [B, T, V] (padded positions' logits are written as
0 and not compared). Seeds are fixed, so rerunning gives the same files.

SmolLM2: the GGUF is dequantised by transformers (float32); `--export DIR` also writes it
as an F32 safetensors directory for development (540 MB, never committed). smollm2_logits.json
holds, per prompt, the top-10 last-position logits with their ids, the log-sum-exp, and
the greedy continuation of 32 tokens.
"""

import argparse
import json
import os

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))


def tiny_models():
    common = dict(
        vocab_size=61,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        initializer_range=0.15,
        bos_token_id=1,
        eos_token_id=2,
    )
    llama = LlamaConfig(**common, rope_theta=10000.0, tie_word_embeddings=True)
    llama3 = LlamaConfig(
        **common,
        rope_theta=500000.0,
        tie_word_embeddings=False,
        rope_scaling=dict(
            rope_type="llama3",
            factor=8.0,
            low_freq_factor=1.0,
            high_freq_factor=4.0,
            original_max_position_embeddings=16,
        ),
    )
    qwen = Qwen2Config(**{**common, "num_key_value_heads": 1}, rope_theta=1000.0,
                       tie_word_embeddings=False)
    return [
        ("tiny-llama", llama, LlamaForCausalLM),
        ("tiny-llama3-rope-scaling", llama3, LlamaForCausalLM),
        ("tiny-qwen2", qwen, Qwen2ForCausalLM),
    ]


def randomise(model, seed):
    """Norm weights and biases away from their 1/0 defaults, so the tests see them."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=g))


def cases():
    g = torch.Generator().manual_seed(3)
    ids = lambda *shape: torch.randint(3, 61, shape, generator=g)
    out = [("single", ids(1, 9), [0]), ("batch", ids(2, 6), [0, 0])]
    # Left padding: row 0 is unpadded, row 1 has 3 padding positions, row 2 has 1.
    padded = ids(3, 20)
    out.append(("left-padded", padded, [0, 3, 1]))
    return out


def logits_case(model, name, ids, pads):
    b, t = ids.shape
    mask = torch.ones(b, t, dtype=torch.long)
    positions = torch.zeros(b, t, dtype=torch.long)
    ids = ids.clone()
    for r, p in enumerate(pads):
        mask[r, :p] = 0
        ids[r, :p] = 0  # the padding id (any id: masked and never compared)
        positions[r] = (torch.arange(t) - p).clamp(min=0)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
    logits = logits * mask[..., None]
    return dict(
        name=name,
        batch=b,
        ids=ids.flatten().tolist(),
        positions=positions.flatten().tolist(),
        keyPadding=pads,
        logits=[round(x, 7) for x in logits.flatten().tolist()],
    )


def make_tiny():
    for seed, (name, config, cls) in enumerate(tiny_models()):
        torch.manual_seed(100 + seed)
        config._attn_implementation = "eager"
        model = cls(config).eval()
        randomise(model, 200 + seed)
        directory = os.path.join(HERE, name)
        model.save_pretrained(directory, safe_serialization=True)
        os.remove(os.path.join(directory, "generation_config.json"))
        # transformers 5 keeps θ and the scaling in rope_parameters; write the older
        # rope_theta / rope_scaling keys too, which other readers expect.
        path = os.path.join(directory, "config.json")
        with open(path) as f:
            saved = json.load(f)
        rope = saved["rope_parameters"]
        saved["rope_theta"] = rope["rope_theta"]
        if rope["rope_type"] != "default":
            saved["rope_scaling"] = {k: v for k, v in rope.items() if k != "rope_theta"}
        with open(path, "w") as f:
            json.dump(saved, f, indent=2, sort_keys=True)
        golden = [logits_case(model, *case) for case in cases()]
        with open(os.path.join(directory, "logits.json"), "w") as f:
            json.dump(dict(cases=golden), f)
        print(name, sum(p.numel() for p in model.parameters()), "parameters")


def make_smollm2(gguf, export):
    from transformers import AutoTokenizer

    directory, file = os.path.split(os.path.abspath(gguf))
    model = LlamaForCausalLM.from_pretrained(directory, gguf_file=file, dtype=torch.float32)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(directory, gguf_file=file)
    if export:  # save_pretrained refuses a model loaded from GGUF: write the files directly
        from safetensors.torch import save_file

        os.makedirs(export, exist_ok=True)
        state = {k: v.contiguous() for k, v in model.state_dict().items()
                 if not (k == "lm_head.weight" and model.config.tie_word_embeddings)}
        save_file(state, os.path.join(export, "model.safetensors"), metadata={"format": "pt"})
        model.config.to_json_file(os.path.join(export, "config.json"))
        tokenizer.save_pretrained(export)
    messages = ["What is 2 + 3?", "Write a haiku about the sea.", "Name three prime numbers."]
    prompts = []
    for text in messages:
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True)
        prompts.append(tokenizer(rendered, add_special_tokens=False).input_ids)
    prompts.append([1, 504, 3458, 282, 4649, 314])  # raw ids, no template
    out = []
    for ids in prompts:
        x = torch.tensor([ids])
        with torch.no_grad():
            last = model(input_ids=x).logits[0, -1]
            # An explicit mask: otherwise generate masks every <|im_end|> (id 2 = pad id).
            generated = model.generate(
                x, attention_mask=torch.ones_like(x), max_new_tokens=32, do_sample=False,
                eos_token_id=None, pad_token_id=2)
        top = torch.topk(last, 10)
        out.append(dict(
            ids=ids,
            top10Ids=top.indices.tolist(),
            top10Logits=[round(v, 6) for v in top.values.tolist()],
            logSumExp=round(torch.logsumexp(last, 0).item(), 6),
            greedy=generated[0, len(ids):].tolist(),
        ))
    with open(os.path.join(HERE, "smollm2_logits.json"), "w") as f:
        json.dump(dict(model="SmolLM2-135M-Instruct.Q4_1.gguf (dequantised by transformers)",
                       prompts=out), f, indent=1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smollm2", help="path of the SmolLM2 GGUF")
    parser.add_argument("--export", help="directory for an F32 safetensors copy of SmolLM2")
    args = parser.parse_args()
    if args.smollm2:
        make_smollm2(args.smollm2, args.export)
    else:
        make_tiny()
