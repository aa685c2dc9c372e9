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
    for (name, text) in state.strings {
      precondition(data.attributes[name] == nil, "TrainingState.strings: '\(name)' is reserved")
      data.attributes[name] = .string(text)
    }
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
    for name in TrainingState.stringNames {
      if case .string(let text)? = data.attributes[name] { state.strings[name] = text }
    }
    return Loaded(state: state, configJSON: config, fingerprint: fingerprint, step: Int(step))
  }
}
