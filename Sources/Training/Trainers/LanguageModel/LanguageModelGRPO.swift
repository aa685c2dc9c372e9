import Checkpoint
import Foundation
import GRPO
import NN
import Optim
import Reasoning
import TensorCore

/// Group Relative Policy Optimization of the transformer policy (docs/grpo.md): each step
/// draws M prompts, samples N completions per prompt without the tape, scores them with
/// the task's reward, turns rewards into group advantages keyed by prompt id, and takes μ
/// optimizer steps on the clipped surrogate (+ β·KL), accumulating minibatch gradients.
public final class GRPOTrainer: PolicyTrainer {
  public let config: ExperimentConfig
  public let policy: TransformerLM
  /// The frozen starting policy for the KL term; nil when β = 0.
  public let reference: TransformerLM?
  public let tokenizer = Tokenizer()
  public let task: any ReasoningTask
  public let optimizer: any Optimizer
  public private(set) var step = 0
  let prompts: [TaskPrompt]
  let encoded: [[Int]]
  public let evaluationPrompts: [TaskPrompt]
  var cursor: EpochCursor
  var samplingRNG: RandomState
  var completionsFile: URL?
  /// Per-prompt reward histories for Knapsack-RL (kept even when it is off).
  var history: RewardHistory
  /// The strategic-gram detector: HICRA's planning tokens, and planning metrics even
  /// when HICRA is off. Nil when no phrases are configured.
  let planning: PhraseMatcher?

  /// A trainer for `config`; `task` replaces the config's task (tests and embedding code).
  /// `loadingInitFrom: false` skips `grpo.initFrom`: when a checkpoint is restored next,
  /// it carries the policy (and the reference), so the warm start need not exist any more.
  public init(
    config: ExperimentConfig, task: (any ReasoningTask)? = nil, loadingInitFrom: Bool = true
  ) throws {
    self.config = config
    self.task = try task ?? makeTask(config.task)
    var root = RandomState(seed: UInt64(config.run.seed))
    var modelRNG = root.split()
    samplingRNG = root.split()
    let cursorSeed = root.next()
    policy = makePolicy(config.model, tokenizer: tokenizer, rng: &modelRNG)
    if loadingInitFrom && !config.grpo.initFrom.isEmpty {
      try Self.load(
        config.grpo.initFrom, root: config.run.outputDir, into: policy, model: config.model)
    }
    if config.grpo.beta > 0 {
      var unused = RandomState(seed: 0)
      let frozen = makePolicy(config.model, tokenizer: tokenizer, rng: &unused)
      frozen.copyParameters(from: policy)
      for p in frozen.parameters { p.requiresGrad = false }
      reference = frozen
    } else {
      reference = nil
    }
    optimizer = makeOptimizer(
      config.optimizer, steps: config.run.steps * config.grpo.epochs,
      parameters: policy.namedParameters())
    let tokenizer = self.tokenizer
    let trainPrompts = self.task.prompts(.train)
    prompts = trainPrompts
    encoded = try trainPrompts.map { try encodePrompt($0, tokenizer: tokenizer) }
    let longest = encoded.map(\.count).max() ?? 0
    guard longest + config.grpo.maxCompletionLength <= config.model.context else {
      throw ConfigError(
        source: "task", path: "grpo.maxCompletionLength",
        message:
          "is \(config.grpo.maxCompletionLength); with prompts of up to \(longest) tokens it must be ≤ "
          + "model.context − \(longest) = \(config.model.context - longest)")
    }
    let test = self.task.prompts(.test)
    evaluationPrompts =
      config.evaluation.prompts > 0 ? Array(test.prefix(config.evaluation.prompts)) : test
    for prompt in evaluationPrompts { _ = try encodePrompt(prompt, tokenizer: tokenizer) }
    cursor = EpochCursor(count: trainPrompts.count, seed: cursorSeed)
    var phrases = config.hicra.phrases
    if !config.hicra.phrasesFile.isEmpty {
      guard let data = FileManager.default.contents(atPath: config.hicra.phrasesFile) else {
        throw ConfigError(
          source: config.hicra.phrasesFile, path: "hicra.phrasesFile",
          message: "names a file that cannot be read")
      }
      phrases += String(decoding: data, as: UTF8.self).split(separator: "\n")
        .map { line in
          // Drop a trailing "# comment" (allot mine writes the support count there).
          let text =
            line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
          return text.trimmingCharacters(in: .whitespaces)
        }
        .filter { !$0.isEmpty }
    }
    if config.hicra.useTaskPhrases { phrases += self.task.planningPhrases }
    planning = phrases.isEmpty ? nil : PhraseMatcher(phrases: phrases)
    let k = config.knapsack
    history = RewardHistory(
      window: k.window, minimum: k.minimum, threshold: k.successThreshold,
      prior: (k.priorSuccesses, k.priorFailures))
  }

  /// Copies the model of checkpoint `path` into `policy`, refusing another model. `path`
  /// is a checkpoint file, a run directory, or `auto:<experiment>` (the newest run of that
  /// experiment under `root`).
  static func load(_ path: String, root: String, into policy: TransformerLM, model: ModelConfig)
    throws
  {
    let found =
      path.hasPrefix("auto:")
      ? try RunCheckpoints.locate("auto", experiment: String(path.dropFirst(5)), root: root)
      : try RunCheckpoints.locate(path, experiment: "", root: ".")
    let loaded = try CheckpointFiles.decode(found.data, file: found.url.path)
    let saved = try ConfigLoader.decode(configJSON: loaded.configJSON, source: found.url.path)
    let differences = try ConfigLoader.differences(
      saved,
      {
        var c = saved; c.model = model; return c
      }())
    guard differences.isEmpty else {
      throw ConfigError(
        source: found.url.path, path: differences.joined(separator: ", "),
        message:
          "differs between this config and the grpo.initFrom checkpoint; the policy must have the checkpoint's shape"
      )
    }
    try found.data.restore(policy.namedParameters(), prefix: "model", file: found.url.path)
  }

  public var progressKeys: [String] { ["reward/mean", "eval/pass1"] }

  public func attach(runDirectory: URL, resumedAt step: Int?) throws {
    let file = runDirectory.appendingPathComponent("completions.jsonl")
    completionsFile = file
    try truncateJSONL(file, keepingStepsThrough: step ?? 0)
  }

  public func trainStep() -> [String: Double] {
    let g = config.grpo
    let started = DispatchTime.now().uptimeNanoseconds
    let chosen = cursor.next(g.promptsPerStep)
    let batchPrompts = chosen.map { prompts[$0] }
    let batchTokens = chosen.map { encoded[$0] }
    let (budgets, budgetMetrics) = rolloutBudgets(
      estimates: batchPrompts.map { history.estimate($0.id) }, config: config)
    let options = SamplingOptions(
      temperature: Float(g.temperature), topP: Float(g.topP), topK: g.topK,
      maxNewTokens: g.maxCompletionLength)
    let rollouts = policy.sample(
      prompts: batchTokens, counts: budgets, options: options, rng: &samplingRNG)
    let sampled = DispatchTime.now().uptimeNanoseconds
    let texts = rollouts.map { tokenizer.decode($0.tokens) }
    let rewards = zip(rollouts, texts).map {
      task.reward(batchPrompts[$0.promptIndex], completion: $1)
    }
    let groups = rollouts.map { batchPrompts[$0.promptIndex].id }
    for (i, prompt) in batchPrompts.enumerated() {
      history.record(
        prompt.id, rewards: zip(rollouts, rewards).filter { $0.0.promptIndex == i }.map(\.1))
    }
    let advantages = groupAdvantages(
      rewards: rewards, groups: groups,
      scaling: AdvantageScaling(rawValue: g.advantageScaling.rawValue)!,
      clip: g.advantageClip)

    let (tokenAdvantages, planningMetrics) = creditTokens(
      rollouts: rollouts, texts: texts, rewards: rewards, advantages: advantages, groups: groups)

    // Shuffled order, then μ passes over minibatches with gradient accumulation.
    var order = Array(rollouts.indices)
    order.shuffle(using: &samplingRNG)
    let masks = rollouts.map { r in
      [Float](repeating: g.maskTruncated && !r.finished ? 0 : 1, count: r.tokens.count)
    }
    let surrogate = SurrogateOptions(
      epsilonLow: Float(g.epsilonLow), epsilonHigh: Float(g.epsilonHigh),
      dualClip: g.dualClip > 0 ? Float(g.dualClip) : nil, beta: Float(g.beta),
      aggregation: LossAggregation(rawValue: g.lossAggregation.rawValue)!,
      maxCompletionLength: g.maxCompletionLength)
    let learningRate = optimizer.currentLearningRate
    let completions = rollouts.map(\.tokens)
    let indices = rollouts.map(\.promptIndex)
    let temperature = Float(g.temperature)
    let (statistics, gradNorms) = clippedSurrogateUpdate(
      RolloutBatch(
        oldLogProbs: rollouts.map(\.logProbs), advantages: tokenAdvantages, masks: masks),
      order: order, options: surrogate, epochs: g.epochs, minibatch: g.minibatchSize,
      chunk: policy.rowsPerChunk(
        positions: (batchTokens.map(\.count).max() ?? 0) + (completions.map(\.count).max() ?? 0)),
      optimizer: optimizer, parameters: policy.parameters, gradClip: config.optimizer.gradClip,
      score: { rows in
        self.policy.logProbabilities(
          prompts: batchTokens, promptIndices: rows.map { indices[$0] },
          completions: rows.map { completions[$0] }, temperature: temperature
        ).logProbs
      },
      reference: reference.map { ref in
        { rows in
          withoutGrad {
            ref.logProbabilities(
              prompts: batchTokens, promptIndices: rows.map { indices[$0] },
              completions: rows.map { completions[$0] }, temperature: temperature
            ).logProbs.scalars
          }
        }
      })
    step += 1
    let finished = DispatchTime.now().uptimeNanoseconds
    let summary = RewardSummary(rewards: rewards, groups: groups)
    let lengths = rollouts.map { Double($0.tokens.count) }
    let tokens = rollouts.reduce(0) { $0 + $1.tokens.count }
    let entropy = rollouts.flatMap(\.entropies).map(Double.init)
    func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }
    var metrics: [String: Double] = [
      "reward/mean": summary.mean, "reward/std": summary.std,
      "reward/fracZeroStd": summary.fractionZeroStd,
      "grad/effectiveRatio": summary.effectiveRatio,
      "grad/allPositiveRatio": summary.allPositiveRatio,
      "grad/allNegativeRatio": summary.allNegativeRatio, "grad/norm": Double(gradNorms.last ?? 0),
      "completion/meanLength": mean(lengths),
      "completion/clippedRatio": Double(rollouts.filter { !$0.finished }.count)
        / Double(max(rollouts.count, 1)),
      "policy/entropy": mean(entropy),
      "policy/clipFracLow": mean(statistics.map(\.clipFractionLow)),
      "policy/clipFracHigh": mean(statistics.map(\.clipFractionHigh)),
      "loss/policy": mean(statistics.map(\.policyLoss)), "loss/kl": mean(statistics.map(\.kl)),
      "budget/max": Double(budgets.max() ?? 0), "budget/min": Double(budgets.min() ?? 0),
      "optim/learningRate": Double(learningRate), "data/epoch": Double(cursor.epoch),
      "perf/sampleSeconds": Double(sampled - started) / 1e9,
      "perf/trainSeconds": Double(finished - sampled) / 1e9,
      "perf/tokensPerSec": Double(tokens) / (Double(finished - started) / 1e9),
    ]
    metrics.merge(budgetMetrics) { $1 }
    metrics.merge(planningMetrics) { $1 }
    let groupSets = Dictionary(grouping: zip(groups, rewards), by: \.0).mapValues {
      Set($0.map(\.1)).count > 1
    }
    metrics["grad/effectivePromptRatio"] =
      Double(groupSets.values.filter { $0 }.count) / Double(max(groupSets.count, 1))
    if step % config.logging.every == 0 {
      logCompletions(
        batchPrompts: batchPrompts, rollouts: rollouts, texts: texts, rewards: rewards,
        advantages: advantages)
    }
    return metrics
  }

  /// Per-token advantages (HICRA's rule when enabled) and the planning metrics.
  func creditTokens(
    rollouts: [Rollout], texts: [String], rewards: [Double], advantages: [Double], groups: [String]
  ) -> ([[Float]], [String: Double]) {
    let h = config.hicra
    // Planning masks: token k of a completion is character k of its text (EOS has none).
    let masks: [[Bool]] = zip(rollouts, texts).map { r, text in
      guard let planning else { return [Bool](repeating: false, count: r.tokens.count) }
      let spans = (0..<r.tokens.count).map { $0 < text.count ? $0..<($0 + 1) : $0..<$0 }
      return planning.mask(text: text, tokenSpans: spans)
    }
    // Entropy variants (not from the paper): high-entropy tokens of correct completions
    // longer than their group's mean length.
    var groupLength: [String: (Int, Int)] = [:]
    for (r, g) in zip(rollouts, groups) {
      groupLength[g, default: (0, 0)].0 += r.tokens.count; groupLength[g, default: (0, 0)].1 += 1
    }
    let entropyMasks: [[Bool]] = rollouts.indices.map { i in
      let r = rollouts[i]
      let (total, count) = groupLength[groups[i]]!
      guard h.variant != .paper, rewards[i] >= 1,
        Double(r.tokens.count) > Double(total) / Double(count), !r.entropies.isEmpty
      else { return [Bool](repeating: false, count: r.tokens.count) }
      let sorted = r.entropies.sorted()
      let cut = sorted[min(sorted.count - 1, Int(Double(sorted.count) * h.entropyPercentile))]
      return r.entropies.map { $0 > cut }
    }
    var tokenAdvantages: [[Float]] = []
    for i in rollouts.indices {
      let amplified: [Bool] =
        switch h.variant {
        case .paper: masks[i]
        case .entropyAugmented: zip(masks[i], entropyMasks[i]).map { $0 || $1 }
        case .entropyOnly: entropyMasks[i]
        }
      let values =
        h.enabled
        ? hicraAdvantages(advantages[i], planning: amplified, alpha: h.alpha)
        : [Double](repeating: advantages[i], count: rollouts[i].tokens.count)
      tokenAdvantages.append(values.map(Float.init))
    }
    guard let planning else { return (tokenAdvantages, [:]) }
    var planEntropy: [Double] = []
    var execEntropy: [Double] = []
    var planLogP: [Double] = []
    var execLogP: [Double] = []
    var planAdv: [Double] = []
    var execAdv: [Double] = []
    var all: [(entropy: Float, planning: Bool)] = []
    for i in rollouts.indices {
      for k in rollouts[i].tokens.indices {
        let isPlan = masks[i][k]
        all.append((rollouts[i].entropies[k], isPlan))
        if isPlan {
          planEntropy.append(Double(rollouts[i].entropies[k]))
          planLogP.append(Double(rollouts[i].logProbs[k]))
          planAdv.append(Double(tokenAdvantages[i][k]))
        } else {
          execEntropy.append(Double(rollouts[i].entropies[k]))
          execLogP.append(Double(rollouts[i].logProbs[k]))
          execAdv.append(Double(tokenAdvantages[i][k]))
        }
      }
    }
    func mean(_ xs: [Double]) -> Double { xs.isEmpty ? .nan : xs.reduce(0, +) / Double(xs.count) }
    let counts = planning.occurrenceCounts(in: texts)
    let top = all.sorted { $0.entropy > $1.entropy }.prefix(
      Int((Double(all.count) * 0.3).rounded(.up)))
    return (
      tokenAdvantages,
      [
        "hicra/planningRatio": Double(planEntropy.count) / Double(max(all.count, 1)),
        "hicra/semanticEntropy": semanticEntropy(Array(counts.values)),
        "hicra/occurrences": Double(counts.values.reduce(0, +)),
        "hicra/tokenEntropyPlanning": mean(planEntropy),
        "hicra/tokenEntropyExecution": mean(execEntropy),
        "hicra/perplexityPlanning": Foundation.exp(-mean(planLogP)),
        "hicra/perplexityExecution": Foundation.exp(-mean(execLogP)),
        "hicra/planningAdvantageMean": mean(planAdv), "hicra/executionAdvantageMean": mean(execAdv),
        "hicra/planningHighEntropyOverlap": top.isEmpty
          ? .nan : Double(top.filter(\.planning).count) / Double(top.count),
      ]
    )
  }

  private func logCompletions(
    batchPrompts: [TaskPrompt], rollouts: [Rollout], texts: [String], rewards: [Double],
    advantages: [Double]
  ) {
    guard let file = completionsFile, config.grpo.completionsLogged > 0 else { return }
    var lines = ""
    for (i, r) in rollouts.enumerated() where r.promptIndex < config.grpo.completionsLogged {
      let prompt = batchPrompts[r.promptIndex]
      let object: JSONValue = .object([
        "step": .number(Double(step)), "promptId": .string(prompt.id),
        "prompt": .string(prompt.text),
        "completion": .string(texts[i]), "reward": .number(rewards[i]),
        "advantage": .number(advantages[i]),
        "finished": .bool(r.finished),
      ])
      if let data = try? object.data() { lines += String(decoding: data, as: UTF8.self) + "\n" }
    }
    try? appendText(lines, to: file)
  }

  var core: CoreState { CoreState(model: policy, optimizer: optimizer, step: step, cursor: cursor) }

  public func state() -> TrainingState {
    var state = core.saved()
    if let reference { state.add(reference, prefix: "reference") }
    state.integers["trainer/tokenizer"] = tokenizer.savedAlphabet
    state.integers["rng/sampling"] = samplingRNG.savedWords
    state.add(history, ids: prompts.map(\.id))
    return state
  }

  public func restore(_ state: TrainingState) throws {
    var problems = tokenizerProblems(state)
    let rng = state.integer("rng/sampling", count: 4, problems: &problems)
    // Reward histories: checked before anything is copied.
    let restoredHistory = state.rewardHistory(
      like: history, ids: prompts.map(\.id), problems: &problems)
    let referenceTargets = reference?.namedParameters().map { ("reference/\($0.0)", $0.1) } ?? []
    (step, cursor) = try core.restore(
      from: state, extraTargets: referenceTargets, problems: problems)
    samplingRNG = RandomState(savedWords: rng)
    history = restoredHistory
  }

}

/// Appends text to a file, creating it.
func appendText(_ text: String, to url: URL) throws {
  if !FileManager.default.fileExists(atPath: url.path) {
    FileManager.default.createFile(atPath: url.path, contents: nil)
  }
  let handle = try FileHandle(forWritingTo: url)
  defer { try? handle.close() }
  try handle.seekToEnd()
  try handle.write(contentsOf: Data(text.utf8))
}

/// Drops the lines of a JSONL log whose "step" is after `step` (a resumed run rewrites
/// them), keeping the rest.
func truncateJSONL(_ url: URL, keepingStepsThrough step: Int) throws {
  guard let data = FileManager.default.contents(atPath: url.path) else { return }
  let kept = String(decoding: data, as: UTF8.self).split(separator: "\n").filter { line in
    guard case .object(let fields)? = try? JSONValue.parse(Data(line.utf8), source: url.path),
      case .number(let s)? = fields["step"]
    else { return false }
    return Int(s) <= step
  }
  try Data(kept.map { $0 + "\n" }.joined().utf8).write(to: url, options: .atomic)
}
