import Checkpoint
import Foundation
import TensorCore

/// The version string written into checkpoints.
public let allotVersion = "0.1.0"

/// Saves and loads a trainer's `TrainingState` as checkpoint files in a run directory,
/// with the resolved config and a model fingerprint as root attributes.
enum CheckpointFiles {
  struct Loaded {
    var state: TrainingState
    var configJSON: String
    var fingerprint: String
    var step: Int
  }

  static func save(
    _ state: TrainingState, step: Int, config: ExperimentConfig, fingerprint: String,
    in directory: URL,
    keep: Int
  ) throws -> URL {
    var data = CheckpointData()
    data.tensors = state.tensors
    data.integers = state.integers
    data.doubles = state.doubles
    let configText = String(
      decoding: try JSONValue(encoding: config).data(pretty: true), as: UTF8.self)
    data.attributes = [
      "step": .integer(Int64(step)),
      "config": .string(configText),
      "model": .string(fingerprint),
      "kind": .string(config.kind.rawValue),
      "allotVersion": .string(allotVersion),
    ]
    return try RunCheckpoints(directory: directory).save(data, step: step, keep: keep)
  }

  static func load(_ url: URL) throws -> Loaded {
    try decode(CheckpointData.read(from: url), file: url.path)
  }

  static func decode(_ data: CheckpointData, file: String) throws -> Loaded {
    guard case .string(let config)? = data.attributes["config"],
      case .string(let fingerprint)? = data.attributes["model"],
      case .integer(let step)? = data.attributes["step"]
    else {
      throw CheckpointError(
        file: file,
        message: "lacks the root attributes config, model and step of an Allot training checkpoint")
    }
    var state = TrainingState()
    state.tensors = data.tensors
    state.integers = data.integers
    state.doubles = data.doubles
    return Loaded(state: state, configJSON: config, fingerprint: fingerprint, step: Int(step))
  }

  /// Finds the checkpoint a resume target names.
  static func locate(_ target: ResumeTarget, experiment: String, root: String) throws -> (
    checkpoint: URL, loaded: Loaded, warnings: [String]
  ) {
    let argument: String =
      switch target {
      case .auto: "auto"
      case .path(let p): p
      }
    let found = try RunCheckpoints.locate(argument, experiment: experiment, root: root)
    return (found.url, try decode(found.data, file: found.url.path), found.warnings)
  }
}

/// A trainer built from a checkpoint's saved config with its state restored, for
/// evaluation.
public func restoredTrainer(_ data: CheckpointData, file: String) throws -> any Trainer {
  let loaded = try CheckpointFiles.decode(data, file: file)
  let config = try ConfigLoader.decode(configJSON: loaded.configJSON, source: file)
  return try makeTrainer(config, restoring: loaded, file: file)
}

/// A trainer for `config` continuing from `loaded`, refusing a checkpoint of another model.
func makeTrainer(_ config: ExperimentConfig, restoring loaded: CheckpointFiles.Loaded, file: String)
  throws
  -> any Trainer
{
  let trainer = try makeTrainer(config, restoring: true)
  guard trainer.modelFingerprint == loaded.fingerprint else {
    throw StateMismatch(problems: [
      "\(file) holds model '\(loaded.fingerprint)'",
      "the config builds '\(trainer.modelFingerprint)'",
    ])
  }
  try trainer.restore(loaded.state)
  return trainer
}
