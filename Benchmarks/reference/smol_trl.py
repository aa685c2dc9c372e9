"""TRL's GRPOTrainer on the step of allot-bench's smol-grpo-step suite: SmolLM2-135M-Instruct
(float32 weights from the GGUF via smol_hf.py), on CPU, one thread.

Its prompts are the --prompts file's ids (the Allot trainer's chat-rendered prompts)
decoded back to text, drawn in TRL's own shuffled order; --group generations per prompt,
--prompts-per-step × --group completions generated together per step and trained on in
micro-batches of --chunk rows (gradient accumulation, as Allot and the twin chunk the
update: one batch of 32 took 8.8 GB and was killed for memory on the shared machine),
one optimizer step per step, up to --max-new tokens at --temperature (transformers'
`generate`, stopping each row at EOS), β = 0, AdamW at --lr without weight decay,
gradient-norm clip 1, one pass, and no gradient (activation) checkpointing, which
GRPOConfig turns on by default and which would recompute the forward (neither Allot nor
the twin does); the reward is 1 when the reply's last number equals the answer. Everything
else is TRL's default (loss_type "dapo", group-scaled advantages).

Prints, as the median of --steps timed steps after one warm-up: sample_seconds (TRL's
_generate_and_score_completions: generation, decoding, rewards, advantages),
update_seconds (the rest of the step: the forward and backward of the loss, the clip and
the AdamW step), step_seconds, mean_length and peak_rss_mb. Start-up (imports, loading,
building the trainer) is not timed.
"""
import json
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch
from datasets import Dataset
from transformers import TrainerCallback
from trl import GRPOConfig, GRPOTrainer

import smol_hf


def reward(completions, answer, **kwargs):
    return [smol_hf.reward(text, expected) for text, expected in zip(completions, answer)]


class StepTimer(TrainerCallback):
    def __init__(self):
        self.steps, self.started = [], 0.0

    def on_step_begin(self, args, state, control, **kwargs):
        self.started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        self.steps.append(time.perf_counter() - self.started)


def main():
    args = smol_hf.step_arguments().parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer = smol_hf.load()
    with open(args.prompts) as f:
        pool = json.load(f)
    rows = [{"prompt": tokenizer.decode(x["ids"]), "answer": x["answer"]} for x in pool]
    same = sum(tokenizer(r["prompt"], add_special_tokens=False).input_ids == x["ids"]
               for r, x in zip(rows, pool))
    print(f"prompts_reencoded_identically={same / len(pool):.3f}")
    config = GRPOConfig(
        output_dir=tempfile.mkdtemp(prefix="allot-trl-"), use_cpu=True, bf16=False,
        per_device_train_batch_size=args.chunk,
        gradient_accumulation_steps=args.prompts_per_step * args.group // args.chunk,
        num_generations=args.group,
        max_completion_length=args.max_new, temperature=args.temperature, beta=0.0,
        learning_rate=args.lr, weight_decay=0.0, lr_scheduler_type="constant",
        warmup_steps=0, max_grad_norm=1.0, max_steps=args.steps + 1, logging_steps=1,
        gradient_checkpointing=False, save_strategy="no", report_to="none", seed=0,
        dataloader_num_workers=0)
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=reward,
                          args=config, train_dataset=Dataset.from_list(rows))
    timer = StepTimer()
    trainer.add_callback(timer)
    sampling, lengths = [], []
    generate = trainer._generate_and_score_completions

    def timed_generate(inputs):
        start = time.perf_counter()
        out = generate(inputs)
        sampling.append(time.perf_counter() - start)
        lengths.append(float(out["completion_mask"].sum(1).float().mean()))
        return out

    trainer._generate_and_score_completions = timed_generate
    trainer.train()
    smol_hf.report([(sample, step - sample, length)
                    for step, sample, length in zip(timer.steps[1:], sampling[1:], lengths[1:])])


if __name__ == "__main__":
    main()
