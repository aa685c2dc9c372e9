import Foundation
import Testing

@testable import Training

/// Runs the real `allot` executable (built next to the test bundle).
func allot(_ arguments: [String]) throws -> (Int32, String, String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    .deletingLastPathComponent().appendingPathComponent("allot")
  process.arguments = arguments
  let (out, err) = (Pipe(), Pipe())
  process.standardOutput = out
  process.standardError = err
  try process.run()
  let o = out.fileHandleForReading.readDataToEndOfFile()
  let e = err.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (
    process.terminationStatus, String(decoding: o, as: UTF8.self),
    String(decoding: e, as: UTF8.self)
  )
}

/// A small sweep: two learning rates × two seeds.
private func makeSweep() throws -> URL {
  let root = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-sweep-\(UUID().uuidString)")
  for lr in ["0.01", "0.003"] {
    for seed in ["0", "1"] {
      let (status, _, err) = try TrainProcess.run([
        "--quiet", "--output", root.path, "--set", "run.name=lr\(lr)", "--set", "run.seed=\(seed)",
        "--set", "optimizer.learningRate=\(lr)", "--set", "run.steps=40", "--set",
        "logging.evalEvery=20",
        "--set", "classifier.trainSize=300", "--set", "classifier.testSize=100", "--set",
        "classifier.hidden=[8]",
      ])
      #expect(status == 0, "\(err)")
    }
  }
  return root
}

@Test func summarizeGroupsSeedsPerSettingAndMarksTheBest() throws {
  let root = try makeSweep()
  let (status, out, err) = try allot(["summarize", root.path])
  #expect(status == 0, "\(err)")
  let lines = out.split(separator: "\n").map(String.init)
  #expect(lines[0] == "## classifier: 4 runs of 2 experiments (mean ± std over seeds)")
  #expect(lines[1] == "| experiment | runs | eval/accuracy (last) | eval/loss (last) |")
  #expect(
    lines.filter { $0.hasPrefix("| lr0.01 | 2 |") || $0.hasPrefix("| lr0.003 | 2 |") }.count == 2)
  #expect(out.contains("the experiments differ in: optimizer.learningRate"))
  #expect(out.contains("**best**"))
  #expect(out.contains("other metrics (--metric NAME): data/epoch, grad/norm, loss/train"))
  // The table's numbers are the runs' own final eval/accuracy values.
  let runs = try RunSummary.runs(in: root)
  let table = try SweepTable(runs: runs, metric: "eval/accuracy")
  let row = try #require(table.rows.first { $0.experiment == "lr0.01" })
  let finals = runs.filter { $0.config.optimizer.learningRate == 0.01 }.compactMap {
    $0.last("eval/accuracy")
  }
  #expect(row.values.sorted() == finals.sorted())
  #expect(abs(row.mean - finals.reduce(0, +) / 2) < 1e-12)
  #expect(out.contains(String(format: "%.4f ± %.4f", row.mean, row.std)))
}

@Test func plotWritesAnSVGWithOneColourPerVariant() throws {
  let root = try makeSweep()
  let svg = root.appendingPathComponent("loss.svg")
  let (status, out, err) = try allot(["plot", root.path, "--metric", "loss/train", "-o", svg.path])
  #expect(status == 0, "\(err)")
  #expect(out.contains("wrote \(svg.path) (2 variants of 4 runs)"))
  let text = try String(contentsOf: svg, encoding: .utf8)
  #expect(text.hasPrefix("<svg"))
  #expect(text.components(separatedBy: "class=\"mean\"").count - 1 == 2)
  #expect(text.components(separatedBy: "class=\"seed\"").count - 1 == 4)
  #expect(text.contains(">lr0.01 (2 seeds)<") && text.contains(">lr0.003 (2 seeds)<"))
  let (missing, _, missingErr) = try allot([
    "plot", root.path, "--metric", "no/such", "-o", svg.path,
  ])
  #expect(missing == 1)
  #expect(
    missingErr.contains(
      "no run had the metric no/such; the runs log: data/epoch, eval/accuracy, eval/loss, grad/norm"
    ))
}

@Test func inspectAndEvaluateACheckpoint() throws {
  let root = try makeSweep()
  let run = try #require(RunSummary.runs(in: root).first)
  let (status, out, err) = try allot(["inspect", run.directory.path])
  #expect(status == 0, "\(err)")
  #expect(out.contains("step: 40"))
  #expect(out.contains("parameters: 51 in 4 tensors"))  // 2·8 + 8 + 8·3 + 3
  #expect(out.contains("layers.0.weight"))
  #expect(out.contains("[8, 2]"))
  #expect(out.contains("metrics: "))
  let (evalStatus, evalOut, evalErr) = try allot(["evaluate", run.directory.path])
  #expect(evalStatus == 0, "\(evalErr)")
  let reported = try #require(
    evalOut.split(separator: "\n").first { $0.hasPrefix("eval/accuracy ") }.flatMap {
      Double($0.split(separator: " ")[1])
    })
  #expect(reported == run.last("eval/accuracy"))  // the same number the run logged at its end
  let (bad, _, badErr) = try allot(["inspect", root.appendingPathComponent("nothing").path])
  #expect(bad == 1)
  #expect(badErr.contains("no such file or directory"))
}

@Test func mineWritesPhrasesRankedBySuccessfulCompletions() throws {
  let root = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-mine-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
  let lines = [
    #"{"completion": "plan: add digits right to left\nanswer: 3", "reward": 1}"#,
    #"{"completion": "plan: add digits right to left\nanswer: 5", "reward": 1}"#,
    #"{"completion": "plan: guess wildly and hope\nanswer: 9", "reward": 0}"#,
  ]
  try Data((lines.joined(separator: "\n") + "\n").utf8).write(
    to: root.appendingPathComponent("completions.jsonl"))
  let output = root.appendingPathComponent("phrases.txt")
  let (status, out, err) = try allot(["mine", root.path, "-o", output.path, "--fraction", "0.3"])
  #expect(status == 0, "\(err)")
  #expect(out.contains("wrote"))
  let text = try String(contentsOf: output, encoding: .utf8)
  #expect(text.contains("add digits right  # 2"))
  #expect(!text.contains("guess wildly"))  // failed completions are not mined
  try Data("{\"completion\": 3}\n".utf8).write(to: root.appendingPathComponent("bad.jsonl"))
  let (bad, _, badErr) = try allot([
    "mine", root.appendingPathComponent("bad.jsonl").path, "-o", output.path,
  ])
  #expect(bad == 1)
  #expect(badErr.contains("bad.jsonl:1: needs \"completion\" (string) and \"reward\" (number)"))
}

@Test func baselinesPlayAScenarioFile() throws {
  let scenarios = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../Experiments/scenarios").standardized
  let (status, out, err) = try allot([
    "baselines", scenarios.appendingPathComponent("electric.json").path, "--seeds", "2",
    "--exact-nodes", "0",
  ])
  #expect(status == 0, "\(err)")
  #expect(out.contains("| sequential | 140.1 | 30 |"))
  #expect(out.contains("| random order |"))
  #expect(!out.contains("exact per decision"))
  let (bad, _, badErr) = try allot([
    "baselines", scenarios.appendingPathComponent("rbf-100.json").path,
  ])
  #expect(bad == 1)
  #expect(badErr.contains("taskQueue: missing (and no base scenario supplies it)"))
}

@Test func summarizeCanAverageOverTheRun() throws {
  let root = try makeSweep()
  let runs = try RunSummary.runs(in: root)
  let table = try SweepTable(runs: runs, metric: "loss/train", aggregate: .mean)
  let row = try #require(table.rows.first { $0.experiment == "lr0.01" })
  let expected = runs.filter { $0.config.optimizer.learningRate == 0.01 }.compactMap {
    $0.mean("loss/train")
  }
  #expect(row.values.sorted() == expected.sorted())
  let (status, out, _) = try allot([
    "summarize", root.path, "--metric", "loss/train", "--aggregate", "mean", "--minimize",
  ])
  #expect(status == 0 && out.contains("| experiment | runs | loss/train (mean over the run) |"))
  #expect(out.contains("**best**"))
  let (bad, _, badErr) = try allot(["summarize", root.path, "--aggregate", "median"])
  #expect(bad == 1 && badErr.contains("--aggregate must be last or mean"))
}
