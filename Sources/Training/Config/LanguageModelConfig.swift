import Reasoning
import TensorCore

/// The transformer policy (kinds `sft` and later `grpo`).
public struct ModelConfig: Codable, Equatable, Sendable {
  /// Transformer blocks.
  public var layers = 4
  /// Attention heads per block; must divide `width`.
  public var heads = 4
  /// The residual width.
  public var width = 128
  /// The longest prompt + completion, in tokens.
  public var context = 224
  /// The MLP's hidden width as a multiple of `width`.
  public var mlpRatio = 4
  /// Whether the output head reuses the token embedding.
  public var tiedEmbeddings = true
}

/// The task with verifiable rewards (kinds `sft` and later `grpo`).
public struct TaskConfig: Codable, Equatable, Sendable {
  public var name = TaskName.arithmetic
  /// Seeds the task's prompts; kept apart from `run.seed` so runs with different seeds
  /// see the same data.
  public var seed = 0
  /// Training prompts (built-in tasks).
  public var trainSize = 20000
  /// Test prompts (built-in tasks).
  public var testSize = 500
  /// Arithmetic: the fewest operand digits.
  public var minDigits = 1
  /// Arithmetic: the most operand digits.
  public var maxDigits = 3
  /// Arithmetic: the operations drawn from.
  public var operations = [ArithmeticTask.Operation.add, .subtract, .multiply]
  /// Countdown: the fewest given numbers.
  public var minNumbers = 3
  /// Countdown: the most given numbers.
  public var maxNumbers = 4
  /// JSONL: the data file.
  public var path = ""
  /// JSONL: how answers are checked.
  public var verifier = JSONLTask.Verifier.exact
  /// JSONL, numeric verifier: the largest accepted difference.
  public var tolerance = 1e-6
  /// JSONL: the share of lines without a split that go to test.
  public var testFraction = 0.1
}

public enum TaskName: String, ConfigChoice {
  case arithmetic, countdown, jsonl
}

/// The supervised warm start (`kind: "sft"`).
public struct SFTConfig: Codable, Equatable, Sendable {
  /// Worked solutions per optimizer step.
  public var batchSize = 32
}

/// How the transformer policy is evaluated on the test split.
public struct EvaluationConfig: Codable, Equatable, Sendable {
  /// Test prompts used by the periodic evaluation (greedy pass@1); 0 uses all.
  public var prompts = 200
  /// Samples per prompt for mean@k and pass@k in `allot evaluate`.
  public var samples = 4
  /// Sampling temperature for mean@k and pass@k.
  public var temperature = 1.0
  /// The longest completion generated.
  public var maxNewTokens = 200
}

extension ArithmeticTask.Operation: ConfigChoice {}

extension JSONLTask.Verifier: ConfigChoice {}

extension ModelConfig {
  func validate(_ check: inout ConfigCheck) {
    check.bound(layers, "model.layers", 1...256, ConfigLimits.memory)
    check.require(
      heads >= 1 && width % max(heads, 1) == 0, "model.heads", heads,
      "must be ≥ 1 and divide model.width (\(width))")
    check.bound(width, "model.width", 1...ConfigLimits.width, ConfigLimits.memory)
    check.bound(context, "model.context", 8...ConfigLimits.context, ConfigLimits.memory)
    check.bound(mlpRatio, "model.mlpRatio", 1...64, ConfigLimits.memory)
  }

  /// `sequences` of `context` tokens through a layer of `width × mlpRatio` must stay within
  /// a 32-bit index; checked once the sizes themselves are in bounds.
  func validateSize(_ check: inout ConfigCheck, sequences: Int) {
    guard (1...ConfigLimits.width).contains(width), (8...ConfigLimits.context).contains(context),
      (1...64).contains(mlpRatio), (1...(1 << 20)).contains(sequences)
    else { return }  // the bounds of each size are reported on their own
    let perSequence = context * width * mlpRatio
    check.require(
      sequences <= ConfigLimits.elements / perSequence, "model.context", context,
      "\(sequences) sequences × model.context × model.width × model.mlpRatio (\(perSequence) per "
        + "sequence) must stay below 2^31 (\(ConfigLimits.index32)); use fewer sequences per step or a smaller model"
    )
  }

  /// The transformer this section describes, for `tokenizer`'s vocabulary.
  public func makeTransformer(tokenizer: Tokenizer, rng: inout RandomState) -> TransformerLM {
    TransformerLM(
      TransformerShape(
        vocabulary: tokenizer.vocabularySize, layers: layers, heads: heads, width: width,
        context: context, mlpRatio: mlpRatio, tiedEmbeddings: tiedEmbeddings),
      rng: &rng)
  }
}

extension TaskConfig {
  func validate(_ check: inout ConfigCheck) {
    check.bound(trainSize, "task.trainSize", 1...ConfigLimits.examples, ConfigLimits.memory)
    check.bound(testSize, "task.testSize", 1...ConfigLimits.examples, ConfigLimits.memory)
    check.require(seed >= 0, "task.seed", seed, "must be ≥ 0")
    check.require(
      1 <= minDigits && minDigits <= maxDigits && maxDigits <= 9, "task.maxDigits", maxDigits,
      "needs 1 ≤ task.minDigits (\(minDigits)) ≤ task.maxDigits ≤ 9")
    check.require(
      !operations.isEmpty, "task.operations", "[]", "needs at least one of \"+\", \"-\", \"*\"")
    check.require(
      2 <= minNumbers && minNumbers <= maxNumbers && maxNumbers <= 6, "task.maxNumbers",
      maxNumbers, "needs 2 ≤ task.minNumbers (\(minNumbers)) ≤ task.maxNumbers ≤ 6")
    check.require(
      name != .jsonl || !path.isEmpty, "task.path", "\"\"", "the jsonl task needs a data file")
    check.require(tolerance >= 0, "task.tolerance", tolerance, "must be ≥ 0")
    check.require(tolerance.isFinite, "task.tolerance", tolerance, "must be finite")
    check.require(
      (0...1).contains(testFraction), "task.testFraction", testFraction, "must lie in [0, 1]")
  }

  /// The task this section names.
  public func makeTask() throws -> any ReasoningTask {
    switch name {
    case .arithmetic:
      ArithmeticTask(
        minDigits: minDigits, maxDigits: maxDigits, operations: operations,
        trainSize: trainSize, testSize: testSize, seed: UInt64(seed))
    case .countdown:
      CountdownTask(
        minNumbers: minNumbers, maxNumbers: maxNumbers, trainSize: trainSize, testSize: testSize,
        seed: UInt64(seed))
    case .jsonl:
      try JSONLTask(
        path: path, verifier: verifier, tolerance: tolerance, testFraction: testFraction)
    }
  }
}

extension SFTConfig {
  func validate(_ check: inout ConfigCheck) {
    check.bound(batchSize, "sft.batchSize", 1...65_536, "worked solutions held in memory")
  }
}

extension EvaluationConfig {
  /// Checked for GRPO runs, whose completions fit in `context`.
  func validate(_ check: inout ConfigCheck, context: Int) {
    check.require(prompts >= 0, "evaluation.prompts", prompts, "must be ≥ 0 (0: all)")
    check.bound(prompts, "evaluation.prompts", 0...ConfigLimits.examples, ConfigLimits.memory)
    check.bound(
      samples, "evaluation.samples", 1...4_096, "samples per prompt; \(ConfigLimits.runTime)")
    check.require(temperature > 0, "evaluation.temperature", temperature, "must be > 0")
    check.float(temperature, "evaluation.temperature")
    check.require(
      maxNewTokens >= 1 && maxNewTokens < context, "evaluation.maxNewTokens", maxNewTokens,
      "must lie in 1..<model.context (\(context))")
  }
}
