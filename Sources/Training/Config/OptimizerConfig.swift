import Optim
import TensorCore

/// The optimizer and its learning-rate schedule.
public struct OptimizerConfig: Codable, Equatable, Sendable {
  public var kind = OptimizerKind.adamw
  /// The learning rate before the schedule.
  public var learningRate = 0.01
  /// Adam's first-moment decay.
  public var beta1 = 0.9
  /// Adam's second-moment decay.
  public var beta2 = 0.999
  /// Adam's denominator constant.
  public var eps = 1e-8
  /// Weight decay: decoupled for AdamW, L2 added to the gradient for Adam and SGD.
  public var weightDecay = 0.0
  /// SGD momentum (ignored by Adam).
  public var momentum = 0.9
  /// How the learning rate changes over the run.
  public var schedule = ScheduleKind.cosine
  /// Linear warm-up steps (for `linearWarmup` and `cosine`).
  public var warmupSteps = 50
  /// The cosine schedule's final fraction of the learning rate.
  public var minLearningRateFactor = 0.05
  /// Global gradient-norm clip; 0 turns clipping off.
  public var gradClip = 1.0
}

public enum OptimizerKind: String, ConfigChoice {
  case sgd, adam, adamw
}

public enum ScheduleKind: String, ConfigChoice {
  case constant, linearWarmup, cosine
}

extension OptimizerConfig {
  func validate(_ check: inout ConfigCheck) {
    check.require(learningRate > 0, "optimizer.learningRate", learningRate, "must be > 0")
    check.require((0..<1).contains(beta1), "optimizer.beta1", beta1, "must lie in [0, 1)")
    check.require((0..<1).contains(beta2), "optimizer.beta2", beta2, "must lie in [0, 1)")
    check.require(eps > 0, "optimizer.eps", eps, "must be > 0")
    check.require(weightDecay >= 0, "optimizer.weightDecay", weightDecay, "must be ≥ 0")
    check.require(
      (0..<1).contains(momentum), "optimizer.momentum", momentum, "must lie in [0, 1)")
    check.require(warmupSteps >= 0, "optimizer.warmupSteps", warmupSteps, "must be ≥ 0")
    check.require(
      (0...1).contains(minLearningRateFactor), "optimizer.minLearningRateFactor",
      minLearningRateFactor, "must lie in [0, 1]")
    check.require(gradClip >= 0, "optimizer.gradClip", gradClip, "must be ≥ 0 (0: off)")
    check.bound(
      warmupSteps, "optimizer.warmupSteps", 0...ConfigLimits.steps, "run.steps is bounded so")
    for (value, key) in [
      (learningRate, "optimizer.learningRate"), (beta1, "optimizer.beta1"),
      (beta2, "optimizer.beta2"), (eps, "optimizer.eps"), (weightDecay, "optimizer.weightDecay"),
      (momentum, "optimizer.momentum"),
      (minLearningRateFactor, "optimizer.minLearningRateFactor"),
      (gradClip, "optimizer.gradClip"),
    ] {
      check.float(value, key)
    }
    for (value, key) in [
      (beta1, "optimizer.beta1"), (beta2, "optimizer.beta2"), (momentum, "optimizer.momentum"),
    ] {
      check.belowOneInFloat(value, key)
    }
  }

  /// The optimizer this section asks for, with its schedule over `steps`.
  public func makeOptimizer(steps: Int, parameters: [(String, Tensor)]) -> any Optimizer {
    let schedule: LearningRateSchedule =
      switch self.schedule {
      case .constant: .constant
      case .linearWarmup: .linearWarmup(warmup: warmupSteps)
      case .cosine:
        .cosine(warmup: warmupSteps, total: steps, minFactor: Float(minLearningRateFactor))
      }
    let lr = Float(learningRate)
    switch kind {
    case .sgd:
      return SGD(
        parameters: parameters, learningRate: lr, momentum: Float(momentum),
        weightDecay: Float(weightDecay), schedule: schedule)
    case .adam, .adamw:
      return Adam(
        parameters: parameters, learningRate: lr, beta1: Float(beta1), beta2: Float(beta2),
        eps: Float(eps), weightDecay: Float(weightDecay), decoupledWeightDecay: kind == .adamw,
        schedule: schedule)
    }
  }
}
