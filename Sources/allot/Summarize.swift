import ArgumentParser
import Foundation
import Training

struct Summarize: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Summarise a sweep: per kind of run, one row per experiment and setting, mean ± std over seeds.",
    discussion: """
      Runs are grouped by kind (classifier, sft, grpo, taskAllocation/grpo, \
      taskAllocation/sac), then by experiment (run.name) and by the config keys that vary \
      within an experiment. Without --metric each kind gets a table of its headline metrics \
      (docs/reports.md), and the other metrics its runs logged are listed; a kind whose runs \
      logged none of them is an error (after the other kinds' tables).
      """)

  @Argument(help: "A folder of run directories (a sweep), or one run directory.")
  var folder: String

  @Option(
    help:
      "A metric to score runs by; repeat for several tables (default: the headline metrics of the runs' kind)."
  )
  var metric: [String] = []

  @Option(
    help:
      "Score each run by the metric's last logged value (last) or its mean over the run (mean); default: last for --metric, each headline metric's own."
  )
  var aggregate: String?

  @Flag(
    help:
      "Lower is better for every --metric (without it losses, gaps and times rank lowest first, and budgets, lengths and HICRA shares are not ranked)."
  )
  var minimize = false

  func run() throws {
    do {
      let runs = try RunSummary.runs(in: URL(fileURLWithPath: folder))
      guard !runs.isEmpty else {
        fail("\(folder) holds no run directories (folders with a config.json)")
      }
      let how = aggregate.map { text in
        guard let how = SweepTable.Aggregate(rawValue: text) else {
          fail("--aggregate must be last or mean, not \(text)")
        }
        return how
      }
      let logged = RunSummary.metricNames(runs)
      if let absent = metric.first(where: { !logged.contains($0) }) {
        fail(
          "no run in \(folder) logged the metric \(absent); the runs log: "
            + logged.joined(separator: ", "))
      }
      // Named metrics: one table over every run, whatever its kind; otherwise one per kind.
      var parts: [(kind: String?, runs: [RunSummary], metrics: [HeadlineMetric])] = []
      if metric.isEmpty {
        var kinds: [String: [RunSummary]] = [:]
        for run in runs { kinds[run.config.kindLabel, default: []].append(run) }
        parts = kinds.keys.sorted().map { kind in
          let headlines = kinds[kind]![0].config.headlineMetrics.map { headline in
            var h = headline
            h.aggregate = how ?? h.aggregate
            return h
          }
          return (kind, kinds[kind]!, headlines)
        }
      } else {
        parts = [
          (nil, runs, metric.map { HeadlineMetric(named: $0, how ?? .last, minimize: minimize) })
        ]
      }
      var sections: [String] = []
      var empty: [String] = []
      for part in parts {
        do {
          sections.append(try section(part.kind, part.runs, part.metrics))
        } catch let error as SummarizeError {
          empty.append(error.message)
        }
      }
      if !sections.isEmpty { print(sections.joined(separator: "\n\n")) }
      if !empty.isEmpty { fail(empty.joined(separator: "\n")) }
    } catch {
      fail("\(error)")
    }
  }

  /// The table of `chosen` over `runs` (of one `kind`, or of any), and the metrics the
  /// runs logged beyond them.
  func section(_ kind: String?, _ runs: [RunSummary], _ chosen: [HeadlineMetric]) throws
    -> String
  {
    let logged = RunSummary.metricNames(runs)
    let experiments = Set(runs.map(\.config.run.name)).count
    var lines = [
      "## " + (kind.map { "\($0): " } ?? "")
        + "\(plural(runs.count, "run")) of \(plural(experiments, "experiment")) (mean ± std over seeds)",
      "",
    ]
    var columns: [(table: SweepTable, minimize: Bool?)] = []
    var absent: [String] = []
    for m in chosen {
      let table = try SweepTable(runs: runs, metric: m.name, aggregate: m.aggregate)
      if table.rows.isEmpty {
        absent.append(m.name)
      } else {
        columns.append((table, m.ranked ? m.minimize : nil))
      }
    }
    lines.append(SweepTable.markdown(columns))
    if !absent.isEmpty {
      lines.append("\nnot logged (or not finite) by these runs: " + absent.joined(separator: ", "))
    }
    guard !columns.isEmpty else {
      throw SummarizeError(
        message: "the \(kind.map { "\($0) " } ?? "")runs in \(folder) logged none of "
          + chosen.map(\.name).joined(separator: ", ") + "; "
          + (logged.isEmpty
            ? "their metrics.jsonl files are empty (have they run a step?)"
            : "they log: " + logged.joined(separator: ", ")))
    }
    let others = logged.filter { name in !chosen.contains { $0.name == name } }
    if !others.isEmpty {
      lines.append("\nother metrics (--metric NAME): " + others.joined(separator: ", "))
    }
    return lines.joined(separator: "\n")
  }
}

/// A summary that would have no table.
struct SummarizeError: Error, CustomStringConvertible {
  var message: String
  var description: String { message }
}
