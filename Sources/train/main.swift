import ArgumentParser
import Distributed
import Foundation
import Training

/// `train --config exp.json [--set key.path=value]... [--resume PATH|auto]`
struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train a policy or model from an experiment config.",
    discussion: """
      The config is built from the defaults, then --config, then each --set in order; a \
      summary (the keys that differ from the defaults) is printed, the resolved config saved \
      in the run directory <outputDir>/<name>__seed<k>__<timestamp>/. With no --config, the \
      built-in quickstart runs (GRPO + Knapsack-RL + HICRA on task allocation; \
      --print-config shows it). Ctrl-C saves a checkpoint and exits; --resume continues the run. Every config \
      key is documented in docs/config.md. Under mpirun -np K it trains data-parallel as K \
      ranks (docs/distributed.md).
      """)

  @Option(name: .long, help: ArgumentHelp("An experiment file (JSON).", valueName: "exp.json"))
  var config: String?

  @Option(
    name: .customLong("set"),
    help: ArgumentHelp(
      "Override one config key, e.g. --set optimizer.learningRate=0.003 (repeatable).",
      valueName: "key.path=value"))
  var overrides: [String] = []

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Continue a run: a checkpoint file, a run directory (its newest valid checkpoint) or "
        + "'auto' (the newest run of this experiment).", valueName: "PATH|auto"))
  var resume: String?

  @Option(
    name: .long,
    help: ArgumentHelp("The folder for run directories (run.outputDir).", valueName: "DIR"))
  var output: String?

  @Flag(name: .long, help: "Plain log lines instead of a progress bar.")
  var quiet = false

  @Flag(
    name: .customLong("print-config"), help: "Print the resolved config and exit without training.")
  var printConfig = false

  @Option(name: .customLong("stop-after"), help: .hidden)
  var stopAfter: Int?

  /// Test hook: `RANK:STEP` makes rank RANK's parameters diverge after step STEP.
  @Option(name: .customLong("diverge-at"), help: .hidden)
  var divergeAt: String?

  mutating func run() throws {
    var sets = overrides
    if let output { sets.append("run.outputDir=\(output)") }
    let resolved: ExperimentConfig
    do {
      // With no experiment file, the quickstart is the bottom layer.
      resolved =
        config == nil
        ? try ConfigLoader.resolve(
          file: nil, overrides: sets, defaults: .quickstart,
          defaultsSource: ExperimentConfig.quickstartSource)
        : try ConfigLoader.resolve(file: config, overrides: sets)
    } catch {
      fail("\(error)", code: 2)
    }
    if printConfig {
      let text = String(
        decoding: try JSONValue(encoding: resolved).data(pretty: true), as: UTF8.self)
      if world.isRoot { print(text) }
      world.finalize()
      return
    }
    var session = TrainingSession(config: resolved, command: CommandLine.arguments, quiet: quiet)
    session.stopAfter = stopAfter
    if let divergeAt {
      let parts = divergeAt.split(separator: ":").compactMap { Int($0) }
      guard parts.count == 2, parts[0] >= 0, parts[1] >= 1 else {
        fail("--diverge-at \(divergeAt): expected RANK:STEP (a rank ≥ 0, a step ≥ 1)", code: 2)
      }
      session.divergeAt = (parts[0], parts[1])
    }
    StopSignal.install()
    let outcome: SessionOutcome
    do {
      if let resume {
        outcome = try session.resume(ResumeTarget(resume), file: config, overrides: sets)
      } else {
        outcome = try session.start()
      }
    } catch {
      fail("\(error)", code: 1)
    }
    if case .finished = outcome, config == nil, resume == nil, world.isRoot {
      print(ExperimentConfig.quickstartNext)
    }
    world.finalize()
    if case .interrupted(_, _, let signal) = outcome {
      throw ExitCode(signal > 0 ? 128 + signal : 130)
    }
  }

  var world: Communicator { .world }

  /// Prints one readable paragraph to stderr and exits; under MPI, names the rank and stops
  /// every rank of the job (none is left waiting in a collective).
  func fail(_ message: String, code: Int32) -> Never {
    let rank = world.size > 1 ? " (rank \(world.rank) of \(world.size))" : ""
    FileHandle.standardError.write(Data("train: error\(rank): \(message)\n".utf8))
    if world.size > 1 { world.abort(code: code) }
    Foundation.exit(code)
  }
}

Train.main()
