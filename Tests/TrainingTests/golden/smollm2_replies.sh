#!/usr/bin/env bash
# Regenerates smollm2_replies.jsonl: SmolLM2-135M-Instruct's greedy replies (chat template,
# its default system message, up to 96 new tokens) to the prompts of smollm2_prompts.jsonl,
# one JSON object per prompt (prompt, completion, tokens, logprobs, finished). Run from the
# repository root after `bash .ci/setup`. AnswerRuleTests reads the replies.
set -euo pipefail
swift run -c release allot generate --model .models/SmolLM2-135M-Instruct.Q4_1.gguf \
  --prompts Tests/TrainingTests/golden/smollm2_prompts.jsonl --chat --greedy \
  --max-new-tokens 96 --json > Tests/TrainingTests/golden/smollm2_replies.jsonl
# Sampled replies (temperature 0.7, nucleus 0.9, seed 1) to prompts that show the format,
# each prompt twice: the greedy replies above never use <answer> tags or \boxed{}.
swift run -c release allot generate --model .models/SmolLM2-135M-Instruct.Q4_1.gguf \
  --prompts Tests/TrainingTests/golden/smollm2_prompts_sampled.jsonl --chat \
  --temperature 0.7 --top-p 0.9 --seed 1 --max-new-tokens 96 --json \
  > Tests/TrainingTests/golden/smollm2_replies_sampled.jsonl
# TinyZero's way: the assistant's turn prefilled with "<think>" (raw prompts in the ChatML
# template written out), sampled as above, each prompt three times.
swift run -c release allot generate --model .models/SmolLM2-135M-Instruct.Q4_1.gguf \
  --prompts Tests/TrainingTests/golden/smollm2_prompts_prefilled.jsonl \
  --temperature 0.7 --top-p 0.9 --seed 1 --max-new-tokens 96 --json \
  > Tests/TrainingTests/golden/smollm2_replies_prefilled.jsonl
