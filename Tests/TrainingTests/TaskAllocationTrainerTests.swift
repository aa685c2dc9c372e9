import Foundation
import TaskAllocation
import TensorCore
import Testing

@testable import Training

/// The almighty scenario of the repository (optimum 35, sequential trap 28).
private let almighty = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("../../Experiments/scenarios/almighty.json").standardized.path

private func allocationConfig(_ method: TaskAllocationMethod, steps: Int) -> ExperimentConfig {
  var c = ExperimentConfig()
  c.kind = .taskAllocation
  c.run.steps = steps
  c.taskAllocation.scenario = almighty
  c.taskAllocation.method = method
  c.taskAllocation.hidden = 16
  c.taskAllocation.evaluationEpisodes = 0
  c.grpo.promptsPerStep = 1
  c.grpo.groupSize = 16
  c.optimizer.learningRate = 0.003
  c.optimizer.schedule = .constant
  return c
}

@Test func grpoTeachesTheTwoStagePolicyAlmightysOptimum() throws {
  var config = allocationConfig(.grpo, steps: 100)
  config.taskAllocation.hidden = 32
  let trainer = try AllocationGRPOTrainer(config: config)
  // The untrained greedy policy falls short even of the sequential trap (28).
  let before = trainer.evaluate()["eval/return"]!
  #expect(before < 28, "untrained greedy return \(before)")
  var payoffs: [Double] = []
  for _ in 0..<100 { payoffs.append((try trainer.trainStep())["reward/mean"]!) }
  let early = payoffs.prefix(5).reduce(0, +) / 5
  let late = payoffs.suffix(5).reduce(0, +) / 5
  // The untrained policy's sampled allocations pay little; trained ones reach the optimum
  // (35), above the sequential trap (28).
  #expect(early < 20, "early mean payoff \(early)")
  #expect(late > 33, "late mean payoff \(late): \(payoffs)")
  let evaluation = trainer.evaluate()
  #expect(evaluation["eval/return"] == 35)
  #expect(evaluation["eval/pass1"] == 1)
}

/// Six steps straight against three, the state, and three more from it in a new trainer:
/// the same metrics (times aside) and the same final state, bit for bit.
func resumesBitForBit(
  _ config: ExperimentConfig, make: (ExperimentConfig) throws -> any Trainer
)
  throws
{
  let straight = try make(config)
  var straightMetrics: [[String: Double]] = []
  for _ in 0..<6 {
    straightMetrics.append((try straight.trainStep()).filter { !$0.key.hasPrefix("perf/") })
  }
  let first = try make(config)
  var resumedMetrics: [[String: Double]] = []
  for _ in 0..<3 {
    resumedMetrics.append((try first.trainStep()).filter { !$0.key.hasPrefix("perf/") })
  }
  let saved = first.state()
  let second = try make(config)
  try second.restore(saved)
  #expect(second.step == 3)
  for _ in 0..<3 {
    resumedMetrics.append((try second.trainStep()).filter { !$0.key.hasPrefix("perf/") })
  }
  #expect(resumedMetrics == straightMetrics)
  #expect(second.state().tensors.map(\.1.scalars) == straight.state().tensors.map(\.1.scalars))
}

@Test func allocationGRPOResumesBitForBit() throws {
  var config = allocationConfig(.grpo, steps: 6)
  config.knapsack.enabled = true
  config.knapsack.minimum = 4
  config.knapsack.window = 8
  config.hicra.enabled = true
  config.grpo.beta = 0.01
  config.grpo.epochs = 2
  config.grpo.minibatchSize = 8
  try resumesBitForBit(config) { try AllocationGRPOTrainer(config: $0) }
}

@Test func allocationGRPOVariantsResumeBitForBit() throws {
  var config = allocationConfig(.grpo, steps: 6)
  config.grpo.beta = 0.01
  config.grpo.klInReward = true
  config.grpo.klEstimator = .k2
  config.grpo.policyLoss = .gspo
  config.grpo.gspoEpsilonHigh = 0.01
  config.grpo.entropyCoefficient = 0.01
  config.grpo.entropyTopFraction = 0.5
  config.grpo.advantageEstimator = .rloo
  config.grpo.epochs = 2
  try config.validate(source: "test")
  try resumesBitForBit(config) { try AllocationGRPOTrainer(config: $0) }
}

@Test func allocationSACResumesBitForBit() throws {
  var config = allocationConfig(.sac, steps: 6)
  config.taskAllocation.replayBatch = 2
  config.taskAllocation.replayStart = 2
  config.taskAllocation.replaySize = 4
  try resumesBitForBit(config) { try AllocationSACTrainer(config: $0) }
}

@Test func sacLearnsFromReplayAndOnline() throws {
  var config = allocationConfig(.sac, steps: 4)
  config.taskAllocation.replayBatch = 2
  config.taskAllocation.replayStart = 2
  let trainer = try AllocationSACTrainer(config: config)
  let first = (try trainer.trainStep())
  #expect(first["loss/mixer"] == nil)  // the buffer holds one decision
  #expect(first["loss/actorStage2"] != nil)
  let second = (try trainer.trainStep())
  #expect(second["loss/mixer"] != nil)
  #expect(second["data/replay"] == 2)
}

@Test func allocationConfigErrorsNameTheKey() throws {
  var config = allocationConfig(.sac, steps: 1)
  config.taskAllocation.replayStart = 5000
  #expect(throws: ConfigErrors.self) { try config.validate(source: "exp.json") }
  do {
    try config.validate(source: "exp.json")
  } catch let errors as ConfigErrors {
    #expect(errors.errors.map(\.path) == ["taskAllocation.replayStart"])
  }
  var missing = allocationConfig(.grpo, steps: 1)
  missing.taskAllocation.scenario = "/nonexistent/scenario.json"
  #expect {
    _ = try AllocationGRPOTrainer(config: missing)
  } throws: { error in
    "\(error)".contains("/nonexistent/scenario.json")
      && "\(error)".contains("taskAllocation.scenario")
  }
}
