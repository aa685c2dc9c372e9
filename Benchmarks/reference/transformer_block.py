"""PyTorch twin of allot-bench's transformer-block benchmark: one pre-norm block
(width 128, 4 heads, GELU-tanh MLP ×4, causal attention), batch 16 × sequence 64,
forward + backward of sum(block(x) * w), one thread. Prints `tokens_per_sec=<x>`."""
import argparse
import math
import time

import torch
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=200)
parser.add_argument("--threads", type=int, default=1)
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)

B, T, D, H = 16, 64, 128, 4


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(D)
        self.wq = torch.nn.Linear(D, D)
        self.wk = torch.nn.Linear(D, D)
        self.wv = torch.nn.Linear(D, D)
        self.wo = torch.nn.Linear(D, D)
        self.ln2 = torch.nn.LayerNorm(D)
        self.fc1 = torch.nn.Linear(D, 4 * D)
        self.fc2 = torch.nn.Linear(4 * D, D)
        self.register_buffer("mask", torch.triu(torch.ones(T, T, dtype=torch.bool), 1))

    def forward(self, x):
        h = self.ln1(x)
        split = lambda y: y.view(B, T, H, D // H).transpose(1, 2)
        q, k, v = split(self.wq(h)) / math.sqrt(D // H), split(self.wk(h)), split(self.wv(h))
        s = (q @ k.transpose(-2, -1)).masked_fill(self.mask, float("-inf"))
        a = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.wo(a)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


block = Block()
x = torch.rand(B, T, D, requires_grad=True)
w = torch.rand(B, T, D)


def step():
    block.zero_grad(set_to_none=True)
    x.grad = None
    (block(x) * w).sum().backward()


for _ in range(20):
    step()
start = time.perf_counter()
for _ in range(args.steps):
    step()
elapsed = time.perf_counter() - start
print(f"tokens_per_sec={args.steps * B * T / elapsed:.1f}")
print(f"torch={torch.__version__} threads={torch.get_num_threads()}")
