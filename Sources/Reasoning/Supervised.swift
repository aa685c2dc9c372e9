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
}

/// Encodes a prompt as the model sees it: BOS, then the prompt text.
public func encodePrompt(_ prompt: TaskPrompt, tokenizer: Tokenizer) throws -> [Int] {
  [Tokenizer.bos] + (try tokenizer.encode(prompt.text))
}
