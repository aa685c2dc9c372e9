import Checkpoint
import Foundation

/// The trainer a config's `kind` names. `restoring`: a checkpoint's state is restored next, so
/// what it carries is not loaded (a GRPO run's `grpo.initFrom` warm start).
public func makeTrainer(_ config: ExperimentConfig, restoring: Bool = false) throws -> any Trainer {
  switch config.kind {
  case .classifier: try ClassifierTrainer(config: config)
  case .sft: try SFTTrainer(config: config)
  case .grpo where config.model.kind == .pretrained:
    try PretrainedGRPOTrainer(config: config, pretrained: nil)
  case .grpo: try TransformerGRPOTrainer(config: config, loadingInitFrom: !restoring)
  case .taskAllocation:
    switch config.taskAllocation.method {
    case .grpo: try AllocationGRPOTrainer(config: config)
    case .sac: try AllocationSACTrainer(config: config)
    }
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
  // A pretrained run's model comes from the checkpoint itself, not from its files.
  let trainer =
    config.kind == .grpo && config.model.kind == .pretrained
    ? try PretrainedGRPOTrainer(
      config: config, pretrained: savedPretrainedModel(loaded.state, file: file))
    : try makeTrainer(config, restoring: true)
  guard trainer.modelFingerprint == loaded.fingerprint else {
    throw StateMismatch(problems: [
      "\(file) holds model '\(loaded.fingerprint)'",
      "the config builds '\(trainer.modelFingerprint)'",
    ])
  }
  try trainer.restore(loaded.state)
  return trainer
}
