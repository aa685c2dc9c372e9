#!/usr/bin/env python3
"""Checks an Allot export of SmolLM2-135M-Instruct with transformers.

Needs torch and transformers (not needed by the Swift tests). From the repository root,
after `bash .ci/setup`:

    swift run -c release allot-bench pretrained-export
    python3 Tests/PretrainedTests/golden/check_smollm2_export.py

`allot-bench pretrained-export` loads the GGUF in Allot, writes the Hugging Face directory
.models/SmolLM2-135M-Instruct-allot-export (config.json, generation_config.json,
model.safetensors, tokenizer.json, tokenizer_config.json, all written by Allot) and puts
Allot's own outputs beside them (allot_outputs.json). This script loads the directory with
AutoModelForCausalLM and AutoTokenizer and checks that

- the tokenizer's ids equal Allot's on every text of smollm2_tokens_golden.json,
- apply_chat_template renders the chat prompts to Allot's prompt ids,
- greedy generation (32 new tokens, stopping at the exported eos id) equals Allot's,
- the last-position logits equal smollm2_logits.json (transformers on the GGUF) within 1e-4,

prints the figures, writes them to smollm2_export_check.json beside this script, and exits
non-zero when any check fails.
"""

import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
EXPORT = os.path.join(ROOT, ".models", "SmolLM2-135M-Instruct-allot-export")


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else EXPORT
    with open(os.path.join(directory, "allot_outputs.json")) as f:
        allot = json.load(f)
    tok = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    model.eval()

    encodes = allot["encodes"]
    mismatched = [e["text"] for e in encodes
                  if tok.encode(e["text"], add_special_tokens=False) != e["ids"]]

    generations = []
    for g in allot["generations"]:
        ids = tok.apply_chat_template(
            [{"role": "user", "content": g["message"]}], add_generation_prompt=True,
            tokenize=True, return_dict=False)
        if hasattr(ids, "input_ids"):  # a BatchEncoding in some transformers versions
            ids = ids["input_ids"]
        x = torch.tensor([ids])
        with torch.no_grad():
            out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=32,
                                 do_sample=False)
        new = out[0, len(ids):].tolist()
        eos = model.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, list) else [eos])
        cut = next((i for i, t in enumerate(new) if t in eos), len(new))
        tokens = new[:cut]
        generations.append(dict(
            message=g["message"], promptIdsEqual=ids == g["promptIds"],
            tokensEqual=tokens == g["tokens"], transformers=tok.decode(tokens),
            allot=g["completion"]))

    with open(os.path.join(HERE, "smollm2_logits.json")) as f:
        golden = json.load(f)["prompts"]
    worst = 0.0
    for p in golden:
        with torch.no_grad():
            last = model(input_ids=torch.tensor([p["ids"]])).logits[0, -1]
        for i, v in zip(p["top10Ids"], p["top10Logits"]):
            worst = max(worst, abs(last[i].item() - v))
        worst = max(worst, abs(torch.logsumexp(last, 0).item() - p["logSumExp"]))

    report = dict(
        transformers=__import__("transformers").__version__,
        tokenizerTexts=len(encodes), tokenizerMismatches=mismatched,
        generations=generations, maxLogitDifferenceFromGGUFGolden=round(worst, 7),
        tiedHead="lm_head.weight" not in __import__("safetensors").safe_open(
            os.path.join(directory, "model.safetensors"), "pt").keys(),
    )
    with open(os.path.join(HERE, "smollm2_export_check.json"), "w") as f:
        json.dump(report, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(json.dumps(report, ensure_ascii=False, indent=1))
    ok = (not mismatched and all(g["promptIdsEqual"] and g["tokensEqual"] for g in generations)
          and worst < 1e-4)
    print("export check:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
