import Checkpoint
import Foundation
import NN
import Optim
import TaskAllocation
import TensorCore

/// What both task-allocation trainers share: the scenario, the two-stage policy, the
/// decision states sampled from the untrained policy (with the best payoff known for
/// each) and the evaluation (docs/task-allocation.md).
struct AllocationSetup {
  let scenario: Scenario
  let policy: TwoStagePolicy
  /// Decision states: the single decision of a one-step scenario, otherwise every decision
  /// of `taskAllocation.stateEpisodes` sampled episodes of the initial policy.
  let states: [ProblemFeatures]
  /// Per state, the best payoff of sequential allocation and greedy cover (training raises
  /// it whenever a sampled allocation does better).
  var bestKnown: [Double]

  init(config: ExperimentConfig, rng: inout RandomState) throws {
    let t = config.taskAllocation
    let base = try t.base.isEmpty ? nil : Scenario.load(t.base)
    do {
      scenario = try Scenario.load(t.scenario, base: base)
    } catch let error as ScenarioError {
      throw ConfigError(source: error.file, path: "taskAllocation.scenario", message: error.message)
    }
    var modelRNG = rng.split()
    policy = TwoStagePolicy(hidden: t.hidden, rng: &modelRNG)
    var problems: [AllocationProblem] = []
    var stateRNG = rng.split()
    if makeEnvironment(scenario) == nil {
      problems = [scenario.firstDecision]
    } else {
      for _ in 0..<t.stateEpisodes {
        var allocator = LearnedAllocator(policy: policy, greedy: false, seed: stateRNG.next())
        _ = runEpisode(scenario, allocator: &allocator) { problem, _ in problems.append(problem) }
      }
    }
    states = problems.map(ProblemFeatures.init)
    bestKnown = problems.map { problem in
      var sequential = OrderedAllocator.sequential
      var greedy = GreedyCover()
      return max(
        problem.payoff(sequential.allocate(problem)), problem.payoff(greedy.allocate(problem)), 0)
    }
  }

  var fingerprint: String { twoStageFingerprint(policy) }

  /// Whether `payoff` counts as solving state `s`.
  func succeeds(_ payoff: Double, state s: Int, tolerance: Double) -> Bool {
    payoff >= bestKnown[s] - tolerance * abs(bestKnown[s]) - 1e-9
  }

  /// The greedy episode, `episodes` sampled ones, and the greedy policy on every state.
  func evaluate(episodes: Int, tolerance: Double) -> [String: Double] {
    var greedy = LearnedAllocator(policy: policy, greedy: true)
    let result = runEpisode(scenario, allocator: &greedy)
    var metrics: [String: Double] = [
      "eval/return": result.totalReturn, "eval/totalReward": result.totalReward,
      "eval/tasksCompleted": Double(result.tasksCompleted),
    ]
    if episodes > 0 {
      var returns: [Double] = []
      for e in 0..<episodes {
        var sampled = LearnedAllocator(policy: policy, greedy: false, seed: UInt64(e))
        returns.append(runEpisode(scenario, allocator: &sampled).totalReturn)
      }
      metrics["eval/returnSampled"] = returns.reduce(0, +) / Double(returns.count)
    }
    var rng = RandomState(seed: 0)
    var gaps: [Double] = []
    var solved = 0
    for (s, f) in states.enumerated() {
      let payoff = policy.sample(f, count: 1, greedy: true, rng: &rng)[0].payoff
      gaps.append(bestKnown[s] - payoff)
      if succeeds(payoff, state: s, tolerance: tolerance) { solved += 1 }
    }
    metrics["eval/gap"] = gaps.reduce(0, +) / Double(max(gaps.count, 1))
    metrics["eval/pass1"] = Double(solved) / Double(max(states.count, 1))
    return metrics
  }

  /// One sampled episode of the current policy: its return, total reward and tasks.
  func playEpisode(rng: inout RandomState) -> [String: Double] {
    var sampled = LearnedAllocator(policy: policy, greedy: false, seed: rng.next())
    let result = runEpisode(scenario, allocator: &sampled)
    return [
      "episode/return": result.totalReturn, "episode/totalReward": result.totalReward,
      "episode/tasksCompleted": Double(result.tasksCompleted),
      "episode/decisions": Double(result.decisions),
    ]
  }
}

/// The structure of a two-stage policy, as checkpoints record it.
func twoStageFingerprint(_ net: TwoStagePolicy) -> String {
  "two-stage hidden=\(net.hidden) entityToken=\(ProblemFeatures.entityTokenWidth) "
    + "taskToken=\(ProblemFeatures.taskTokenWidth)"
}

/// The two-stage policy a task-allocation checkpoint holds (its `model/` tensors), for
/// evaluation on any scenario, and the experiment (`run.name`) that trained it.
public func loadAllocationPolicy(_ data: CheckpointData, file: String) throws -> (
  policy: TwoStagePolicy, experiment: String
) {
  let loaded = try CheckpointFiles.decode(data, file: file)
  let config = try ConfigLoader.decode(configJSON: loaded.configJSON, source: file)
  guard config.kind == .taskAllocation else {
    throw ConfigError(
      source: file, path: "kind",
      message: "is \"\(config.kind.rawValue)\"; a two-stage policy comes from a taskAllocation run")
  }
  var rng = RandomState(seed: 0)
  let policy = TwoStagePolicy(hidden: config.taskAllocation.hidden, rng: &rng)
  try loaded.state.restoreModel(into: policy.namedParameters(), file: file)
  return (policy, config.run.name)
}
