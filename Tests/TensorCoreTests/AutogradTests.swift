import TestSupport
import Testing

@testable import TensorCore

// Autograd semantics, each against gradients worked out by hand.

@Test func fanOutAccumulates() {
  let x = Tensor([3, -1], requiresGrad: true)
  (x * x + x).sum().backward()  // d/dx (x² + x) = 2x + 1
  #expect(x.grad!.scalars == [7, -1])
}

@Test func fanOutThroughADiamond() {
  // h = 2x feeds two branches: L = Σ (h·h + 3h) → dL/dx = 2·(2h + 3) = 8x + 6.
  let x = Tensor([1, -2], requiresGrad: true)
  let h = x * 2
  (h * h + h * 3).sum().backward()
  #expect(x.grad!.scalars == [14, -10])
}

@Test func backwardTwiceAccumulatesIntoGrad() {
  let x = Tensor([1, 2], requiresGrad: true)
  (x * 3).sum().backward()
  (x * 3).sum().backward()
  #expect(x.grad!.scalars == [6, 6])
  // Calling backward() again on the same graph adds once more.
  let loss = (x * x).sum()
  loss.backward()
  loss.backward()
  #expect(x.grad!.scalars == [10, 14])  // 6 + 2x
}

@Test func backwardOnALeafScalar() {
  let x = Tensor(scalar: 5, requiresGrad: true)
  x.backward()
  #expect(x.grad!.shape == [])
  #expect(x.grad!.scalars == [1])
}

@Test func unusedInputsGetNoGradientAndZerosOnRequest() {
  let used = Tensor([1, 2], requiresGrad: true)
  let unused = Tensor([5, 6, 7], shape: [3, 1], requiresGrad: true)
  let loss = (used * used).sum()
  loss.backward()
  #expect(used.grad!.scalars == [2, 4])
  #expect(unused.grad == nil)
  let grads = loss.gradients(wrt: [used, unused])
  #expect(grads[0].scalars == [2, 4])
  #expect(grads[1].shape == [3, 1])
  #expect(grads[1].scalars == [0, 0, 0])
}

@Test func inputsThatDoNotRequireGradientsAreSkipped() {
  let constant = Tensor([1, 2])
  let x = Tensor([3, 4], requiresGrad: true)
  (constant * x).sum().backward()
  #expect(constant.grad == nil)
  #expect(x.grad!.scalars == [1, 2])
  // An op on constants only records nothing.
  let y = constant * constant
  #expect(!y.requiresGrad && y.opName == nil && y.isLeaf)
}

@Test func broadcastGradientsAreSummedBack() {
  // a [3,1] + b [1,4]: every element of a is used 4 times, of b 3 times.
  let a = Tensor([1, 2, 3], shape: [3, 1], requiresGrad: true)
  let b = Tensor([10, 20, 30, 40], shape: [1, 4], requiresGrad: true)
  (a + b).sum().backward()
  #expect(a.grad!.shape == [3, 1])
  #expect(a.grad!.scalars == [4, 4, 4])
  #expect(b.grad!.shape == [1, 4])
  #expect(b.grad!.scalars == [3, 3, 3, 3])
  // With a product the sums carry the other operand: dL/da = Σ b, dL/db = Σ a.
  let c = Tensor([1, 2, 3], shape: [3, 1], requiresGrad: true)
  let d = Tensor([10, 20, 30, 40], shape: [1, 4], requiresGrad: true)
  (c * d).sum().backward()
  #expect(c.grad!.scalars == [100, 100, 100])
  #expect(d.grad!.scalars == [6, 6, 6, 6])
  // A rank-0 operand receives the sum over everything; weighted by position here.
  let s = Tensor(scalar: 2, requiresGrad: true)
  let w = Tensor([1, 2, 3, 4], shape: [2, 2])
  ((s * w) * w).sum().backward()  // d/ds Σ s·w² = Σ w² = 30
  #expect(s.grad!.shape == [])
  #expect(s.grad!.scalars == [30])
}

@Test func withoutGradBuildsNoGraph() {
  let x = Tensor([1, 2], requiresGrad: true)
  let y = withoutGrad { (x * x).exp().sum() }
  #expect(!y.requiresGrad)
  #expect(y.opName == nil)
  #expect(y.isLeaf)
  #expect(withoutGrad { GradMode.isEnabled } == false)
  #expect(GradMode.isEnabled)
  let z = (x * x).sum()
  #expect(z.requiresGrad)
  #expect(z.opName == "sum")
  #expect(!z.isLeaf)
  #expect(Tensor.matmul(x.reshaped([1, 2]), x.reshaped([2, 1])).opName == "matmul")
  #expect((x + x).opName == "add")
  #expect(x.softmax().opName == "softmax")
}

@Test func detachedStopsGradients() {
  let x = Tensor([2, 3], requiresGrad: true)
  let y = (x * x.detached()).sum()  // the second factor is a constant
  y.backward()
  #expect(x.grad!.scalars == [2, 3])
  let h = x * 4
  let cut = h.detached()
  #expect(cut.isLeaf && !cut.requiresGrad && cut.opName == nil)
  #expect(cut.scalars == [8, 12])
  // detached() shares storage; copy() does not.
  let leaf = Tensor([1, 2])
  let shared = leaf.detached()
  let copied = leaf.copy()
  leaf.assign([5, 6])
  #expect(shared.scalars == [5, 6])
  #expect(copied.scalars == [1, 2])
}

@Test func gradientsWrtLeavesGradUntouchedAndReachesIntermediates() {
  let x = Tensor([1, 2], requiresGrad: true)
  (x * 10).sum().backward()
  #expect(x.grad!.scalars == [10, 10])
  let h = x * 2
  let loss = (h * h).sum()  // dL/dh = 2h = [4, 8]; dL/dx = 4h = [8, 16]
  let grads = loss.gradients(wrt: [h, x])
  #expect(grads[0].scalars == [4, 8])
  #expect(grads[1].scalars == [8, 16])
  #expect(x.grad!.scalars == [10, 10])  // unchanged by gradients(wrt:)
  #expect(h.grad == nil)
  // Twice gives the same answer: nothing accumulates between calls.
  #expect(loss.gradients(wrt: [x])[0].scalars == [8, 16])
  #expect(loss.gradients(wrt: [loss])[0].scalars == [1])
}

@Test func gradientsWrtAnIntermediateWithFanOut() {
  // u = x + 1 is used by both factors of u·exp(u): d/du = (1 + u)·e^u.
  let x = Tensor([0, 1], requiresGrad: true)
  let u = x + 1
  let loss = (u * u.exp()).sum()
  let du = loss.gradients(wrt: [u])[0]
  #expect(isClose(du.scalars, [2 * 2.718_281_8, 3 * 7.389_056], atol: 1e-5, rtol: 1e-6))
  #expect(x.grad == nil)
}

@Test func largeLogitsGiveExactGradients() {
  // At logits 1000, 1001, 1002: p = softmax = (0.0900306, 0.2447285, 0.6652410).
  let p: [Float] = [0.090_030_57, 0.244_728_47, 0.665_240_96]
  // The log-space rules form p = exp(x − lse) from the Float lse ≈ 1002.4, whose spacing is
  // 6.1e-5: x − lse may be off by half of that, so p carries a relative error up to 3e-5
  // (as in PyTorch, which uses the same rules). The fused softmax divides exp(x − max)
  // by its sum and is exact to 1e-6.
  let logTolerance: Float = 3e-5
  let x = Tensor([1000, 1001, 1002], requiresGrad: true)
  #expect(isClose(x.logSumExp().gradients(wrt: [x])[0].scalars, p, atol: logTolerance))
  // d logSoftmax[2] = e₂ − p.
  let dLog = x.logSoftmax().gatherLast([2]).gradients(wrt: [x])[0].scalars
  #expect(isClose(dLog, [-p[0], -p[1], 1 - p[2]], atol: logTolerance))
  #expect(
    isClose(
      x.logProbabilities(of: [2]).gradients(wrt: [x])[0].scalars, [-p[0], -p[1], 1 - p[2]],
      atol: logTolerance))
  // d softmax[2] = p₂·(e₂ − p).
  let dSoft = x.softmax().gatherLast([2]).gradients(wrt: [x])[0].scalars
  #expect(isClose(dSoft, [-p[2] * p[0], -p[2] * p[1], p[2] * (1 - p[2])], atol: 1e-6))
  // Cross-entropy against class 0 = −log p₀: gradient p − e₀.
  let logits = Tensor([1000, 1001, 1002], shape: [1, 3], requiresGrad: true)
  let dCE = logits.crossEntropy(targets: [0]).gradients(wrt: [logits])[0].scalars
  #expect(isClose(dCE, [p[0] - 1, p[1], p[2]], atol: logTolerance))
  // An extreme spread saturates to exact one-hot gradients with no NaN.
  let wide = Tensor([-1000, 0, 1000], requiresGrad: true)
  #expect(wide.logSumExp().gradients(wrt: [wide])[0].scalars == [0, 0, 1])
  #expect(wide.logSoftmax().gatherLast([0]).gradients(wrt: [wide])[0].scalars == [1, 0, -1])
}

@Test func maskedEntriesGetZeroGradient() {
  let x = Tensor([1, 2, 3], requiresGrad: true)
  let masked = x.maskedFill(Tensor([0, 1, 0]), -.infinity)
  let g = masked.softmax().gatherLast([0]).gradients(wrt: [x])[0].scalars
  // Over the two live entries p = (σ(−2), σ(2)); d p₀ = p₀·(e₀ − p) on them, 0 on the mask.
  let p0: Float = 0.119_202_92
  #expect(isClose(g, [p0 * (1 - p0), 0, -p0 * (1 - p0)], atol: 1e-6))
  #expect(x.logSumExp().gradients(wrt: [x])[0].scalars.allSatisfy { $0.isFinite })
}

@Test func tiesShareTheGradient() {
  let x = Tensor([3, 1, 3], requiresGrad: true)
  #expect(x.max().gradients(wrt: [x])[0].scalars == [0.5, 0, 0.5])
  let a = Tensor([1, 2], requiresGrad: true)
  let b = Tensor([1, 0], requiresGrad: true)
  let grads = Tensor.maximum(a, b).sum().gradients(wrt: [a, b])
  #expect(grads[0].scalars == [0.5, 1])
  #expect(grads[1].scalars == [0.5, 0])
}

@Test func kinkConventions() {
  // Gradients at the kinks: abs and relu give 0 at 0; clamp passes at its bounds;
  // pow(0) is constant, so 0 even at x = 0.
  let x = Tensor([0, 0, 0], requiresGrad: true)
  #expect(x.abs().sum().gradients(wrt: [x])[0].scalars == [0, 0, 0])
  #expect(x.relu().sum().gradients(wrt: [x])[0].scalars == [0, 0, 0])
  #expect(x.pow(0).sum().gradients(wrt: [x])[0].scalars == [0, 0, 0])
  let y = Tensor([-1, 0.5, 1], requiresGrad: true)
  #expect(y.clamp(min: -1, max: 1).sum().gradients(wrt: [y])[0].scalars == [1, 1, 1])
  #expect(y.clamp(min: 0, max: 0.75).sum().gradients(wrt: [y])[0].scalars == [0, 1, 0])
}

@Test func longChainsDoNotOverflowTheStack() {
  // 100,000 sequential adds: building, differentiating and freeing the graph must all
  // work without recursion proportional to its depth.
  let x = Tensor([0], requiresGrad: true)
  do {
    var y = x
    for _ in 0..<100_000 { y = y + 1 }
    #expect(y.item == 100_000)
    y.sum().backward()
    #expect(x.grad!.scalars == [1])
    #expect(y.sum().gradients(wrt: [x])[0].scalars == [1])
  }
  // A chain of 10,000 products by c = Float(1.0001): d/dx (x·c¹⁰⁰⁰⁰) = c¹⁰⁰⁰⁰ = 2.718597
  // (in Double from the Float c); Float rounding over the chain stays far below 1e-4.
  let z = Tensor([1], requiresGrad: true)
  do {
    var y = z
    for _ in 0..<10_000 { y = y * 1.0001 }
    y.sum().backward()
    #expect(abs(z.grad!.item - 2.718_597) < 1e-4)
  }
}

@Test func gradModeIsPerTask() async {
  // A no-grad scope in one task does not leak into a concurrent one.
  let x = Tensor([1], requiresGrad: true)
  async let inside: Bool = withoutGrad { (x * 2).requiresGrad }
  async let outside: Bool = (x * 2).requiresGrad
  let (a, b) = await (inside, outside)
  #expect(a == false)
  #expect(b == true)
}

@Test func largeBuffersAreReusedAndZerosStillZero() {
  // A released buffer of LargeBuffers.minimum floats comes back for the next one of that
  // size; zeros() must not rely on fresh (zeroed) pages.
  let n = LargeBuffers.minimum + 17  // a size no other test allocates
  var address: UInt = 0
  do {
    let filled = Tensor.full([n], 3)
    address = UInt(bitPattern: filled.pointer)
  }
  let zeros = Tensor.zeros([n])
  #expect(UInt(bitPattern: zeros.pointer) == address)
  #expect(zeros.scalars.allSatisfy { $0 == 0 })
}
