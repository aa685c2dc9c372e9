import TensorCore

/// How per-token losses are averaged (m is the completion-token mask).
public enum LossAggregation: String, Sendable, CaseIterable {
  /// Σ ℓ·m / Σ m over the whole batch (DAPO; the default). A prompt with a larger group
  /// carries more weight.
  case tokenMean
  /// The mean over sequences of Σ_t ℓ·m / Σ_t m (the original GRPO).
  case sequenceMeanTokenMean
  /// Σ ℓ·m / (number of sequences × maxCompletionLength) (Dr. GRPO).
  case sequenceMeanTokenSumNorm
}

/// The clipped-surrogate settings of one loss evaluation.
public struct SurrogateOptions: Equatable, Sendable {
  public var epsilonLow: Float = 0.2
  public var epsilonHigh: Float = 0.28
  /// Dual clip: for Â < 0 the per-token loss is capped at −Â·c; nil turns it off.
  public var dualClip: Float? = nil
  /// The KL weight β (k3 estimator against the reference policy).
  public var beta: Float = 0
  public var aggregation = LossAggregation.tokenMean
  /// For `sequenceMeanTokenSumNorm`: the completion length budget.
  public var maxCompletionLength = 1

  public init(
    epsilonLow: Float = 0.2, epsilonHigh: Float = 0.28, dualClip: Float? = nil, beta: Float = 0,
    aggregation: LossAggregation = .tokenMean, maxCompletionLength: Int = 1
  ) {
    self.epsilonLow = epsilonLow
    self.epsilonHigh = epsilonHigh
    self.dualClip = dualClip
    self.beta = beta
    self.aggregation = aggregation
    self.maxCompletionLength = maxCompletionLength
  }
}

/// What the loss saw, for metrics (averaged like the loss itself is not: these are plain
/// means over the masked tokens).
public struct SurrogateStatistics: Equatable, Sendable {
  public var policyLoss: Double = 0
  public var kl: Double = 0
  /// Tokens where the ratio was clipped at 1 − ε_low with Â < 0, over masked tokens.
  public var clipFractionLow: Double = 0
  /// Tokens where the ratio was clipped at 1 + ε_high with Â > 0, over masked tokens.
  public var clipFractionHigh: Double = 0

  public init() {}
}

/// The GRPO loss over `[B, T]` tensors of log-probabilities.
///
/// - `logProbs`: log π_θ of each completion token, with the tape.
/// - `oldLogProbs`, `referenceLogProbs` (when β > 0), `advantages` (per token) and `mask`:
///   `[B, T]` values without gradient.
/// - `normalizer`: how the sums are divided, computed over the **whole** batch by
///   `lossNormalizer`, so that minibatches accumulate to exactly the full-batch gradient.
public func surrogateLoss(
  logProbs: Tensor, oldLogProbs: [Float], referenceLogProbs: [Float]?, advantages: [Float],
  mask: [Float],
  options: SurrogateOptions, normalizer: LossNormalizer
) -> (loss: Tensor, statistics: SurrogateStatistics) {
  let shape = logProbs.shape
  precondition(shape.count == 2, "surrogateLoss: log-probs must be [B, T], got \(shape)")
  let n = shape[0] * shape[1]
  precondition(
    [oldLogProbs.count, advantages.count, mask.count].allSatisfy { $0 == n },
    "surrogateLoss: every input must hold \(n) values for \(shape)")
  let old = Tensor(oldLogProbs, shape: shape)
  let a = Tensor(advantages, shape: shape)
  let m = Tensor(mask, shape: shape)
  let ratio = (logProbs - old).clamp(min: -20, max: 20).exp()
  let clipped = ratio.clamp(min: 1 - options.epsilonLow, max: 1 + options.epsilonHigh)
  var perToken = -Tensor.minimum(ratio * a, clipped * a)
  if let c = options.dualClip {
    // For Â < 0 cap the loss at −Â·c; elsewhere the cap is +∞.
    let cap = Tensor(advantages.map { $0 < 0 ? -$0 * c : Float.infinity }, shape: shape)
    perToken = Tensor.minimum(perToken, cap)
  }
  var kl: Tensor? = nil
  if options.beta > 0, let referenceLogProbs {
    let delta = Tensor(referenceLogProbs, shape: shape) - logProbs
    kl = delta.exp() - delta - 1
    perToken = perToken + options.beta * kl!
  }
  let loss = normalizer.aggregate(perToken * m, options: options, rows: shape[0])

  var statistics = SurrogateStatistics()
  withoutGrad {
    let r = ratio.scalars
    let tokens = max(mask.reduce(0, +), 1)
    var low: Float = 0
    var high: Float = 0
    for i in 0..<n where mask[i] > 0 {
      if advantages[i] < 0 && r[i] < 1 - options.epsilonLow { low += 1 }
      if advantages[i] > 0 && r[i] > 1 + options.epsilonHigh { high += 1 }
    }
    statistics.clipFractionLow = Double(low / tokens)
    statistics.clipFractionHigh = Double(high / tokens)
    let policyOnly = (-Tensor.minimum(ratio * a, clipped * a) * m).sum().item
    statistics.policyLoss = Double(policyOnly / tokens)
    if let kl { statistics.kl = Double((kl * m).sum().item / tokens) }
  }
  return (loss, statistics)
}

/// The denominators of a loss aggregation, taken from the whole batch.
public struct LossNormalizer: Equatable, Sendable {
  /// Σ m over the batch (tokenMean).
  public var tokens: Float
  /// Sequences in the batch.
  public var sequences: Int
  /// Per sequence Σ_t m, by the sequence's row in the minibatch being evaluated.
  public var tokensPerSequence: [Float]

  /// Normalizer for a minibatch (rows `mask` of a full batch with `batchTokens` masked
  /// tokens and `batchSequences` sequences).
  public init(mask: [Float], rows: Int, batchTokens: Float, batchSequences: Int) {
    tokens = max(batchTokens, 1)
    sequences = max(batchSequences, 1)
    let width = mask.count / max(rows, 1)
    tokensPerSequence = (0..<rows).map { r in
      max(mask[(r * width)..<((r + 1) * width)].reduce(0, +), 1)
    }
  }

  func aggregate(_ masked: Tensor, options: SurrogateOptions, rows: Int) -> Tensor {
    switch options.aggregation {
    case .tokenMean:
      return masked.sum() / tokens
    case .sequenceMeanTokenMean:
      let perRow = masked.sum(axis: 1) / Tensor(tokensPerSequence)
      return perRow.sum() / Float(sequences)
    case .sequenceMeanTokenSumNorm:
      return masked.sum() / Float(sequences * max(options.maxCompletionLength, 1))
    }
  }
}
