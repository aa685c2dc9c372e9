import Foundation
import NN
import Optim
import Reasoning
import TensorCore

/// A trainer whose model is the transformer policy on a reasoning task (SFT now, GRPO
/// next); `allot evaluate` runs the full evaluation through this.
public protocol PolicyTrainer: Trainer {
  var policy: TransformerLM { get }
  var tokenizer: Tokenizer { get }
  var task: any ReasoningTask { get }
  var config: ExperimentConfig { get }
  /// The test prompts of the periodic evaluation (each encoded once at start, so
  /// evaluating them cannot fail).
  var evaluationPrompts: [TaskPrompt] { get }
}

extension PolicyTrainer {
  /// A saved tokenizer that differs from this build's, as a restore problem.
  func tokenizerProblems(_ state: TrainingState) -> [String] {
    guard let alphabet = state.integers["trainer/tokenizer"],
      Tokenizer(savedAlphabet: alphabet) != tokenizer
    else {
      return []
    }
    return ["trainer/tokenizer: the checkpoint's alphabet differs from this build's tokenizer"]
  }

  public var modelFingerprint: String {
    let s = policy.shape
    return
      "transformer vocabulary=\(s.vocabulary) layers=\(s.layers) heads=\(s.heads) width=\(s.width) "
      + "context=\(s.context) mlpRatio=\(s.mlpRatio) tied=\(s.tiedEmbeddings)"
  }

  /// Greedy pass@1 on the evaluation prompts, overall and per difficulty.
  public func evaluate() -> [String: Double] {
    var rng = RandomState(seed: 0)
    let report = try? Reasoning.evaluate(
      policy, tokenizer: tokenizer, task: task, prompts: evaluationPrompts, samples: 0,
      temperature: 1,
      maxNewTokens: config.evaluation.maxNewTokens, rng: &rng)
    return report?.metrics ?? [:]
  }
}

/// The task a config names.
public func makeTask(_ config: TaskConfig) throws -> any ReasoningTask {
  let seed = UInt64(config.seed)
  switch config.name {
  case .arithmetic:
    return ArithmeticTask(
      minDigits: config.minDigits, maxDigits: config.maxDigits,
      operations: config.operations.map { ArithmeticTask.Operation(rawValue: $0.rawValue)! },
      trainSize: config.trainSize, testSize: config.testSize, seed: seed)
  case .countdown:
    return CountdownTask(
      minNumbers: config.minNumbers, maxNumbers: config.maxNumbers, trainSize: config.trainSize,
      testSize: config.testSize, seed: seed)
  case .jsonl:
    return try JSONLTask(
      path: config.path, verifier: JSONLTask.Verifier(rawValue: config.verifier.rawValue)!,
      tolerance: config.tolerance, testFraction: config.testFraction)
  }
}

/// The transformer a config describes, for `tokenizer`'s vocabulary.
public func makePolicy(_ config: ModelConfig, tokenizer: Tokenizer, rng: inout RandomState)
  -> TransformerLM
{
  TransformerLM(
    TransformerShape(
      vocabulary: tokenizer.vocabularySize, layers: config.layers, heads: config.heads,
      width: config.width,
      context: config.context, mlpRatio: config.mlpRatio, tiedEmbeddings: config.tiedEmbeddings),
    rng: &rng)
}

/// Supervised warm start: teacher-forced cross-entropy on the task's worked solutions, so
/// that GRPO starts from a policy whose success varies across prompts.
public final class SFTTrainer: PolicyTrainer {
  public let config: ExperimentConfig
  public let policy: TransformerLM
  public let tokenizer = Tokenizer()
  public let task: any ReasoningTask
  public let optimizer: any Optimizer
  public private(set) var step = 0
  let examples: [(prompt: [Int], target: [Int])]
  public let evaluationPrompts: [TaskPrompt]
  var cursor: EpochCursor

  public init(config: ExperimentConfig) throws {
    self.config = config
    task = try makeTask(config.task)
    var root = RandomState(seed: UInt64(config.run.seed))
    var modelRNG = root.split()
    let cursorSeed = root.next()
    policy = makePolicy(config.model, tokenizer: tokenizer, rng: &modelRNG)
    optimizer = makeOptimizer(
      config.optimizer, steps: config.run.steps, parameters: policy.namedParameters())
    var examples: [(prompt: [Int], target: [Int])] = []
    for prompt in task.prompts(.train) {
      guard let solution = task.solution(prompt) else { continue }
      let p = try encodePrompt(prompt, tokenizer: tokenizer)
      let t = try tokenizer.encode(solution) + [Tokenizer.eos]
      guard p.count + t.count <= config.model.context else {
        throw ConfigError(
          source: "task", path: "model.context",
          message:
            "is \(config.model.context); prompt \(prompt.id) with its solution needs \(p.count + t.count) tokens"
        )
      }
      examples.append((p, t))
    }
    guard !examples.isEmpty else {
      throw ConfigError(
        source: "task", path: "task.name", message: "gave no training examples with solutions")
    }
    self.examples = examples
    let test = task.prompts(.test)
    evaluationPrompts =
      config.evaluation.prompts > 0 ? Array(test.prefix(config.evaluation.prompts)) : test
    // Fail early on a prompt the tokenizer cannot encode.
    for prompt in evaluationPrompts { _ = try encodePrompt(prompt, tokenizer: tokenizer) }
    cursor = EpochCursor(count: examples.count, seed: cursorSeed)
  }

  public var progressKeys: [String] { ["loss/train", "eval/pass1"] }

  public func trainStep() -> [String: Double] {
    let batch = cursor.next(config.sft.batchSize).map { examples[$0] }
    let learningRate = optimizer.currentLearningRate
    let started = DispatchTime.now().uptimeNanoseconds
    optimizer.zeroGrad()
    let loss = policy.accumulateSupervisedGradients(
      prompts: batch.map(\.prompt), targets: batch.map(\.target))
    let clip = config.optimizer.gradClip > 0 ? Float(config.optimizer.gradClip) : .infinity
    let gradNorm = clipGradientNorm(policy.parameters, maxNorm: clip)
    optimizer.step()
    step += 1
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    let tokens = batch.reduce(0) { $0 + $1.prompt.count + $1.target.count }
    return [
      "loss/train": Double(loss), "grad/norm": Double(gradNorm),
      "optim/learningRate": Double(learningRate), "data/epoch": Double(cursor.epoch),
      "perf/tokensPerSec": Double(tokens) / seconds,
    ]
  }

  /// Greedy pass@1 on the evaluation prompts, overall and per difficulty.

  var core: CoreState { CoreState(model: policy, optimizer: optimizer, step: step, cursor: cursor) }

  public func state() -> TrainingState {
    var state = core.saved()
    state.integers["trainer/tokenizer"] = tokenizer.savedAlphabet
    return state
  }

  public func restore(_ state: TrainingState) throws {
    (step, cursor) = try core.restore(from: state, problems: tokenizerProblems(state))
  }

}
