#!/usr/bin/env python3
"""Regenerates the loader's golden files (committed; CI does not run this).

  python3 Tests/PretrainedTests/golden/make_quant_golden.py [--smollm2 PATH.gguf]

Needs numpy, gguf (gguf-py), and for the model files torch and transformers.

Writes, beside this script:
  quant/<TYPE>.bin, quant/<TYPE>.f32  random blocks of each quant type Allot reads, and
                                      their values from gguf-py's `dequantize` (float32 LE)
  tiny-llama.gguf                     a 2-layer llama (q/k permuted as llama.cpp's converter
                                      does) with mixed tensor types and metadata of every
                                      GGUF value type
  tiny-llama.json                     its weights as transformers loads them
  tiny-qwen2.gguf, tiny-qwen2.json    a 1-layer qwen2 with q/k/v biases and an untied head
  tiny-llama3.gguf                    a 1-layer llama with Llama 3 rope scaling (rope_freqs)
  smollm2.json                        a few SmolLM2-135M-Instruct weights as transformers
                                      loads them (only with --smollm2)

Weight summaries: shape, the first 8 values, the sum, and a position-weighted sum
sum(v[i] * (i % 97 + 1)) that changes when rows are permuted.
"""

import argparse
import json
import os
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(17)


def half_bits(n):
    """n random finite float16 scales (some negative, one subnormal), as uint8 pairs."""
    v = (rng.standard_normal(n) * 0.05).astype(np.float16)
    v[0] = np.float16(3e-6)  # subnormal
    return v.view(np.uint8).reshape(n, 2)


def quant_blocks(qtype, n_blocks):
    """Random bytes for n_blocks blocks of qtype, with finite f16 scale fields."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    fields = {Q.Q8_0: [0], Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2],
              Q.Q6_K: [208]}
    for offset in fields[qtype]:
        raw[:, offset:offset + 2] = half_bits(n_blocks)
    return raw


def write_quant_golden():
    os.makedirs(os.path.join(HERE, "quant"), exist_ok=True)
    cases = {}
    floats = (rng.standard_normal(64) * 2).astype(np.float32)
    floats[:4] = [0.0, -0.0, 1e-40, 65504.0]
    cases["F32"] = (floats.view(np.uint8), Q.F32)
    cases["F16"] = (floats.astype(np.float16).view(np.uint8), Q.F16)
    cases["BF16"] = (gguf.quants.quantize(floats, Q.BF16).view(np.uint8), Q.BF16)
    for name, qtype, n in [("Q8_0", Q.Q8_0, 8), ("Q4_0", Q.Q4_0, 8), ("Q4_1", Q.Q4_1, 8),
                           ("Q4_K", Q.Q4_K, 4), ("Q5_K", Q.Q5_K, 4), ("Q6_K", Q.Q6_K, 4)]:
        cases[name] = (quant_blocks(qtype, n).reshape(-1), qtype)
    for name, (raw, qtype) in cases.items():
        values = gguf.quants.dequantize(raw.reshape(1, -1), qtype).astype("<f4").reshape(-1)
        raw.tofile(os.path.join(HERE, "quant", name + ".bin"))
        values.tofile(os.path.join(HERE, "quant", name + ".f32"))
        print(f"quant/{name}: {raw.size} bytes -> {values.size} floats")


def summary(t):
    a = np.ascontiguousarray(t.detach().float().numpy() if hasattr(t, "detach") else t,
                             dtype=np.float32)
    flat = a.reshape(-1).astype(np.float64)
    weights = (np.arange(flat.size) % 97 + 1).astype(np.float64)
    return {"shape": list(a.shape), "first": [float(x) for x in a.reshape(-1)[:8]],
            "sum": float(flat.sum()), "wsum": float((flat * weights).sum())}


def permute(w, heads):
    """llama.cpp's converter: rows [heads, 2, hd/2] -> [heads, hd/2, 2]."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(
        w.shape)


def new_writer(name, arch, layers, context, hidden, ffn, heads, kv, theta, eps):
    """A GGUFWriter for golden/<name> with the model-shape metadata set."""
    w = gguf.GGUFWriter(os.path.join(HERE, name), arch)
    w.add_block_count(layers)
    w.add_context_length(context)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ffn)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_rope_freq_base(theta)
    w.add_layer_norm_rms_eps(eps)
    return w


def finish(w, path):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{os.path.basename(path)}: {os.path.getsize(path)} bytes")


def write_tiny_llama():
    vocab, hidden, ffn, layers, heads, kv = 32, 64, 256, 2, 4, 2
    hd = hidden // heads
    path = os.path.join(HERE, "tiny-llama.gguf")
    w = new_writer("tiny-llama.gguf", "llama", layers, 256, hidden, ffn, heads, kv, 10000.0, 1e-5)
    w.add_name("tiny-llama")
    w.add_rope_dimension_count(hd)
    w.add_file_type(1)
    tokens = ["<unk>", "<s>", "</s>"] + [chr(ord("a") + i) for i in range(26)] + ["ab", "abc", "Ġ"]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([3, 3, 3] + [1] * (vocab - 3))
    w.add_token_merges(["a b", "ab c"])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    # One key of every other value type, for the reader's tests.
    w.add_key_value("test.u8", 200, gguf.GGUFValueType.UINT8)
    w.add_key_value("test.i8", -100, gguf.GGUFValueType.INT8)
    w.add_key_value("test.u16", 60000, gguf.GGUFValueType.UINT16)
    w.add_key_value("test.i16", -30000, gguf.GGUFValueType.INT16)
    w.add_key_value("test.i32", -2000000000, gguf.GGUFValueType.INT32)
    w.add_key_value("test.u64", 2**40 + 3, gguf.GGUFValueType.UINT64)
    w.add_key_value("test.i64", -(2**40), gguf.GGUFValueType.INT64)
    w.add_key_value("test.f64", 0.1, gguf.GGUFValueType.FLOAT64)
    w.add_key_value("test.bool", True, gguf.GGUFValueType.BOOL)
    w.add_key_value("test.floats", [0.5, -1.25, 3.0], gguf.GGUFValueType.ARRAY)

    hf = {}  # HF name -> float32 array as transformers should give it back
    def add(gguf_name, hf_name, a, qtype, permute_heads=None):
        a = a.astype(np.float32)
        stored = permute(a, permute_heads) if permute_heads else a
        if qtype in (Q.Q4_K, Q.Q6_K):  # gguf-py cannot quantize K-quants: random blocks
            blocks = a.size // 256
            raw = quant_blocks(qtype, blocks).reshape(a.shape[0], -1)
            w.add_tensor(gguf_name, raw, raw_dtype=qtype)
        elif qtype == Q.F32:
            w.add_tensor(gguf_name, stored)
        elif qtype == Q.F16:
            w.add_tensor(gguf_name, stored.astype(np.float16))
        else:
            w.add_tensor(gguf_name, gguf.quants.quantize(stored, qtype), raw_dtype=qtype)
        hf[hf_name] = True

    add("token_embd.weight", "model.embed_tokens.weight", rng.standard_normal((vocab, hidden)),
        Q.Q8_0)
    for i in range(layers):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        add(b + "attn_norm.weight", p + "input_layernorm.weight",
            1 + 0.1 * rng.standard_normal(hidden), Q.F32)
        add(b + "attn_q.weight", p + "self_attn.q_proj.weight",
            rng.standard_normal((hidden, hidden)) * 0.1, Q.Q4_1, permute_heads=heads)
        add(b + "attn_k.weight", p + "self_attn.k_proj.weight",
            rng.standard_normal((kv * hd, hidden)) * 0.1, Q.F16 if i == 0 else Q.Q4_0,
            permute_heads=kv)
        add(b + "attn_v.weight", p + "self_attn.v_proj.weight",
            rng.standard_normal((kv * hd, hidden)) * 0.1, Q.BF16)
        add(b + "attn_output.weight", p + "self_attn.o_proj.weight",
            rng.standard_normal((hidden, hidden)) * 0.1, Q.Q8_0)
        add(b + "ffn_norm.weight", p + "post_attention_layernorm.weight",
            1 + 0.1 * rng.standard_normal(hidden), Q.F32)
        add(b + "ffn_gate.weight", p + "mlp.gate_proj.weight",
            rng.standard_normal((ffn, hidden)) * 0.1, Q.Q4_0)
        add(b + "ffn_up.weight", p + "mlp.up_proj.weight",
            rng.standard_normal((ffn, hidden)) * 0.1, Q.Q4_1)
        add(b + "ffn_down.weight", p + "mlp.down_proj.weight",
            rng.standard_normal((hidden, ffn)) * 0.1, Q.Q4_K if i == 0 else Q.Q6_K)
    add("output_norm.weight", "model.norm.weight", 1 + 0.1 * rng.standard_normal(hidden), Q.F32)
    finish(w, path)
    golden = transformers_weights(path, list(hf))
    with open(os.path.join(HERE, "tiny-llama.json"), "w") as f:
        json.dump(golden, f, indent=1)


def write_tiny_qwen2():
    """A 1-layer qwen2 with q/k/v biases; llama.cpp does not permute qwen2's Q/K."""
    vocab, hidden, ffn, heads, kv = 32, 64, 96, 4, 2
    hd = hidden // heads
    path = os.path.join(HERE, "tiny-qwen2.gguf")
    w = new_writer("tiny-qwen2.gguf", "qwen2", 1, 128, hidden, ffn, heads, kv, 1000000.0, 1e-6)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list([f"t{i}" for i in range(vocab)])
    w.add_eos_token_id(3)
    w.add_key_value("tokenizer.ggml.eot_token_id", 4, gguf.GGUFValueType.UINT32)
    names = []
    def add(gguf_name, hf_name, shape, qtype=Q.F32):
        a = (rng.standard_normal(shape) * 0.1).astype(np.float32)
        if qtype == Q.F32:
            w.add_tensor(gguf_name, a)
        else:
            w.add_tensor(gguf_name, gguf.quants.quantize(a, qtype), raw_dtype=qtype)
        names.append(hf_name)
    add("token_embd.weight", "model.embed_tokens.weight", (vocab, hidden), Q.Q8_0)
    add("output.weight", "lm_head.weight", (vocab, hidden), Q.Q8_0)
    add("output_norm.weight", "model.norm.weight", (hidden,))
    p = "model.layers.0."
    add("blk.0.attn_norm.weight", p + "input_layernorm.weight", (hidden,))
    add("blk.0.ffn_norm.weight", p + "post_attention_layernorm.weight", (hidden,))
    for g, h, rows in [("q", "q", hidden), ("k", "k", kv * hd), ("v", "v", kv * hd)]:
        add(f"blk.0.attn_{g}.weight", p + f"self_attn.{h}_proj.weight", (rows, hidden), Q.Q8_0)
        add(f"blk.0.attn_{g}.bias", p + f"self_attn.{h}_proj.bias", (rows,))
    add("blk.0.attn_output.weight", p + "self_attn.o_proj.weight", (hidden, hidden), Q.Q8_0)
    add("blk.0.ffn_gate.weight", p + "mlp.gate_proj.weight", (ffn, hidden), Q.Q8_0)
    add("blk.0.ffn_up.weight", p + "mlp.up_proj.weight", (ffn, hidden), Q.Q8_0)
    add("blk.0.ffn_down.weight", p + "mlp.down_proj.weight", (hidden, ffn), Q.Q8_0)
    finish(w, path)
    with open(os.path.join(HERE, "tiny-qwen2.json"), "w") as f:
        json.dump(transformers_weights(path, names), f, indent=1)


def write_tiny_llama3():
    """A 1-layer llama with Llama 3 rope scaling, stored as llama.cpp's converter stores it:
    a rope_freqs.weight tensor of per-frequency factors (factor 8, low 1, high 4, 8192)."""
    import math
    vocab, hidden, ffn, heads, kv, theta = 32, 64, 64, 4, 2, 500000.0
    hd = hidden // heads
    path = os.path.join(HERE, "tiny-llama3.gguf")
    w = new_writer("tiny-llama3.gguf", "llama", 1, 131072, hidden, ffn, heads, kv, theta, 1e-5)
    w.add_rope_dimension_count(hd)
    w.add_token_list([f"t{i}" for i in range(vocab)])
    w.add_bos_token_id(0)
    w.add_eos_token_id(1)
    w.add_key_value("tokenizer.ggml.eom_token_id", 2, gguf.GGUFValueType.UINT32)
    w.add_key_value("tokenizer.ggml.eot_token_id", 1, gguf.GGUFValueType.UINT32)
    factors = []
    for i in range(0, hd, 2):  # as convert_hf_to_gguf.py computes them, in float32
        freq = float(np.float32(1.0 / (theta ** (i / hd))))
        wavelen = 2 * math.pi / freq
        if wavelen < 8192 / 4:
            factors.append(1.0)
        elif wavelen > 8192 / 1:
            factors.append(8.0)
        else:
            smooth = (8192 / wavelen - 1) / (4 - 1)
            factors.append(1 / ((1 - smooth) / 8 + smooth))
    w.add_tensor("rope_freqs.weight", np.array(factors, dtype=np.float32))
    def add(name, shape):
        a = (rng.standard_normal(shape) * 0.1).astype(np.float32)
        w.add_tensor(name, gguf.quants.quantize(a, Q.Q8_0), raw_dtype=Q.Q8_0)
    def norm(name):
        w.add_tensor(name, np.ones(hidden, dtype=np.float32))
    add("token_embd.weight", (vocab, hidden))
    norm("output_norm.weight")
    norm("blk.0.attn_norm.weight")
    norm("blk.0.ffn_norm.weight")
    for name, shape in [("attn_q", (hidden, hidden)), ("attn_k", (kv * hd, hidden)),
                        ("attn_v", (kv * hd, hidden)), ("attn_output", (hidden, hidden)),
                        ("ffn_gate", (ffn, hidden)), ("ffn_up", (ffn, hidden)),
                        ("ffn_down", (hidden, ffn))]:
        add(f"blk.0.{name}.weight", shape)
    finish(w, path)
    print(f"  rope factors {factors}")


def transformers_weights(gguf_path, names):
    import torch
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(
        os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path), dtype=torch.float32)
    state = model.state_dict()
    cfg = model.config
    return {
        "config": {k: getattr(cfg, k) for k in [
            "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "rms_norm_eps", "rope_theta",
            "max_position_embeddings", "tie_word_embeddings"] if hasattr(cfg, k)},
        "weights": {n: summary(state[n]) for n in names},
    }


def write_smollm2(path):
    names = ["model.embed_tokens.weight", "model.norm.weight"]
    for i in (0, 29):
        p = f"model.layers.{i}."
        names += [p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                  p + "self_attn.v_proj.weight", p + "mlp.down_proj.weight",
                  p + "input_layernorm.weight"]
    # transformers wants the file in a directory of its own name.
    golden = transformers_weights(os.path.abspath(path), names)
    with open(os.path.join(HERE, "smollm2.json"), "w") as f:
        json.dump(golden, f, indent=1)
    print("smollm2.json written")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--smollm2", help="path of SmolLM2-135M-Instruct.Q4_1.gguf")
    args = parser.parse_args()
    write_quant_golden()
    write_tiny_llama()
    write_tiny_qwen2()
    write_tiny_llama3()
    if args.smollm2:
        write_smollm2(args.smollm2)
