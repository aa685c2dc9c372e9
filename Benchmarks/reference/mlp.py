"""PyTorch twin of allot-bench's MLP benchmark: 64→256→256→8 ReLU MLP, batch 256,
cross-entropy loss, forward + backward + Adam, one thread. Prints `steps_per_sec=<x>`."""
import argparse
import time

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=2000)
parser.add_argument("--threads", type=int, default=1)
args = parser.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)

model = torch.nn.Sequential(
    torch.nn.Linear(64, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 256), torch.nn.ReLU(),
    torch.nn.Linear(256, 8),
)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.rand(256, 64) * 2 - 1
y = torch.randint(0, 8, (256,))


def step():
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


for _ in range(200):
    step()
start = time.perf_counter()
for _ in range(args.steps):
    step()
elapsed = time.perf_counter() - start
print(f"steps_per_sec={args.steps / elapsed:.1f}")
print(f"torch={torch.__version__} threads={torch.get_num_threads()}")
