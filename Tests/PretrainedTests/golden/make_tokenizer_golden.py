#!/usr/bin/env python3
"""Regenerates the tokenizer and chat-template goldens of Tests/PretrainedTests.

Needs transformers, tokenizers, gguf, jinja2 and regex (not needed by the Swift tests).
Run from the repository root after `bash .ci/setup` has fetched the SmolLM2 GGUF:

    python3 Tests/PretrainedTests/golden/make_tokenizer_golden.py

Writes, beside this script:
  pretokenizer_golden.json  words of each split rule, by the `regex` module on the exact
                            pattern strings
  smollm2_tokens_golden.json SmolLM2 ids from transformers (the GGUF loaded with
                            `gguf_file=`), ids with digits isolated (SmolLM2's own
                            pre-tokenizer), and decodes of awkward id sequences
  chat_template_golden.json renderings by transformers' `apply_chat_template` (jinja2)
and `.models/SmolLM2-135M-Instruct/tokenizer.json` (transformers' `save_pretrained`).
"""

import json
import os

import regex
from tokenizers import Tokenizer, pre_tokenizers
from transformers import AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
MODELS = os.path.join(ROOT, ".models")
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

TEXTS = [
    "Hello world",
    "Hello, world! How are you?",
    " leading space",
    "two  spaces and   three",
    "trailing spaces   ",
    "   ",
    "line one\nline two\n\nline four\r\nwindows",
    "tabs\tand\t\tmore\t",
    " \n \n",
    "a\n\n\n  b",
    "What is 2 + 3?",
    "1234567890 and 12 and 1,000,000.5",
    "x=123456789012",
    "I'm sure it's fine; we'll see, they've said you'd",
    "I'M LOUD, IT'S TRUE, WE'LL SEE",
    "'s at start, 'sup, don't, o'clock, rock'n'roll",
    "Punctuation!!! ... ?! (brackets) [more] {braces} <tags> @#$%^&*",
    "Café naïve résumé déjà vu",
    "Ünïcödé çàñ bé tricky",
    "中文字符和日本語のテキスト",
    "한국어 텍스트",
    "emoji 👍🏽 and 👨‍👩‍👧 family 🎉!",
    "mixed: English, Русский, Ελληνικά, العربية, עברית",
    "numbers ² ³ ½ Ⅻ ٣ and १२३",
    "non-breaking\u00a0space and\u2003em space and\u3000ideographic",
    "zero\u200bwidth and \ufeffBOM",
    "control\x01chars\x1fhere",
    "bytes without tokens: \x04\x06 end",
    "def f(x):\n    return x**2  # square\n",
    "<|im_start|>user\nHi<|im_end|>\n",
    "ſ and 'ſ and 'S",
    "",
]


def smollm_words(text):
    words = []
    for piece in regex.split(r"(\p{N})", text):
        if piece:
            words += regex.findall(GPT2, piece)
    return words


def pretokenizer_golden():
    cases = []
    for text in TEXTS:
        cases.append({
            "text": text,
            "gpt2": regex.findall(GPT2, text),
            "smollm": smollm_words(text),
            "llama3": regex.findall(LLAMA3, text),
            "qwen2": regex.findall(QWEN2, text),
        })
    return {"patterns": {"gpt2": GPT2, "llama3": LLAMA3, "qwen2": QWEN2}, "cases": cases}


CONVERSATIONS = [
    [{"role": "user", "content": "What is 2 + 3?"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}],
    [
        {"role": "user", "content": "What is 12 * 7?"},
        {"role": "assistant", "content": "84"},
        {"role": "user", "content": "  And 84 / 2?\n"},
    ],
    [
        {"role": "system", "content": "  Be kind.  "},
        {"role": "user", "content": "Café? 👍"},
        {"role": "assistant", "content": "Oui.\n\n"},
    ],
]

LLAMA3_BOS = "<|begin_of_text|>"


def main():
    tok = AutoTokenizer.from_pretrained(MODELS, gguf_file=GGUF)
    out_dir = os.path.join(MODELS, "SmolLM2-135M-Instruct")
    tok.save_pretrained(out_dir)

    # SmolLM2's own pre-tokenizer (digits isolated, as llama.cpp's `smollm`).
    digits = Tokenizer.from_file(os.path.join(out_dir, "tokenizer.json"))
    digits.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
    )

    templates = {
        "smollm2": tok.chat_template,
        "qwen2": open(os.path.join(HERE, "qwen2_chat_template.jinja")).read(),
        "llama3": open(os.path.join(HERE, "llama3_chat_template.jinja")).read(),
    }
    renders = []
    for name, template in templates.items():
        for messages in CONVERSATIONS:
            for gen in (True, False):
                text = tok.apply_chat_template(
                    messages, chat_template=template, tokenize=False, add_generation_prompt=gen,
                    bos_token=LLAMA3_BOS,
                )
                renders.append({"template": name, "messages": messages, "addGenerationPrompt": gen,
                                "rendered": text})
    with open(os.path.join(HERE, "chat_template_golden.json"), "w") as f:
        json.dump({"templates": templates, "cases": renders}, f, ensure_ascii=False, indent=1)

    encodes = []
    chat = [r["rendered"] for r in renders if r["template"] == "smollm2"][:4]
    for text in TEXTS + chat:
        encodes.append({
            "text": text,
            "ids": tok.encode(text, add_special_tokens=False),
            "digitsIsolated": digits.encode(text, add_special_tokens=False).ids,
        })
    odd = [
        [1, 2, 0, 33662, 2],           # special tokens around " hello"
        [10813],                        # the first two bytes of an emoji
        [10813, 235],                   # three of its four bytes
        [235, 231],                     # continuation bytes alone
        [51, 1939, 2756, 10813, 235, 231],
        [10813, 51, 2756],              # an emoji cut short by a letter
        [49151, 0, 3],
    ]
    decodes = [{"ids": ids,
                "text": tok.decode(ids, skip_special_tokens=False),
                "skipSpecial": tok.decode(ids, skip_special_tokens=True)} for ids in odd]
    with open(os.path.join(HERE, "smollm2_tokens_golden.json"), "w") as f:
        json.dump({"encodes": encodes, "decodes": decodes, "bos": tok.bos_token_id, "eos": tok.eos_token_id,
                   "pad": tok.pad_token_id}, f, ensure_ascii=False, indent=1)
    with open(os.path.join(HERE, "pretokenizer_golden.json"), "w") as f:
        json.dump(pretokenizer_golden(), f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
