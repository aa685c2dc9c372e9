import Foundation
import TensorCore

/// How completions are drawn.
///
/// Which distribution is which: tokens are *drawn* from the model's logits after the
/// repetition penalty, the temperature and the top-k, top-p and min-p cuts (renormalised
/// over the kept tokens), but every log-probability and entropy the sampler reports is
/// that of the *full-vocabulary* distribution softmax(logits / temperature), with no
/// penalty and no truncation: exactly what `logProbabilities(…, temperature:)` computes
/// with the tape, so GRPO's π_old and π_θ are one function (docs/sequence-policy.md).
public struct SamplingOptions: Equatable, Sendable {
  /// Logits are divided by this (after any repetition penalty, before the cuts); log-probs
  /// and entropies are those at this temperature.
  public var temperature: Float = 1
  /// Nucleus sampling: keep the smallest set of tokens whose probability reaches this.
  public var topP: Float = 1
  /// Keep only the k most likely tokens; 0 keeps all.
  public var topK = 0
  /// Keep only tokens whose probability is at least this times the most likely token's
  /// (transformers' `min_p`); 0 keeps all.
  public var minP: Float = 0
  /// transformers' `repetition_penalty`: before the temperature, the logit of every token
  /// already in the row (prompt and completion so far) is divided by this when positive and
  /// multiplied by it when negative; 1 is off. It applies to greedy decoding too.
  public var repetitionPenalty: Float = 1
  /// Take the most likely token instead of sampling.
  public var greedy = false
  /// Stop after this many new tokens when no EOS came.
  public var maxNewTokens = 64
  /// Whether a row stops at EOS (false: every row runs `maxNewTokens`, as benchmarks that
  /// compare equal work need).
  public var stopAtEOS = true

  public init(
    temperature: Float = 1, topP: Float = 1, topK: Int = 0, minP: Float = 0,
    repetitionPenalty: Float = 1, greedy: Bool = false, maxNewTokens: Int = 64,
    stopAtEOS: Bool = true
  ) {
    self.stopAtEOS = stopAtEOS
    self.temperature = temperature
    self.topP = topP
    self.topK = topK
    self.minP = minP
    self.repetitionPenalty = repetitionPenalty
    self.greedy = greedy
    self.maxNewTokens = maxNewTokens
  }
}

/// One sampled completion.
public struct Rollout: Equatable, Sendable {
  /// Which prompt (index into the prompts given) it continues.
  public var promptIndex: Int
  /// The completion's token ids, ending with EOS when one was produced.
  public var tokens: [Int]
  /// log π(token) of each completion token under the temperature-scaled distribution.
  public var logProbs: [Float]
  /// The entropy (nats) of the temperature-scaled distribution at each token.
  public var entropies: [Float]
  /// Whether it ended with EOS (false: cut at `maxNewTokens`).
  public var finished: Bool

  public init(
    promptIndex: Int, tokens: [Int], logProbs: [Float], entropies: [Float], finished: Bool
  ) {
    self.promptIndex = promptIndex
    self.tokens = tokens
    self.logProbs = logProbs
    self.entropies = entropies
    self.finished = finished
  }
}

extension CausalLanguageModel {
  /// Samples `counts[i]` completions for each prompt `prompts[i]` (token ids, usually
  /// starting with BOS), all in one batch: prompts are left-padded and each is prefilled
  /// once (its KV cache then repeated for its samples), decoding runs without the tape and
  /// with a KV cache, and each row stops at EOS or `maxNewTokens`.
  public func sample(
    prompts: [[Int]], counts: [Int], options: SamplingOptions, rng: inout RandomState
  ) -> [Rollout] {
    precondition(
      prompts.count == counts.count, "sample: \(prompts.count) prompts but \(counts.count) counts")
    precondition(options.temperature > 0, "sample: temperature must be > 0")
    precondition(
      options.minP >= 0 && options.minP <= 1, "sample: minP \(options.minP) must lie in [0, 1]")
    precondition(
      options.repetitionPenalty > 0 && options.repetitionPenalty.isFinite,
      "sample: repetitionPenalty \(options.repetitionPenalty) must be > 0")
    let rows = zip(prompts.indices, counts).flatMap { i, n in [Int](repeating: i, count: n) }
    guard !rows.isEmpty else { return [] }
    let b = rows.count
    let longest = prompts.map(\.count).max() ?? 0
    precondition(!prompts.contains { $0.isEmpty }, "sample: every prompt needs at least one token")
    let capacity = longest + options.maxNewTokens
    precondition(
      capacity <= contextLength,
      "sample: prompt (\(longest)) + maxNewTokens (\(options.maxNewTokens)) exceed the context \(contextLength)"
    )
    let pads = rows.map { longest - prompts[$0].count }
    // Each prompt with samples is prefilled once; its cache rows are then repeated.
    let prefilled = prompts.indices.filter { counts[$0] > 0 }
    let prefillPads = prefilled.map { longest - prompts[$0].count }
    var ids: [Int] = []
    var positionIDs: [Int] = []
    for (r, p) in zip(prefilled, prefillPads) {
      ids += [Int](repeating: paddingToken, count: p) + prompts[r]
      positionIDs += (0..<longest).map { max($0 - p, 0) }
    }
    let source = rows.map { prefilled.firstIndex(of: $0)! }
    var out = rows.map {
      Rollout(promptIndex: $0, tokens: [], logProbs: [], entropies: [], finished: false)
    }
    let vocabulary = vocabularySize
    let ends = endTokens
    return withoutGrad {
      let caches = makeCaches(capacity: capacity, keyPadding: prefillPads)
      // The prompt's last position (a model may return only that one when given caches).
      let promptLogits = self(
        ids, batch: prefilled.count, positions: positionIDs, keyPadding: nil, caches: caches)
      let t = promptLogits.shape[1]
      var logits = (t == 1 ? promptLogits : promptLogits.slice(axis: 1, (t - 1)..<t))
        .indexSelect(axis: 0, source)
      for cache in caches { cache.repeatRows(source) }
      var scratch = [Float](repeating: 0, count: vocabulary)
      let penalised = options.repetitionPenalty != 1
      var penaltyScratch = [Float](repeating: 0, count: penalised ? 2 * vocabulary : 0)
      // The rows still generating, in ascending order; finished rows leave the batch (and
      // the caches), so later steps only compute what is still needed.
      var active = Array(0..<b)
      for step in 0..<options.maxNewTokens {
        logits.withUnsafeBufferPointer { all in
          for (r, row) in active.enumerated() {
            let chosen = Self.choose(
              UnsafeBufferPointer(rebasing: all[(r * vocabulary)..<((r + 1) * vocabulary)]),
              previous: penalised ? prompts[rows[row]] + out[row].tokens : [],
              options: options, scratch: &scratch, penaltyScratch: &penaltyScratch, rng: &rng)
            out[row].tokens.append(chosen.token)
            out[row].logProbs.append(chosen.logProb)
            out[row].entropies.append(chosen.entropy)
            if options.stopAtEOS && ends.contains(chosen.token) { out[row].finished = true }
          }
        }
        let keep = active.indices.filter { !out[active[$0]].finished }
        if keep.isEmpty || step == options.maxNewTokens - 1 { break }
        if keep.count < active.count {
          for cache in caches { cache.keepRows(keep) }
          active = keep.map { active[$0] }
        }
        let next = active.map { out[$0].tokens.last! }
        let positionsNow = active.map { longest + step - pads[$0] }
        logits = self(
          next, batch: active.count, positions: positionsNow, keyPadding: nil, caches: caches)
      }
      return out
    }
  }

  /// Picks a token from one row of logits; returns it with its log-probability and the
  /// distribution's entropy, both under the temperature-scaled (unpenalised, untruncated)
  /// distribution. `previous` holds the row's tokens so far (read only with a repetition
  /// penalty); `penaltyScratch` has room for two rows of logits when there is one.
  static func choose(
    _ logits: UnsafeBufferPointer<Float>, previous: [Int], options: SamplingOptions,
    scratch: inout [Float], penaltyScratch: inout [Float], rng: inout RandomState
  ) -> (token: Int, logProb: Float, entropy: Float) {
    let n = logits.count
    let inverse = 1 / options.temperature
    var m = -Float.infinity
    for i in 0..<n { m = max(m, logits[i] * inverse) }
    let total = Double(
      scratch.withUnsafeMutableBufferPointer {
        scaledExponentials(logits, scale: inverse, shift: m, into: $0.baseAddress!)
      })
    let logTotal = Float(Foundation.log(total))
    var entropy: Float = 0
    for i in 0..<n {
      let logP = logits[i] * inverse - m - logTotal
      let p = scratch[i] / Float(total)
      if p > 0 { entropy -= p * logP }
    }
    let token: Int
    if options.repetitionPenalty == 1 {
      token = scratch.withUnsafeBufferPointer { weights in
        Self.draw(logits, weights: weights, total: total, options: options, rng: &rng)
      }
    } else {
      // The penalised logits in the first half of the scratch, their weights in the second.
      token = penaltyScratch.withUnsafeMutableBufferPointer { buffer in
        let penalisedLogits = UnsafeMutableBufferPointer(rebasing: buffer[0..<n])
        _ = penalisedLogits.initialize(from: logits)
        let penalty = options.repetitionPenalty
        for t in previous {
          let l = logits[t]
          penalisedLogits[t] = l > 0 ? l / penalty : l * penalty
        }
        var shift = -Float.infinity
        for i in 0..<n { shift = max(shift, penalisedLogits[i] * inverse) }
        let weights = UnsafeMutableBufferPointer(rebasing: buffer[n..<(2 * n)])
        let penalisedTotal = Double(
          scaledExponentials(
            UnsafeBufferPointer(penalisedLogits), scale: inverse, shift: shift,
            into: weights.baseAddress!))
        return Self.draw(
          UnsafeBufferPointer(penalisedLogits), weights: UnsafeBufferPointer(weights),
          total: penalisedTotal, options: options, rng: &rng)
      }
    }
    return (token, logits[token] * inverse - m - logTotal, entropy)
  }

  /// The token greedy decoding takes (the largest logit, the lowest id on ties) or one draw
  /// from `weights` (proportional to the probabilities, summing to `total`) cut by top-k,
  /// top-p and min-p.
  private static func draw(
    _ logits: UnsafeBufferPointer<Float>, weights: UnsafeBufferPointer<Float>, total: Double,
    options: SamplingOptions, rng: inout RandomState
  ) -> Int {
    let n = logits.count
    if options.greedy {
      var token = 0
      for i in 1..<n where logits[i] > logits[token] { token = i }
      return token
    }
    // Candidates by probability (ties by id), cut by top-k, top-p and min-p, then one draw.
    var order = Array(0..<n)
    if options.topK > 0 || options.topP < 1 || options.minP > 0 {
      order.sort { weights[$0] != weights[$1] ? weights[$0] > weights[$1] : $0 < $1 }
    }
    var keep = options.topK > 0 ? min(options.topK, n) : n
    if options.topP < 1 {
      var mass: Double = 0
      for (k, i) in order.prefix(keep).enumerated() {
        mass += Double(weights[i]) / total
        if mass >= Double(options.topP) {
          keep = k + 1
          break
        }
      }
    }
    if options.minP > 0 {
      // The most likely token always stays (its weight is the largest).
      let floor = options.minP * weights[order[0]]
      keep = max(1, order.prefix(keep).prefix { weights[$0] >= floor }.count)
    }
    let kept = order.prefix(keep)
    let keptMass = kept.reduce(0.0) { $0 + Double(weights[$1]) }
    var u = rng.nextDouble() * keptMass
    for i in kept {
      u -= Double(weights[i])
      if u < 0 { return i }
    }
    return kept.last!
  }

  /// Log-probabilities, with the tape, of given completions after their prompts: `[B, T]`
  /// for B = completions.count and T the longest completion, with a 0/1 mask of the real
  /// tokens. `promptIndices[r]` names the prompt completion r continues. Numerically these
  /// equal the sampler's `logProbs` for the same parameters and temperature.
  public func logProbabilities(
    prompts: [[Int]], promptIndices: [Int], completions: [[Int]], temperature: Float = 1
  ) -> (logProbs: Tensor, mask: [Float]) {
    let b = completions.count
    let sequences = zip(promptIndices, completions).map { prompts[$0] + $1 }
    let length = sequences.map(\.count).max() ?? 1
    let steps = length - 1
    let longestCompletion = completions.map(\.count).max() ?? 0
    precondition(
      length <= contextLength,
      "logProbabilities: a sequence of \(length) exceeds the context \(contextLength)")
    var inputs: [Int] = []
    var targets: [Int] = []
    var positionIDs: [Int] = []
    var pads: [Int] = []
    var scored: [Int] = []  // the flat positions of [B, steps] whose next token is scored
    var slots: [Int] = []  // per [B, longestCompletion] slot, its index in `scored` (0: none)
    var mask: [Float] = []
    for (r, sequence) in sequences.enumerated() {
      let pad = length - sequence.count
      pads.append(pad)
      let full = [Int](repeating: paddingToken, count: pad) + sequence
      inputs += full[0..<steps]
      positionIDs += (0..<steps).map { max($0 - pad, 0) }
      let firstTarget = pad + prompts[promptIndices[r]].count - 1
      for k in 0..<longestCompletion {
        let real = k < completions[r].count
        slots.append(real ? scored.count : 0)
        if real {
          scored.append(r * steps + firstTarget + k)
          targets.append(completions[r][k])
        }
        mask.append(real ? 1 : 0)
      }
    }
    guard !scored.isEmpty else { return (Tensor.zeros([b, longestCompletion]), mask) }
    var logits = self.logits(
      inputs, batch: b, positions: positionIDs, keyPadding: pads, at: scored)
    if temperature != 1 { logits = logits * (1 / temperature) }
    let picked = logits.logProbabilities(of: targets)
    return (picked.indexSelect(axis: 0, slots).reshaped([b, longestCompletion]), mask)
  }
}
