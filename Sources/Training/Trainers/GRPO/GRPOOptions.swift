import GRPO

/// What the GRPO step reads, resolved once from the config (`grpo`, `knapsack`, `hicra`
/// and `optimizer.gradClip`): typed values, never the raw config in the hot loop.
public struct GRPOOptions: Sendable {
  /// Contexts per step (M).
  public var promptsPerStep: Int
  /// The uniform rollout budget per context (N).
  public var groupSize: Int
  /// Knapsack-RL's allocation of M·N rollouts; nil: N per context.
  public var knapsack: KnapsackSettings?
  /// The reward histories Knapsack-RL estimates success rates from (kept even when off).
  public var history: RewardHistory
  public var advantageEstimator: AdvantageEstimator
  public var advantageScaling: AdvantageScaling
  public var advantageClip: Double
  /// The k of pass@k advantages.
  public var passK: Int
  /// The reward's KL penalty β·Σ_t KL_t; nil: KL (if any) is in the loss.
  public var rewardKL: (beta: Double, estimator: KLEstimator)?
  /// The share of the batch's decisions, by entropy, that carries the policy gradient.
  public var entropyTopFraction: Double
  /// HICRA's credit on planning decisions; nil: every decision gets its rollout's advantage.
  public var hicra: HICRAOptions?
  /// The loss (family, clip ranges, KL, entropy bonus, aggregation); its length budget is
  /// the policy's, set each step.
  public var surrogate: SurrogateOptions
  /// Optimizer passes over each batch (μ).
  public var epochs: Int
  /// Rollouts per gradient-accumulation minibatch; 0: the whole batch.
  public var minibatchSize: Int
  /// Optimizer steps per pass (k): the batch is cut into k minibatches.
  public var stepsPerBatch: Int
  /// Leave rollouts whose every decision has advantage 0 out of the scoring passes.
  public var skipZeroAdvantage: Bool
  /// Every `every` steps the reference moves to α·π + (1 − α)·π_ref; nil: frozen.
  public var referenceSync: (every: Int, alpha: Float)?
  /// DAPO's dynamic sampling; nil: every drawn group trains.
  public var dynamicSampling: DynamicSampling?
  /// Global gradient-norm clip; 0: off.
  public var gradClip: Double

  public init(_ config: ExperimentConfig) {
    let g = config.grpo
    let k = config.knapsack
    promptsPerStep = g.promptsPerStep
    groupSize = g.groupSize
    knapsack =
      k.enabled
      ? KnapsackSettings(
        groupSize: g.groupSize, low: k.low, up: k.up, alpha: k.alpha, parity: k.mode == .parity,
        neverSolved: k.neverSolvedBudget, alwaysSolved: k.alwaysSolvedBudget,
        total: k.totalBudget, cost: k.costModel)
      : nil
    // Histories record successes as 1 and failures as 0.
    history = RewardHistory(
      window: k.window, minimum: k.minimum, threshold: 0.5,
      prior: (k.priorSuccesses, k.priorFailures), estimator: k.estimator)
    advantageEstimator = g.advantageEstimator
    advantageScaling = g.advantageScaling
    advantageClip = g.advantageClip
    passK = g.passK
    rewardKL = g.klInReward ? (g.beta, g.klEstimator) : nil
    entropyTopFraction = g.entropyTopFraction
    let h = config.hicra
    hicra =
      h.enabled
      ? HICRAOptions(alpha: h.alpha, variant: h.variant, entropyPercentile: h.entropyPercentile)
      : nil
    surrogate = SurrogateOptions(
      epsilonLow: Float(g.epsilonLow), epsilonHigh: Float(g.epsilonHigh),
      dualClip: g.dualClip > 0 ? Float(g.dualClip) : nil, beta: g.klInReward ? 0 : Float(g.beta),
      aggregation: g.lossAggregation, family: g.policyLoss,
      sequenceEpsilonLow: Float(g.gspoEpsilonLow), sequenceEpsilonHigh: Float(g.gspoEpsilonHigh),
      klEstimator: g.klEstimator, entropyCoefficient: Float(g.entropyCoefficient))
    epochs = g.epochs
    minibatchSize = g.minibatchSize
    stepsPerBatch = g.stepsPerBatch
    skipZeroAdvantage = g.skipZeroAdvantage
    referenceSync =
      g.referenceSyncEvery > 0 ? (g.referenceSyncEvery, Float(g.referenceSyncAlpha)) : nil
    let d = config.dynamicSampling
    dynamicSampling =
      d.enabled ? DynamicSampling(tolerance: d.tolerance, maxDraws: d.maxDraws) : nil
    gradClip = config.optimizer.gradClip
  }
}

/// DAPO's dynamic sampling: groups whose rewards lie within `tolerance` of each other are
/// dropped, and more prompts are drawn until M groups are informative or `maxDraws` draws
/// were made.
public struct DynamicSampling: Sendable {
  public var tolerance: Double
  public var maxDraws: Int

  /// Whether a group of these rewards carries a gradient signal.
  func informative(_ rewards: [Double]) -> Bool {
    guard let low = rewards.min(), let high = rewards.max() else { return false }
    return high - low > tolerance
  }
}

/// HICRA's advantage rule and the decisions it amplifies (docs/hicra.md).
public struct HICRAOptions: Sendable {
  /// Â = A + α·|A| on amplified decisions.
  public var alpha: Double
  public var variant: HICRAVariant
  /// The entropy variants amplify decisions above this per-rollout entropy percentile.
  public var entropyPercentile: Double
}
