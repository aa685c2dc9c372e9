import Foundation
import TensorCore

/// Updates named parameters from their gradients. State is addressable by parameter name
/// so checkpoints can save and restore it.
public protocol Optimizer: AnyObject {
  /// The parameters being optimised, by dotted name.
  var parameters: [(String, Tensor)] { get }
  /// The number of updates applied so far (drives bias correction and the schedule).
  var stepCount: Int { get set }
  /// The learning rate before the schedule is applied.
  var baseLearningRate: Float { get set }
  /// How the learning rate changes with `stepCount`.
  var schedule: LearningRateSchedule { get set }
  /// Applies one update from each parameter's `grad` (parameters without one are skipped).
  func step()
  /// Per-parameter state tensors, named `<parameter>/<slot>` (e.g. `fc.weight/m`).
  func namedState() -> [(String, Tensor)]
  /// The settings that define the update, by name (saved with checkpoints for reference).
  var hyperparameters: [String: Double] { get }
}

extension Optimizer {
  /// The learning rate the next `step()` uses.
  public var currentLearningRate: Float {
    baseLearningRate * schedule.factor(at: stepCount)
  }

  /// Clears every parameter's gradient.
  public func zeroGrad() {
    for (_, p) in parameters { p.grad = nil }
  }
}

/// A multiplier on the base learning rate as a function of the step.
public enum LearningRateSchedule: Codable, Equatable, Sendable {
  /// Always 1.
  case constant
  /// Rises linearly from 1/warmup to 1 over `warmup` steps, then stays at 1.
  case linearWarmup(warmup: Int)
  /// Linear warm-up, then a cosine decay to `minFactor` at `total` steps (held after).
  case cosine(warmup: Int, total: Int, minFactor: Float)

  /// The multiplier for the update numbered `step` (0-based).
  public func factor(at step: Int) -> Float {
    switch self {
    case .constant:
      return 1
    case .linearWarmup(let warmup):
      return warmup > 0 && step < warmup ? Float(step + 1) / Float(warmup) : 1
    case .cosine(let warmup, let total, let minFactor):
      if warmup > 0 && step < warmup { return Float(step + 1) / Float(warmup) }
      let span = max(total - warmup, 1)
      let progress = min(Float(step - warmup) / Float(span), 1)
      return minFactor + (1 - minFactor) * 0.5 * (1 + Foundation.cos(Float.pi * progress))
    }
  }
}

/// Scales all gradients together so that their global L2 norm is at most `maxNorm`.
/// Returns the norm before clipping. Parameters without a gradient are ignored.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
  var total: Double = 0
  for p in parameters {
    p.grad?.withUnsafeBufferPointer { g in
      var s: Float = 0
      for x in g { s += x * x }
      total += Double(s)
    }
  }
  let norm = Float(total.squareRoot())
  if norm > maxNorm && norm > 0 {
    let scale = maxNorm / (norm + 1e-6)
    for p in parameters {
      p.grad?.withUnsafeMutableBufferPointer { g in
        for i in g.indices { g[i] *= scale }
      }
    }
  }
  return norm
}
