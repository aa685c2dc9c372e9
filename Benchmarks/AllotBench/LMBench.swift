import Foundation
import GRPO
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
  let options = SamplingOptions(maxNewTokens: 48, stopAtEOS: false)  // equal work with the twin
  var sampler = RandomState(seed: 1)
  _ = model.sample(
    prompts: prompts, counts: [Int](repeating: 1, count: 64), options: options, rng: &sampler)
  var produced = 0
  let sampleSeconds = secondsPerCall(iterations: 1, repeats: 5) {
    produced = model.sample(
      prompts: prompts, counts: [Int](repeating: 1, count: 64), options: options, rng: &sampler
    )
    .reduce(0) { $0 + $1.tokens.count }
  }
  let sampling = Double(produced) / sampleSeconds
  print("sampling, batch 64 × 48 new tokens, KV cache:")
  print(String(format: "  Allot    %8.0f tokens/s", sampling))
  if let torch = pytorchReference("lm.py", key: "tokens_per_sec", arguments: ["--mode", "sample"]) {
    print(
      String(format: "  PyTorch  %8.0f tokens/s   Allot/PyTorch = %.2f×", torch, sampling / torch))
  }

  // Supervised training: batch 32 × 112 predicted tokens, forward + backward + AdamW.
  let adam = Adam.adamW(parameters: model.namedParameters(), learningRate: 1e-3)
  let sequences = (0..<32).map { _ in (0..<113).map { _ in 3 + rng.nextInt(below: 96) } }
  let heads = sequences.map { Array($0.prefix(1)) }
  let tails = sequences.map { Array($0.dropFirst()) }
  func step() {
    adam.zeroGrad()
    _ = model.accumulateSupervisedGradients(prompts: heads, targets: tails)
    adam.step()
  }
  step()
  let stepSeconds = secondsPerCall(iterations: 1, repeats: 5, step)
  let training = Double(32 * 112) / stepSeconds
  print("supervised step, batch 32 × 112 tokens, fwd+bwd+AdamW:")
  print(String(format: "  Allot    %8.0f tokens/s", training))
  if let torch = pytorchReference("lm.py", key: "tokens_per_sec", arguments: ["--mode", "sft"]) {
    print(
      String(format: "  PyTorch  %8.0f tokens/s   Allot/PyTorch = %.2f×", torch, training / torch))
  }
}

/// Sampling alone, for profilers.
func profileSampling() {
  var rng = RandomState(seed: 0)
  let model = TransformerLM(
    TransformerShape(vocabulary: 99, layers: 4, heads: 4, width: 128, context: 224), rng: &rng)
  let prompts = (0..<64).map { _ in [0] + (0..<15).map { _ in 3 + rng.nextInt(below: 96) } }
  for _ in 0..<5 {
    _ = model.sample(
      prompts: prompts, counts: [Int](repeating: 1, count: 64),
      options: SamplingOptions(maxNewTokens: 48), rng: &rng)
  }
}

/// The supervised step alone, for profilers: prints each step's time and page faults.
/// `SFT_BATCH` (default 32 sequences) and `SFT_CHUNK` (positions per forward and backward
/// pass, default `TransformerLM.chunkPositions`) change the step.
func profileSupervised() {
  var rng = RandomState(seed: 0)
  let model = TransformerLM(
    TransformerShape(vocabulary: 99, layers: 4, heads: 4, width: 128, context: 224), rng: &rng)
  let adam = Adam.adamW(parameters: model.namedParameters(), learningRate: 1e-3)
  let batch = ProcessInfo.processInfo.environment["SFT_BATCH"].flatMap { Int($0) } ?? 32
  let sequences = (0..<batch).map { _ in (0..<113).map { _ in 3 + rng.nextInt(below: 96) } }
  for step in 0..<8 {
    timedStep(step) {
      adam.zeroGrad()
      _ = model.accumulateSupervisedGradients(
        prompts: sequences.map { Array($0.prefix(1)) },
        targets: sequences.map { Array($0.dropFirst()) },
        chunkPositions: ProcessInfo.processInfo.environment["SFT_CHUNK"].flatMap { Int($0) }
          ?? TransformerLM.chunkPositions)
      adam.step()
    }
  }
}

/// Runs `body` and prints its time and the minor page faults it took, as step `step`.
func timedStep(_ step: Int, _ body: () -> Void) {
  let (faults, start) = (minorPageFaults(), DispatchTime.now().uptimeNanoseconds)
  body()
  let milliseconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
  print(
    String(
      format: "  step %d: %.1f ms, %d minor page faults", step, milliseconds,
      minorPageFaults() - faults))
}

/// Minor page faults of this process so far.
func minorPageFaults() -> Int {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return usage.ru_minflt
}

/// One GRPO step of the 0.8M-parameter policy — 16 prompts × 8 completions of up to 120
/// sampled tokens, the clipped surrogate, backward, clipping, AdamW — against its PyTorch
/// twin (lm.py --mode grpo). Throughput counts the completion tokens actually sampled.
func benchmarkGRPOStep() {
  var rng = RandomState(seed: 0)
  let model = TransformerLM(
    TransformerShape(vocabulary: 99, layers: 4, heads: 4, width: 128, context: 224), rng: &rng)
  let adam = Adam.adamW(parameters: model.namedParameters(), learningRate: 1e-4)
  let prompts = (0..<16).map { _ in [0] + (0..<15).map { _ in 3 + rng.nextInt(below: 96) } }
  func step() -> (tokens: Int, sample: Double, train: Double) {
    let t0 = DispatchTime.now().uptimeNanoseconds
    let rollouts = model.sample(
      prompts: prompts, counts: [Int](repeating: 8, count: 16),
      options: SamplingOptions(maxNewTokens: 120, stopAtEOS: false), rng: &rng)
    let t1 = DispatchTime.now().uptimeNanoseconds
    let rewards = rollouts.map { _ in Double(rng.nextInt(below: 2)) }
    let advantages = groupAdvantages(
      rewards: rewards, groups: rollouts.map { "\($0.promptIndex)" }, scaling: .group, clip: 5)
    // Scored and back-propagated in chunks, as the GRPO trainer does.
    let chunk = model.rowsPerChunk(
      positions: prompts[0].count + rollouts.map(\.tokens.count).max()!)
    let batchTokens = Float(rollouts.reduce(0) { $0 + $1.tokens.count })
    adam.zeroGrad()
    for start in stride(from: 0, to: rollouts.count, by: chunk) {
      let rows = Array(start..<min(start + chunk, rollouts.count))
      let width = rows.map { rollouts[$0].tokens.count }.max()!
      func padded(_ f: (Int) -> [Float]) -> [Float] {
        rows.flatMap { f($0) + [Float](repeating: 0, count: width - rollouts[$0].tokens.count) }
      }
      let mask = padded { [Float](repeating: 1, count: rollouts[$0].tokens.count) }
      let (logProbs, _) = model.logProbabilities(
        prompts: prompts, promptIndices: rows.map { rollouts[$0].promptIndex },
        completions: rows.map { rollouts[$0].tokens })
      let (loss, _) = surrogateLoss(
        logProbs: logProbs, oldLogProbs: padded { rollouts[$0].logProbs },
        referenceLogProbs: nil,
        advantages: padded {
          [Float](repeating: Float(advantages[$0]), count: rollouts[$0].tokens.count)
        }, mask: mask, options: SurrogateOptions(),
        normalizer: LossNormalizer(
          mask: mask, rows: rows.count, batchTokens: batchTokens, batchSequences: rollouts.count))
      loss.backward()
    }
    clipGradientNorm(model.parameters, maxNorm: 1)
    adam.step()
    let t2 = DispatchTime.now().uptimeNanoseconds
    return (
      rollouts.reduce(0) { $0 + $1.tokens.count }, Double(t1 - t0) / 1e9, Double(t2 - t1) / 1e9
    )
  }
  _ = step()
  var runs = (0..<3).map { _ in step() }
  runs.sort {
    Double($0.tokens) / ($0.sample + $0.train) < Double($1.tokens) / ($1.sample + $1.train)
  }
  let median = runs[1]
  // Both sides sample all 120 tokens of every row (no EOS stop): equal work.
  let allotRate = Double(median.tokens) / (median.sample + median.train)
  print("GRPO step, 16 prompts × 8 completions of up to 120 tokens, surrogate, backward, AdamW:")
  print(
    String(
      format:
        "  Allot    %.2f s per step (sampling %.2f s, scoring + backward + update %.2f s), %d tokens: %.0f tokens/s",
      median.sample + median.train, median.sample, median.train, median.tokens, allotRate))
  if let torch = pytorchReferenceValues("lm.py", arguments: ["--mode", "grpo", "--repeats", "3"]),
    let s = torch["sample_seconds"], let t = torch["train_seconds"]
  {
    let torchRate = Double(128 * 120) / (s + t)
    print(
      String(
        format:
          "  PyTorch  %.2f s per step (sampling %.2f s, scoring + backward + update %.2f s), 15360 tokens: %.0f tokens/s   Allot/PyTorch = %.2f×",
        s + t, s, t, torchRate, allotRate / torchRate))
  }
}
