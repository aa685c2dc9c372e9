import Optim
import TensorCore
import TestSupport
import Testing

/// Two Adam steps on p = [1, −2] with gradients [0.5, −1] then [0.1, 0.3], lr 0.1, default
/// betas; expected values from the update rule evaluated in double precision.
private func twoSteps(_ makeOptimizer: ([(String, Tensor)]) -> any Optimizer) -> [Float] {
  let p = Tensor([1, -2], requiresGrad: true)
  let optimizer = makeOptimizer([("p", p)])
  for g in [[Float(0.5), -1], [0.1, 0.3]] {
    p.grad = Tensor(g)
    optimizer.step()
  }
  return p.scalars
}

@Test func adamTwoStepsMatchHandComputedValues() {
  let p = twoSteps { Adam(parameters: $0, learningRate: 0.1) }
  #expect(isClose(p, [0.819_695_906, -1.857_215_142], atol: 1e-6, rtol: 0))
}

@Test func adamWDecaysParametersDirectly() {
  let p = twoSteps { Adam.adamW(parameters: $0, learningRate: 0.1, weightDecay: 0.1) }
  #expect(isClose(p, [0.800_795_906, -1.818_415_142], atol: 1e-6, rtol: 0))
}

@Test func adamWithL2AddsDecayToTheGradient() {
  let p = twoSteps { Adam(parameters: $0, learningRate: 0.1, weightDecay: 0.1) }
  #expect(isClose(p, [0.813_648_345, -1.840_070_356], atol: 1e-6, rtol: 0))
}

@Test func adamStateIsNamedByParameter() {
  let w = Tensor([1, 2], requiresGrad: true)
  let adam = Adam(parameters: [("fc.weight", w)])
  #expect(adam.namedState().map(\.0) == ["fc.weight/m", "fc.weight/v"])
  w.grad = Tensor([1, 1])
  adam.step()
  #expect(adam.stepCount == 1)
  #expect(isClose(adam.firstMoments["fc.weight"]!.scalars, [0.1, 0.1]))
}

@Test func sgdMomentumFollowsPyTorchRule() {
  let p = Tensor([1], requiresGrad: true)
  let sgd = SGD(parameters: [("p", p)], learningRate: 0.1, momentum: 0.9)
  p.grad = Tensor([0.5])
  sgd.step()
  #expect(isClose(p.scalars, [0.95]))
  p.grad = Tensor([0.5])
  sgd.step()
  #expect(isClose(p.scalars, [0.855]))  // buffer 0.9·0.5 + 0.5 = 0.95
}

@Test func parametersWithoutGradientsAreLeftAlone() {
  let a = Tensor([1], requiresGrad: true)
  let b = Tensor([1], requiresGrad: true)
  let adam = Adam(parameters: [("a", a), ("b", b)], learningRate: 0.1)
  a.grad = Tensor([1])
  adam.step()
  #expect(b.scalars == [1])
  #expect(a.scalars != [1])
}

@Test func learningRateSchedules() {
  #expect(LearningRateSchedule.constant.factor(at: 1000) == 1)
  let warmup = LearningRateSchedule.linearWarmup(warmup: 4)
  #expect(warmup.factor(at: 0) == 0.25)
  #expect(warmup.factor(at: 3) == 1)
  #expect(warmup.factor(at: 50) == 1)
  let cosine = LearningRateSchedule.cosine(warmup: 0, total: 10, minFactor: 0.1)
  #expect(abs(cosine.factor(at: 0) - 1) < 1e-6)
  #expect(abs(cosine.factor(at: 5) - 0.55) < 1e-6)
  #expect(abs(cosine.factor(at: 10) - 0.1) < 1e-6)
  #expect(abs(cosine.factor(at: 99) - 0.1) < 1e-6)
  let adam = Adam(parameters: [], learningRate: 2, schedule: warmup)
  #expect(adam.currentLearningRate == 0.5)
}

@Test func gradientClippingScalesToTheMaximumNorm() {
  let a = Tensor([0, 0], requiresGrad: true)
  let b = Tensor([0], requiresGrad: true)
  a.grad = Tensor([3, 0])
  b.grad = Tensor([4])
  let norm = clipGradientNorm([a, b], maxNorm: 1)
  #expect(abs(norm - 5) < 1e-6)
  #expect(isClose(a.grad!.scalars + b.grad!.scalars, [0.6, 0, 0.8], atol: 1e-5))
  // Below the threshold nothing changes.
  let n2 = clipGradientNorm([a, b], maxNorm: 10)
  #expect(abs(n2 - 1) < 1e-5)
  #expect(isClose(a.grad!.scalars, [0.6, 0], atol: 1e-5))
}
