import Foundation
import NN
import Optim
import Reasoning
import TensorCore

/// The 0.8M-parameter transformer policy: sampling with a KV cache, and supervised
/// training, each against its PyTorch twin (Benchmarks/reference/lm.py).
func benchmarkLanguageModel() {
  var rng = RandomState(seed: 0)
  let shape = TransformerShape(vocabulary: 99, layers: 4, heads: 4, width: 128, context: 224)
  let model = TransformerLM(shape, rng: &rng)
  print("transformer LM: \(model.parameterCount) parameters (4 blocks, width 128, 4 heads)")

  // Sampling: 64 prompts of 16 tokens, 48 new tokens each, temperature 1.
  let prompts = (0..<64).map { _ in [0] + (0..<15).map { _ in 3 + rng.nextInt(below: 96) } }
  let options = SamplingOptions(maxNewTokens: 48)
  var sampler = RandomState(seed: 1)
  _ = model.sample(prompts: prompts, counts: [Int](repeating: 1, count: 64), options: options, rng: &sampler)
  let sampleSeconds = secondsPerCall(iterations: 1, repeats: 5) {
    _ = model.sample(prompts: prompts, counts: [Int](repeating: 1, count: 64), options: options, rng: &sampler)
  }
  let sampling = Double(64 * 48) / sampleSeconds
  print("sampling, batch 64 × 48 new tokens, KV cache:")
  print(String(format: "  Allot    %8.0f tokens/s", sampling))
  if let torch = pytorchReference("lm.py", key: "tokens_per_sec", arguments: ["--mode", "sample"]) {
    print(String(format: "  PyTorch  %8.0f tokens/s   Allot/PyTorch = %.2f×", torch, sampling / torch))
  }

  // Supervised training: batch 32 × 112 predicted tokens, forward + backward + AdamW.
  let adam = Adam.adamW(parameters: model.namedParameters(), learningRate: 1e-3)
  let sequences = (0..<32).map { _ in (0..<113).map { _ in 3 + rng.nextInt(below: 96) } }
  let heads = sequences.map { Array($0.prefix(1)) }
  let tails = sequences.map { Array($0.dropFirst()) }
  func step() {
    adam.zeroGrad()
    model.supervisedLoss(prompts: heads, targets: tails).backward()
    adam.step()
  }
  step()
  let stepSeconds = secondsPerCall(iterations: 1, repeats: 5, step)
  let training = Double(32 * 112) / stepSeconds
  print("supervised step, batch 32 × 112 tokens, fwd+bwd+AdamW:")
  print(String(format: "  Allot    %8.0f tokens/s", training))
  if let torch = pytorchReference("lm.py", key: "tokens_per_sec", arguments: ["--mode", "sft"]) {
    print(String(format: "  PyTorch  %8.0f tokens/s   Allot/PyTorch = %.2f×", torch, training / torch))
  }
}

/// Sampling alone, for profilers.
func profileSampling() {
  var rng = RandomState(seed: 0)
  let model = TransformerLM(TransformerShape(vocabulary: 99, layers: 4, heads: 4, width: 128, context: 224), rng: &rng)
  let prompts = (0..<64).map { _ in [0] + (0..<15).map { _ in 3 + rng.nextInt(below: 96) } }
  for _ in 0..<5 {
    _ = model.sample(prompts: prompts, counts: [Int](repeating: 1, count: 64), options: SamplingOptions(maxNewTokens: 48), rng: &rng)
  }
}

/// The supervised step alone, for profilers.
func profileSupervised() {
  var rng = RandomState(seed: 0)
  let model = TransformerLM(TransformerShape(vocabulary: 99, layers: 4, heads: 4, width: 128, context: 224), rng: &rng)
  let adam = Adam.adamW(parameters: model.namedParameters(), learningRate: 1e-3)
  let sequences = (0..<32).map { _ in (0..<113).map { _ in 3 + rng.nextInt(below: 96) } }
  for _ in 0..<8 {
    adam.zeroGrad()
    model.supervisedLoss(prompts: sequences.map { Array($0.prefix(1)) }, targets: sequences.map { Array($0.dropFirst()) }).backward()
    adam.step()
  }
}
