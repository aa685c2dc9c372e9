import Foundation
import Testing

@testable import Training

private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("../..").standardized

/// A run directory holding `config` and `records` as a finished run would, without training.
private func fakeRun(
  _ root: URL, _ config: ExperimentConfig, _ records: [MetricsRecord],
  stamp: String = "20261201-000000"
) throws {
  let dir = root.appendingPathComponent("\(config.run.name)__seed\(config.run.seed)__\(stamp)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  let run = RunDirectory(url: dir)
  try run.writeConfig(config)
  let log = MetricsLog(jsonl: run.metricsURL, csv: run.metricsCSVURL)
  try log.start()
  for record in records { try log.append(record) }
}

private func allocation(_ name: String, _ method: TaskAllocationMethod, seed: Int)
  -> ExperimentConfig
{
  var c = ExperimentConfig()
  c.kind = .taskAllocation
  c.run.name = name
  c.run.seed = seed
  c.taskAllocation.scenario = "Experiments/scenarios/almighty.json"
  c.taskAllocation.method = method
  return c
}

@Test func summarizePicksEachKindsMetricsAndGroupsByExperiment() throws {
  let root = try scratch()
  // Two task-allocation experiments (SAC, three seeds; GRPO, one seed) and a classifier.
  for (seed, value) in [(0, 30.0), (1, 34.0), (2, 35.0)] {
    try fakeRun(
      root, allocation("ta-sac", .sac, seed: seed),
      [
        MetricsRecord(step: 0, values: ["eval/return": 20, "episode/return": 10]),
        MetricsRecord(step: 10, values: ["eval/return": value, "episode/return": value - 2]),
      ])
  }
  try fakeRun(
    root, allocation("ta-grpo", .grpo, seed: 0),
    [MetricsRecord(step: 10, values: ["eval/return": 28, "reward/mean": 0.5, "budget/max": 8])])
  var classifier = ExperimentConfig()
  classifier.run.name = "spirals"
  try fakeRun(root, classifier, [MetricsRecord(step: 5, values: ["eval/accuracy": 0.75])])

  let (status, out, err) = try allot(["summarize", root.path])
  #expect(status == 0, "\(err)")
  let sections = out.components(separatedBy: "\n\n## ")
  #expect(sections.count == 3)
  #expect(sections[0].hasPrefix("## classifier: 1 run of 1 experiment"))
  #expect(sections[1].hasPrefix("taskAllocation/grpo: 1 run of 1 experiment"))
  #expect(sections[2].hasPrefix("taskAllocation/sac: 3 runs of 1 experiment"))
  // The kind's own metrics, scored as it says: the last evaluation, the mean of episodes.
  #expect(
    sections[2].contains(
      "| experiment | runs | eval/return (last) | episode/return (mean over the run) |"))
  let finals = [30.0, 34.0, 35.0]
  let mean = finals.reduce(0, +) / 3
  let std = (finals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 2).squareRoot()
  #expect(
    sections[2].contains(String(format: "| ta-sac | 3 | %.4f ± %.4f | 20.5000 ± ", mean, std)))
  #expect(
    sections[2].contains("not logged (or not finite) by these runs: eval/returnSampled, eval/gap"))
  #expect(sections[1].contains("| ta-grpo | 1 | 28.0000 (1 run) | 0.5000 (1 run) |"))
  #expect(sections[1].contains("other metrics (--metric NAME): budget/max"))
  #expect(sections[0].contains("| spirals | 1 | 0.7500 (1 run) |"))

  // Experiments that share a metric are separate rows of one table, the best marked.
  let (mixed, mixedOut, mixedErr) = try allot(["summarize", root.path, "--metric", "eval/return"])
  #expect(mixed == 0, "\(mixedErr)")
  #expect(mixedOut.hasPrefix("## 5 runs of 3 experiments (mean ± std over seeds)\n"))
  #expect(mixedOut.contains("| ta-grpo | 1 | 28.0000 (1 run) |"))
  #expect(mixedOut.contains(String(format: "| ta-sac | 3 | %.4f ± %.4f **best** |", mean, std)))
  #expect(mixedOut.contains("no eval/return in: spirals__seed0__20261201-000000"))

  // A metric no run logged is an error that lists what they log.
  let (bad, _, badErr) = try allot(["summarize", root.path, "--metric", "eval/acuracy"])
  #expect(bad == 1)
  #expect(badErr.contains("no run in \(root.path) logged the metric eval/acuracy; the runs log: "))
  #expect(badErr.contains("episode/return, eval/accuracy, eval/return, reward/mean"))

  // Runs that logged none of their kind's metrics: an error, never an empty table.
  let empty = try scratch()
  try fakeRun(empty, classifier, [])
  let (none, noneOut, noneErr) = try allot(["summarize", empty.path])
  #expect(none == 1 && noneOut.isEmpty)
  #expect(
    noneErr.contains(
      "the classifier runs in \(empty.path) logged none of eval/accuracy, eval/loss; their metrics.jsonl files are empty"
    ))
  // Beside a kind that has its table, still an error (exit 1) after that table.
  try fakeRun(empty, allocation("ta-sac", .sac, seed: 0), [])
  try fakeRun(empty, classifier, [MetricsRecord(step: 5, values: ["eval/accuracy": 0.75])])
  let (part, partOut, partErr) = try allot(["summarize", empty.path])
  #expect(part == 1 && partOut.contains("| spirals | 1 | 0.7500 (1 run) |"))
  #expect(
    partErr.contains("the taskAllocation/sac runs in \(empty.path) logged none of eval/return"))
}

@Test func sweepGroupsSplitExperimentsAndTheKeysThatVaryWithinOne() throws {
  let root = try scratch()
  for (i, (lr, seed)) in [(0.01, 0), (0.01, 1), (0.003, 0)].enumerated() {
    var c = ExperimentConfig()
    c.run.name = "probe"
    c.run.seed = seed
    c.optimizer.learningRate = lr
    try fakeRun(
      root, c, [MetricsRecord(step: 1, values: ["eval/accuracy": lr * 10 + Double(seed)])],
      stamp: "20261201-00000\(i)")
  }
  var other = ExperimentConfig()
  other.run.name = "wide"
  other.classifier.hidden = [64]
  other.optimizer.learningRate = 0.01
  try fakeRun(root, other, [MetricsRecord(step: 1, values: ["eval/accuracy": 0.5])])
  let groups = try RunGroups(RunSummary.runs(in: root))
  #expect(groups.varying == ["optimizer.learningRate"])
  #expect(groups.experimentsDiffer == ["classifier.hidden"])
  #expect(
    groups.groups.map(\.label) == [
      "probe optimizer.learningRate=0.01", "probe optimizer.learningRate=0.003",
      "wide optimizer.learningRate=0.01",
    ])
  #expect(groups.groups.map(\.runs.count) == [2, 1, 1])
  let table = try SweepTable(runs: RunSummary.runs(in: root), metric: "eval/accuracy")
  #expect(table.rows[0].values.sorted() == [0.1, 1.1])
  #expect(
    table.markdown(minimize: false).contains("best (highest): probe optimizer.learningRate=0.01"))
  // A tie has no best.
  var tie = table
  tie.rows[1].values = tie.rows[0].values
  #expect(tie.best(minimize: false) == nil && !tie.markdown(minimize: false).contains("best"))
}

@Test func onlyMetricsThatScoreARunAreRanked() throws {
  // Named on the command line: times and losses lowest first, descriptions not at all.
  #expect(HeadlineMetric(named: "perf/sampleSeconds", .mean, minimize: false).minimize)
  #expect(HeadlineMetric(named: "loss/policy", .mean, minimize: false).minimize)
  #expect(!HeadlineMetric(named: "completion/meanLength", .mean, minimize: false).ranked)
  #expect(!HeadlineMetric(named: "perf/commBytes", .mean, minimize: false).ranked)
  let pass = HeadlineMetric(named: "eval/pass1", .last, minimize: false)
  #expect(pass.ranked && !pass.minimize)
  // A GRPO run's budgets, lengths and HICRA shares describe it: no best in either table.
  let root = try scratch()
  var config = ExperimentConfig()
  config.kind = .grpo
  for (i, length) in [10.0, 20.0].enumerated() {
    config.run.seed = i
    config.optimizer.learningRate = 0.01 * Double(i + 1)
    try fakeRun(
      root, config,
      [
        MetricsRecord(
          step: 1, values: ["eval/pass1": 0.1 * Double(i + 1), "completion/meanLength": length])
      ],
      stamp: "20261201-00000\(i)")
  }
  let runs = try RunSummary.runs(in: root)
  let columns =
    try config.headlineMetrics.prefix(1).map {
      (table: try SweepTable(runs: runs, metric: $0.name), minimize: Bool?($0.minimize))
    } + [(table: try SweepTable(runs: runs, metric: "completion/meanLength"), minimize: nil)]
  let table = SweepTable.markdown(columns)
  #expect(table.components(separatedBy: "**best**").count - 1 == 1)
  let report = RunReport(
    config: config,
    records: [
      MetricsRecord(step: 1, values: ["completion/meanLength": 30]),
      MetricsRecord(step: 2, values: ["completion/meanLength": 20]),
    ], startStep: 0, seconds: 1
  ).text
  #expect(report.contains("completion/meanLength") && report.hasSuffix("20 (step 2)  –"))
}

@Test func plotTicksShareOneFormatPerAxis() {
  #expect(SVGPlot.tickLabels(SVGPlot.ticks(0, 10000)) == ["0", "2k", "4k", "6k", "8k", "10k"])
  #expect(
    SVGPlot.tickLabels([0, 2500, 5000, 7500, 10000]) == ["0.0", "2.5k", "5.0k", "7.5k", "10.0k"])
  #expect(SVGPlot.tickLabels(SVGPlot.ticks(0, 1)) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
  #expect(SVGPlot.tickLabels([0.25, 0.5, 0.75]) == ["0.25", "0.50", "0.75"])
  #expect(SVGPlot.tickLabels([0.0002, 0.0004]) == ["2.0e-04", "4.0e-04"])
  #expect(SVGPlot.tickLabels([-10, 0, 10]) == ["-10", "0", "10"])
}

@Test func plotDrawsAMeanAndABandPerVariant() {
  let variant = SVGPlot.Variant(
    label: "a", runs: [[(0, 1), (10, 3)], [(0, 3), (10, .nan)], [(0, 2), (10, 5)]])
  let mean = variant.mean
  #expect(mean.map(\.x) == [0, 10])
  #expect(mean.map(\.y) == [2, 4])
  #expect(mean.map(\.n) == [3, 2])
  #expect(abs(mean[0].std - 1) < 1e-12 && abs(mean[1].std - 2.squareRoot()) < 1e-12)
  let long = String(repeating: "x", count: 70)
  let svg = SVGPlot(
    title: "t", yLabel: "y",
    variants: [variant, SVGPlot.Variant(label: long, runs: [[(5, 1)], [(5, 2)]])]
  ).render()
  #expect(svg.components(separatedBy: "class=\"mean\"").count - 1 == 2)
  #expect(svg.components(separatedBy: "class=\"seed\"").count - 1 == 5)
  #expect(svg.components(separatedBy: "<polygon").count - 1 == 2)
  // The whole legend label, and a canvas wide enough for it (about 7 px a character).
  #expect(svg.contains(">\(long) (2 seeds)</text>"))
  let width = Double(svg.split(separator: "\"")[3])!
  #expect(width >= 70 + 560 + 20 + 7 * Double(long.count + 10))
}

@Test func runReportShowsFirstLastAndBest() {
  var config = ExperimentConfig()
  config.kind = .classifier
  let records = [
    MetricsRecord(step: 250, values: ["eval/accuracy": 0.5, "eval/loss": 0.9]),
    MetricsRecord(step: 500, values: ["eval/accuracy": 0.9, "eval/loss": 0.2]),
    MetricsRecord(step: 750, values: ["eval/accuracy": 0.8, "eval/loss": 0.4]),
  ]
  let text = RunReport(config: config, records: records, startStep: 0, seconds: 15).text
  let lines = text.split(separator: "\n").map(String.init)
  #expect(lines[0] == "run summary: step 0 → 750 in 0:15, 50 steps/s")
  #expect(lines[1].hasPrefix("  metric ") && lines[1].hasSuffix("best"))
  #expect(lines[2].contains("eval/accuracy") && lines[2].hasSuffix("0.9 (step 500)"))
  // Lower is better for a loss.
  #expect(lines[3].contains("0.9 (step 250)") && lines[3].hasSuffix("0.2 (step 500)"))
  // Resumed at step 250: the rate is this process's, the values the whole run's.
  let resumed = RunReport(config: config, records: records, startStep: 250, seconds: 10).text
  #expect(resumed.hasPrefix("run summary: step 250 → 750 in 0:10, 50 steps/s\n"))
  #expect(resumed.contains("0.5 (step 250)"))
}

/// Bytes written by the `tensorboard` package's own writer
/// (`Tests/TrainingTests/golden/make_tensorboard_golden.py`, which also reads them back
/// with its event reader).
@Test func tensorBoardEventsMatchTheTensorBoardGolden() throws {
  let golden = repository.appendingPathComponent("Tests/TrainingTests/golden/tensorboard.tfevents")
  let root = try scratch()
  // The first time names the file; the others are the events' wall times.
  var times = [1000.5, 1000.5, 1001.25, 1002.0, 1003.75, 1004.0].makeIterator()
  let log = TensorBoardLog(directory: root) { times.next()! }
  try log.start(resumedAt: nil)
  try log.append(MetricsRecord(step: 0, values: ["eval/accuracy": 0.5, "loss/train": 1.25]))
  try log.append(MetricsRecord(step: 25, values: ["loss/train": 0.375, "reward/mean": 0]))
  try log.start(resumedAt: 300)
  #expect(log.url.lastPathComponent.hasPrefix("events.out.tfevents.0000001000."))
  #expect(try Data(contentsOf: log.url) == Data(contentsOf: golden))
  #expect(TensorBoardLog.crc32c(Array("123456789".utf8)) == 0xE306_9283)  // the check value
}

@Test func trainWritesTensorBoardEventsAndEndsWithWhatTheRunDid() throws {
  let root = try scratch()
  let (status, out, err) = try TrainProcess.run([
    "--quiet", "--output", root.path, "--set", "run.steps=20", "--set", "logging.every=10",
    "--set", "logging.evalEvery=10", "--set", "logging.tensorboard=true",
    "--set", "classifier.trainSize=200", "--set", "classifier.testSize=50",
    "--set", "classifier.batchSize=32",
  ])
  #expect(status == 0, "\(err)")
  #expect(out.contains("run summary: step 0 → 20 in "))
  #expect(out.contains("eval/accuracy"))
  let run = try #require(runDirectories(root).first)
  let events = try FileManager.default.contentsOfDirectory(atPath: run.path)
    .filter { $0.hasPrefix("events.out.tfevents.") }
  #expect(events.count == 1)
  // The file version, then one event per logged step (the step-0 evaluation, 10 and 20),
  // each framed with its length and two CRCs, so the file is exactly their sum.
  let bytes = try [UInt8](Data(contentsOf: run.appendingPathComponent(events[0])))
  var offset = 0
  var records = 0
  while offset < bytes.count {
    let length = (0..<8).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) }
    let data = Array(bytes[(offset + 12)..<(offset + 12 + length)])
    let crc = (0..<4).reduce(UInt32(0)) {
      $0 | UInt32(bytes[offset + 12 + length + $1]) << (8 * $1)
    }
    #expect(crc == TensorBoardLog.maskedCRC(data))
    offset += 16 + length
    records += 1
  }
  #expect(offset == bytes.count && records == 4)
}

@Test func baselinesShowPoliciesOfDifferentExperimentsAsSeparateRows() throws {
  let root = try scratch()
  let config = repository.appendingPathComponent("Experiments/ta-almighty-grpo.json").path
  let scenario = repository.appendingPathComponent("Experiments/scenarios/almighty.json").path
  for (name, seed) in [("first", 0), ("first", 1), ("second", 0)] {
    let (status, _, err) = try TrainProcess.run([
      "--quiet", "--config", config, "--output", root.path, "--set", "run.steps=2",
      "--set", "run.name=\(name)", "--set", "run.seed=\(seed)",
      "--set", "taskAllocation.scenario=\(scenario)",
    ])
    #expect(status == 0, "\(err)")
  }
  let policies = runDirectories(root).flatMap { ["--policy", $0.path] }
  let (status, out, err) = try allot(
    ["baselines", scenario, "--seeds", "1", "--exact-nodes", "0"] + policies)
  #expect(status == 0, "\(err)")
  #expect(out.contains("| two-stage greedy first (2 policies) |"))
  #expect(out.contains("| two-stage sampled first (2 policies) |"))
  #expect(out.contains("| two-stage greedy second |"))
  #expect(out.contains("| two-stage sampled second |"))
}

/// Runs a sweep script of the repository with the executables of this build.
private func sweep(_ script: String, _ arguments: [String]) throws -> (Int32, String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/bin/bash")
  process.arguments =
    [
      repository.appendingPathComponent("Experiments/sweeps/\(script)").path, "--bin",
      TrainProcess.executable.deletingLastPathComponent().path,
    ] + arguments
  let pipe = Pipe()
  process.standardOutput = pipe
  process.standardError = pipe
  try process.run()
  let out = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (process.terminationStatus, String(decoding: out, as: UTF8.self))
}

@Test func sweepScriptsStreamEachRunByNameTakeSetAndSkipFinishedRuns() throws {
  let root = try scratch()
  let arguments = [
    "--out", root.path, "--seeds", "0", "--jobs", "2", "--set", "run.steps=20",
    "--set", "logging.evalEvery=10", "--set", "classifier.trainSize=100",
    "--set", "classifier.testSize=50", "--set", "classifier.batchSize=20",
  ]
  let (status, out) = try sweep("lr-seeds.sh", arguments)
  #expect(status == 0, "\(out)")
  // Every run's lines arrive here with its name; the --set values reached every run.
  for lr in ["0.001", "0.003", "0.01", "0.03"] {
    #expect(out.contains("[lr\(lr) s0] step 20/20"))
    #expect(out.contains("[lr\(lr) s0] run summary: step 0 → 20 in "))
  }
  #expect(out.contains("| lr0.03 | 1 |"))
  let logs = try FileManager.default.contentsOfDirectory(
    atPath: root.appendingPathComponent("logs").path)
  #expect(
    logs.sorted() == [
      "lr0.001__seed0.log", "lr0.003__seed0.log", "lr0.01__seed0.log", "lr0.03__seed0.log",
    ])
  #expect(
    !(try FileManager.default.contentsOfDirectory(atPath: root.path)).contains { $0.hasPrefix(".") }
  )
  let (again, againOut) = try sweep("lr-seeds.sh", arguments)
  #expect(again == 0, "\(againOut)")
  #expect(againOut.components(separatedBy: "skip (finished)").count - 1 == 4)
  #expect(!againOut.contains("step 20/20"))
  let (bad, badOut) = try sweep("lr-seeds.sh", ["--set"])
  #expect(bad == 2 && badOut.contains("--set needs a value"))
}
