import CBLAS
import Foundation
import Optim
import Pretrained
import Reasoning
import TensorCore

/// SmolLM2-135M-Instruct's configuration (its GGUF's metadata).
let smolLM2Shape = LlamaConfig(
  family: .llama, vocabularySize: 49152, hiddenSize: 576, intermediateSize: 1536, layers: 30,
  heads: 9, keyValueHeads: 3, headDimension: 64, rmsNormEpsilon: 1e-5, ropeTheta: 100_000,
  contextLength: 8192, tiedEmbeddings: true, attentionBias: false, bosToken: 1, eosTokens: [2])

/// SmolLM2-135M's architecture (random weights of its shape): a training step on 16 × 128
/// tokens and batched KV-cache sampling, against the plain-PyTorch twin
/// (Benchmarks/reference/llama.py) and transformers' `generate` at batch 1.
func benchmarkLlama() {
  benchmarkLlamaTraining()
  benchmarkLlamaSampling()
}

/// The floating-point operations of one token's pass through the weight matrices of
/// `config`: 2 per weight of the attention projections, the MLP and the head (attention's
/// own products, rotary and norms are left out: under 3 % here).
func weightProductFLOPs(_ config: LlamaConfig, head: Bool = true) -> Double {
  let (h, f) = (Double(config.hiddenSize), Double(config.intermediateSize))
  let kv = Double(config.keyValueHeads * config.headDimension)
  let q = Double(config.heads * config.headDimension)
  let layer = h * q + 2 * h * kv + q * h + 3 * h * f
  return 2 * (Double(config.layers) * layer + (head ? h * Double(config.vocabularySize) : 0))
}

/// This run's sgemm limit: one thread of `cblas_sgemm` on 1024 × 1024 × 1024 (row-major,
/// no transposes, into a reused buffer), GFLOP/s, the median of three timings.
func sgemmLimitGFLOPS() -> Double { sgemmGFLOPS(m: 1024, n: 1024, k: 1024, transposeB: false) }

/// GFLOP/s of `cblas_sgemm` computing [m, k] · [k, n] (or · [n, k]ᵀ), the median of three.
func sgemmGFLOPS(m: Int, n: Int, k: Int, transposeB: Bool) -> Double {
  var rng = RandomState(seed: 3)
  let a = Tensor.uniform([m, k], rng: &rng)
  let b = Tensor.uniform(transposeB ? [n, k] : [k, n], rng: &rng)
  let c = Tensor.zeros([m, n])
  let iterations = max(2, 400_000_000 / (m * n * k))
  let seconds = secondsPerCall(iterations: iterations, repeats: 3) {
    a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        c.withUnsafeMutableBufferPointer { pc in
          cblas_sgemm(
            CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(m),
            Int32(n), Int32(k), 1, pa.baseAddress, Int32(k), pb.baseAddress,
            Int32(transposeB ? k : n), 0, pc.baseAddress, Int32(n))
        }
      }
    }
  }
  return 2 * Double(m * n * k) / seconds / 1e9
}

/// GFLOP/s of `PackedWeights.linear` (Allot's decoding kernel) computing [m, k] · [n, k]ᵀ
/// with the weight packed once, the median of three (nil where the CPU lacks the kernel).
func packedGFLOPS(m: Int, n: Int, k: Int) -> Double? {
  guard PackedWeights.isAvailable else { return nil }
  var rng = RandomState(seed: 3)
  let x = Tensor.uniform([m, k], rng: &rng)
  let weight = Tensor.uniform([n, k], rng: &rng)
  let packed = PackedWeights([weight])
  let iterations = max(2, 400_000_000 / (m * n * k))
  let seconds = secondsPerCall(iterations: iterations, repeats: 3) {
    withoutGrad { _ = packed.linear(x, weight: weight, bias: nil) }
  }
  return 2 * Double(m * n * k) / seconds / 1e9
}

/// The training step (run first in `llama`, so that the peak RSS it prints is that of the
/// training step with its AdamW state, not of sampling).
func benchmarkLlamaTraining() {
  var rng = RandomState(seed: 0)
  let model = LlamaModel(config: smolLM2Shape, rng: &rng)
  print("llama (SmolLM2-135M shape, random weights): \(model.parameterCount) parameters")
  let adam = Adam.adamW(parameters: model.namedParameters(), learningRate: 1e-4)
  let sequences = (0..<16).map { _ in (0..<129).map { _ in 3 + rng.nextInt(below: 49149) } }
  let inputs = sequences.flatMap { $0.dropLast() }
  let targets = sequences.flatMap { $0.dropFirst() }
  let positions = (0..<16).flatMap { _ in Array(0..<128) }
  // Forward and backward 4 sequences (512 positions) at a time, or `LLAMA_CHUNK_ROWS`, each
  // chunk's gradient added to the parameters' (as the GRPO update does); the sum is the
  // whole batch's.
  let chunkRows = ProcessInfo.processInfo.environment["LLAMA_CHUNK_ROWS"].flatMap { Int($0) } ?? 4
  let chunk = chunkRows * 128
  func step() {
    adam.zeroGrad()
    for start in stride(from: 0, to: inputs.count, by: chunk) {
      let rows = start..<(start + chunk)
      let loss =
        model(Array(inputs[rows]), batch: chunkRows, positions: Array(positions[rows]))
        .logProbabilities(of: Array(targets[rows])).sum() * (-1 / Float(inputs.count))
      loss.backward()
    }
    adam.step()
  }
  step()
  let stepSeconds = secondsPerCall(iterations: 1, repeats: 3, step)
  let training = Double(16 * 128) / stepSeconds
  print("training step, batch 16 × 128 tokens (in chunks of \(chunkRows) × 128), fwd+bwd+AdamW:")
  print(
    String(
      format: "  Allot    %8.1f tokens/s (%.2f s per step), peak RSS %.0f MB", training,
      stepSeconds, peakResidentMegabytes()))
  // Forward, and twice the forward's products in the backward (inputs' and weights').
  let limit = sgemmLimitGFLOPS()
  let achieved = training * 3 * weightProductFLOPs(smolLM2Shape) / 1e9
  print(
    String(
      format:
        "  weight products %.1f GFLOP/s = %.0f %% of this run's sgemm limit (%.1f GFLOP/s, 1024³)",
      achieved, 100 * achieved / limit, limit))
  if let torch = pytorchReferenceValues("llama.py", arguments: ["--mode", "train"]),
    let rate = torch["tokens_per_sec"]
  {
    print(
      String(
        format: "  PyTorch  %8.1f tokens/s, peak RSS %.0f MB   Allot/PyTorch = %.2f×", rate,
        torch["peak_rss_mb"] ?? 0, training / rate))
  }
}

/// Sampling at batch 64 against the twin, and greedy generation at batch 1 against
/// transformers' `generate`.
func benchmarkLlamaSampling() {
  var rng = RandomState(seed: 0)
  let model = LlamaModel(config: smolLM2Shape, rng: &rng)
  // 64 prompts of 16 tokens, 32 new tokens each, temperature 1, KV cache.
  let prompts = (0..<64).map { _ in [1] + (0..<15).map { _ in 3 + rng.nextInt(below: 49149) } }
  let options = SamplingOptions(maxNewTokens: 32, stopAtEOS: false)  // equal work
  var sampler = RandomState(seed: 1)
  let counts = [Int](repeating: 1, count: 64)
  _ = model.sample(prompts: prompts, counts: counts, options: options, rng: &sampler)
  // Three rounds, each one timed Allot call and then one twin run (its own warm-up and one
  // timed call): the machine's load drifts over minutes, so ratios are taken per round.
  print("sampling, batch 64 × 32 new tokens after 16-token prompts, KV cache:")
  var ratios: [Double] = []
  var sampling = 0.0
  for round in 1...3 {
    let start = DispatchTime.now().uptimeNanoseconds
    let produced = model.sample(prompts: prompts, counts: counts, options: options, rng: &sampler)
      .reduce(0) { $0 + $1.tokens.count }
    sampling = Double(produced) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    var line = String(format: "  round %d: Allot %6.1f tokens/s", round, sampling)
    if let torch = pytorchReference(
      "llama.py", key: "tokens_per_sec", arguments: ["--mode", "sample", "--repeats", "1"])
    {
      ratios.append(sampling / torch)
      line += String(format: ", PyTorch %6.1f tokens/s, Allot/PyTorch = %.2f×", torch, ratios.last!)
    }
    print(line)
  }
  if !ratios.isEmpty {
    print(String(format: "  median Allot/PyTorch = %.2f×", ratios.sorted()[ratios.count / 2]))
  }
  // The last round's work: each prompt's 16 tokens through the layers once, then every new
  // token through the layers and the head (the last prompt position's head gives token 1).
  let flops =
    Double(64 * 16) * weightProductFLOPs(smolLM2Shape, head: false)
    + Double(64 * 32) * weightProductFLOPs(smolLM2Shape)
  let achieved = sampling * flops / Double(64 * 32) / 1e9
  let limit = sgemmLimitGFLOPS()
  let decodeShape = sgemmGFLOPS(m: 64, n: 1536, k: 576, transposeB: true)
  print(
    String(
      format:
        "  last round: weight products %.1f GFLOP/s = %.0f %% of this run's sgemm limit (%.1f GFLOP/s, 1024³); sgemm alone at a decoding step's MLP shape (64 × 576 · 576 × 1536) %.1f GFLOP/s",
      achieved, 100 * achieved / limit, limit, decodeShape))
  if let packed = packedGFLOPS(m: 64, n: 1536, k: 576) {
    print(
      String(
        format: "  the packed kernel alone at that shape (PackedWeights, weight packed once)"
          + " %.1f GFLOP/s", packed))
  } else {
    print("  decoding products go to OpenBLAS (no packed kernel: CPU or ALLOT_PACKED_WEIGHTS=0)")
  }
  // Batch 1, greedy, against transformers' own generation path.
  let single = SamplingOptions(greedy: true, maxNewTokens: 32, stopAtEOS: false)
  let oneSeconds = secondsPerCall(iterations: 1, repeats: 3) {
    _ = model.sample(prompts: [prompts[0]], counts: [1], options: single, rng: &sampler)
  }
  print("greedy generation, batch 1, 32 new tokens:")
  print(String(format: "  Allot    %8.1f tokens/s", 32 / oneSeconds))
  if let hf = pytorchReference(
    "llama.py", key: "tokens_per_sec", arguments: ["--mode", "generate"])
  {
    print(
      String(
        format:
          "  transformers generate %8.1f tokens/s   Allot batch 64 / transformers = %.1f×, Allot batch 1 / transformers = %.1f×",
        hf, sampling / hf, 32 / oneSeconds / hf))
  }
}

/// Three training steps of the SmolLM2-shaped model alone (batch 8 × 128), for profilers:
/// prints each step's time and minor page faults.
func profileLlamaTraining() {
  var rng = RandomState(seed: 0)
  let model = LlamaModel(config: smolLM2Shape, rng: &rng)
  let adam = Adam.adamW(parameters: model.namedParameters(), learningRate: 1e-4)
  let ids = (0..<(8 * 129)).map { _ in 3 + rng.nextInt(below: 49149) }
  let positions = (0..<8).flatMap { _ in Array(0..<128) }
  for step in 0..<3 {
    timedStep(step) {
      adam.zeroGrad()
      let inputs = (0..<8).flatMap { ids[($0 * 129)..<($0 * 129 + 128)] }
      let targets = (0..<8).flatMap { ids[($0 * 129 + 1)..<($0 * 129 + 129)] }
      (-model(inputs, batch: 8, positions: positions).logProbabilities(of: targets).mean())
        .backward()
      adam.step()
    }
  }
}

/// Sampling of the SmolLM2-shaped model alone, for profilers: batch 1 greedy and batch 64
/// at temperature 1, 32 new tokens each, with their rates.
func profileLlamaSampling() {
  var rng = RandomState(seed: 0)
  let model = LlamaModel(config: smolLM2Shape, rng: &rng)
  let prompts = (0..<64).map { _ in [1] + (0..<15).map { _ in 3 + rng.nextInt(below: 49149) } }
  for (batch, greedy) in [(1, true), (64, false)] {
    let options = SamplingOptions(greedy: greedy, maxNewTokens: 32, stopAtEOS: false)
    let start = DispatchTime.now().uptimeNanoseconds
    let produced = model.sample(
      prompts: Array(prompts.prefix(batch)), counts: [Int](repeating: 1, count: batch),
      options: options, rng: &rng
    ).reduce(0) { $0 + $1.tokens.count }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    print(String(format: "  batch %2d: %.1f tokens/s", batch, Double(produced) / seconds))
  }
}

/// The peak resident set size of this process so far, in MB.
func peakResidentMegabytes() -> Double {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return Double(usage.ru_maxrss) / 1024
}
