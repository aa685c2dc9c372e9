import Foundation

/// What a run did, printed at its end: the steps and time, then for each headline metric of
/// its kind that it logged (`headlineMetrics`) the first, last and best logged value with
/// their steps.
public struct RunReport {
  public var config: ExperimentConfig
  /// Every record of the run, from its first step (a resumed run's earlier ones too).
  public var records: [MetricsRecord]
  /// The step this process started at (0, or the resume point) and its wall time.
  public var startStep: Int
  public var seconds: Double

  public init(config: ExperimentConfig, records: [MetricsRecord], startStep: Int, seconds: Double) {
    self.config = config
    self.records = records
    self.startStep = startStep
    self.seconds = seconds
  }

  public var text: String {
    let end = records.last?.step ?? startStep
    let rate =
      seconds > 0 ? String(format: ", %.3g steps/s", Double(end - startStep) / seconds) : ""
    var lines = [
      "run summary: step \(startStep) → \(end) in \(formatDuration(seconds))\(rate)"
    ]
    let rows: [[String]] = config.headlineMetrics.compactMap { headline in
      let points = records.compactMap { r in
        r.values[headline.name].flatMap { $0.isFinite ? (r.step, $0) : nil }
      }
      guard let first = points.first, let last = points.last else { return nil }
      let best = points.dropFirst().reduce(first) { b, p in
        (headline.minimize ? p.1 < b.1 : p.1 > b.1) ? p : b
      }
      func cell(_ p: (Int, Double)) -> String { String(format: "%.4g", p.1) + " (step \(p.0))" }
      return [headline.name, cell(first), cell(last), headline.ranked ? cell(best) : "–"]
    }
    guard !rows.isEmpty else { return lines[0] }
    let table = [["metric", "first", "last", "best"]] + rows
    let widths = (0..<4).map { c in table.map { $0[c].count }.max()! }
    for row in table {
      let padded = zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
      lines.append(
        ("  " + padded.joined(separator: "  ")).replacingOccurrences(
          of: " +$", with: "", options: .regularExpression))
    }
    return lines.joined(separator: "\n")
  }
}
