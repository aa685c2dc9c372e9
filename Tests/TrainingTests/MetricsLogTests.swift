import Foundation
import Testing

@testable import Training

/// A resumed run keeps the lines already in metrics.jsonl as they were written, digit for
/// digit, also when a new column later rewrites the file.
@Test func resumingKeepsEarlierMetricsLinesExactly() throws {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-metrics-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: folder) }
  let jsonl = folder.appendingPathComponent("metrics.jsonl")
  let csv = folder.appendingPathComponent("metrics.csv")
  let first = MetricsLog(jsonl: jsonl, csv: csv)
  try first.start()
  // Values whose shortest decimal text has 17 significant digits.
  for (step, value) in [(1, 155.83433706682933), (2, 0.1 + 0.2), (3, 1e-7 / 3)] {
    try first.append(MetricsRecord(step: step, values: ["episode/totalReward": value]))
  }
  let written = try String(contentsOf: jsonl, encoding: .utf8)
  let lines = written.split(separator: "\n")
  let resumed = MetricsLog(jsonl: jsonl, csv: csv)
  try resumed.resume(atStep: 2)
  #expect(
    try String(contentsOf: jsonl, encoding: .utf8) == lines.prefix(2).map { $0 + "\n" }.joined())
  try resumed.append(MetricsRecord(step: 3, values: ["episode/totalReward": 1, "eval/return": 2]))
  let after = try String(contentsOf: jsonl, encoding: .utf8).split(separator: "\n")
  #expect(Array(after.prefix(2)) == Array(lines.prefix(2)))
  #expect(resumed.all.map(\.step) == [1, 2, 3])
}
