import Foundation
import Testing

@testable import Training

@Test func evaluateReportsPassRatesPerDifficultyAndWritesCompletions() throws {
  let root = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-eval-\(UUID().uuidString)")
  let (status, _, err) = try TrainProcess.run([
    "--quiet", "--output", root.path, "--set", "kind=sft", "--set", "run.steps=2", "--set",
    "model.layers=1",
    "--set", "model.width=16", "--set", "model.heads=2", "--set", "model.context=160", "--set",
    "task.maxDigits=2",
    "--set", "task.trainSize=20", "--set", "task.testSize=6", "--set", "sft.batchSize=2", "--set",
    "evaluation.prompts=2",
    "--set", "evaluation.maxNewTokens=40",
  ])
  #expect(status == 0, "\(err)")
  let run = try FileManager.default.contentsOfDirectory(atPath: root.path).map {
    root.appendingPathComponent($0)
  }[0]
  let file = root.appendingPathComponent("completions.jsonl")
  let process = Process()
  process.executableURL = TrainProcess.executable.deletingLastPathComponent()
    .appendingPathComponent("allot")
  process.arguments = ["evaluate", run.path, "--samples", "3", "--completions", file.path]
  let pipe = Pipe()
  process.standardOutput = pipe
  try process.run()
  let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  process.waitUntilExit()
  #expect(process.terminationStatus == 0)
  #expect(out.contains("| difficulty | prompts | pass@1 (greedy) | mean@3 | pass@3 |"))
  #expect(out.contains("| all | 6 |"))
  #expect(out.contains("wrote 24 completions"))  // 6 greedy + 6 × 3 sampled
  // Another task's test split, from an experiment file.
  let other = root.appendingPathComponent("other.json")
  try Data(#"{"task": {"name": "arithmetic", "minDigits": 1, "maxDigits": 1, "testSize": 3}}"#.utf8).write(to: other)
  let second = Process()
  second.executableURL = process.executableURL
  second.arguments = ["evaluate", run.path, "--samples", "0", "--task", other.path]
  let secondPipe = Pipe()
  second.standardOutput = secondPipe
  try second.run()
  let secondOut = String(decoding: secondPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  second.waitUntilExit()
  #expect(secondOut.contains("| digits1 | 3 |") && secondOut.contains("| all | 3 |"))
  let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
  #expect(lines.count == 24)
  #expect(lines[0].contains("\"greedy\":true") && lines[0].contains("\"reward\""))
}
