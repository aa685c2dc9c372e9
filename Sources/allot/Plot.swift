import ArgumentParser
import Foundation
import Training

struct Plot: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Plot a metric against the step, one colour per variant, as an SVG file.",
    discussion: """
      Runs are grouped into variants as `allot summarize` groups them (by experiment and by \
      the config keys that vary within one): each variant is drawn as the mean over its \
      seeds with a band of ± one standard deviation, and its seeds as thin lines.
      """)

  @Argument(help: "Run directories, sweep folders (every run inside) or metrics.jsonl files.")
  var paths: [String]

  @Option(help: "The metric to plot.")
  var metric = "loss/train"

  @Option(name: .shortAndLong, help: "The SVG file to write.")
  var output: String

  @Option(help: "The chart title (default: the metric).")
  var title: String?

  func run() throws {
    var variants: [SVGPlot.Variant] = []
    var logged = Set<String>()
    var runCount = 0
    do {
      var runs: [RunSummary] = []
      for path in paths {
        let url = URL(fileURLWithPath: path)
        if path.hasSuffix(".jsonl") {
          // A bare log has no config: it is a variant of its own, named by its folder.
          let records = try MetricsLog.read(url)
          logged.formUnion(records.flatMap(\.values.keys))
          variants.append(
            SVGPlot.Variant(
              label: url.deletingLastPathComponent().lastPathComponent,
              runs: [points(records)]))
          runCount += 1
        } else {
          runs += try RunSummary.runs(in: url)
        }
      }
      logged.formUnion(RunSummary.metricNames(runs))
      runCount += runs.count
      variants += try RunGroups(runs).groups.map { group in
        SVGPlot.Variant(label: group.label, runs: group.runs.map { points($0.metrics) })
      }
    } catch {
      fail("\(error)")
    }
    guard logged.contains(metric) else {
      fail(
        "no run had the metric \(metric); "
          + (logged.isEmpty
            ? "their metrics.jsonl files are empty"
            : "the runs log: " + logged.sorted().joined(separator: ", ")))
    }
    for variant in variants where variant.runs.isEmpty {
      status("warning: \(variant.label) has no finite \(metric)")
    }
    variants = variants.filter { !$0.runs.isEmpty }
    guard !variants.isEmpty else { fail("no run logged a finite value of \(metric)") }
    let svg = SVGPlot(title: title ?? metric, yLabel: metric, variants: variants).render()
    do {
      try Data(svg.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
    } catch {
      fail("cannot write \(output): \(error.localizedDescription)")
    }
    print("wrote \(output) (\(plural(variants.count, "variant")) of \(plural(runCount, "run")))")
  }

  /// The (step, value) points of the metric in `records`.
  func points(_ records: [MetricsRecord]) -> [(x: Double, y: Double)] {
    records.compactMap { r in r.values[metric].map { (Double(r.step), $0) } }
  }
}
