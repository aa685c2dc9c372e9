import TensorCore
import TestSupport
import Testing

// Forward values against numbers computed by hand.

@Test func broadcastingArithmetic() {
  let a = Tensor([1, 2, 3], shape: [3, 1])
  let b = Tensor([10, 20], shape: [1, 2])
  #expect((a + b).shape == [3, 2])
  #expect((a + b).scalars == [11, 21, 12, 22, 13, 23])
  #expect((a * b).scalars == [10, 20, 20, 40, 30, 60])
  #expect((b - a).scalars == [9, 19, 8, 18, 7, 17])
  #expect((Tensor([6, 8]) / 2).scalars == [3, 4])
  #expect((1 - Tensor([0.25])).scalars == [0.75])
}

@Test func unaryFunctions() {
  let x = Tensor([-2, -0.5, 0, 0.5, 2])
  #expect(x.relu().scalars == [0, 0, 0, 0.5, 2])
  #expect(x.abs().scalars == [2, 0.5, 0, 0.5, 2])
  #expect(x.clamp(min: -1, max: 1).scalars == [-1, -0.5, 0, 0.5, 1])
  #expect(x.leakyRelu(slope: 0.1).scalars == [-0.2, -0.05, 0, 0.5, 2])
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
  #expect(isClose(Tensor([4, 9]).sqrt().scalars, [2, 3]))
  #expect(isClose(Tensor([2, 3]).pow(3).scalars, [8, 27]))
  #expect(isClose(Tensor([1, 2.718_281_8]).log().scalars, [0, 1], atol: 1e-6))
}

@Test func fastExpIsAccurateAcrossTheFloatRange() {
  // Compared with Double-precision exp over [-87, 88] and at the saturation edges.
  var worst: Double = 0
  var x: Float = -87
  while x < 88 {
    let got = Double(Tensor([x]).exp().item)
    let want = Foundation_exp(Double(x))
    worst = max(worst, abs(got - want) / want)
    x += 0.173
  }
  #expect(worst < 4e-7, "worst relative error \(worst)")
  #expect(
    Tensor([-.infinity, -200, 200, .infinity]).exp().scalars == [0, 0, .infinity, .infinity])
  #expect(Tensor([Float.nan]).exp().item.isNaN)
}

@Test func reductions() {
  let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
  #expect(x.sum().scalars == [21])
  #expect(x.sum(axis: 0).scalars == [5, 7, 9])
  #expect(x.sum(axis: 1, keepDims: true).shape == [2, 1])
  #expect(x.mean(axis: 1).scalars == [2, 5])
  #expect(x.max(axis: 0).scalars == [4, 5, 6])
  #expect(x.min(axis: 1).scalars == [1, 4])
  #expect(isClose(x.logSumExp(axis: 1).scalars, [3.407_605_9, 6.407_606], atol: 1e-5))
  // Large values stay finite and exact.
  #expect(isClose(Tensor([1000, 1000]).logSumExp(axis: 0).scalars, [1000.693_15], atol: 1e-3))
}

@Test func softmaxFamily() {
  let x = Tensor([1, 2, 3])
  #expect(isClose(x.softmax().scalars, [0.090_030_57, 0.244_728_47, 0.665_240_9], atol: 1e-7))
  #expect(isClose(x.logSoftmax().scalars, [-2.407_606, -1.407_606, -0.407_606], atol: 1e-6))
  let big = Tensor([1000, 1001, 1002])
  #expect(isClose(big.softmax().scalars, [0.090_030_57, 0.244_728_47, 0.665_240_9], atol: 1e-6))
  #expect(isClose(big.logSoftmax().scalars, [-2.407_606, -1.407_606, -0.407_606], atol: 1e-4))
  let logits = Tensor([1, 2, 3, 3, 2, 1], shape: [2, 3])
  #expect(
    isClose(logits.logProbabilities(of: [2, 0]).scalars, [-0.407_606, -0.407_606], atol: 1e-6))
  #expect(
    isClose(
      logits.crossEntropy(targets: [0, 0]).scalars, [(2.407_606 + 0.407_606) / 2], atol: 1e-6))
  // Softmax along axis 0 of a column pair.
  #expect(
    isClose(
      Tensor([0, 0, 1, 1], shape: [2, 2]).softmax(axis: 0).scalars,
      [0.268_941_4, 0.268_941_4, 0.731_058_6, 0.731_058_6], atol: 1e-6))
}

@Test func layerNormOfARow() {
  // mean 2.5, biased variance 1.25.
  let y = Tensor([1, 2, 3, 4], shape: [1, 4]).layerNorm(
    weight: Tensor([1, 1, 2, 2]), bias: Tensor([0, 0, 0, 1]), eps: 0)
  let r = Float(1 / 1.25.squareRoot())
  #expect(isClose(y.scalars, [-1.5 * r, -0.5 * r, 2 * 0.5 * r, 2 * 1.5 * r + 1], atol: 1e-6))
}

@Test func matrixProducts() {
  let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
  let b = Tensor([7, 8, 9, 10, 11, 12], shape: [3, 2])
  #expect(Tensor.matmul(a, b).scalars == [58, 64, 139, 154])
  #expect(Tensor.matmul(a, a, transposeB: true).scalars == [14, 32, 32, 77])
  #expect(Tensor.matmul(a, a, transposeA: true).shape == [3, 3])
  #expect(Tensor.matmul(a, a, transposeA: true).scalars == [17, 22, 27, 22, 29, 36, 27, 36, 45])
  let batch = Tensor.stack([a, 2 * a])
  #expect(Tensor.matmul(batch, b).scalars == [58, 64, 139, 154, 116, 128, 278, 308])
  let y = Tensor.linear(
    a, weight: Tensor([1, 0, 0, 0, 1, 0], shape: [2, 3]), bias: Tensor([0.5, -0.5]))
  #expect(y.scalars == [1.5, 1.5, 4.5, 4.5])
}

@Test func movingElements() {
  let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
  #expect(x.transposed().scalars == [1, 4, 2, 5, 3, 6])
  #expect(x.reshaped([3, -1]).shape == [3, 2])
  #expect(x.slice(axis: 1, 1..<3).scalars == [2, 3, 5, 6])
  #expect(
    Tensor.concat([x, x.slice(axis: 0, 0..<1)], axis: 0).scalars == [1, 2, 3, 4, 5, 6, 1, 2, 3])
  #expect(Tensor.stack([Tensor([1, 2]), Tensor([3, 4])], axis: 1).scalars == [1, 3, 2, 4])
  #expect(x.indexSelect(axis: 1, [2, 0]).scalars == [3, 1, 6, 4])
  #expect(x.gatherLast([2, 0]).scalars == [3, 4])
  #expect(x.embedding([1, 1, 0], shape: [3]).shape == [3, 3])
  #expect(Tensor([1, 2], shape: [2, 1]).broadcast(to: [2, 3]).scalars == [1, 1, 1, 2, 2, 2])
  #expect(Tensor.zeros([2, 3, 4]).permuted([2, 0, 1]).shape == [4, 2, 3])
  #expect(Tensor.oneHot([2, 0], classes: 3).scalars == [0, 0, 1, 1, 0, 0])
  #expect(Tensor.arange(4).scalars == [0, 1, 2, 3])
  #expect(Tensor([5, 1, 5]).maskedFill(Tensor([1, 0, 0]), -1).scalars == [-1, 1, 5])
}
