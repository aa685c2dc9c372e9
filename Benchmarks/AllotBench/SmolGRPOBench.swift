import Foundation
import TensorCore
import Training

/// One GRPO step of SmolLM2-135M-Instruct as Experiments/smol-grpo-add.json sets it (4
/// prompts × 8 rollouts of up to 48 tokens at temperature 0.7, β = 0, AdamW at 5e-6): the
/// real `PretrainedGRPOTrainer.trainStep`, against the same step in a plain-PyTorch twin
/// (Benchmarks/reference/smol_grpo.py) and TRL's `GRPOTrainer`
/// (Benchmarks/reference/smol_trl.py), both on the trainer's own prompt ids. The machine
/// is shared, so each round times one Allot step, then one twin run and one TRL run (each
/// its own start-up and warm-up step, untimed, then one timed step), and ratios are taken
/// per round. `SMOL_ROUNDS` sets the number of rounds (3). With `SMOL_COMPARE_SHARED=1`
/// each round first times one Allot step without shared-prompt scoring
/// (`grpo.sharedPromptScoring` false: every rollout scored whole, as before it existed), so
/// that before and after are seconds apart too; `SMOL_REFERENCES=0` leaves out the twin and
/// TRL. Every rollout is scored (`grpo.skipZeroAdvantage` false), as the twin and TRL do.
func benchmarkSmolGRPOStep() {
  let file = "Experiments/smol-grpo-add.json"
  let config: ExperimentConfig
  let trainer: PretrainedGRPOTrainer
  do {
    // Every rollout scored, as the twin and TRL do (the config skips zero-advantage groups).
    config = try ConfigLoader.resolve(file: file, overrides: ["grpo.skipZeroAdvantage=false"])
    trainer = try PretrainedGRPOTrainer(config: config, pretrained: nil)
  } catch {
    print("  smol-grpo-step skipped: \(error)")
    return
  }
  let rounds = ProcessInfo.processInfo.environment["SMOL_ROUNDS"].flatMap { Int($0) } ?? 3
  let prompts = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-smol-prompts-\(getpid()).json")
  let rows: [[String: Any]] = zip(trainer.task.contexts, trainer.task.prompts).map {
    ["ids": $0.0, "answer": $0.1.answer]
  }
  do {
    try JSONSerialization.data(withJSONObject: rows).write(to: prompts)
  } catch {
    print("  smol-grpo-step skipped: cannot write \(prompts.path): \(error)")
    return
  }
  defer { try? FileManager.default.removeItem(at: prompts) }
  let g = config.grpo
  let shape = [
    "--prompts", prompts.path, "--prompts-per-step", "\(g.promptsPerStep)", "--group",
    "\(g.groupSize)", "--max-new", "\(g.maxCompletionLength)", "--temperature",
    "\(g.temperature)", "--lr", "\(config.optimizer.learningRate)",
  ]

  /// One step's seconds (sampling, update) and mean completion length.
  typealias Step = (sample: Double, update: Double, length: Double)
  let compareShared = ProcessInfo.processInfo.environment["SMOL_COMPARE_SHARED"] == "1"
  let shared = trainer.policy.sharedPromptScoring
  func allotStep(shared on: Bool = shared) -> Step? {
    trainer.policy.sharedPromptScoring = on
    defer { trainer.policy.sharedPromptScoring = shared }
    do {
      let m = try trainer.trainStep()
      return (
        m["perf/sampleSeconds"] ?? 0, m["perf/trainSeconds"] ?? 0, m["completion/meanLength"] ?? 0
      )
    } catch {
      print("  Allot step failed: \(error)")
      return nil
    }
  }
  func pythonStep(_ script: String) -> Step? {
    guard let v = pytorchReferenceValues(script, arguments: shape + ["--steps", "1"]),
      let sample = v["sample_seconds"], let update = v["update_seconds"]
    else { return nil }
    return (sample, update, v["mean_length"] ?? 0)
  }
  func describe(_ name: String, _ s: Step) -> String {
    String(
      format: "%@ %6.1f s (sampling %5.1f + update %5.1f, %4.1f tokens/row)", name,
      s.sample + s.update, s.sample, s.update, s.length)
  }

  print(
    "GRPO step of SmolLM2-135M-Instruct (\(file)): \(g.promptsPerStep) prompts × "
      + "\(g.groupSize) rollouts of up to \(g.maxCompletionLength) tokens, one thread")
  guard let warm = allotStep() else { return }
  print("  warm-up: " + describe("Allot", warm))
  fflush(nil)
  var twinRatios: [Double] = []
  var trlRatios: [Double] = []
  var wholeRatios: [Double] = []
  for round in stride(from: 1, through: rounds, by: 1) {
    var line = String(format: "  round %d (load %.1f): ", round, loadAverage())
    var whole: Step? = nil
    if compareShared {
      guard let w = allotStep(shared: false) else { return }
      whole = w
      line += describe("Allot, whole-sequence scoring", w) + "\n    "
    }
    guard let allot = allotStep() else { return }
    line += describe(shared ? "Allot, shared-prompt scoring" : "Allot", allot)
    let total = allot.sample + allot.update
    if let whole {
      wholeRatios.append((whole.sample + whole.update) / total)
      line += String(
        format: "   whole/shared = %.2f× (update %.2f×)", wholeRatios.last!,
        whole.update / allot.update)
    }
    let references = ProcessInfo.processInfo.environment["SMOL_REFERENCES"] != "0"
    for (name, script) in [("twin", "smol_grpo.py"), ("TRL", "smol_trl.py")] where references {
      guard let other = pythonStep(script) else { continue }
      let ratio = (other.sample + other.update) / total
      if name == "twin" { twinRatios.append(ratio) } else { trlRatios.append(ratio) }
      line += "\n    " + describe(name, other) + String(format: "   %@/Allot = %.2f×", name, ratio)
    }
    print(line)
    fflush(nil)  // each round as it ends: a run takes many minutes
  }
  for (name, ratios) in [("whole", wholeRatios), ("twin", twinRatios), ("TRL", trlRatios)]
  where !ratios.isEmpty {
    let sorted = ratios.sorted()
    print(
      String(
        format: "  %@/Allot per step: median %.2f× (rounds %.2f–%.2f×)", name,
        sorted[sorted.count / 2], sorted.first!, sorted.last!))
  }
}

/// The one-minute load average.
func loadAverage() -> Double {
  var load = [0.0, 0.0, 0.0]
  return getloadavg(&load, 3) > 0 ? load[0] : -1
}
