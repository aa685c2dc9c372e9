import Checkpoint
import Distributed
import Foundation
import Optim
import TensorCore

/// Where a resumed run continues from: a checkpoint file, a run directory (its newest
/// valid checkpoint) or `auto` (the newest run of the experiment under the output folder).
public enum ResumeTarget: Equatable, Sendable {
  case path(String)
  case auto

  public init(_ argument: String) {
    self = argument == "auto" ? .auto : .path(argument)
  }

  /// The argument that names it.
  var argument: String {
    switch self {
    case .auto: "auto"
    case .path(let p): p
    }
  }
}

/// How a session ended.
public enum SessionOutcome: Equatable, Sendable {
  /// Trained to `run.steps`.
  case finished(run: URL, step: Int)
  /// Stopped by a signal after saving a checkpoint.
  case interrupted(run: URL, step: Int, signal: Int32)
}

/// A step stopped by a non-finite loss, gradient or parameter: nothing of it was logged or
/// saved.
public struct NonFiniteStep: Error, CustomStringConvertible {
  public var step: Int
  /// A `NonFiniteError` or `NonFiniteLoss`.
  public var cause: any Error
  /// The newest checkpoint this process wrote or resumed from, if any.
  public var lastCheckpoint: URL?

  public var description: String {
    "step \(step): \(cause); nothing of step \(step) was logged or saved"
      + (lastCheckpoint.map { " (the newest checkpoint is \($0.path))" } ?? "")
  }
}

/// A step abandoned because its rewards could not be had (the external reward command
/// failed); the last finished step was saved first, so nothing is lost.
public struct AbandonedStep: Error, CustomStringConvertible {
  public var step: Int
  public var cause: any Error
  /// The checkpoint of step `step − 1` (on rank 0); nil when no step had finished.
  public var checkpoint: URL?
  public var run: URL

  public var description: String {
    guard step > 1 else {
      return "step 1: \(cause); no step had finished, so nothing was saved; fix the cause and "
        + "start the run again"
    }
    // Rank 0 saved it; the other ranks know no path.
    let saved = checkpoint.map { " in \($0.path)" } ?? ""
    return "step \(step): \(cause); the run stopped after saving step \(step - 1)\(saved); fix "
      + "the cause and continue with: train --resume \(run.path)"
  }
}

/// Runs a trainer from a config to the end: creates or reopens the run directory (holding
/// its lock for the whole run), logs metrics, shows progress, evaluates, checkpoints,
/// resumes exactly and stops cleanly on SIGINT/SIGTERM/SIGHUP. Under `mpirun` every rank
/// runs a session; rank 0 alone holds the lock and writes the run directory, logs and
/// progress (docs/distributed.md).
public struct TrainingSession {
  public var config: ExperimentConfig
  public var command: [String]
  public var quiet: Bool
  /// Stop (as if signalled) after this many steps in this process; for tests.
  public var stopAfter: Int?
  /// Test hook, inert unless set (`train --diverge-at RANK:STEP`): after step `step`, rank
  /// `rank` adds 1 to the first value of its first model tensor, so that its parameters
  /// differ from the other ranks' (the divergence check must stop the run).
  public var divergeAt: (rank: Int, step: Int)?

  public init(config: ExperimentConfig, command: [String], quiet: Bool = false) {
    self.config = config
    self.command = command
    self.quiet = quiet || config.logging.quiet
  }

  /// Keys that may differ between a run's saved config and a resume command: they change
  /// how long a run goes and what it writes, never what it computes.
  public static let resumableKeys: Set<String> = [
    "run.steps", "run.outputDir", "run.blasThreads", "checkpoint.every", "checkpoint.keep",
    "logging.every", "logging.evalEvery", "logging.quiet", "logging.tensorboard",
    "distributed.checkEvery", "notes",
  ]

  /// A new run.
  public func start() throws -> SessionOutcome {
    try RankAgreement.check(config)
    let trainer = try makeTrainer(config)  // before anything is written: it may refuse
    for note in trainer.startupNotes { announce(note) }
    var created: RunDirectory? = nil
    var metrics: MetricsLog? = nil
    var lock: RunLock? = nil
    defer { lock?.release() }
    if world.isRoot {
      let run = try RunDirectory.create(for: config, command: command, note: ranks)
      let checkpoints = RunCheckpoints(directory: run.url)
      lock = try checkpoints.lock()
      // Recorded now, so a checkpoint of another run placed here before the first save is
      // already foreign.
      try checkpoints.establishIdentity(model: trainer.modelFingerprint)
      let log = MetricsLog(jsonl: run.metricsURL, csv: run.metricsCSVURL)
      try log.start()
      if config.logging.tensorboard { try log.addTensorBoard(in: run.url, resumedAt: nil) }
      try trainer.attach(runDirectory: run.url, resumedAt: nil)
      (created, metrics) = (run, log)
    }
    let run = RunDirectory(url: URL(fileURLWithPath: fromRoot(created?.url.path ?? "")))
    announce(
      "start: \(config.kind.rawValue) on \(ranks) (distributed.shards \(config.distributed.shards))"
    )
    announce("run directory: \(run.url.path)")
    if !config.notes.isEmpty { announce("notes: \(config.notes)") }
    announce("config (the keys that differ from the defaults; all of them in config.json):")
    for line in try ConfigLoader.summary(config) { announce("  \(line)") }
    return try loop(trainer: trainer, run: run, metrics: metrics, resumedFrom: nil)
  }

  /// Continues a saved run with the config saved in its checkpoint. An experiment `file`
  /// and `overrides`, when given, are laid over that saved config; the result may differ
  /// from it only in `resumableKeys`. `auto` looks for the newest run of `config.run.name`
  /// under `config.run.outputDir`.
  public func resume(_ target: ResumeTarget, file: String?, overrides: [String]) throws
    -> SessionOutcome
  {
    // The trainer's own check: a checkpoint whose config or state does not build and restore
    // a trainer is passed over for the previous one, as a damaged file is.
    var accepted: (trainer: any Trainer, config: ExperimentConfig)?
    let accept = { (data: CheckpointData, file: String) throws in
      let loaded = try CheckpointFiles.decode(data, file: file)
      let saved = try ConfigLoader.decode(configJSON: loaded.configJSON, source: file)
      do {
        accepted = (try makeTrainer(saved, restoring: loaded, file: file), saved)
      } catch var mismatch as StateMismatch {
        mismatch.file = mismatch.file ?? file  // the warning names the file passed over
        throw mismatch
      }
    }
    // Rank 0 picks the checkpoint; every other rank reads that file (a shared file system).
    let picked =
      world.isRoot
      ? try Self.locate(
        target, experiment: config.run.name, root: config.run.outputDir, accept: accept) : nil
    let pickedPath = fromRoot(picked?.checkpoint.path ?? "")
    let found =
      try picked
      ?? Self.locate(
        .path(pickedPath), experiment: config.run.name, root: config.run.outputDir,
        accept: accept)
    for warning in found.warnings { announce("warning: \(warning)") }
    let run = RunDirectory(url: found.checkpoint.deletingLastPathComponent())
    let checkpoints = RunCheckpoints(directory: run.url)
    // Rank 0 alone holds the lock and tidies the directory; the other ranks only read.
    var lock: RunLock? = nil
    defer { lock?.release() }
    if world.isRoot {
      let located = checkpoints.all().map(\.step)
      let held = try checkpoints.lock()
      lock = held
      // The directory (of `auto`) is known only once located: a writer that saved or deleted
      // a checkpoint in between was another process, so this resume does not continue.
      guard checkpoints.all().map(\.step) == located else {
        throw CheckpointError(
          file: run.url.path,
          message: "its checkpoints changed while this resume was starting (another process "
            + "wrote them); check that nothing else trains this run, then resume again")
      }
      if let pid = held.tookOverFrom {
        announce("note: took over the lock of process \(pid), which is no longer running")
      }
      let removed = checkpoints.removeStaleTemporaries()
      if !removed.isEmpty {
        announce(
          "note: removed temporary files of stopped processes: \(removed.joined(separator: ", "))"
        )
      }
    }
    let saved = found.loaded
    let savedConfig = accepted!.config
    let resolved = try ConfigLoader.resolve(
      file: file, overrides: overrides, defaults: savedConfig,
      defaultsSource: "\(found.checkpoint.path) (the resumed run's config)")
    let refused = try ConfigLoader.differences(savedConfig, resolved).filter {
      !Self.resumableKeys.contains($0)
    }
    if !refused.isEmpty {
      throw ConfigError(
        source: found.checkpoint.path, path: refused.joined(separator: ", "),
        message: "differs from the run being resumed; a resumed run keeps its config except "
          + Self.resumableKeys.sorted().joined(separator: ", "))
    }
    try RankAgreement.check(resolved)
    let trainer =
      resolved == savedConfig
      ? accepted!.trainer : try makeTrainer(resolved, restoring: saved, file: found.checkpoint.path)
    for note in trainer.startupNotes { announce(note) }
    var metrics: MetricsLog? = nil
    if world.isRoot {
      try checkpoints.establishIdentity(model: trainer.modelFingerprint)
      try run.writeConfig(resolved)
      try run.appendCommand(command, note: ranks)
      let log = MetricsLog(jsonl: run.metricsURL, csv: run.metricsCSVURL)
      try log.resume(atStep: trainer.step)
      if let note = log.note { announce("note: \(note)") }
      if resolved.logging.tensorboard {
        try log.addTensorBoard(in: run.url, resumedAt: trainer.step)
      }
      try trainer.attach(runDirectory: run.url, resumedAt: trainer.step)
      metrics = log
    }
    announce(
      "start: \(resolved.kind.rawValue) on \(ranks) (distributed.shards \(resolved.distributed.shards))"
    )
    announce(
      "resuming \(run.url.path) at step \(trainer.step) from \(found.checkpoint.lastPathComponent)")
    var session = self
    session.config = resolved
    return try session.loop(
      trainer: trainer, run: run, metrics: metrics, resumedFrom: found.checkpoint)
  }

  private func loop(
    trainer: any Trainer, run: RunDirectory, metrics: MetricsLog?, resumedFrom: URL?
  ) throws -> SessionOutcome {
    BLAS.setThreads(config.run.blasThreads)
    let total = config.run.steps
    let progress = ProgressReporter(
      totalSteps: total, startStep: trainer.step, quiet: quiet, keys: trainer.progressKeys)
    let startStep = trainer.step
    let loopStarted = DispatchTime.now().uptimeNanoseconds
    if startStep == 0 && config.logging.evalAtStart {
      // The starting point; evaluations draw from streams of their own, never the training's.
      let before = trainer.evaluate()
      try metrics?.append(MetricsRecord(step: 0, values: before))
      progress.remember(step: 0, metrics: before)
      if world.isRoot { progress.note("step 0 (before training): \(Self.evalText(before))") }
    }
    var lastCheckpoint = resumedFrom
    var savedStep = resumedFrom == nil ? nil : startStep
    let save = { (step: Int) throws -> URL in
      savedStep = step
      guard world.isRoot else { return run.url }
      let url = try CheckpointFiles.save(
        trainer.state(), step: step, config: config, fingerprint: trainer.modelFingerprint,
        in: run.url, keep: config.checkpoint.keep)
      lastCheckpoint = url
      return url
    }
    while trainer.step < total {
      if StopSignal.requested && trainer.step == startStep {
        // Signalled while starting: nothing changed since the start or the checkpoint.
        progress.note("stopped before step \(startStep + 1); nothing new to save")
        if startStep > 0 { progress.note("continue with: train --resume \(run.url.path)") }
        return .interrupted(run: run.url, step: startStep, signal: StopSignal.signalNumber)
      }
      let started = DispatchTime.now().uptimeNanoseconds
      var values: [String: Double]
      do {
        values = try trainer.trainStep()
      } catch let error where error is NonFiniteError || error is NonFiniteLoss {
        throw NonFiniteStep(step: trainer.step + 1, cause: error, lastCheckpoint: lastCheckpoint)
      } catch let error as ExternalRewardError {
        // The trainer left the step undone: its state is the last finished step's.
        let step = trainer.step
        if step > 0 && savedStep != step { _ = try save(step) }
        throw AbandonedStep(
          step: step + 1, cause: error, checkpoint: step > 0 ? lastCheckpoint : nil, run: run.url)
      }
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
      values["perf/stepSeconds"] = seconds
      let step = trainer.step
      if let divergeAt, divergeAt == (world.rank, step) { try perturb(trainer) }
      let evalEvery = config.logging.evalEvery
      let evaluated = step == total || (evalEvery > 0 && step % evalEvery == 0)
      if evaluated { values.merge(trainer.evaluate()) { $1 } }
      // An evaluated step is always logged, on the logging.every grid or not.
      let logged = step % config.logging.every == 0 || step == total || evaluated
      if logged { try metrics?.append(MetricsRecord(step: step, values: values)) }
      if world.isRoot { progress.update(step: step, metrics: values, logged: logged) }
      let checkEvery = config.distributed.checkEvery
      if checkEvery > 0 && (step % checkEvery == 0 || step == total) {
        try RankAgreement.checkSameState(trainer.state(), step: step)
      }
      let every = config.checkpoint.every
      if step == total || (every > 0 && step % every == 0) {
        let url = try save(step)
        if step != total && world.isRoot { progress.note("checkpoint: \(url.lastPathComponent)") }
      }
      let stopHere = StopSignal.requested || stopAfter.map { step - startStep >= $0 } == true
      // Every rank stops at the same step when any was asked to.
      let stopRequested = world.size > 1 ? world.sum([stopHere ? 1 : 0])[0] > 0 : stopHere
      if stopRequested && step < total {
        let url = try save(step)
        if world.isRoot {
          progress.note("stopped at step \(step); saved \(url.path)")
          progress.note("continue with: train --resume \(run.url.path)")
        }
        return .interrupted(run: run.url, step: step, signal: StopSignal.signalNumber)
      }
    }
    if let metrics {
      let last = metrics.all.last?.values ?? [:]
      progress.note("done: step \(trainer.step)  \(Self.evalText(last))")
      if let before = metrics.all.first(where: { $0.step == 0 })?.values {
        progress.note(
          "before → after (step 0 → \(trainer.step)): \(Self.evalText(before, then: last))")
      }
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - loopStarted) / 1e9
      progress.note(
        RunReport(config: config, records: metrics.all, startStep: startStep, seconds: seconds)
          .text)
      progress.note("run directory: \(run.url.path)")
    }
    return .finished(run: run.url, step: trainer.step)
  }

  /// The `eval/…` values of `values` (`eval/return 10.2000  …`), or with `then` each as
  /// `before → after` for the keys both hold.
  static func evalText(_ values: [String: Double], then after: [String: Double]? = nil) -> String {
    let keys = values.keys.filter { $0.hasPrefix("eval/") && (after?[$0] != nil || after == nil) }
    let number = { (x: Double) in String(format: "%.4f", x) }
    return keys.sorted().map { key in
      "\(key) \(number(values[key]!))" + (after.map { " → \(number($0[key]!))" } ?? "")
    }.joined(separator: "  ")
  }

  /// Finds the checkpoint a resume target names: the newest that reads, verifies, belongs
  /// to its run and that `accept` (given the data and the file's path) takes.
  private static func locate(
    _ target: ResumeTarget, experiment: String, root: String,
    accept: (CheckpointData, String) throws -> Void
  ) throws -> (checkpoint: URL, loaded: CheckpointFiles.Loaded, warnings: [String]) {
    let argument = target.argument
    let found = try RunCheckpoints.locate(argument, experiment: experiment, root: root) {
      try accept($0, $0.source ?? argument)
    }
    return (found.url, try CheckpointFiles.decode(found.data, file: found.url.path), found.warnings)
  }

  /// The `divergeAt` test hook: 1 added to the first value of the first model tensor (a
  /// change no later update can undo, as a flipped low bit of a zero bias could be).
  private func perturb(_ trainer: any Trainer) throws {
    var state = trainer.state()
    guard let i = state.tensors.firstIndex(where: { $0.0.hasPrefix("model/") }) else { return }
    var values = state.tensors[i].1.scalars
    values[0] += 1
    state.tensors[i].1 = Tensor(values, shape: state.tensors[i].1.shape)
    try trainer.restore(state)
  }

  /// The job this session is one rank of.
  private var world: Communicator { .world }

  /// The rank count as the start line and command.txt record it.
  private var ranks: String { world.size == 1 ? "1 rank" : "\(world.size) ranks" }

  /// Rank 0's `text`, on every rank.
  private func fromRoot(_ text: String) -> String {
    String(decoding: world.broadcast(Array(text.utf8)), as: UTF8.self)
  }

  private func announce(_ text: String) {
    guard world.isRoot else { return }
    print(text)
    fflush(nil)
  }
}
