import Foundation
import Reasoning
import TensorCore

/// How `PretrainedModel.generate` turns prompts into completions.
public struct GenerationOptions: Equatable, Sendable {
  /// Raw text, or one user message each in the model's chat template.
  public var format: PromptFormat = .chat
  /// Take the most likely token at each step (temperature, top-p, top-k and min-p are then
  /// unused; a repetition penalty still applies).
  public var greedy = false
  /// Logits are divided by this before sampling.
  public var temperature: Float = 1
  /// Nucleus sampling: keep the smallest set of tokens whose probability reaches this.
  public var topP: Float = 1
  /// Keep only the k most likely tokens; 0 keeps all.
  public var topK = 0
  /// Keep only tokens at least this times as likely as the most likely one; 0 keeps all.
  public var minP: Float = 0
  /// transformers' `repetition_penalty` over the prompt and the reply so far; 1 is off.
  public var repetitionPenalty: Float = 1
  /// Stop after this many new tokens when no end-of-sequence id came.
  public var maxNewTokens = 256
  /// Seeds the one random stream every batch draws from, in prompt order.
  public var seed: UInt64 = 0
  /// Prompts sampled together (left-padded, one KV cache).
  public var batchSize = 16

  public init(
    format: PromptFormat = .chat, greedy: Bool = false, temperature: Float = 1, topP: Float = 1,
    topK: Int = 0, minP: Float = 0, repetitionPenalty: Float = 1, maxNewTokens: Int = 256,
    seed: UInt64 = 0, batchSize: Int = 16
  ) {
    self.format = format
    self.greedy = greedy
    self.temperature = temperature
    self.topP = topP
    self.topK = topK
    self.minP = minP
    self.repetitionPenalty = repetitionPenalty
    self.maxNewTokens = maxNewTokens
    self.seed = seed
    self.batchSize = batchSize
  }

  /// Throws, naming the option and its value, unless every option is usable.
  public func validate() throws {
    func fail(_ what: String) -> GenerationError { GenerationError("generation option \(what)") }
    guard temperature > 0 && temperature.isFinite else {
      throw fail("temperature is \(temperature); it must be > 0")
    }
    guard topP > 0 && topP <= 1 else { throw fail("topP is \(topP); it must be in (0, 1]") }
    guard topK >= 0 else { throw fail("topK is \(topK); it must be ≥ 0 (0 keeps all)") }
    guard minP >= 0 && minP <= 1 else {
      throw fail("minP is \(minP); it must be in [0, 1] (0 keeps all)")
    }
    guard repetitionPenalty > 0 && repetitionPenalty.isFinite else {
      throw fail("repetitionPenalty is \(repetitionPenalty); it must be > 0 (1 is off)")
    }
    guard maxNewTokens >= 1 else { throw fail("maxNewTokens is \(maxNewTokens); it must be ≥ 1") }
    guard batchSize >= 1 else { throw fail("batchSize is \(batchSize); it must be ≥ 1") }
  }
}

/// A prompt or option `generate` cannot use, in a sentence.
public struct GenerationError: Error, CustomStringConvertible, Equatable {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// One prompt's completion.
public struct GenerationResult: Codable, Equatable, Sendable {
  /// The prompt as given (before any chat template).
  public var prompt: String
  /// The generated text, special tokens left out.
  public var completion: String
  /// The generated ids; the end-of-sequence id that stopped it is not included.
  public var tokens: [Int]
  /// Each generated token's log-probability under the model at temperature 1, before any
  /// repetition penalty or top-k/top-p/min-p truncation.
  public var logprobs: [Float]
  /// Whether an end-of-sequence id ended it (false: cut at `maxNewTokens`).
  public var finished: Bool

  public init(prompt: String, completion: String, tokens: [Int], logprobs: [Float], finished: Bool)
  {
    self.prompt = prompt
    self.completion = completion
    self.tokens = tokens
    self.logprobs = logprobs
    self.finished = finished
  }

  /// One line of JSON (keys `completion`, `finished`, `logprobs`, `prompt`, `tokens`), no
  /// newline.
  public var jsonLine: String { jsonLineText(self) }
}

extension PretrainedModel {
  /// Completes each prompt, `options.batchSize` at a time, stopping each at the model's
  /// end-of-sequence ids or `maxNewTokens`; results are in the order of `prompts`. Prompts
  /// are checked (template, length against the context) before anything is sampled.
  public func generate(_ prompts: [String], options: GenerationOptions) throws
    -> [GenerationResult]
  {
    try options.validate()
    var ids: [[Int]] = []
    for (i, prompt) in prompts.enumerated() {
      let p = try promptIDs(prompt, format: options.format)
      guard !p.isEmpty else {
        throw GenerationError("prompt \(i + 1) is empty (and the model adds no BOS token)")
      }
      guard p.count + options.maxNewTokens <= config.contextLength else {
        throw GenerationError(
          "prompt \(i + 1) has \(p.count) tokens; with maxNewTokens \(options.maxNewTokens) "
            + "that exceeds the model's context of \(config.contextLength)")
      }
      ids.append(p)
    }
    let sampling = SamplingOptions(
      temperature: options.greedy ? 1 : options.temperature, topP: options.topP,
      topK: options.topK, minP: options.minP, repetitionPenalty: options.repetitionPenalty,
      greedy: options.greedy, maxNewTokens: options.maxNewTokens)
    // The sampler's log-probs are under the temperature-scaled distribution; at another
    // temperature than 1 the chosen tokens are scored again at 1.
    let rescore = sampling.temperature != 1
    let ends = Set(config.eosTokens)
    var rng = RandomState(seed: options.seed)
    var results: [GenerationResult] = []
    for start in stride(from: 0, to: ids.count, by: options.batchSize) {
      let batch = Array(ids[start..<min(start + options.batchSize, ids.count)])
      let rollouts = model.sample(
        prompts: batch, counts: batch.map { _ in 1 }, options: sampling, rng: &rng)
      for (k, rollout) in rollouts.enumerated() {
        var tokens = rollout.tokens
        var logprobs = rollout.logProbs
        if rollout.finished, let last = tokens.last, ends.contains(last) {
          tokens.removeLast()
          logprobs.removeLast()
        }
        if rescore { logprobs = scoreAtTemperatureOne(prompt: batch[k], completion: tokens) }
        results.append(
          GenerationResult(
            prompt: prompts[start + k], completion: tokenizer.decode(tokens), tokens: tokens,
            logprobs: logprobs, finished: rollout.finished))
      }
    }
    return results
  }

  /// log p(token) at temperature 1 of each token of `completion` after `prompt` (one row at
  /// a time: a whole batch's [B, T, vocabulary] logits would be hundreds of MB).
  func scoreAtTemperatureOne(prompt: [Int], completion: [Int]) -> [Float] {
    guard !completion.isEmpty else { return [] }
    return withoutGrad {
      model.logProbabilities(
        prompts: [prompt], promptIndices: [0], completions: [completion], temperature: 1
      ).logProbs.scalars
    }
  }
}

/// Prompts from a JSON-lines file.
public enum PromptsFile {
  /// The `"prompt"` string of each line of `path` (one JSON object per line; blank lines are
  /// skipped). A line that is not such an object is an error naming the file and the line.
  public static func read(_ path: String) throws -> [String] {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw PretrainedFileError(
        path, "cannot be read (\((error as NSError).localizedDescription))")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw PretrainedFileError(path, "is not UTF-8 text")
    }
    var prompts: [String] = []
    for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
    where !line.allSatisfy(\.isWhitespace) {
      let lineName = "line \(n + 1)"
      guard let value = try? JSONSerialization.jsonObject(with: Data(line.utf8)) else {
        throw PretrainedFileError(path, "\(lineName) is not valid JSON")
      }
      guard let object = value as? [String: Any] else {
        throw PretrainedFileError(path, "\(lineName) is not a JSON object")
      }
      guard let prompt = object["prompt"] as? String else {
        throw PretrainedFileError(path, "\(lineName) has no string \"prompt\"")
      }
      prompts.append(prompt)
    }
    guard !prompts.isEmpty else { throw PretrainedFileError(path, "holds no prompts") }
    return prompts
  }
}
