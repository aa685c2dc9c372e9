import Distributed
import Foundation
import GRPO
import NN
import TaskAllocation
import TensorCore

/// A decision state as a GRPO context: its index among the training states, and its
/// features.
public struct AllocationState {
  public var index: Int
  public var features: ProblemFeatures
}

/// The two-stage task-allocation policy as a GRPO policy: a rollout is a complete
/// allocation, its decisions the stage-1 (pre-assign) draws then the stage-2 picks.
public final class AllocationPolicy: GRPOPolicy {
  public let net: TwoStagePolicy
  /// Leave out of the loss the pre-assignments of entities stage 2 did not pick.
  public let creditPickedOnly: Bool

  public init(net: TwoStagePolicy, creditPickedOnly: Bool) {
    self.net = net
    self.creditPickedOnly = creditPickedOnly
  }

  public var fingerprint: String { twoStageFingerprint(net) }

  public func sample(_ contexts: [AllocationState], counts: [Int], rng: inout RandomState)
    -> [PolicyRollout<AllocationSample>]
  {
    var rollouts: [PolicyRollout<AllocationSample>] = []
    for (k, state) in contexts.enumerated() {
      for s in net.sample(state.features, count: counts[k], rng: &rng) {
        let stage1 =
          creditPickedOnly
          ? s.pickedMask.map { $0 ? Float(1) : 0 }
          : [Float](repeating: 1, count: s.preAssignment.count)
        rollouts.append(
          PolicyRollout(
            context: k, decisions: s, logProbs: s.logProbs, entropies: s.entropies,
            lossMask: stage1 + [Float](repeating: 1, count: s.selections.count), finished: true))
      }
    }
    return rollouts
  }

  /// Scored state by state (rows of one state in one pass), then put back in row order.
  public func logProbabilities(
    of rollouts: [PolicyRollout<AllocationSample>], in contexts: [AllocationState]
  ) -> Tensor {
    let width = rollouts.map(\.length).max() ?? 0
    let state = rollouts.map { contexts[$0.context].index }
    var features: [Int: ProblemFeatures] = [:]
    for c in contexts { features[c.index] = c.features }
    var pieces: [Tensor] = []
    var placed: [Int] = []
    for s in Set(state).sorted() {
      let mine = rollouts.indices.filter { state[$0] == s }
      var piece = net.logProbabilities(features[s]!, samples: mine.map { rollouts[$0].decisions })
      if piece.shape[1] < width {
        piece = Tensor.concat(
          [piece, Tensor.zeros([mine.count, width - piece.shape[1]])], axis: 1)
      }
      pieces.append(piece)
      placed += mine
    }
    var position = [Int](repeating: 0, count: rollouts.count)
    for (p, r) in placed.enumerated() { position[r] = p }
    return Tensor.concat(pieces, axis: 0).indexSelect(axis: 0, position)
  }

  public func lengthBudget(_ rollouts: [PolicyRollout<AllocationSample>]) -> Int {
    rollouts.map(\.length).max() ?? 1
  }

  public func namedParameters() -> [(String, Tensor)] { net.namedParameters() }
}

extension AllocationSample: WireDecisions {
  public func write(to wire: inout WireWriter) {
    wire.write(preAssignment)
    wire.write(selections.count)
    for step in selections {
      wire.write(step.task)
      wire.write(step.remaining)
      wire.write(step.eligible)
      wire.write(step.chosen)
    }
    wire.write(allocation.assignment.map { $0 ?? -1 })
    wire.write(logProbs)
    wire.write(entropies)
    wire.write(payoff)
  }

  public init(from wire: inout WireReader) {
    let preAssignment = wire.readInts()
    let selections = (0..<wire.readInt()).map { _ in
      SelectionStep(
        task: wire.readInt(), remaining: wire.readDoubles(), eligible: wire.readInts(),
        chosen: wire.readInt())
    }
    self.init(
      preAssignment: preAssignment, selections: selections,
      allocation: Allocation(assignment: wire.readInts().map { $0 < 0 ? nil : $0 }),
      logProbs: wire.readFloats(), entropies: wire.readFloats(), payoff: wire.readDouble())
  }
}

/// A scenario's decision states as GRPO contexts: the reward is an allocation's payoff, a
/// success one within `taskAllocation.successTolerance` of its state's best known payoff,
/// the planning decisions are stage 1's. Each step also plays one sampled episode.
public final class AllocationTask: GRPOTask {
  public typealias Policy = AllocationPolicy

  var setup: AllocationSetup
  var episodeRNG: RandomState
  let tolerance: Double
  let evaluationEpisodes: Int
  public let contexts: [AllocationState]
  public let contextIDs: [String]

  init(setup: AllocationSetup, episodeRNG: RandomState, tolerance: Double, evaluationEpisodes: Int)
  {
    self.setup = setup
    self.episodeRNG = episodeRNG
    self.tolerance = tolerance
    self.evaluationEpisodes = evaluationEpisodes
    contexts = setup.states.enumerated().map { AllocationState(index: $0, features: $1) }
    contextIDs = setup.states.indices.map { "state\($0)" }
  }

  public var progressKeys: [String] { ["reward/mean", "episode/return", "eval/return"] }

  public func score(_ rollouts: [PolicyRollout<AllocationSample>], batch: [Int]) -> RolloutScores {
    let payoffs = rollouts.map(\.decisions.payoff)
    let states = rollouts.map { batch[$0.context] }
    let successes = zip(payoffs, states).map {
      setup.succeeds($0, state: $1, tolerance: tolerance)
    }
    let gaps = zip(payoffs, states).map { setup.bestKnown[$1] - $0 }
    for (r, s) in zip(payoffs, states) where r > setup.bestKnown[s] { setup.bestKnown[s] = r }
    return RolloutScores(
      rewards: payoffs, successes: successes,
      metrics: [
        "reward/gap": mean(gaps), "reward/successRate": mean(successes.map { $0 ? 1 : 0 }),
        "reward/bestKnownMean": mean(setup.bestKnown),
      ])
  }

  public func planningMasks(_ rollouts: [PolicyRollout<AllocationSample>]) -> [[Bool]]? {
    rollouts.map(\.decisions.planningMask)
  }

  public func finishStep(
    _ step: Int, rollouts: [PolicyRollout<AllocationSample>], batch: [Int], scores: RolloutScores,
    advantages: [Double]
  ) -> [String: Double] {
    var metrics = setup.playEpisode(rng: &episodeRNG)
    metrics["data/allocations"] = Double(rollouts.count)
    return metrics
  }

  public func evaluate() -> [String: Double] {
    setup.evaluate(episodes: evaluationEpisodes, tolerance: tolerance)
  }

  public func save(into state: inout TrainingState) {
    state.integers["rng/episodes"] = episodeRNG.savedWords
    state.doubles["trainer/bestKnown"] = setup.bestKnown
  }

  public func restorer(_ state: TrainingState, problems: inout [String]) -> () -> Void {
    let episodes = state.integer("rng/episodes", count: 4, problems: &problems)
    let best = state.doubles["trainer/bestKnown"] ?? []
    if best.count != setup.states.count {
      problems.append(
        "trainer/bestKnown holds \(best.count) values for \(setup.states.count) decision states")
    }
    return {
      self.episodeRNG = RandomState(savedWords: episodes)
      self.setup.bestKnown = best
    }
  }
}

/// GRPO of the two-stage policy on a scenario.
public typealias AllocationGRPOTrainer = GRPOTrainer<AllocationTask>

extension GRPOTrainer where Task == AllocationTask {
  /// GRPO of the two-stage policy (`kind: "taskAllocation"`, `method: "grpo"`) as `config`
  /// describes it (docs/task-allocation.md).
  public convenience init(config: ExperimentConfig) throws {
    _ = try DataParallel(config.distributed)  // refuse a rank count before any work
    var root = RandomState(seed: UInt64(config.run.seed))
    let setup = try AllocationSetup(config: config, rng: &root)
    let samplingRNG = root.split()
    let episodeRNG = root.split()
    let cursorSeed = root.next()
    let t = config.taskAllocation
    var reference: AllocationPolicy? = nil
    if config.grpo.beta > 0 {
      var unused = RandomState(seed: 0)
      let frozen = TwoStagePolicy(hidden: t.hidden, rng: &unused)
      frozen.copyParameters(from: setup.policy)
      for p in frozen.parameters { p.requiresGrad = false }
      reference = AllocationPolicy(net: frozen, creditPickedOnly: t.creditPickedOnly)
    }
    let optimizer = config.optimizer.makeOptimizer(
      steps: config.run.steps * config.grpo.optimizerStepsPerStep,
      parameters: setup.policy.namedParameters())
    self.init(
      task: AllocationTask(
        setup: setup, episodeRNG: episodeRNG, tolerance: t.successTolerance,
        evaluationEpisodes: t.evaluationEpisodes),
      policy: AllocationPolicy(net: setup.policy, creditPickedOnly: t.creditPickedOnly),
      reference: reference, options: GRPOOptions(config), optimizer: optimizer,
      samplingRNG: samplingRNG, cursorSeed: cursorSeed)
    parallel = try DataParallel(config.distributed)
    startupNotes = [knapsackRevisitWarning(steps: config.run.steps)].compactMap { $0 }
  }
}
