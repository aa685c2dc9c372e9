import TensorCore
import TestSupport
import Testing

// Central finite differences against backward() for every op, one short line per case.

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
}

private func s(_ shape: [Int], _ seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
  sample(shape, low: low, high: high, seed: seed)
}

/// Values away from zero (for abs, relu kinks, division).
private func away(_ shape: [Int], _ seed: UInt64) -> Tensor {
  let t = s(shape, seed, low: 0.3, high: 1.2)
  var rng = RandomState(seed: seed + 100)
  t.withUnsafeMutableBufferPointer { b in
    for i in b.indices where rng.nextUniform() < 0.5 { b[i] = -b[i] }
  }
  return t
}

let elementwiseCases: [Case] = [
  Case("add same shape", { [s([2, 3], 1), s([2, 3], 2)] }) { $0[0] + $0[1] },
  Case("add [3,1]+[1,4]", { [s([3, 1], 1), s([1, 4], 2)] }) { $0[0] + $0[1] },
  Case("add [2,3,4]+[4]", { [s([2, 3, 4], 1), s([4], 2)] }) { $0[0] + $0[1] },
  Case("add [2,1,4]+[3,1]", { [s([2, 1, 4], 1), s([3, 1], 2)] }) { $0[0] + $0[1] },
  Case("add scalar tensor", { [s([], 1), s([2, 2], 2)] }) { $0[0] + $0[1] },
  Case("sub broadcast", { [s([3, 1], 1), s([1, 4], 2)] }) { $0[0] - $0[1] },
  Case("mul broadcast", { [s([2, 1, 4], 1), s([3, 1], 2)] }) { $0[0] * $0[1] },
  Case("div broadcast", { [s([2, 3], 1), away([3], 2)] }) { $0[0] / $0[1] },
  Case("scalar overloads", { [s([2, 3], 1)] }) { (2 * $0[0] + 1) / 3 - 0.5 * $0[0] },
  Case("scalar on the left", { [away([4], 1)] }) { 1 / $0[0] - (2 - $0[0]) },
  Case("neg", { [s([5], 1)] }) { -$0[0] },
  Case("exp", { [s([2, 3], 1)] }) { $0[0].exp() },
  Case("log", { [s([2, 3], 1, low: 0.5, high: 2)] }) { $0[0].log() },
  Case("sqrt", { [s([2, 3], 1, low: 0.5, high: 2)] }) { $0[0].sqrt() },
  Case("pow 3", { [s([2, 3], 1)] }) { $0[0].pow(3) },
  Case("pow -0.5", { [s([4], 1, low: 0.5, high: 2)] }) { $0[0].pow(-0.5) },
  Case("abs", { [away([2, 3], 1)] }) { $0[0].abs() },
  Case("tanh", { [s([2, 3], 1, low: -2, high: 2)] }) { $0[0].tanh() },
  Case("sigmoid", { [s([2, 3], 1, low: -3, high: 3)] }) { $0[0].sigmoid() },
  Case("relu", { [away([2, 3], 1)] }) { $0[0].relu() },
  Case("leakyRelu", { [away([2, 3], 1)] }) { $0[0].leakyRelu(slope: 0.1) },
  Case("gelu", { [s([2, 3], 1, low: -3, high: 3)] }) { $0[0].gelu() },
  Case("clamp", { [Tensor([-2, -0.5, 0.2, 0.7, 3])] }) { $0[0].clamp(min: -1, max: 1) },
  Case("maximum", { [Tensor([1, -2, 3]), Tensor([0.5, 0.5, 4])] }) { Tensor.maximum($0[0], $0[1]) },
  Case("minimum broadcast", { [s([2, 3], 1), Tensor([0.1])] }) { Tensor.minimum($0[0], $0[1]) },
  Case("where", { [s([2, 3], 1), s([3], 2)] }) {
    Tensor.where(Tensor([1, 0, 1, 0, 0, 1], shape: [2, 3]), $0[0], $0[1])
  },
  Case("maskedFill", { [s([2, 3], 1)] }) {
    $0[0].maskedFill(Tensor([0, 1, 0], shape: [1, 3]), 5)
  },
  Case("square", { [s([3], 1)] }) { $0[0].square() },
]

let reductionCases: [Case] = [
  Case("sum all", { [s([2, 3], 1)] }) { $0[0].sum() },
  Case("sum axis 0", { [s([2, 3], 1)] }) { $0[0].sum(axis: 0) },
  Case("sum axis -1 keepDims", { [s([2, 3, 4], 1)] }) { $0[0].sum(axis: -1, keepDims: true) },
  Case("sum axes [0,2]", { [s([2, 3, 4], 1)] }) { $0[0].sum(axes: [0, 2]) },
  Case("mean axis 1", { [s([2, 3, 4], 1)] }) { $0[0].mean(axis: 1) },
  Case("mean all", { [s([4, 2], 1)] }) { $0[0].mean() },
  Case("max axis 1", { [s([3, 4], 1)] }) { $0[0].max(axis: 1) },
  Case("max all keepDims", { [s([3, 4], 1)] }) { $0[0].max(keepDims: true) },
  Case("min axes [0,1]", { [s([2, 3, 2], 1)] }) { $0[0].min(axes: [0, 1]) },
  Case("logSumExp axis -1", { [s([3, 5], 1, low: -3, high: 3)] }) { $0[0].logSumExp(axis: -1) },
  Case("logSumExp axes [0,2] keepDims", { [s([2, 3, 2], 1)] }) {
    $0[0].logSumExp(axes: [0, 2], keepDims: true)
  },
  Case("sum of a scalar", { [s([], 1)] }) { $0[0].sum() },
  Case("sum size-1 dims", { [s([1, 3, 1], 1)] }) { $0[0].sum(axes: [0, 2]) },
]

let matmulCases: [Case] = [
  Case("matmul 2D", { [s([3, 4], 1), s([4, 2], 2)] }) { Tensor.matmul($0[0], $0[1]) },
  Case("matmul batched 3D", { [s([2, 3, 4], 1), s([2, 4, 5], 2)] }) { Tensor.matmul($0[0], $0[1]) },
  Case("matmul 4D", { [s([2, 2, 3, 2], 1), s([2, 2, 2, 3], 2)] }) { Tensor.matmul($0[0], $0[1]) },
  Case("matmul shared right", { [s([2, 3, 4], 1), s([4, 2], 2)] }) { Tensor.matmul($0[0], $0[1]) },
  Case("matmul shared left", { [s([3, 4], 1), s([2, 4, 2], 2)] }) { Tensor.matmul($0[0], $0[1]) },
  Case("matmul Aᵀ", { [s([4, 3], 1), s([4, 2], 2)] }) {
    Tensor.matmul($0[0], $0[1], transposeA: true)
  },
  Case("matmul Bᵀ", { [s([3, 4], 1), s([2, 4], 2)] }) {
    Tensor.matmul($0[0], $0[1], transposeB: true)
  },
  Case("matmul AᵀBᵀ", { [s([4, 3], 1), s([2, 4], 2)] }) {
    Tensor.matmul($0[0], $0[1], transposeA: true, transposeB: true)
  },
  Case("matmul batched AᵀBᵀ", { [s([2, 4, 3], 1), s([2, 2, 4], 2)] }) {
    Tensor.matmul($0[0], $0[1], transposeA: true, transposeB: true)
  },
  Case("matmul batched Aᵀ shared right", { [s([2, 4, 3], 1), s([4, 2], 2)] }) {
    Tensor.matmul($0[0], $0[1], transposeA: true)
  },
  Case("matmul shared right Bᵀ", { [s([2, 3, 4], 1), s([2, 4], 2)] }) {
    Tensor.matmul($0[0], $0[1], transposeB: true)
  },
  Case("linear with bias", { [s([5, 3], 1), s([4, 3], 2), s([4], 3)] }) {
    Tensor.linear($0[0], weight: $0[1], bias: $0[2])
  },
  Case("linear 3D input, no bias", { [s([2, 3, 3], 1), s([4, 3], 2)] }) {
    Tensor.linear($0[0], weight: $0[1], bias: nil)
  },
]

let shapeCases: [Case] = [
  Case("reshape", { [s([2, 6], 1)] }) { $0[0].reshaped([3, -1]) * s([3, 4], 9) },
  Case("flattened", { [s([2, 3], 1)] }) { $0[0].flattened() * s([6], 9) },
  Case("unsqueeze + squeeze", { [s([2, 3], 1)] }) {
    $0[0].unsqueezed(axis: 1).squeezed(axis: 1).exp()
  },
  Case("broadcast(to:)", { [s([3, 1], 1)] }) { $0[0].broadcast(to: [2, 3, 4]) },
  Case("permuted", { [s([2, 3, 4], 1)] }) { $0[0].permuted([2, 0, 1]) },
  Case("transposed", { [s([3, 5], 1)] }) { $0[0].transposed() },
  Case("transposed middle axes", { [s([2, 3, 4], 1)] }) { $0[0].transposed(0, 1) },
  Case("slice axis 1", { [s([3, 5], 1)] }) { $0[0].slice(axis: 1, 1..<4) },
  Case("slice axis 0", { [s([4, 2], 1)] }) { $0[0].slice(axis: 0, 2..<4) },
  Case("concat axis 0", { [s([2, 3], 1), s([1, 3], 2)] }) {
    Tensor.concat([$0[0], $0[1]], axis: 0)
  },
  Case("concat axis -1", { [s([2, 1], 1), s([2, 3], 2), s([2, 2], 3)] }) {
    Tensor.concat([$0[0], $0[1], $0[2]], axis: -1)
  },
  Case("stack", { [s([2, 3], 1), s([2, 3], 2)] }) { Tensor.stack([$0[0], $0[1]], axis: 1) },
  Case("indexSelect repeats", { [s([4, 3], 1)] }) { $0[0].indexSelect(axis: 0, [3, 0, 3, 1]) },
  Case("indexSelect axis 1", { [s([2, 4, 2], 1)] }) { $0[0].indexSelect(axis: 1, [2, 2, 0]) },
  Case("embedding", { [s([5, 3], 1)] }) { $0[0].embedding([4, 1, 1, 0], shape: [2, 2]) },
  Case("gatherLast", { [s([3, 4], 1)] }) { $0[0].gatherLast([3, 0, 2]) },
]

let fusedCases: [Case] = [
  Case("softmax last axis", { [s([3, 5], 1, low: -2, high: 2)] }) { $0[0].softmax() },
  Case("softmax middle axis", { [s([2, 4, 3], 1, low: -2, high: 2)] }) { $0[0].softmax(axis: 1) },
  Case("logSoftmax last axis", { [s([3, 5], 1, low: -2, high: 2)] }) { $0[0].logSoftmax() },
  Case("logSoftmax middle axis", { [s([2, 4, 3], 1, low: -2, high: 2)] }) {
    $0[0].logSoftmax(axis: 1)
  },
  Case("logProbabilities(of:)", { [s([2, 3, 4], 1, low: -2, high: 2)] }) {
    $0[0].logProbabilities(of: [0, 3, 1, 2, 2, 0])
  },
  Case("crossEntropy", { [s([4, 3], 1, low: -2, high: 2)] }) {
    $0[0].crossEntropy(targets: [0, 2, 1, 1])
  },
  Case("layerNorm weight+bias", { [s([3, 5], 1), s([5], 2), s([5], 3)] }) {
    $0[0].layerNorm(weight: $0[1], bias: $0[2])
  },
  Case("layerNorm no affine", { [s([2, 2, 4], 1)] }) { $0[0].layerNorm(weight: nil, bias: nil) },
  Case("dropout", { [s([4, 5], 1)] }) { x in
    var rng = RandomState(seed: 3)
    return x[0].dropout(0.3, rng: &rng)
  },
]

@Test(arguments: elementwiseCases) func elementwiseGradients(_ c: Case) {
  let report = checkGradients(c.inputs(), c.f)
  #expect(report.passed, "\(c.name): \(report)")
}

@Test(arguments: reductionCases) func reductionGradients(_ c: Case) {
  let report = checkGradients(c.inputs(), c.f)
  #expect(report.passed, "\(c.name): \(report)")
}

@Test(arguments: matmulCases) func matmulGradients(_ c: Case) {
  let report = checkGradients(c.inputs(), c.f)
  #expect(report.passed, "\(c.name): \(report)")
}

@Test(arguments: shapeCases) func shapeGradients(_ c: Case) {
  let report = checkGradients(c.inputs(), c.f)
  #expect(report.passed, "\(c.name): \(report)")
}

@Test(arguments: fusedCases) func fusedGradients(_ c: Case) {
  let report = checkGradients(c.inputs(), c.f)
  #expect(report.passed, "\(c.name): \(report)")
}

@Test func dropoutGradientIsItsMask() {
  let x = Tensor.ones([100], requiresGrad: true)
  var rng = RandomState(seed: 5)
  let y = x.dropout(0.25, rng: &rng)
  y.sum().backward()
  #expect(x.grad!.scalars == y.scalars)  // the output of ones is the mask itself
  let kept = y.scalars.filter { $0 != 0 }
  #expect(kept.allSatisfy { abs($0 - 4.0 / 3.0) < 1e-6 })
  #expect(kept.count > 60 && kept.count < 90)
}
