/// What the run is called, its seed and its length.
public struct RunConfig: Codable, Equatable, Sendable {
  /// The experiment's name: the first part of the run directory's name.
  public var name = "quickstart"
  /// The seed of every random stream in the run.
  public var seed = 0
  /// Optimizer steps to train for.
  public var steps = 1500
  /// The folder run directories are created in.
  public var outputDir = "Checkpoints"
  /// OpenBLAS threads.
  public var blasThreads = 1
}

/// When checkpoints are written and how many are kept.
public struct CheckpointConfig: Codable, Equatable, Sendable {
  /// Save every this many steps (and always at the end); 0 saves only at the end.
  public var every = 500
  /// Keep the newest this many checkpoints in the run directory.
  public var keep = 3
}

/// What is logged and how often.
public struct LoggingConfig: Codable, Equatable, Sendable {
  /// Write a metrics line every this many steps.
  public var every = 25
  /// Evaluate on the test split every this many steps (and at the end); 0: only at the end.
  public var evalEvery = 250
  /// Evaluate before the first step too (logged as step 0), so that the run's effect shows.
  public var evalAtStart = true
  /// Plain log lines instead of a progress bar, even on a terminal.
  public var quiet = false
  /// Also write every metrics line to a TensorBoard event file in the run directory.
  public var tensorboard = false
}

extension RunConfig {
  func validate(_ check: inout ConfigCheck) {
    check.require(
      !name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) }
        && !name.contains("__"),
      "run.name", JSONValue.quote(name),
      "use letters, digits, '-', '_' and '.', without '__' (it names directories)")
    check.require(seed >= 0, "run.seed", seed, "must be ≥ 0")
    check.bound(steps, "run.steps", 1...ConfigLimits.steps, ConfigLimits.runTime)
    check.require(!outputDir.isEmpty, "run.outputDir", "\"\"", "must name a folder")
    check.bound(blasThreads, "run.blasThreads", 1...1024, "threads of one process")
  }
}

extension CheckpointConfig {
  func validate(_ check: inout ConfigCheck) {
    check.require(every >= 0, "checkpoint.every", every, "must be ≥ 0 (0: only at the end)")
    check.bound(every, "checkpoint.every", 0...ConfigLimits.steps, "run.steps is bounded so")
    check.bound(keep, "checkpoint.keep", 1...1_000_000, "files in one run directory")
  }
}

extension LoggingConfig {
  func validate(_ check: inout ConfigCheck) {
    check.bound(every, "logging.every", 1...ConfigLimits.steps, "run.steps is bounded so")
    check.require(
      evalEvery >= 0, "logging.evalEvery", evalEvery, "must be ≥ 0 (0: only at the end)")
    check.bound(evalEvery, "logging.evalEvery", 0...ConfigLimits.steps, "run.steps is bounded so")
  }
}
