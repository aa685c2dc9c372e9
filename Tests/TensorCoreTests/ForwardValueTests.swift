import Foundation
import TensorCore
import TestSupport
import Testing

// Forward values against numbers computed by hand (or, for transcendental functions,
// in Double precision), one representative case per op family.

@Test func broadcastingArithmetic() {
  let a = Tensor([1, 2, 3], shape: [3, 1])
  let b = Tensor([10, 20], shape: [1, 2])
  #expect((a + b).shape == [3, 2])
  #expect((a + b).scalars == [11, 21, 12, 22, 13, 23])
  #expect((a * b).scalars == [10, 20, 20, 40, 30, 60])
  #expect((b - a).scalars == [9, 19, 8, 18, 7, 17])
  let (tenThirds, twentyThirds): (Float, Float) = (10.0 / 3, 20.0 / 3)
  #expect((b / a).scalars == [10, 20, 5, 10, tenThirds, twentyThirds])
  // [2,1,2] with [3,1] broadcasts to [2,3,2].
  let c = Tensor([1, 2, 3, 4], shape: [2, 1, 2])
  let d = Tensor([0, 10, 20], shape: [3, 1])
  #expect((c + d).shape == [2, 3, 2])
  #expect((c + d).scalars == [1, 2, 11, 12, 21, 22, 3, 4, 13, 14, 23, 24])
  // A trailing vector against a rank-3 tensor.
  let e = Tensor([1, 2, 3, 4, 5, 6, 7, 8], shape: [2, 2, 2])
  #expect((e - Tensor([1, 2])).scalars == [0, 0, 2, 2, 4, 4, 6, 6])
  // Rank-0 operands.
  let scalar = Tensor(scalar: 2)
  #expect((scalar * Tensor([1, 2, 3])).scalars == [2, 4, 6])
  #expect((scalar + Tensor(scalar: 3)).shape == [])
  #expect((scalar + Tensor(scalar: 3)).item == 5)
}

@Test func scalarOverloads() {
  let x = Tensor([1, 2, 4])
  #expect((x + 1).scalars == [2, 3, 5])
  #expect((1 + x).scalars == [2, 3, 5])
  #expect((x - 1).scalars == [0, 1, 3])
  #expect((1 - x).scalars == [0, -1, -3])
  #expect((x * 3).scalars == [3, 6, 12])
  #expect((3 * x).scalars == [3, 6, 12])
  #expect((x / 2).scalars == [0.5, 1, 2])
  #expect((4 / x).scalars == [4, 2, 1])
  #expect((-x).scalars == [-1, -2, -4])
}

@Test func unaryFunctions() {
  let x = Tensor([-2, -0.5, 0, 0.5, 2])
  #expect(x.relu().scalars == [0, 0, 0, 0.5, 2])
  #expect(x.abs().scalars == [2, 0.5, 0, 0.5, 2])
  #expect(x.clamp(min: -1, max: 1).scalars == [-1, -0.5, 0, 0.5, 1])
  #expect(x.clamp(min: 0).scalars == [0, 0, 0, 0.5, 2])
  #expect(x.clamp(max: 0).scalars == [-2, -0.5, 0, 0, 0])
  #expect(x.leakyRelu(slope: 0.1).scalars == [-0.2, -0.05, 0, 0.5, 2])
  #expect(x.square().scalars == [4, 0.25, 0, 0.25, 4])
  #expect(
    isClose(
      x.exp().scalars, [0.135_335_28, 0.606_530_66, 1, 1.648_721_3, 7.389_056], atol: 0, rtol: 2e-7)
  )
  #expect(
    isClose(
      x.tanh().scalars, [-0.964_027_6, -0.462_117_16, 0, 0.462_117_16, 0.964_027_6], atol: 1e-7,
      rtol: 1e-6))
  #expect(
    isClose(
      x.sigmoid().scalars, [0.119_202_92, 0.377_540_67, 0.5, 0.622_459_3, 0.880_797_1], atol: 1e-7,
      rtol: 1e-6))
  // PyTorch: gelu(x, approximate="tanh") at these points.
  #expect(
    isClose(
      x.gelu().scalars, [-0.045_402_3, -0.154_285_99, 0, 0.345_714, 1.954_597_7], atol: 1e-6,
      rtol: 1e-5))
  #expect(isClose(Tensor([-3, 1, 3]).gelu().scalars, [-0.003_637_39, 0.841_192, 2.996_362_6]))
  #expect(isClose(Tensor([4, 9]).sqrt().scalars, [2, 3]))
  #expect(isClose(Tensor([2, 3]).pow(3).scalars, [8, 27]))
  #expect(isClose(Tensor([4, 0.25]).pow(-0.5).scalars, [0.5, 2]))
  #expect(Tensor([0, 5]).pow(0).scalars == [1, 1])
  #expect(isClose(Tensor([1, 2.718_281_8]).log().scalars, [0, 1], atol: 1e-6))
}

@Test func extremeInputsSaturateWithoutNaN() {
  #expect(Tensor([-100, 100]).sigmoid().scalars == [0, 1])
  #expect(Tensor([-.infinity, .infinity]).sigmoid().scalars == [0, 1])
  #expect(Tensor([-30, 30]).tanh().scalars == [-1, 1])
  #expect(
    Tensor([-.infinity, -200, 200, .infinity]).exp().scalars == [0, 0, .infinity, .infinity])
  #expect(Tensor([Float.nan]).exp().item.isNaN)
  #expect(Tensor([Float.nan]).tanh().item.isNaN)
  #expect(Tensor([0]).log().item == -.infinity)
  let gelu = Tensor([-20, -10, 20]).gelu().scalars
  #expect(gelu.allSatisfy { !$0.isNaN })
  #expect(abs(gelu[0]) < 1e-30 && abs(gelu[1]) < 1e-30 && gelu[2] == 20)
}

@Test func fastExpIsAccurateAcrossTheFloatRange() {
  // Relative error against Double-precision exp over [-87, 88].
  var worst: Double = 0
  var x: Float = -87
  while x < 88 {
    let got = Double(Tensor([x]).exp().item)
    let want = Foundation.exp(Double(x))
    worst = max(worst, abs(got - want) / want)
    x += 0.173
  }
  #expect(worst < 4e-7, "worst relative error \(worst)")
}

@Test func tanhSigmoidAndGeluAreAccurate() {
  // Against Double-precision formulas on a fine grid over [-12, 12], including the
  // switch between tanh's series and its exponential form at |x| = 0.04.
  var tanhError = 0.0
  var sigmoidError = 0.0
  var geluError = 0.0
  let grid = (0..<6000).map { Float(-12 + 0.004 * Double($0)) }
  let t = Tensor(grid)
  let (tanh, sigmoid, gelu) = (t.tanh().scalars, t.sigmoid().scalars, t.gelu().scalars)
  for (i, x) in grid.enumerated() {
    let xd = Double(x)
    tanhError = max(tanhError, abs(Double(tanh[i]) - Foundation.tanh(xd)))
    let sig = 1 / (1 + Foundation.exp(-xd))
    sigmoidError = max(sigmoidError, abs(Double(sigmoid[i]) - sig) / sig)
    let g =
      0.5 * xd * (1 + Foundation.tanh(0.797_884_560_802_865_4 * (xd + 0.044715 * xd * xd * xd)))
    geluError = max(geluError, abs(Double(gelu[i]) - g))
  }
  #expect(tanhError < 3e-7, "tanh absolute error \(tanhError)")
  #expect(sigmoidError < 5e-7, "sigmoid relative error \(sigmoidError)")
  #expect(geluError < 2e-6, "gelu absolute error \(geluError)")
}

@Test func selectionOps() {
  let a = Tensor([1, -2, 3])
  let b = Tensor([0.5, 0.5, 4])
  #expect(Tensor.maximum(a, b).scalars == [1, 0.5, 4])
  #expect(Tensor.minimum(a, b).scalars == [0.5, -2, 3])
  #expect(Tensor.minimum(a, Tensor(scalar: 0)).scalars == [0, -2, 0])
  let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
  let chosen = Tensor.where(Tensor([1, 0], shape: [2, 1]), x, Tensor(scalar: -1))
  #expect(chosen.scalars == [1, 2, 3, -1, -1, -1])
  #expect(Tensor.where(Tensor([0, 1, 0]), x, Tensor([7, 8, 9])).scalars == [7, 2, 9, 7, 5, 9])
  #expect(Tensor([5, 1, 5]).maskedFill(Tensor([1, 0, 0]), -1).scalars == [-1, 1, 5])
  #expect(x.maskedFill(Tensor([0, 1, 0], shape: [1, 3]), 0).scalars == [1, 0, 3, 4, 0, 6])
  #expect(a.isGreater(than: Tensor(scalar: 0)).scalars == [1, 0, 1])
  #expect(a.isEqual(to: Tensor([1, 2, 3])).scalars == [1, 0, 1])
}

@Test func reductions() {
  let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
  #expect(x.sum().shape == [])
  #expect(x.sum().scalars == [21])
  #expect(x.sum(axis: 0).scalars == [5, 7, 9])
  #expect(x.sum(axis: 1, keepDims: true).shape == [2, 1])
  #expect(x.sum(axis: 1, keepDims: true).scalars == [6, 15])
  #expect(x.sum(keepDims: true).shape == [1, 1])
  #expect(x.mean(axis: 1).scalars == [2, 5])
  #expect(x.mean().item == 3.5)
  #expect(x.max(axis: 0).scalars == [4, 5, 6])
  #expect(x.max().item == 6)
  #expect(x.min(axis: 1).scalars == [1, 4])
  #expect(x.min(axis: -1, keepDims: true).shape == [2, 1])
  #expect(isClose(x.logSumExp(axis: 1).scalars, [3.407_605_9, 6.407_606], atol: 1e-5))
  // Several axes of a [2,3,2] tensor holding 0…11.
  let y = Tensor((0..<12).map(Float.init), shape: [2, 3, 2])
  #expect(y.sum(axes: [0, 2]).scalars == [14, 22, 30])
  #expect(y.mean(axes: [0, 2], keepDims: true).shape == [1, 3, 1])
  #expect(y.mean(axes: [0, 2], keepDims: true).scalars == [3.5, 5.5, 7.5])
  #expect(y.max(axes: [1, 2]).scalars == [5, 11])
  #expect(y.min(axes: [0, 1]).scalars == [0, 1])
  #expect(y.sum(axes: [-1, 0]).scalars == [14, 22, 30])
  // A rank-0 tensor reduces to itself.
  #expect(Tensor(scalar: 3).sum().item == 3)
  #expect(Tensor(scalar: 3).logSumExp().item == 3)
  // Mixed values; log(e^0.5 + e^-1.5 + e^2).
  #expect(isClose(Tensor([0.5, -1.5, 2]).logSumExp().scalars, [2.225_802], atol: 1e-6))
}

@Test func logSumExpIsStableForLargeAndInfiniteValues() {
  #expect(isClose(Tensor([1000, 1000]).logSumExp(axis: 0).scalars, [1000.693_15], atol: 1e-3))
  #expect(isClose(Tensor([1000, 1001, 1002]).logSumExp().scalars, [1002.407_6], atol: 1e-3))
  #expect(isClose(Tensor([-1000, -1000]).logSumExp().scalars, [-999.306_85], atol: 1e-3))
  #expect(Tensor([0, -.infinity]).logSumExp().item == 0)
  #expect(Tensor([-.infinity, -.infinity]).logSumExp().item == -.infinity)
}

@Test func softmaxFamily() {
  let x = Tensor([1, 2, 3])
  #expect(isClose(x.softmax().scalars, [0.090_030_57, 0.244_728_47, 0.665_240_9], atol: 1e-7))
  #expect(isClose(x.logSoftmax().scalars, [-2.407_606, -1.407_606, -0.407_606], atol: 1e-6))
  let big = Tensor([1000, 1001, 1002])
  #expect(isClose(big.softmax().scalars, [0.090_030_57, 0.244_728_47, 0.665_240_9], atol: 1e-6))
  #expect(isClose(big.logSoftmax().scalars, [-2.407_606, -1.407_606, -0.407_606], atol: 1e-4))
  #expect(isClose(Tensor([-1000, 0, 1000]).softmax().scalars, [0, 0, 1]))
  #expect(Tensor([-1000, 0, 1000]).logSoftmax().scalars == [-2000, -1000, 0])
  // Masked (−∞) entries get probability 0.
  #expect(isClose(Tensor([0, -.infinity, 0]).softmax().scalars, [0.5, 0, 0.5]))
  let logits = Tensor([1, 2, 3, 3, 2, 1], shape: [2, 3])
  #expect(
    isClose(logits.logProbabilities(of: [2, 0]).scalars, [-0.407_606, -0.407_606], atol: 1e-6))
  #expect(
    isClose(
      logits.crossEntropy(targets: [0, 0]).scalars, [(2.407_606 + 0.407_606) / 2], atol: 1e-6))
  #expect(isClose(Tensor([2, 0, -1]).crossEntropy(targets: [1]).scalars, [2.169_846], atol: 1e-6))
  #expect(
    isClose(
      Tensor([1000, 1001, 1002]).logProbabilities(of: [0]).scalars, [-2.407_606], atol: 1e-4))
  // Softmax along axis 0 of a column pair, and along the middle axis of a [1,2,2].
  #expect(
    isClose(
      Tensor([0, 0, 1, 1], shape: [2, 2]).softmax(axis: 0).scalars,
      [0.268_941_4, 0.268_941_4, 0.731_058_6, 0.731_058_6], atol: 1e-6))
  #expect(
    isClose(
      Tensor([0, 1, 1, 1], shape: [1, 2, 2]).logSoftmax(axis: 1).scalars,
      [-1.313_261_7, -0.693_147_2, -0.313_261_7, -0.693_147_2], atol: 1e-6))
}

@Test func layerNormOfARow() {
  // mean 2.5, biased variance 1.25.
  let y = Tensor([1, 2, 3, 4], shape: [1, 4]).layerNorm(
    weight: Tensor([1, 1, 2, 2]), bias: Tensor([0, 0, 0, 1]), eps: 0)
  let r = Float(1 / 1.25.squareRoot())
  #expect(isClose(y.scalars, [-1.5 * r, -0.5 * r, 2 * 0.5 * r, 2 * 1.5 * r + 1], atol: 1e-6))
  // Default eps 1e-5, no affine parameters, two rows; a constant row normalises to zeros.
  let z = Tensor([1, 2, 3, 4, 7, 7, 7, 7], shape: [2, 4]).layerNorm(weight: nil, bias: nil)
  #expect(
    isClose(
      z.scalars, [-1.341_635_4, -0.447_211_8, 0.447_211_8, 1.341_635_4, 0, 0, 0, 0], atol: 1e-6))
  let biasOnly = Tensor([3, 1, 2]).layerNorm(weight: nil, bias: Tensor([1, 1, 1]))
  #expect(isClose(biasOnly.scalars, [2.224_735_7, -0.224_735_7, 1], atol: 1e-5))
}

@Test func matrixProducts() {
  let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
  let b = Tensor([7, 8, 9, 10, 11, 12], shape: [3, 2])
  #expect(Tensor.matmul(a, b).scalars == [58, 64, 139, 154])
  #expect(Tensor.matmul(a, a, transposeB: true).scalars == [14, 32, 32, 77])
  #expect(Tensor.matmul(a, a, transposeA: true).shape == [3, 3])
  #expect(Tensor.matmul(a, a, transposeA: true).scalars == [17, 22, 27, 22, 29, 36, 27, 36, 45])
  // Aᵀ·Bᵀ with A [3,2] and B [2,3].
  let c = Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2])
  let d = Tensor([1, 0, 2, 0, 1, -1], shape: [2, 3])
  #expect(Tensor.matmul(c, d, transposeA: true, transposeB: true).scalars == [11, -2, 14, -2])
  // Batched left with a shared right operand.
  let batch = Tensor.stack([a, 2 * a])
  #expect(Tensor.matmul(batch, b).shape == [2, 2, 2])
  #expect(Tensor.matmul(batch, b).scalars == [58, 64, 139, 154, 116, 128, 278, 308])
  // Shared left with a batched right operand.
  let left = Tensor([1, 2, 3, 4], shape: [2, 2])
  let right = Tensor((1...8).map(Float.init), shape: [2, 2, 2])
  #expect(Tensor.matmul(left, right).scalars == [7, 10, 15, 22, 19, 22, 43, 50])
  // Batched on both sides, 4D: two [1,2,2] batches of identity and a swap.
  let eye = Tensor([1, 0, 0, 1], shape: [2, 2])
  let swap = Tensor([0, 1, 1, 0], shape: [2, 2])
  let lhs = Tensor.stack([eye, swap]).reshaped([2, 1, 2, 2])
  let rhs = Tensor.stack([left, left]).reshaped([2, 1, 2, 2])
  #expect(Tensor.matmul(lhs, rhs).shape == [2, 1, 2, 2])
  #expect(Tensor.matmul(lhs, rhs).scalars == [1, 2, 3, 4, 3, 4, 1, 2])
  // linear: x·Wᵀ + b, on a 3D input.
  let y = Tensor.linear(
    a, weight: Tensor([1, 0, 0, 0, 1, 0], shape: [2, 3]), bias: Tensor([0.5, -0.5]))
  #expect(y.scalars == [1.5, 1.5, 4.5, 4.5])
  let x3 = Tensor((1...8).map(Float.init), shape: [2, 2, 2])
  let y3 = Tensor.linear(x3, weight: Tensor([1, -1, 2, 0, 0, 1], shape: [3, 2]), bias: nil)
  #expect(y3.shape == [2, 2, 3])
  #expect(y3.scalars == [-1, 2, 2, -1, 6, 4, -1, 10, 6, -1, 14, 8])
}

@Test func movingElements() {
  let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
  #expect(x.transposed().scalars == [1, 4, 2, 5, 3, 6])
  #expect(x.reshaped([3, -1]).shape == [3, 2])
  #expect(x.reshaped([3, -1]).scalars == x.scalars)
  #expect(x.flattened().shape == [6])
  #expect(x.unsqueezed(axis: 0).shape == [1, 2, 3])
  #expect(x.unsqueezed(axis: -1).shape == [2, 3, 1])
  #expect(x.unsqueezed(axis: 1).squeezed(axis: 1).shape == [2, 3])
  #expect(Tensor(scalar: 4).reshaped([1, 1]).scalars == [4])
  #expect(x.slice(axis: 1, 1..<3).scalars == [2, 3, 5, 6])
  #expect(x.slice(axis: 0, 1..<2).scalars == [4, 5, 6])
  #expect(
    Tensor.concat([x, x.slice(axis: 0, 0..<1)], axis: 0).scalars == [1, 2, 3, 4, 5, 6, 1, 2, 3])
  #expect(
    Tensor.concat([x, Tensor([7, 8], shape: [2, 1])], axis: 1).scalars
      == [1, 2, 3, 7, 4, 5, 6, 8])
  #expect(Tensor.stack([Tensor([1, 2]), Tensor([3, 4])]).scalars == [1, 2, 3, 4])
  #expect(Tensor.stack([Tensor([1, 2]), Tensor([3, 4])], axis: 1).scalars == [1, 3, 2, 4])
  #expect(Tensor.stack([Tensor([1, 2]), Tensor([3, 4])], axis: 1).shape == [2, 2])
  #expect(x.indexSelect(axis: 1, [2, 0]).scalars == [3, 1, 6, 4])
  #expect(x.indexSelect(axis: 0, [1, 1, 0]).scalars == [4, 5, 6, 4, 5, 6, 1, 2, 3])
  #expect(x.gatherLast([2, 0]).scalars == [3, 4])
  let table = Tensor([0, 1, 10, 11, 20, 21], shape: [3, 2])
  let rows = table.embedding([2, 0, 2, 1], shape: [2, 2])
  #expect(rows.shape == [2, 2, 2])
  #expect(rows.scalars == [20, 21, 0, 1, 20, 21, 10, 11])
  #expect(Tensor([1, 2], shape: [2, 1]).broadcast(to: [2, 3]).scalars == [1, 1, 1, 2, 2, 2])
  #expect(Tensor(scalar: 7).broadcast(to: [2, 2]).scalars == [7, 7, 7, 7])
  // permuted([2, 0, 1]) of 0…23 shaped [2,3,4]: element [i, j, k] is x[j, k, i].
  let p = Tensor((0..<24).map(Float.init), shape: [2, 3, 4]).permuted([2, 0, 1])
  #expect(p.shape == [4, 2, 3])
  #expect(Array(p.scalars.prefix(8)) == [0, 4, 8, 12, 16, 20, 1, 5])
  #expect(
    Tensor((0..<6).map(Float.init), shape: [1, 2, 3]).transposed(0, 2).scalars == [
      0, 3, 1, 4, 2, 5,
    ])
}

@Test func creation() {
  #expect(Tensor.full([2, 2], 3).scalars == [3, 3, 3, 3])
  #expect(Tensor.zeros([3]).scalars == [0, 0, 0])
  #expect(Tensor.ones([2, 1]).scalars == [1, 1])
  #expect(Tensor.zeros(like: Tensor.ones([2, 3])).shape == [2, 3])
  #expect(Tensor.arange(4).scalars == [0, 1, 2, 3])
  #expect(Tensor.arange(1, 2, step: 0.25).scalars == [1, 1.25, 1.5, 1.75])
  #expect(Tensor.arange(3, 0, step: -1).scalars == [3, 2, 1])
  #expect(Tensor.oneHot([2, 0], classes: 3).scalars == [0, 0, 1, 1, 0, 0])
  #expect(Tensor.oneHot([1, 0, 1, 1], classes: 2, shape: [2, 2]).shape == [2, 2, 2])
  #expect(Tensor(scalar: 5).shape == [])
  #expect(Tensor(scalar: 5).count == 1)
  #expect(Tensor([Float](), shape: [0]).scalars == [])
  #expect(Tensor([1, 2, 3, 4], shape: [2, 2]).rank == 2)
  let copy = Tensor([1, 2]).copy()
  #expect(copy.scalars == [1, 2] && copy.isLeaf && !copy.requiresGrad)
}

@Test func dropoutStatistics() {
  var rng = RandomState(seed: 11)
  let x = Tensor.ones([10_000])
  #expect(x.dropout(0, rng: &rng) === x)
  let y = x.dropout(0.4, rng: &rng).scalars
  let dropped = Double(y.filter { $0 == 0 }.count) / 10_000
  #expect(abs(dropped - 0.4) < 0.025)  // standard deviation 0.005
  #expect(y.allSatisfy { $0 == 0 || abs($0 - 1 / 0.6) < 1e-6 })
}
