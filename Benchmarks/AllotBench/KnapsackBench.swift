import Foundation
import GRPO
import TensorCore

/// Knapsack-RL allocation time per call: 256 prompts × N = 8 (the paper's setting) and
/// 4096 prompts, with estimates spread over [0, 1] (a fifth of them exactly 0 or 1).
func benchmarkKnapsack() {
  for prompts in [256, 4096] {
    var rng = RandomState(seed: 5)
    let estimates: [Double?] = (0..<prompts).map { _ in
      switch rng.nextInt(below: 10) {
      case 0: 0
      case 1: 1
      default: rng.nextDouble()
      }
    }
    let settings = KnapsackSettings(groupSize: 8, low: 2, up: 128)
    var allocation = allocateBudgets(estimates, settings: settings)
    let iterations = prompts <= 256 ? 200 : 20
    let seconds = secondsPerCall(iterations: iterations) {
      allocation = allocateBudgets(estimates, settings: settings)
    }
    print(
      String(
        format:
          "knapsack allocation, %4d prompts × N = 8: %8.3f ms per call (max budget %d, min %d)",
        prompts,
        seconds * 1e3, allocation.budgets.max()!, allocation.budgets.min()!))
  }
  // The authors' dynamic program on a small instance, for scale (O(M·B·K)).
  var rng = RandomState(seed: 6)
  let p = (0..<64).map { _ in 0.05 + 0.9 * rng.nextDouble() }
  let dpSeconds = secondsPerCall(iterations: 1, repeats: 3) {
    _ = Knapsack.authorsDynamicProgram(p, total: 64 * 8, low: 2, up: 128)
  }
  let greedySeconds = secondsPerCall(iterations: 100) {
    _ = Knapsack.greedy(p, total: 64 * 8, low: 2, up: 128)
  }
  print(
    String(
      format: "64 prompts × N = 8: authors' dynamic program %.1f ms, heap greedy %.3f ms",
      dpSeconds * 1e3, greedySeconds * 1e3))
}
