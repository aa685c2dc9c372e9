import Foundation

/// One logged step: metric names (namespaced with `/`, see docs/metrics.md) and values.
public struct MetricsRecord: Sendable, Equatable {
  public var step: Int
  public var values: [String: Double]

  public init(step: Int, values: [String: Double]) {
    self.step = step
    self.values = values
  }

  /// One JSON object: `{"step": …, "<name>": …}` with sorted keys. Non-finite values are
  /// written as null.
  public var jsonLine: String {
    var fields: [String: JSONValue] = ["step": .number(Double(step))]
    for (k, v) in values { fields[k] = v.isFinite ? .number(v) : .null }
    return String(decoding: (try? JSONValue.object(fields).data()) ?? Data(), as: UTF8.self)
  }
}

/// `metrics.jsonl` (one object per logged step) plus `metrics.csv`, kept consistent across
/// resumes: lines after the resumed step are dropped before new ones are appended, so the
/// files never hold gaps or duplicates.
public final class MetricsLog {
  public let jsonl: URL
  public let csv: URL
  private var records: [MetricsRecord] = []

  public init(jsonl: URL, csv: URL) {
    self.jsonl = jsonl
    self.csv = csv
  }

  /// Every record in a metrics.jsonl file; malformed lines are reported by line number.
  public static func read(_ url: URL) throws -> [MetricsRecord] {
    var out: [MetricsRecord] = []
    for line in readJSONLines(url) {
      guard case .object(let fields) = try line.value.get(),
        case .number(let step)? = fields["step"]
      else {
        throw JSONError(source: "\(url.path):\(line.number)", message: "line has no numeric 'step'")
      }
      var values: [String: Double] = [:]
      for (k, v) in fields where k != "step" {
        if case .number(let x) = v { values[k] = x } else if v == .null { values[k] = .nan }
      }
      out.append(MetricsRecord(step: Int(step), values: values))
    }
    return out
  }

  /// Loads earlier records up to and including `step` and rewrites both files with just
  /// those (a resumed run continues after its checkpoint's step).
  public func resume(atStep step: Int) throws {
    records = try MetricsLog.read(jsonl).filter { $0.step <= step }
    try rewrite()
  }

  /// Starts both files empty.
  public func start() throws {
    records = []
    try rewrite()
  }

  public func append(_ record: MetricsRecord) throws {
    let newKeys = Set(record.values.keys).subtracting(columns)
    records.append(record)
    if newKeys.isEmpty {
      try appendText(record.jsonLine + "\n", to: jsonl)
      try appendText(csvRow(record) + "\n", to: csv)
    } else {
      try rewrite()  // a new column: the CSV header changes
    }
  }

  /// All records so far.
  public var all: [MetricsRecord] { records }

  private var columns: [String] {
    Array(Set(records.flatMap { $0.values.keys })).sorted()
  }

  private func csvRow(_ r: MetricsRecord) -> String {
    ([String(r.step)] + columns.map { r.values[$0].map(formatNumber) ?? "" }).joined(separator: ",")
  }

  private func rewrite() throws {
    let lines = records.map { $0.jsonLine + "\n" }.joined()
    try Data(lines.utf8).write(to: jsonl, options: .atomic)
    let header = (["step"] + columns).joined(separator: ",") + "\n"
    let rows = records.map { csvRow($0) + "\n" }.joined()
    try Data((header + rows).utf8).write(to: csv, options: .atomic)
  }

}

/// Shortest round-tripping decimal text for a metric value.
func formatNumber(_ x: Double) -> String {
  if !x.isFinite { return "" }
  if x.rounded() == x && Swift.abs(x) < 1e15 { return String(Int64(x)) }
  return "\(x)"
}
