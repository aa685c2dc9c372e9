import ArgumentParser
import Checkpoint
import Foundation
import GRPO
import Reasoning
import TaskAllocation
import TensorCore
import Training

struct Evaluate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Evaluate a checkpoint on its task's test split and print the eval metrics.",
    discussion: """
      For language-model policies (Allot's transformer, pretrained models): greedy pass@1, \
      and mean@k and pass@k from --samples k \
      sampled completions per prompt, overall and per difficulty; --completions writes every \
      completion to a JSONL file for reading.
      """)

  @Argument(help: "A checkpoint file or a run directory.")
  var path: String

  @Option(help: "The split to evaluate (train or test).")
  var split = "test"

  @Option(help: "Prompts to evaluate (0: the whole split).")
  var prompts = 0

  @Option(help: "Sampled completions per prompt for mean@k and pass@k (0: greedy only).")
  var samples = 4

  @Option(help: "Sampling temperature.")
  var temperature: Float = 1

  @Option(help: "The seed of the sampling.")
  var seed: UInt64 = 0

  @Option(help: "The longest completion (default: the checkpoint's evaluation.maxNewTokens).")
  var maxNewTokens: Int?

  @Option(help: ArgumentHelp("Write every completion to this JSONL file.", valueName: "file"))
  var completions: String?

  @Option(
    help: ArgumentHelp(
      "Evaluate on the task of this experiment file instead of the checkpoint's own.",
      valueName: "exp.json"))
  var task: String?

  func run() throws {
    status("loading \(path)…")
    let (url, data) = openCheckpoint(path)
    do {
      let trainer = try restoredTrainer(data, file: url.path)
      print("checkpoint: \(url.path) (step \(trainer.step))")
      guard let policy = trainer as? any ReasoningPolicyTrainer else {
        status("evaluating (as the run's evaluations do)…")
        for (key, value) in trainer.evaluate().sorted(by: { $0.key < $1.key }) {
          print("\(key) \(value)")
        }
        return
      }
      guard let chosen = Reasoning.Split(rawValue: split) else {
        fail("--split must be train or test, not \(split)")
      }
      let evaluatedTask =
        try task.map { try ConfigLoader.resolve(file: $0).task.makeTask() } ?? policy.reasoningTask
      var items = evaluatedTask.prompts(chosen)
      if prompts > 0 { items = Array(items.prefix(prompts)) }
      var rng = RandomState(seed: seed)
      status("evaluating \(items.count) prompts (greedy, then \(samples) samples each)…")
      let report = try policy.evaluationReport(
        task: evaluatedTask, prompts: items, samples: samples, temperature: temperature,
        maxNewTokens: maxNewTokens ?? policy.evaluationMaxNewTokens, rng: &rng)
      print(report.table)
      if let completions { try writeCompletions(report.samples, to: completions) }
    } catch {
      fail("\(error)")
    }
  }
}

/// Writes evaluated completions as JSON lines (`id`, `prompt`, `completion`, `reward`,
/// `greedy`), which `allot mine` reads.
func writeCompletions(_ samples: [EvaluationReport.Sample], to path: String) throws {
  var lines = ""
  for s in samples {
    let object: JSONValue = .object([
      "id": .string(s.promptID), "prompt": .string(s.prompt), "completion": .string(s.completion),
      "reward": .number(s.reward), "greedy": .bool(s.greedy),
    ])
    lines += String(decoding: try object.data(), as: UTF8.self) + "\n"
  }
  try Data(lines.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
  print("wrote \(samples.count) completions to \(path)")
}
