import Checkpoint
import Foundation
import GRPO
import Optim
import Reasoning
import TensorCore
import TestSupport
import Testing

@testable import Training

/// Reward 1 when the completion starts with a digit: about 1 in 10 for a random policy.
struct LeadingDigitTask: ReasoningTask {
  var name: String { "leading-digit" }
  var difficulties: [String] { ["all"] }
  func prompts(_ split: Split) -> [TaskPrompt] {
    (0..<20).map {
      TaskPrompt(id: "\(split.rawValue)-\($0)", text: "Q\($0 % 5)\n", answer: "", difficulty: "all")
    }
  }
  func reward(_ prompt: TaskPrompt, completion: String) -> Double {
    completion.first.map { $0.isNumber ? 1 : 0 } ?? 0
  }
  func solution(_ prompt: TaskPrompt) -> String? { nil }
}

/// A GRPO config small enough to train in a test: 4 prompts × 8 completions of 3 tokens.
func tinyGRPO(steps: Int, seed: Int = 0) -> ExperimentConfig {
  var c = ExperimentConfig()
  c.kind = .grpo
  c.run.steps = steps
  c.run.seed = seed
  c.model = ModelConfig(
    layers: 1, heads: 2, width: 16, context: 16, mlpRatio: 2, tiedEmbeddings: false)
  c.grpo.promptsPerStep = 4
  c.grpo.groupSize = 8
  c.grpo.maxCompletionLength = 3
  c.grpo.minibatchSize = 12
  c.grpo.epochs = 2
  c.grpo.beta = 0.01
  c.optimizer.learningRate = 0.02
  c.optimizer.schedule = .constant
  c.evaluation.prompts = 4
  c.evaluation.maxNewTokens = 3
  return c
}

@Test func grpoRaisesTheRewardOfAPartlySolvedTask() throws {
  let trainer = try GRPOTrainer(config: tinyGRPO(steps: 30), task: LeadingDigitTask())
  var rewards: [Double] = []
  for _ in 0..<30 { rewards.append((try trainer.trainStep())["reward/mean"]!) }
  let early = rewards.prefix(5).reduce(0, +) / 5
  let late = rewards.suffix(5).reduce(0, +) / 5
  #expect(early < 0.3, "early reward \(early)")
  #expect(late - early > 0.4, "reward went from \(early) to \(late): \(rewards)")
}

/// The schedule-side variants, each on its own (and Knapsack-RL under each of its options).
private let variants = [
  "default", "knapsack", "dynamicSampling", "stepsPerBatch", "referenceSync", "solvedBudgets",
  "totalBudget", "expectationCost", "slidingWindow",
]

private func tinyGRPO(steps: Int, variant: String) -> ExperimentConfig {
  var config = tinyGRPO(steps: steps)
  config.knapsack.enabled = !["default", "dynamicSampling", "stepsPerBatch", "referenceSync"]
    .contains(variant)
  config.knapsack.minimum = 4
  config.knapsack.window = 8
  switch variant {
  case "dynamicSampling":
    config.dynamicSampling.enabled = true
    config.dynamicSampling.maxDraws = 3
  case "stepsPerBatch": config.grpo.stepsPerBatch = 3
  case "referenceSync":
    config.grpo.referenceSyncEvery = 2
    config.grpo.referenceSyncAlpha = 0.5
  case "solvedBudgets":
    config.knapsack.neverSolvedBudget = 4
    config.knapsack.alwaysSolvedBudget = 3
  case "totalBudget": config.knapsack.totalBudget = 20
  case "expectationCost": config.knapsack.costModel = .expectation
  case "slidingWindow": config.knapsack.estimator = .slidingWindow
  default: break
  }
  return config
}

@Test(arguments: variants) func grpoResumesBitForBit(variant: String) throws {
  let config = tinyGRPO(steps: 6, variant: variant)
  let straight = try GRPOTrainer(config: config, task: LeadingDigitTask())
  var straightMetrics: [[String: Double]] = []
  for _ in 0..<6 {
    straightMetrics.append((try straight.trainStep()).filter { !$0.key.hasPrefix("perf/") })
  }

  let first = try GRPOTrainer(config: config, task: LeadingDigitTask())
  var resumedMetrics: [[String: Double]] = []
  for _ in 0..<3 {
    resumedMetrics.append((try first.trainStep()).filter { !$0.key.hasPrefix("perf/") })
  }
  let saved = first.state()
  #expect(saved.tensor("reference/head.weight") != nil)  // β > 0 keeps the reference
  #expect(saved.integers["rng/sampling"]?.count == 4)
  let second = try GRPOTrainer(config: config, task: LeadingDigitTask())
  try second.restore(saved)
  #expect(second.step == 3)
  for _ in 0..<3 {
    resumedMetrics.append((try second.trainStep()).filter { !$0.key.hasPrefix("perf/") })
  }
  #expect(resumedMetrics == straightMetrics)
  #expect(second.policy.parameters.map(\.scalars) == straight.policy.parameters.map(\.scalars))
  #expect(
    second.reference!.parameters.map(\.scalars) == straight.reference!.parameters.map(\.scalars))
}

@Test func grpoMetricsAreConsistent() throws {
  let trainer = try GRPOTrainer(config: tinyGRPO(steps: 1), task: LeadingDigitTask())
  let m = (try trainer.trainStep())
  #expect(m["budget/max"] == 8 && m["budget/min"] == 8)
  #expect(m["completion/meanLength"]! <= 3)
  #expect((0...1).contains(m["grad/effectiveRatio"]!))
  #expect(
    abs(m["reward/fracZeroStd"]! - (m["grad/allPositiveRatio"]! + m["grad/allNegativeRatio"]!))
      < 1e-12)
  #expect(m["loss/kl"]! >= 0)
  #expect(m["policy/entropy"]! > 0)
}

@Test func grpoRefusesAnInitCheckpointOfAnotherShape() throws {
  let root = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-grpo-\(UUID().uuidString)")
  let (status, _, err) = try TrainProcess.run([
    "--quiet", "--output", root.path, "--set", "kind=sft", "--set", "run.steps=1", "--set",
    "model.layers=1",
    "--set", "model.width=16", "--set", "model.heads=2", "--set", "model.context=160", "--set",
    "task.maxDigits=1",
    "--set", "task.trainSize=10", "--set", "task.testSize=2", "--set", "sft.batchSize=2", "--set",
    "evaluation.prompts=1",
    "--set", "evaluation.maxNewTokens=20",
  ])
  #expect(status == 0, "\(err)")
  let run = try FileManager.default.contentsOfDirectory(atPath: root.path).map {
    root.appendingPathComponent($0).path
  }[0]
  let (bad, _, badErr) = try TrainProcess.run([
    "--quiet", "--output", root.path, "--set", "kind=grpo", "--set", "grpo.initFrom=\(run)",
    "--set", "model.layers=2",
    "--set", "model.width=16", "--set", "model.heads=2", "--set", "model.context=160",
    "--set", "grpo.maxCompletionLength=20", "--set", "evaluation.maxNewTokens=20",
  ])
  #expect(bad == 1)
  #expect(
    badErr.contains(
      "config key 'model.layers' differs between this config and the grpo.initFrom checkpoint"))
  // The same shape starts from the checkpoint and trains.
  let (good, out, goodErr) = try TrainProcess.run([
    "--quiet", "--output", root.path, "--set", "kind=grpo", "--set", "grpo.initFrom=\(run)",
    "--set", "model.layers=1",
    "--set", "model.width=16", "--set", "model.heads=2", "--set", "model.context=160", "--set",
    "run.steps=2",
    "--set", "task.maxDigits=1", "--set", "task.trainSize=10", "--set", "task.testSize=2", "--set",
    "grpo.promptsPerStep=2",
    "--set", "grpo.groupSize=2", "--set", "grpo.maxCompletionLength=20", "--set",
    "evaluation.prompts=1",
    "--set", "evaluation.maxNewTokens=20", "--set", "logging.every=1",
  ])
  #expect(good == 0, "\(goodErr)")
  #expect(out.contains("done: step 2"))
  // Its checkpoints carry the policy: with the warm start gone, they still restore.
  let grpoRun = try #require(
    try FileManager.default.contentsOfDirectory(atPath: root.path).map {
      root.appendingPathComponent($0).path
    }.first { $0 != run })
  try FileManager.default.removeItem(atPath: run)
  let found = try RunCheckpoints.locate(grpoRun, experiment: "", root: ".")
  let restored = try restoredTrainer(found.data, file: found.url.path)
  #expect(restored.step == 2)
}

@Test func knapsackBudgetsMoveRolloutsToInformativePrompts() throws {
  var config = tinyGRPO(steps: 12)
  config.knapsack.enabled = true
  config.knapsack.minimum = 4
  config.knapsack.window = 8
  config.knapsack.up = 20
  let trainer = try GRPOTrainer(config: config, task: LeadingDigitTask())
  var sawUneven = false
  for _ in 0..<12 {
    let m = (try trainer.trainStep())
    #expect(m["budget/min"]! >= 2 && m["budget/max"]! <= 20)
    if m["budget/max"]! != m["budget/min"]! { sawUneven = true }
  }
  #expect(sawUneven)  // once histories exist, budgets differ across prompts
  let state = trainer.state()
  let lengths = try #require(state.integers["trainer/history/visitLength"])
  #expect(Int(lengths.reduce(0, +)) == 12 * 4 * 8)  // every rollout recorded (M·N per step)
}

/// A task with planning words: reward for starting with a digit, planning phrase "Q".
struct PlannedDigitTask: ReasoningTask {
  var inner = LeadingDigitTask()
  var name: String { "planned-digit" }
  var difficulties: [String] { ["all"] }
  var planningPhrases: [String] { ["1", "2", "3"] }
  func prompts(_ split: Split) -> [TaskPrompt] { inner.prompts(split) }
  func reward(_ prompt: TaskPrompt, completion: String) -> Double {
    inner.reward(prompt, completion: completion)
  }
  func solution(_ prompt: TaskPrompt) -> String? { nil }
}

@Test func hicraWithAlphaZeroEqualsPlainGRPO() throws {
  var plain = tinyGRPO(steps: 3)
  plain.grpo.beta = 0
  var zero = plain
  zero.hicra.enabled = true
  zero.hicra.alpha = 0
  let a = try GRPOTrainer(config: plain, task: PlannedDigitTask())
  let b = try GRPOTrainer(config: zero, task: PlannedDigitTask())
  for _ in 0..<3 {
    _ = (try a.trainStep())
    _ = (try b.trainStep())
  }
  #expect(a.policy.parameters.map(\.scalars) == b.policy.parameters.map(\.scalars))
  var amplified = plain
  amplified.hicra.enabled = true
  amplified.hicra.alpha = 0.5
  let c = try GRPOTrainer(config: amplified, task: PlannedDigitTask())
  var metrics: [String: Double] = [:]
  for _ in 0..<3 { metrics = (try c.trainStep()) }
  #expect(c.policy.parameters.map(\.scalars) != a.policy.parameters.map(\.scalars))
  #expect(metrics["hicra/planningRatio"]! > 0 && metrics["hicra/planningRatio"]! < 1)
  #expect(metrics["hicra/occurrences"]! > 0)
}

@Test func hicraMetricsAgreeWithTheirDefinitions() throws {
  var config = tinyGRPO(steps: 1)
  config.hicra.enabled = true
  let trainer = try GRPOTrainer(config: config, task: PlannedDigitTask())
  let tokenizer = Tokenizer()
  func rollout(_ text: String, eos: Bool, logProbs: [Float], entropies: [Float]) throws
    -> PolicyRollout<Completion>
  {
    let tokens = try tokenizer.encode(text) + (eos ? [Tokenizer.eos] : [])
    return PolicyRollout(
      context: 0, decisions: Completion(tokens: tokens, text: text), logProbs: logProbs,
      entropies: entropies, lossMask: tokens.map { _ in 1 }, finished: eos)
  }
  let rollouts = [
    try rollout("1 ", eos: true, logProbs: [-1, -2, -3], entropies: [0.5, 1.5, 1.0]),
    try rollout("2 ", eos: false, logProbs: [-0.5, -0.25], entropies: [2, 0.25]),
  ]
  let planning = try #require(trainer.task.planningMasks(rollouts))
  let tokens = decisionAdvantages(
    [1, -1], rollouts: rollouts, planning: planning, rewards: [1, 0], groups: ["g", "g"],
    hicra: trainer.options.hicra)
  let m = planningMetrics(rollouts, planning: planning, credit: tokens)
  // Planning tokens: "1" and "2" (token 0 of each); EOS and the rest are execution.
  #expect(planning == [[true, false, false], [true, false]])
  let expectedFirst: [Float] = [1.2, 1, 1]
  let expectedSecond: [Float] = [-0.8, -1]
  #expect(tokens[0] == expectedFirst)
  #expect(tokens[1] == expectedSecond)
  #expect(abs(m["hicra/planningRatio"]! - 2.0 / 5) < 1e-12)
  #expect(abs(m["hicra/tokenEntropyPlanning"]! - 1.25) < 1e-12)
  #expect(abs(m["hicra/tokenEntropyExecution"]! - (1.5 + 1.0 + 0.25) / 3) < 1e-12)
  #expect(abs(m["hicra/perplexityPlanning"]! - Foundation.exp(0.75)) < 1e-9)
  #expect(abs(m["hicra/planningAdvantageMean"]! - 0.2) < 1e-6)
  // Top 30 % entropy of 5 tokens = 2 tokens: 2.0 (planning) and 1.5 (execution).
  #expect(abs(m["hicra/planningHighEntropyOverlap"]! - 0.5) < 1e-12)
  let scores = try trainer.task.score(rollouts, batch: [0])
  #expect(abs(scores.metrics["hicra/semanticEntropy"]! - Foundation.log(2)) < 1e-12)  // "1", "2"
  #expect(scores.successes == [true, true])  // both start with a digit
}

/// Eight rollouts of 0–4 tokens of a tiny transformer, their batch, and a fresh model and
/// SGD optimizer with the scoring function of the update.
private struct UpdateFixture {
  let prompts = [[0, 3, 4], [0, 5]]
  let completions = [[6, 7], [8], [], [9, 10, 11, 12], [3], [4, 5, 6], [7, 8], [9]]
  let indices = [0, 1, 0, 1, 0, 1, 0, 1]
  let order = [3, 0, 7, 2, 5, 1, 6, 4]
  var batch: RolloutBatch {
    RolloutBatch(
      oldLogProbs: completions.map { $0.map { _ in Float(-2.5) } },
      advantages: completions.indices.map { i in completions[i].map { _ in Float(i % 3) - 1 } },
      masks: completions.map { $0.map { _ in Float(1) } })
  }

  func model() -> (TransformerLM, SGD, ([Int]) -> Tensor) {
    var rng = RandomState(seed: 3)
    let model = TransformerLM(
      TransformerShape(vocabulary: 20, layers: 1, heads: 2, width: 16, context: 16), rng: &rng)
    let sgd = SGD(parameters: model.namedParameters(), learningRate: 0.1)
    return (
      model, sgd,
      { rows in
        model.logProbabilities(
          prompts: prompts, promptIndices: rows.map { indices[$0] },
          completions: rows.map { completions[$0] }
        ).logProbs
      }
    )
  }
}

@Test func chunkedScoringLeavesTheUpdateUnchanged() throws {
  // Minibatches of 5, scored 2 at a time or all at once: the same parameters after an SGD
  // step, and the same statistics.
  let fixture = UpdateFixture()
  func update(chunk: Int) throws -> ([[Float]], [SurrogateStatistics]) {
    let (model, sgd, score) = fixture.model()
    let (statistics, _, _) = try clippedSurrogateUpdate(
      fixture.batch, order: fixture.order, options: SurrogateOptions(), epochs: 1,
      minibatch: 5, chunk: chunk, optimizer: sgd, parameters: model.parameters, gradClip: 0,
      score: score, reference: nil)
    return (model.parameters.map(\.scalars), statistics)
  }
  let (whole, wholeStatistics) = try update(chunk: 0)
  let (chunked, chunkedStatistics) = try update(chunk: 2)
  for (a, e) in zip(chunked, whole) { #expect(isClose(a, e, atol: 1e-6, rtol: 1e-5)) }
  #expect(chunkedStatistics.count == 2)
  for (a, e) in zip(chunkedStatistics, wholeStatistics) {
    #expect(abs(a.policyLoss - e.policyLoss) < 1e-6)
    #expect(abs(a.clipFractionLow - e.clipFractionLow) < 1e-6)
    #expect(abs(a.clipFractionHigh - e.clipFractionHigh) < 1e-6)
  }
}

@Test func sharedPromptScoringLeavesTheUpdateUnchangedOnAnyShardCount() throws {
  // The fixture's update with each group's prompt scored once (deferred, its prefix flushed
  // after each group's chunks) against whole-sequence scoring: the same SGD step up to
  // rounding, with minibatches of 5, chunks of 2 rollouts (or of 5 decisions) and one or two
  // shards. Each shard's rollouts go by group, and every group's chunks end in one flush.
  let fixture = UpdateFixture()
  func update(shared: Bool, shards: Int, positions: Int = 0) throws -> ([[Float]], Int) {
    let (model, sgd, score) = fixture.model()
    let scorer = SharedPromptScorer(model: model, prompts: fixture.prompts, deferred: true)!
    var flushes = 0
    var last: Int? = nil
    _ = try clippedSurrogateUpdate(
      fixture.batch, order: fixture.order, options: SurrogateOptions(), epochs: 2,
      minibatch: 5, chunk: 2,
      parallel: try DataParallel(DistributedConfig(shards: shards, checkEvery: 0)),
      optimizer: sgd, parameters: model.parameters, gradClip: 0,
      groups: shared ? fixture.indices : nil, chunkPositions: positions,
      finishGroup: {
        flushes += 1
        last = nil
        scorer.flush()
      },
      score: { rows in
        guard shared else { return score(rows) }
        let group = fixture.indices[rows[0]]
        #expect(rows.allSatisfy { fixture.indices[$0] == group } && (last ?? group) == group)
        last = group
        let lengths = rows.map { fixture.completions[$0].count }
        #expect(lengths == lengths.sorted(by: >))
        #expect(positions == 0 || rows.count == 1 || rows.count * lengths[0] <= positions)
        return scorer.logProbabilities(
          promptIndices: rows.map { fixture.indices[$0] },
          completions: rows.map { fixture.completions[$0] })
      }, reference: nil)
    #expect(!scorer.hasPendingPrefixes)
    return (model.parameters.map(\.scalars), flushes)
  }
  let (whole, _) = try update(shared: false, shards: 1)
  #expect(whole != fixture.model().0.parameters.map(\.scalars))
  for shards in [1, 2] {
    let (shared, flushes) = try update(shared: true, shards: shards)
    for (a, e) in zip(shared, whole) { #expect(isClose(a, e, atol: 1e-6, rtol: 1e-5)) }
    // One flush per epoch, minibatch, shard and group present in that shard's part of it.
    var runs = 0
    for minibatch in [0..<5, 5..<8] {
      for shard in 0..<shards {
        let lower = max(minibatch.lowerBound, shard * 8 / shards)
        let upper = min(minibatch.upperBound, (shard + 1) * 8 / shards)
        runs += Set((lower..<max(lower, upper)).map { fixture.indices[fixture.order[$0]] }).count
      }
    }
    #expect(flushes == 2 * runs, "\(shards) shards")
    // Chunks of up to 5 decisions, padded to their longest rollout (longest first).
    let (budgeted, _) = try update(shared: true, shards: shards, positions: 5)
    for (a, e) in zip(budgeted, whole) { #expect(isClose(a, e, atol: 1e-6, rtol: 1e-5)) }
  }
}

/// A word-level tokenizer: each vocabulary word one token (what a pretrained model's
/// subword tokenizer looks like to the GRPO step: tokens of several characters).
struct WordTokenizer: TextTokenizer {
  let words = ["<bos>", "<eos>", "<pad>", "Q", "1", "2", "3", "go ", "stop "]
  func encode(_ text: String) throws -> [Int] {
    text.split(separator: " ").map { w in words.firstIndex(of: String(w)) ?? 2 }
  }
  func decode(_ tokens: [Int]) -> String {
    tokens.prefix { $0 != 1 }.filter { $0 > 2 }.map { words[$0] }.joined()
  }
}

/// Reward 1 when the completion says "go".
struct GoTask: ReasoningTask {
  var name: String { "go" }
  var difficulties: [String] { ["all"] }
  var planningPhrases: [String] { ["go"] }
  func prompts(_ split: Split) -> [TaskPrompt] {
    (0..<4).map { TaskPrompt(id: "\($0)", text: "Q", answer: "", difficulty: "all") }
  }
  func reward(_ prompt: TaskPrompt, completion: String) -> Double {
    completion.hasPrefix("go") ? 1 : 0
  }
  func solution(_ prompt: TaskPrompt) -> String? { nil }
}

@Test func anyLanguageModelAndTokenizerTrainThroughTheOneStep() throws {
  var rng = RandomState(seed: 1)
  let tokenizer = WordTokenizer()
  let model = TransformerLM(
    TransformerShape(vocabulary: tokenizer.words.count, layers: 1, heads: 2, width: 16, context: 8),
    rng: &rng)
  let policy = LanguageModelPolicy(
    model: model, tokenizer: tokenizer, sampling: SamplingOptions(maxNewTokens: 3),
    maskTruncated: false, fingerprint: "word-level test model")
  let task = try LanguageModelTask<TransformerLM, WordTokenizer>(
    task: GoTask(), tokenizer: tokenizer, encode: { try [0] + tokenizer.encode($0.text) },
    successThreshold: 0.5, planning: PhraseMatcher(phrases: ["go"]), completionsLogged: 0,
    logEvery: 1, evaluationMaxNewTokens: 3, evaluation: { [:] })
  var config = ExperimentConfig()
  config.grpo.promptsPerStep = 4
  config.grpo.groupSize = 4
  config.hicra.enabled = true
  let trainer = GRPOTrainer(
    task: task, policy: policy, reference: nil, options: GRPOOptions(config),
    optimizer: SGD(parameters: model.namedParameters(), learningRate: 0.1),
    samplingRNG: RandomState(seed: 2), cursorSeed: 3)
  let before = model.parameters.map(\.scalars)
  for _ in 0..<5 {
    let m = (try trainer.trainStep())
    #expect(m["budget/max"] == 4 && m["completion/meanLength"]! <= 3)
    #expect((0...1).contains(m["hicra/planningRatio"]!))
  }
  #expect(trainer.step == 5)
  #expect(model.parameters.map(\.scalars) != before)
  // "go " is one token of three characters: when sampled, it is a planning token.
  let rollout = PolicyRollout(
    context: 0, decisions: Completion(tokens: [7, 4, 1], text: "go 1"), logProbs: [0, 0, 0],
    entropies: [0, 0, 0], lossMask: [1, 1, 1], finished: true)
  #expect(task.planningMasks([rollout]) == [[true, false, false]])
}

/// The single-step update written out: every minibatch of `rows` accumulates into one
/// gradient, normalised by all of `rows`' tokens and sequences, then one SGD step.
private func singleStep(
  _ batch: RolloutBatch, rows: [Int], minibatch: Int, optimizer: SGD, parameters: [Tensor],
  score: ([Int]) -> Tensor
) throws {
  optimizer.zeroGrad()
  let tokens = rows.reduce(Float(0)) { $0 + batch.masks[$1].reduce(0, +) }
  for start in stride(from: 0, to: rows.count, by: minibatch) {
    let part = Array(rows[start..<min(start + minibatch, rows.count)])
    let width = part.map { batch.oldLogProbs[$0].count }.max()!
    // As the update: a minibatch of empty rollouts has nothing to score (and no tape).
    guard width > 0 else { continue }
    func padded(_ values: [[Float]]) -> [Float] {
      part.flatMap { r in values[r] + [Float](repeating: 0, count: width - values[r].count) }
    }
    let mask = padded(batch.masks)
    let (loss, _) = surrogateLoss(
      logProbs: score(part), oldLogProbs: padded(batch.oldLogProbs), referenceLogProbs: nil,
      advantages: padded(batch.advantages), mask: mask, options: SurrogateOptions(),
      normalizer: LossNormalizer(
        mask: mask, rows: part.count, batchTokens: tokens, batchSequences: rows.count))
    loss.backward()
  }
  _ = clipGradientNorm(parameters, maxNorm: .infinity)
  try checkedStep(optimizer)
}

@Test func oneOptimizerStepPerBatchIsTheSingleStepBitForBitAndKStepsAreKOfThem() throws {
  let fixture = UpdateFixture()
  func update(steps: Int, epochs: Int) throws -> ([[Float]], [Double], Int) {
    let (model, sgd, score) = fixture.model()
    let (statistics, ratios, norms) = try clippedSurrogateUpdate(
      fixture.batch, order: fixture.order, options: SurrogateOptions(), epochs: epochs,
      steps: steps, minibatch: 3, optimizer: sgd, parameters: model.parameters, gradClip: 0,
      score: score, reference: nil)
    #expect(statistics.count == ratios.count)
    return (model.parameters.map(\.scalars), ratios, norms.count)
  }
  func written(_ parts: [[Int]]) throws -> [[Float]] {
    let (model, sgd, score) = fixture.model()
    for rows in parts {
      try singleStep(
        fixture.batch, rows: rows, minibatch: 3, optimizer: sgd, parameters: model.parameters,
        score: score)
    }
    return model.parameters.map(\.scalars)
  }
  let order = fixture.order
  // k = 1: μ = 2 single steps over the whole batch, bit for bit.
  let (one, _, oneSteps) = try update(steps: 1, epochs: 2)
  #expect(oneSteps == 2)
  #expect(one == (try written([order, order])))
  // k = 2: one step per half of the shuffled order, each normalised by its own half.
  let (two, ratios, twoSteps) = try update(steps: 2, epochs: 1)
  #expect(twoSteps == 2)
  #expect(two == (try written([Array(order[0..<4]), Array(order[4..<8])])))
  #expect(two != (try written([order])))
  // k = 3 over 8 rollouts: parts of 2, 3 and 3.
  let (three, _, threeSteps) = try update(steps: 3, epochs: 1)
  #expect(threeSteps == 3)
  #expect(three == (try written([Array(order[0..<2]), Array(order[2..<5]), Array(order[5..<8])])))
  // The ratio is exp(log π − (−2.5)) of the current policy: > 0, and not 1; one per
  // minibatch of 3 in each half (the second of the first half holds only an empty rollout).
  #expect(ratios.count == 3 && ratios.allSatisfy { $0 > 0 && abs($0 - 1) > 1e-3 })
}

@Test func bnpoWithSeveralStepsPerBatchNormalisesEachStepsPart() throws {
  // With k > 1 bnpo's minibatch is the step's part, so it equals tokenMean at any
  // minibatch size; with k = 1 it is the accumulation minibatch (3 rollouts of 7, 4 and 5
  // tokens here), which differs.
  let fixture = UpdateFixture()
  func update(_ aggregation: LossAggregation, steps: Int) throws -> [[Float]] {
    let (model, sgd, score) = fixture.model()
    _ = try clippedSurrogateUpdate(
      fixture.batch, order: fixture.order, options: SurrogateOptions(aggregation: aggregation),
      epochs: 1, steps: steps, minibatch: 3, optimizer: sgd, parameters: model.parameters,
      gradClip: 0, score: score, reference: nil)
    return model.parameters.map(\.scalars)
  }
  #expect(try update(.minibatchTokenMean, steps: 2) == update(.tokenMean, steps: 2))
  #expect(try update(.minibatchTokenMean, steps: 1) != update(.tokenMean, steps: 1))
}

@Test func severalStepsPerBatchMoveTheRatioAwayFromOne() throws {
  var config = tinyGRPO(steps: 1)
  config.grpo.beta = 0
  config.grpo.epochs = 1
  config.grpo.minibatchSize = 0
  config.optimizer.learningRate = 0.05
  let single = try GRPOTrainer(config: config, task: LeadingDigitTask())
  let first = try single.trainStep()
  // One step: π_old is the sampler's policy, so the ratio is 1 up to rounding.
  #expect(abs(first["policy/ratioMean"]! - 1) < 1e-4, "\(first["policy/ratioMean"]!)")
  config.grpo.stepsPerBatch = 4
  let several = try GRPOTrainer(config: config, task: LeadingDigitTask())
  let m = try several.trainStep()
  #expect(abs(m["policy/ratioMean"]! - 1) > 1e-4, "\(m["policy/ratioMean"]!)")
  #expect(m["policy/clipFracLow"]! + m["policy/clipFracHigh"]! > 0)  // clipping acts
}

/// Reward `scale` when the completion starts with a digit.
struct ScaledDigitTask: ReasoningTask {
  var scale = 1.0
  var inner = LeadingDigitTask()
  var name: String { "scaled-digit" }
  var difficulties: [String] { ["all"] }
  func prompts(_ split: Split) -> [TaskPrompt] { inner.prompts(split) }
  func reward(_ prompt: TaskPrompt, completion: String) -> Double {
    scale * inner.reward(prompt, completion: completion)
  }
  func solution(_ prompt: TaskPrompt) -> String? { nil }
}

@Test func dynamicSamplingTrainsOnlyInformativeGroupsAndStopsAtItsBound() throws {
  var config = tinyGRPO(steps: 4)
  config.dynamicSampling.enabled = true
  config.dynamicSampling.maxDraws = 5
  let trainer = try GRPOTrainer(config: config, task: LeadingDigitTask())
  var sawSecondDraw = false
  for _ in 0..<4 {
    let drawn = try trainer.drawGroups()
    #expect((1...5).contains(drawn.draws))
    #expect(drawn.draws == 5 || drawn.batch.count == 4, "stopped early with \(drawn.batch.count)")
    #expect(drawn.spent.rewards.count == 8 * 4 * drawn.draws)
    for position in drawn.batch.indices {
      let rewards = drawn.rollouts.indices.filter { drawn.rollouts[$0].context == position }.map {
        drawn.scores.rewards[$0]
      }
      #expect(rewards.count == 8 && rewards.max()! - rewards.min()! > 1e-6)
    }
    if drawn.draws > 1 { sawSecondDraw = true }
  }
  #expect(sawSecondDraw)  // about 1 in 10 completions is rewarded: many groups are all 0

  // Rewards of 0 or 0.001: informative at the default tolerance, not at 0.01; then the step
  // makes all 5 draws, keeps nothing and leaves the policy alone.
  config.grpo.beta = 0
  config.dynamicSampling.tolerance = 0.01
  let flat = try GRPOTrainer(config: config, task: ScaledDigitTask(scale: 0.001))
  let before = flat.policy.parameters.map(\.scalars)
  let m = try flat.trainStep()
  #expect(m["dynamicSampling/draws"] == 5 && m["dynamicSampling/groupsKept"] == 0)
  #expect(m["dynamicSampling/groupsDropped"] == 20 && m["dynamicSampling/rolloutsSpent"] == 160)
  #expect(m["reward/mean"]! > 0)  // some completions were rewarded, by less than 0.01
  #expect(flat.policy.parameters.map(\.scalars) == before)
  config.dynamicSampling.tolerance = 1e-6
  let fine = try GRPOTrainer(config: config, task: ScaledDigitTask(scale: 0.001))
  #expect(try fine.trainStep()["dynamicSampling/groupsKept"]! > 0)
}

@Test func referenceMixingGoldenNumbers() throws {
  let reference = [Tensor([1, -2, 0.5]), Tensor([4], shape: [1, 1])]
  let policy = [Tensor([3, 2, 0.5]), Tensor([0], shape: [1, 1])]
  mix(reference, toward: policy, alpha: 0.25)
  #expect(reference[0].scalars == [1.5, -1, 0.5])
  #expect(reference[1].scalars == [3])
  #expect(policy[0].scalars == [3, 2, 0.5])  // the policy is left alone

  // In the trainer: every 2 steps, after the update.
  var config = tinyGRPO(steps: 3)
  config.grpo.referenceSyncEvery = 2
  config.grpo.referenceSyncAlpha = 0.5
  let trainer = try GRPOTrainer(config: config, task: LeadingDigitTask())
  let start = trainer.reference!.parameters.map(\.scalars)
  _ = try trainer.trainStep()
  #expect(trainer.reference!.parameters.map(\.scalars) == start)
  _ = try trainer.trainStep()
  let expected = zip(start, trainer.policy.parameters.map(\.scalars)).map { r, p in
    zip(r, p).map { Float(0.5) * $1 + (1 - Float(0.5)) * $0 }
  }
  #expect(trainer.reference!.parameters.map(\.scalars) == expected)
  #expect(expected != start)
  _ = try trainer.trainStep()
  #expect(trainer.reference!.parameters.map(\.scalars) == expected)
}

@Test func skippingZeroAdvantageRolloutsChangesOnlyRounding() throws {
  // Rollouts 1, 4 and 7 of the fixture have advantage 0 on every decision: skipped, they are
  // never scored, and the SGD step and the policy loss equal the full update's.
  let fixture = UpdateFixture()
  func update(_ batch: RolloutBatch, skip: Bool, adam: Bool = false) throws -> (
    [[Float]], [SurrogateStatistics], Set<Int>
  ) {
    let (model, sgd, score) = fixture.model()
    let optimizer: any Optimizer =
      adam ? Adam.adamW(parameters: model.namedParameters(), learningRate: 0.01) : sgd
    var scored = Set<Int>()
    let (statistics, _, _) = try clippedSurrogateUpdate(
      batch, order: fixture.order, options: SurrogateOptions(), epochs: 2, minibatch: 5,
      chunk: 2, skipZeroAdvantage: skip, optimizer: optimizer, parameters: model.parameters,
      gradClip: 0,
      score: { rows in
        scored.formUnion(rows)
        return score(rows)
      }, reference: nil)
    return (model.parameters.map(\.scalars), statistics, scored)
  }
  let (full, fullStatistics, fullScored) = try update(fixture.batch, skip: false)
  let (skipped, skippedStatistics, skippedScored) = try update(fixture.batch, skip: true)
  #expect(fullScored == Set(0..<8))
  #expect(skippedScored == [0, 3, 5, 6])  // 2 has no decisions; 1, 4, 7 advantage 0
  for (a, e) in zip(skipped, full) { #expect(isClose(a, e, atol: 1e-6, rtol: 1e-5)) }
  #expect(full != fixture.model().0.parameters.map(\.scalars))  // the step did move
  // Each minibatch's policy loss is a token mean: the skipped tokens add 0 to its sum.
  #expect(skippedStatistics.count == fullStatistics.count)

  // No informative rollout at all: the optimizer still steps on zero gradients (AdamW's
  // decay and moments), bit for bit as without skipping.
  var silent = fixture.batch
  silent.advantages = silent.advantages.map { $0.map { _ in 0 } }
  let (zeroFull, _, _) = try update(silent, skip: false, adam: true)
  let (zeroSkipped, _, none) = try update(silent, skip: true, adam: true)
  #expect(none.isEmpty)
  #expect(zeroSkipped == zeroFull)
}

@Test func cutSamplingKeepsTheSamplersAndTheTrainersLogProbsOneDistribution() throws {
  // The keys reach the sampler, and log π_old (the sampler's) equals log π_θ (the
  // trainer's tape scoring) for the same parameters: both the full-vocabulary distribution
  // at grpo.temperature, not the one renormalised over the tokens the cuts kept.
  let config = try ConfigLoader.resolve(
    file: nil,
    overrides: [
      "kind=grpo", "model.layers=1", "model.width=16", "model.heads=2", "model.context=64",
      "task.maxDigits=1", "task.trainSize=8", "task.testSize=2", "grpo.promptsPerStep=2",
      "grpo.groupSize=4", "grpo.maxCompletionLength=12", "grpo.temperature=0.8", "grpo.topK=6",
      "grpo.topP=0.9", "grpo.minP=0.1", "grpo.repetitionPenalty=1.2", "evaluation.prompts=2",
      "evaluation.maxNewTokens=8",
    ])
  let trainer = try TransformerGRPOTrainer(config: config)
  let sampling = trainer.policy.sampling
  #expect(sampling.minP == Float(0.1) && sampling.repetitionPenalty == Float(1.2))
  let contexts = Array(trainer.task.contexts.prefix(2))
  var rng = RandomState(seed: 7)
  let rollouts = trainer.policy.sample(contexts, counts: [4, 4], rng: &rng)
  let scored = withoutGrad { trainer.policy.logProbabilities(of: rollouts, in: contexts) }
  let worst = largestLogProbDifference(scored, rollouts.map(\.logProbs))
  #expect(worst < 1e-5, "largest log π_old − log π_θ \(worst)")
}
