// allot-bench: speed figures for docs/performance.md. Run in release, from the repository
// root (the PyTorch twins are found relative to it):
//   swift run -c release allot-bench [suite ...] [--threads N]
// Suites: see `suites` below (all when none is named); the *-profile ones run one workload
// alone, for profilers.
import Foundation
import TensorCore

var arguments = Array(CommandLine.arguments.dropFirst())
var threads = 1
if let i = arguments.firstIndex(of: "--threads"), i + 1 < arguments.count,
  let n = Int(arguments[i + 1])
{
  threads = n
  arguments.removeSubrange(i...(i + 1))
}
BLAS.setThreads(threads)
print("allot-bench: OpenBLAS threads = \(BLAS.threads)")

let suites: [(String, () -> Void)] = [
  ("matmul", benchmarkMatmul),
  ("mlp", benchmarkMLP),
  ("mlp-profile", profileMLP),
  ("block-profile", profileBlock),
  ("lm", benchmarkLanguageModel),
  ("llama", benchmarkLlama),
  ("llama-train", benchmarkLlamaTraining),
  ("llama-sample", benchmarkLlamaSampling),
  ("llama-train-profile", profileLlamaTraining),
  ("llama-sample-profile", profileLlamaSampling),
  ("knapsack", benchmarkKnapsack),
  ("grpo", benchmarkGRPOStep),
  ("sample-profile", profileSampling),
  ("sft-profile", profileSupervised),
  ("attention-profile", profileAttention),
  ("block", benchmarkTransformerBlock),
  ("checkpoint", benchmarkCheckpoint),
  ("taskallocation", benchmarkTaskAllocation),
  ("exact-probe", probeExactSolver),
  ("taskallocation-episodes", benchmarkTaskAllocationEpisodes),
  ("pretrained-load", benchmarkPretrainedLoad),
  ("pretrained-generate", benchmarkPretrainedGenerate),
  ("smol-grpo-step", benchmarkSmolGRPOStep),
  ("pretrained-export", benchmarkPretrainedExport),
  ("tokenizer", benchmarkTokenizer),
]
let chosen = arguments.isEmpty ? suites.map(\.0) : arguments
for name in chosen {
  guard let suite = suites.first(where: { $0.0 == name }) else {
    print(
      "allot-bench: unknown suite '\(name)'; choose from \(suites.map(\.0).joined(separator: ", "))"
    )
    exit(2)
  }
  print("\n== \(name) ==")
  suite.1()
}
