import Foundation
import GRPO
import NN
import Optim
import TaskAllocation
import TensorCore

/// GRPO on the two-stage task-allocation policy (docs/task-allocation.md): decision states
/// are the prompts, a group is several complete allocations sampled for one state, the
/// reward is the allocation's payoff. Stage-1 (pre-assign) decisions are HICRA's planning
/// actions; Knapsack-RL counts an allocation within `taskAllocation.successTolerance` of
/// its state's best known payoff as a success. Each step also plays one sampled episode
/// for the episode metrics.
public final class AllocationGRPOTrainer: Trainer {
  public let config: ExperimentConfig
  var setup: AllocationSetup
  public var policy: TwoStagePolicy { setup.policy }
  /// The frozen starting policy for the KL term; nil when β = 0.
  let reference: TwoStagePolicy?
  public let optimizer: any Optimizer
  public private(set) var step = 0
  var cursor: EpochCursor
  var samplingRNG: RandomState
  var episodeRNG: RandomState
  var history: RewardHistory

  public init(config: ExperimentConfig) throws {
    self.config = config
    var root = RandomState(seed: UInt64(config.run.seed))
    setup = try AllocationSetup(config: config, rng: &root)
    samplingRNG = root.split()
    episodeRNG = root.split()
    cursor = EpochCursor(count: setup.states.count, seed: root.next())
    if config.grpo.beta > 0 {
      var unused = RandomState(seed: 0)
      let frozen = TwoStagePolicy(hidden: config.taskAllocation.hidden, rng: &unused)
      frozen.copyParameters(from: setup.policy)
      for p in frozen.parameters { p.requiresGrad = false }
      reference = frozen
    } else {
      reference = nil
    }
    optimizer = makeOptimizer(
      config.optimizer, steps: config.run.steps * config.grpo.epochs,
      parameters: setup.policy.namedParameters())
    history = RewardHistory(
      window: config.knapsack.window, minimum: config.knapsack.minimum, threshold: 0.5,
      prior: (config.knapsack.priorSuccesses, config.knapsack.priorFailures))
  }

  public var modelFingerprint: String { setup.fingerprint }
  public var progressKeys: [String] { ["reward/mean", "episode/return", "eval/return"] }

  static func stateID(_ s: Int) -> String { "state\(s)" }

  public func trainStep() -> [String: Double] {
    let g = config.grpo
    let tolerance = config.taskAllocation.successTolerance
    let started = DispatchTime.now().uptimeNanoseconds
    let chosen = cursor.next(min(g.promptsPerStep, setup.states.count))
    let (budgets, budgetMetrics) = rolloutBudgets(
      estimates: chosen.map { history.estimate(Self.stateID($0)) }, config: config)
    // Sample each state's group; remember which state every rollout belongs to.
    var rollouts: [AllocationSample] = []
    var owner: [Int] = []
    for (k, s) in chosen.enumerated() {
      let group = policy.sample(setup.states[s], count: budgets[k], rng: &samplingRNG)
      rollouts += group
      owner += [Int](repeating: s, count: group.count)
    }
    let sampled = DispatchTime.now().uptimeNanoseconds
    let rewards = rollouts.map(\.payoff)
    let groups = owner.map(Self.stateID)
    let successes = zip(rewards, owner).map {
      setup.succeeds($0, state: $1, tolerance: tolerance) ? 1.0 : 0.0
    }
    let gaps = zip(rewards, owner).map { setup.bestKnown[$1] - $0 }
    for s in chosen {
      history.record(
        Self.stateID(s), rewards: successes.indices.filter { owner[$0] == s }.map { successes[$0] })
    }
    for (r, s) in zip(rewards, owner) where r > setup.bestKnown[s] { setup.bestKnown[s] = r }
    let advantages = groupAdvantages(
      rewards: rewards, groups: groups,
      scaling: AdvantageScaling(rawValue: g.advantageScaling.rawValue)!, clip: g.advantageClip)
    let h = config.hicra
    let decisionAdvantages: [[Float]] = rollouts.indices.map { i in
      let values =
        h.enabled
        ? hicraAdvantages(advantages[i], planning: rollouts[i].planningMask, alpha: h.alpha)
        : [Double](repeating: advantages[i], count: rollouts[i].length)
      return values.map(Float.init)
    }
    var order = Array(rollouts.indices)
    order.shuffle(using: &samplingRNG)
    let learningRate = optimizer.currentLearningRate
    let surrogate = SurrogateOptions(
      epsilonLow: Float(g.epsilonLow), epsilonHigh: Float(g.epsilonHigh),
      dualClip: g.dualClip > 0 ? Float(g.dualClip) : nil, beta: Float(g.beta),
      aggregation: LossAggregation(rawValue: g.lossAggregation.rawValue)!,
      maxCompletionLength: rollouts.map(\.length).max() ?? 1)
    let states = setup.states
    /// Log-probabilities of `rows` under `net`, `[rows, longest]`, scored state by state.
    func score(_ net: TwoStagePolicy, _ rows: [Int]) -> Tensor {
      let width = rows.map { rollouts[$0].length }.max() ?? 0
      var pieces: [Tensor] = []
      var placed: [Int] = []
      for s in Set(rows.map { owner[$0] }).sorted() {
        let mine = rows.indices.filter { owner[rows[$0]] == s }
        var piece = net.logProbabilities(states[s], samples: mine.map { rollouts[rows[$0]] })
        if piece.shape[1] < width {
          piece = Tensor.concat(
            [piece, Tensor.zeros([mine.count, width - piece.shape[1]])], axis: 1)
        }
        pieces.append(piece)
        placed += mine
      }
      var position = [Int](repeating: 0, count: rows.count)
      for (p, r) in placed.enumerated() { position[r] = p }
      return Tensor.concat(pieces, axis: 0).indexSelect(axis: 0, position)
    }
    let (statistics, gradNorms) = clippedSurrogateUpdate(
      RolloutBatch(
        oldLogProbs: rollouts.map(\.logProbs), advantages: decisionAdvantages,
        masks: rollouts.map { r in
          let stage1 =
            config.taskAllocation.creditPickedOnly
            ? r.pickedMask.map { $0 ? Float(1) : 0 }
            : [Float](repeating: 1, count: r.preAssignment.count)
          return stage1 + [Float](repeating: 1, count: r.selections.count)
        }),
      order: order, options: surrogate, epochs: g.epochs, minibatch: g.minibatchSize,
      optimizer: optimizer, parameters: policy.parameters, gradClip: config.optimizer.gradClip,
      score: { score(self.policy, $0) },
      reference: reference.map { ref in { rows in withoutGrad { score(ref, rows).scalars } } })
    step += 1
    let trained = DispatchTime.now().uptimeNanoseconds
    var metrics = setup.playEpisode(rng: &episodeRNG)
    func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }
    let summary = RewardSummary(rewards: successes, groups: groups)
    let rewardSummary = RewardSummary(rewards: rewards, groups: groups)
    let planning = rollouts.flatMap { r in zip(r.planningMask, r.entropies).filter(\.0) }
    let execution = rollouts.flatMap { r in zip(r.planningMask, r.entropies).filter { !$0.0 } }
    var planningAdvantage: [Double] = []
    var executionAdvantage: [Double] = []
    for (r, a) in zip(rollouts, decisionAdvantages) {
      for (isPlan, value) in zip(r.planningMask, a) {
        if isPlan {
          planningAdvantage.append(Double(value))
        } else {
          executionAdvantage.append(Double(value))
        }
      }
    }
    let rewardMetrics: [String: Double] = [
      "reward/mean": rewardSummary.mean, "reward/std": rewardSummary.std,
      "reward/fracZeroStd": rewardSummary.fractionZeroStd, "reward/gap": mean(gaps),
      "reward/successRate": mean(successes), "reward/bestKnownMean": mean(setup.bestKnown),
      "grad/effectiveRatio": rewardSummary.effectiveRatio,
      "grad/allPositiveRatio": summary.allPositiveRatio,
      "grad/allNegativeRatio": summary.allNegativeRatio,
      "grad/norm": Double(gradNorms.last ?? 0),
    ]
    let planningRatio = Double(planning.count) / Double(max(planning.count + execution.count, 1))
    let policyMetrics: [String: Double] = [
      "policy/entropy": mean(rollouts.flatMap(\.entropies).map(Double.init)),
      "policy/entropyStage1": mean(planning.map { Double($0.1) }),
      "policy/entropyStage2": mean(execution.map { Double($0.1) }),
      "policy/clipFracLow": mean(statistics.map(\.clipFractionLow)),
      "policy/clipFracHigh": mean(statistics.map(\.clipFractionHigh)),
      "loss/policy": mean(statistics.map(\.policyLoss)), "loss/kl": mean(statistics.map(\.kl)),
    ]
    let otherMetrics: [String: Double] = [
      "hicra/planningRatio": planningRatio,
      "hicra/planningAdvantageMean": mean(planningAdvantage),
      "hicra/executionAdvantageMean": mean(executionAdvantage),
      "completion/meanLength": mean(rollouts.map { Double($0.length) }),
      "budget/max": Double(budgets.max() ?? 0), "budget/min": Double(budgets.min() ?? 0),
      "data/allocations": Double(rollouts.count), "data/epoch": Double(cursor.epoch),
      "optim/learningRate": Double(learningRate),
      "perf/sampleSeconds": Double(sampled - started) / 1e9,
      "perf/trainSeconds": Double(trained - sampled) / 1e9,
    ]
    for part in [rewardMetrics, policyMetrics, otherMetrics, budgetMetrics] {
      metrics.merge(part) { $1 }
    }
    return metrics
  }

  public func evaluate() -> [String: Double] {
    setup.evaluate(
      episodes: config.taskAllocation.evaluationEpisodes,
      tolerance: config.taskAllocation.successTolerance)
  }

  var core: CoreState { CoreState(model: policy, optimizer: optimizer, step: step, cursor: cursor) }

  public func state() -> TrainingState {
    var state = core.saved()
    if let reference { state.add(reference, prefix: "reference") }
    state.integers["rng/sampling"] = samplingRNG.savedWords
    state.integers["rng/episodes"] = episodeRNG.savedWords
    state.doubles["trainer/bestKnown"] = setup.bestKnown
    state.add(history, ids: setup.states.indices.map(Self.stateID))
    return state
  }

  public func restore(_ state: TrainingState) throws {
    var problems: [String] = []
    let sampling = state.integer("rng/sampling", count: 4, problems: &problems)
    let episodes = state.integer("rng/episodes", count: 4, problems: &problems)
    let best = state.doubles["trainer/bestKnown"] ?? []
    if best.count != setup.states.count {
      problems.append(
        "trainer/bestKnown holds \(best.count) values for \(setup.states.count) decision states")
    }
    let restoredHistory = state.rewardHistory(
      like: history, ids: setup.states.indices.map(Self.stateID), problems: &problems)
    let referenceTargets = reference?.namedParameters().map { ("reference/\($0.0)", $0.1) } ?? []
    (step, cursor) = try core.restore(
      from: state, extraTargets: referenceTargets, problems: problems)
    samplingRNG = RandomState(savedWords: sampling)
    episodeRNG = RandomState(savedWords: episodes)
    setup.bestKnown = best
    history = restoredHistory
  }
}
