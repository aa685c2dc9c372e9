import TensorCore

/// The worst disagreement between analytic and finite-difference gradients.
public struct GradCheckReport: CustomStringConvertible, Sendable {
  /// The largest |analytic − numeric| over every input element.
  public var maxAbsError: Float = 0
  /// Where it occurred: input index and flat element index.
  public var worst: (input: Int, element: Int) = (0, 0)
  public var analytic: Float = 0
  public var numeric: Float = 0
  /// Whether every element satisfied |a − n| ≤ atol + rtol·|n|.
  public var passed = true

  public var description: String {
    "max |analytic − numeric| = \(maxAbsError) at input \(worst.input), element \(worst.element) "
      + "(analytic \(analytic), numeric \(numeric))"
  }
}

/// Compares the gradients `backward()` computes for `f` against central finite differences.
///
/// The output of `f` is projected onto fixed pseudo-random weights before differentiating,
/// so that every output element matters (a plain sum would hide errors in ops such as
/// softmax, whose outputs always sum to one).
public func checkGradients(
  _ inputs: [Tensor], eps: Float = 1e-2, atol: Float = 2e-3, rtol: Float = 2e-2,
  seed: UInt64 = 7, _ f: ([Tensor]) -> Tensor
) -> GradCheckReport {
  for x in inputs { x.requiresGrad = true; x.grad = nil }
  let probe = withoutGrad { f(inputs) }
  var rng = RandomState(seed: seed)
  let weights = Tensor.uniform(probe.shape, low: -1, high: 1, rng: &rng)
  func objective() -> Tensor { (f(inputs) * weights).sum() }

  let loss = objective()
  loss.backward()
  var report = GradCheckReport()
  for (i, x) in inputs.enumerated() {
    let analytic = x.grad?.scalars ?? [Float](repeating: 0, count: x.count)
    for e in 0..<x.count {
      let original = x.withUnsafeBufferPointer { $0[e] }
      // Central differences in Double from Float evaluations.
      x.withUnsafeMutableBufferPointer { $0[e] = original + eps }
      let plus = Double(withoutGrad { objective() }.item)
      x.withUnsafeMutableBufferPointer { $0[e] = original - eps }
      let minus = Double(withoutGrad { objective() }.item)
      x.withUnsafeMutableBufferPointer { $0[e] = original }
      let numeric = Float((plus - minus) / (2 * Double(eps)))
      let error = Swift.abs(analytic[e] - numeric)
      if error > atol + rtol * Swift.abs(numeric) { report.passed = false }
      if error >= report.maxAbsError {
        report.maxAbsError = error
        report.worst = (i, e)
        report.analytic = analytic[e]
        report.numeric = numeric
      }
    }
  }
  return report
}

/// A tensor of `shape` with reproducible values in [low, high).
public func sample(
  _ shape: [Int], low: Float = -1, high: Float = 1, seed: UInt64 = 1
) -> Tensor {
  var rng = RandomState(seed: seed)
  return Tensor.uniform(shape, low: low, high: high, rng: &rng)
}

/// Whether two arrays agree elementwise within `atol + rtol·|expected|`.
public func isClose(
  _ actual: [Float], _ expected: [Float], atol: Float = 1e-5, rtol: Float = 1e-5
) -> Bool {
  actual.count == expected.count
    && zip(actual, expected).allSatisfy { Swift.abs($0 - $1) <= atol + rtol * Swift.abs($1) }
}

/// The largest |scored − recorded| over the real tokens: `scored` is a `[B, T]` scorer
/// output, `recorded[r]` the log-probs the sampler recorded for row r.
public func largestLogProbDifference(_ scored: Tensor, _ recorded: [[Float]]) -> Float {
  let width = scored.shape[1]
  let values = scored.scalars
  var worst: Float = 0
  for (r, row) in recorded.enumerated() {
    for (k, lp) in row.enumerated() { worst = max(worst, abs(values[r * width + k] - lp)) }
  }
  return worst
}
