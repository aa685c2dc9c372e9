import GRPO
import TensorCore
import TestSupport
import Testing

// Golden numbers of the loss families, KL estimators, entropy terms and advantage
// estimators on hand cases (absolute tolerance 1e-5 unless stated), and finite-difference
// gradients of each new loss.

/// The loss, statistics and gradient of one `[rows, T]` evaluation over a whole batch.
private func evaluate(
  _ logProbs: [Float], old: [Float], advantages: [Float], mask: [Float]? = nil, rows: Int = 1,
  reference: [Float]? = nil, _ options: SurrogateOptions
) -> (loss: Float, statistics: SurrogateStatistics, grad: [Float]) {
  let mask = mask ?? [Float](repeating: 1, count: logProbs.count)
  let lp = Tensor(logProbs, shape: [rows, logProbs.count / rows], requiresGrad: true)
  let (l, s) = surrogateLoss(
    logProbs: lp, oldLogProbs: old, referenceLogProbs: reference, advantages: advantages,
    mask: mask, options: options,
    normalizer: LossNormalizer(
      mask: mask, rows: rows, batchTokens: mask.reduce(0, +), batchSequences: rows))
  l.backward()
  return (l.item, s, lp.grad!.scalars)
}

private func close(_ a: [Double], _ b: [Double], _ tol: Double = 1e-5) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol }
}

@Test func gspoUsesTheLengthNormalisedSequenceRatio() {
  // Token log-ratios 0.1 and 0.3: s = exp(0.2) = 1.221403 on both tokens.
  let wide = SurrogateOptions(family: .gspo, sequenceEpsilonLow: 0.3, sequenceEpsilonHigh: 0.3)
  let (l, s, g) = evaluate([0.1, 0.3], old: [0, 0], advantages: [1, 1], wide)
  #expect(abs(l + 1.221_403) < 1e-5)
  #expect(isClose(g, [-0.610_701, -0.610_701], atol: 1e-5))  // −s·Â/Σm on every token
  #expect(s.clipFractionHigh == 0)
  // The token-level surrogate with the same range clips the second token (ratio 1.35).
  let token = evaluate(
    [0.1, 0.3], old: [0, 0], advantages: [1, 1], SurrogateOptions(epsilonLow: 0.3, epsilonHigh: 0.3)
  )
  #expect(abs(token.loss + 1.202_585) < 1e-5)
  // GSPO's own default range (3e-4, 4e-4) clips the whole sequence: no gradient.
  let clipped = evaluate(
    [0.1, 0.3], old: [0, 0], advantages: [1, 1], SurrogateOptions(family: .gspo))
  #expect(abs(clipped.loss + 1.0004) < 1e-5)
  #expect(clipped.grad == [0, 0] && clipped.statistics.clipFractionHigh == 1)
}

@Test func gspoRatiosArePerSequence() {
  // Row 0 log-ratios 0.1, 0.3 (s = e^0.2); row 1 −0.2 with a masked token (s = e^−0.2).
  let options = SurrogateOptions(family: .gspo, sequenceEpsilonLow: 0.5, sequenceEpsilonHigh: 0.5)
  let (l, _, g) = evaluate(
    [0.1, 0.3, -0.2, 5], old: [0, 0, 0, 0], advantages: [1, 1, -1, -1], mask: [1, 1, 1, 0],
    rows: 2, options)
  let (up, down): (Float, Float) = (1.221_403, 0.818_731)
  #expect(abs(l - (-2 * up + down) / 3) < 1e-5)
  #expect(isClose(g, [-up / 3, -up / 3, down / 3, 0], atol: 1e-5))
}

@Test func cispoClipsTheWeightButKeepsEveryTokensGradient() {
  // Ratios 1.5 (Â = 1) and 0.5 (Â = −2): weights clip to 1.28 and 0.8.
  let (l, s, g) = evaluate(
    [0.405_465_1, -0.693_147_2], old: [0, 0], advantages: [1, -2], SurrogateOptions(family: .cispo))
  #expect(abs(l - 0.16) < 1e-5)  // −(1.28·1 + 0.8·(−2))/2
  #expect(isClose(g, [-0.64, 0.8], atol: 1e-5))  // −w·Â/Σm: the clipped surrogate gives 0, 0
  #expect(s.clipFractionHigh == 0.5 && s.clipFractionLow == 0.5)
  // At ratio 1 it is the policy-gradient estimator, like the clipped surrogate.
  let one = evaluate(
    [-1, -2], old: [-1, -2], advantages: [1, -2], SurrogateOptions(family: .cispo))
  #expect(abs(one.loss - 0.5) < 1e-6 && isClose(one.grad, [-0.5, 1], atol: 1e-6))
}

@Test func eachKLEstimator() {
  // δ = log π_ref − log π_θ = ln 2.
  let expected: [(KLEstimator, Double)] = [
    (.k1, -0.693_147), (.k2, 0.240_227), (.k3, 0.306_853), (.abs, 0.693_147),
  ]
  for (estimator, kl) in expected {
    let (l, s, _) = evaluate(
      [-1], old: [-1], advantages: [0], reference: [-1 + 0.693_147_2],
      SurrogateOptions(beta: 0.1, klEstimator: estimator))
    #expect(abs(s.kl - kl) < 1e-5, "\(estimator)")
    #expect(abs(Double(l) - 0.1 * kl) < 1e-6, "\(estimator)")
    #expect(abs(estimator(0.693_147_2) - kl) < 1e-6, "\(estimator), without the tape")
  }
}

@Test func entropyBonusEstimatesEntropyFromTheSampledDecisions() {
  // ρ = 1, log π = −2: the estimate −ρ·log π = 2; d(−ρ·log π)/d log π = −(log π + 1)·ρ = 1.
  let (l, s, g) = evaluate(
    [-2], old: [-2], advantages: [0], SurrogateOptions(entropyCoefficient: 0.1))
  #expect(abs(l + 0.2) < 1e-6)
  #expect(abs(s.entropy - 2) < 1e-6)
  #expect(isClose(g, [-0.1], atol: 1e-6))
}

@Test func highEntropyMaskKeepsTheTopShareOfMaskedDecisions() {
  let entropies: [[Float]] = [[0.1, 0.9, 0.5], [0.7, 0.3]]
  let masks: [[Float]] = [[1, 1, 1], [1, 0]]  // 0.3 is not in the loss, so not in the pool
  let half = highEntropyMask(entropies: entropies, masks: masks, fraction: 0.5)
  #expect(half.mask == [[0, 1, 0], [1, 0]] && half.threshold == 0.7)
  let fifth = highEntropyMask(entropies: entropies, masks: masks, fraction: 0.2)
  #expect(fifth.mask == [[0, 1, 0], [0, 0]] && fifth.threshold == 0.9)  // ⌈0.8⌉ = 1 decision
  #expect(highEntropyMask(entropies: entropies, masks: masks, fraction: 1).mask == masks)
}

@Test func minibatchTokenMeanAveragesEachMinibatchsTokenMean() {
  // ℓ = [1, 2 | 3, 0] with masks [1 1 | 1 0]: minibatch means 1.5 and 3, averaged: 2.25.
  let lp: [Float] = [0, 0, 0, 0]
  let advantages: [Float] = [-1, -2, -3, 0]
  let mask: [Float] = [1, 1, 1, 0]
  var total: Float = 0
  for half in [0..<2, 2..<4] {
    let m = Array(mask[half])
    let t = Tensor(Array(lp[half]), shape: [1, 2], requiresGrad: true)
    total +=
      surrogateLoss(
        logProbs: t, oldLogProbs: Array(lp[half]), referenceLogProbs: nil,
        advantages: Array(advantages[half]), mask: m,
        options: SurrogateOptions(aggregation: .minibatchTokenMean),
        normalizer: LossNormalizer(
          mask: m, rows: 1, batchTokens: 3, batchSequences: 2, minibatchTokens: m.reduce(0, +),
          minibatches: 2)
      ).loss.item
  }
  #expect(abs(total - 2.25) < 1e-6)
  // One minibatch: the token mean, 2.
  let whole = evaluate(
    lp, old: lp, advantages: advantages, mask: mask, rows: 2,
    SurrogateOptions(aggregation: .minibatchTokenMean))
  #expect(abs(whole.loss - 2) < 1e-6)
  #expect(LossAggregation.trlNames["bnpo"] == .minibatchTokenMean)
}

// MARK: Advantage estimators

private let rewards: [Double] = [1, 0, 0, 1, 1, 0]
private let groups = ["a", "a", "a", "b", "b", "b"]

@Test func eachAdvantageEstimator() {
  func a(_ e: AdvantageEstimator, _ scaling: AdvantageScaling = .none, k: Int = 1) -> [Double] {
    estimateAdvantages(
      rewards: rewards, groups: groups, estimator: e, scaling: scaling, clip: 5, k: k)
  }
  #expect(
    a(.groupMean, .group)
      == groupAdvantages(
        rewards: rewards, groups: groups, scaling: .group, clip: 5))
  #expect(close(a(.rloo), [1, -0.5, -0.5, 0.5, 0.5, -1]))  // r − mean of the others
  let r = 0.912_869  // 0.5 / (std 0.547723 + 1e-6)
  #expect(close(a(.reinforcePlusPlus), [r, -r, -r, r, r, -r]))
  #expect(
    close(
      a(.reinforcePlusPlusBaseline),
      [1.290_992, -0.645_496, -0.645_496, 0.645_496, 0.645_496, -1.290_992]))
  // k = 1: (r − mean) / population std of each group (p = 1/3 and 2/3).
  #expect(
    close(a(.passAtK), [1.414_214, -0.707_107, -0.707_107, 0.707_107, 0.707_107, -1.414_214]))
}

@Test func passAtKAdvantagesOfAGroup() {
  // N = 4, one success, k = 2: R̄ = 1 − C(3,2)/C(4,2) = 0.5, σ = 0.5; Â₊ = 1,
  // Â₋ = (0.5 − C(2,1)/C(3,1))/0.5 = −1/3; they sum to 0.
  #expect(
    close(passAtKAdvantages([true, false, false, false], k: 2), [1, -1.0 / 3, -1.0 / 3, -1.0 / 3]))
  #expect(
    close(
      passAtKAdvantages([true, false, false, false], k: 1),
      [1.732_051, -0.577_350, -0.577_350, -0.577_350]))
  // Two failures cannot fill k = 3: every k-subset passes, so there is no signal.
  #expect(passAtKAdvantages([true, true, false, false], k: 3) == [0, 0, 0, 0])
  #expect(passAtKAdvantages([false, false, false], k: 2) == [0, 0, 0])
}

// MARK: Finite differences (eps 1e-3, atol 1e-3, rtol 1e-2)

@Test func newLossesMatchFiniteDifferences() {
  var rng = RandomState(seed: 11)
  let rows = 3
  let width = 4
  let old = (0..<(rows * width)).map { _ in -1 - rng.nextUniform() }
  // Ratios inside every clip range below, so each loss is smooth where we differentiate,
  // and one advantage per rollout (GSPO-token's gradient is then its value's).
  let start = old.map { $0 + 0.1 * (rng.nextUniform() - 0.5) }
  let perRow = (0..<rows).map { _ in rng.nextUniform() * 2 - 1 }
  let advantages = perRow.flatMap { [Float](repeating: $0, count: width) }
  let reference = old.map { $0 + 0.3 }
  let mask: [Float] = [1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1]
  var cases: [(String, SurrogateOptions)] = []
  for aggregation in LossAggregation.allCases {
    cases.append(
      (
        "gspo \(aggregation)",
        SurrogateOptions(
          aggregation: aggregation, maxCompletionLength: width, family: .gspo,
          sequenceEpsilonLow: 0.5, sequenceEpsilonHigh: 0.5)
      ))
    cases.append(
      (
        "cispo \(aggregation)",
        SurrogateOptions(aggregation: aggregation, maxCompletionLength: width, family: .cispo)
      ))
  }
  for estimator in KLEstimator.allCases {
    cases.append(("kl \(estimator)", SurrogateOptions(beta: 0.05, klEstimator: estimator)))
  }
  cases.append(("entropy", SurrogateOptions(entropyCoefficient: 0.1)))
  for (name, options) in cases {
    let report = surrogateGradientCheck(
      options, at: start, old: old, advantages: advantages, reference: reference, mask: mask,
      rows: rows)
    #expect(report.passed, "\(name): \(report)")
  }
}
