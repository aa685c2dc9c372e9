import ArgumentParser
import Checkpoint
import Foundation
import GRPO
import Reasoning
import TaskAllocation
import TensorCore
import Training

struct Inspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Show a checkpoint: step, model, parameter names and shapes, and the run's metrics so far.")

  @Argument(help: "A checkpoint file or a run directory.")
  var path: String

  @Flag(help: "Also print the resolved config saved in the checkpoint.")
  var config = false

  func run() throws {
    let (url, data) = openCheckpoint(path)
    print("checkpoint: \(url.path)")
    for key in ["step", "kind", "createdAt", "allotVersion", "formatVersion"] {
      if let value = data.attributes[key] { print("\(key): \(value)") }
    }
    let model = data.tensors.filter { $0.0.hasPrefix("model/") }
    let count = model.reduce(0) { $0 + $1.1.count }
    print("parameters: \(count) in \(model.count) tensors")
    let width = model.map(\.0.count).max() ?? 0
    for (name, tensor) in model {
      print(
        "  \(name.dropFirst(6))\(String(repeating: " ", count: width - name.count + 2)) \(tensor.shape)"
      )
    }
    let others = data.tensors.count - model.count
    print("other tensors: \(others) (optimizer moments, trainer state)")
    for (name, values) in data.integers.sorted(by: { $0.key < $1.key }) {
      print("  \(name) = \(values)")
    }
    let metrics =
      (try? MetricsLog.read(url.deletingLastPathComponent().appendingPathComponent("metrics.jsonl")))
      ?? []
    if let last = metrics.last {
      print("metrics: \(metrics.count) lines, last at step \(last.step):")
      for key in last.values.keys.sorted() { print("  \(key) = \(last.values[key]!)") }
    }
    if config, case .string(let text)? = data.attributes["config"] { print("config:\n\(text)") }
  }
}
