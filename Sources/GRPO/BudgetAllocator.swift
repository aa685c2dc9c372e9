import Foundation

/// How the fallback estimates the rollouts an effective prompt needs (C of the spec).
public enum KnapsackCostModel: String, Sendable, CaseIterable {
  /// N_α(p) = ln(1 − α)/ln(max(p, 1 − p)): a non-zero gradient with probability α.
  case probability
  /// 1/(p(1 − p)) − 1: the authors' second model, from the expected rollouts to see both a
  /// success and a failure.
  case expectation
}

/// Knapsack-RL settings.
public struct KnapsackSettings: Equatable, Sendable {
  /// The uniform budget N: what a prompt without an estimate gets.
  public var groupSize = 8
  public var low = 2
  public var up = 128
  /// α of N_α(p), the rollouts needed for a non-zero gradient with probability α.
  public var alpha = 0.9
  /// Whether to reproduce the authors' dynamic program, quirks included.
  public var parity = false
  /// The starting budget of a prompt with p̂ = 0 (never solved) and p̂ = 1 (always solved);
  /// 0: `low`. The authors' `negative_n` and `positive_n`.
  public var neverSolved = 0
  public var alwaysSolved = 0
  /// The rollouts one allocation spends; 0: M·N (M prompts), the uniform total.
  public var total = 0
  public var cost = KnapsackCostModel.probability

  public init(
    groupSize: Int = 8, low: Int = 2, up: Int = 128, alpha: Double = 0.9, parity: Bool = false,
    neverSolved: Int = 0, alwaysSolved: Int = 0, total: Int = 0,
    cost: KnapsackCostModel = .probability
  ) {
    self.groupSize = groupSize
    self.low = low
    self.up = up
    self.alpha = alpha
    self.parity = parity
    self.neverSolved = neverSolved
    self.alwaysSolved = alwaysSolved
    self.total = total
    self.cost = cost
  }

  /// The rollouts an effective prompt of success rate p needs, by `cost`.
  func rolloutsNeeded(_ p: Double) -> Double {
    switch cost {
    case .probability: Knapsack.rolloutsNeeded(p, alpha: alpha)
    case .expectation: Knapsack.rolloutsExpected(p)
    }
  }
}

/// The result of one allocation.
public struct BudgetAllocation: Equatable, Sendable {
  public var budgets: [Int]
  /// Whether the p̂ = 0 surplus fallback or a reset to uniform was used.
  public var fallback: Bool
  /// C / R: rollouts the effective prompts need over the rollouts left to allocate.
  public var neededOverRemaining: Double
  /// Prompts with 0 < p̂ < 1.
  public var effective: Int
}

/// The exact Knapsack-RL allocator of the spec, robust where the authors' code fails.
/// `estimates[i]` is p̂ of prompt i, or nil when its history is too short (it gets N).
/// p̂ = 0 and p̂ = 1 prompts start at their own budgets when `settings` name them, and the
/// allocation spends `settings.total` when it is set (a uniform fallback then shares it
/// evenly, the first prompts taking the remainder).
public func allocateBudgets(_ estimates: [Double?], settings s: KnapsackSettings)
  -> BudgetAllocation
{
  let m = estimates.count
  let total = s.total > 0 ? s.total : m * s.groupSize
  var budgets = estimates.map { p -> Int in
    switch p {
    case nil: s.groupSize
    case 0: s.neverSolved > 0 ? s.neverSolved : s.low
    case 1: s.alwaysSolved > 0 ? s.alwaysSolved : s.low
    default: s.low
    }
  }
  let uniform = BudgetAllocation(
    budgets: (0..<m).map { total / m + ($0 < total % m ? 1 : 0) }, fallback: true,
    neededOverRemaining: 0, effective: 0)
  var remaining = total - budgets.reduce(0, +)
  guard remaining >= 0 else { return uniform }
  let effective = estimates.indices.filter { (estimates[$0] ?? 0) > 0 && (estimates[$0] ?? 1) < 1 }
  let zeros = estimates.indices.filter { estimates[$0] == 0 }
  let ones = estimates.indices.filter { estimates[$0] == 1 }
  let needed = effective.reduce(0) { c, i in
    c + min(s.up, Int(s.rolloutsNeeded(estimates[i]!).rounded(.down)))
  }
  let ratio = remaining > 0 ? Double(needed) / Double(remaining) : 0
  if effective.isEmpty && zeros.isEmpty {
    return BudgetAllocation(
      budgets: uniform.budgets, fallback: true, neededOverRemaining: ratio, effective: 0)
  }
  var fallback = false
  var optimiserBudget = remaining
  if needed < remaining && !zeros.isEmpty {
    // The p̂ = 0 prompts take the surplus evenly (capped at N_up); what the caps refuse
    // goes back to the optimiser.
    fallback = true
    var surplus = remaining - needed
    optimiserBudget = needed
    surplus = spread(surplus, over: zeros, budgets: &budgets, cap: s.up)
    optimiserBudget += surplus
  }
  remaining = 0
  if !effective.isEmpty {
    let p = effective.map { estimates[$0]! }
    let start = effective.reduce(0) { $0 + budgets[$1] }
    if s.parity,
      let dp = Knapsack.authorsDynamicProgram(
        p, total: start + optimiserBudget, low: s.low, up: s.up)
    {
      for (k, i) in effective.enumerated() { budgets[i] = dp[k] }
    } else {
      let (chosen, unplaced) = Knapsack.greedy(
        p, total: start + optimiserBudget, low: s.low, up: s.up)
      for (k, i) in effective.enumerated() { budgets[i] = chosen[k] }
      remaining = unplaced
    }
  } else {
    remaining = optimiserBudget
  }
  // Leftovers: p̂ = 0 prompts, then p̂ = 1, then everyone, within N_up where possible.
  for group in [zeros, ones, Array(0..<m)] where remaining > 0 {
    remaining = spread(remaining, over: group, budgets: &budgets, cap: s.up)
  }
  if remaining > 0 {
    remaining = spread(remaining, over: Array(0..<m), budgets: &budgets, cap: Int.max)
  }
  precondition(
    budgets.reduce(0, +) == total && budgets.allSatisfy { $0 >= min(s.low, s.groupSize) },
    "allocateBudgets: \(budgets) do not spend \(total) with at least \(min(s.low, s.groupSize)) each"
  )
  return BudgetAllocation(
    budgets: budgets, fallback: fallback, neededOverRemaining: ratio, effective: effective.count)
}

/// Adds `amount` round-robin over `indices` (in order) without exceeding `cap`; returns
/// what did not fit.
private func spread(_ amount: Int, over indices: [Int], budgets: inout [Int], cap: Int) -> Int {
  var left = amount
  while left > 0 {
    let open = indices.filter { budgets[$0] < cap }
    if open.isEmpty { break }
    let share = max(1, left / open.count)
    for i in open where left > 0 {
      let add = min(share, cap - budgets[i], left)
      budgets[i] += add
      left -= add
    }
  }
  return left
}

/// Which rewards p̂ is the success rate of.
public enum SuccessEstimator: String, Sendable, CaseIterable {
  /// The latest visit's when it had ≥ `window` rollouts, else the `window` most recent.
  case latestVisit
  /// Always the `window` most recent rewards (the plain sliding window).
  case slidingWindow
}

/// Per-prompt reward histories keyed by stable prompt id, and the p̂ estimator
/// (`estimator`): by default the latest visit's mean when it had ≥ `window` rollouts,
/// otherwise the mean of the `window` most recent rewards walking back through earlier
/// visits; invalid (nil) below `minimum` recorded rollouts. Rewards are binarised at
/// `threshold`.
public struct RewardHistory: Equatable, Sendable {
  public var window = 16
  public var minimum = 8
  public var threshold = 0.5
  /// A Beta(a, b) prior added to the counts; (0, 0) is off.
  public var prior: (a: Double, b: Double) = (0, 0)
  public var estimator = SuccessEstimator.latestVisit
  /// Successes (1) and failures (0) per visit, oldest first, by prompt id.
  public private(set) var visits: [String: [[Double]]] = [:]

  public init(
    window: Int = 16, minimum: Int = 8, threshold: Double = 0.5,
    prior: (a: Double, b: Double) = (0, 0), estimator: SuccessEstimator = .latestVisit
  ) {
    self.window = window
    self.minimum = minimum
    self.threshold = threshold
    self.prior = prior
    self.estimator = estimator
  }

  /// These settings with no visits recorded.
  public var emptied: RewardHistory {
    RewardHistory(
      window: window, minimum: minimum, threshold: threshold, prior: prior, estimator: estimator)
  }

  public static func == (l: RewardHistory, r: RewardHistory) -> Bool {
    l.window == r.window && l.minimum == r.minimum && l.threshold == r.threshold
      && l.prior == r.prior && l.estimator == r.estimator
      && l.visits == r.visits
  }

  /// Records one visit's rewards for `id`.
  public mutating func record(_ id: String, rewards: [Double]) {
    visits[id, default: []].append(rewards.map { $0 > threshold ? 1 : 0 })
  }

  /// Appends a visit of rewards already binarised (a restored checkpoint).
  public mutating func restoreVisit(_ id: String, binarised: [Double]) {
    visits[id, default: []].append(binarised)
  }

  /// p̂ for `id`, or nil when fewer than `minimum` rollouts are recorded.
  public func estimate(_ id: String) -> Double? {
    guard let history = visits[id] else { return nil }
    let recorded = history.reduce(0) { $0 + $1.count }
    guard recorded >= minimum else { return nil }
    var sample: [Double]
    if estimator == .latestVisit, let last = history.last, last.count >= window {
      sample = last
    } else {
      sample = []
      for visit in history.reversed() where sample.count < window {
        sample += visit.reversed().prefix(window - sample.count)
      }
    }
    let successes = sample.reduce(0, +)
    return (successes + prior.a) / (Double(sample.count) + prior.a + prior.b)
  }
}
