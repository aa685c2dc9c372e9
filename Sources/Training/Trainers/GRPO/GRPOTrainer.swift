import Distributed
import Foundation
import GRPO
import Optim
import TensorCore

/// Group Relative Policy Optimization of any `GRPOPolicy` on any `GRPOTask`
/// (docs/grpo.md), one step written once: contexts → budgets (uniform or Knapsack-RL) →
/// rollouts → rewards → group advantages → per-decision credit (HICRA) → clipped update
/// (μ passes, minibatches) → reward histories → metrics.
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

  public var progressKeys: [String] { task.progressKeys }
  public var modelFingerprint: String { policy.fingerprint }

  public func trainStep() throws -> [String: Double] {
    let started = DispatchTime.now().uptimeNanoseconds
    let startedCPU = cpuSeconds()
    let before = (cursor, samplingRNG)  // restored when the rewards fail
    // Contexts, and their rollout budgets from the success histories.
    let batch = cursor.next(min(options.promptsPerStep, task.contexts.count))
    let ids = batch.map { task.contextIDs[$0] }
    let contexts = batch.map { task.contexts[$0] }
    let (budgets, budgetMetrics) = rolloutBudgets(
      estimates: ids.map { history.estimate($0) }, groupSize: options.groupSize,
      knapsack: options.knapsack)

    // Rollouts without the tape, their rewards, and the histories they extend.
    let rollouts = sample(contexts, budgets: budgets)
    let sampled = DispatchTime.now().uptimeNanoseconds
    let gathering = parallel.takeCounters()
    let scores: RolloutScores
    do {
      scores = try task.score(rollouts, batch: batch)
    } catch {
      (cursor, samplingRNG) = before
      throw error
    }
    let successes = scores.successes.map { $0 ? 1.0 : 0.0 }
    for (position, id) in ids.enumerated() {
      history.record(
        id,
        rewards: rollouts.indices.filter { rollouts[$0].context == position }.map { successes[$0] })
    }

    // Group advantages, then each decision's share (HICRA on planning decisions).
    let groups = rollouts.map { ids[$0.context] }
    let advantages = groupAdvantages(
      rewards: scores.rewards, groups: groups, scaling: options.advantageScaling,
      clip: options.advantageClip)
    let planning = task.planningMasks(rollouts)
    let credit = decisionAdvantages(
      advantages, rollouts: rollouts, planning: planning, rewards: scores.rewards, groups: groups,
      hicra: options.hicra)

    // The clipped update: shuffled order, μ passes over minibatches.
    var order = Array(rollouts.indices)
    order.shuffle(using: &samplingRNG)
    let learningRate = optimizer.currentLearningRate
    var surrogate = options.surrogate
    surrogate.maxCompletionLength = policy.lengthBudget(rollouts)
    let (statistics, gradNorms) = try clippedSurrogateUpdate(
      RolloutBatch(
        oldLogProbs: rollouts.map(\.logProbs), advantages: credit, masks: rollouts.map(\.lossMask)),
      order: order, options: surrogate, epochs: options.epochs, minibatch: options.minibatchSize,
      chunk: policy.rowsPerChunk(rollouts, in: contexts), parallel: parallel, optimizer: optimizer,
      parameters: policy.parameters, gradClip: options.gradClip,
      score: { rows in self.policy.logProbabilities(of: rows.map { rollouts[$0] }, in: contexts) },
      reference: reference.map { frozen in
        { rows in
          withoutGrad {
            frozen.logProbabilities(of: rows.map { rollouts[$0] }, in: contexts).scalars
          }
        }
      })
    step += 1
    let finished = DispatchTime.now().uptimeNanoseconds
    let updating = parallel.takeCounters()

    // Metrics: rewards, the update, budgets, planning, and the task's own.
    let summary = RewardSummary(rewards: scores.rewards, groups: groups)
    let solved = RewardSummary(rewards: successes, groups: groups)
    let decisions = rollouts.reduce(0) { $0 + $1.length }
    var metrics: [String: Double] = [
      "reward/mean": summary.mean, "reward/std": summary.std,
      "reward/fracZeroStd": summary.fractionZeroStd,
      "grad/effectiveRatio": summary.effectiveRatio,
      "grad/effectivePromptRatio": effectivePromptRatio(scores.rewards, groups: groups),
      "grad/allPositiveRatio": solved.allPositiveRatio,
      "grad/allNegativeRatio": solved.allNegativeRatio, "grad/norm": Double(gradNorms.last ?? 0),
      "completion/meanLength": mean(rollouts.map { Double($0.length) }),
      "completion/clippedRatio": Double(rollouts.filter { !$0.finished }.count)
        / Double(max(rollouts.count, 1)),
      "policy/entropy": mean(rollouts.flatMap(\.entropies).map(Double.init)),
      "policy/clipFracLow": mean(statistics.map(\.clipFractionLow)),
      "policy/clipFracHigh": mean(statistics.map(\.clipFractionHigh)),
      "loss/policy": mean(statistics.map(\.policyLoss)), "loss/kl": mean(statistics.map(\.kl)),
      "budget/max": Double(budgets.max() ?? 0), "budget/min": Double(budgets.min() ?? 0),
      "optim/learningRate": Double(learningRate), "data/epoch": Double(cursor.epoch),
      "perf/sampleSeconds": Double(sampled - started) / 1e9 - waiting(gathering),
      "perf/trainSeconds": Double(finished - sampled) / 1e9 - waiting(updating),
      "perf/tokensPerSec": Double(decisions) / (Double(finished - started) / 1e9),
    ]
    metrics.merge(budgetMetrics) { $1 }
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
