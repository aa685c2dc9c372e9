import Reasoning
import TensorCore

/// A trainer of any language model on a reasoning task, as `allot evaluate` sees it: the
/// task, and pass@1, mean@k and pass@k of its policy on given prompts.
public protocol ReasoningPolicyTrainer: Trainer {
  var reasoningTask: any ReasoningTask { get }
  /// The longest completion the evaluation generates.
  var evaluationMaxNewTokens: Int { get }
  /// The policy's scores on `prompts` of `task` (greedy pass@1, then `samples` per prompt).
  func evaluationReport(
    task: any ReasoningTask, prompts: [TaskPrompt], samples: Int, temperature: Float,
    maxNewTokens: Int, rng: inout RandomState
  ) throws -> EvaluationReport
  /// The mean of the policy's input token embeddings over the tokens of `text` (nil when it
  /// has none or cannot be encoded).
  func meanTokenEmbedding(of text: String) -> [Float]?
}

extension GRPOTrainer: ReasoningPolicyTrainer where Task: PromptContexts {
  public var reasoningTask: any ReasoningTask { task.task }
  public var evaluationMaxNewTokens: Int { task.evaluationMaxNewTokens }

  public func evaluationReport(
    task evaluated: any ReasoningTask, prompts: [TaskPrompt], samples: Int, temperature: Float,
    maxNewTokens: Int, rng: inout RandomState
  ) throws -> EvaluationReport {
    try task.report(
      of: policy, task: evaluated, prompts: prompts, samples: samples, temperature: temperature,
      maxNewTokens: maxNewTokens, rng: &rng)
  }

  public func meanTokenEmbedding(of text: String) -> [Float]? {
    task.meanTokenEmbedding(of: text, policy: policy)
  }
}

/// GRPO contexts that are a reasoning task's prompts, so the policy can be evaluated on
/// any prompts of a task.
public protocol PromptContexts: GRPOTask {
  var task: any ReasoningTask { get }
  var evaluationMaxNewTokens: Int { get }
  /// `policy`'s scores on `prompts`, encoded as the training prompts are.
  func report(
    of policy: Policy, task: any ReasoningTask, prompts: [TaskPrompt], samples: Int,
    temperature: Float, maxNewTokens: Int, rng: inout RandomState
  ) throws -> EvaluationReport
  /// The mean of `policy`'s input token embeddings over the tokens of `text`.
  func meanTokenEmbedding(of text: String, policy: Policy) -> [Float]?
}

extension LanguageModelTask: PromptContexts {
  public func report(
    of policy: Policy, task: any ReasoningTask, prompts: [TaskPrompt], samples: Int,
    temperature: Float, maxNewTokens: Int, rng: inout RandomState
  ) throws -> EvaluationReport {
    try Reasoning.evaluate(
      policy.model, tokenizer: policy.tokenizer, task: task, prompts: prompts, encode: encode,
      samples: samples, temperature: temperature, maxNewTokens: maxNewTokens,
      batchSize: evaluationBatchSize, rng: &rng)
  }

  public func meanTokenEmbedding(of text: String, policy: Policy) -> [Float]? {
    policy.model.meanTokenEmbedding(of: text, tokenizer: policy.tokenizer)
  }
}

extension SFTTrainer: ReasoningPolicyTrainer {
  public func evaluationReport(
    task: any ReasoningTask, prompts: [TaskPrompt], samples: Int, temperature: Float,
    maxNewTokens: Int, rng: inout RandomState
  ) throws -> EvaluationReport {
    try Reasoning.evaluate(
      languageModel, tokenizer: tokenizer, task: task, prompts: prompts, samples: samples,
      temperature: temperature, maxNewTokens: maxNewTokens, rng: &rng)
  }

  public func meanTokenEmbedding(of text: String) -> [Float]? {
    languageModel.meanTokenEmbedding(of: text, tokenizer: tokenizer)
  }
}
