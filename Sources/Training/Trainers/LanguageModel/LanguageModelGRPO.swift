import Distributed
import Foundation
import GRPO
import NN
import Reasoning
import TensorCore

/// A completion as a GRPO rollout's decisions: its tokens and their text.
public struct Completion: Equatable, Sendable, WireDecisions {
  public var tokens: [Int]
  public var text: String

  public init(tokens: [Int], text: String) {
    self.tokens = tokens
    self.text = text
  }

  public func write(to wire: inout WireWriter) {
    wire.write(tokens)
    wire.write(text)
  }

  public init(from wire: inout WireReader) {
    self.init(tokens: wire.readInts(), text: wire.readString())
  }
}

/// Any causal language model with its tokenizer as a GRPO policy: a context is a prompt's
/// token ids, a rollout a sampled completion (KV-cache sampler, no tape), scored again by
/// teacher forcing with the tape.
public final class LanguageModelPolicy<Model: CausalLanguageModel, Tok: TextTokenizer>: GRPOPolicy {
  public let model: Model
  public let tokenizer: Tok
  /// Temperature, nucleus, top-k and the completion length limit; log-probabilities are
  /// taken at the same temperature.
  public let sampling: SamplingOptions
  /// Leave completions cut at the length limit out of the loss.
  public let maskTruncated: Bool
  public let fingerprint: String
  /// What a checkpoint keeps of the tokenizer (its alphabet), compared on restore.
  let tokenizerState: [Int64]?
  /// Score a group's completions after one pass of their prompt (`SharedPromptScorer`)
  /// when the model can; the same values and gradients up to rounding.
  public var sharedPromptScoring: Bool

  public init(
    model: Model, tokenizer: Tok, sampling: SamplingOptions, maskTruncated: Bool,
    fingerprint: String, tokenizerState: [Int64]? = nil, sharedPromptScoring: Bool = false
  ) {
    self.model = model
    self.tokenizer = tokenizer
    self.sampling = sampling
    self.maskTruncated = maskTruncated
    self.fingerprint = fingerprint
    self.tokenizerState = tokenizerState
    self.sharedPromptScoring = sharedPromptScoring
  }

  public func sample(_ contexts: [[Int]], counts: [Int], rng: inout RandomState)
    -> [PolicyRollout<Completion>]
  {
    model.sample(prompts: contexts, counts: counts, options: sampling, rng: &rng).map { r in
      PolicyRollout(
        context: r.promptIndex,
        decisions: Completion(tokens: r.tokens, text: tokenizer.decode(r.tokens)),
        logProbs: r.logProbs, entropies: r.entropies,
        lossMask: [Float](repeating: maskTruncated && !r.finished ? 0 : 1, count: r.tokens.count),
        finished: r.finished)
    }
  }

  public func logProbabilities(of rollouts: [PolicyRollout<Completion>], in contexts: [[Int]])
    -> Tensor
  {
    if sharedPromptScoring,
      let scorer = SharedPromptScorer(
        model: model, prompts: contexts, temperature: sampling.temperature)
    {
      return scorer.logProbabilities(
        promptIndices: rollouts.map(\.context), completions: rollouts.map(\.decisions.tokens))
    }
    return model.logProbabilities(
      prompts: contexts, promptIndices: rollouts.map(\.context),
      completions: rollouts.map(\.decisions.tokens), temperature: sampling.temperature
    ).logProbs
  }

  public func rowsPerChunk(_ rollouts: [PolicyRollout<Completion>], in contexts: [[Int]]) -> Int {
    model.rowsPerChunk(
      positions: (contexts.map(\.count).max() ?? 0) + (rollouts.map(\.length).max() ?? 0))
  }

  /// With `sharedPromptScoring`: each prompt's prefix runs once per group of chunks and
  /// keeps the gradients of its completions until `finishGroup`; a chunk holds about the
  /// model's `scoringChunkPositions` completion positions (each row padded to the chunk's
  /// longest).
  public func sharedScoring(_ rollouts: [PolicyRollout<Completion>], in contexts: [[Int]])
    -> SharedScoring?
  {
    guard sharedPromptScoring,
      let scorer = SharedPromptScorer(
        model: model, prompts: contexts, temperature: sampling.temperature, deferred: true)
    else { return nil }
    return SharedScoring(
      score: { rows in
        scorer.logProbabilities(
          promptIndices: rows.map { rollouts[$0].context },
          completions: rows.map { rollouts[$0].decisions.tokens })
      }, finishGroup: scorer.flush,
      chunkPositions: model.scoringChunkPositions)
  }

  public func lengthBudget(_ rollouts: [PolicyRollout<Completion>]) -> Int { sampling.maxNewTokens }

  public func namedParameters() -> [(String, Tensor)] { model.namedParameters() }

  public func savedState() -> [String: [Int64]] {
    tokenizerState.map { ["trainer/tokenizer": $0] } ?? [:]
  }

  public func stateProblems(_ state: TrainingState) -> [String] {
    tokenizerProblems(state, alphabet: tokenizerState)
  }
}

/// A reasoning task's training prompts as GRPO contexts: rewards from the task's verifier,
/// planning tokens from strategic-gram phrases, completions logged to completions.jsonl.
public final class LanguageModelTask<Model: CausalLanguageModel, Tok: TextTokenizer>: GRPOTask {
  public typealias Policy = LanguageModelPolicy<Model, Tok>

  public let task: any ReasoningTask
  public let prompts: [TaskPrompt]
  public let contexts: [[Int]]
  public let contextIDs: [String]
  /// A reward above this counts as a success (Knapsack-RL).
  public let successThreshold: Double
  /// HICRA's planning phrases; nil when none are configured.
  public let planning: PhraseMatcher?
  /// The longest completion the evaluation generates.
  public let evaluationMaxNewTokens: Int
  let tokenizer: Tok
  /// A prompt as the model's input ids (`allot evaluate` encodes other prompts with it).
  let encode: (TaskPrompt) throws -> [Int]
  /// Text a checkpoint keeps so the model can be rebuilt without its files (a pretrained
  /// model's descriptor), compared on restore.
  public var savedStrings: [String: String] = [:]
  /// The reward as named components (`rewards`); nil: the task's verifier alone.
  var composite: CompositeReward?
  /// The components of the rewards scored last, for completions.jsonl.
  var scoredComponents: [(name: String, values: [Double])] = []
  /// Rows per batch when `allot evaluate` samples.
  public var evaluationBatchSize = 256
  let evaluation: () -> [String: Double]
  /// Prompts per logged step whose completions are written, and the logging cadence.
  let completionsLogged: Int
  let logEvery: Int
  var completionsFile: URL?

  /// `encode` turns a prompt into the model's input ids; `evaluation` measures the policy on
  /// held-out prompts.
  public init(
    task: any ReasoningTask, tokenizer: Tok, encode: @escaping (TaskPrompt) throws -> [Int],
    successThreshold: Double, planning: PhraseMatcher?, completionsLogged: Int, logEvery: Int,
    evaluationMaxNewTokens: Int, evaluation: @escaping () -> [String: Double]
  ) throws {
    self.task = task
    prompts = task.prompts(.train)
    contexts = try prompts.map(encode)
    contextIDs = prompts.map(\.id)
    self.tokenizer = tokenizer
    self.encode = encode
    self.successThreshold = successThreshold
    self.planning = planning
    self.completionsLogged = completionsLogged
    self.logEvery = logEvery
    self.evaluationMaxNewTokens = evaluationMaxNewTokens
    self.evaluation = evaluation
  }

  /// The GRPO contexts of `task` as `config` sets them up (its reward components, HICRA's
  /// phrases, completions logging), evaluated by greedy pass@1 of `model` on `evaluated`,
  /// `evaluationBatch` prompts at a time, split across `parallel`'s shards.
  convenience init(
    grpo config: ExperimentConfig, task: any ReasoningTask, model: Model, tokenizer: Tok,
    encode: @escaping (TaskPrompt) throws -> [Int], evaluated: [TaskPrompt],
    evaluationBatch: Int, parallel: DataParallel
  ) throws {
    let maxNewTokens = config.evaluation.maxNewTokens
    try self.init(
      task: task, tokenizer: tokenizer, encode: encode,
      successThreshold: config.knapsack.successThreshold,
      planning: try planningPhrases(config.hicra, task: task),
      completionsLogged: config.grpo.completionsLogged, logEvery: config.logging.every,
      evaluationMaxNewTokens: maxNewTokens,
      evaluation: {
        greedyPassAt1(
          model, tokenizer: tokenizer, task: task, prompts: evaluated, encode: encode,
          maxNewTokens: maxNewTokens, batchSize: evaluationBatch, parallel: parallel)
      })
    composite = CompositeReward(config, task: task)
    evaluationBatchSize = evaluationBatch
  }

  public var progressKeys: [String] { ["reward/mean", "eval/pass1"] }

  public func score(_ rollouts: [PolicyRollout<Completion>], batch: [Int]) throws -> RolloutScores {
    var metrics: [String: Double] = [:]
    let rewards: [Double]
    if let composite {
      let scored = try composite.score(
        rollouts.map {
          RewardInput(
            prompt: prompts[batch[$0.context]], text: $0.decisions.text, tokens: $0.length,
            finished: $0.finished)
        })
      rewards = scored.totals
      scoredComponents = scored.components
      for component in scored.components {
        metrics["reward/\(component.name)"] = mean(component.values)
      }
    } else {
      rewards = rollouts.map {
        task.reward(prompts[batch[$0.context]], completion: $0.decisions.text)
      }
    }
    if let planning {
      let counts = planning.occurrenceCounts(in: rollouts.map(\.decisions.text))
      // In phrase order, so that the sum does not follow the dictionary's hash seed.
      metrics["hicra/semanticEntropy"] = semanticEntropy(
        counts.sorted { $0.key < $1.key }.map(\.value))
      metrics["hicra/occurrences"] = Double(counts.values.reduce(0, +))
    }
    return RolloutScores(
      rewards: rewards, successes: rewards.map { $0 > successThreshold }, metrics: metrics)
  }

  /// Token k plans when its characters lie in a strategic-gram occurrence. A byte-level
  /// token can hold part of a character (its own decoding is then U+FFFD), and decoded
  /// pieces can join into fewer characters than they count alone, so spans are clamped to
  /// the completion's text.
  public func planningMasks(_ rollouts: [PolicyRollout<Completion>]) -> [[Bool]]? {
    guard let planning else { return nil }
    return rollouts.map { r in
      let length = r.decisions.text.count
      var start = 0
      let spans = r.decisions.tokens.map { token in
        let end = min(start + tokenizer.decode([token]).count, length)
        defer { start = end }
        return start..<end
      }
      return planning.mask(text: r.decisions.text, tokenSpans: spans)
    }
  }

  public func finishStep(
    _ step: Int, rollouts: [PolicyRollout<Completion>], batch: [Int], scores: RolloutScores,
    advantages: [Double]
  ) -> [String: Double] {
    guard step % logEvery == 0, let file = completionsFile, completionsLogged > 0 else {
      return [:]
    }
    let lines = rollouts.indices.filter { rollouts[$0].context < completionsLogged }.map { i in
      let prompt = prompts[batch[rollouts[i].context]]
      return JSONValue.object([
        "step": .number(Double(step)), "promptId": .string(prompt.id),
        "prompt": .string(prompt.text), "completion": .string(rollouts[i].decisions.text),
        "reward": .number(scores.rewards[i]), "advantage": .number(advantages[i]),
        "finished": .bool(rollouts[i].finished),
        "rewards": .object(
          Dictionary(
            uniqueKeysWithValues: scoredComponents.map { ($0.name, .number($0.values[i])) })),
      ])
    }
    try? appendJSONLines(lines, to: file)
    return [:]
  }

  public func evaluate() -> [String: Double] { evaluation() }

  public func save(into state: inout TrainingState) {
    state.strings.merge(savedStrings) { $1 }
  }

  public func restorer(_ state: TrainingState, problems: inout [String]) -> () -> Void {
    for (name, text) in savedStrings.sorted(by: { $0.key < $1.key }) {
      if state.strings[name] == nil {
        problems.append("missing the root attribute @\(name)")
      } else if state.strings[name] != text {
        problems.append("@\(name) differs from this model's")
      }
    }
    return {}
  }

  public func attach(runDirectory: URL, resumedAt step: Int?) throws {
    let file = runDirectory.appendingPathComponent("completions.jsonl")
    completionsFile = file
    try truncateJSONL(file, keepingStepsThrough: step ?? 0)
  }
}

/// GRPO of Allot's transformer on a reasoning task.
public typealias TransformerGRPOTrainer = GRPOTrainer<LanguageModelTask<TransformerLM, Tokenizer>>

extension GRPOTrainer: LanguageModelTrainer
where Task == LanguageModelTask<TransformerLM, Tokenizer> {
  public var languageModel: TransformerLM { policy.model }
  public var tokenizer: Tokenizer { policy.tokenizer }
}
