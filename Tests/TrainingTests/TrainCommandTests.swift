import Checkpoint
import Foundation
import Testing

@testable import Training

/// Runs the real `train` executable (built next to the test bundle).
struct TrainProcess {
  static let executable = URL(fileURLWithPath: CommandLine.arguments[0])
    .deletingLastPathComponent().appendingPathComponent("train")

  let process = Process()
  let stdout = Pipe()
  let stderr = Pipe()

  /// Experiments/spirals.json, the classifier these tests train unless they name a config.
  static let spirals = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Experiments/spirals.json").path

  /// `arguments` on the spirals classifier when they name no config and resume no given
  /// run (with no --config, train runs the quickstart; `--resume auto` looks for the run of
  /// the config's name).
  static func classifierByDefault(_ arguments: [String]) -> [String] {
    let resumesPath = arguments.firstIndex(of: "--resume").map {
      $0 + 1 < arguments.count && arguments[$0 + 1] != "auto"
    }
    return arguments.contains("--config") || resumesPath == true
      ? arguments : ["--config", spirals] + arguments
  }

  init(_ arguments: [String]) throws {
    process.executableURL = Self.executable
    process.arguments = Self.classifierByDefault(arguments)
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
  }

  /// Waits for the exit; returns (status, stdout, stderr).
  func finish() -> (Int32, String, String) {
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    let err = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
      process.terminationStatus, String(decoding: out, as: UTF8.self),
      String(decoding: err, as: UTF8.self)
    )
  }

  static func run(_ arguments: [String]) throws -> (Int32, String, String) {
    try TrainProcess(arguments).finish()
  }
}

/// A fresh folder under the temporary directory.
func scratch() throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-train-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// The run directories under `root`, by name (hidden files left out).
func runDirectories(_ root: URL) -> [URL] {
  ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).sorted()
    .filter { !$0.hasPrefix(".") }.map { root.appendingPathComponent($0) }
}

/// A tiny, fast experiment.
private let tiny = [
  "--quiet", "--set", "run.steps=60", "--set", "checkpoint.every=20", "--set", "checkpoint.keep=2",
  "--set", "logging.every=10", "--set", "logging.evalEvery=30", "--set", "classifier.trainSize=400",
  "--set", "classifier.testSize=100", "--set", "classifier.hidden=[16]", "--set",
  "classifier.batchSize=32",
]

/// Metrics lines without the timing metrics, which legitimately differ between runs.
private func deterministicMetrics(_ run: URL) throws -> [MetricsRecord] {
  try MetricsLog.read(run.appendingPathComponent("metrics.jsonl")).map { record in
    MetricsRecord(step: record.step, values: record.values.filter { !$0.key.hasPrefix("perf/") })
  }
}

private func finalModel(_ run: URL) throws -> [(String, [Float])] {
  let newest = try RunCheckpoints(directory: run).newestValid()
  return newest.data.tensors.map { ($0.0, $0.1.scalars) }.sorted { $0.0 < $1.0 }
}

@Test func configErrorsExitNonZeroNameTheKeyAndCreateNothing() throws {
  let root = try scratch()
  let file = root.appendingPathComponent("bad.json")
  try Data(#"{"optimizer": {"learningrate": 0.1}}"#.utf8).write(to: file)
  let cases: [([String], String)] = [
    (
      ["--config", file.path],
      "'optimizer.learningrate' is not a config key; did you mean 'optimizer.learningRate'?"
    ),
    (["--set", "run.steps=lots"], "'run.steps' is \"lots\"; expected a number"),
    (["--set", "optimizer.beta1=1.5"], "'optimizer.beta1' is 1.5; must lie in [0, 1)"),
    (
      ["--set", "classifier.dataset=xor"],
      "'classifier.classes' is 3; the xor data set has exactly 2 classes"
    ),
    (
      ["--set", "optimizer.schedule=exponential"],
      "allowed: \"constant\", \"linearWarmup\", \"cosine\""
    ),
    (
      ["--config", root.appendingPathComponent("missing.json").path],
      "missing.json: config file does not exist"
    ),
  ]
  for (arguments, expected) in cases {
    let (status, _, stderr) = try TrainProcess.run(
      ["--output", root.appendingPathComponent("runs").path] + arguments)
    #expect(status == 2, "\(arguments)")
    #expect(stderr.contains(expected), "\(arguments): \(stderr)")
  }
  #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("runs").path))
}

@Test func aRunWritesConfigMetricsAndCheckpointsThatReloadStrictly() throws {
  let root = try scratch()
  let (status, stdout, stderr) = try TrainProcess.run(
    tiny + [
      "--output", root.path, "--set", "run.name=probe", "--set", "optimizer.learningRate=0.02",
    ])
  #expect(status == 0, "\(stderr)")
  let runs = runDirectories(root)
  try #require(runs.count == 1)
  let run = runs[0]
  #expect(run.lastPathComponent.hasPrefix("probe__seed0__"))
  #expect(stdout.contains("done: step 60"))
  // --set overrides land in the saved config.
  let saved = try RunDirectory(url: run).readConfig()
  #expect(saved.optimizer.learningRate == 0.02)
  #expect(saved.run.steps == 60)
  let command = try String(contentsOf: run.appendingPathComponent("command.txt"), encoding: .utf8)
  #expect(command.contains("optimizer.learningRate=0.02"))
  let metrics = try MetricsLog.read(run.appendingPathComponent("metrics.jsonl"))
  // Metrics every 10 steps; evaluations before the first step, at 30 and at 60.
  #expect(metrics.map(\.step) == [0, 10, 20, 30, 40, 50, 60])
  #expect(metrics.filter { $0.values["eval/accuracy"] != nil }.map(\.step) == [0, 30, 60])
  let csv = try String(contentsOf: run.appendingPathComponent("metrics.csv"), encoding: .utf8)
  #expect(csv.split(separator: "\n").count == 8)
  #expect(csv.hasPrefix("step,"))
  // keep = 2: checkpoints at 40 and 60 remain; the newest reloads strictly into the model.
  #expect(RunCheckpoints(directory: run).all().map(\.step) == [40, 60])
  let trainer = try ClassifierTrainer(config: saved)
  let newest = try RunCheckpoints(directory: run).newestValid()
  try newest.data.restore(trainer.model.namedParameters(), prefix: "model", file: newest.url.path)
  #expect(newest.data.attributes["step"] == .integer(60))
  #expect(newest.data.attributes["model"] == .string(trainer.modelFingerprint))
}

@Test func stopAndResumeEqualsAnUninterruptedRunBitForBit() throws {
  let root = try scratch()
  let straightRoot = root.appendingPathComponent("straight")
  let resumedRoot = root.appendingPathComponent("resumed")
  #expect(try TrainProcess.run(tiny + ["--output", straightRoot.path]).0 == 0)
  let (stopStatus, stopOut, _) = try TrainProcess.run(
    tiny + ["--output", resumedRoot.path, "--stop-after", "27"])
  #expect(stopStatus == 130)
  #expect(stopOut.contains("stopped at step 27"))
  let run = runDirectories(resumedRoot)[0]
  #expect(RunCheckpoints(directory: run).all().last?.step == 27)
  let (status, out, err) = try TrainProcess.run(["--quiet", "--resume", run.path])
  #expect(status == 0, "\(err)")
  #expect(out.contains("resuming") && out.contains("at step 27"))
  let straight = runDirectories(straightRoot)[0]
  #expect(try deterministicMetrics(run) == deterministicMetrics(straight))
  let a = try finalModel(run)
  let b = try finalModel(straight)
  #expect(a.map(\.0) == b.map(\.0))
  #expect(a.map(\.1) == b.map(\.1))
}

@Test func sigintSavesACheckpointAndResumeMatchesTheStraightRun() throws {
  let root = try scratch()
  let slow = [
    "--quiet", "--set", "run.steps=2500", "--set", "checkpoint.every=0", "--set", "logging.every=5",
    "--set", "classifier.hidden=[128,128]", "--set", "classifier.batchSize=256", "--set",
    "logging.evalEvery=0",
  ]
  let interrupted = try TrainProcess(slow + ["--output", root.appendingPathComponent("a").path])
  // Wait until training is under way, then interrupt it.
  let deadline = Date().addingTimeInterval(60)
  var metricsFile: URL?
  while Date() < deadline {
    if let run = runDirectories(root.appendingPathComponent("a")).first {
      let file = run.appendingPathComponent("metrics.jsonl")
      if let text = try? String(contentsOf: file, encoding: .utf8),
        text.split(separator: "\n").count >= 2
      {
        metricsFile = file
        break
      }
    }
    Thread.sleep(forTimeInterval: 0.02)
  }
  try #require(metricsFile != nil, "training never started")
  kill(interrupted.process.processIdentifier, SIGINT)
  let (status, out, _) = interrupted.finish()
  try #require(status == 130, "exit status \(status); output: \(out)")
  let run = metricsFile!.deletingLastPathComponent()
  let stoppedAt = try #require(RunCheckpoints(directory: run).all().last?.step)
  #expect(stoppedAt < 2500)
  #expect(out.contains("stopped at step \(stoppedAt)"))
  #expect(
    try TrainProcess.run([
      "--quiet", "--resume", "auto", "--output", root.appendingPathComponent("a").path,
    ]).0 == 0)
  #expect(try TrainProcess.run(slow + ["--output", root.appendingPathComponent("b").path]).0 == 0)
  let straight = runDirectories(root.appendingPathComponent("b"))[0]
  #expect(try deterministicMetrics(run) == deterministicMetrics(straight))
  #expect(try finalModel(run).map(\.1) == finalModel(straight).map(\.1))
}

@Test func resumeRefusesAChangedModelOrMissingRun() throws {
  let root = try scratch()
  #expect(try TrainProcess.run(tiny + ["--output", root.path, "--stop-after", "5"]).0 == 130)
  let run = runDirectories(root)[0]
  let (status, _, stderr) = try TrainProcess.run(
    tiny + ["--output", root.path, "--resume", run.path, "--set", "classifier.hidden=[8]"])
  #expect(status == 1)
  #expect(stderr.contains("classifier.hidden"))
  #expect(stderr.contains("differs from the run being resumed"))
  let (missing, _, missingErr) = try TrainProcess.run([
    "--resume", root.appendingPathComponent("nowhere").path,
  ])
  #expect(missing == 1)
  #expect(missingErr.contains("no such file or directory to resume from"))
  let empty = root.appendingPathComponent("empty")
  try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
  let (noCheckpoint, _, noCheckpointErr) = try TrainProcess.run(["--resume", empty.path])
  #expect(noCheckpoint == 1)
  #expect(noCheckpointErr.contains("holds no checkpoints"))
  // More steps on resume are allowed.
  let (more, moreOut, moreErr) = try TrainProcess.run([
    "--quiet", "--resume", run.path, "--set", "run.steps=70",
  ])
  #expect(more == 0, "\(moreErr)")
  #expect(moreOut.contains("done: step 70"))
}

@Test func resumeFromBadFilesFailsCleanlyAndOverwritesNothing() throws {
  let root = try scratch()
  let text = root.appendingPathComponent("ckpt_00000010.h5")
  try Data("not a checkpoint".utf8).write(to: text)
  let (status, _, stderr) = try TrainProcess.run(["--resume", text.path])
  #expect(status == 1)
  #expect(stderr.contains("is not an HDF5 file"))
  #expect(try Data(contentsOf: text) == Data("not a checkpoint".utf8))
  // A truncated checkpoint inside a run directory: named, skipped, nothing else valid.
  #expect(
    try TrainProcess.run(
      tiny + ["--output", root.appendingPathComponent("runs").path, "--stop-after", "5"]
    ).0 == 130)
  let run = runDirectories(root.appendingPathComponent("runs"))[0]
  let file = try #require(RunCheckpoints(directory: run).all().last?.url)
  let bytes = try Data(contentsOf: file)
  try bytes.prefix(bytes.count / 2).write(to: file)
  let (truncated, _, truncatedErr) = try TrainProcess.run(["--resume", file.path])
  #expect(truncated == 1)
  #expect(truncatedErr.contains(file.lastPathComponent))
  let (viaDirectory, _, viaDirectoryErr) = try TrainProcess.run(["--resume", run.path])
  #expect(viaDirectory == 1)
  #expect(viaDirectoryErr.contains("holds no valid checkpoint"))
  #expect(try Data(contentsOf: file) == bytes.prefix(bytes.count / 2))
}

@Test func aCheckpointOfAnotherModelIsRefusedWithEveryMismatch() throws {
  var small = ExperimentConfig()
  small.classifier.hidden = [8]
  var large = ExperimentConfig()
  large.classifier.hidden = [8, 4]  // layers.0 fits; the rest does not
  let saved = try ClassifierTrainer(config: small).state()
  let target = try ClassifierTrainer(config: large)
  let before = target.model.parameters.map(\.scalars)
  var message = ""
  do { try target.restore(saved) } catch { message = "\(error)" }
  #expect(message.contains("model/layers.1.weight has shape [3, 8], the model needs [4, 8]"))
  #expect(message.contains("missing model/layers.2.weight [3, 4]"))
  #expect(message.contains("optimizer/layers.1.weight/m has shape [3, 8], the model needs [4, 8]"))
  #expect(!message.contains("layers.0.weight"))
  #expect(target.model.parameters.map(\.scalars) == before)  // nothing copied, not even layers.0
}

/// A tiny supervised warm start of the transformer.
private let tinySFT = [
  "--quiet", "--set", "kind=sft", "--set", "run.steps=12", "--set", "model.layers=1", "--set",
  "model.width=16",
  "--set", "model.heads=2", "--set", "model.context=160", "--set", "task.maxDigits=2", "--set",
  "task.trainSize=40",
  "--set", "task.testSize=10", "--set", "sft.batchSize=4", "--set", "evaluation.prompts=4",
  "--set", "evaluation.maxNewTokens=60", "--set", "logging.every=3", "--set", "logging.evalEvery=6",
  "--set", "checkpoint.every=6",
]

@Test func sftRunsEvaluatesAndResumesExactly() throws {
  let root = try scratch()
  let (status, out, err) = try TrainProcess.run(
    tinySFT + ["--output", root.appendingPathComponent("a").path])
  #expect(status == 0, "\(err)")
  #expect(out.contains("eval/pass1/digits1"))
  let straight = runDirectories(root.appendingPathComponent("a"))[0]
  let logged = try MetricsLog.read(straight.appendingPathComponent("metrics.jsonl"))
  #expect(logged.map(\.step) == [0, 3, 6, 9, 12])
  #expect(logged.filter { $0.values["eval/pass1"] != nil }.map(\.step) == [0, 6, 12])
  let metrics = logged.filter { $0.step > 0 }  // step 0 holds the evaluation alone
  #expect(metrics.allSatisfy { ($0.values["loss/train"] ?? 0) > 0 })
  #expect(metrics.first!.values["loss/train"]! > metrics.last!.values["loss/train"]!)
  // Stop at 7, resume, and compare with the straight run.
  #expect(
    try TrainProcess.run(
      tinySFT + ["--output", root.appendingPathComponent("b").path, "--stop-after", "7"]
    ).0 == 130)
  let resumed = runDirectories(root.appendingPathComponent("b"))[0]
  #expect(try TrainProcess.run(["--quiet", "--resume", resumed.path]).0 == 0)
  #expect(try deterministicMetrics(resumed) == deterministicMetrics(straight))
  #expect(try finalModel(resumed).map(\.1) == finalModel(straight).map(\.1))
}

@Test func sftConfigErrorsNameTheKeys() throws {
  let root = try scratch()
  let (heads, _, headsErr) = try TrainProcess.run([
    "--output", root.path, "--set", "kind=sft", "--set", "model.heads=3",
  ])
  #expect(heads == 2)
  #expect(headsErr.contains("'model.heads' is 3; must be ≥ 1 and divide model.width (128)"))
  let (status, _, err) = try TrainProcess.run([
    "--output", root.path, "--set", "kind=sft", "--set", "task.operations=[\"/\"]",
  ])
  #expect(status == 2)
  #expect(
    err.contains(
      "--set task.operations=[\"/\"]: config key 'task.operations[0]' is \"/\"; allowed: \"+\", \"-\", \"*\""
    ))
  let (short, _, shortErr) = try TrainProcess.run(
    tinySFT + [
      "--output", root.path, "--set", "model.context=20", "--set", "evaluation.maxNewTokens=10",
    ])
  #expect(short == 1)
  #expect(
    shortErr.contains("'model.context' is 20; prompt arithmetic-train-0 with its solution needs"))
  // Nothing written.
  #expect(!FileManager.default.fileExists(atPath: root.path) || runDirectories(root).isEmpty)
}
