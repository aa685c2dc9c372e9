import Foundation
import NN
import Optim
import Reasoning
import TensorCore

/// A trainer of Allot's transformer on a reasoning task (SFT, GRPO): `allot evaluate` and
/// `allot mine` reach the model, its tokenizer and its task through this.
public protocol LanguageModelTrainer: Trainer {
  var languageModel: TransformerLM { get }
  var tokenizer: Tokenizer { get }
  var reasoningTask: any ReasoningTask { get }
  /// The longest completion the evaluation generates.
  var evaluationMaxNewTokens: Int { get }
}

/// The structure of a transformer, as checkpoints record it.
func transformerFingerprint(_ model: TransformerLM) -> String {
  let s = model.shape
  return
    "transformer vocabulary=\(s.vocabulary) layers=\(s.layers) heads=\(s.heads) width=\(s.width) "
    + "context=\(s.context) mlpRatio=\(s.mlpRatio) tied=\(s.tiedEmbeddings)"
}

/// A saved tokenizer alphabet that differs from `alphabet`, as a restore problem.
func tokenizerProblems(_ state: TrainingState, alphabet: [Int64]?) -> [String] {
  guard let saved = state.integers["trainer/tokenizer"], saved != alphabet else { return [] }
  return ["trainer/tokenizer: the checkpoint's alphabet differs from this build's tokenizer"]
}

/// The test prompts of the periodic evaluation (`evaluation.prompts` of them, 0: all), each
/// encoded once here, and checked to leave room for `evaluation.maxNewTokens` in `context`,
/// so that evaluating them cannot fail later.
func evaluationPrompts(
  _ task: any ReasoningTask, config: EvaluationConfig, context: Int, tokenizer: Tokenizer
) throws -> [TaskPrompt] {
  try checkPromptRoom(
    task, context: context, maxNewTokens: config.maxNewTokens, key: "evaluation.maxNewTokens",
    tokenizer: tokenizer)
  let test = task.prompts(.test)
  let prompts = config.prompts > 0 ? Array(test.prefix(config.prompts)) : test
  for prompt in prompts {
    let tokens = try encodePrompt(prompt, tokenizer: tokenizer).count
    guard tokens + config.maxNewTokens <= context else {
      throw ConfigError(
        source: "task", path: "evaluation.maxNewTokens",
        message: "is \(config.maxNewTokens); test prompt \(prompt.id) has \(tokens) tokens, so "
          + "it must be ≤ model.context − \(tokens) = \(context - tokens)")
    }
  }
  return prompts
}

/// Before training: every prompt of a JSONL task leaves room for `maxNewTokens` in
/// `context` (`JSONLTask.checkPromptLengths`: the error names the file, line and id); `key`
/// is the setting named in the error.
func checkPromptRoom(
  _ task: any ReasoningTask, context: Int, maxNewTokens: Int, key: String, tokenizer: Tokenizer
) throws {
  guard let jsonl = task as? JSONLTask else { return }
  do {
    try jsonl.checkPromptLengths(context: context, maxNewTokens: maxNewTokens) { text in
      1 + ((try? tokenizer.encode(text).count) ?? 0)  // with the BOS token encodePrompt adds
    }
  } catch let error as TaskError {
    throw ConfigError(source: "task", path: key, message: "is \(maxNewTokens): \(error.message)")
  }
}

/// The line a JSONL task prints at start: how its lines were split.
func taskNotes(_ task: any ReasoningTask) -> [String] {
  guard let jsonl = task as? JSONLTask else { return [] }
  return ["task: \(jsonl.splitSummary)"]
}

/// Supervised warm start: teacher-forced cross-entropy on the task's worked solutions, so
/// that GRPO starts from a policy whose success varies across prompts.
public final class SFTTrainer: LanguageModelTrainer {
  public let config: ExperimentConfig
  public let policy: TransformerLM
  public let tokenizer = Tokenizer()
  public let task: any ReasoningTask
  public let optimizer: any Optimizer
  public private(set) var step = 0
  let examples: [(prompt: [Int], target: [Int])]
  public let evaluationPrompts: [TaskPrompt]
  var cursor: EpochCursor
  let parallel: DataParallel

  public init(config: ExperimentConfig) throws {
    self.config = config
    parallel = try DataParallel(config.distributed)
    task = try config.task.makeTask()
    var root = RandomState(seed: UInt64(config.run.seed))
    var modelRNG = root.split()
    let cursorSeed = root.next()
    policy = config.model.makeTransformer(tokenizer: tokenizer, rng: &modelRNG)
    optimizer = config.optimizer.makeOptimizer(
      steps: config.run.steps, parameters: policy.namedParameters())
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
    evaluationPrompts = try Training.evaluationPrompts(
      task, config: config.evaluation, context: config.model.context, tokenizer: tokenizer)
    cursor = EpochCursor(count: examples.count, seed: cursorSeed)
  }

  public var progressKeys: [String] { ["loss/train", "eval/pass1"] }
  public var startupNotes: [String] { taskNotes(task) }

  public func trainStep() throws -> [String: Double] {
    let batch = cursor.next(config.sft.batchSize).map { examples[$0] }
    let learningRate = optimizer.currentLearningRate
    let started = DispatchTime.now().uptimeNanoseconds
    let startedCPU = cpuSeconds()
    optimizer.zeroGrad()
    // Shards of the batch by index; their gradients and losses are summed in shard order.
    let loss = parallel.accumulateGradients(policy.parameters, extras: 1) { shard in
      [
        policy.accumulateSupervisedGradients(
          prompts: batch.map(\.prompt), targets: batch.map(\.target),
          rows: parallel.shards > 1 ? parallel.positions(of: shard, count: batch.count) : nil)
      ]
    }[0]
    let clip = config.optimizer.gradClip > 0 ? Float(config.optimizer.gradClip) : .infinity
    let gradNorm = clipGradientNorm(policy.parameters, maxNorm: clip)
    try checkedStep(optimizer, loss: loss)
    step += 1
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    let tokens = batch.reduce(0) { $0 + $1.prompt.count + $1.target.count }
    return parallel.takeCounters().merging([
      "loss/train": Double(loss), "grad/norm": Double(gradNorm),
      "optim/learningRate": Double(learningRate), "data/epoch": Double(cursor.epoch),
      "perf/tokensPerSec": Double(tokens) / seconds, "perf/cpuSeconds": cpuSeconds() - startedCPU,
    ]) { $1 }
  }

  public var languageModel: TransformerLM { policy }
  public var reasoningTask: any ReasoningTask { task }
  public var evaluationMaxNewTokens: Int { config.evaluation.maxNewTokens }
  public var modelFingerprint: String { transformerFingerprint(policy) }

  public func evaluate() -> [String: Double] {
    greedyPassAt1(
      policy, tokenizer: tokenizer, task: task, prompts: evaluationPrompts,
      encode: { try encodePrompt($0, tokenizer: tokenizer) },
      maxNewTokens: config.evaluation.maxNewTokens, parallel: parallel)
  }

  var core: CoreState { CoreState(model: policy, optimizer: optimizer, step: step, cursor: cursor) }

  public func state() -> TrainingState {
    var state = core.saved()
    state.integers["trainer/tokenizer"] = tokenizer.savedAlphabet
    return state
  }

  public func restore(_ state: TrainingState) throws {
    (step, cursor) = try core.restore(
      from: state, problems: tokenizerProblems(state, alphabet: tokenizer.savedAlphabet))
  }

}
