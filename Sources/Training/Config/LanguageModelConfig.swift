import Foundation
import Pretrained
import Reasoning
import TensorCore

/// The language-model policy (kinds `sft` and `grpo`): Allot's transformer, or a pretrained
/// Llama-family model read from a file.
public struct ModelConfig: Codable, Equatable, Sendable {
  /// `transformer` (Allot's, built from the keys below) or `pretrained` (`model.path`).
  public var kind = ModelKind.transformer
  /// Pretrained: a GGUF file or a Hugging Face model directory; a relative path is resolved
  /// against the working directory.
  public var path = ""
  /// Pretrained: a chat template kind (`ChatTemplate.names`) or a template's text, in place
  /// of the file's; empty keeps the file's.
  public var chatTemplate = ""
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
  /// Arithmetic and countdown: `compact` (`Q: 47+85`, as the worked solutions) or `words`
  /// (word problems, the countdown rules spelled out: for chat models); the same problems.
  public var wording = PromptWording.compact
  /// JSONL: the data file.
  public var path = ""
  /// JSONL: how answers are checked.
  public var verifier = JSONLTask.Verifier.exact
  /// JSONL, numeric verifier: the largest accepted difference.
  public var tolerance = 1e-6
  /// JSONL: the share of lines without a split that go to test.
  public var testFraction = 0.1
  /// JSONL: train on only this many of the file's training prompts (a fixed subset by a
  /// hash of their ids); 0: all.
  public var trainPrompts = 0
  /// Pretrained models: `raw` feeds the prompt text as it is, `chat` renders it as a user
  /// message with the model's chat template.
  public var promptFormat = PromptStyle.raw
  /// Pretrained, chat format: a system message before the user's; empty: none (the
  /// template's own default, if it has one).
  public var systemPrompt = ""
  /// Pretrained: a line appended to every prompt's text (e.g. "Answer with the number
  /// only."); empty: none.
  public var instruction = ""
  /// How a completion's answer is read: `answerLine` (the text after the last "answer:"),
  /// `lastNumber` (the last integer or decimal in the reply) or `lastWord` (its last
  /// whitespace-separated word, trailing punctuation dropped).
  public var answerFrom = AnswerRule.answerLine
  /// A shape the replies are asked to take: `none`, or `thinkAnswer`
  /// (`<think>…</think><answer>…</answer>`, whose instruction is appended after
  /// `instruction`); the `format` reward checks it.
  public var reasoningFormat = ReasoningFormat.none
}

/// Which language model `model` describes.
public enum ModelKind: String, ConfigChoice {
  case transformer, pretrained
}

/// How a pretrained model is given a task's prompt.
public enum PromptStyle: String, ConfigChoice {
  case raw, chat
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

extension PromptWording: ConfigChoice {}

extension ModelConfig {
  func validate(_ check: inout ConfigCheck) {
    if kind == .pretrained {
      // Whether the file exists is checked when it is loaded (`pretrainedURL`): a resumed
      // run reads its model from the checkpoint.
      check.require(
        !path.isEmpty, "model.path", "\"\"",
        "a pretrained model needs a GGUF file or a Hugging Face directory")
      check.require(
        chatTemplate.contains("{") || chatTemplate.isEmpty
          || ChatTemplate.names.contains(chatTemplate), "model.chatTemplate",
        JSONValue.quote(chatTemplate),
        "must be a template's text or one of "
          + ChatTemplate.names.map(JSONValue.quote).joined(separator: ", "))
      return
    }
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

  /// The pretrained model's file or directory, resolved against the working directory;
  /// throws naming `model.path` when there is nothing there.
  public func pretrainedURL() throws -> URL {
    let url = URL(
      fileURLWithPath: path,
      relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true))
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw ConfigError(
        source: "model", path: "model.path",
        message: "is \(JSONValue.quote(path)); no file or directory there (\(url.path))")
    }
    return url
  }

  /// The template kind to load with (`model.chatTemplate` when it names one).
  var chatTemplateKind: String? {
    ChatTemplate.names.contains(chatTemplate) ? chatTemplate : nil
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
    check.require(
      name != .jsonl || wording == .compact, "task.wording", JSONValue.quote(wording.rawValue),
      "words the built-in tasks; a jsonl task's prompts are its file's")
    check.require(tolerance >= 0, "task.tolerance", tolerance, "must be ≥ 0")
    check.require(tolerance.isFinite, "task.tolerance", tolerance, "must be finite")
    check.require(
      (0...1).contains(testFraction), "task.testFraction", testFraction, "must lie in [0, 1]")
    check.require(trainPrompts >= 0, "task.trainPrompts", trainPrompts, "must be ≥ 0 (0: all)")
    check.require(
      name == .jsonl || trainPrompts == 0, "task.trainPrompts", trainPrompts,
      "selects from a jsonl file's training prompts; a built-in task has task.trainSize")
  }

  /// The task this section names; with `instruction`, a `reasoningFormat` or an
  /// `answerFrom` other than `answerLine`, wrapped in `FreeFormAnswers`.
  public func makeTask() throws -> any ReasoningTask {
    let task = try makeBaseTask()
    return instruction.isEmpty && answerFrom == .answerLine && reasoningFormat == .none
      ? task
      : FreeFormAnswers(task, rule: answerFrom, instruction: instruction, format: reasoningFormat)
  }

  private func makeBaseTask() throws -> any ReasoningTask {
    switch name {
    case .arithmetic:
      ArithmeticTask(
        minDigits: minDigits, maxDigits: maxDigits, operations: operations,
        trainSize: trainSize, testSize: testSize, seed: UInt64(seed), wording: wording)
    case .countdown:
      CountdownTask(
        minNumbers: minNumbers, maxNumbers: maxNumbers, trainSize: trainSize, testSize: testSize,
        seed: UInt64(seed), wording: wording)
    case .jsonl:
      try JSONLTask(
        path: path, verifier: verifier, tolerance: tolerance, testFraction: testFraction,
        trainLimit: trainPrompts)
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
