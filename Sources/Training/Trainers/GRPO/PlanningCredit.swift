import Foundation
import GRPO

/// Per-decision advantages: each rollout's advantage on every decision, or with `hicra`
/// Â = A + α·|A| on the decisions its variant amplifies (docs/hicra.md): the planning
/// decisions (`paper`), also the high-entropy decisions of correct rollouts longer than
/// their group's mean (`entropyAugmented`, not from the paper), or only those
/// (`entropyOnly`). `planning` nil: no decision plans.
func decisionAdvantages<Decisions>(
  _ advantages: [Double], rollouts: [PolicyRollout<Decisions>], planning: [[Bool]]?,
  rewards: [Double], groups: [String], hicra: HICRAOptions?
) -> [[Float]] {
  guard let hicra else {
    return rollouts.indices.map {
      [Float](repeating: Float(advantages[$0]), count: rollouts[$0].length)
    }
  }
  let amplified: [[Bool]] =
    switch hicra.variant {
    case .paper: planningOrNone(planning, rollouts)
    case .entropyOnly: highEntropyDecisions(rollouts, rewards: rewards, groups: groups, hicra)
    case .entropyAugmented:
      zip(
        planningOrNone(planning, rollouts),
        highEntropyDecisions(rollouts, rewards: rewards, groups: groups, hicra)
      ).map { zip($0, $1).map { $0 || $1 } }
    }
  return rollouts.indices.map { i in
    hicraAdvantages(advantages[i], planning: amplified[i], alpha: hicra.alpha).map(Float.init)
  }
}

private func planningOrNone<Decisions>(
  _ planning: [[Bool]]?, _ rollouts: [PolicyRollout<Decisions>]
)
  -> [[Bool]]
{
  planning ?? rollouts.map { [Bool](repeating: false, count: $0.length) }
}

/// The entropy variants' decisions: in rollouts with reward ≥ 1 that are longer than their
/// group's mean, those whose entropy is above the rollout's `entropyPercentile`.
private func highEntropyDecisions<Decisions>(
  _ rollouts: [PolicyRollout<Decisions>], rewards: [Double], groups: [String],
  _ hicra: HICRAOptions
) -> [[Bool]] {
  var groupLength: [String: (total: Int, count: Int)] = [:]
  for (r, g) in zip(rollouts, groups) {
    groupLength[g, default: (0, 0)].total += r.length
    groupLength[g, default: (0, 0)].count += 1
  }
  return rollouts.indices.map { i in
    let r = rollouts[i]
    let (total, count) = groupLength[groups[i]] ?? (0, 1)
    guard rewards[i] >= 1, Double(r.length) > Double(total) / Double(count), !r.entropies.isEmpty
    else { return [Bool](repeating: false, count: r.length) }
    let sorted = r.entropies.sorted()
    let cut = sorted[min(sorted.count - 1, Int(Double(sorted.count) * hicra.entropyPercentile))]
    return r.entropies.map { $0 > cut }
  }
}

/// The planning metrics of docs/hicra.md over every decision of `rollouts`: the planning
/// share, and entropy, perplexity and credited advantage of planning and execution
/// decisions (NaN when a side has none).
func planningMetrics<Decisions>(
  _ rollouts: [PolicyRollout<Decisions>], planning: [[Bool]], credit: [[Float]]
) -> [String: Double] {
  var entropy: (plan: [Double], exec: [Double]) = ([], [])
  var logProb: (plan: [Double], exec: [Double]) = ([], [])
  var advantage: (plan: [Double], exec: [Double]) = ([], [])
  var all: [(entropy: Float, planning: Bool)] = []
  for (i, r) in rollouts.enumerated() {
    for k in 0..<r.length {
      let isPlan = planning[i][k]
      all.append((r.entropies[k], isPlan))
      if isPlan {
        entropy.plan.append(Double(r.entropies[k]))
        logProb.plan.append(Double(r.logProbs[k]))
        advantage.plan.append(Double(credit[i][k]))
      } else {
        entropy.exec.append(Double(r.entropies[k]))
        logProb.exec.append(Double(r.logProbs[k]))
        advantage.exec.append(Double(credit[i][k]))
      }
    }
  }
  func mean(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count) }
  let top = all.sorted { $0.entropy > $1.entropy }.prefix(
    Int((Double(all.count) * 0.3).rounded(.up)))
  return [
    "hicra/planningRatio": Double(entropy.plan.count) / Double(max(all.count, 1)),
    "hicra/tokenEntropyPlanning": mean(entropy.plan),
    "hicra/tokenEntropyExecution": mean(entropy.exec),
    "hicra/perplexityPlanning": Foundation.exp(-mean(logProb.plan)),
    "hicra/perplexityExecution": Foundation.exp(-mean(logProb.exec)),
    "hicra/planningAdvantageMean": mean(advantage.plan),
    "hicra/executionAdvantageMean": mean(advantage.exec),
    "hicra/planningHighEntropyOverlap": top.isEmpty
      ? .nan : Double(top.filter(\.planning).count) / Double(top.count),
  ]
}

/// The share of groups whose rewards are not all equal (those that carry a gradient).
func effectivePromptRatio(_ rewards: [Double], groups: [String]) -> Double {
  let distinct = Dictionary(grouping: zip(groups, rewards), by: \.0).mapValues {
    Set($0.map(\.1)).count > 1
  }
  return Double(distinct.values.filter { $0 }.count) / Double(max(distinct.count, 1))
}
