import TensorCore

extension TransformerLM {
  /// Teacher-forced cross-entropy of `targets` (completion token ids, EOS included) after
  /// `prompts`, averaged over every target token: the supervised warm-start loss.
  public func supervisedLoss(prompts: [[Int]], targets: [[Int]]) -> Tensor {
    let (logProbs, mask) = logProbabilities(
      prompts: prompts, promptIndices: Array(prompts.indices), completions: targets)
    let weights = Tensor(mask, shape: logProbs.shape)
    return -(logProbs * weights).sum() / Float(max(mask.reduce(0, +), 1))
  }

  /// Positions per forward and backward pass when a batch is trained in chunks whose
  /// gradients add up (`accumulateSupervisedGradients`, the GRPO update). A chunk's
  /// activations then stay in the CPU caches: on the 0.8M-parameter policy, a supervised
  /// step of 32 × 112 tokens runs ≈ 15 % faster in chunks of 512 than in one pass, and
  /// 256 to 768 about as fast as 512 (`allot-bench sft-profile` with `SFT_CHUNK=…`).
  public static let chunkPositions = 512

  public var scoringChunkPositions: Int { Self.chunkPositions }

  /// Adds the gradient of `supervisedLoss(prompts:targets:)` to every parameter's `grad` and
  /// returns that loss, equal to it up to float rounding. The batch goes through the model
  /// in chunks of about `chunkPositions` positions (see `TransformerLM.chunkPositions`).
  /// `rows`, when given, restricts the pass to those sequences (a data-parallel shard):
  /// the loss is still normalised by the whole batch's target tokens and chunked as the
  /// whole batch is, so the shards' gradients and losses add up to the batch's.
  public func accumulateSupervisedGradients(
    prompts: [[Int]], targets: [[Int]], rows subset: Range<Int>? = nil,
    chunkPositions: Int = TransformerLM.chunkPositions
  ) -> Float {
    precondition(
      prompts.count == targets.count && chunkPositions > 0,
      "accumulateSupervisedGradients: \(prompts.count) prompts for \(targets.count) targets, "
        + "chunks of \(chunkPositions) positions")
    guard !prompts.isEmpty else { return 0 }
    let tokens = Float(max(targets.reduce(0) { $0 + $1.count }, 1))
    let longest = zip(prompts, targets).map { $0.count + $1.count }.max()!
    let size = rowsPerChunk(positions: longest, chunkPositions: chunkPositions)
    var loss: Float = 0
    let scored = subset ?? 0..<prompts.count
    for start in stride(from: scored.lowerBound, to: scored.upperBound, by: size) {
      let rows = start..<min(start + size, scored.upperBound)
      let (logProbs, mask) = logProbabilities(
        prompts: Array(prompts[rows]), promptIndices: Array(0..<rows.count),
        completions: Array(targets[rows]))
      let chunkLoss = -(logProbs * Tensor(mask, shape: logProbs.shape)).sum() / tokens
      chunkLoss.backward()
      loss += chunkLoss.item
    }
    return loss
  }
}

/// Encodes a prompt as the model sees it: BOS, then the prompt text.
public func encodePrompt(_ prompt: TaskPrompt, tokenizer: Tokenizer) throws -> [Int] {
  [Tokenizer.bos] + (try tokenizer.encode(prompt.text))
}

extension CausalLanguageModel {
  /// Sequences per chunk for sequences of `positions` tokens, in chunks of about
  /// `chunkPositions` (default: the model's `scoringChunkPositions`): at least one.
  public func rowsPerChunk(positions: Int, chunkPositions: Int? = nil) -> Int {
    max(1, (chunkPositions ?? scoringChunkPositions) / max(positions, 1))
  }
}
