import Foundation
import GRPO
import Optim

/// A whole experiment: which trainer runs, on what, for how long, and how it saves and
/// logs. Built from the defaults below, then an experiment file, then `--set` overrides;
/// the resolved config is printed at start and saved in the run directory and every
/// checkpoint. Every key is documented in docs/config.md.
public struct ExperimentConfig: Codable, Equatable, Sendable {
  /// The config format this build reads.
  public static let currentSchemaVersion = 1

  /// The config format version; a file with another version is refused.
  public var schemaVersion = ExperimentConfig.currentSchemaVersion
  /// Which trainer runs.
  public var kind = TrainerKind.classifier
  /// What this experiment shows; free text kept with the run.
  public var notes = ""
  public var run = RunConfig()
  public var model = ModelConfig()
  public var task = TaskConfig()
  public var sft = SFTConfig()
  public var grpo = GRPOConfig()
  public var knapsack = KnapsackConfig()
  public var hicra = HICRAConfig()
  public var dynamicSampling = DynamicSamplingConfig()
  public var evaluation = EvaluationConfig()
  public var rewards = RewardsConfig()
  public var classifier = ClassifierConfig()
  public var taskAllocation = TaskAllocationConfig()
  public var optimizer = OptimizerConfig()
  public var checkpoint = CheckpointConfig()
  public var logging = LoggingConfig()
  public var distributed = DistributedConfig()

  public init() {}
}

/// The trainers Allot has.
public enum TrainerKind: String, ConfigChoice {
  /// Supervised classification with an MLP on a built-in synthetic data set.
  case classifier
  /// Supervised warm start of the transformer policy on a task's worked solutions.
  case sft
  /// Group Relative Policy Optimization of the transformer policy on a task's rewards.
  case grpo
  /// The two-stage task-allocation policy on a scenario, by GRPO or soft actor-critic.
  case taskAllocation
}

extension ExperimentConfig {
  /// Whether GRPO trains this experiment's policy (the transformer's or the two-stage's).
  var usesGRPO: Bool {
    kind == .grpo || (kind == .taskAllocation && taskAllocation.method == .grpo)
  }

  /// The rollouts of one GRPO draw: `knapsack.totalBudget` when it is set, else M·N.
  var rolloutsPerStep: Int {
    knapsack.enabled && knapsack.totalBudget > 0 ? knapsack.totalBudget : grpo.rolloutsPerStep
  }

  /// Checks ranges and combinations that types alone do not; each section checks its own
  /// keys, and only the sections the trainer reads are checked. A problem names the layer
  /// that set its key: `origins` (key path → file or `--set` argument), else `source`.
  public func validate(source: String, origins: [String: String] = [:]) throws {
    var check = ConfigCheck(source: source, origins: origins)
    check.require(
      schemaVersion == Self.currentSchemaVersion, "schemaVersion", schemaVersion,
      "this build reads version \(Self.currentSchemaVersion)")
    run.validate(&check)
    if kind == .classifier { classifier.validate(&check) }
    if kind == .sft || kind == .grpo {
      model.validate(&check)
      task.validate(&check)
      sft.validate(&check)
    }
    if kind == .taskAllocation { taskAllocation.validate(&check) }
    if usesGRPO && hicra.enabled {
      hicra.validate(&check, phrasesRequired: kind != .taskAllocation)
    }
    if usesGRPO && knapsack.enabled {
      knapsack.validate(&check, groupSize: grpo.groupSize, prompts: grpo.promptsPerStep)
    }
    if usesGRPO && dynamicSampling.enabled { dynamicSampling.validate(&check) }
    if usesGRPO { grpo.validate(&check) }
    if usesGRPO && knapsack.enabled && grpo.advantageEstimator == .passAtK {
      check.require(
        grpo.passK <= knapsack.low, "grpo.passK", grpo.passK,
        "must be ≤ knapsack.low (\(knapsack.low)), the smallest group Knapsack-RL forms")
    }
    if kind == .sft {
      check.require(
        model.kind == .transformer, "model.kind", model.kind.rawValue,
        "kind \"sft\" trains Allot's transformer; pretrained models train with kind \"grpo\"")
    }
    if kind == .grpo {
      // A pretrained model's context is its file's: checked against the prompts when built.
      grpo.validateSampling(&check, context: model.kind == .pretrained ? Int.max : model.context)
      rewards.validate(&check, maxCompletionLength: grpo.maxCompletionLength)
    }
    if kind == .grpo || kind == .sft {
      // SFT evaluates with the same greedy decoding, so its completions fit the context too.
      evaluation.validate(&check, context: model.kind == .pretrained ? Int.max : model.context)
      if model.kind == .transformer {
        model.validateSize(&check, sequences: kind == .sft ? sft.batchSize : rolloutsPerStep)
      }
    }
    if kind != .grpo && rewards != RewardsConfig() {
      // Each rewards key set, by name (and so by the layer that set it).
      var unset = self
      unset.rewards = RewardsConfig()
      let tree = try? JSONValue(encoding: self)
      for key in (try? ConfigLoader.differences(unset, self)) ?? ["rewards"] {
        let value = tree?.value(at: key.split(separator: ".").map(String.init))?.compactText
        check.require(
          false, key, value ?? "set",
          "the reward components apply to language-model GRPO (kind \"grpo\") only")
      }
    }
    optimizer.validate(&check)
    checkpoint.validate(&check)
    logging.validate(&check)
    distributed.validate(&check)
    if !check.errors.isEmpty { throw ConfigErrors(errors: check.errors) }
  }
}

/// Collects a config's problems, each naming the layer that set the key (the file, the
/// `--set` argument or the defaults), its key path, its value and what is allowed.
struct ConfigCheck {
  /// Where values not in `origins` came from (`defaults`, a saved run's config).
  let source: String
  /// Key path → the file or `--set` argument that set it.
  let origins: [String: String]
  private(set) var errors: [ConfigError] = []

  init(source: String, origins: [String: String] = [:]) {
    self.source = source
    self.origins = origins
  }

  /// The layer that set `path` (an element `a.b[2]` is its array's).
  func origin(_ path: String) -> String {
    origins[String(path.prefix { $0 != "[" })] ?? source
  }

  /// Records a problem at `path` unless `ok`.
  mutating func require(_ ok: Bool, _ path: String, _ value: Any, _ allowed: String) {
    if !ok {
      errors.append(
        ConfigError(source: origin(path), path: path, message: "is \(value); \(allowed)"))
    }
  }

  /// Records a problem at `path` unless `value` lies in `range`, naming the bound and, for
  /// the upper one, `why` it is there (memory, run time, a 32-bit index), so that no count
  /// or size that passes validation overflows or runs for ever later.
  mutating func bound(_ value: Int, _ path: String, _ range: ClosedRange<Int>, _ why: String) {
    if value < range.lowerBound {
      require(false, path, value, "must be ≥ \(range.lowerBound)")
    } else if value > range.upperBound {
      require(false, path, value, "must be ≤ \(range.upperBound) (\(why))")
    }
  }

  /// Records a problem at `path` when `value` is 0 (while not 0) or infinite in Float32,
  /// where the tensors compute (`checkRepresentableAsFloat`).
  mutating func float(_ value: Double, _ path: String) {
    do {
      try checkRepresentableAsFloat(value, key: path)
    } catch let error as Float32RangeError {
      let text = error.description
      let message = text.hasPrefix(path + " ") ? String(text.dropFirst(path.count + 1)) : text
      errors.append(ConfigError(source: origin(path), path: path, message: message))
    } catch {
      errors.append(ConfigError(source: origin(path), path: path, message: "\(error)"))
    }
  }

  /// Records a problem at `path` when `value`, below 1, rounds to 1 in Float32 (a decay of
  /// 0.99999999 would stop decaying).
  mutating func belowOneInFloat(_ value: Double, _ path: String) {
    if value < 1 && Float(value) >= 1 {
      require(
        false, path, value,
        "rounds to 1 in Float32 (where Allot computes); use at most \(Double(Float(1).nextDown))")
    }
  }
}

/// Upper bounds of counts and sizes, each with the reason it is there.
enum ConfigLimits {
  /// Steps, epochs, episodes: a run must end in a day or so.
  static let steps = 100_000_000
  static let runTime = "so that a run ends"
  /// Examples and prompts kept in memory.
  static let examples = 10_000_000
  static let memory = "held in memory"
  /// Elements of one tensor: tensor indices and BLAS dimensions are 32-bit.
  static let elements = Int(Int32.max)
  static let index32 = "a tensor's elements are indexed with 32 bits: 2^31 − 1"
  /// The widest layer and the longest context.
  static let width = 16_384
  static let context = 32_768
}
