/// The two-stage task-allocation policy and its training (`kind: "taskAllocation"`); see
/// docs/task-allocation.md.
public struct TaskAllocationConfig: Codable, Equatable, Sendable {
  /// The scenario file the policy trains on.
  public var scenario = "Experiments/scenarios/almighty.json"
  /// A scenario file that supplies the fields `scenario` leaves out; "" for none.
  public var base = ""
  /// `grpo` (groups of sampled allocations per decision state) or `sac` (the paper's
  /// discrete soft actor-critic, one episode per step).
  public var method = TaskAllocationMethod.grpo
  /// Hidden size H of every block.
  public var hidden = 64
  /// GRPO: sampled episodes of the initial policy whose decisions are the training states
  /// (the "prompts"); a one-step scenario has its single decision.
  public var stateEpisodes = 4
  /// GRPO: leave out of the loss the pre-assignments of entities stage 2 did not pick
  /// (their draws did not shape the payoff, and crediting them only adds noise).
  public var creditPickedOnly = false
  /// A sampled allocation succeeds (for Knapsack-RL and `eval/pass1`) when its payoff is
  /// within this fraction of the best known payoff of its state.
  public var successTolerance = 0.01
  /// Sampled evaluation episodes besides the greedy one.
  public var evaluationEpisodes = 4
  /// SAC: entropy weight α of both stages.
  public var entropyWeight = 0.01
  /// SAC: discount γ of stage 2.
  public var gamma = 0.98
  /// SAC: target networks follow with this weight per update (τ).
  public var tau = 0.005
  /// SAC: stage-1 replay buffer size, minibatch size and the size it must reach first.
  public var replaySize = 1000
  public var replayBatch = 32
  public var replayStart = 100
  /// SAC: the critics' learning rate (the actor's is `optimizer.learningRate`).
  public var criticLearningRate = 1e-3
}

public enum TaskAllocationMethod: String, ConfigChoice {
  case grpo, sac
}

extension TaskAllocationConfig {
  func validate(_ check: inout ConfigCheck) {
    check.require(!scenario.isEmpty, "taskAllocation.scenario", "\"\"", "must name a scenario file")
    check.bound(hidden, "taskAllocation.hidden", 1...4_096, ConfigLimits.memory)
    check.bound(
      stateEpisodes, "taskAllocation.stateEpisodes", 1...100_000,
      "episodes played at start; \(ConfigLimits.runTime)")
    check.require(
      (0..<1).contains(successTolerance), "taskAllocation.successTolerance", successTolerance,
      "must lie in [0, 1)")
    check.bound(
      evaluationEpisodes, "taskAllocation.evaluationEpisodes", 0...100_000,
      "episodes per evaluation; \(ConfigLimits.runTime)")
    check.require(entropyWeight >= 0, "taskAllocation.entropyWeight", entropyWeight, "must be ≥ 0")
    check.require((0...1).contains(gamma), "taskAllocation.gamma", gamma, "must lie in [0, 1]")
    check.require(tau > 0 && tau <= 1, "taskAllocation.tau", tau, "must lie in (0, 1]")
    check.bound(replayBatch, "taskAllocation.replayBatch", 1...65_536, ConfigLimits.memory)
    check.bound(
      replaySize, "taskAllocation.replaySize", 1...ConfigLimits.examples, ConfigLimits.memory)
    for (value, key) in [
      (successTolerance, "taskAllocation.successTolerance"),
      (entropyWeight, "taskAllocation.entropyWeight"), (gamma, "taskAllocation.gamma"),
      (tau, "taskAllocation.tau"), (criticLearningRate, "taskAllocation.criticLearningRate"),
    ] {
      check.float(value, key)
    }
    check.belowOneInFloat(gamma, "taskAllocation.gamma")
    check.require(
      replaySize >= replayBatch, "taskAllocation.replaySize", replaySize,
      "must be ≥ taskAllocation.replayBatch (\(replayBatch))")
    check.require(
      replayStart >= replayBatch && replayStart <= replaySize, "taskAllocation.replayStart",
      replayStart,
      "must lie in taskAllocation.replayBatch...taskAllocation.replaySize (\(replayBatch)...\(replaySize))"
    )
    check.require(
      criticLearningRate > 0, "taskAllocation.criticLearningRate", criticLearningRate,
      "must be > 0")
  }
}
