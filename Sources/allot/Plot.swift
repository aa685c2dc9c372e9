import ArgumentParser
import Checkpoint
import Foundation
import GRPO
import Reasoning
import TaskAllocation
import TensorCore
import Training

struct Plot: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Plot a metric against the step for one or more runs, as an SVG file.")

  @Argument(help: "Run directories, sweep folders (every run inside) or metrics.jsonl files.")
  var paths: [String]

  @Option(help: "The metric to plot.")
  var metric = "loss/train"

  @Option(name: .shortAndLong, help: "The SVG file to write.")
  var output: String

  @Option(help: "The chart title (default: the metric).")
  var title: String?

  func run() throws {
    var series: [SVGPlot.Series] = []
    do {
      for path in paths {
        let url = URL(fileURLWithPath: path)
        let files: [(String, URL)]
        if path.hasSuffix(".jsonl") {
          files = [(url.deletingLastPathComponent().lastPathComponent, url)]
        } else {
          files = try RunSummary.runs(in: url).map {
            ($0.directory.lastPathComponent, $0.directory.appendingPathComponent("metrics.jsonl"))
          }
        }
        for (label, file) in files {
          let points = try MetricsLog.read(file).compactMap { r in
            r.values[metric].map { (Double(r.step), $0) }
          }
          if points.isEmpty {
            FileHandle.standardError.write(Data("warning: \(file.path) has no \(metric)\n".utf8))
          }
          series.append(SVGPlot.Series(label: label, points: points))
        }
      }
    } catch {
      fail("\(error)")
    }
    guard series.contains(where: { !$0.points.isEmpty }) else {
      fail("no run had the metric \(metric)")
    }
    series = Self.shortLabels(series)
    let svg = SVGPlot(title: title ?? metric, yLabel: metric, series: series).render()
    do {
      try Data(svg.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
    } catch {
      fail("cannot write \(output): \(error.localizedDescription)")
    }
    print("wrote \(output) (\(series.count) runs)")
  }

  /// `name__seed3__20261124-203539` becomes `name s3`; the timestamp is kept only where
  /// two runs would otherwise share a label.
  static func shortLabels(_ series: [SVGPlot.Series]) -> [SVGPlot.Series] {
    func short(_ label: String) -> String {
      let parts = label.components(separatedBy: "__")
      guard parts.count == 3, parts[1].hasPrefix("seed") else { return label }
      return "\(parts[0]) s\(parts[1].dropFirst(4))"
    }
    let counts = Dictionary(grouping: series.map { short($0.label) }, by: { $0 }).mapValues(\.count)
    return series.map { s in
      var copy = s
      let label = short(s.label)
      copy.label =
        counts[label]! > 1 ? "\(label) \(s.label.components(separatedBy: "__").last ?? "")" : label
      return copy
    }
  }
}
