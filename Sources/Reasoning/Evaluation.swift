import Foundation
import TensorCore

/// Scores of a policy on a set of prompts: greedy pass@1, and with k samples per prompt
/// mean@k (the average reward of the samples) and pass@k (some sample correct), overall
/// and per difficulty.
public struct EvaluationReport: Sendable {
  public struct Scores: Sendable, Equatable {
    public var prompts = 0
    public var pass1 = 0.0
    public var meanAtK: Double?
    public var passAtK: Double?
  }

  /// One generated completion, for reading.
  public struct Sample: Sendable {
    public var promptID: String
    public var prompt: String
    public var completion: String
    public var reward: Double
    public var greedy: Bool
  }

  public var overall = Scores()
  public var byDifficulty: [String: Scores] = [:]
  public var samples: [Sample] = []
  /// Samples per prompt behind mean@k and pass@k (0 when only greedy ran).
  public var k = 0

  /// No prompts scored yet.
  public init() {}

  /// A Markdown table: one row per difficulty and the overall row.
  public var table: String {
    let header =
      k > 0
      ? "| difficulty | prompts | pass@1 (greedy) | mean@\(k) | pass@\(k) |"
      : "| difficulty | prompts | pass@1 (greedy) |"
    var lines = [header, k > 0 ? "| --- | ---: | ---: | ---: | ---: |" : "| --- | ---: | ---: |"]
    func row(_ name: String, _ s: Scores) -> String {
      var cells = [name, "\(s.prompts)", String(format: "%.3f", s.pass1)]
      if k > 0 {
        cells += [String(format: "%.3f", s.meanAtK ?? 0), String(format: "%.3f", s.passAtK ?? 0)]
      }
      return "| " + cells.joined(separator: " | ") + " |"
    }
    for d in byDifficulty.keys.sorted() { lines.append(row(d, byDifficulty[d]!)) }
    lines.append(row("all", overall))
    return lines.joined(separator: "\n")
  }

  /// Metrics named `eval/pass1`, `eval/pass1/<difficulty>`, `eval/mean@k`, `eval/pass@k`.
  public var metrics: [String: Double] {
    var out: [String: Double] = ["eval/pass1": overall.pass1]
    for (d, s) in byDifficulty { out["eval/pass1/\(d)"] = s.pass1 }
    if let m = overall.meanAtK { out["eval/mean@\(k)"] = m }
    if let p = overall.passAtK { out["eval/pass@\(k)"] = p }
    for (d, s) in byDifficulty {
      if let m = s.meanAtK { out["eval/mean@\(k)/\(d)"] = m }
      if let p = s.passAtK { out["eval/pass@\(k)/\(d)"] = p }
    }
    return out
  }
}

/// Evaluates Allot's transformer on `prompts` (BOS, then the prompt's characters): greedy
/// decoding for pass@1, then, when `samples` > 0, that many sampled completions per prompt
/// at `temperature`.
public func evaluate(
  _ model: TransformerLM, tokenizer: Tokenizer, task: any ReasoningTask, prompts: [TaskPrompt],
  samples: Int, temperature: Float, maxNewTokens: Int, batchSize: Int = 256, rng: inout RandomState
) throws -> EvaluationReport {
  try evaluate(
    model, tokenizer: tokenizer, task: task, prompts: prompts,
    encode: { try encodePrompt($0, tokenizer: tokenizer) }, samples: samples,
    temperature: temperature, maxNewTokens: maxNewTokens, batchSize: batchSize, rng: &rng)
}

/// Evaluates any causal language model on `prompts`, each turned into input ids by
/// `encode` (a chat template, a BOS): greedy pass@1, then `samples` sampled completions per
/// prompt at `temperature` for mean@k and pass@k. Completions are decoded by `tokenizer`
/// and scored by the task's reward.
public func evaluate<Model: CausalLanguageModel, Tok: TextTokenizer>(
  _ model: Model, tokenizer: Tok, task: any ReasoningTask, prompts: [TaskPrompt],
  encode: (TaskPrompt) throws -> [Int], samples: Int, temperature: Float, maxNewTokens: Int,
  batchSize: Int = 256, rng: inout RandomState
) throws -> EvaluationReport {
  var report = EvaluationReport()
  report.k = samples
  var greedyReward: [Double] = []
  var sampledRewards: [[Double]] = []
  let encoded = try prompts.map(encode)
  let perChunk = max(1, batchSize / max(samples, 1))
  for start in stride(from: 0, to: prompts.count, by: perChunk) {
    let range = start..<min(start + perChunk, prompts.count)
    let chunk = Array(encoded[range])
    let greedy = model.sample(
      prompts: chunk, counts: [Int](repeating: 1, count: chunk.count),
      options: SamplingOptions(greedy: true, maxNewTokens: maxNewTokens), rng: &rng)
    for r in greedy {
      let prompt = prompts[range.lowerBound + r.promptIndex]
      let text = tokenizer.decode(r.tokens)
      let reward = task.reward(prompt, completion: text)
      greedyReward.append(reward)
      report.samples.append(
        .init(
          promptID: prompt.id, prompt: prompt.text, completion: text, reward: reward, greedy: true))
    }
    if samples > 0 {
      let sampled = model.sample(
        prompts: chunk, counts: [Int](repeating: samples, count: chunk.count),
        options: SamplingOptions(temperature: temperature, maxNewTokens: maxNewTokens), rng: &rng)
      var rewards = [[Double]](repeating: [], count: chunk.count)
      for r in sampled {
        let prompt = prompts[range.lowerBound + r.promptIndex]
        let text = tokenizer.decode(r.tokens)
        let reward = task.reward(prompt, completion: text)
        rewards[r.promptIndex].append(reward)
        report.samples.append(
          .init(
            promptID: prompt.id, prompt: prompt.text, completion: text, reward: reward,
            greedy: false))
      }
      sampledRewards += rewards
    }
  }
  report.score(prompts: prompts, greedyRewards: greedyReward, sampledRewards: sampledRewards)
  return report
}

extension EvaluationReport {
  /// Sets the overall and per-difficulty scores of `prompts` from their greedy rewards and,
  /// when `k` > 0, their `k` sampled rewards each (both in prompt order).
  public mutating func score(
    prompts: [TaskPrompt], greedyRewards: [Double], sampledRewards: [[Double]]
  ) {
    let samples = k
    func scores(_ indices: [Int]) -> EvaluationReport.Scores {
      var s = EvaluationReport.Scores()
      s.prompts = indices.count
      guard !indices.isEmpty else { return s }
      s.pass1 =
        indices.map { greedyRewards[$0] >= 1 ? 1.0 : 0 }.reduce(0, +) / Double(indices.count)
      if samples > 0 {
        s.meanAtK =
          indices.map { sampledRewards[$0].reduce(0, +) / Double(samples) }.reduce(0, +)
          / Double(indices.count)
        s.passAtK =
          indices.map { sampledRewards[$0].contains { $0 >= 1 } ? 1.0 : 0 }.reduce(0, +)
          / Double(indices.count)
      }
      return s
    }
    overall = scores(Array(prompts.indices))
    for d in Set(prompts.map(\.difficulty)) {
      byDifficulty[d] = scores(prompts.indices.filter { prompts[$0].difficulty == d })
    }
  }
}
