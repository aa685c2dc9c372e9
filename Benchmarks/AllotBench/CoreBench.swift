import CBLAS
import Foundation
import NN
import Optim
import TensorCore

/// Seconds per call of `body`, the median of `repeats` timings of `iterations` calls each.
func secondsPerCall(iterations: Int, repeats: Int = 5, _ body: () -> Void) -> Double {
  var samples: [Double] = []
  for _ in 0..<repeats {
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<iterations { body() }
    samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(iterations))
  }
  return samples.sorted()[samples.count / 2]
}

/// Runs a PyTorch reference script from Benchmarks/reference and returns the number it
/// prints after `key=`, or nil (with a note) when Python or torch is missing.
func pytorchReference(_ script: String, key: String, arguments: [String] = []) -> Double? {
  pytorchReferenceValues(script, arguments: arguments)?[key]
}

/// Every `name=number` line a PyTorch reference script prints. Its standard error goes to a
/// temporary file (a pipe nobody reads would stall a chatty script), whose last lines are
/// shown when the script fails.
func pytorchReferenceValues(_ script: String, arguments: [String] = []) -> [String: Double]? {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments =
    ["python3", "Benchmarks/reference/\(script)", "--threads", "\(BLAS.threads)"] + arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  let errors = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-bench-\(getpid())-stderr.txt")
  _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
  defer { try? FileManager.default.removeItem(at: errors) }
  process.standardError = try? FileHandle(forWritingTo: errors)
  do { try process.run() } catch {
    print("  (PyTorch reference skipped: \(error))")
    return nil
  }
  let data = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  let text = String(decoding: data, as: UTF8.self)
  var values: [String: Double] = [:]
  for line in text.split(separator: "\n") {
    let parts = line.split(separator: "=", maxSplits: 1)
    if parts.count == 2, let v = Double(parts[1]) { values[String(parts[0])] = v }
  }
  guard process.terminationStatus == 0, !values.isEmpty else {
    let tail = (try? String(contentsOf: errors, encoding: .utf8))?.split(separator: "\n")
      .suffix(3).joined(separator: " | ")
    print(
      "  (PyTorch reference skipped: \(script) failed with status \(process.terminationStatus)"
        + " (is torch installed? pip install torch): \(tail ?? ""))")
    return nil
  }
  return values
}

/// 1. Matrix product through `Tensor.matmul` against raw `cblas_sgemm` into a reused buffer.
func benchmarkMatmul() {
  print("matmul, square n×n, GFLOP/s (Tensor.matmul vs raw cblas_sgemm):")
  print("     n   Tensor     raw   ratio")
  for n in [64, 128, 256, 512, 1024] {
    var rng = RandomState(seed: 1)
    let a = Tensor.uniform([n, n], rng: &rng)
    let b = Tensor.uniform([n, n], rng: &rng)
    let c = Tensor.zeros([n, n])
    let flops = 2 * Double(n * n * n)
    let iterations = max(2, 200_000_000 / (n * n * n))
    let tensorTime = secondsPerCall(iterations: iterations) { _ = Tensor.matmul(a, b) }
    let rawTime = secondsPerCall(iterations: iterations) {
      a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
          c.withUnsafeMutableBufferPointer { pc in
            cblas_sgemm(
              CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
              pa.baseAddress, Int32(n), pb.baseAddress, Int32(n), 0, pc.baseAddress, Int32(n))
          }
        }
      }
    }
    let (t, r) = (flops / tensorTime / 1e9, flops / rawTime / 1e9)
    print(String(format: "%6d  %7.1f  %6.1f   %.3f", n, t, r, t / r))
  }
}

/// 2. MLP 64→256→256→8, batch 256, cross-entropy, forward + backward + Adam.
func benchmarkMLP() { benchmarkMLP(withReferences: true) }

/// The MLP step alone, for profilers (`perf record … allot-bench mlp-profile`).
func profileMLP() { benchmarkMLP(withReferences: false) }

func benchmarkMLP(withReferences: Bool) {
  var rng = RandomState(seed: 0)
  let model = MLP([64, 256, 256, 8], rng: &rng)
  let optimizer = Adam(parameters: model.namedParameters(), learningRate: 1e-3)
  let x = Tensor.uniform([256, 64], low: -1, high: 1, rng: &rng)
  let y = (0..<256).map { _ in rng.nextInt(below: 8) }
  func step() {
    optimizer.zeroGrad()
    model(x).crossEntropy(targets: y).backward()
    optimizer.step()
  }
  for _ in 0..<200 { step() }
  let seconds = secondsPerCall(iterations: 400, repeats: 5, step)
  let allot = 1 / seconds
  guard withReferences else {
    print(String(format: "MLP step: %.1f steps/s", allot))
    return
  }

  // The GEMM-only floor: the same matrix products through sgemm with no other work.
  let floorSeconds = mlpGemmOnlySeconds()
  print("MLP 64→256→256→8, batch 256, fwd+bwd+Adam:")
  print(String(format: "  Allot           %7.1f steps/s", allot))
  print(
    String(
      format: "  GEMM-only floor %7.1f steps/s (Allot reaches %.0f%% of it)", 1 / floorSeconds,
      100 * floorSeconds / seconds))
  if let torch = pytorchReference("mlp.py", key: "steps_per_sec") {
    print(
      String(
        format: "  PyTorch         %7.1f steps/s   Allot/PyTorch = %.2f×", torch, allot / torch))
  }
}

/// The time of the MLP step's nine matrix products alone, into preallocated buffers.
func mlpGemmOnlySeconds() -> Double {
  let sizes = [(64, 256), (256, 256), (256, 8)]
  let batch = 256
  var rng = RandomState(seed: 0)
  let weights = sizes.map { Tensor.uniform([$0.1, $0.0], rng: &rng) }
  let inputs = sizes.map { Tensor.uniform([batch, $0.0], rng: &rng) }
  let outputs = sizes.map { Tensor.zeros([batch, $0.1]) }
  let weightGrads = sizes.map { Tensor.zeros([$0.1, $0.0]) }
  let inputGrads = sizes.map { Tensor.zeros([batch, $0.0]) }
  func raw(
    _ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: Tensor, _ b: Tensor, _ c: Tensor
  ) {
    a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        c.withUnsafeMutableBufferPointer { pc in
          cblas_sgemm(
            CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), 1, pa.baseAddress, Int32(ta ? m : k), pb.baseAddress,
            Int32(tb ? k : n), 0, pc.baseAddress, Int32(n))
        }
      }
    }
  }
  return secondsPerCall(iterations: 400) {
    for (i, (fanIn, fanOut)) in sizes.enumerated() {
      raw(false, true, batch, fanOut, fanIn, inputs[i], weights[i], outputs[i])
      raw(true, false, fanOut, fanIn, batch, outputs[i], inputs[i], weightGrads[i])
      if i > 0 { raw(false, false, batch, fanIn, fanOut, outputs[i], weights[i], inputGrads[i]) }
    }
  }
}

/// 3. One transformer block, width 128, 4 heads, batch 16 × sequence 64, forward + backward.
func benchmarkTransformerBlock() { benchmarkTransformerBlock(withReferences: true) }

/// The block step alone, for profilers.
func profileBlock() { benchmarkTransformerBlock(withReferences: false) }

func benchmarkTransformerBlock(withReferences: Bool) {
  let (b, t, d) = (16, 64, 128)
  var rng = RandomState(seed: 0)
  let block = TransformerBlock(width: d, heads: 4, rng: &rng)
  let x = Tensor.uniform([b, t, d], rng: &rng, requiresGrad: true)
  let w = Tensor.uniform([b, t, d], rng: &rng)
  func step() {
    block.zeroGrad()
    x.grad = nil
    (block(x) * w).sum().backward()
  }
  for _ in 0..<10 { step() }
  let seconds = secondsPerCall(iterations: 30, repeats: 5, step)
  let allot = Double(b * t) / seconds
  print("Transformer block d=128, 4 heads, batch 16 × seq 64, fwd+bwd:")
  print(String(format: "  Allot    %9.0f tokens/s", allot))
  if withReferences, let torch = pytorchReference("transformer_block.py", key: "tokens_per_sec") {
    print(String(format: "  PyTorch  %9.0f tokens/s   Allot/PyTorch = %.2f×", torch, allot / torch))
  }
}

/// The causal attention op alone, forward and backward, on the supervised step's shape
/// (batch 32 × 112 positions, width 128, 4 heads): the fastest and the median of 30 calls.
func profileAttention() {
  var rng = RandomState(seed: 0)
  let (q, k, v) = (
    Tensor.uniform([32, 112, 128], rng: &rng, requiresGrad: true),
    Tensor.uniform([32, 112, 128], rng: &rng, requiresGrad: true),
    Tensor.uniform([32, 112, 128], rng: &rng, requiresGrad: true)
  )
  let w = Tensor.uniform([32, 112, 128], rng: &rng)
  var times: [Double] = []
  for _ in 0..<32 {
    let start = DispatchTime.now().uptimeNanoseconds
    (Tensor.attention(query: q, key: k, value: v, heads: 4) * w).sum().backward()
    times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
  }
  times = Array(times.dropFirst(2)).sorted()
  print(
    String(
      format: "attention fwd+bwd [32, 112, 128], 4 heads: fastest %.2f ms, median %.2f ms",
      times[0], times[times.count / 2]))
}
