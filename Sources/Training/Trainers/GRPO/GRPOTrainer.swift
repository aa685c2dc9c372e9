import Distributed
import Foundation
import GRPO
import Optim
import TensorCore

/// Group Relative Policy Optimization of any `GRPOPolicy` on any `GRPOTask`
/// (docs/grpo.md), one step written once: contexts → budgets (uniform or Knapsack-RL) →
/// rollouts → rewards → reward histories (with dynamic sampling, more draws until M groups
/// are informative) → group advantages (the estimator's, KL in the reward) → per-decision
/// credit (HICRA, the entropy mask) → clipped update (μ passes of k optimizer steps,
/// minibatches) → reference sync → metrics.
public final class GRPOTrainer<Task: GRPOTask>: Trainer {
  public typealias Policy = Task.Policy
  public typealias Rollout = PolicyRollout<Policy.Decisions>

  public let task: Task
  public let policy: Policy
  /// The frozen starting policy for the KL term; nil when β = 0.
  public let reference: Policy?
  public let options: GRPOOptions
  public let optimizer: any Optimizer
  public private(set) var step = 0
  /// Printed when a run starts (a JSONL task's split summary).
  public var startupNotes: [String] = []
  var cursor: EpochCursor
  var samplingRNG: RandomState
  /// Per-context success histories for Knapsack-RL (kept even when it is off).
  var history: RewardHistory
  /// This rank's share of a data-parallel job (one shard: the single-process step).
  var parallel = DataParallel.single

  /// A trainer of `policy` on `task`; `samplingRNG` draws rollouts and shuffles the update
  /// order, `cursorSeed` orders the contexts.
  public init(
    task: Task, policy: Policy, reference: Policy?, options: GRPOOptions,
    optimizer: any Optimizer, samplingRNG: RandomState, cursorSeed: UInt64
  ) {
    self.task = task
    self.policy = policy
    self.reference = reference
    self.options = options
    self.optimizer = optimizer
    self.samplingRNG = samplingRNG
    cursor = EpochCursor(count: task.contexts.count, seed: cursorSeed)
    history = options.history
  }

  /// The task's keys, then the algorithms' headlines: the share of rollouts that carry a
  /// gradient, Knapsack-RL's budget range and HICRA's planning share when they are on.
  public var progressKeys: [String] {
    task.progressKeys + ["grad/effectiveRatio"]
      + (options.knapsack != nil ? ["budget/min", "budget/max"] : [])
      + (options.hicra != nil ? ["hicra/planningRatio"] : [])
  }
  public var modelFingerprint: String { policy.fingerprint }

  public func trainStep() throws -> [String: Double] {
    let started = DispatchTime.now().uptimeNanoseconds
    let startedCPU = cpuSeconds()
    // Contexts with their budgets, rollouts, rewards and the histories they extend; with
    // dynamic sampling, only informative groups, from as many draws as it takes. When the
    // rewards fail (an external reward command), the step never happened.
    let before = (cursor, samplingRNG, history)
    let drawn: Draws
    do {
      drawn = try drawGroups()
    } catch {
      (cursor, samplingRNG, history) = before
      throw error
    }
    let (batch, contexts, rollouts, scores) = (
      drawn.batch, drawn.batch.map { task.contexts[$0] }, drawn.rollouts, drawn.scores
    )
    let sampled = DispatchTime.now().uptimeNanoseconds
    let gathering = parallel.takeCounters()

    // Group advantages (of rewards less their KL penalty when it is in the reward), then
    // each decision's share (HICRA on planning decisions, the entropy mask).
    let groups = rollouts.map { drawn.keys[$0.context] }
    var variantMetrics: [String: Double] = [:]
    var signal =
      options.advantageEstimator == .passAtK
      ? scores.successes.map { $0 ? 1.0 : 0.0 } : scores.rewards
    if let (beta, estimator) = options.rewardKL, let reference {
      let penalties = klPenalties(
        rollouts, in: contexts, reference: reference, estimator: estimator,
        chunk: policy.rowsPerChunk(rollouts, in: contexts))
      signal = zip(signal, penalties).map { $0 - beta * $1 }
      variantMetrics["reward/klPenalty"] = beta * mean(penalties)
    }
    let advantages = estimateAdvantages(
      rewards: signal, groups: groups, estimator: options.advantageEstimator,
      scaling: options.advantageScaling, clip: options.advantageClip, k: options.passK)
    let planning = task.planningMasks(rollouts)
    var credit = decisionAdvantages(
      advantages, rollouts: rollouts, planning: planning, rewards: scores.rewards, groups: groups,
      hicra: options.hicra)
    if options.entropyTopFraction < 1 {
      let threshold: Float
      (credit, threshold) = highEntropyCredit(
        credit, rollouts: rollouts, fraction: options.entropyTopFraction)
      variantMetrics["policy/entropyThreshold"] = Double(threshold)
    }

    // The clipped update: shuffled order, μ passes of k optimizer steps over minibatches
    // (none when dynamic sampling found no informative group).
    var order = Array(rollouts.indices)
    order.shuffle(using: &samplingRNG)
    let learningRate = optimizer.currentLearningRate
    var surrogate = options.surrogate
    surrogate.maxCompletionLength = policy.lengthBudget(rollouts)
    let shared = policy.sharedScoring(rollouts, in: contexts)
    let score =
      shared?.score ?? { (rows: [Int]) in
        self.policy.logProbabilities(of: rows.map { rollouts[$0] }, in: contexts)
      }
    let (statistics, ratioMeans, gradNorms) =
      rollouts.isEmpty
      ? ([], [], [])
      : try clippedSurrogateUpdate(
        RolloutBatch(
          oldLogProbs: rollouts.map(\.logProbs), advantages: credit,
          masks: rollouts.map(\.lossMask)),
        order: order, options: surrogate, epochs: options.epochs, steps: options.stepsPerBatch,
        minibatch: options.minibatchSize,
        chunk: policy.rowsPerChunk(rollouts, in: contexts),
        skipZeroAdvantage: options.skipZeroAdvantage,
        parallel: parallel, optimizer: optimizer, parameters: policy.parameters,
        gradClip: options.gradClip, groups: shared.map { _ in rollouts.map(\.context) },
        chunkPositions: shared?.chunkPositions ?? 0,
        finishGroup: shared?.finishGroup ?? {}, score: score,
        reference: reference.map { frozen in
          { rows in
            withoutGrad {
              frozen.logProbabilities(of: rows.map { rollouts[$0] }, in: contexts).scalars
            }
          }
        })
    step += 1
    if let reference, let sync = options.referenceSync, step % sync.every == 0 {
      mix(reference.parameters, toward: policy.parameters, alpha: sync.alpha)
    }
    let finished = DispatchTime.now().uptimeNanoseconds
    let updating = parallel.takeCounters()

    // Metrics: rewards (of every group drawn), the update, budgets, planning, the task's own.
    let summary = RewardSummary(rewards: drawn.spent.rewards, groups: drawn.spent.groups)
    let solved = RewardSummary(rewards: drawn.spent.successes, groups: drawn.spent.groups)
    let decisions = rollouts.reduce(0) { $0 + $1.length }
    var metrics: [String: Double] = [
      "reward/mean": summary.mean, "reward/std": summary.std,
      "reward/fracZeroStd": summary.fractionZeroStd,
      "grad/effectiveRatio": summary.effectiveRatio,
      "grad/effectivePromptRatio": effectivePromptRatio(
        drawn.spent.rewards, groups: drawn.spent.groups),
      "grad/allPositiveRatio": solved.allPositiveRatio,
      "grad/allNegativeRatio": solved.allNegativeRatio, "grad/norm": Double(gradNorms.last ?? 0),
      "completion/meanLength": mean(rollouts.map { Double($0.length) }),
      "completion/clippedRatio": Double(rollouts.filter { !$0.finished }.count)
        / Double(max(rollouts.count, 1)),
      "policy/entropy": mean(rollouts.flatMap(\.entropies).map(Double.init)),
      "policy/clipFracLow": mean(statistics.map(\.clipFractionLow)),
      "policy/clipFracHigh": mean(statistics.map(\.clipFractionHigh)),
      "policy/ratioMean": mean(ratioMeans),
      "loss/policy": mean(statistics.map(\.policyLoss)), "loss/kl": mean(statistics.map(\.kl)),
      "budget/max": Double(drawn.budgets.max() ?? 0),
      "budget/min": Double(drawn.budgets.min() ?? 0),
      "optim/learningRate": Double(learningRate), "data/epoch": Double(cursor.epoch),
      "perf/sampleSeconds": Double(sampled - started) / 1e9 - waiting(gathering),
      "perf/trainSeconds": Double(finished - sampled) / 1e9 - waiting(updating),
      "perf/tokensPerSec": Double(decisions) / (Double(finished - started) / 1e9),
    ]
    metrics.merge(drawn.budgetMetrics) { $1 }
    if options.dynamicSampling != nil {
      metrics["dynamicSampling/draws"] = Double(drawn.draws)
      metrics["dynamicSampling/rolloutsSpent"] = Double(drawn.spent.rewards.count)
      metrics["dynamicSampling/groupsKept"] = Double(batch.count)
      metrics["dynamicSampling/groupsDropped"] = Double(drawn.budgets.count - batch.count)
    }
    if options.surrogate.entropyCoefficient > 0 {
      variantMetrics["loss/entropy"] = mean(statistics.map(\.entropy))
    }
    metrics.merge(variantMetrics) { $1 }
    metrics.merge(gathering.merging(updating, uniquingKeysWith: +)) { $1 }
    metrics["perf/cpuSeconds"] = cpuSeconds() - startedCPU
    metrics["perf/ranks"] = gathering["perf/ranks"]
    if let planning {
      metrics.merge(planningMetrics(rollouts, planning: planning, credit: credit)) { $1 }
    }
    metrics.merge(scores.metrics) { $1 }
    let own = task.finishStep(
      step, rollouts: rollouts, batch: batch, scores: scores, advantages: advantages)
    metrics.merge(own) { $1 }
    return metrics
  }

  /// A step's draws: the groups it trains on and what it spent.
  struct Draws {
    /// The trained contexts (indices into the task's), each group's key, its rollouts
    /// (`context`: the position in `batch`) and their scores.
    var batch: [Int] = []
    var keys: [String] = []
    var rollouts: [Rollout] = []
    var scores = RolloutScores(rewards: [], successes: [])
    /// Every group drawn, kept or not: rewards, successes (1 or 0) and group keys.
    var spent: (rewards: [Double], successes: [Double], groups: [String]) = ([], [], [])
    /// Every drawn group's budget, the first draw's budget metrics, and the draws made.
    var budgets: [Int] = []
    var budgetMetrics: [String: Double] = [:]
    var draws = 0
  }

  /// Draws M contexts (from the epoch cursor), their budgets from the success histories,
  /// their rollouts and rewards, and extends the histories. With dynamic sampling, groups
  /// whose rewards lie within its tolerance are dropped (their rewards still enter the
  /// histories) and M more contexts are drawn, each draw with its own budgets, until M
  /// groups are informative or `maxDraws` draws were made; a group of draw d > 0 is keyed
  /// `id#d`, so a context drawn twice in a step makes two groups. The task's own reward
  /// metrics are the first draw's. Every rank holds every rollout, so every rank decides
  /// alike.
  func drawGroups() throws -> Draws {
    var drawn = Draws()
    let wanted = min(options.promptsPerStep, task.contexts.count)
    for d in 0..<(options.dynamicSampling?.maxDraws ?? 1) {
      let batch = cursor.next(wanted)
      let ids = batch.map { task.contextIDs[$0] }
      let (budgets, budgetMetrics) = rolloutBudgets(
        estimates: ids.map { history.estimate($0) }, groupSize: options.groupSize,
        knapsack: options.knapsack)
      let rollouts = sample(batch.map { task.contexts[$0] }, budgets: budgets)
      let scores = try task.score(rollouts, batch: batch)
      let successes = scores.successes.map { $0 ? 1.0 : 0.0 }
      let members = batch.indices.map { p in rollouts.indices.filter { rollouts[$0].context == p } }
      for (position, id) in ids.enumerated() {
        history.record(id, rewards: members[position].map { successes[$0] })
      }
      let keys = ids.map { d == 0 ? $0 : "\($0)#\(d)" }
      drawn.spent.rewards += scores.rewards
      drawn.spent.successes += successes
      drawn.spent.groups += rollouts.map { keys[$0.context] }
      drawn.budgets += budgets
      drawn.draws += 1
      guard let filter = options.dynamicSampling else {
        return Draws(
          batch: batch, keys: keys, rollouts: rollouts, scores: scores, spent: drawn.spent,
          budgets: budgets, budgetMetrics: budgetMetrics, draws: 1)
      }
      if d == 0 {
        drawn.budgetMetrics = budgetMetrics
        drawn.scores.metrics = scores.metrics
      }
      for position in batch.indices where drawn.batch.count < wanted {
        guard filter.informative(members[position].map { scores.rewards[$0] }) else { continue }
        for i in members[position] {
          var rollout = rollouts[i]
          rollout.context = drawn.batch.count
          drawn.rollouts.append(rollout)
          drawn.scores.rewards.append(scores.rewards[i])
          drawn.scores.successes.append(scores.successes[i])
        }
        drawn.batch.append(batch[position])
        drawn.keys.append(keys[position])
      }
      if drawn.batch.count == wanted { break }
    }
    return drawn
  }

  /// The step's rollouts, grouped in context order. With one shard the policy samples the
  /// whole batch from `samplingRNG`; with more, contexts are dealt to sampling groups by
  /// their budgets, each group is sampled (by the rank owning it) with a stream seeded from
  /// one draw of `samplingRNG` and the group's index, and the groups are all-gathered, so
  /// what is sampled never depends on the rank count.
  func sample(_ contexts: [Policy.Context], budgets: [Int]) -> [Rollout] {
    guard parallel.shards > 1 else {
      return policy.sample(contexts, counts: budgets, rng: &samplingRNG)
    }
    let seed = samplingRNG.next()
    let groups = parallel.samplingGroups(costs: budgets.map(Double.init))
    var wire = WireWriter()
    for group in parallel.owned {
      let members = groups[group]
      var rng = RandomState(seed: seed ^ (UInt64(group + 1) &* 0x9E37_79B9_7F4A_7C15))
      let rollouts = policy.sample(
        members.map { contexts[$0] }, counts: members.map { budgets[$0] }, rng: &rng)
      wire.write(rollouts.count)
      for var rollout in rollouts {
        rollout.context = members[rollout.context]
        rollout.write(to: &wire)
      }
    }
    var all: [Rollout] = []
    for bytes in parallel.allGather(wire.bytes) {
      var reader = WireReader(bytes)
      while !reader.atEnd {
        for _ in 0..<reader.readInt() { all.append(Rollout(from: &reader)) }
      }
    }
    // Stable: a context's rollouts keep their sampled order.
    return all.enumerated().sorted { ($0.1.context, $0.0) < ($1.1.context, $1.0) }.map(\.1)
  }

  public func evaluate() -> [String: Double] { task.evaluate() }

  public func attach(runDirectory: URL, resumedAt step: Int?) throws {
    try task.attach(runDirectory: runDirectory, resumedAt: step)
  }

  var core: CoreState {
    CoreState(
      parameters: policy.namedParameters(), optimizer: optimizer, step: step, cursor: cursor)
  }

  public func state() -> TrainingState {
    var state = core.saved()
    if let reference { state.add(reference.namedParameters(), prefix: "reference") }
    state.integers.merge(policy.savedState()) { $1 }
    state.integers["rng/sampling"] = samplingRNG.savedWords
    state.add(history, ids: task.contextIDs)
    task.save(into: &state)
    return state
  }

  public func restore(_ state: TrainingState) throws {
    var problems = policy.stateProblems(state)
    let rng = state.integer("rng/sampling", count: 4, problems: &problems)
    let restoredHistory = state.rewardHistory(
      like: history, ids: task.contextIDs, problems: &problems)
    let applyTask = task.restorer(state, problems: &problems)
    let referenceTargets =
      reference?.namedParameters().map { ("reference/\($0.0)", $0.1) } ?? []
    (step, cursor) = try core.restore(
      from: state, extraTargets: referenceTargets, problems: problems)
    samplingRNG = RandomState(savedWords: rng)
    history = restoredHistory
    applyTask()
  }
}

/// The seconds of collective calls and waits among `counters` (DataParallel's).
private func waiting(_ counters: [String: Double]) -> Double {
  (counters["perf/commSeconds"] ?? 0) + (counters["perf/idleSeconds"] ?? 0)
}

/// The mean, 0 for no values.
func mean(_ values: [Double]) -> Double {
  values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
}
