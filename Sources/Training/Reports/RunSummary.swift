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

  /// The mean of every finite logged value of `metric`, if any.
  public func mean(_ metric: String) -> Double? {
    let values = metrics.compactMap { $0.values[metric] }.filter(\.isFinite)
    return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
  }

  /// The last logged value of `metric`, if any.
  public func last(_ metric: String) -> Double? {
    metrics.last { $0.values[metric] != nil }?.values[metric]
  }

  /// Every metric name some run of `runs` logged, sorted.
  public static func metricNames(_ runs: [RunSummary]) -> [String] {
    Set(runs.flatMap { $0.metrics.flatMap(\.values.keys) }).sorted()
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

/// Runs grouped by experiment (`run.name`) and by the config keys that vary within an
/// experiment (every key but the seed, name, output folder, logging and checkpoints): the
/// rows of a summary and the variants of a plot, each holding the seeds of one setting.
public struct RunGroups: Sendable {
  public struct Group: Sendable {
    /// The experiment: `run.name`.
    public var experiment: String
    /// The keys that vary within an experiment and their values in this group.
    public var setting: [(String, String)]
    public var runs: [RunSummary]

    /// The experiment and the setting, as `name key=value …`.
    public var label: String {
      ([experiment] + setting.map { "\($0.0)=\($0.1)" }).joined(separator: " ")
    }
  }

  /// The keys that vary within some experiment.
  public var varying: [String]
  /// The keys in which the experiments differ beyond `varying` (the experiment's name
  /// stands for them).
  public var experimentsDiffer: [String]
  /// In the order of their first run.
  public var groups: [Group]

  /// Keys that never change what a run computes, or that the experiment's name shows.
  static let ignored: Set<String> = [
    "run.seed", "run.outputDir", "run.name", "run.blasThreads", "notes",
  ]

  public init(_ runs: [RunSummary]) throws {
    var experiments: [String: [RunSummary]] = [:]
    for run in runs { experiments[run.config.run.name, default: []].append(run) }
    var within = Set<String>()
    for members in experiments.values { within.formUnion(try Self.varyingKeys(members)) }
    varying = within.sorted()
    let representatives = experiments.keys.sorted().map { experiments[$0]![0] }
    experimentsDiffer = try Self.varyingKeys(representatives).subtracting(within).sorted()
    groups = []
    var index: [String: Int] = [:]
    for run in runs {
      let tree = try JSONValue(encoding: run.config)
      let setting = varying.map { key in
        (key, tree.value(at: key.split(separator: ".").map(String.init))?.compactText ?? "")
      }
      let group = Group(experiment: run.config.run.name, setting: setting, runs: [run])
      if let i = index[group.label] {
        groups[i].runs.append(run)
      } else {
        index[group.label] = groups.count
        groups.append(group)
      }
    }
  }

  /// The config keys (not `ignored`, logging or checkpoint keys) that differ among `runs`.
  static func varyingKeys(_ runs: [RunSummary]) throws -> Set<String> {
    var keys = Set<String>()
    for run in runs.dropFirst() {
      keys.formUnion(try ConfigLoader.differences(runs[0].config, run.config))
    }
    return keys.subtracting(ignored)
      .filter { !$0.hasPrefix("logging.") && !$0.hasPrefix("checkpoint.") }
  }
}

/// One metric over `RunGroups`: mean ± sample std over the seeds of each group.
public struct SweepTable: Sendable {
  public struct Row: Sendable {
    public var experiment: String
    public var setting: [(String, String)]
    /// The group's `label`.
    public var label: String
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
    /// `mean ± std`, or the value alone for one run (one seed has no spread).
    public var text: String {
      values.count > 1
        ? String(format: "%.4f ± %.4f", mean, std) : String(format: "%.4f (1 run)", mean)
    }
  }

  public typealias Aggregate = HeadlineMetric.Aggregate

  public var metric: String
  public var aggregate: Aggregate
  /// The keys that vary within some experiment: the table's setting columns.
  public var varying: [String]
  /// The keys in which the experiments differ beyond `varying`.
  public var experimentsDiffer: [String]
  public var rows: [Row]
  /// Runs that logged no finite value of the metric.
  public var missing: [String]

  /// Scores each run of `runs` by `metric` as `aggregate` says, a row per group.
  public init(runs: [RunSummary], metric: String, aggregate: Aggregate = .last) throws {
    self.metric = metric
    self.aggregate = aggregate
    let grouped = try RunGroups(runs)
    varying = grouped.varying
    experimentsDiffer = grouped.experimentsDiffer
    rows = []
    missing = []
    for group in grouped.groups {
      var row = Row(
        experiment: group.experiment, setting: group.setting, label: group.label, values: [],
        runs: [])
      for run in group.runs {
        let name = run.directory.lastPathComponent
        if let value = aggregate == .last ? run.last(metric) : run.mean(metric), value.isFinite {
          row.values.append(value)
          row.runs.append(name)
        } else {
          missing.append(name)
        }
      }
      if !row.values.isEmpty { rows.append(row) }
    }
  }

  /// The row with the highest mean (or lowest, when `minimize`); nil when no row is
  /// strictly better than every other.
  public func best(minimize: Bool) -> Row? {
    let sorted = rows.sorted { minimize ? $0.mean < $1.mean : $0.mean > $1.mean }
    guard let first = sorted.first else { return nil }
    return sorted.count > 1 && sorted[1].mean == first.mean ? nil : first
  }

  /// What the metric column holds.
  public var heading: String {
    aggregate == .last ? "\(metric) (last)" : "\(metric) (mean over the run)"
  }

  /// A Markdown table: one row per experiment and setting, mean ± std over seeds, the best
  /// marked; then the runs without the metric, what the experiments differ in, and the best.
  public func markdown(minimize: Bool) -> String {
    var lines = [Self.markdown([(self, minimize)])]
    if rows.count > 1, let bestRow = best(minimize: minimize) {
      lines.append(
        "best (\(minimize ? "lowest" : "highest")): \(bestRow.label)  \(metric) \(bestRow.text)"
          + " over \(bestRow.values.count) run\(bestRow.values.count == 1 ? "" : "s")")
    }
    return lines.joined(separator: "\n")
  }

  /// One Markdown table of several metrics over the same runs: a row per experiment and
  /// setting, a column per metric (mean ± std over the seeds that logged it, the best of
  /// each column marked, lowest first where `minimize`, none where it is nil); then the runs
  /// without a metric and what the experiments differ in.
  public static func markdown(_ columns: [(table: SweepTable, minimize: Bool?)]) -> String {
    guard let first = columns.first?.table else { return "" }
    var order: [String] = []
    var rows: [String: Row] = [:]
    for (table, _) in columns {
      for row in table.rows where rows[row.label] == nil {
        order.append(row.label)
        rows[row.label] = row
      }
    }
    let header = ["experiment"] + first.varying + ["runs"] + columns.map(\.table.heading)
    var lines = ["| " + header.joined(separator: " | ") + " |"]
    lines.append("|" + header.map { _ in " --- " }.joined(separator: "|") + "|")
    for label in order {
      let row = rows[label]!
      let cells = columns.map { table, minimize in
        guard let cell = table.rows.first(where: { $0.label == label }) else { return "–" }
        let best =
          minimize.map { table.rows.count > 1 && table.best(minimize: $0)?.label == label } ?? false
        return cell.text + (best ? " **best**" : "")
      }
      let runs = columns.compactMap { c in c.table.rows.first { $0.label == label }?.values.count }
      lines.append(
        "| "
          + ([row.experiment] + row.setting.map(\.1) + ["\(runs.max()!)"] + cells)
          .joined(separator: " | ") + " |")
    }
    for (table, _) in columns where !table.missing.isEmpty {
      lines.append("no \(table.metric) in: " + table.missing.joined(separator: ", "))
    }
    if !first.experimentsDiffer.isEmpty {
      lines.append("the experiments differ in: " + first.experimentsDiffer.joined(separator: ", "))
    }
    return lines.joined(separator: "\n")
  }
}
