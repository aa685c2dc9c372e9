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
  /// Each minibatch's Σ ℓ·m / Σ m, averaged over the minibatches (TRL's `bnpo`); equal to
  /// `tokenMean` when the batch is one minibatch.
  case minibatchTokenMean

  /// TRL's `loss_type` names, as Allot's aggregations: `grpo` → `sequenceMeanTokenMean`,
  /// `bnpo` → `minibatchTokenMean`, `dr_grpo` → `sequenceMeanTokenSumNorm`, `dapo` →
  /// `tokenMean`.
  public static let trlNames: [String: LossAggregation] = [
    "grpo": .sequenceMeanTokenMean, "bnpo": .minibatchTokenMean,
    "dr_grpo": .sequenceMeanTokenSumNorm, "dapo": .tokenMean,
  ]
}

/// The settings of one GRPO loss evaluation (docs/grpo.md).
public struct SurrogateOptions: Equatable, Sendable {
  public var epsilonLow: Float = 0.2
  public var epsilonHigh: Float = 0.28
  /// Dual clip: for Â < 0 the per-token loss is capped at −Â·c; nil turns it off.
  public var dualClip: Float? = nil
  /// The KL weight β against the reference policy (0: no KL term in the loss).
  public var beta: Float = 0
  public var aggregation = LossAggregation.tokenMean
  /// For `sequenceMeanTokenSumNorm`: the completion length budget.
  public var maxCompletionLength = 1
  /// The policy-gradient term.
  public var family = PolicyLossFamily.clipped
  /// GSPO's clip range of the sequence ratio: [1 − low, 1 + high].
  public var sequenceEpsilonLow: Float = 3e-4
  public var sequenceEpsilonHigh: Float = 4e-4
  /// How the KL term estimates KL(π_θ ‖ π_ref) per decision.
  public var klEstimator = KLEstimator.k3
  /// The weight of the entropy bonus (−coefficient · the entropy estimate); 0: none.
  public var entropyCoefficient: Float = 0

  public init(
    epsilonLow: Float = 0.2, epsilonHigh: Float = 0.28, dualClip: Float? = nil, beta: Float = 0,
    aggregation: LossAggregation = .tokenMean, maxCompletionLength: Int = 1,
    family: PolicyLossFamily = .clipped, sequenceEpsilonLow: Float = 3e-4,
    sequenceEpsilonHigh: Float = 4e-4, klEstimator: KLEstimator = .k3,
    entropyCoefficient: Float = 0
  ) {
    self.epsilonLow = epsilonLow
    self.epsilonHigh = epsilonHigh
    self.dualClip = dualClip
    self.beta = beta
    self.aggregation = aggregation
    self.maxCompletionLength = maxCompletionLength
    self.family = family
    self.sequenceEpsilonLow = sequenceEpsilonLow
    self.sequenceEpsilonHigh = sequenceEpsilonHigh
    self.klEstimator = klEstimator
    self.entropyCoefficient = entropyCoefficient
  }

  /// The clip range of the family's importance ratio.
  var clipRange: (low: Float, high: Float) {
    family == .gspo
      ? (1 - sequenceEpsilonLow, 1 + sequenceEpsilonHigh) : (1 - epsilonLow, 1 + epsilonHigh)
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
  /// The mean entropy estimate −ρ·log π_θ over masked tokens (0 without an entropy bonus).
  public var entropy: Double = 0

  public init() {}
}

/// The GRPO loss over `[B, T]` tensors of log-probabilities: per token the policy-gradient
/// term of `options.family`, capped by dual clip, plus β·KL (`options.klEstimator`), minus
/// the entropy bonus; aggregated by `options.aggregation`.
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
  let (weight, policyTerm) = policyGradientTerm(
    logProbs: logProbs, ratio: ratio, oldLogProbs: oldLogProbs, advantages: a, mask: mask,
    options: options)
  var perToken = policyTerm
  if let c = options.dualClip {
    // For Â < 0 cap the loss at −Â·c; elsewhere the cap is +∞.
    let cap = Tensor(advantages.map { $0 < 0 ? -$0 * c : Float.infinity }, shape: shape)
    perToken = Tensor.minimum(perToken, cap)
  }
  var kl: Tensor? = nil
  if options.beta > 0, let referenceLogProbs {
    let delta = Tensor(referenceLogProbs, shape: shape) - logProbs
    kl = options.klEstimator(delta)
    perToken = perToken + options.beta * kl!
  }
  var entropy: Tensor? = nil
  if options.entropyCoefficient > 0 {
    // −ρ·log π_θ: its mean under π_old estimates π_θ's entropy, and its gradient ∇H.
    entropy = -(ratio * logProbs)
    perToken = perToken - options.entropyCoefficient * entropy!
  }
  let loss = normalizer.aggregate(perToken * m, options: options, rows: shape[0])

  var statistics = SurrogateStatistics()
  withoutGrad {
    let r = weight.scalars
    let tokens = max(mask.reduce(0, +), 1)
    let (lowEdge, highEdge) = options.clipRange
    var low: Float = 0
    var high: Float = 0
    for i in 0..<n where mask[i] > 0 {
      if advantages[i] < 0 && r[i] < lowEdge { low += 1 }
      if advantages[i] > 0 && r[i] > highEdge { high += 1 }
    }
    statistics.clipFractionLow = Double(low / tokens)
    statistics.clipFractionHigh = Double(high / tokens)
    statistics.policyLoss = Double((policyTerm * m).sum().item / tokens)
    if let kl { statistics.kl = Double((kl * m).sum().item / tokens) }
    if let entropy { statistics.entropy = Double((entropy * m).sum().item / tokens) }
  }
  return (loss, statistics)
}

/// The family's importance weight (its values, for the clip statistics) and per-token
/// policy-gradient loss, before dual clip; `ratio` is the token ratio π_θ/π_old.
private func policyGradientTerm(
  logProbs: Tensor, ratio: Tensor, oldLogProbs: [Float], advantages a: Tensor, mask: [Float],
  options: SurrogateOptions
) -> (weight: Tensor, loss: Tensor) {
  let shape = logProbs.shape
  let (low, high) = options.clipRange
  switch options.family {
  case .clipped:
    let clipped = ratio.clamp(min: low, max: high)
    return (ratio, -Tensor.minimum(ratio * a, clipped * a))
  case .gspo:
    // GSPO-token: s_{i,t} = exp(sg[mean_t log ρ_i] + log π_θ − sg[log π_θ]) has the value
    // of the sequence ratio s_i and the gradient s_i·∇log π_θ(o_t).
    let current = logProbs.detached().scalars
    let width = shape[1]
    var shift = [Float](repeating: 0, count: current.count)
    for row in 0..<shape[0] {
      let span = (row * width)..<((row + 1) * width)
      var (sum, count): (Float, Float) = (0, 0)
      for i in span where mask[i] > 0 {
        sum += current[i] - oldLogProbs[i]
        count += 1
      }
      let meanLogRatio = count > 0 ? sum / count : 0
      for i in span { shift[i] = meanLogRatio - current[i] }
    }
    let sequenceRatio = (logProbs + Tensor(shift, shape: shape)).clamp(min: -20, max: 20).exp()
    let clipped = sequenceRatio.clamp(min: low, max: high)
    return (sequenceRatio, -Tensor.minimum(sequenceRatio * a, clipped * a))
  case .cispo:
    // −sg(clip(ρ))·Â·ρ/sg(ρ): the value −clip(ρ)·Â, the gradient −clip(ρ)·Â·∇log π_θ.
    let weight = ratio.detached().clamp(min: low, max: high)
    let unit = (logProbs - logProbs.detached()).exp()
    return (ratio, -(weight * a * unit))
  }
}

/// The denominators of a loss aggregation, taken from the whole batch.
public struct LossNormalizer: Equatable, Sendable {
  /// Σ m over the batch (tokenMean).
  public var tokens: Float
  /// Sequences in the batch.
  public var sequences: Int
  /// Per sequence Σ_t m, by the sequence's row in the minibatch being evaluated.
  public var tokensPerSequence: [Float]
  /// Σ m over the minibatch being evaluated, times the minibatches of the batch
  /// (minibatchTokenMean).
  public var minibatchTokensTimesCount: Float

  /// Normalizer for a minibatch (rows `mask` of a full batch with `batchTokens` masked
  /// tokens and `batchSequences` sequences), which is one of the `minibatches` the batch
  /// is cut into and holds `minibatchTokens` masked tokens (nil: the batch is one
  /// minibatch).
  public init(
    mask: [Float], rows: Int, batchTokens: Float, batchSequences: Int,
    minibatchTokens: Float? = nil, minibatches: Int = 1
  ) {
    tokens = max(batchTokens, 1)
    sequences = max(batchSequences, 1)
    let width = mask.count / max(rows, 1)
    tokensPerSequence = (0..<rows).map { r in
      max(mask[(r * width)..<((r + 1) * width)].reduce(0, +), 1)
    }
    minibatchTokensTimesCount = max(minibatchTokens ?? batchTokens, 1) * Float(max(minibatches, 1))
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
    case .minibatchTokenMean:
      return masked.sum() / minibatchTokensTimesCount
    }
  }
}
