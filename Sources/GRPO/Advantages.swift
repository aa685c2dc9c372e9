/// How group rewards become advantages (see specs: GRPO, Dr. GRPO).
public enum AdvantageScaling: String, Sendable, CaseIterable {
  /// (r − mean of the group) / (std of the group + 1e-6), std with Bessel's correction.
  case group
  /// (r − mean of the group) / (std over the whole batch + 1e-6).
  case batch
  /// r − mean of the group (Dr. GRPO).
  case none
}

/// Group statistics of one prompt's rewards.
public struct GroupStatistics: Equatable, Sendable {
  public var count: Int
  public var mean: Double
  /// Sample standard deviation (n − 1); 0 for a single reward.
  public var std: Double
}

/// Mean and sample standard deviation (n − 1).
public func meanAndStd(_ values: [Double]) -> (mean: Double, std: Double) {
  guard !values.isEmpty else { return (0, 0) }
  let mean = values.reduce(0, +) / Double(values.count)
  guard values.count > 1 else { return (mean, 0) }
  let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
  return (mean, variance.squareRoot())
}

/// Advantages for rewards grouped by prompt id (groups may differ in size; a group is all
/// completions of one prompt id wherever they sit in the arrays), clipped to
/// ±`clip`. Every group needs at least two completions.
public func groupAdvantages(
  rewards: [Double], groups: [String], scaling: AdvantageScaling, clip: Double
) -> [Double] {
  precondition(
    rewards.count == groups.count,
    "groupAdvantages: \(rewards.count) rewards for \(groups.count) group ids")
  var members: [String: [Int]] = [:]
  for (i, g) in groups.enumerated() { members[g, default: []].append(i) }
  for (g, m) in members {
    precondition(
      m.count >= 2,
      "groupAdvantages: group '\(g)' has \(m.count) completion; groups need at least 2")
  }
  let batchStd = meanAndStd(rewards).std
  var out = [Double](repeating: 0, count: rewards.count)
  for indices in members.values {
    let (mean, std) = meanAndStd(indices.map { rewards[$0] })
    for i in indices {
      let centred = rewards[i] - mean
      let a: Double =
        switch scaling {
        case .group: centred / (std + 1e-6)
        case .batch: centred / (batchStd + 1e-6)
        case .none: centred
        }
      out[i] = min(max(a, -clip), clip)
    }
  }
  return out
}

/// Per-batch reward statistics for the metrics of the spec.
public struct RewardSummary: Equatable, Sendable {
  public var mean: Double
  public var std: Double
  /// Prompts whose group rewards are all equal (no learning signal), as a fraction.
  public var fractionZeroStd: Double
  /// Completions in groups with reward std > 0, over all completions.
  public var effectiveRatio: Double
  /// Prompts whose completions all earned the top reward (all correct).
  public var allPositiveRatio: Double
  /// Prompts whose completions all earned the bottom reward (all wrong).
  public var allNegativeRatio: Double

  public init(rewards: [Double], groups: [String], successThreshold: Double = 1) {
    (mean, std) = meanAndStd(rewards)
    var members: [String: [Double]] = [:]
    for (r, g) in zip(rewards, groups) { members[g, default: []].append(r) }
    let prompts = Double(max(members.count, 1))
    let flat = members.values.filter { Set($0).count <= 1 }
    fractionZeroStd = Double(flat.count) / prompts
    effectiveRatio =
      Double(members.values.filter { Set($0).count > 1 }.reduce(0) { $0 + $1.count })
      / Double(max(rewards.count, 1))
    allPositiveRatio = Double(flat.filter { ($0.first ?? 0) >= successThreshold }.count) / prompts
    allNegativeRatio = Double(flat.filter { ($0.first ?? 0) < successThreshold }.count) / prompts
  }
}
