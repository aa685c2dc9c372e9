import Foundation

/// What a finished or unfinished run directory holds, for `allot inspect` and sweeps.
public struct RunSummary: Sendable {
  public var directory: URL
  public var config: ExperimentConfig
  public var metrics: [MetricsRecord]

  public init(directory: URL) throws {
    self.directory = directory
    config = try RunDirectory(url: directory).readConfig()
    metrics = try MetricsLog.read(RunDirectory(url: directory).metricsURL)
  }

  /// The last logged value of `metric`, if any.
  /// The mean of every finite logged value of `metric`, if any.
  public func mean(_ metric: String) -> Double? {
    let values = metrics.compactMap { $0.values[metric] }.filter(\.isFinite)
    return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
  }

  public func last(_ metric: String) -> Double? {
    metrics.last { $0.values[metric] != nil }?.values[metric]
  }

  /// Every run directory (holding a config.json) directly inside `folder`, or `folder`
  /// itself when it is one.
  public static func runs(in folder: URL) throws -> [RunSummary] {
    if FileManager.default.fileExists(atPath: folder.appendingPathComponent("config.json").path) {
      return [try RunSummary(directory: folder)]
    }
    let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    return try names.map { folder.appendingPathComponent($0) }
      .filter {
        FileManager.default.fileExists(atPath: $0.appendingPathComponent("config.json").path)
      }
      .map { try RunSummary(directory: $0) }
  }
}

/// Sweep results grouped by setting (every config key but the seed and output folder),
/// with mean ± standard deviation of one metric over the seeds of each setting.
public struct SweepTable: Sendable {
  public struct Row: Sendable {
    /// The keys that vary across the sweep and their values in this setting.
    public var setting: [(String, String)]
    public var values: [Double]
    public var runs: [String]
    public var mean: Double { values.reduce(0, +) / Double(max(values.count, 1)) }
    /// Sample standard deviation (n − 1); 0 for one run.
    public var std: Double {
      guard values.count > 1 else { return 0 }
      let m = mean
      return (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count - 1))
        .squareRoot()
    }
  }

  public var metric: String
  public var varying: [String]
  public var rows: [Row]
  public var missing: [String]

  /// Groups `runs` by the config keys that differ between them (ignoring the seed, name
  /// and output folder), scoring each run by the last logged value of `metric`.
  /// How a run is scored by its metric: the last logged value, or the mean over the run.
  public enum Aggregate: String, Sendable, CaseIterable { case last, mean }

  public init(runs: [RunSummary], metric: String, aggregate: Aggregate = .last) throws {
    self.metric = metric
    // Keys that never change what a run computes.
    let ignored: Set<String> = [
      "run.seed", "run.outputDir", "run.name", "run.blasThreads", "notes",
    ]
    var keys = Set<String>()
    for run in runs.dropFirst() {
      keys.formUnion(try ConfigLoader.differences(runs[0].config, run.config))
    }
    varying = keys.subtracting(ignored)
      .filter { !$0.hasPrefix("logging.") && !$0.hasPrefix("checkpoint.") }.sorted()
    var groups: [String: Row] = [:]
    var order: [String] = []
    missing = []
    for run in runs {
      let tree = try JSONValue(encoding: run.config)
      let setting = varying.map { key in
        (key, tree.value(at: key.split(separator: ".").map(String.init))?.compactText ?? "")
      }
      let id = setting.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
      guard let value = aggregate == .last ? run.last(metric) : run.mean(metric) else {
        missing.append(run.directory.lastPathComponent)
        continue
      }
      if groups[id] == nil {
        groups[id] = Row(setting: setting, values: [], runs: [])
        order.append(id)
      }
      groups[id]!.values.append(value)
      groups[id]!.runs.append(run.directory.lastPathComponent)
    }
    rows = order.map { groups[$0]! }
  }

  /// The row with the highest mean (or lowest, when `minimize`).
  public func best(minimize: Bool) -> Row? {
    rows.max { minimize ? $0.mean > $1.mean : $0.mean < $1.mean }
  }

  /// A Markdown table: one row per setting, mean ± std over seeds, the best marked.
  public func markdown(minimize: Bool) -> String {
    let header = (varying.isEmpty ? ["setting"] : varying) + ["runs", "\(metric) mean ± std"]
    var lines = ["| " + header.joined(separator: " | ") + " |"]
    lines.append("|" + header.map { _ in " --- " }.joined(separator: "|") + "|")
    let bestRow = best(minimize: minimize)
    for row in rows {
      let cells = (varying.isEmpty ? ["(all)"] : row.setting.map(\.1))
      let mark = bestRow.map { $0.runs == row.runs } == true ? " **best**" : ""
      lines.append(
        "| "
          + (cells + [
            "\(row.values.count)", String(format: "%.4f ± %.4f", row.mean, row.std) + mark,
          ])
          .joined(separator: " | ") + " |")
    }
    if !missing.isEmpty { lines.append("\nNo \(metric) yet: " + missing.joined(separator: ", ")) }
    return lines.joined(separator: "\n")
  }
}
