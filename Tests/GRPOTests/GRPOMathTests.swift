import GRPO
import TensorCore
import TestSupport
import Testing

private func close(_ a: [Double], _ b: [Double], _ tol: Double = 1e-5) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol }
}

// MARK: Advantages (absolute tolerance 1e-5)

@Test func groupScalingUsesBesselsStd() {
  let a = groupAdvantages(
    rewards: [1, 0, 0, 1], groups: ["q", "q", "q", "q"], scaling: .group, clip: 5)
  #expect(close(a, [0.866_025, -0.866_025, -0.866_025, 0.866_025]))
}

@Test func anAllEqualGroupHasZeroAdvantage() {
  let a = groupAdvantages(
    rewards: [1, 1, 1, 0, 1], groups: ["a", "a", "a", "b", "b"], scaling: .group, clip: 5)
  #expect(close(Array(a.prefix(3)), [0, 0, 0]))
}

@Test func groupsOfDifferentSizesUnderEachScaling() {
  let rewards: [Double] = [1, 0, 0, 0, 1]
  let groups = ["a", "a", "b", "b", "b"]
  #expect(
    close(
      groupAdvantages(rewards: rewards, groups: groups, scaling: .group, clip: 5),
      [0.707_107, -0.707_107, -0.577_350, -0.577_350, 1.154_701]))
  #expect(
    close(
      groupAdvantages(rewards: rewards, groups: groups, scaling: .batch, clip: 5),
      [0.912_871, -0.912_871, -0.608_581, -0.608_581, 1.217_161]))
  #expect(
    close(
      groupAdvantages(rewards: rewards, groups: groups, scaling: .none, clip: 5),
      [0.5, -0.5, -1.0 / 3, -1.0 / 3, 2.0 / 3]))
}

@Test func groupsAreKeyedByIdNotPosition() {
  let a = groupAdvantages(
    rewards: [1, 0, 0, 1], groups: ["a", "b", "a", "b"], scaling: .group, clip: 5)
  #expect(close(a, [0.707_107, -0.707_107, -0.707_107, 0.707_107]))
}

@Test func advantageClipBoundsARareSuccess() {
  // One success in 16: (15/16) / 0.25 = 3.75 before clipping.
  let rewards = [1.0] + [Double](repeating: 0, count: 15)
  let groups = [String](repeating: "g", count: 16)
  #expect(
    abs(groupAdvantages(rewards: rewards, groups: groups, scaling: .group, clip: 5)[0] - 3.75)
      < 1e-4)  // 3.75·0.25/(0.25 + 1e-6)
  let clipped = groupAdvantages(rewards: rewards, groups: groups, scaling: .group, clip: 3)
  #expect(abs(clipped[0] - 3) < 1e-12)
  #expect(abs(clipped[1] + 0.25) < 1e-5)
}

@Test func rewardSummaryCountsFlatGroups() {
  let s = RewardSummary(rewards: [1, 1, 0, 0, 1, 0], groups: ["a", "a", "b", "b", "c", "c"])
  #expect(abs(s.fractionZeroStd - 2.0 / 3) < 1e-12)
  #expect(abs(s.effectiveRatio - 2.0 / 6) < 1e-12)
  #expect(abs(s.allPositiveRatio - 1.0 / 3) < 1e-12)
  #expect(abs(s.allNegativeRatio - 1.0 / 3) < 1e-12)
  #expect(abs(s.mean - 0.5) < 1e-12)
}

// MARK: The surrogate loss (absolute tolerance 1e-5)

private func loss(
  logProbs: [Float], old: [Float], advantages: [Float], mask: [Float], rows: Int,
  options: SurrogateOptions,
  reference: [Float]? = nil
) -> (Float, SurrogateStatistics, Tensor) {
  let lp = Tensor(logProbs, shape: [rows, logProbs.count / rows], requiresGrad: true)
  let normalizer = LossNormalizer(
    mask: mask, rows: rows, batchTokens: mask.reduce(0, +), batchSequences: rows)
  let (l, s) = surrogateLoss(
    logProbs: lp, oldLogProbs: old, referenceLogProbs: reference, advantages: advantages,
    mask: mask,
    options: options, normalizer: normalizer)
  l.backward()
  return (l.item, s, lp)
}

@Test func ratioOneGivesMinusTheMeanAdvantage() {
  let (l, _, lp) = loss(
    logProbs: [-1, -2], old: [-1, -2], advantages: [1, -2], mask: [1, 1], rows: 1,
    options: SurrogateOptions())
  #expect(abs(l - 0.5) < 1e-6)
  // With μ = 1 the gradient is the policy-gradient estimator: −Â·m / Σm.
  #expect(isClose(lp.grad!.scalars, [-0.5, 1], atol: 1e-6))
}

@Test func clipHigherClipsEachSideAtItsOwnEpsilon() {
  let old: [Float] = [0, 0]
  let lp: [Float] = [0.405_465_1, -0.693_147_2]
  let (l, s, g) = loss(
    logProbs: lp, old: old, advantages: [1, -2], mask: [1, 1], rows: 1, options: SurrogateOptions())
  #expect(abs(l - (-1.28 + 1.6) / 2) < 1e-5)
  #expect(s.clipFractionHigh == 0.5 && s.clipFractionLow == 0.5)
  #expect(isClose(g.grad!.scalars, [0, 0], atol: 1e-6))  // both tokens clipped: no gradient
}

@Test func dualClipCapsLossesOfNegativeAdvantages() {
  let lp: [Float] = [1.609_438]
  let off = loss(
    logProbs: lp, old: [0], advantages: [-2], mask: [1], rows: 1, options: SurrogateOptions())
  #expect(abs(off.0 - 10) < 1e-4)
  let on = loss(
    logProbs: lp, old: [0], advantages: [-2], mask: [1], rows: 1,
    options: SurrogateOptions(dualClip: 3))
  #expect(abs(on.0 - 6) < 1e-5)
  #expect(on.2.grad!.scalars == [0])
}

@Test func klUsesTheK3Estimator() {
  let options = SurrogateOptions(beta: 0.1)
  let (l, s, _) = loss(
    logProbs: [-1], old: [-1], advantages: [0], mask: [1], rows: 1, options: options,
    reference: [-1 + 0.693_147_2])
  #expect(abs(Double(l) - 0.1 * 0.306_853) < 1e-6)
  #expect(abs(s.kl - 0.306_853) < 1e-6)
}

@Test func eachLossAggregation() {
  // Ratio 1 and Â = −ℓ give per-token losses ℓ = [1, 2, 3 | 4, 5, 6] with masks [1 1 0 | 1 0 0].
  let lp: [Float] = [0, 0, 0, 0, 0, 0]
  let advantages: [Float] = [-1, -2, -3, -4, -5, -6]
  let mask: [Float] = [1, 1, 0, 1, 0, 0]
  func value(_ a: LossAggregation) -> Float {
    loss(
      logProbs: lp, old: lp, advantages: advantages, mask: mask, rows: 2,
      options: SurrogateOptions(aggregation: a, maxCompletionLength: 3)
    ).0
  }
  #expect(abs(value(.tokenMean) - 7.0 / 3) < 1e-6)
  #expect(abs(value(.sequenceMeanTokenMean) - 2.75) < 1e-6)
  #expect(abs(value(.sequenceMeanTokenSumNorm) - 7.0 / 6) < 1e-6)
}

@Test func lossGradientMatchesFiniteDifferences() {
  var rng = RandomState(seed: 4)
  let rows = 3
  let width = 4
  let old = (0..<(rows * width)).map { _ in -1 - rng.nextUniform() }
  // Ratios inside the clip range so the surrogate is smooth where we differentiate.
  let start = old.map { $0 + 0.1 * (rng.nextUniform() - 0.5) }
  let advantages = (0..<(rows * width)).map { _ in rng.nextUniform() * 2 - 1 }
  let reference = old.map { $0 + 0.3 }
  let mask: [Float] = [1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1]
  for aggregation in LossAggregation.allCases {
    let options = SurrogateOptions(beta: 0.05, aggregation: aggregation, maxCompletionLength: width)
    let report = surrogateGradientCheck(
      options, at: start, old: old, advantages: advantages, reference: reference, mask: mask,
      rows: rows)
    #expect(report.passed, "\(aggregation): \(report)")
  }
}

/// The finite-difference check (eps 1e-3, atol 1e-3, rtol 1e-2) of `surrogateLoss` at log
/// π_θ = `start`, `[rows, start.count / rows]`, over a whole batch.
func surrogateGradientCheck(
  _ options: SurrogateOptions, at start: [Float], old: [Float], advantages: [Float],
  reference: [Float], mask: [Float], rows: Int
) -> GradCheckReport {
  let normalizer = LossNormalizer(
    mask: mask, rows: rows, batchTokens: mask.reduce(0, +), batchSequences: rows)
  return checkGradients(
    [Tensor(start, shape: [rows, start.count / rows])], eps: 1e-3, atol: 1e-3, rtol: 1e-2
  ) { t in
    surrogateLoss(
      logProbs: t[0], oldLogProbs: old, referenceLogProbs: reference, advantages: advantages,
      mask: mask, options: options, normalizer: normalizer
    ).loss
  }
}

@Test func permutingCompletionsLeavesTheLossUnchanged() {
  let lp: [Float] = [-1, -2, -0.5, -1.5, -0.3, -0.2]
  let old: [Float] = [-1.1, -1.9, -0.6, -1.4, -0.35, -0.1]
  let advantages: [Float] = [0.7, 0.7, -0.7, -0.7, 0.2, 0.2]
  let mask: [Float] = [1, 1, 1, 0, 1, 1]
  for aggregation in LossAggregation.allCases {
    let options = SurrogateOptions(aggregation: aggregation, maxCompletionLength: 2)
    let a = loss(
      logProbs: lp, old: old, advantages: advantages, mask: mask, rows: 3, options: options
    ).0
    let order = [2, 0, 1]
    func permute(_ x: [Float]) -> [Float] { order.flatMap { Array(x[($0 * 2)..<($0 * 2 + 2)]) } }
    let b = loss(
      logProbs: permute(lp), old: permute(old), advantages: permute(advantages),
      mask: permute(mask), rows: 3, options: options
    ).0
    #expect(abs(a - b) < 1e-6, "\(aggregation)")
  }
}

@Test func minibatchAccumulationEqualsTheFullBatch() {
  var rng = RandomState(seed: 9)
  let rows = 4
  let width = 3
  let values = (0..<(rows * width)).map { _ in -rng.nextUniform() }
  let old = values.map { $0 + 0.05 * (rng.nextUniform() - 0.5) }
  let advantages = (0..<(rows * width)).map { _ in rng.nextUniform() * 2 - 1 }
  let mask: [Float] = [1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1]
  let batchTokens = mask.reduce(0, +)
  for aggregation in LossAggregation.allCases {
    let options = SurrogateOptions(
      dualClip: 3, aggregation: aggregation, maxCompletionLength: width)
    let full = Tensor(values, shape: [rows, width], requiresGrad: true)
    let normalizer = LossNormalizer(
      mask: mask, rows: rows, batchTokens: batchTokens, batchSequences: rows)
    surrogateLoss(
      logProbs: full, oldLogProbs: old, referenceLogProbs: nil, advantages: advantages, mask: mask,
      options: options, normalizer: normalizer
    ).loss.backward()
    var accumulated: [Float] = []
    for half in [0..<2, 2..<4] {
      let span = (half.lowerBound * width)..<(half.upperBound * width)
      let part = Tensor(Array(values[span]), shape: [2, width], requiresGrad: true)
      let m = Array(mask[span])
      let n = LossNormalizer(mask: m, rows: 2, batchTokens: batchTokens, batchSequences: rows)
      surrogateLoss(
        logProbs: part, oldLogProbs: Array(old[span]), referenceLogProbs: nil,
        advantages: Array(advantages[span]), mask: m, options: options, normalizer: n
      ).loss.backward()
      accumulated += part.grad!.scalars
    }
    #expect(isClose(accumulated, full.grad!.scalars, atol: 1e-7, rtol: 1e-6), "\(aggregation)")
  }
}
