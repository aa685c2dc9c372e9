import Foundation
import Testing

@testable import Training

private func temporaryFile(_ text: String) throws -> String {
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("allot-config-\(UUID().uuidString).json")
  try Data(text.utf8).write(to: url)
  return url.path
}

/// The description of what `body` throws; "" when it does not.
func problems(_ body: () throws -> Void) -> String {
  do {
    try body()
    return ""
  } catch {
    return "\(error)"
  }
}

@Test func defaultsFileAndOverridesApplyInOrder() throws {
  let file = try temporaryFile(
    #"{"run": {"steps": 40, "name": "demo"}, "optimizer": {"learningRate": 0.5}}"#)
  let config = try ConfigLoader.resolve(
    file: file,
    overrides: ["optimizer.learningRate=0.25", "classifier.hidden=[8,8,8]", "run.name=x1"])
  #expect(config.run.steps == 40)  // file over default
  #expect(config.optimizer.learningRate == 0.25)  // --set over file
  #expect(config.classifier.hidden == [8, 8, 8])
  #expect(config.run.name == "x1")  // strings need no quotes
  #expect(config.classifier.classes == ExperimentConfig().classifier.classes)  // untouched default
}

@Test func unknownKeysAreNamedWithSuggestions() throws {
  let file = try temporaryFile(#"{"optimizer": {"learningrate": 0.1, "bogus": 1}, "modle": {}}"#)
  let message = problems { _ = try ConfigLoader.resolve(file: file) }
  #expect(
    message.contains(
      "'optimizer.learningrate' is not a config key; did you mean 'optimizer.learningRate'?"))
  #expect(message.contains("'optimizer.bogus' is not a config key"))
  #expect(message.contains("'modle' is not a config key; did you mean 'model'?"))
  #expect(message.contains(file))
  let override = problems { _ = try ConfigLoader.resolve(file: nil, overrides: ["run.stpes=3"]) }
  #expect(override.contains("--set run.stpes=3"))
  #expect(override.contains("did you mean 'run.steps'?"))
}

@Test func wrongTypesNameKeyValueAndExpectation() throws {
  let file = try temporaryFile(#"{"run": {"steps": "many"}, "logging": {"quiet": 3}}"#)
  let message = problems { _ = try ConfigLoader.resolve(file: file) }
  #expect(message.contains("'run.steps' is \"many\"; expected a number"))
  #expect(message.contains("'logging.quiet' is 3; expected true or false"))
  let fraction = problems { _ = try ConfigLoader.resolve(file: nil, overrides: ["run.steps=2.5"]) }
  #expect(fraction.contains("'run.steps' is 2.5; expected a whole number"))
  let list = problems {
    _ = try ConfigLoader.resolve(file: nil, overrides: ["classifier.hidden=[8,\"x\"]"])
  }
  #expect(list.contains("'classifier.hidden[1]' is \"x\"; expected a number"))
}

@Test func choicesListAllowedValues() {
  let message = problems {
    _ = try ConfigLoader.resolve(file: nil, overrides: ["optimizer.kind=adagrad"])
  }
  #expect(
    message.contains("'optimizer.kind' is \"adagrad\"; allowed: \"sgd\", \"adam\", \"adamw\""))
}

@Test func outOfRangeValuesAndImpossibleCombinations() {
  let message = problems {
    _ = try ConfigLoader.resolve(
      file: nil,
      overrides: [
        "optimizer.learningRate=-1", "classifier.batchSize=5000", "classifier.dataset=xor",
        "classifier.classes=3",
      ])
  }
  #expect(message.contains("'optimizer.learningRate' is -1.0; must be > 0"))
  #expect(
    message.contains("'classifier.batchSize' is 5000; must lie in 1...classifier.trainSize (3000)"))
  #expect(message.contains("'classifier.classes' is 3; the xor data set has exactly 2 classes"))
  let name = problems { _ = try ConfigLoader.resolve(file: nil, overrides: ["run.name=a b"]) }
  #expect(name.contains("'run.name'"))
}

@Test func malformedFilesAreReported() throws {
  let missing = problems { _ = try ConfigLoader.resolve(file: "/nonexistent/exp.json") }
  #expect(missing.contains("/nonexistent/exp.json: config file does not exist"))
  let broken = try temporaryFile(#"{"run": {"steps": 4,}"#)
  #expect(problems { _ = try ConfigLoader.resolve(file: broken) }.contains("is not valid JSON"))
  let array = try temporaryFile("[1, 2]")
  #expect(problems { _ = try ConfigLoader.resolve(file: array) }.contains("must be a JSON object"))
  let version = try temporaryFile(#"{"schemaVersion": 99}"#)
  #expect(
    problems { _ = try ConfigLoader.resolve(file: version) }.contains("'schemaVersion' is 99"))
  let section = problems { _ = try ConfigLoader.resolve(file: nil, overrides: ["run=3"]) }
  #expect(section.contains("is a section; set one of its keys: run.blasThreads"))
  let noEquals = problems { _ = try ConfigLoader.resolve(file: nil, overrides: ["run.steps"]) }
  #expect(noEquals.contains("override must look like key.path=value"))
}

@Test func everyConfigKeyIsDocumented() throws {
  let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../docs/config.md").standardized
  let text = try String(contentsOf: docs, encoding: .utf8)
  let missing = ConfigLoader.documentedKeyPaths().filter { !text.contains("`\($0)`") }
  #expect(missing.isEmpty, "keys missing from docs/config.md: \(missing)")
}

@Test func resolvedConfigRoundTripsThroughJSON() throws {
  let config = try ConfigLoader.resolve(
    file: nil, overrides: ["run.seed=7", "notes=hello \"world\""])
  let text = String(decoding: try JSONValue(encoding: config).data(pretty: true), as: UTF8.self)
  #expect(try ConfigLoader.decode(configJSON: text, source: "test") == config)
  #expect(try ConfigLoader.differences(config, ExperimentConfig()) == ["notes", "run.seed"])
}

@Test func aRunMadeBeforeANewKeyIsStillReadable() throws {
  // A run directory from an older build: its config.json lacks a key added since.
  let folder = FileManager.default.temporaryDirectory
    .appendingPathComponent("allot-old-run-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: folder) }
  guard case .object(var root) = try JSONValue(encoding: ExperimentConfig()),
    case .object(var section) = root["taskAllocation"]
  else {
    Issue.record("the default config is not an object")
    return
  }
  section["creditPickedOnly"] = nil
  root["taskAllocation"] = .object(section)
  try JSONValue.object(root).data().write(to: folder.appendingPathComponent("config.json"))
  let config = try RunDirectory(url: folder).readConfig()
  #expect(config.taskAllocation.creditPickedOnly == false)
}

@Test func scheduleVariantsNameTheirKeysWhenOutOfRange() {
  let choice = problems {
    _ = try ConfigLoader.resolve(file: nil, overrides: ["knapsack.costModel=mean"])
  }
  #expect(
    choice.contains("'knapsack.costModel' is \"mean\"; allowed: \"probability\", \"expectation\""))
  let ranges = problems {
    _ = try ConfigLoader.resolve(
      file: nil,
      overrides: [
        "kind=grpo", "grpo.promptsPerStep=4", "grpo.groupSize=8", "grpo.stepsPerBatch=33",
        "grpo.referenceSyncEvery=5", "grpo.referenceSyncAlpha=0", "knapsack.enabled=true",
        "knapsack.neverSolvedBudget=1", "knapsack.alwaysSolvedBudget=200",
        "knapsack.totalBudget=7", "dynamicSampling.enabled=true", "dynamicSampling.maxDraws=0",
        "dynamicSampling.tolerance=-1",
      ])
  }
  #expect(ranges.contains("'grpo.stepsPerBatch' is 33; must be ≤ 32"))
  #expect(ranges.contains("'grpo.referenceSyncEvery' is 5; must be 0 while grpo.beta is 0"))
  #expect(ranges.contains("'grpo.referenceSyncAlpha' is 0.0; must lie in (0, 1]"))
  #expect(ranges.contains("'knapsack.neverSolvedBudget' is 1; must be 0 (knapsack.low) or lie in"))
  #expect(ranges.contains("'knapsack.alwaysSolvedBudget' is 200"))
  #expect(ranges.contains("'knapsack.totalBudget' is 7; must be 0"))
  #expect(ranges.contains("'dynamicSampling.maxDraws' is 0; must be ≥ 1"))
  #expect(ranges.contains("'dynamicSampling.tolerance' is -1.0; must be ≥ 0 and finite"))
}

@Test func skippingZeroAdvantageNeedsALossWithoutKLOrEntropyTerms() throws {
  let text = problems {
    _ = try ConfigLoader.resolve(
      file: nil, overrides: ["kind=grpo", "grpo.skipZeroAdvantage=true", "grpo.beta=0.01"])
  }
  #expect(text.contains("'grpo.skipZeroAdvantage'"))
  #expect(text.contains("needs grpo.beta = 0"))
  _ = try ConfigLoader.resolve(
    file: nil,
    overrides: [
      "kind=grpo", "grpo.skipZeroAdvantage=true", "grpo.beta=0.01", "grpo.klInReward=true",
    ])
}

@Test func sharedPromptScoringIsOnByDefaultAndABooleanByKey() throws {
  #expect(try ConfigLoader.resolve(file: nil, overrides: ["kind=grpo"]).grpo.sharedPromptScoring)
  let off = try ConfigLoader.resolve(
    file: nil, overrides: ["kind=grpo", "grpo.sharedPromptScoring=false"])
  #expect(!off.grpo.sharedPromptScoring)
  let text = problems {
    _ = try ConfigLoader.resolve(
      file: nil, overrides: ["kind=grpo", "grpo.sharedPromptScoring=1"])
  }
  #expect(text.contains("'grpo.sharedPromptScoring'"), "\(text)")
}

@Test func samplingCutsAndThePresetAreValidatedByKey() throws {
  let grpo = ["kind=grpo"]
  let config = try ConfigLoader.resolve(
    file: nil,
    overrides: grpo + ["grpo.minP=0.05", "grpo.repetitionPenalty=1.1", "hicra.preset=english"])
  #expect(config.grpo.minP == 0.05 && config.grpo.repetitionPenalty == 1.1)
  #expect(config.hicra.preset == .english)
  #expect(ExperimentConfig().grpo.minP == 0 && ExperimentConfig().grpo.repetitionPenalty == 1)
  let minP = problems {
    _ = try ConfigLoader.resolve(file: nil, overrides: grpo + ["grpo.minP=1.5"])
  }
  #expect(minP.contains("'grpo.minP' is 1.5; must lie in [0, 1] (0: off)"))
  let penalty = problems {
    _ = try ConfigLoader.resolve(file: nil, overrides: grpo + ["grpo.repetitionPenalty=0"])
  }
  #expect(penalty.contains("'grpo.repetitionPenalty' is 0.0; must be > 0 (1: off)"))
  let preset = problems {
    _ = try ConfigLoader.resolve(file: nil, overrides: grpo + ["hicra.preset=french"])
  }
  #expect(preset.contains("hicra.preset") && preset.contains("\"english\""))
  // A preset alone names planning phrases.
  let alone = try ConfigLoader.resolve(
    file: nil,
    overrides: grpo + ["hicra.enabled=true", "hicra.useTaskPhrases=false", "hicra.preset=english"])
  #expect(alone.hicra.preset == .english)
  let none = problems {
    _ = try ConfigLoader.resolve(
      file: nil, overrides: grpo + ["hicra.enabled=true", "hicra.useTaskPhrases=false"])
  }
  #expect(none.contains("hicra.preset"))
}
