import Checkpoint
import Foundation
import GRPO
import NN
import Reasoning
import TensorCore

extension GRPOTrainer where Task == LanguageModelTask<TransformerLM, Tokenizer> {
  /// GRPO of Allot's transformer (`kind: "grpo"`) as `config` describes it; `task`
  /// replaces the config's task (tests and embedding code). `loadingInitFrom: false` skips
  /// `grpo.initFrom`: when a checkpoint is restored next, it carries the policy (and the
  /// reference), so the warm start need not exist any more.
  public convenience init(
    config: ExperimentConfig, task: (any ReasoningTask)? = nil, loadingInitFrom: Bool = true
  ) throws {
    let task = try task ?? config.task.makeTask()
    let tokenizer = Tokenizer()
    var root = RandomState(seed: UInt64(config.run.seed))
    var modelRNG = root.split()
    let samplingRNG = root.split()
    let cursorSeed = root.next()
    let model = config.model.makeTransformer(tokenizer: tokenizer, rng: &modelRNG)
    if loadingInitFrom && !config.grpo.initFrom.isEmpty {
      try loadInitialPolicy(
        config.grpo.initFrom, root: config.run.outputDir, into: model, model: config.model)
    }
    let g = config.grpo
    let sampling = g.sampling
    func policy(_ model: TransformerLM) -> Policy {
      LanguageModelPolicy(
        model: model, tokenizer: tokenizer, sampling: sampling, maskTruncated: g.maskTruncated,
        fingerprint: transformerFingerprint(model), tokenizerState: tokenizer.savedAlphabet,
        sharedPromptScoring: g.sharedPromptScoring)
    }
    var reference: Policy? = nil
    if g.beta > 0 {
      var unused = RandomState(seed: 0)
      let frozen = config.model.makeTransformer(tokenizer: tokenizer, rng: &unused)
      frozen.copyParameters(from: model)
      for p in frozen.parameters { p.requiresGrad = false }
      reference = policy(frozen)
    }
    let optimizer = config.optimizer.makeOptimizer(
      steps: config.run.steps * g.optimizerStepsPerStep, parameters: model.namedParameters())
    try checkPromptRoom(
      task, context: config.model.context, maxNewTokens: g.maxCompletionLength,
      key: "grpo.maxCompletionLength", tokenizer: tokenizer)
    let evaluated = try evaluationPrompts(
      task, config: config.evaluation, context: config.model.context, tokenizer: tokenizer)
    let parallel = try DataParallel(config.distributed)
    let encode = { (prompt: TaskPrompt) in try encodePrompt(prompt, tokenizer: tokenizer) }
    let contexts = try LanguageModelTask<TransformerLM, Tokenizer>(
      grpo: config, task: task, model: model, tokenizer: tokenizer, encode: encode,
      evaluated: evaluated, evaluationBatch: transformerEvaluationBatch, parallel: parallel)
    let longest = contexts.contexts.map(\.count).max() ?? 0
    guard longest + g.maxCompletionLength <= config.model.context else {
      throw ConfigError(
        source: "task", path: "grpo.maxCompletionLength",
        message:
          "is \(g.maxCompletionLength); with prompts of up to \(longest) tokens it must be ≤ "
          + "model.context − \(longest) = \(config.model.context - longest)")
    }
    self.init(
      task: contexts, policy: policy(model), reference: reference, options: GRPOOptions(config),
      optimizer: optimizer, samplingRNG: samplingRNG, cursorSeed: cursorSeed)
    self.parallel = parallel
    startupNotes =
      taskNotes(task) + [knapsackRevisitWarning(steps: config.run.steps)].compactMap { $0 }
    if loadingInitFrom && g.initFrom.isEmpty {
      startupNotes.append(
        "warning: grpo.initFrom is \"\": GRPO starts from untrained (random) weights, whose "
          + "completions almost never earn a reward, so there is nothing to learn from; warm-start "
          + "with an sft run (e.g. --set grpo.initFrom=auto:arith-sft, docs/grpo.md) or train a "
          + "pretrained model (model.kind \"pretrained\")")
    }
  }
}

/// HICRA's strategic-gram phrases: `hicra.phrases`, the lines of `hicra.phrasesFile` (a
/// trailing "# comment" dropped) and, with `hicra.useTaskPhrases`, the task's own; nil
/// when there are none.
func planningPhrases(_ config: HICRAConfig, task: any ReasoningTask) throws -> PhraseMatcher? {
  var phrases = config.phrases
  if !config.phrasesFile.isEmpty {
    guard let data = FileManager.default.contents(atPath: config.phrasesFile) else {
      throw ConfigError(
        source: config.phrasesFile, path: "hicra.phrasesFile",
        message: "names a file that cannot be read")
    }
    phrases += phraseLines(String(decoding: data, as: UTF8.self))
  }
  do {
    phrases += try config.preset.phrases()
  } catch {
    throw ConfigError(source: "build", path: "hicra.preset", message: "\(error)")
  }
  if config.useTaskPhrases { phrases += task.planningPhrases }
  return phrases.isEmpty ? nil : PhraseMatcher(phrases: phrases)
}

/// Copies the model of checkpoint `path` into `policy`, refusing another model. `path` is a
/// checkpoint file, a run directory, or `auto:<experiment>` (the newest run of that
/// experiment under `root`).
func loadInitialPolicy(_ path: String, root: String, into policy: TransformerLM, model: ModelConfig)
  throws
{
  let found =
    path.hasPrefix("auto:")
    ? try RunCheckpoints.locate("auto", experiment: String(path.dropFirst(5)), root: root)
    : try RunCheckpoints.locate(path, experiment: "", root: ".")
  let loaded = try CheckpointFiles.decode(found.data, file: found.url.path)
  let saved = try ConfigLoader.decode(configJSON: loaded.configJSON, source: found.url.path)
  var wanted = saved
  wanted.model = model
  let differences = try ConfigLoader.differences(saved, wanted)
  guard differences.isEmpty else {
    throw ConfigError(
      source: found.url.path, path: differences.joined(separator: ", "),
      message:
        "differs between this config and the grpo.initFrom checkpoint; the policy must have the checkpoint's shape"
    )
  }
  try loaded.state.restoreModel(into: policy.namedParameters(), file: found.url.path)
}

/// Rows per sampling batch when Allot's transformer is evaluated (periodically and by
/// `allot evaluate`).
let transformerEvaluationBatch = 256
