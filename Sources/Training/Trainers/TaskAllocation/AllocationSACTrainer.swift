import Distributed
import Foundation
import NN
import Optim
import TaskAllocation
import TensorCore

/// The paper's training of the two-stage policy (docs/task-allocation.md): discrete soft
/// actor-critic for both stages, one episode per step. It runs in one process only: under
/// `mpirun` with more than one rank it refuses to start (docs/distributed.md).
///
/// - Stage 1 is a one-step problem: the mixer critic regresses the planned return
///   Σ_t max(0, G_t) (the decision's payoff, over the state's value scale) of replayed
///   pre-assignments; the actor minimises Σ_t π_i(t)(α log π_i(t) − Q_tot(c with c_i = t))
///   per entity. Replay: `replaySize`, minibatch `replayBatch`, from `replayStart` entries.
/// - Stage 2 is learned online from each decision's picks, γ = `gamma`: a pick earns
///   −cost/V, plus R/V when it completes the task's cover; the critic's soft Bellman target
///   uses a target network that follows with weight τ and is detached.
public final class AllocationSACTrainer: Trainer {
  public let config: ExperimentConfig
  var setup: AllocationSetup
  public var policy: TwoStagePolicy { setup.policy }
  let mixer: MixerCritic
  let selectionCritic: SelectionScorer
  let selectionTarget: SelectionScorer
  public let optimizer: any Optimizer
  let mixerOptimizer: Adam
  let selectionOptimizer: Adam
  public private(set) var step = 0
  var cursor: EpochCursor
  var episodeRNG: RandomState
  var replayRNG: RandomState
  /// Stage-1 transitions: the decision, the pre-assignment, the scaled planned return.
  var replay:
    [(problem: AllocationProblem, features: ProblemFeatures, assignment: [Int], target: Double)] =
      []
  var replayNext = 0

  public init(config: ExperimentConfig) throws {
    if Communicator.world.size > 1 {
      throw ConfigError(
        source: "mpirun -np \(Communicator.world.size)", path: "taskAllocation.method",
        message: "is \"sac\"; soft actor-critic trains in one process only: run it without "
          + "mpirun (or with -np 1), or use method \"grpo\", which trains data-parallel")
    }
    self.config = config
    let t = config.taskAllocation
    var root = RandomState(seed: UInt64(config.run.seed))
    setup = try AllocationSetup(config: config, rng: &root)
    var criticRNG = root.split()
    mixer = MixerCritic(hidden: t.hidden, rng: &criticRNG)
    selectionCritic = SelectionScorer(hidden: t.hidden, rng: &criticRNG)
    selectionTarget = SelectionScorer(hidden: t.hidden, rng: &criticRNG)
    selectionTarget.copyParameters(from: selectionCritic)
    for p in selectionTarget.parameters { p.requiresGrad = false }
    episodeRNG = root.split()
    replayRNG = root.split()
    cursor = EpochCursor(count: 1, seed: 0)
    optimizer = config.optimizer.makeOptimizer(
      steps: config.run.steps, parameters: setup.policy.namedParameters())
    mixerOptimizer = Adam(
      parameters: mixer.namedParameters(), learningRate: Float(t.criticLearningRate))
    selectionOptimizer = Adam(
      parameters: selectionCritic.namedParameters(), learningRate: Float(t.criticLearningRate))
  }

  public var modelFingerprint: String { setup.fingerprint }
  public var progressKeys: [String] { ["episode/return", "eval/return"] }

  /// An allocator that samples from the policy and hands every decision to `learn`.
  struct LearningAllocator: Allocator {
    let trainer: AllocationSACTrainer
    var rng: RandomState
    var name: String { "two-stage (training)" }

    mutating func allocate(_ problem: AllocationProblem) -> Allocation {
      let f = ProblemFeatures(problem)
      let sample = trainer.policy.sample(f, count: 1, rng: &rng)[0]
      trainer.learn(problem, f, sample)
      return sample.allocation
    }
  }

  var losses: [String: [Double]] = [:]

  /// The first non-finite loss, gradient or parameter of this step's updates; later
  /// updates of the step are skipped and `trainStep` throws it.
  var failure: Error?

  public func trainStep() throws -> [String: Double] {
    losses = [:]
    var allocator = LearningAllocator(trainer: self, rng: episodeRNG)
    let result = runEpisode(setup.scenario, allocator: &allocator)
    episodeRNG = allocator.rng
    if let failure {
      self.failure = nil
      throw failure
    }
    step += 1
    var metrics: [String: Double] = [
      "episode/return": result.totalReturn, "episode/totalReward": result.totalReward,
      "episode/tasksCompleted": Double(result.tasksCompleted),
      "episode/decisions": Double(result.decisions),
      "data/replay": Double(replay.count),
      "optim/learningRate": Double(optimizer.currentLearningRate),
    ]
    for (key, values) in losses { metrics[key] = values.reduce(0, +) / Double(values.count) }
    return metrics
  }

  /// One decision's updates: stage 2 online, stage 1 from replay once it holds enough.
  func learn(_ problem: AllocationProblem, _ f: ProblemFeatures, _ sample: AllocationSample) {
    guard !sample.preAssignment.isEmpty, failure == nil else { return }
    let t = config.taskAllocation
    let alpha = Float(t.entropyWeight)
    let entry = (problem, f, sample.preAssignment, sample.payoff / f.valueScale)
    if replay.count < t.replaySize {
      replay.append(entry)
    } else {
      replay[replayNext] = entry
    }
    replayNext = (replayNext + 1) % t.replaySize
    optimizer.zeroGrad()
    var actorLoss: Tensor? = nil
    if !sample.selections.isEmpty {
      actorLoss = stage2(f, sample.selections, alpha: alpha)
      guard failure == nil else { return }
    }
    if replay.count >= t.replayStart {
      let batch = (0..<t.replayBatch).map { _ in replay[replayRNG.nextInt(below: replay.count)] }
      mixerOptimizer.zeroGrad()
      var criticLoss = Tensor(scalar: 0)
      var stage1 = Tensor(scalar: 0)
      for (_, features, assignment, target) in batch {
        let q = mixer(features, assignment: assignment)
        criticLoss = criticLoss + (q - Float(target)).square()
        let counterfactual = withoutGrad { mixer.counterfactuals(features, assignment: assignment) }
        let logP = policy.preAssignLogits(features).logSoftmax(axis: 1)
        let p = logP.exp()
        stage1 = stage1 + (p * (alpha * logP - counterfactual)).sum(axis: 1).mean()
      }
      criticLoss = criticLoss / Float(batch.count)
      stage1 = stage1 / Float(batch.count)
      criticLoss.backward()
      guard update(mixerOptimizer, loss: criticLoss.item) else { return }
      losses["loss/mixer", default: []].append(Double(criticLoss.item))
      losses["loss/actorStage1", default: []].append(Double(stage1.item))
      actorLoss = actorLoss.map { $0 + stage1 } ?? stage1
    }
    if let actorLoss {
      actorLoss.backward()
      let clip = config.optimizer.gradClip > 0 ? Float(config.optimizer.gradClip) : .infinity
      _ = clipGradientNorm(policy.parameters, maxNorm: clip)
      _ = update(optimizer, loss: actorLoss.item)
    }
  }

  /// `checkedStep`, recording a failure instead of throwing (updates run inside the
  /// episode); false when the update was refused.
  func update(_ optimizer: any Optimizer, loss: Float) -> Bool {
    do {
      try checkedStep(optimizer, loss: loss)
      return true
    } catch {
      failure = failure ?? error
      return false
    }
  }

  /// Stage 2's critic update (applied) and actor loss (returned) for one decision's picks.
  func stage2(_ f: ProblemFeatures, _ steps: [SelectionStep], alpha: Float) -> Tensor {
    let gamma = Float(config.taskAllocation.gamma)
    // Rewards and successors: the next pick for the same task, if any.
    var rewards: [Float] = []
    var next: [Int?] = []
    for (k, s) in steps.enumerated() {
      let i = f.entities[s.eligible[s.chosen]]
      let task = f.problem.tasks[f.tasks[s.task]]
      let remaining = zip(s.remaining, f.problem.entities[i].capability).map { $0 - $1 }
      let covered = remaining.allSatisfy { $0 <= 1e-9 }
      rewards.append(
        Float((-f.problem.cost(i, f.tasks[s.task]) + (covered ? task.reward : 0)) / f.valueScale))
      next.append(steps[(k + 1)...].firstIndex { $0.task == s.task })
    }
    let successors = next.compactMap { $0 }.map { steps[$0] }
    var targets = rewards
    if !successors.isEmpty {
      let values: [Float] = withoutGrad {
        let logP = policy.selector.padded(f, rows: successors).logSoftmax(axis: 1)
        let q = selectionTarget.padded(f, rows: successors)
        let p = logP.exp()
        return (p * (q - alpha * logP)).sum(axis: 1).scalars
      }
      var k = 0
      for (row, successor) in next.enumerated() where successor != nil {
        targets[row] += gamma * values[k]
        k += 1
      }
    }
    selectionOptimizer.zeroGrad()
    let q = selectionCritic.padded(f, rows: steps).gatherLast(steps.map(\.chosen))
    let criticLoss = (q - Tensor(targets)).square().mean()
    criticLoss.backward()
    _ = update(selectionOptimizer, loss: criticLoss.item)
    let tau = Float(config.taskAllocation.tau)
    for (target, source) in zip(selectionTarget.parameters, selectionCritic.parameters) {
      target.assign(target * (1 - tau) + source * tau)
    }
    losses["loss/selectionCritic", default: []].append(Double(criticLoss.item))
    let values = withoutGrad { selectionCritic.padded(f, rows: steps) }
    let logP = policy.selector.padded(f, rows: steps).logSoftmax(axis: 1)
    let p = logP.exp()
    let actor = (p * (alpha * logP - values)).sum(axis: 1).mean()
    losses["loss/actorStage2", default: []].append(Double(actor.item))
    return actor
  }

  public func evaluate() -> [String: Double] {
    setup.evaluate(
      episodes: config.taskAllocation.evaluationEpisodes,
      tolerance: config.taskAllocation.successTolerance)
  }

  var core: CoreState { CoreState(model: policy, optimizer: optimizer, step: step, cursor: cursor) }

  var criticTargets: [(String, Tensor)] {
    mixer.namedParameters().map { ("critic/mixer/\($0.0)", $0.1) }
      + selectionCritic.namedParameters().map { ("critic/selection/\($0.0)", $0.1) }
      + selectionTarget.namedParameters().map { ("critic/selectionTarget/\($0.0)", $0.1) }
      + mixerOptimizer.namedState().map { ("criticOptimizer/mixer/\($0.0)", $0.1) }
      + selectionOptimizer.namedState().map { ("criticOptimizer/selection/\($0.0)", $0.1) }
  }

  public func state() -> TrainingState {
    var state = core.saved()
    state.tensors += criticTargets
    state.integers["criticOptimizer/steps"] = [
      Int64(mixerOptimizer.stepCount), Int64(selectionOptimizer.stepCount),
    ]
    state.integers["rng/episodes"] = episodeRNG.savedWords
    state.integers["rng/replay"] = replayRNG.savedWords
    state.integers["trainer/replayNext"] = [Int64(replayNext)]
    // The replay buffer: per entry its task table, availability, costs, choice and target.
    var shape: [Int64] = []
    var values: [Double] = []
    var choices: [Int64] = []
    for entry in replay {
      let p = entry.problem
      shape += [Int64(p.tasks.count), p.costs == nil ? 0 : 1]
      values += p.entityAvailable.map { $0 ? 1 : 0 } + p.taskAvailable.map { $0 ? 1 : 0 }
      for task in p.tasks { values += [task.reward] + task.requirement }
      if let costs = p.costs { values += costs.flatMap { $0 } }
      values.append(entry.target)
      choices += [Int64(entry.assignment.count)] + entry.assignment.map(Int64.init)
    }
    state.integers["trainer/replay/shape"] = shape
    state.integers["trainer/replay/choices"] = choices
    state.doubles["trainer/replay/values"] = values
    return state
  }

  public func restore(_ state: TrainingState) throws {
    var problems = state.problems(fitting: criticTargets)
    let steps = state.integer("criticOptimizer/steps", count: 2, problems: &problems)
    let episodes = state.integer("rng/episodes", count: 4, problems: &problems)
    let replayWords = state.integer("rng/replay", count: 4, problems: &problems)
    let next = state.integer("trainer/replayNext", count: 1, problems: &problems)
    let restoredReplay = decodeReplay(state, problems: &problems)
    (step, cursor) = try core.restore(from: state, problems: problems)
    state.assign(to: criticTargets)
    mixerOptimizer.stepCount = Int(steps[0])
    selectionOptimizer.stepCount = Int(steps[1])
    episodeRNG = RandomState(savedWords: episodes)
    replayRNG = RandomState(savedWords: replayWords)
    replayNext = Int(next[0])
    replay = restoredReplay
  }

  func decodeReplay(_ state: TrainingState, problems: inout [String]) -> [(
    problem: AllocationProblem, features: ProblemFeatures, assignment: [Int], target: Double
  )] {
    let shape = state.integers["trainer/replay/shape"] ?? []
    let choices = state.integers["trainer/replay/choices"] ?? []
    let values = state.doubles["trainer/replay/values"] ?? []
    let entities = setup.scenario.entities
    let n = entities.count
    let d = setup.scenario.dimensions
    var out: [(AllocationProblem, ProblemFeatures, [Int], Double)] = []
    var (v, c) = (0, 0)
    for e in stride(from: 0, to: shape.count - 1, by: 2) {
      let m = Int(shape[e])
      let hasCosts = shape[e + 1] == 1
      let needed = n + m + m * (1 + d) + (hasCosts ? n * m : 0) + 1
      guard m >= 0, v + needed <= values.count, c < choices.count,
        c + 1 + Int(choices[c]) <= choices.count
      else {
        problems.append("trainer/replay: entry \(e / 2) does not fit the saved tables")
        return []
      }
      let entityAvailable = values[v..<(v + n)].map { $0 == 1 }
      v += n
      let taskAvailable = values[v..<(v + m)].map { $0 == 1 }
      v += m
      var tasks: [TaskSpec] = []
      for _ in 0..<m {
        tasks.append(TaskSpec(reward: values[v], requirement: Array(values[(v + 1)..<(v + 1 + d)])))
        v += 1 + d
      }
      var costs: [[Double]]? = nil
      if hasCosts {
        costs = (0..<n).map { i in Array(values[(v + i * m)..<(v + (i + 1) * m)]) }
        v += n * m
      }
      let target = values[v]
      v += 1
      let count = Int(choices[c])
      let assignment = choices[(c + 1)..<(c + 1 + count)].map { Int($0) }
      c += 1 + count
      let problem = AllocationProblem(
        entities: entities, tasks: tasks, entityAvailable: entityAvailable,
        taskAvailable: taskAvailable, costs: costs)
      out.append((problem, ProblemFeatures(problem), assignment, target))
    }
    return out
  }
}
