import Checkpoint
import Foundation
import NN
import Pretrained
import Reasoning
import TensorCore

/// GRPO of a pretrained Llama-family model (`model.kind: "pretrained"`).
public typealias PretrainedGRPOTrainer = GRPOTrainer<LanguageModelTask<LlamaModel, BPETokenizer>>

extension GRPOTrainer where Task == LanguageModelTask<LlamaModel, BPETokenizer> {
  /// GRPO of `pretrained` (a checkpoint's rebuilt model on resume), or, when it is nil, of
  /// the model `model.path` names; `task` replaces the config's task.
  public convenience init(
    config: ExperimentConfig, pretrained: PretrainedModel?, task: (any ReasoningTask)? = nil
  ) throws {
    let task = try task ?? config.task.makeTask()
    let source = try pretrained ?? config.model.loadPretrained()
    let model = source.model
    let tokenizer = source.tokenizer
    var root = RandomState(seed: UInt64(config.run.seed))
    _ = root.split()  // the transformer's initialisation stream: kept so the others match
    let samplingRNG = root.split()
    let cursorSeed = root.next()
    let encode = try promptEncoder(source, config: config)
    let g = config.grpo
    let sampling = g.sampling
    let fingerprint = pretrainedFingerprint(source.config)
    func policy(_ model: LlamaModel) -> Policy {
      LanguageModelPolicy(
        model: model, tokenizer: tokenizer, sampling: sampling, maskTruncated: g.maskTruncated,
        fingerprint: fingerprint, sharedPromptScoring: g.sharedPromptScoring)
    }
    var reference: Policy? = nil
    if g.beta > 0 {
      var unused = RandomState(seed: 0)
      let frozen = LlamaModel(config: source.config, rng: &unused)
      frozen.copyParameters(from: model)
      for p in frozen.parameters { p.requiresGrad = false }
      reference = policy(frozen)
    }
    let optimizer = config.optimizer.makeOptimizer(
      steps: config.run.steps * g.optimizerStepsPerStep, parameters: model.namedParameters())
    let test = task.prompts(.test)
    let evaluated =
      config.evaluation.prompts > 0 ? Array(test.prefix(config.evaluation.prompts)) : test
    let evaluatedIDs = try evaluated.map(encode)
    let maxNewTokens = config.evaluation.maxNewTokens
    let parallel = try DataParallel(config.distributed)
    let contexts = try LanguageModelTask<LlamaModel, BPETokenizer>(
      grpo: config, task: task, model: model, tokenizer: tokenizer, encode: encode,
      evaluated: evaluated, evaluationBatch: pretrainedEvaluationBatch, parallel: parallel)
    contexts.savedStrings = [TrainingState.pretrainedDescriptorName: source.descriptor]
    let longest = (contexts.contexts + evaluatedIDs).map(\.count).max() ?? 0
    let context = source.config.contextLength
    let longestCompletion = max(g.maxCompletionLength, maxNewTokens)
    guard longest + longestCompletion <= context else {
      throw ConfigError(
        source: "task", path: "grpo.maxCompletionLength",
        message:
          "is \(g.maxCompletionLength) (evaluation.maxNewTokens \(maxNewTokens)); with prompts of "
          + "up to \(longest) tokens the longer must be ≤ the model's context \(context) − "
          + "\(longest) = \(context - longest)")
    }
    self.init(
      task: contexts, policy: policy(model), reference: reference, options: GRPOOptions(config),
      optimizer: optimizer, samplingRNG: samplingRNG, cursorSeed: cursorSeed)
    self.parallel = parallel
    startupNotes =
      taskNotes(task) + [knapsackRevisitWarning(steps: config.run.steps)].compactMap { $0 }
  }

  /// The descriptor a checkpoint of this trainer carries.
  public var pretrainedDescriptor: String? {
    task.savedStrings[TrainingState.pretrainedDescriptorName]
  }
}

/// Rows per sampling batch in the periodic evaluation and `allot evaluate` of a pretrained
/// model: its KV cache and 49k-wide logits make Allot's transformer's 256 too many.
let pretrainedEvaluationBatch = 16

/// The structure of a pretrained model, as checkpoints record it.
func pretrainedFingerprint(_ c: LlamaConfig) -> String {
  "pretrained \(c.family) vocabulary=\(c.vocabularySize) layers=\(c.layers) "
    + "hidden=\(c.hiddenSize) intermediate=\(c.intermediateSize) heads=\(c.heads) "
    + "keyValueHeads=\(c.keyValueHeads) headDimension=\(c.headDimension) tied=\(c.tiedEmbeddings) "
    + "bias=\(c.attentionBias)"
}

/// A task prompt as the pretrained model's input ids: `task.promptFormat` raw (BOS when the
/// model adds one) or chat (the template, with `task.systemPrompt` when set, and
/// `model.chatTemplate` when it is a template's text). Errors name the key at fault.
func promptEncoder(_ source: PretrainedModel, config: ExperimentConfig) throws
  -> (TaskPrompt) throws -> [Int]
{
  let task = config.task
  switch task.promptFormat {
  case .raw:
    return { try source.promptIDs($0.text, format: .raw) }
  case .chat:
    let template: ChatTemplate
    do {
      template =
        config.model.chatTemplate.contains("{")
        ? try ChatTemplate(
          template: config.model.chatTemplate,
          bosToken: source.tokenizer.bosToken.map { source.tokenizer.tokens[$0] })
        : try source.chatTemplate.get()
    } catch {
      throw ConfigError(
        source: config.model.path, path: "task.promptFormat",
        message:
          "is \"chat\" but the model's chat template cannot be used: \(error); set "
          + "model.chatTemplate to one of \(ChatTemplate.names.joined(separator: ", ")), or "
          + "task.promptFormat to \"raw\"")
    }
    let system =
      task.systemPrompt.isEmpty ? [] : [ChatMessage(role: "system", content: task.systemPrompt)]
    return { prompt in
      let text = prompt.text.trimmingCharacters(in: .whitespacesAndNewlines)
      let rendered = template.render(
        system + [ChatMessage(role: "user", content: text)], addGenerationPrompt: true)
      return source.tokenizer.encode(rendered)
    }
  }
}

extension ModelConfig {
  /// The pretrained model `model.path` names, with `model.chatTemplate`'s kind; errors name
  /// `model.path` and the file.
  public func loadPretrained() throws -> PretrainedModel {
    let url = try pretrainedURL()
    do {
      return try PretrainedModel.load(url.path, chatTemplateKind: chatTemplateKind)
    } catch {
      throw ConfigError(
        source: url.path, path: "model.path", message: "cannot be loaded: \(error)")
    }
  }
}

/// The pretrained model a checkpoint carries: its `@pretrainedModel` descriptor and the
/// weights under `/model/`.
func savedPretrainedModel(_ state: TrainingState, file: String) throws -> PretrainedModel {
  guard let descriptor = state.strings[TrainingState.pretrainedDescriptorName] else {
    throw CheckpointError(
      file: file,
      message:
        "lacks the root attribute @\(TrainingState.pretrainedDescriptorName) that a pretrained "
        + "run's checkpoints carry")
  }
  let weights = Dictionary(
    state.tensors.filter { $0.0.hasPrefix("model/") }.map { (String($0.0.dropFirst(6)), $0.1) },
    uniquingKeysWith: { a, _ in a })
  do {
    return try PretrainedModel(descriptor: descriptor, weights: weights)
  } catch {
    throw CheckpointError(file: file, message: "\(error)")
  }
}

/// The fine-tuned model a checkpoint of a pretrained run carries, rebuilt from it alone
/// (`allot generate`, `allot export`).
public func pretrainedModel(in data: CheckpointData, file: String) throws -> PretrainedModel {
  try savedPretrainedModel(CheckpointFiles.decode(data, file: file).state, file: file)
}
