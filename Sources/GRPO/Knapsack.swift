import Foundation

/// Knapsack-RL rollout budgets (Li et al., arXiv 2509.25849): spend the same total number
/// of rollouts as uniform GRPO, but on the prompts where a non-zero gradient is both likely
/// and useful. Pure functions over plain arrays; see docs/knapsack-rl.md.
public enum Knapsack {
  /// P(a group of n binary rewards with success rate p is not all equal).
  public static func probNonZero(_ n: Int, _ p: Double) -> Double {
    1 - Foundation.pow(p, Double(n)) - Foundation.pow(1 - p, Double(n))
  }

  /// p(1 − p)²: the information a prompt of success rate p carries (peak 4/27 at 1/3).
  public static func infoGain(_ p: Double) -> Double { p * (1 - p) * (1 - p) }

  /// The value of giving a prompt of success rate p a budget of n rollouts.
  public static func value(_ n: Int, _ p: Double) -> Double { probNonZero(n, p) * infoGain(p) }

  /// value(n + 1, p) − value(n, p), non-increasing in n.
  public static func delta(_ n: Int, _ p: Double) -> Double {
    infoGain(p) * (Foundation.pow(p, Double(n)) * (1 - p) + Foundation.pow(1 - p, Double(n)) * p)
  }

  /// Rollouts needed for a non-zero gradient with probability α.
  public static func rolloutsNeeded(_ p: Double, alpha: Double) -> Double {
    Foundation.log(1 - alpha) / Foundation.log(max(p, 1 - p))
  }

  /// The authors' second cost model: 1/(p(1 − p)) − 1 rollouts.
  public static func rolloutsExpected(_ p: Double) -> Double { 1 / (p * (1 - p)) - 1 }

  /// The budgets maximising Σ value(n_i, p_i) with Σ n_i = `total` and low ≤ n_i ≤ up:
  /// greedy on Δ with a max-heap (exact, since every value is concave), ties to the
  /// smaller index. Budget that fits nowhere (all at `up`) is returned as `unplaced`.
  public static func greedy(_ p: [Double], total: Int, low: Int, up: Int) -> (
    budgets: [Int], unplaced: Int
  ) {
    var budgets = [Int](repeating: low, count: p.count)
    var remaining = total - low * p.count
    precondition(
      remaining >= 0, "Knapsack.greedy: total \(total) is below \(p.count) × low (\(low))")
    var heap = MaxHeap()
    for i in p.indices where low < up { heap.push(delta(low, p[i]), i) }
    while remaining > 0, let (_, i) = heap.pop() {
      budgets[i] += 1
      remaining -= 1
      if budgets[i] < up { heap.push(delta(budgets[i], p[i]), i) }
    }
    return (budgets, remaining)
  }

  /// The optimum by exhaustive search, for small instances (tests).
  public static func bruteForce(_ p: [Double], total: Int, low: Int, up: Int) -> (
    budgets: [Int], value: Double
  ) {
    var best: ([Int], Double) = ([], -1)
    func search(_ i: Int, _ left: Int, _ chosen: [Int], _ acc: Double) {
      if i == p.count {
        if left == 0 && acc > best.1 + 1e-15 { best = (chosen, acc) }
        return
      }
      let slots = p.count - i - 1
      for n in low...up where left - n >= slots * low && left - n <= slots * up {
        search(i + 1, left - n, chosen + [n], acc + value(n, p[i]))
      }
    }
    search(0, total, [], 0)
    return best
  }

  /// The authors' dynamic program, quirks included, for comparison (`parity` mode): a
  /// prompt left at `low` scores 0 instead of value(low, p). Returns nil where it would
  /// have no feasible table (their code crashes).
  public static func authorsDynamicProgram(_ p: [Double], total: Int, low: Int, up: Int) -> [Int]? {
    let extra = total - low * p.count
    guard extra >= 0 else { return nil }
    let k = up - low
    // best[j] = (value, budgets) over the first i items with j extra rollouts used.
    var best = [(Double, [Int])?](repeating: nil, count: extra + 1)
    best[0] = (0, [])
    for q in p {
      var next = [(Double, [Int])?](repeating: nil, count: extra + 1)
      for j in 0...extra {
        guard let (v, chosen) = best[j] else { continue }
        for add in 0...min(k, extra - j) {
          let n = low + add
          let gain = add == 0 ? 0 : value(n, q)  // the quirk: N_low is worth nothing
          if next[j + add] == nil || v + gain > next[j + add]!.0 + 1e-15 {
            next[j + add] = (v + gain, chosen + [n])
          }
        }
      }
      best = next
    }
    return best[extra]?.1
  }
}

/// A binary max-heap of (key, index), ties broken by the smaller index.
struct MaxHeap {
  private var items: [(Double, Int)] = []

  private func above(_ a: (Double, Int), _ b: (Double, Int)) -> Bool {
    a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
  }

  mutating func push(_ key: Double, _ index: Int) {
    items.append((key, index))
    var c = items.count - 1
    while c > 0 {
      let parent = (c - 1) / 2
      guard above(items[c], items[parent]) else { break }
      items.swapAt(c, parent)
      c = parent
    }
  }

  mutating func pop() -> (Double, Int)? {
    guard !items.isEmpty else { return nil }
    let top = items[0]
    let last = items.removeLast()
    if !items.isEmpty {
      items[0] = last
      var i = 0
      while true {
        let (l, r) = (2 * i + 1, 2 * i + 2)
        var m = i
        if l < items.count && above(items[l], items[m]) { m = l }
        if r < items.count && above(items[r], items[m]) { m = r }
        if m == i { break }
        items.swapAt(i, m)
        i = m
      }
    }
    return top
  }
}
