import Foundation
import TensorCore

/// Which policy-gradient term a GRPO loss uses (docs/grpo.md, "Loss families").
public enum PolicyLossFamily: String, Sendable, CaseIterable {
  /// The token-level clipped surrogate −min(ρ·Â, clip(ρ)·Â) (PPO, GRPO, DAPO; the default).
  case clipped
  /// GSPO (Zheng et al. 2025): the same surrogate with the length-normalised sequence ratio
  /// s = exp(mean_t log ρ_t) and its own clip range, in its token form (GSPO-token).
  case gspo
  /// CISPO (MiniMax-M1, 2025): −sg(clip(ρ))·Â·log π: every token keeps a gradient, the
  /// importance weight is clipped and not differentiated.
  case cispo
}

/// The per-decision KL estimators of π_θ against π_ref (Schulman, "Approximating KL
/// divergence"), with δ = log π_ref − log π_θ.
public enum KLEstimator: String, Sendable, CaseIterable {
  /// −δ = log π_θ − log π_ref (unbiased, may be negative).
  case k1
  /// δ²/2 (verl's `mse`; biased, low variance).
  case k2
  /// e^δ − δ − 1 (unbiased, never negative; the default).
  case k3
  /// |δ|.
  case abs

  /// The estimate of every element of `delta` = log π_ref − log π_θ.
  public func callAsFunction(_ delta: Tensor) -> Tensor {
    switch self {
    case .k1: -delta
    case .k2: 0.5 * delta * delta
    case .k3: delta.exp() - delta - 1
    case .abs: delta.abs()
    }
  }

  /// The same estimate of one value, without the tape.
  public func callAsFunction(_ delta: Double) -> Double {
    switch self {
    case .k1: -delta
    case .k2: 0.5 * delta * delta
    case .k3: Foundation.exp(delta) - delta - 1
    case .abs: Swift.abs(delta)
    }
  }
}

/// The "80/20" entropy mask (Wang et al. 2025, "Beyond the 80/20 Rule"): per rollout, 1 on
/// the decisions whose entropy is among the highest `fraction` of all masked decisions of
/// the batch, 0 elsewhere. The cut is the ⌈fraction·n⌉-th largest entropy of the n masked
/// decisions; every decision at or above it is kept (ties keep a little more).
public func highEntropyMask(entropies: [[Float]], masks: [[Float]], fraction: Double) -> (
  mask: [[Float]], threshold: Float
) {
  let pool = zip(entropies, masks).flatMap { e, m in zip(e, m).filter { $0.1 > 0 }.map(\.0) }
  guard !pool.isEmpty else { return (masks, .infinity) }
  // 1e-9 keeps a product such as 0.7 × 10 = 7.000000000000001 from rounding up to 8.
  let keep = min(pool.count, max(1, Int((fraction * Double(pool.count) - 1e-9).rounded(.up))))
  let threshold = pool.sorted(by: >)[keep - 1]
  let mask = zip(entropies, masks).map { e, m in
    zip(e, m).map { $0 >= threshold && $1 > 0 ? 1 : 0 } as [Float]
  }
  return (mask, threshold)
}
