import TensorCore
import TestSupport
import Testing

// Central finite differences against backward() for every op, one short line per case.
// Tolerances are checkGradients' defaults (eps 1e-2, atol 2e-3, rtol 2e-2): with Float32
// evaluations and inputs of order one, rounding contributes about 1e-5 / 1e-2 = 1e-3 to a
// numeric derivative and truncation about eps² = 1e-4 times the third derivative.
// Inputs stay at least 0.3 away from kinks (abs, relu, clamp, minimum/maximum) and from 0
// for division, and reduction maxima are at least 0.15 apart, so that no finite
// difference straddles a kink.

/// A named gradient check: inputs and the function of them.
struct Case: CustomTestStringConvertible, Sendable {
  let name: String
  let inputs: @Sendable () -> [Tensor]
  let f: @Sendable ([Tensor]) -> Tensor
  var testDescription: String { name }

  init(
    _ name: String, _ inputs: @escaping @Sendable () -> [Tensor],
    _ f: @escaping @Sendable ([Tensor]) -> Tensor
  ) {
    self.name = name
    self.inputs = inputs
    self.f = f
  }

  /// Runs the check and records a failure naming the case and the worst element.
  func check() {
    let report = checkGradients(inputs(), f)
    #expect(report.passed, "\(name): \(report)")
  }
}

/// Reproducible values in [low, high).
private func s(_ shape: [Int], _ seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
  sample(shape, low: low, high: high, seed: seed)
}

/// Values with magnitude in [0.3, 1.2) and random sign: away from 0 (abs, relu, division).
private func away(_ shape: [Int], _ seed: UInt64) -> Tensor {
  let t = s(shape, seed, low: 0.3, high: 1.2)
  var rng = RandomState(seed: seed + 100)
  t.withUnsafeMutableBufferPointer { b in
    for i in b.indices where rng.nextUniform() < 0.5 { b[i] = -b[i] }
  }
  return t
}

/// A shuffled grid with spacing 0.15: no two elements within 2·eps, so max/min have no
/// near-ties.
private func distinct(_ shape: [Int], _ seed: UInt64) -> Tensor {
  let n = shape.reduce(1, *)
  var values = (0..<n).map { Float($0 - n / 2) * 0.15 }
  var rng = RandomState(seed: seed)
  values.shuffle(using: &rng)
  return Tensor(values, shape: shape)
}

// MARK: - Elementwise

private let binaryShapes: [(label: String, a: [Int], b: [Int])] = [
  ("[2,3]·[2,3]", [2, 3], [2, 3]),
  ("[2,2]·scalar", [2, 2], []),
  ("scalar·[2,2]", [], [2, 2]),
  ("scalar·scalar", [], []),
  ("[3,1]·[1,4]", [3, 1], [1, 4]),
  ("[2,3,4]·[4]", [2, 3, 4], [4]),
  ("[4]·[2,3,4]", [4], [2, 3, 4]),
  ("[2,1,4]·[3,1]", [2, 1, 4], [3, 1]),
  ("[1,1]·[2,3]", [1, 1], [2, 3]),
]

private let binaryOps: [(name: String, op: @Sendable (Tensor, Tensor) -> Tensor)] = [
  ("add", { $0 + $1 }), ("sub", { $0 - $1 }), ("mul", { $0 * $1 }), ("div", { $0 / $1 }),
]

let binaryCases: [Case] = binaryOps.flatMap { name, op in
  binaryShapes.map { label, sa, sb in
    Case("\(name) \(label)", { [s(sa, 1), name == "div" ? away(sb, 2) : s(sb, 2)] }) {
      op($0[0], $0[1])
    }
  }
}

let scalarOverloadCases: [Case] = [
  Case("tensor + 2", { [s([2, 3], 1)] }) { $0[0] + 2 },
  Case("2 + tensor", { [s([2, 3], 1)] }) { 2 + $0[0] },
  Case("tensor - 2", { [s([2, 3], 1)] }) { $0[0] - 2 },
  Case("2 - tensor", { [s([2, 3], 1)] }) { 2 - $0[0] },
  Case("tensor * 3", { [s([2, 3], 1)] }) { $0[0] * 3 },
  Case("3 * tensor", { [s([2, 3], 1)] }) { 3 * $0[0] },
  Case("tensor / 4", { [s([2, 3], 1)] }) { $0[0] / 4 },
  Case("2 / tensor", { [away([2, 3], 1)] }) { 2 / $0[0] },
  Case("combined", { [s([2, 3], 1)] }) { (2 * $0[0] + 1) / 3 - 0.5 * $0[0] },
]

let unaryCases: [Case] = [
  Case("neg", { [s([5], 1)] }) { -$0[0] },
  Case("exp", { [s([2, 3], 1, low: -2, high: 2)] }) { $0[0].exp() },
  Case("exp of a scalar", { [s([], 1)] }) { $0[0].exp() },
  Case("log", { [s([2, 3], 1, low: 0.5, high: 3)] }) { $0[0].log() },
  Case("sqrt", { [s([2, 3], 1, low: 0.5, high: 3)] }) { $0[0].sqrt() },
  Case("pow 3", { [s([2, 3], 1)] }) { $0[0].pow(3) },
  Case("pow 2 of negatives", { [s([4], 1, low: -2, high: -0.5)] }) { $0[0].pow(2) },
  Case("pow -0.5", { [s([4], 1, low: 0.5, high: 2)] }) { $0[0].pow(-0.5) },
  Case("pow 2.5", { [s([4], 1, low: 0.5, high: 2)] }) { $0[0].pow(2.5) },
  Case("pow 0", { [s([4], 1)] }) { $0[0].pow(0) },
  Case("abs", { [away([2, 3], 1)] }) { $0[0].abs() },
  Case("tanh", { [s([2, 3], 1, low: -2, high: 2)] }) { $0[0].tanh() },
  Case("tanh near 0", { [Tensor([-0.03, -0.01, 0.005, 0.02, 0.035, 0.06])] }) { $0[0].tanh() },
  Case("sigmoid", { [s([2, 3], 1, low: -3, high: 3)] }) { $0[0].sigmoid() },
  Case("sigmoid tails", { [Tensor([-8, -5, 5, 8])] }) { $0[0].sigmoid() },
  Case("relu", { [away([2, 3], 1)] }) { $0[0].relu() },
  Case("leakyRelu", { [away([2, 3], 1)] }) { $0[0].leakyRelu(slope: 0.1) },
  Case("leakyRelu default slope", { [away([2, 3], 2)] }) { $0[0].leakyRelu() },
  Case("gelu", { [s([2, 3], 1, low: -3, high: 3)] }) { $0[0].gelu() },
  Case("gelu tails", { [Tensor([-6, -4, 4, 6])] }) { $0[0].gelu() },
  Case("clamp both", { [Tensor([-2, -0.5, 0.2, 0.7, 3])] }) { $0[0].clamp(min: -1, max: 1) },
  Case("clamp min only", { [Tensor([-2, -0.5, 0.2, 3])] }) { $0[0].clamp(min: 0) },
  Case("clamp max only", { [Tensor([-2, -0.5, 0.2, 3])] }) { $0[0].clamp(max: 0) },
  Case("square", { [s([3], 1)] }) { $0[0].square() },
]

let selectionCases: [Case] = [
  Case("maximum same shape", { [Tensor([1, -2, 3]), Tensor([0.5, 0.5, 4])] }) {
    Tensor.maximum($0[0], $0[1])
  },
  Case("maximum [2,3]·[2,1]", { [distinct([2, 3], 1), distinct([2, 1], 2) + 0.07] }) {
    Tensor.maximum($0[0], $0[1])
  },
  Case("minimum same shape", { [Tensor([1, -2, 3]), Tensor([0.5, 0.5, 4])] }) {
    Tensor.minimum($0[0], $0[1])
  },
  Case("minimum broadcast scalar", { [away([2, 3], 1), Tensor(scalar: 0.05)] }) {
    Tensor.minimum($0[0], $0[1])
  },
  Case("where same shape", { [s([2, 3], 1), s([2, 3], 2)] }) {
    Tensor.where(Tensor([1, 0, 1, 0, 0, 1], shape: [2, 3]), $0[0], $0[1])
  },
  Case("where broadcast", { [s([2, 3], 1), s([3], 2)] }) {
    Tensor.where(Tensor([1, 0], shape: [2, 1]), $0[0], $0[1])
  },
  Case("where scalar branch", { [s([2, 3], 1), s([], 2)] }) {
    Tensor.where(Tensor([0, 1, 1], shape: [3]), $0[0], $0[1])
  },
  Case("maskedFill", { [s([2, 3], 1)] }) {
    $0[0].maskedFill(Tensor([0, 1, 0], shape: [1, 3]), 5)
  },
]

@Test(arguments: binaryCases) func binaryGradients(_ c: Case) { c.check() }
@Test(arguments: scalarOverloadCases) func scalarOverloadGradients(_ c: Case) { c.check() }
@Test(arguments: unaryCases) func unaryGradients(_ c: Case) { c.check() }
@Test(arguments: selectionCases) func selectionGradients(_ c: Case) { c.check() }

// MARK: - Reductions

/// One reduction: single axis, several axes, all axes; with and without kept dimensions.
private let reductionVariants: [(label: String, shape: [Int], axes: [Int]?, keepDims: Bool)] = [
  ("axis 0 of [3,4]", [3, 4], [0], false),
  ("axis 1 of [2,3,4]", [2, 3, 4], [1], false),
  ("axis -1 keepDims", [2, 3, 4], [-1], true),
  ("axes [0,2]", [2, 3, 4], [0, 2], false),
  ("axes [2,0] keepDims", [2, 3, 4], [2, 0], true),
  ("all axes", [2, 3, 4], nil, false),
  ("all axes keepDims", [3, 4], nil, true),
  ("all of a scalar", [], nil, false),
  ("size-1 axes [0,2]", [1, 3, 1], [0, 2], false),
]

private let reductionOps: [(name: String, op: @Sendable (Tensor, [Int]?, Bool) -> Tensor)] = [
  (
    "sum",
    { x, axes, keep in
      axes?.count == 1 ? x.sum(axis: axes![0], keepDims: keep) : x.sum(axes: axes, keepDims: keep)
    }
  ),
  (
    "mean",
    { x, axes, keep in
      axes?.count == 1 ? x.mean(axis: axes![0], keepDims: keep) : x.mean(axes: axes, keepDims: keep)
    }
  ),
  (
    "max",
    { x, axes, keep in
      axes?.count == 1 ? x.max(axis: axes![0], keepDims: keep) : x.max(axes: axes, keepDims: keep)
    }
  ),
  (
    "min",
    { x, axes, keep in
      axes?.count == 1 ? x.min(axis: axes![0], keepDims: keep) : x.min(axes: axes, keepDims: keep)
    }
  ),
  (
    "logSumExp",
    { x, axes, keep in
      axes?.count == 1
        ? x.logSumExp(axis: axes![0], keepDims: keep) : x.logSumExp(axes: axes, keepDims: keep)
    }
  ),
]

let reductionCases: [Case] = reductionOps.flatMap { name, op in
  reductionVariants.map { label, shape, axes, keep in
    let isExtremum = name == "max" || name == "min"
    return Case("\(name) \(label)", { [isExtremum ? distinct(shape, 3) : s(shape, 3)] }) {
      op($0[0], axes, keep)
    }
  }
}

@Test(arguments: reductionCases) func reductionGradients(_ c: Case) { c.check() }

// MARK: - Matrix products

private func mm(_ transposeA: Bool = false, _ transposeB: Bool = false)
  -> @Sendable ([Tensor]) -> Tensor
{
  { Tensor.matmul($0[0], $0[1], transposeA: transposeA, transposeB: transposeB) }
}

let matmulCases: [Case] = [
  Case("2D", { [s([3, 4], 1), s([4, 2], 2)] }, mm()),
  Case("2D Aᵀ", { [s([4, 3], 1), s([4, 2], 2)] }, mm(true)),
  Case("2D Bᵀ", { [s([3, 4], 1), s([2, 4], 2)] }, mm(false, true)),
  Case("2D AᵀBᵀ", { [s([4, 3], 1), s([2, 4], 2)] }, mm(true, true)),
  Case("batched 3D", { [s([2, 3, 4], 1), s([2, 4, 5], 2)] }, mm()),
  Case("batched Aᵀ", { [s([2, 4, 3], 1), s([2, 4, 5], 2)] }, mm(true)),
  Case("batched Bᵀ", { [s([2, 3, 4], 1), s([2, 5, 4], 2)] }, mm(false, true)),
  Case("batched AᵀBᵀ", { [s([2, 4, 3], 1), s([2, 2, 4], 2)] }, mm(true, true)),
  Case("4D", { [s([2, 2, 3, 2], 1), s([2, 2, 2, 3], 2)] }, mm()),
  Case("4D AᵀBᵀ", { [s([2, 2, 2, 3], 1), s([2, 2, 3, 2], 2)] }, mm(true, true)),
  Case("shared right", { [s([2, 3, 4], 1), s([4, 2], 2)] }, mm()),
  Case("shared right Aᵀ", { [s([2, 4, 3], 1), s([4, 2], 2)] }, mm(true)),
  Case("shared right Bᵀ", { [s([2, 3, 4], 1), s([2, 4], 2)] }, mm(false, true)),
  Case("shared right AᵀBᵀ", { [s([2, 4, 3], 1), s([2, 4], 2)] }, mm(true, true)),
  Case("shared right, 4D left", { [s([2, 2, 3, 4], 1), s([4, 2], 2)] }, mm()),
  Case("shared left", { [s([3, 4], 1), s([2, 4, 2], 2)] }, mm()),
  Case("shared left Aᵀ", { [s([4, 3], 1), s([2, 4, 2], 2)] }, mm(true)),
  Case("shared left Bᵀ", { [s([3, 4], 1), s([2, 2, 4], 2)] }, mm(false, true)),
  Case("shared left AᵀBᵀ", { [s([4, 3], 1), s([2, 2, 4], 2)] }, mm(true, true)),
  Case("size-1 m and n", { [s([2, 1, 3], 1), s([2, 3, 1], 2)] }, mm()),
  Case("size-1 k", { [s([3, 1], 1), s([1, 2], 2)] }, mm()),
  Case("constant right operand", { [s([2, 3, 4], 1)] }) {
    Tensor.matmul($0[0], s([4, 2], 9))
  },
  Case("constant batched left operand", { [s([4, 2], 1)] }) {
    Tensor.matmul(s([2, 3, 4], 9), $0[0])
  },
  Case("linear with bias", { [s([5, 3], 1), s([4, 3], 2), s([4], 3)] }) {
    Tensor.linear($0[0], weight: $0[1], bias: $0[2])
  },
  Case("linear without bias", { [s([5, 3], 1), s([4, 3], 2)] }) {
    Tensor.linear($0[0], weight: $0[1], bias: nil)
  },
  Case("linear 3D input with bias", { [s([2, 3, 3], 1), s([4, 3], 2), s([4], 3)] }) {
    Tensor.linear($0[0], weight: $0[1], bias: $0[2])
  },
  Case("linear 3D input without bias", { [s([2, 3, 3], 1), s([4, 3], 2)] }) {
    Tensor.linear($0[0], weight: $0[1], bias: nil)
  },
  Case("linear 1D input", { [s([3], 1), s([2, 3], 2), s([2], 3)] }) {
    Tensor.linear($0[0], weight: $0[1], bias: $0[2])
  },
  Case("linear constant input", { [s([4, 3], 2), s([4], 3)] }) {
    Tensor.linear(s([5, 3], 9), weight: $0[0], bias: $0[1])
  },
]

@Test(arguments: matmulCases) func matmulGradients(_ c: Case) { c.check() }

// MARK: - Moving elements

let shapeCases: [Case] = [
  Case("reshape with -1", { [s([2, 6], 1)] }) { $0[0].reshaped([3, -1]) * s([3, 4], 9) },
  Case("reshape scalar to [1,1]", { [s([], 1)] }) { $0[0].reshaped([1, 1]) * s([1, 1], 9) },
  Case("flattened", { [s([2, 3], 1)] }) { $0[0].flattened() * s([6], 9) },
  Case("unsqueezed axis 0", { [s([2, 3], 1)] }) { $0[0].unsqueezed(axis: 0) * s([2, 2, 3], 9) },
  Case("unsqueezed axis -1", { [s([2, 3], 1)] }) { $0[0].unsqueezed(axis: -1) * s([2, 3, 2], 9) },
  Case("squeezed", { [s([2, 1, 3], 1)] }) { $0[0].squeezed(axis: 1) * s([2, 3], 9) },
  Case("broadcast [3,1] to [2,3,4]", { [s([3, 1], 1)] }) { $0[0].broadcast(to: [2, 3, 4]) },
  Case("broadcast [4] to [3,4]", { [s([4], 1)] }) { $0[0].broadcast(to: [3, 4]) },
  Case("broadcast scalar to [2,3]", { [s([], 1)] }) { $0[0].broadcast(to: [2, 3]) },
  Case("permuted 3D", { [s([2, 3, 4], 1)] }) { $0[0].permuted([2, 0, 1]) },
  Case("permuted 4D", { [s([2, 3, 2, 2], 1)] }) { $0[0].permuted([1, 3, 0, 2]) },
  Case("transposed", { [s([3, 5], 1)] }) { $0[0].transposed() },
  Case("transposed axes 0,1", { [s([2, 3, 4], 1)] }) { $0[0].transposed(0, 1) },
  Case("slice axis 0", { [s([4, 2], 1)] }) { $0[0].slice(axis: 0, 2..<4) },
  Case("slice axis 1", { [s([3, 5], 1)] }) { $0[0].slice(axis: 1, 1..<4) },
  Case("slice middle axis of 3D", { [s([2, 4, 3], 1)] }) { $0[0].slice(axis: 1, 1..<3) },
  Case("slice last axis of 3D", { [s([2, 3, 4], 1)] }) { $0[0].slice(axis: -1, 0..<1) },
  Case("concat axis 0", { [s([2, 3], 1), s([1, 3], 2)] }) {
    Tensor.concat([$0[0], $0[1]], axis: 0)
  },
  Case("concat axis 1 of 3D", { [s([2, 1, 3], 1), s([2, 2, 3], 2)] }) {
    Tensor.concat([$0[0], $0[1]], axis: 1)
  },
  Case("concat axis -1, three parts", { [s([2, 1], 1), s([2, 3], 2), s([2, 2], 3)] }) {
    Tensor.concat([$0[0], $0[1], $0[2]], axis: -1)
  },
  Case("concat the same tensor twice", { [s([2, 3], 1)] }) {
    Tensor.concat([$0[0], $0[0]], axis: 0)
  },
  Case("stack axis 0", { [s([2, 3], 1), s([2, 3], 2)] }) { Tensor.stack([$0[0], $0[1]]) },
  Case("stack axis 1", { [s([2, 3], 1), s([2, 3], 2)] }) { Tensor.stack([$0[0], $0[1]], axis: 1) },
  Case("stack axis -1", { [s([2, 3], 1), s([2, 3], 2), s([2, 3], 3)] }) {
    Tensor.stack([$0[0], $0[1], $0[2]], axis: -1)
  },
  Case("indexSelect axis 0 with repeats", { [s([4, 3], 1)] }) {
    $0[0].indexSelect(axis: 0, [3, 0, 3, 1])
  },
  Case("indexSelect axis 1 with repeats", { [s([2, 4, 2], 1)] }) {
    $0[0].indexSelect(axis: 1, [2, 2, 0])
  },
  Case("indexSelect last axis", { [s([3, 4], 1)] }) { $0[0].indexSelect(axis: -1, [1, 1, 1, 3]) },
  Case("embedding with repeats", { [s([5, 3], 1)] }) {
    $0[0].embedding([4, 1, 1, 0], shape: [2, 2])
  },
  Case("gatherLast 2D", { [s([3, 4], 1)] }) { $0[0].gatherLast([3, 0, 2]) },
  Case("gatherLast 1D", { [s([4], 1)] }) { $0[0].gatherLast([2]) },
  Case("gatherLast 3D", { [s([2, 2, 3], 1)] }) { $0[0].gatherLast([0, 2, 2, 1]) },
]

@Test(arguments: shapeCases) func shapeGradients(_ c: Case) { c.check() }

// MARK: - Fused kernels

let fusedCases: [Case] = [
  Case("softmax last axis", { [s([3, 5], 1, low: -2, high: 2)] }) { $0[0].softmax() },
  Case("softmax middle axis", { [s([2, 4, 3], 1, low: -2, high: 2)] }) { $0[0].softmax(axis: 1) },
  Case("softmax first axis", { [s([3, 2], 1, low: -2, high: 2)] }) { $0[0].softmax(axis: 0) },
  Case("softmax of a size-1 axis", { [s([3, 1], 1)] }) { $0[0].softmax() },
  Case("softmax at logits near 1000", { [s([2, 3], 1, low: 999, high: 1001)] }) {
    $0[0].softmax()
  },
  Case("softmax with masked entries", { [s([2, 4], 1)] }) {
    $0[0].maskedFill(Tensor([0, 1, 0, 0, 1, 0, 0, 1], shape: [2, 4]), -.infinity).softmax()
  },
  Case("logSoftmax last axis", { [s([3, 5], 1, low: -2, high: 2)] }) { $0[0].logSoftmax() },
  Case("logSoftmax middle axis", { [s([2, 4, 3], 1, low: -2, high: 2)] }) {
    $0[0].logSoftmax(axis: 1)
  },
  Case("logSoftmax first axis", { [s([3, 2], 1, low: -2, high: 2)] }) {
    $0[0].logSoftmax(axis: 0)
  },
  Case("logSoftmax with a large spread", { [Tensor([-30, 0, 25, 30], shape: [1, 4])] }) {
    $0[0].logSoftmax()
  },
  Case("logProbabilities(of:) 1D", { [s([5], 1, low: -2, high: 2)] }) {
    $0[0].logProbabilities(of: [3])
  },
  Case("logProbabilities(of:) 2D", { [s([3, 4], 1, low: -2, high: 2)] }) {
    $0[0].logProbabilities(of: [1, 3, 1])
  },
  Case("logProbabilities(of:) 3D", { [s([2, 3, 4], 1, low: -2, high: 2)] }) {
    $0[0].logProbabilities(of: [0, 3, 1, 2, 2, 0])
  },
  Case("crossEntropy", { [s([4, 3], 1, low: -2, high: 2)] }) {
    $0[0].crossEntropy(targets: [0, 2, 1, 1])
  },
  Case("crossEntropy 3D", { [s([2, 2, 3], 1, low: -2, high: 2)] }) {
    $0[0].crossEntropy(targets: [2, 2, 0, 1])
  },
  Case("layerNorm weight and bias", { [s([3, 5], 1), s([5], 2), s([5], 3)] }) {
    $0[0].layerNorm(weight: $0[1], bias: $0[2])
  },
  Case("layerNorm weight only", { [s([3, 5], 1), s([5], 2)] }) {
    $0[0].layerNorm(weight: $0[1], bias: nil)
  },
  Case("layerNorm bias only", { [s([3, 5], 1), s([5], 3)] }) {
    $0[0].layerNorm(weight: nil, bias: $0[1])
  },
  Case("layerNorm no affine, 3D", { [s([2, 2, 4], 1)] }) {
    $0[0].layerNorm(weight: nil, bias: nil)
  },
  Case("dropout with a fixed generator", { [s([4, 5], 1)] }) { x in
    var rng = RandomState(seed: 3)
    return x[0].dropout(0.3, rng: &rng)
  },
]

@Test(arguments: fusedCases) func fusedGradients(_ c: Case) { c.check() }

// MARK: - The checker itself

@Test func gradientCheckerRejectsAWrongGradient() {
  // x · detached(x) has derivative 2x but backward() reports x.
  let wrong = checkGradients([s([4], 1, low: 0.5, high: 1)]) { $0[0] * $0[0].detached() }
  #expect(!wrong.passed)
  #expect(abs(wrong.numeric - 2 * wrong.analytic) < 1e-2)
  let right = checkGradients([s([4], 1, low: 0.5, high: 1)]) { $0[0] * $0[0] }
  #expect(right.passed)
  #expect(right.maxAbsError < 1e-3)
}

@Test func dropoutGradientIsItsMask() {
  let x = Tensor.ones([200], requiresGrad: true)
  var rng = RandomState(seed: 5)
  let y = x.dropout(0.25, rng: &rng)
  y.sum().backward()
  #expect(x.grad!.scalars == y.scalars)  // the output for an input of ones is the mask
  #expect(y.scalars.allSatisfy { $0 == 0 || $0 == Float(1) / 0.75 })
  let kept = y.scalars.filter { $0 != 0 }.count
  #expect(kept > 120 && kept < 180)  // 150 expected, standard deviation 6
  // The same generator state gives the same mask.
  var again = RandomState(seed: 5)
  #expect(Tensor.ones([200]).dropout(0.25, rng: &again).scalars == y.scalars)
}
