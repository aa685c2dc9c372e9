import Checkpoint
import Foundation

/// One logged step: metric names (namespaced with `/`, see docs/metrics.md) and values.
public struct MetricsRecord: Sendable, Equatable {
  public var step: Int
  public var values: [String: Double]

  public init(step: Int, values: [String: Double]) {
    self.step = step
    self.values = values
  }

  /// One JSON object: `{"step": …, "<name>": …}` with sorted keys. Numbers are written so
  /// that they read back exactly (`LineFiles.exactText`); non-finite values as null.
  public var jsonLine: String {
    let fields = values.keys.sorted().map { key in
      JSONValue.quote(key) + ":" + (LineFiles.exactText(values[key]!) ?? "null")
    }
    return "{" + ([#""step":\#(step)"#] + fields).joined(separator: ",") + "}"
  }
}

/// `metrics.jsonl` (one object per logged step) plus `metrics.csv`, kept consistent across
/// resumes and kills: each line is appended whole (`LineFiles.append`), a resume cuts the
/// file after the checkpoint's step without rewriting the lines it keeps, and a torn last
/// line (a process killed mid-write) is dropped with a note. `metrics.csv` is derived from
/// the records and rewritten when a column appears.
public final class MetricsLog {
  public let jsonl: URL
  public let csv: URL
  private var records: [MetricsRecord] = []
  /// What reading or cutting the log dropped (a torn last line), for the run's output.
  public private(set) var note: String?
  /// Where every appended record also goes (`logging.tensorboard`).
  public private(set) var tensorboard: TensorBoardLog?

  public init(jsonl: URL, csv: URL) {
    self.jsonl = jsonl
    self.csv = csv
  }

  /// Every record in a metrics.jsonl file; malformed lines are reported by line number. A
  /// torn last line is dropped (see `readWithNote`).
  public static func read(_ url: URL) throws -> [MetricsRecord] {
    try readWithNote(url).records
  }

  /// The records of a metrics.jsonl file and a note when its torn last line was dropped.
  public static func readWithNote(_ url: URL) throws -> (records: [MetricsRecord], note: String?) {
    let (lines, note) = try LineFiles.read(url)
    var out: [MetricsRecord] = []
    for (index, line) in lines.enumerated() where !line.isEmpty {
      out.append(try record(line, source: "\(url.path):\(index + 1)"))
    }
    return (out, note)
  }

  /// One line of metrics.jsonl as a record; an error names `source` (file:line).
  static func record(_ line: String, source: String) throws -> MetricsRecord {
    let value: JSONValue
    do {
      value = try JSONValue.parse(Data(line.utf8), source: source)
    } catch let error as JSONError {
      throw JSONError(
        source: source,
        message: "metrics line "
          + error.message.replacingOccurrences(
            of: "is not valid JSON", with: "is not valid JSON (damaged metrics.jsonl)"))
    }
    guard case .object(let fields) = value, case .number(let step)? = fields["step"],
      step.rounded() == step, abs(step) < 1e15
    else {
      throw JSONError(source: source, message: "metrics line has no whole-number 'step'")
    }
    var values: [String: Double] = [:]
    for (k, v) in fields where k != "step" {
      if case .number(let x) = v { values[k] = x } else if v == .null { values[k] = .nan }
    }
    return MetricsRecord(step: Int(step), values: values)
  }

  /// The step of a metrics line, or nil when it is not a record.
  static func step(of line: String) -> Int? {
    (try? record(line, source: ""))?.step
  }

  /// Keeps the lines up to and including `step` (a resumed run continues after its
  /// checkpoint's step) without rewriting them, and rebuilds metrics.csv from them.
  public func resume(atStep step: Int) throws {
    let (lines, note) = try LineFiles.truncate(jsonl) {
      Self.step(of: $0).map { $0 <= step } ?? false
    }
    self.note = note
    records = try lines.enumerated().map { try Self.record($1, source: "\(jsonl.path):\($0 + 1)") }
    try rewriteCSV()
  }

  /// Starts both files empty.
  public func start() throws {
    records = []
    try fileOperation(jsonl) { try Data().write(to: jsonl) }
    try rewriteCSV()
  }

  /// From now on also writes every record to a new TensorBoard event file in `directory`;
  /// `resumedAt` is the step a resumed run continues after.
  public func addTensorBoard(in directory: URL, resumedAt step: Int?) throws {
    let log = TensorBoardLog(directory: directory)
    try log.start(resumedAt: step)
    tensorboard = log
  }

  public func append(_ record: MetricsRecord) throws {
    try tensorboard?.append(record)
    let newKeys = Set(record.values.keys).subtracting(columns)
    records.append(record)
    try LineFiles.append(record.jsonLine, to: jsonl)
    if newKeys.isEmpty {
      try LineFiles.append(csvRow(record), to: csv)
    } else {
      try rewriteCSV()  // a new column: the CSV header changes
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

  private func rewriteCSV() throws {
    let header = (["step"] + columns).joined(separator: ",") + "\n"
    let rows = records.map { csvRow($0) + "\n" }.joined()
    try writeAtomically(Data((header + rows).utf8), to: csv)
  }
}

/// Shortest round-tripping decimal text for a metric value.
func formatNumber(_ x: Double) -> String {
  LineFiles.exactText(x) ?? ""
}
