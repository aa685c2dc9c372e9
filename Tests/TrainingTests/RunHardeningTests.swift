import Checkpoint
import Foundation
import TensorCore
import Testing

@testable import Training

// Issue #21 through the real `train` executable: kills at random points, a foreign
// checkpoint, two writers, NaN; and a fuzz test of the config loader in-process.

private let scenario = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent()
  .appendingPathComponent("Experiments/scenarios/almighty.json").path

/// Three trainer kinds, small enough to run a few times in a debug build.
private let faultKinds: [(name: String, arguments: [String])] = [
  (
    "classifier",
    [
      "--set", "run.steps=200", "--set", "checkpoint.every=10", "--set", "checkpoint.keep=2",
      "--set", "logging.every=5", "--set", "logging.evalEvery=50", "--set",
      "classifier.trainSize=400", "--set", "classifier.testSize=100", "--set",
      "classifier.hidden=[16]", "--set", "classifier.batchSize=32",
    ]
  ),
  (
    "taskAllocation-grpo",
    [
      "--set", "kind=taskAllocation", "--set", "taskAllocation.scenario=\(scenario)", "--set",
      "run.steps=30", "--set", "checkpoint.every=3", "--set", "logging.every=2", "--set",
      "logging.evalEvery=10",
    ]
  ),
  (
    "taskAllocation-sac",
    [
      "--set", "kind=taskAllocation", "--set", "taskAllocation.scenario=\(scenario)", "--set",
      "taskAllocation.method=sac", "--set", "taskAllocation.replayStart=32", "--set",
      "run.steps=30", "--set", "checkpoint.every=3", "--set", "logging.every=2", "--set",
      "logging.evalEvery=10",
    ]
  ),
]

/// A checkpoint's contents without what differs between two runs of one config (`@runID`,
/// `@createdAt` and the checksums that cover them).
private func comparable(_ url: URL) throws -> [String] {
  let data = try CheckpointData.read(from: url)
  var out = data.tensors.map { "\($0.0) \($0.1.shape) \($0.1.scalars.map(\.bitPattern))" }
  out += data.integers.map { "\($0.key) \($0.value)" }
  out += data.doubles.map { "\($0.key) \($0.value.map(\.bitPattern))" }
  out += data.attributes.filter { !["runID", "checksums", "config", "createdAt"].contains($0.key) }
    .map { "@\($0.key) \($0.value)" }
  // The config, but for the output folder (the two runs write to different ones).
  if case .string(let text)? = data.attributes["config"] {
    var config = try ConfigLoader.decode(configJSON: text, source: url.path)
    config.run.outputDir = ""
    out.append("@config \(String(decoding: try JSONValue(encoding: config).data(), as: UTF8.self))")
  }
  return out.sorted()
}

/// metrics.jsonl with the timing fields removed, line by line, as text.
private func deterministicLines(_ run: URL) throws -> [String] {
  try MetricsLog.read(run.appendingPathComponent("metrics.jsonl")).map { record in
    MetricsRecord(step: record.step, values: record.values.filter { !$0.key.hasPrefix("perf/") })
      .jsonLine
  }
}

/// What a kill campaign saw.
struct KillFigures {
  var kills = 0
  var resumes = 0
  var freshStarts = 0
  var temporariesLeft = 0
}

/// Runs `arguments` to the end under `root`, SIGKILLing it `kills` times at random moments
/// (drawn from `rng`, up to `window` seconds after a launch) and resuming each time.
func killAndResume(
  _ arguments: [String], root: URL, kills: Int, window: Double, rng: inout RandomState
) throws -> (run: URL, figures: KillFigures) {
  var figures = KillFigures()
  var run: URL?
  var left = kills
  while true {
    let resuming = run.map { !RunCheckpoints(directory: $0).all().isEmpty } ?? false
    if let dir = run, !resuming {  // killed before its first checkpoint: start again
      try FileManager.default.removeItem(at: dir)
      run = nil
      figures.freshStarts += 1
    }
    let launch =
      resuming
      ? ["--quiet", "--resume", run!.path] : ["--quiet"] + arguments + ["--output", root.path]
    if resuming { figures.resumes += 1 }
    let process = try TrainProcess(launch)
    if left > 0 {
      Thread.sleep(forTimeInterval: 0.05 + rng.nextDouble() * window)
      kill(process.process.processIdentifier, SIGKILL)
    }
    let (status, out, err) = process.finish()
    run = run ?? runDirectories(root).first
    if status == 0 { break }
    try #require(
      process.process.terminationReason == .uncaughtSignal,
      "train exited \(status) unkilled: \(out.suffix(500)) \(err)")
    left -= 1
    figures.kills += 1
    if let dir = run {
      let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
      figures.temporariesLeft += names.filter { $0.contains(".tmp-") }.count
    }
  }
  return (run!, figures)
}

/// `ALLOT_FAULT_KILLS`, `ALLOT_FAULT_ROUNDS`, `ALLOT_FAULT_SEED`, `ALLOT_FUZZ_CASES`:
/// Experiments/fault-campaign.sh scales the tests below up with these.
private func setting(_ name: String, _ fallback: Int) -> Int {
  ProcessInfo.processInfo.environment[name].flatMap { Int($0) } ?? fallback
}

@Test func killedRunsResumeToBitIdenticalCheckpointsAndMetrics() throws {
  var rng = RandomState(seed: UInt64(setting("ALLOT_FAULT_SEED", 21)))
  let kills = setting("ALLOT_FAULT_KILLS", 3)
  var total = KillFigures()
  var identical = 0
  var rounds = 0
  for kind in Array(repeating: faultKinds, count: setting("ALLOT_FAULT_ROUNDS", 1)).joined() {
    let root = try scratch()
    let straightRoot = root.appendingPathComponent("straight")
    let (status, _, err) = try TrainProcess.run(
      ["--quiet"] + kind.arguments + ["--output", straightRoot.path])
    try #require(status == 0, "\(kind.name): \(err)")
    let straight = runDirectories(straightRoot)[0]
    let started = Date()
    _ = try TrainProcess.run(
      ["--quiet"] + kind.arguments + ["--output", root.appendingPathComponent("timing").path])
    let duration = Date().timeIntervalSince(started)
    let (killed, figures) = try killAndResume(
      kind.arguments, root: root.appendingPathComponent("killed"), kills: kills,
      window: duration * 0.35, rng: &rng)
    #expect(figures.kills >= min(kills, 1), "\(kind.name): \(figures)")
    total.kills += figures.kills
    total.resumes += figures.resumes
    total.freshStarts += figures.freshStarts
    total.temporariesLeft += figures.temporariesLeft
    rounds += 1
    let final = try #require(RunCheckpoints(directory: straight).all().last)
    let resumedFinal = RunCheckpoints(directory: killed).url(step: final.step)
    let (mine, theirs) = (try comparable(resumedFinal), try comparable(final.url))
    let differing = Set(mine).symmetricDifference(theirs).map { $0.prefix(200) }
    #expect(mine.count == theirs.count && differing.isEmpty, "\(kind.name): \(differing)")
    let lines = try deterministicLines(killed)
    let sameLines = lines == (try deterministicLines(straight))
    #expect(sameLines, "\(kind.name)")
    if sameLines && differing.isEmpty { identical += 1 }
    // No temporary file survives the resumes.
    let names = try FileManager.default.contentsOfDirectory(atPath: killed.path)
    #expect(!names.contains { $0.contains(".tmp-") }, "\(kind.name): \(names)")
    try? FileManager.default.removeItem(at: root)
  }
  print(
    "fault figures: runs \(rounds), kills \(total.kills), resumes \(total.resumes), fresh starts "
      + "\(total.freshStarts), temporary files left by a kill \(total.temporariesLeft), "
      + "bit-identical checkpoints and metrics \(identical) of \(rounds)")
}

private let classifierRun = faultKinds[0].arguments

@Test func aForeignCheckpointIsNeverResumedNorDeleted() throws {
  let root = try scratch()
  let short = classifierRun + ["--set", "run.steps=40", "--stop-after", "30"]
  #expect(try TrainProcess.run(["--quiet"] + short + ["--output", root.path]).0 == 130)
  let own = try #require(runDirectories(root).first)
  let other = root.appendingPathComponent("other")
  #expect(try TrainProcess.run(["--quiet"] + short + ["--output", other.path]).0 == 130)
  let foreignSource = try #require(RunCheckpoints(directory: runDirectories(other)[0]).all().last)
  // Another run's checkpoint of the same model, under a newer step name.
  let planted = RunCheckpoints(directory: own).url(step: 35)
  try FileManager.default.copyItem(at: foreignSource.url, to: planted)
  let (status, out, err) = try TrainProcess.run(["--quiet", "--resume", own.path])
  #expect(status == 0, "\(err)")
  #expect(out.contains("skipping checkpoint \(planted.path)"))
  #expect(out.contains("from ckpt_00000030.h5"))
  #expect(FileManager.default.fileExists(atPath: planted.path), "retention deleted it")
  // Named directly, it is refused.
  let (direct, _, directErr) = try TrainProcess.run(["--quiet", "--resume", planted.path])
  #expect(direct == 1)
  #expect(directErr.contains(planted.path) && directErr.contains("run"))
}

@Test func aSecondWriterIsRefusedByPIDAndAStaleLockIsTakenOver() throws {
  let root = try scratch()
  let long = classifierRun + ["--set", "run.steps=200000", "--set", "checkpoint.every=100"]
  let first = try TrainProcess(["--quiet"] + long + ["--output", root.path])
  let pid = first.process.processIdentifier
  var run: URL?
  let deadline = Date().addingTimeInterval(60)
  while Date() < deadline {
    if let dir = runDirectories(root).first, !RunCheckpoints(directory: dir).all().isEmpty {
      run = dir
      break
    }
    Thread.sleep(forTimeInterval: 0.02)
  }
  let dir = try #require(run, "the first run never saved")
  let (status, _, err) = try TrainProcess.run(["--quiet", "--resume", dir.path])
  #expect(status == 1)
  #expect(err.contains("in use by process \(pid)"), "\(err)")
  kill(pid, SIGKILL)
  _ = first.finish()
  let (again, out, againErr) = try TrainProcess.run([
    "--quiet", "--resume", dir.path, "--set", "run.steps=300",
  ])
  #expect(again == 0, "\(againErr)")
  #expect(out.contains("took over the lock of process \(pid)"), "\(out.suffix(400))")
}

@Test func nonFiniteValuesStopTheStepBeforeAnythingIsWritten() throws {
  let root = try scratch()
  // SGD with a learning rate of 3e38 and no clipping: the first update overflows.
  let (status, _, err) = try TrainProcess.run(
    ["--quiet"] + classifierRun + [
      "--set", "optimizer.kind=sgd", "--set", "optimizer.learningRate=3e38", "--set",
      "optimizer.gradClip=0", "--set", "optimizer.schedule=constant", "--output", root.path,
    ])
  #expect(status == 1)
  #expect(err.contains("train: error: step "), "\(err)")
  #expect(err.contains("gradient of layers.") || err.contains("parameter of layers."), "\(err)")
  #expect(err.contains("was logged or saved"), "\(err)")
  let run = try #require(runDirectories(root).first)
  #expect(RunCheckpoints(directory: run).all().isEmpty)
  // Only the evaluation before the first step was logged; nothing of the failed step.
  let logged = try MetricsLog.read(run.appendingPathComponent("metrics.jsonl"))
  #expect(logged.map(\.step) == [0])
}

@Test func metricsNumbersRoundTripExactlyAndATornLineIsDropped() throws {
  var rng = RandomState(seed: 5)
  let root = try scratch()
  let log = MetricsLog(
    jsonl: root.appendingPathComponent("metrics.jsonl"),
    csv: root.appendingPathComponent("metrics.csv"))
  try log.start()
  var written: [MetricsRecord] = []
  for step in 1...400 {
    let bits = rng.next()
    var x = Double(bitPattern: bits)
    if !x.isFinite { x = 0.1 + Double(step) }
    let record = MetricsRecord(
      step: step, values: ["a": x, "b": rng.nextDouble() / 3, "c": 1e-300 * Double(step)])
    try log.append(record)
    written.append(record)
  }
  #expect(try MetricsLog.read(log.jsonl) == written)
  // A torn last line is dropped with a note, never an error.
  let handle = try FileHandle(forWritingTo: log.jsonl)
  try handle.seekToEnd()
  try handle.write(contentsOf: Data(#"{"step":401,"a":0.12"#.utf8))
  try handle.close()
  let (records, note) = try MetricsLog.readWithNote(log.jsonl)
  #expect(records == written)
  #expect(note?.contains("incomplete last line") == true)
  // Resuming at step 200 keeps the first 200 lines byte for byte.
  let before = try Data(contentsOf: log.jsonl)
  try log.resume(atStep: 200)
  let after = try Data(contentsOf: log.jsonl)
  let cut = before.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    .prefix(200).map { Data($0) + Data("\n".utf8) }.reduce(Data(), +)
  #expect(after == cut)
}

// MARK: Fuzzing the config loader

/// Values a user might type, or a fuzzer would.
private let fuzzValues = [
  "0", "-1", "1", "2", "7", "0.5", "-0.5", "1e9", "9e15", "1e19", "6917529027641081856",
  "-9223372036854775808", "9223372036854775807", "1e-50", "1e39", "1e400", "-1e400", "3.4e38",
  "0.99999999999", "1.0000001", "true", "\"x\"", "[]", "[1e9]", "[0]", "[-3,4]", "{}", "null",
  "NaN", "inf", "", "\"\"", "abc", "1,2", "[1,", "01", "0x10", "  5 ", "1e308", "4294967296",
  "2147483648", "65537", "100001",
]

@Test func fuzzedOverridesAndFilesNeverCrashAndNameTheKey() throws {
  var rng = RandomState(seed: 2121)
  let keys = ConfigLoader.documentedKeyPaths()
  let kinds = ["classifier", "sft", "grpo", "taskAllocation"]
  var accepted = 0
  var rejected = 0
  let cases = setting("ALLOT_FUZZ_CASES", 200)
  for _ in 0..<cases {
    let key = keys[rng.nextInt(below: keys.count)]
    let value = fuzzValues[rng.nextInt(below: fuzzValues.count)]
    let kind = kinds[rng.nextInt(below: kinds.count)]
    let overrides = ["kind=\(kind)", "\(key)=\(value)"]
    do {
      let config = try ConfigLoader.resolve(file: nil, overrides: overrides)
      // What validates must also build the optimizer without trapping.
      _ = config.optimizer.makeOptimizer(steps: config.run.steps, parameters: [])
      accepted += 1
    } catch {
      rejected += 1
      let text = "\(error)"
      #expect(
        text.contains(key) || (key == "kind" && text.contains("kind")),
        "--set \(key)=\(value) (kind \(kind)) was refused without naming the key: \(text)")
    }
  }
  #expect(accepted > 20 && rejected > 50, "accepted \(accepted), rejected \(rejected)")

  // The same values in experiment files, a few keys at a time.
  let root = try scratch()
  let file = root.appendingPathComponent("exp.json")
  var fileAccepted = 0
  var fileRejected = 0
  for _ in 0..<(cases / 5) {
    let key = keys[rng.nextInt(below: keys.count)]
    let value = fuzzValues[rng.nextInt(below: fuzzValues.count)]
    var tree = JSONValue.object([:])
    let parsed = (try? JSONValue.parse(Data(value.utf8), source: "")) ?? .string(value)
    tree = tree.setting(parsed, at: key.split(separator: ".").map(String.init))
    try tree.data(pretty: true).write(to: file)
    do {
      _ = try ConfigLoader.resolve(file: file.path)
      fileAccepted += 1
    } catch {
      fileRejected += 1
      #expect("\(error)".contains(key), "\(key)=\(value) in a file: \(error)")
    }
  }
  print(
    "fuzz figures: --set cases \(cases): accepted \(accepted), refused naming the key \(rejected); "
      + "file cases \(cases / 5): accepted \(fileAccepted), refused \(fileRejected)")
}

@Test func namedBoundsRefuseValuesThatWouldTrapOrRunForEver() throws {
  let cases: [([String], String, String)] = [
    (["kind=grpo", "grpo.groupSize=6917529027641081856"], "grpo.groupSize", "65536"),
    (["kind=grpo", "grpo.epochs=9e15"], "grpo.epochs", "1000"),
    (
      ["kind=taskAllocation", "taskAllocation.evaluationEpisodes=1e9"],
      "taskAllocation.evaluationEpisodes", "100000"
    ),
    (["optimizer.eps=1e-50"], "optimizer.eps", "0 in Float32"),
    (["optimizer.learningRate=1e39"], "optimizer.learningRate", "infinite in Float32"),
    (["optimizer.beta2=0.99999999999"], "optimizer.beta2", "rounds to 1 in Float32"),
    (["run.steps=1e12"], "run.steps", "100000000"),
    (["kind=sft", "evaluation.maxNewTokens=500"], "evaluation.maxNewTokens", "model.context"),
    (["kind=sft", "model.width=1000000"], "model.width", "16384"),
    (["classifier.hidden=[100000]"], "classifier.hidden", "16384"),
  ]
  for (overrides, key, limit) in cases {
    #expect(throws: (any Error).self) { try ConfigLoader.resolve(file: nil, overrides: overrides) }
    do {
      _ = try ConfigLoader.resolve(file: nil, overrides: overrides)
    } catch {
      #expect("\(error)".contains(key) && "\(error)".contains(limit), "\(overrides): \(error)")
    }
  }
  // A scenario file given as an experiment is named as such.
  #expect {
    try ConfigLoader.resolve(file: scenario)
  } throws: {
    "\($0)".contains("scenario file") && "\($0)".contains("allot baselines")
  }
}

@Test func aNewestCheckpointThatDoesNotRestoreFallsBackToThePreviousIntactOne() throws {
  let root = try scratch()
  let short = classifierRun + ["--set", "run.steps=40", "--set", "checkpoint.keep=5"]
  #expect(try TrainProcess.run(["--quiet"] + short + ["--output", root.path]).0 == 0)
  let run = try #require(runDirectories(root).first)
  let checkpoints = RunCheckpoints(directory: run)
  var data = try CheckpointData.read(from: checkpoints.url(step: 40))
  // Step 50: a config attribute that is not JSON. Step 60: a dataset the trainer needs is
  // missing. Both are well-formed, verified checkpoints of this run.
  data.attributes["config"] = .string("{ not json")
  data.attributes["step"] = .integer(50)
  try data.write(to: checkpoints.url(step: 50))
  var lacking = try CheckpointData.read(from: checkpoints.url(step: 40))
  lacking.tensors.removeAll { $0.0 == "model/layers.0.bias" }
  lacking.attributes["step"] = .integer(60)
  try lacking.write(to: checkpoints.url(step: 60))
  let (status, out, err) = try TrainProcess.run([
    "--quiet", "--resume", run.path, "--set", "run.steps=45",
  ])
  #expect(status == 0, "\(err)")
  #expect(out.contains("ckpt_00000060.h5") && out.contains("missing model/layers.0.bias"), "\(out)")
  #expect(out.contains("ckpt_00000050.h5") && out.contains("not valid JSON"), "\(out)")
  #expect(out.contains("at step 40 from ckpt_00000040.h5"), "\(out)")
}

@Test func sigtermStopsARunAtAnyPoint() throws {
  let root = try scratch()
  let long = classifierRun + ["--set", "run.steps=200000", "--set", "checkpoint.every=0"]
  // Early (while starting) and later (while training): the run ends soon either way.
  for delay in [0.0, 0.15, 0.6] {
    let process = try TrainProcess(["--quiet"] + long + ["--output", root.path])
    Thread.sleep(forTimeInterval: delay)
    let sent = Date()
    kill(process.process.processIdentifier, SIGTERM)
    let (status, out, err) = process.finish()
    #expect(Date().timeIntervalSince(sent) < 20, "took \(Date().timeIntervalSince(sent)) s")
    // Before the handler is installed SIGTERM's default ends the process; after, 143.
    #expect(
      status == 143 || process.process.terminationReason == .uncaughtSignal,
      "status \(status): \(out.suffix(300)) \(err)")
    if status == 143 { #expect(out.contains("stopped")) }
  }
}

@Test func anEmptyJSONLSplitIsAnErrorNamingTheFile() throws {
  let root = try scratch()
  let file = root.appendingPathComponent("all-train.jsonl")
  let lines = (0..<20).map {
    #"{"id": "q\#($0)", "prompt": "1+\#($0)=", "answer": "\#($0 + 1)", "split": "train"}"#
  }
  try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
  let started = Date()
  let (status, _, err) = try TrainProcess.run([
    "--quiet", "--set", "kind=grpo", "--set", "task.name=jsonl", "--set", "task.path=\(file.path)",
    "--set", "model.layers=1", "--set", "model.width=16", "--set", "model.heads=2",
    "--output", root.appendingPathComponent("runs").path,
  ])
  #expect(status == 1)
  #expect(err.contains(file.path) && err.contains("test"), "\(err)")
  #expect(Date().timeIntervalSince(started) < 30)
  #expect(runDirectories(root.appendingPathComponent("runs")).isEmpty)
}
