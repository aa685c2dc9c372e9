import ArgumentParser
import Checkpoint
import Foundation
import GRPO
import Reasoning
import TaskAllocation
import TensorCore
import Training

struct Summarize: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Summarise a sweep: one row per setting, mean ± std over seeds, best marked.")

  @Argument(help: "A folder of run directories (a sweep).")
  var folder: String

  @Option(help: "The metric to score runs by (its last logged value).")
  var metric = "eval/accuracy"

  @Option(
    help: "Score each run by the metric's last logged value (last) or its mean over the run (mean)."
  )
  var aggregate = "last"

  @Flag(help: "Lower is better (for losses).")
  var minimize = false

  func run() throws {
    do {
      let runs = try RunSummary.runs(in: URL(fileURLWithPath: folder))
      guard !runs.isEmpty else {
        fail("\(folder) holds no run directories (folders with a config.json)")
      }
      guard let how = SweepTable.Aggregate(rawValue: aggregate) else {
        fail("--aggregate must be last or mean, not \(aggregate)")
      }
      let table = try SweepTable(runs: runs, metric: metric, aggregate: how)
      print(table.markdown(minimize: minimize))
      if let best = table.best(minimize: minimize) {
        print(
          "\nbest: "
            + (best.setting.isEmpty
              ? "(single setting)" : best.setting.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
            + String(
              format: "  %@ %.4f ± %.4f over %d runs", metric, best.mean, best.std,
              best.values.count))
      }
    } catch {
      fail("\(error)")
    }
  }
}
