"""SmolLM2-135M-Instruct for the PyTorch side of allot-bench's smol-grpo-step suite: the
GGUF that .ci/setup fetches, dequantised to float32 by transformers once and cached (config,
weights, tokenizer) in .models/SmolLM2-135M-Instruct-hf/, so that the timed scripts do not
pay the minutes-long conversion each time."""
import os

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
            raise SystemExit(f"smol_hf: {os.path.join(MODELS, GGUF)} is missing; run bash .ci/setup")
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


if __name__ == "__main__":
    model, tokenizer = load()
    print(f"parameters={sum(p.numel() for p in model.parameters())}")
