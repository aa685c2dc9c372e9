import GRPO
import Reasoning

/// The GRPO trainer (`kind: "grpo"`); see docs/grpo.md.
public struct GRPOConfig: Codable, Equatable, Sendable {
  /// A checkpoint (usually an `sft` run's) whose model starts the policy; "" starts from
  /// random weights. Its model settings must equal `model.*`.
  public var initFrom = ""
  /// Prompts per step (M).
  public var promptsPerStep = 16
  /// Completions per prompt (N), the uniform rollout budget; at least 2.
  public var groupSize = 8
  public var advantageScaling = AdvantageScaling.group
  /// Advantages are clipped to ± this.
  public var advantageClip = 5.0
  public var lossAggregation = LossAggregation.tokenMean
  /// The ratio's lower clip is 1 − epsilonLow.
  public var epsilonLow = 0.2
  /// The ratio's upper clip is 1 + epsilonHigh (clip-higher).
  public var epsilonHigh = 0.28
  /// Dual clip constant c (for Â < 0 the per-token loss is capped at −Â·c); 0 turns it off.
  public var dualClip = 0.0
  /// KL weight β against a frozen copy of the starting policy; 0: no reference.
  public var beta = 0.0
  /// The per-decision KL estimator: `k1`, `k2` (alias `mse`), `k3`, `abs`.
  public var klEstimator = KLEstimator.k3
  /// Subtract β·Σ_t KL_t from each rollout's reward before advantages instead of adding
  /// β·KL to the loss.
  public var klInReward = false
  /// The policy-gradient term: `clipped` (token ratio), `gspo` (sequence ratio), `cispo`.
  public var policyLoss = PolicyLossFamily.clipped
  /// GSPO's clip range of the sequence ratio, [1 − gspoEpsilonLow, 1 + gspoEpsilonHigh].
  public var gspoEpsilonLow = 3e-4
  public var gspoEpsilonHigh = 4e-4
  /// Weight of the entropy bonus in the loss; 0: none.
  public var entropyCoefficient = 0.0
  /// Only the highest-entropy share of the batch's decisions carries the policy gradient
  /// ("80/20"); 1: every decision.
  public var entropyTopFraction = 1.0
  /// `groupMean`, `rloo`, `reinforcePlusPlus`, `reinforcePlusPlusBaseline`, `passAtK`.
  public var advantageEstimator = AdvantageEstimator.groupMean
  /// The k of `passAtK` advantages; at most the smallest group.
  public var passK = 4
  /// Optimizer passes over each batch (μ).
  public var epochs = 1
  /// Completions per gradient-accumulation minibatch; 0: the whole batch at once.
  public var minibatchSize = 0
  /// Sampling temperature (log-probs are taken at the same temperature).
  public var temperature = 1.0
  /// Nucleus sampling threshold; 1 turns it off.
  public var topP = 1.0
  /// Keep the k most likely tokens; 0 turns it off.
  public var topK = 0
  /// Keep tokens at least this times as likely as the most likely one (min-p); 0: off.
  public var minP = 0.0
  /// transformers' repetition penalty over the prompt and the completion so far; 1: off.
  public var repetitionPenalty = 1.0
  /// The longest completion sampled; longer ones are cut (and counted).
  public var maxCompletionLength = 160
  /// Leave truncated completions out of the loss.
  public var maskTruncated = false
  /// Skip the forward and backward of rollouts whose every decision has advantage 0: their
  /// gradient is exactly 0 (β = 0 or KL in the reward, no entropy bonus), so only float
  /// rounding changes, and the update costs in proportion to the informative rollouts.
  public var skipZeroAdvantage = false
  /// Language models: score a group's completions after one pass of their shared prompt
  /// (its keys and values broadcast to the rows) instead of each repeating it; the same
  /// loss and gradients up to float rounding.
  public var sharedPromptScoring = true
  /// Prompts per logged step whose completions go to completions.jsonl.
  public var completionsLogged = 2
  /// Optimizer steps per pass over each batch (k): the shuffled rollouts are cut into k
  /// minibatches, each normalised on its own and followed by its own optimizer step.
  public var stepsPerBatch = 1
  /// Every this many steps the reference becomes α·π + (1 − α)·π_ref (TR-DPO); 0: frozen.
  public var referenceSyncEvery = 0
  /// α of the reference sync.
  public var referenceSyncAlpha = 0.6
}

/// DAPO's dynamic sampling for GRPO (docs/grpo.md#dynamic-sampling).
public struct DynamicSamplingConfig: Codable, Equatable, Sendable {
  /// Drop groups whose rewards all lie within `tolerance` and draw more prompts.
  public var enabled = false
  /// A group is informative when its largest and smallest reward differ by more than this.
  public var tolerance = 1e-6
  /// The most draws of M prompts one step makes (the first included).
  public var maxDraws = 4
}

/// Knapsack-RL rollout budgets for GRPO (docs/knapsack-rl.md).
public struct KnapsackConfig: Codable, Equatable, Sendable {
  /// Allocate each step's M·N rollouts by Knapsack-RL instead of N per prompt.
  public var enabled = false
  /// The smallest budget of a prompt (N_low).
  public var low = 2
  /// The largest budget of a prompt (N_up).
  public var up = 128
  /// α of N_α(p), the rollouts needed for a non-zero gradient with probability α.
  public var alpha = 0.9
  /// p̂ uses the latest visit when it had at least this many rollouts, else this many
  /// most recent rewards.
  public var window = 16
  /// Prompts with fewer recorded rollouts get exactly N.
  public var minimum = 8
  /// A reward above this counts as a success.
  public var successThreshold = 0.5
  /// Beta prior pseudo-counts (successes, failures) added to p̂; 0, 0 is off.
  public var priorSuccesses = 0.0
  public var priorFailures = 0.0
  /// `exact` (the optimal greedy with Allot's robust fallbacks) or `parity` (the authors'
  /// dynamic program, quirk included, for comparison).
  public var mode = KnapsackMode.exact
  /// The starting budget of a prompt never solved (p̂ = 0); 0: `low`.
  public var neverSolvedBudget = 0
  /// The starting budget of a prompt always solved (p̂ = 1); 0: `low`.
  public var alwaysSolvedBudget = 0
  /// Rollouts per step; 0: M·N, the uniform total.
  public var totalBudget = 0
  /// The fallback's estimate of the rollouts an effective prompt needs.
  public var costModel = KnapsackCostModel.probability
  /// `latestVisit` (the spec's estimator) or the plain `slidingWindow`.
  public var estimator = SuccessEstimator.latestVisit
}

/// HICRA planning-token credit assignment for GRPO (docs/hicra.md).
public struct HICRAConfig: Codable, Equatable, Sendable {
  /// Amplify the advantages of planning tokens.
  public var enabled = false
  /// Â = A + α·|A| on planning tokens; in [0, 1) so advantages keep their signs.
  public var alpha = 0.2
  /// Strategic-gram phrases given inline.
  public var phrases: [String] = []
  /// A file of phrases, one per line (e.g. from `allot mine`); "" for none.
  public var phrasesFile = ""
  /// A strategic-gram list that ships with Allot: `none` or `english` (docs/hicra.md).
  public var preset = StrategicGramPreset.none
  /// Also use the task's built-in planning vocabulary.
  public var useTaskPhrases = true
  /// `paper`: the rule above. Not from the paper: `entropyAugmented` also amplifies
  /// high-entropy tokens of correct, longer-than-average completions; `entropyOnly`
  /// amplifies only those.
  public var variant = HICRAVariant.paper
  /// The per-sequence entropy percentile above which the entropy variants amplify.
  public var entropyPercentile = 0.7
}

public enum HICRAVariant: String, ConfigChoice {
  case paper, entropyAugmented, entropyOnly
}

public enum KnapsackMode: String, ConfigChoice {
  case exact, parity
}

extension AdvantageScaling: ConfigChoice {}

extension LossAggregation: ConfigChoice {
  public static var aliases: [String: LossAggregation] { trlNames }
}

extension KLEstimator: ConfigChoice {
  public static var aliases: [String: KLEstimator] { ["mse": .k2] }
}

extension PolicyLossFamily: ConfigChoice {}

extension AdvantageEstimator: ConfigChoice {}

extension KnapsackCostModel: ConfigChoice {}

extension SuccessEstimator: ConfigChoice {}

extension StrategicGramPreset: ConfigChoice {}

extension GRPOConfig {
  /// The keys every GRPO trainer reads.
  func validate(_ check: inout ConfigCheck) {
    check.bound(promptsPerStep, "grpo.promptsPerStep", 1...65_536, "rollouts held in memory")
    check.require(
      groupSize >= 2, "grpo.groupSize", groupSize,
      "must be ≥ 2 (a group of one has no standard deviation)")
    check.bound(groupSize, "grpo.groupSize", 2...65_536, "rollouts held in memory")
    check.require(
      promptsPerStep <= 65_536 && groupSize <= 65_536 && rolloutsPerStep <= 1 << 20,
      "grpo.groupSize", groupSize,
      "grpo.promptsPerStep × grpo.groupSize must be ≤ 2^20 (1048576; rollouts held in memory)")
    check.require(advantageClip > 0, "grpo.advantageClip", advantageClip, "must be > 0")
    check.require(
      (0..<1).contains(epsilonLow), "grpo.epsilonLow", epsilonLow, "must lie in [0, 1)")
    check.require(epsilonHigh >= 0, "grpo.epsilonHigh", epsilonHigh, "must be ≥ 0")
    check.require(
      dualClip == 0 || dualClip > 1, "grpo.dualClip", dualClip, "must be 0 (off) or > 1")
    check.require(beta >= 0, "grpo.beta", beta, "must be ≥ 0")
    check.require(
      !klInReward || beta > 0, "grpo.klInReward", klInReward,
      "needs grpo.beta > 0 (the KL penalty's weight and the reference policy)")
    check.require(
      policyLoss != .cispo || dualClip == 0, "grpo.dualClip", dualClip,
      "must be 0 with grpo.policyLoss \"cispo\" (its per-token loss has no surrogate to cap)")
    check.require(
      (0..<1).contains(gspoEpsilonLow), "grpo.gspoEpsilonLow", gspoEpsilonLow,
      "must lie in [0, 1)")
    check.require(gspoEpsilonHigh >= 0, "grpo.gspoEpsilonHigh", gspoEpsilonHigh, "must be ≥ 0")
    check.require(
      entropyCoefficient >= 0, "grpo.entropyCoefficient", entropyCoefficient, "must be ≥ 0")
    check.require(
      !skipZeroAdvantage || ((beta == 0 || klInReward) && entropyCoefficient == 0),
      "grpo.skipZeroAdvantage", skipZeroAdvantage,
      "needs grpo.beta = 0 (or grpo.klInReward) and grpo.entropyCoefficient = 0: a KL or "
        + "entropy term in the loss gives zero-advantage rollouts a gradient")
    check.require(
      entropyTopFraction > 0 && entropyTopFraction <= 1, "grpo.entropyTopFraction",
      entropyTopFraction, "must lie in (0, 1] (1: every decision carries the policy gradient)")
    check.require(
      !klInReward || advantageEstimator != .passAtK, "grpo.klInReward", klInReward,
      "cannot combine with advantageEstimator \"passAtK\", whose advantages read only successes")
    if advantageEstimator == .passAtK {
      check.require(
        passK >= 1 && passK <= groupSize, "grpo.passK", passK,
        "must lie in 1...grpo.groupSize (\(groupSize)) for advantageEstimator \"passAtK\"")
    }
    check.bound(epochs, "grpo.epochs", 1...1_000, "passes over each batch; \(ConfigLimits.runTime)")
    check.require(
      minibatchSize >= 0 && minibatchSize <= rolloutsPerStep, "grpo.minibatchSize",
      minibatchSize,
      "must lie in 0...grpo.promptsPerStep × grpo.groupSize (\(rolloutsPerStep)); 0 takes the whole batch"
    )
    check.require(temperature > 0, "grpo.temperature", temperature, "must be > 0")
    check.bound(
      stepsPerBatch, "grpo.stepsPerBatch", 1...rolloutsPerStep,
      "minibatches of at least one rollout: grpo.promptsPerStep × grpo.groupSize")
    check.bound(
      referenceSyncEvery, "grpo.referenceSyncEvery", 0...ConfigLimits.steps, ConfigLimits.runTime)
    check.require(
      referenceSyncEvery == 0 || beta > 0, "grpo.referenceSyncEvery", referenceSyncEvery,
      "must be 0 while grpo.beta is 0 (there is no reference to sync)")
    check.require(
      referenceSyncAlpha > 0 && referenceSyncAlpha <= 1, "grpo.referenceSyncAlpha",
      referenceSyncAlpha, "must lie in (0, 1]")
    for (value, key) in [
      (advantageClip, "grpo.advantageClip"), (epsilonLow, "grpo.epsilonLow"),
      (epsilonHigh, "grpo.epsilonHigh"), (dualClip, "grpo.dualClip"), (beta, "grpo.beta"),
      (temperature, "grpo.temperature"), (gspoEpsilonLow, "grpo.gspoEpsilonLow"),
      (gspoEpsilonHigh, "grpo.gspoEpsilonHigh"), (entropyCoefficient, "grpo.entropyCoefficient"),
      (entropyTopFraction, "grpo.entropyTopFraction"),
      (referenceSyncAlpha, "grpo.referenceSyncAlpha"),
    ] {
      check.float(value, key)
    }
  }

  /// Optimizer steps per GRPO step (μ·k): what learning-rate schedules count.
  var optimizerStepsPerStep: Int { epochs * stepsPerBatch }

  /// How the language-model trainers sample completions (and take their log-probabilities:
  /// the full-vocabulary distribution at `temperature`, whatever the cuts and penalty).
  var sampling: SamplingOptions {
    SamplingOptions(
      temperature: Float(temperature), topP: Float(topP), topK: topK, minP: Float(minP),
      repetitionPenalty: Float(repetitionPenalty), maxNewTokens: maxCompletionLength)
  }

  /// M·N, saturating (the bounds above keep it far below `Int.max` once they pass).
  var rolloutsPerStep: Int {
    let (product, overflow) = promptsPerStep.multipliedReportingOverflow(by: groupSize)
    return overflow ? Int.max : product
  }

  /// The sampling keys of the language-model trainer, whose sequences fit in `context`.
  func validateSampling(_ check: inout ConfigCheck, context: Int) {
    check.require(topP > 0 && topP <= 1, "grpo.topP", topP, "must lie in (0, 1]")
    check.require(topK >= 0, "grpo.topK", topK, "must be ≥ 0 (0: off)")
    check.float(topP, "grpo.topP")
    check.bound(topK, "grpo.topK", 0...(1 << 24), "the vocabulary's size at most")
    check.require(minP >= 0 && minP <= 1, "grpo.minP", minP, "must lie in [0, 1] (0: off)")
    check.float(minP, "grpo.minP")
    check.require(
      repetitionPenalty > 0, "grpo.repetitionPenalty", repetitionPenalty, "must be > 0 (1: off)")
    check.float(repetitionPenalty, "grpo.repetitionPenalty")
    check.require(
      maxCompletionLength >= 1 && maxCompletionLength < context, "grpo.maxCompletionLength",
      maxCompletionLength, "must lie in 1..<model.context (\(context))")
    check.bound(
      completionsLogged, "grpo.completionsLogged", 0...promptsPerStep,
      "prompts per step, grpo.promptsPerStep")
  }
}

extension DynamicSamplingConfig {
  func validate(_ check: inout ConfigCheck) {
    check.require(
      tolerance >= 0 && tolerance.isFinite, "dynamicSampling.tolerance", tolerance,
      "must be ≥ 0 and finite")
    check.bound(
      maxDraws, "dynamicSampling.maxDraws", 1...1_000, "draws per step; \(ConfigLimits.runTime)")
  }
}

extension KnapsackConfig {
  func validate(_ check: inout ConfigCheck, groupSize: Int, prompts: Int) {
    for (value, key) in [
      (neverSolvedBudget, "knapsack.neverSolvedBudget"),
      (alwaysSolvedBudget, "knapsack.alwaysSolvedBudget"),
    ] {
      check.require(
        value == 0 || (low...up).contains(value), key, value,
        "must be 0 (knapsack.low) or lie in knapsack.low...knapsack.up (\(low)...\(up))")
    }
    let (least, most) = (prompts * low, min(prompts * min(up, 65_536), 1 << 20))
    check.require(
      totalBudget == 0 || (least...max(least, most)).contains(totalBudget), "knapsack.totalBudget",
      totalBudget,
      "must be 0 (grpo.promptsPerStep × grpo.groupSize) or lie in \(least)...\(most) "
        + "(grpo.promptsPerStep × knapsack.low … × knapsack.up, at most 2^20 rollouts held in memory)"
    )
    check.require(
      low >= 2, "knapsack.low", low, "must be ≥ 2 (a group of one has no standard deviation)")
    check.require(up >= low, "knapsack.up", up, "must be ≥ knapsack.low (\(low))")
    check.bound(up, "knapsack.up", 2...65_536, "rollouts held in memory, as grpo.groupSize")
    check.require(
      groupSize >= low && groupSize <= up, "grpo.groupSize", groupSize,
      "must lie in knapsack.low...knapsack.up (\(low)...\(up)) so that M·N can be shared out")
    check.require(alpha > 0 && alpha < 1, "knapsack.alpha", alpha, "must lie in (0, 1)")
    check.bound(minimum, "knapsack.minimum", 1...1_000_000, "rewards kept per prompt")
    check.require(
      window >= minimum, "knapsack.window", window, "must be ≥ knapsack.minimum (\(minimum))")
    check.bound(window, "knapsack.window", 1...1_000_000, "rewards kept per prompt")
    for (value, key) in [
      (alpha, "knapsack.alpha"), (successThreshold, "knapsack.successThreshold"),
      (priorSuccesses, "knapsack.priorSuccesses"), (priorFailures, "knapsack.priorFailures"),
    ] {
      check.float(value, key)
    }
    check.require(priorSuccesses >= 0, "knapsack.priorSuccesses", priorSuccesses, "must be ≥ 0")
    check.require(priorFailures >= 0, "knapsack.priorFailures", priorFailures, "must be ≥ 0")
  }
}

extension HICRAConfig {
  /// `phrasesRequired`: the policy's planning decisions come from phrases (a language
  /// model's), so the paper's rule needs some.
  func validate(_ check: inout ConfigCheck, phrasesRequired: Bool) {
    check.require(
      (0..<1).contains(alpha), "hicra.alpha", alpha,
      "must lie in [0, 1) so advantages keep their signs")
    check.require(
      (0...1).contains(entropyPercentile), "hicra.entropyPercentile", entropyPercentile,
      "must lie in [0, 1]")
    check.float(alpha, "hicra.alpha")
    check.float(entropyPercentile, "hicra.entropyPercentile")
    check.require(
      !phrasesRequired || !phrasesFile.isEmpty || !phrases.isEmpty || preset != .none
        || useTaskPhrases || variant == .entropyOnly,
      "hicra.phrases", "[]",
      "name planning phrases (hicra.phrases, hicra.phrasesFile, hicra.preset or hicra.useTaskPhrases)"
    )
  }
}
