/// How a rollout's advantage is estimated from the rewards of its group and batch
/// (docs/grpo.md, "Advantage estimators"); `AdvantageScaling` then divides `groupMean`'s
/// and `rloo`'s.
public enum AdvantageEstimator: String, Sendable, CaseIterable {
  /// r − the group's mean (GRPO; the default).
  case groupMean
  /// r − the mean of the other rollouts of its group, N/(N − 1)·(r − mean) (RLOO,
  /// Ahmadian et al. 2024).
  case rloo
  /// (r − mean) / (std + 1e-6) over the whole batch, no group baseline (REINFORCE++,
  /// Hu 2025).
  case reinforcePlusPlus
  /// r − the group's mean, then divided by the std of those over the batch + 1e-6
  /// (REINFORCE++-baseline).
  case reinforcePlusPlusBaseline
  /// The analytic pass@k advantages of a group's binary rewards (Chen et al. 2025,
  /// "Pass@k Training"): what each rollout adds to the group's pass@k.
  case passAtK
}

/// Advantages of `rewards` grouped by prompt id under `estimator`, clipped to ±`clip`;
/// `scaling` divides `groupMean` and `rloo` (as in `groupAdvantages`), `k` is pass@k's and
/// at most the smallest group. Every group needs at least two rollouts; `passAtK` reads a
/// reward ≥ 0.5 as a success.
public func estimateAdvantages(
  rewards: [Double], groups: [String], estimator: AdvantageEstimator, scaling: AdvantageScaling,
  clip: Double, k: Int = 1
) -> [Double] {
  let centred = groupAdvantages(rewards: rewards, groups: groups, scaling: scaling, clip: .infinity)
  var members: [String: [Int]] = [:]
  for (i, g) in groups.enumerated() { members[g, default: []].append(i) }
  var out: [Double]
  switch estimator {
  case .groupMean:
    out = centred
  case .rloo:
    out = centred
    for indices in members.values {
      let n = Double(indices.count)
      for i in indices { out[i] *= n / (n - 1) }
    }
  case .reinforcePlusPlus:
    let (mean, std) = meanAndStd(rewards)
    out = rewards.map { ($0 - mean) / (std + 1e-6) }
  case .reinforcePlusPlusBaseline:
    let baseline = groupAdvantages(
      rewards: rewards, groups: groups, scaling: .none, clip: .infinity)
    let (mean, std) = meanAndStd(baseline)
    out = baseline.map { ($0 - mean) / (std + 1e-6) }
  case .passAtK:
    out = [Double](repeating: 0, count: rewards.count)
    for indices in members.values {
      let solved = indices.map { rewards[$0] >= 0.5 }
      for (i, value) in zip(indices, passAtKAdvantages(solved, k: k)) { out[i] = value }
    }
  }
  return out.map { min(max($0, -clip), clip) }
}

/// Pass@k advantages of one group of N rollouts, N₊ of them correct and N₋ = N − N₊ not:
/// the group's pass@k R̄ = 1 − C(N₋, k)/C(N, k), σ = √(R̄(1 − R̄)),
/// Â₊ = (1 − R̄)/σ, Â₋ = (1 − R̄ − C(N₋ − 1, k − 1)/C(N − 1, k − 1))/σ; 0 for every
/// rollout when σ = 0. With k = 1 these are (r − mean)/population std.
public func passAtKAdvantages(_ solved: [Bool], k: Int) -> [Double] {
  let n = solved.count
  let failed = solved.filter { !$0 }.count
  precondition(k >= 1 && k <= n, "passAtKAdvantages: k = \(k) for a group of \(n)")
  /// C(a, j)/C(b, j) for a ≤ b, as a product (no factorials to overflow).
  func binomialRatio(_ a: Int, _ b: Int, _ j: Int) -> Double {
    guard a >= j else { return 0 }
    return (0..<j).reduce(1.0) { $0 * Double(a - $1) / Double(b - $1) }
  }
  let missAll = binomialRatio(failed, n, k)  // 1 − R̄
  let passK = 1 - missAll
  let sigma = (passK * (1 - passK)).squareRoot()
  guard sigma > 0 else { return [Double](repeating: 0, count: n) }
  let positive = missAll / sigma
  let negative = (missAll - binomialRatio(failed - 1, n - 1, k - 1)) / sigma
  return solved.map { $0 ? positive : negative }
}
