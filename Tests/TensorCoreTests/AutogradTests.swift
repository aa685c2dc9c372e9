import Foundation
import TensorCore
import TestSupport
import Testing

func Foundation_exp(_ x: Double) -> Double { Foundation.exp(x) }

@Test func fanOutAccumulates() {
  let x = Tensor([3], requiresGrad: true)
  (x * x + x).sum().backward()  // d/dx (x² + x) = 2x + 1
  #expect(x.grad!.scalars == [7])
}

@Test func backwardTwiceAccumulatesIntoGrad() {
  let x = Tensor([1, 2], requiresGrad: true)
  (x * 3).sum().backward()
  (x * 3).sum().backward()
  #expect(x.grad!.scalars == [6, 6])
}

@Test func unusedInputsGetNoGradientAndZerosOnRequest() {
  let used = Tensor([1, 2], requiresGrad: true)
  let unused = Tensor([5], requiresGrad: true)
  let loss = (used * used).sum()
  loss.backward()
  #expect(unused.grad == nil)
  let grads = loss.gradients(wrt: [used, unused])
  #expect(grads[0].scalars == [2, 4])
  #expect(grads[1].scalars == [0])
}

@Test func broadcastGradientsAreSummedBack() {
  let a = Tensor([1, 2, 3], shape: [3, 1], requiresGrad: true)
  let b = Tensor([10, 20, 30, 40], shape: [1, 4], requiresGrad: true)
  (a * b).sum().backward()
  #expect(a.grad!.shape == [3, 1])
  #expect(a.grad!.scalars == [100, 100, 100])  // Σ b
  #expect(b.grad!.shape == [1, 4])
  #expect(b.grad!.scalars == [6, 6, 6, 6])  // Σ a
}

@Test func withoutGradBuildsNoGraph() {
  let x = Tensor([1, 2], requiresGrad: true)
  let y = withoutGrad { (x * x).exp().sum() }
  #expect(!y.requiresGrad)
  #expect(y.opName == nil)
  #expect(y.isLeaf)
  let z = (x * x).sum()
  #expect(z.opName == "sum")
  #expect(GradMode.isEnabled)
}

@Test func detachedStopsGradients() {
  let x = Tensor([2], requiresGrad: true)
  let y = (x * x.detached()).sum()  // treats the second factor as a constant
  y.backward()
  #expect(x.grad!.scalars == [2])
}

@Test func gradientsWrtLeavesGradUntouchedAndReachesIntermediates() {
  let x = Tensor([1, 2], requiresGrad: true)
  let h = x * 2
  let loss = (h * h).sum()  // dL/dh = 2h = [4, 8]; dL/dx = 4h = [8, 16]
  let grads = loss.gradients(wrt: [h, x])
  #expect(grads[0].scalars == [4, 8])
  #expect(grads[1].scalars == [8, 16])
  #expect(x.grad == nil)
}

@Test func longChainsDoNotOverflowTheStack() {
  let x = Tensor([0], requiresGrad: true)
  var y = x
  for _ in 0..<10_000 { y = y + 1 }
  y.sum().backward()
  #expect(y.item == 10_000)
  #expect(x.grad!.scalars == [1])
}

@Test func inputsThatDoNotRequireGradientsAreSkipped() {
  let constant = Tensor([1, 2])
  let x = Tensor([3, 4], requiresGrad: true)
  (constant * x).sum().backward()
  #expect(constant.grad == nil)
  #expect(x.grad!.scalars == [1, 2])
}

@Test func sameSeedSameStreamAndStateRestores() {
  var a = RandomState(seed: 42)
  var b = RandomState(seed: 42)
  #expect((0..<100).map { _ in a.next() } == (0..<100).map { _ in b.next() })
  var c = RandomState(seed: 43)
  #expect(a.next() != c.next())
  let saved = a.state
  let expected = (0..<10).map { _ in a.nextUniform() }
  var resumed = RandomState(state: saved)
  #expect((0..<10).map { _ in resumed.nextUniform() } == expected)
}

@Test func samplersHaveTheRightMoments() {
  var rng = RandomState(seed: 7)
  let n = 100_000
  let normals = (0..<n).map { _ in Double(rng.nextNormal()) }
  let mean = normals.reduce(0, +) / Double(n)
  let std = (normals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)).squareRoot()
  #expect(abs(mean) < 0.015)  // standard error 0.003
  #expect(abs(std - 1) < 0.015)
  let uniforms = (0..<n).map { _ in rng.nextUniform() }
  #expect(uniforms.allSatisfy { $0 >= 0 && $0 < 1 })
  #expect(abs(uniforms.reduce(0, +) / Float(n) - 0.5) < 0.01)
  let ints = (0..<n).map { _ in rng.nextInt(below: 10) }
  #expect(Set(ints) == Set(0..<10))
}

@Test func xavierBoundsAndInitialisationAreSeeded() {
  var r1 = RandomState(seed: 1)
  var r2 = RandomState(seed: 1)
  let w1 = Tensor.xavierUniform([30, 20], rng: &r1)
  let w2 = Tensor.xavierUniform([30, 20], rng: &r2)
  #expect(w1.scalars == w2.scalars)
  let bound = (6.0 / 50.0).squareRoot()
  #expect(w1.scalars.allSatisfy { abs(Double($0)) <= bound })
  #expect(w1.requiresGrad)
}
