import Foundation
import Testing

@testable import Training

/// The almighty scenario of the repository (optimum 35, sequential trap 28).
private let almighty = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("../../Experiments/scenarios/almighty.json").standardized.path

/// The kinds `tinyConfig` knows: every trainer, and both task-allocation methods.
let tinyKinds = ["classifier", "sft", "grpo", "grpo-allocation", "sac"]

/// A tiny config of each trainer kind (and task-allocation method).
func tinyConfig(_ kind: String) -> ExperimentConfig {
  var c = ExperimentConfig()
  c.run.steps = 5
  c.optimizer.schedule = .constant
  switch kind {
  case "classifier":
    c.classifier.trainSize = 64
    c.classifier.testSize = 16
    c.classifier.hidden = [8]
    c.classifier.batchSize = 16
  case "sft", "grpo":
    c.kind = kind == "sft" ? .sft : .grpo
    c.model = ModelConfig(
      layers: 1, heads: 2, width: 16, context: 160, mlpRatio: 2, tiedEmbeddings: false)
    c.task.maxDigits = 1
    c.task.trainSize = 8
    c.task.testSize = 2
    c.sft.batchSize = 2
    c.grpo.promptsPerStep = 2
    c.grpo.groupSize = 2
    c.grpo.maxCompletionLength = 8
    c.evaluation.prompts = 2
    c.evaluation.maxNewTokens = 8
  default:
    c.kind = .taskAllocation
    c.taskAllocation.scenario = almighty
    c.taskAllocation.method = kind == "sac" ? .sac : .grpo
    c.taskAllocation.hidden = 8
    c.taskAllocation.evaluationEpisodes = 0
    c.taskAllocation.replayBatch = 2
    c.taskAllocation.replayStart = 2
    c.grpo.promptsPerStep = 1
    c.grpo.groupSize = 4
  }
  return c
}

/// Evaluations off the `logging.every` grid reach metrics.jsonl for every trainer kind:
/// with `every` 4 and `evalEvery` 3 over 5 steps, lines for steps 0 (before training,
/// evaluated), 3 (evaluated), 4 (logged) and 5 (the end, evaluated).
@Test(arguments: tinyKinds)
func evaluationsOffTheLoggingGridAreLogged(kind: String) throws {
  var config = tinyConfig(kind)
  let root = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-evallog-\(UUID().uuidString)")
  defer { try? FileManager.default.removeItem(at: root) }
  config.run.outputDir = root.path
  config.logging.every = 4
  config.logging.evalEvery = 3
  let outcome = try TrainingSession(config: config, command: ["test"], quiet: true).start()
  guard case .finished(let run, let step) = outcome else {
    Issue.record("the run did not finish: \(outcome)")
    return
  }
  #expect(step == 5)
  let records = try MetricsLog.read(run.appendingPathComponent("metrics.jsonl"))
  #expect(records.map(\.step) == [0, 3, 4, 5])  // step 0: the evaluation before training
  let evaluated = records.map { $0.values.keys.contains { $0.hasPrefix("eval/") } }
  #expect(evaluated == [true, true, false, true])
  #expect(records[0].values.keys.allSatisfy { $0.hasPrefix("eval/") })
}
