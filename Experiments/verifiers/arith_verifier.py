#!/usr/bin/env python3
"""An external reward command for Allot (docs/rewards.md), for arithmetic prompts.

Allot starts it once per run and writes one JSON line per completion on its stdin:
  {"promptId": "...", "prompt": "...", "answer": "132", "completion": "...",
   "metadata": {"a": "47", "b": "85", "op": "+"}}
It answers each line, in order, with one JSON line of named rewards:
  {"correct": 1.0, "shown_work": 0.0}
  - correct: the answer inside the last <answer>...</answer> (else the reply's last number)
    equals a op b, computed here from the metadata;
  - shown_work: the reply writes the sum out ("47 + 85 = 132") before its answer.
Anything written to stderr shows in the run's output. Flush after every line.
"""
import json
import re
import sys


def answer_of(completion):
    tags = re.findall(r"<answer>(.*?)</answer>", completion, flags=re.S)
    text = tags[-1] if tags else completion
    numbers = re.findall(r"-?\d+", text)
    return int(numbers[-1]) if numbers else None


def expected(metadata):
    a, b, op = int(metadata["a"]), int(metadata["b"]), metadata["op"]
    return {"+": a + b, "-": a - b, "*": a * b}[op]


for line in sys.stdin:
    request = json.loads(line)
    metadata = request["metadata"]
    target = expected(metadata)
    worked = re.search(
        rf"{metadata['a']}\s*[{re.escape(metadata['op'])}x×]\s*{metadata['b']}\s*=\s*{target}",
        request["completion"])
    print(json.dumps({
        "correct": 1.0 if answer_of(request["completion"]) == target else 0.0,
        "shown_work": 1.0 if worked else 0.0,
    }), flush=True)
