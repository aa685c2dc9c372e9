import GRPO
import TensorCore
import Testing

@Test func valueFunctionTestVectors() {
  #expect(abs(Knapsack.probNonZero(8, 0.5) - 0.992_187_5) < 1e-12)
  #expect(abs(Knapsack.value(8, 0.5) - 0.124_023_437_5) < 1e-12)
  #expect(abs(Knapsack.value(2, 0.5) - 0.0625) < 1e-12)
  #expect(abs(Knapsack.value(8, 1.0 / 3) - 0.142_345_058_1) < 1e-10)
  #expect(abs(Knapsack.value(16, 1.0 / 8) - 0.084_403_735_8) < 1e-10)
  #expect(abs(Knapsack.value(93, 0.02) - 0.016_273_681_9) < 1e-10)
  #expect(abs(Knapsack.rolloutsNeeded(0.01, alpha: 0.9) - 229.105) < 1e-3)
  for (p, n) in [(0.5, 3.32), (1.0 / 8, 17.24), (1.0 / 16, 35.68)] {
    #expect(abs(Knapsack.rolloutsNeeded(p, alpha: 0.9) - n) < 5e-3)
  }
  // Δ is the difference of values and never increases.
  for p in [0.05, 0.3, 0.5, 0.9] {
    for n in 2..<40 {
      #expect(abs(Knapsack.delta(n, p) - (Knapsack.value(n + 1, p) - Knapsack.value(n, p))) < 1e-12)
      #expect(Knapsack.delta(n + 1, p) <= Knapsack.delta(n, p) + 1e-15)
    }
  }
}

@Test func greedyOptimumTestVector() {
  let p = [1.0 / 8, 0.5, 7.0 / 8]
  let (budgets, unplaced) = Knapsack.greedy(p, total: 24, low: 2, up: 128)
  #expect(budgets == [15, 7, 2] && unplaced == 0)
  let total = zip(budgets, p).reduce(0) { $0 + Knapsack.value($1.0, $1.1) }
  #expect(abs(total - 0.208_827_135_0) < 1e-9)
  #expect(abs(Knapsack.bruteForce(p, total: 24, low: 2, up: 128).value - total) < 1e-12)
}

@Test func greedyEqualsBruteForceOnRandomInstances() {
  var rng = RandomState(seed: 12)
  for _ in 0..<200 {
    let m = 1 + rng.nextInt(below: 4)
    let p = (0..<m).map { _ in 0.02 + 0.96 * rng.nextDouble() }
    let low = 1 + rng.nextInt(below: 3)
    let up = low + 1 + rng.nextInt(below: 8)
    let total = low * m + rng.nextInt(below: (up - low) * m + 1)
    let (budgets, unplaced) = Knapsack.greedy(p, total: total, low: low, up: up)
    #expect(unplaced == 0 && budgets.reduce(0, +) == total)
    #expect(budgets.allSatisfy { $0 >= low && $0 <= up })
    let greedyValue = zip(budgets, p).reduce(0) { $0 + Knapsack.value($1.0, $1.1) }
    let best = Knapsack.bruteForce(p, total: total, low: low, up: up).value
    #expect(abs(greedyValue - best) < 1e-12, "p \(p) total \(total) [\(low), \(up)]")
  }
}

@Test func fullAllocatorTestVectors() {
  let settings = KnapsackSettings(groupSize: 8, low: 2, up: 128)
  let mixed = allocateBudgets(
    [0, 1, 1.0 / 8, 1.0 / 4, 1.0 / 2, 3.0 / 4, 7.0 / 8, 0], settings: settings)
  #expect(mixed.budgets == [2, 2, 20, 14, 8, 10, 6, 2])
  #expect(!mixed.fallback)
  #expect(abs(mixed.neededOverRemaining - 53.0 / 48) < 1e-12)
  #expect(
    allocateBudgets([0, 0, 0, 0, 1, 1, 1, 1], settings: settings).budgets == [
      14, 14, 14, 14, 2, 2, 2, 2,
    ])
  #expect(
    allocateBudgets([Double?](repeating: 1, count: 8), settings: settings).budgets
      == [Int](repeating: 8, count: 8))
  // The authors' code crashes here: every prompt effective and C < R.
  let allEffective = allocateBudgets(
    [Double?](repeating: 0.5, count: 7) + [1.0 / 8], settings: settings)
  #expect(allEffective.budgets.reduce(0, +) == 64)
  #expect(allEffective.budgets.allSatisfy { $0 >= 2 && $0 <= 128 })
  // Too short a history: exactly N and out of the optimisation.
  let invalid = allocateBudgets(
    [nil, nil, 0.5, 0], settings: KnapsackSettings(groupSize: 4, low: 2, up: 16))
  #expect(invalid.budgets[0] == 4 && invalid.budgets[1] == 4 && invalid.budgets.reduce(0, +) == 16)
}

@Test func allocatorInvariantsOnRandomInstances() {
  var rng = RandomState(seed: 3)
  for _ in 0..<300 {
    let m = 1 + rng.nextInt(below: 40)
    let n = 2 + rng.nextInt(below: 10)
    let up = n + rng.nextInt(below: 100)
    let estimates: [Double?] = (0..<m).map { _ in
      switch rng.nextInt(below: 5) {
      case 0: nil
      case 1: 0
      case 2: 1
      default: rng.nextDouble()
      }
    }
    let settings = KnapsackSettings(groupSize: n, low: 2, up: up)
    let a = allocateBudgets(estimates, settings: settings)
    #expect(a.budgets.reduce(0, +) == m * n)
    #expect(a.budgets.allSatisfy { $0 >= 2 && $0 <= up })
    for (i, e) in estimates.enumerated() where e == nil { #expect(a.budgets[i] == n) }
    #expect(allocateBudgets(estimates, settings: settings) == a)  // deterministic
  }
}

@Test func parityModeReproducesTheAuthorsQuirk() {
  // Their DP scores a prompt left at N_low as worth 0, so it spreads rollouts thinly.
  let p = [0.5, 0.5, 0.5]
  let dp = Knapsack.authorsDynamicProgram(p, total: 9, low: 2, up: 128)!
  #expect(dp.reduce(0, +) == 9)
  let exact = Knapsack.greedy(p, total: 9, low: 2, up: 128).budgets
  let value = { (b: [Int]) in zip(b, p).reduce(0) { $0 + Knapsack.value($1.0, $1.1) } }
  #expect(value(exact) >= value(dp) - 1e-12)
  #expect(!dp.contains(2))  // no prompt left at N_low: each must earn the quirk's reward
}

@Test func estimatorFollowsTheSpec() {
  var h = RewardHistory()
  h.record("a", rewards: [1, 0, 1, 0, 1])
  #expect(h.estimate("a") == nil)  // 5 < 8 rollouts
  h.record("a", rewards: [1, 1, 1, 0])
  #expect(abs(h.estimate("a")! - 6.0 / 9) < 1e-12)  // all 9 recorded
  h.record("a", rewards: [Double](repeating: 0, count: 10))
  // Latest visit has 10 < 16: the 16 most recent rewards: 10 zeros, then 1,1,1,0, then 1,0.
  #expect(abs(h.estimate("a")! - 4.0 / 16) < 1e-12)
  h.record("a", rewards: [Double](repeating: 1, count: 16) + [0])
  #expect(abs(h.estimate("a")! - 16.0 / 17) < 1e-12)  // a visit of ≥ 16 stands alone
  var graded = RewardHistory(threshold: 0.7)
  graded.record("b", rewards: [0.8, 0.6, 0.71, 0.7, 0.9, 0.1, 1, 0.69])
  #expect(abs(graded.estimate("b")! - 4.0 / 8) < 1e-12)
  var prior = RewardHistory(prior: (1, 1))
  prior.record("c", rewards: [Double](repeating: 0, count: 8))
  #expect(abs(prior.estimate("c")! - 1.0 / 10) < 1e-12)
}

@Test func neverAndAlwaysSolvedPromptsStartAtTheirOwnBudgets() {
  // p̂ = [0, 1, ½, ½], N = 8: 32 rollouts; C = 2 × ⌊N_0.9(½)⌋ = 6.
  let p: [Double?] = [0, 1, 0.5, 0.5]
  // Defaults: everyone starts at N_low = 2, the p̂ = 0 prompt takes the surplus 24 − 6.
  #expect(allocateBudgets(p, settings: KnapsackSettings(groupSize: 8)).budgets == [20, 2, 5, 5])
  // Starting budgets 6 and 3: R = 32 − 13 = 19, the surplus 13 goes to the p̂ = 0 prompt.
  let own = allocateBudgets(
    p, settings: KnapsackSettings(groupSize: 8, neverSolved: 6, alwaysSolved: 3))
  #expect(own.budgets == [19, 3, 5, 5])
  #expect(own.fallback && abs(own.neededOverRemaining - 6.0 / 19) < 1e-12)
}

@Test func aTotalBudgetOtherThanMTimesNIsSpentExactly() {
  // p̂ = [½, ¼, unestimated], 20 rollouts: [2, 2, 8] leave R = 8 < C = 3 + 8, so the
  // effective prompts share 12 by the greedy: (5, 7).
  let settings = KnapsackSettings(groupSize: 8, total: 20)
  let allocation = allocateBudgets([0.5, 0.25, nil], settings: settings)
  #expect(allocation.budgets == [5, 7, 8] && !allocation.fallback)
  // Nothing estimated: 24 > 20, so the uniform fallback shares 20, the first taking more.
  #expect(allocateBudgets([nil, nil, nil], settings: settings).budgets == [7, 7, 6])
  #expect(allocateBudgets([1, 1, 1], settings: settings).budgets == [7, 7, 6])
}

@Test func theExpectationCostModelChangesWhatTheFallbackFrees() {
  #expect(Knapsack.rolloutsExpected(0.5) == 3)
  #expect(abs(Knapsack.rolloutsExpected(0.25) - 13.0 / 3) < 1e-12)
  // p̂ = [¼, 0, ¼, 1], 32 rollouts, R = 24. By probability C = 2 × ⌊8.004⌋ = 16: the p̂ = 0
  // prompt takes 8 more and the effective ones share 20; by expectation C = 2 × ⌊4.33⌋ = 8.
  let p: [Double?] = [0.25, 0, 0.25, 1]
  let probability = allocateBudgets(p, settings: KnapsackSettings(groupSize: 8))
  #expect(probability.budgets == [10, 10, 10, 2])
  #expect(abs(probability.neededOverRemaining - 16.0 / 24) < 1e-12)
  let expectation = allocateBudgets(p, settings: KnapsackSettings(groupSize: 8, cost: .expectation))
  #expect(expectation.budgets == [6, 18, 6, 2])
  #expect(abs(expectation.neededOverRemaining - 8.0 / 24) < 1e-12)
}

@Test func thePlainSlidingWindowIgnoresVisitBoundaries() {
  var latest = RewardHistory(window: 4, minimum: 4)
  var sliding = RewardHistory(window: 4, minimum: 4, estimator: .slidingWindow)
  for visit: [Double] in [[1, 1, 1, 1], [0, 0]] {
    latest.record("a", rewards: visit)
    sliding.record("a", rewards: visit)
  }
  // The latest visit is shorter than the window: both take the 4 most recent rewards.
  #expect(latest.estimate("a") == 0.5 && sliding.estimate("a") == 0.5)
  latest.record("a", rewards: [1, 1, 0, 0, 0, 0])
  sliding.record("a", rewards: [1, 1, 0, 0, 0, 0])
  // A visit of ≥ 4 stands alone for the spec's rule; the plain window sees its last 4.
  #expect(abs(latest.estimate("a")! - 2.0 / 6) < 1e-12)
  #expect(sliding.estimate("a") == 0)
  #expect(latest != sliding && latest.emptied == RewardHistory(window: 4, minimum: 4))
}
