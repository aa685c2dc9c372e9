"""SmolLM2-135M-Instruct for the PyTorch side of allot-bench's smol-grpo-step suite: the
GGUF that .ci/setup fetches, dequantised to float32 by transformers once and cached (config,
weights, tokenizer) in .models/SmolLM2-135M-Instruct-hf/, so that the timed scripts do not
pay the minutes-long conversion each time."""
import argparse
import os
import re
import resource

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

MODELS = os.path.join(os.path.dirname(__file__), "..", "..", ".models")
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE = os.path.join(MODELS, "SmolLM2-135M-Instruct-hf")


def load():
    """The model (float32, eval mode) and its tokenizer."""
    weights = os.path.join(CACHE, "model.pt")
    if not os.path.isfile(weights):
        if not os.path.isfile(os.path.join(MODELS, GGUF)):
            raise SystemExit(f"smol_hf: {os.path.join(MODELS, GGUF)} is missing: bash .ci/setup")
        model = AutoModelForCausalLM.from_pretrained(MODELS, gguf_file=GGUF, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(MODELS, gguf_file=GGUF)
        # transformers will not save_pretrained a model it read from a GGUF: keep its config
        # and float32 weights ourselves.
        os.makedirs(CACHE, exist_ok=True)
        tokenizer.save_pretrained(CACHE)
        config = {k: v for k, v in model.config.to_dict().items() if k != "quantization_config"}
        torch.save({"config": config, "state": model.state_dict()}, weights + ".partial")
        os.replace(weights + ".partial", weights)
    saved = torch.load(weights)
    model = LlamaForCausalLM(LlamaConfig.from_dict(saved["config"]))
    model.load_state_dict(saved["state"])
    return model.to(torch.float32).eval(), AutoTokenizer.from_pretrained(CACHE)


def step_arguments():
    """The command line both timed scripts take: the step's shape, from allot-bench."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prompts", required=True, help="JSON list of {ids, answer}")
    parser.add_argument("--prompts-per-step", type=int, default=4)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--max-new", type=int, default=48)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--lr", type=float, default=5e-6)
    parser.add_argument("--chunk", type=int, default=8, help="rows per forward and backward")
    parser.add_argument("--steps", type=int, default=1)
    return parser


def reward(text, answer):
    """1 when the reply's last number equals the answer (Allot's `lastNumber` rule)."""
    numbers = re.findall(r"-?\d+(?:\.\d+)?", text.replace(",", ""))
    return 1.0 if numbers and float(numbers[-1]) == float(answer) else 0.0


def report(runs):
    """Prints the median of the timed steps' (sample, update, mean length) and the peak RSS."""
    sample, update, length = sorted(runs, key=lambda r: r[0] + r[1])[len(runs) // 2]
    print(f"sample_seconds={sample:.3f}")
    print(f"update_seconds={update:.3f}")
    print(f"step_seconds={sample + update:.3f}")
    print(f"mean_length={length:.2f}")
    print(f"peak_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    model, tokenizer = load()
    print(f"parameters={sum(p.numel() for p in model.parameters())}")
