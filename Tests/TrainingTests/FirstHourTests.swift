import Foundation
import Testing

@testable import Training

// Issue #22, a newcomer's first hour: the quickstart runs GRPO, every run evaluates before
// its first step without changing what it trains, errors name the layer at fault.

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent()

@Test func theQuickstartIsGRPOWithKnapsackAndHICRAOnAScenarioOfTheRepository() throws {
  let quickstart = ExperimentConfig.quickstart
  #expect(quickstart.kind == .taskAllocation && quickstart.taskAllocation.method == .grpo)
  #expect(quickstart.knapsack.enabled && quickstart.hicra.enabled)
  #expect(quickstart.logging.evalAtStart)
  try quickstart.validate(source: ExperimentConfig.quickstartSource)
  let scenario = repository.appendingPathComponent(quickstart.taskAllocation.scenario)
  #expect(FileManager.default.fileExists(atPath: scenario.path), "\(scenario.path)")
  // What train resolves with no --config: the quickstart, overrides on top.
  let resolved = try ConfigLoader.resolve(
    file: nil, overrides: ["run.steps=5"], defaults: .quickstart,
    defaultsSource: ExperimentConfig.quickstartSource)
  var expected = quickstart
  expected.run.steps = 5
  #expect(resolved == expected)
  // The classifier of the defaults stays an experiment config.
  let spirals = try ConfigLoader.resolve(
    file: repository.appendingPathComponent("Experiments/spirals.json").path)
  #expect(try ConfigLoader.differences(spirals, ExperimentConfig()) == ["notes", "run.name"])
}

@Test func rangeErrorsNameTheLayerThatSetTheValue() throws {
  let file = FileManager.default.temporaryDirectory
    .appendingPathComponent("allot-layers-\(UUID().uuidString).json")
  try Data(#"{"optimizer": {"learningRate": -1}}"#.utf8).write(to: file)
  defer { try? FileManager.default.removeItem(at: file) }
  let fromFile = problems { _ = try ConfigLoader.resolve(file: file.path) }
  #expect(fromFile.hasPrefix("\(file.path): config key 'optimizer.learningRate' is -1.0"))
  // A --set over the file wins, and is named.
  let fromSet = problems {
    _ = try ConfigLoader.resolve(file: file.path, overrides: ["optimizer.learningRate=0"])
  }
  #expect(fromSet.hasPrefix("--set optimizer.learningRate=0: config key 'optimizer.learningRate'"))
  // A value nobody set (the other side of a combination) is the defaults'.
  let combination = problems {
    _ = try ConfigLoader.resolve(file: nil, overrides: ["classifier.dataset=xor"])
  }
  #expect(combination.hasPrefix("defaults: config key 'classifier.classes' is 3"))
  let quickstart = { (override: String) in
    problems {
      _ = try ConfigLoader.resolve(
        file: nil, overrides: [override], defaults: .quickstart,
        defaultsSource: ExperimentConfig.quickstartSource)
    }
  }
  #expect(quickstart("knapsack.low=1").hasPrefix("--set knapsack.low=1: config key 'knapsack.low'"))
  #expect(
    quickstart("knapsack.low=9").hasPrefix(
      "the built-in quickstart config: config key 'grpo.groupSize' is 8"))
}

@Test func aScenarioFileGivenAsAConfigIsNamedAsOneAndTheReverse() throws {
  let scenario = repository.appendingPathComponent("Experiments/scenarios/rbf.json").path
  let text = problems { _ = try ConfigLoader.resolve(file: scenario) }
  #expect(text.contains("is a task-allocation scenario file, not an experiment config"))
  #expect(text.contains("allot baselines \(scenario)"))
  let config = repository.appendingPathComponent("Experiments/ta-rbf-grpo.json").path
  let data = FileManager.default.contents(atPath: config) ?? Data()
  #expect(ConfigLoader.isExperimentConfig(data))
  let (status, _, err) = try allot(["baselines", config])
  #expect(status != 0)
  #expect(err.contains("\(config): this is an experiment config, not a scenario file"), "\(err)")
}

@Test func theStartSummaryListsWhatDiffersFromTheDefaults() throws {
  let lines = try ConfigLoader.summary(.quickstart, width: 60)
  let text = lines.joined(separator: "\n")
  #expect(text.contains("kind=taskAllocation") && text.contains("knapsack.enabled=true"))
  #expect(text.contains("taskAllocation.scenario=Experiments/scenarios/rbf.json"))
  #expect(!text.contains("notes="))
  #expect(lines.allSatisfy { $0.count <= 60 || !$0.contains(", ") })
  #expect(try ConfigLoader.summary(ExperimentConfig()) == ["the defaults"])
}

/// Every trainer that evaluates (task-allocation GRPO with Knapsack-RL and HICRA on).
@Test(arguments: tinyKinds)
func evaluatingBeforeEveryStepTrainsTheSameBits(kind: String) throws {
  var config = tinyConfig(kind)
  config.run.steps = 3
  if kind == "grpo-allocation" {
    config.knapsack.enabled = true
    config.knapsack.minimum = 2
    config.hicra.enabled = true
  }
  let plain = try makeTrainer(config)
  let evaluated = try makeTrainer(config)
  for _ in 0..<config.run.steps {
    let first = evaluated.evaluate()
    #expect(!first.isEmpty && first.keys.allSatisfy { $0.hasPrefix("eval/") })
    // Bit patterns: a metric may be NaN (HICRA's with no planning token), NaN ≠ NaN.
    let a = try plain.trainStep().filter { !$0.key.hasPrefix("perf/") }.mapValues(\.bitPattern)
    let b = try evaluated.trainStep().filter { !$0.key.hasPrefix("perf/") }.mapValues(\.bitPattern)
    #expect(a == b, "\(config.kind)")
  }
  let (x, y) = (plain.state(), evaluated.state())
  #expect(x.integers == y.integers)
  #expect(x.tensors.map(\.0) == y.tensors.map(\.0))
  #expect(zip(x.tensors, y.tensors).allSatisfy { $0.1.scalars == $1.1.scalars }, "\(config.kind)")
}

@Test func grpoFromUntrainedWeightsWarns() throws {
  var config = tinyConfig("grpo")
  let cold = try makeTrainer(config)
  #expect(cold.startupNotes.contains { $0.hasPrefix("warning: grpo.initFrom is \"\"") })
  // A restored checkpoint carries its weights: no warning.
  let restoring = try makeTrainer(config, restoring: true)
  #expect(!restoring.startupNotes.contains { $0.hasPrefix("warning:") })
  config.kind = .taskAllocation
  config.taskAllocation = ExperimentConfig.quickstart.taskAllocation
  config.taskAllocation.scenario =
    repository.appendingPathComponent("Experiments/scenarios/almighty.json").path
  #expect(try makeTrainer(config).startupNotes.isEmpty)
}

@Test func progressLinesShowRateElapsedAndMarkStaleValues() {
  let progress = ProgressReporter(
    totalSteps: 200, startStep: 0, quiet: true, keys: ["reward/mean", "eval/return"])
  progress.remember(step: 0, metrics: ["eval/return": 10])
  let line = progress.line(step: 50, metrics: ["reward/mean": 0.5])
  #expect(line.hasPrefix("50/200 25%  "), "\(line)")
  #expect(line.contains("elapsed 0:0") && line.contains("ETA "), "\(line)")
  #expect(line.contains("steps/s") || line.contains("s/step"), "\(line)")
  #expect(line.hasSuffix("reward/mean 0.5  eval/return 10 @0"), "\(line)")
  let fresh = progress.line(step: 100, metrics: ["eval/return": 20])
  #expect(fresh.hasSuffix("eval/return 20"), "\(fresh)")
}

@Test func knapsackWithoutRevisitsWarns() throws {
  // 5 steps × 2 prompts = 10 draws: 8 training prompts are revisited, 20 are not.
  var config = tinyConfig("grpo")
  config.knapsack.enabled = true
  let revisiting = try makeTrainer(config, restoring: true)
  #expect(!revisiting.startupNotes.contains { $0.hasPrefix("warning: knapsack") })
  config.task.trainSize = 20
  let notes = try makeTrainer(config, restoring: true).startupNotes
  let warning = try #require(notes.first { $0.hasPrefix("warning: knapsack.enabled") })
  #expect(warning.contains("10 prompt draws (5 steps, 2 per step)"), "\(warning)")
  #expect(warning.contains("20 training prompts") && warning.contains("uniform 2"), "\(warning)")
  // Dynamic sampling's extra draws count: up to 4 × 2 × 5 = 40 > 20 — no warning.
  config.dynamicSampling.enabled = true
  #expect(
    !(try makeTrainer(config, restoring: true)).startupNotes.contains {
      $0.hasPrefix("warning: knapsack")
    })
  config.knapsack.enabled = false
  config.dynamicSampling.enabled = false
  #expect(
    !(try makeTrainer(config, restoring: true)).startupNotes.contains {
      $0.hasPrefix("warning: knapsack")
    })
}
