import Optim
import Reasoning
import TensorCore
import TestSupport
import Testing

private func tinyModel(seed: UInt64 = 1, tied: Bool = true) -> TransformerLM {
  var rng = RandomState(seed: seed)
  return TransformerLM(
    TransformerShape(
      vocabulary: 20, layers: 2, heads: 2, width: 16, context: 32, tiedEmbeddings: tied), rng: &rng)
}

/// Greedy decoding by recomputing the whole sequence at every step (no cache).
private func greedyWithoutCache(_ model: TransformerLM, prompt: [Int], steps: Int) -> [Int] {
  var sequence = prompt
  var out: [Int] = []
  withoutGrad {
    for _ in 0..<steps {
      let logits = model(sequence, batch: 1, positions: Array(0..<sequence.count))
      let last = logits.slice(axis: 1, (sequence.count - 1)..<sequence.count).scalars
      let next = last.indices.max { last[$0] < last[$1] || (last[$0] == last[$1] && $0 > $1) }!
      out.append(next)
      if next == Tokenizer.eos { break }
      sequence.append(next)
    }
  }
  return out
}

@Test func kvCacheSamplingEqualsFullRecomputation() {
  let model = tinyModel()
  let prompts = [[0, 5, 6, 7], [0, 9], [0, 3, 4, 8, 10, 11]]
  var rng = RandomState(seed: 3)
  let rollouts = model.sample(
    prompts: prompts, counts: [1, 1, 1], options: SamplingOptions(greedy: true, maxNewTokens: 12),
    rng: &rng)
  for r in rollouts {
    #expect(r.tokens == greedyWithoutCache(model, prompt: prompts[r.promptIndex], steps: 12))
  }
}

@Test func samplerLogProbsEqualScoredLogProbs() {
  let model = tinyModel(seed: 4, tied: false)
  let prompts = [[0, 5, 6], [0, 7, 8, 9, 10]]
  var rng = RandomState(seed: 5)
  let options = SamplingOptions(temperature: 0.8, topP: 0.9, topK: 12, maxNewTokens: 10)
  let rollouts = model.sample(prompts: prompts, counts: [3, 2], options: options, rng: &rng)
  #expect(rollouts.map(\.promptIndex) == [0, 0, 0, 1, 1])
  let (scored, mask) = model.logProbabilities(
    prompts: prompts, promptIndices: rollouts.map(\.promptIndex),
    completions: rollouts.map(\.tokens),
    temperature: 0.8)
  let width = scored.shape[1]
  let values = scored.scalars
  var worst: Float = 0
  for (r, rollout) in rollouts.enumerated() {
    for (k, lp) in rollout.logProbs.enumerated() {
      #expect(mask[r * width + k] == 1)
      worst = max(worst, abs(values[r * width + k] - lp))
    }
    for k in rollout.tokens.count..<width { #expect(mask[r * width + k] == 0) }
  }
  #expect(worst < 1e-5, "largest log-prob difference \(worst)")
  // Entropies lie in [0, log 20].
  #expect(rollouts.allSatisfy { $0.entropies.allSatisfy { $0 >= 0 && $0 <= 2.996 + 1e-4 } })
}

@Test func paddedBatchesMatchPromptsAlone() {
  let model = tinyModel(seed: 6)
  let prompts = [[0, 5], [0, 6, 7, 8, 9, 10, 11]]
  var rng = RandomState(seed: 1)
  let batch = model.sample(
    prompts: prompts, counts: [1, 1], options: SamplingOptions(greedy: true, maxNewTokens: 8),
    rng: &rng)
  for (i, prompt) in prompts.enumerated() {
    var single = RandomState(seed: 1)
    let alone = model.sample(
      prompts: [prompt], counts: [1], options: SamplingOptions(greedy: true, maxNewTokens: 8),
      rng: &single)
    #expect(batch[i].tokens == alone[0].tokens)
    #expect(isClose(batch[i].logProbs, alone[0].logProbs, atol: 1e-5, rtol: 1e-5))
  }
}

@Test func samplingIsDeterministicUnderASeedAndTopKOneIsGreedy() {
  let model = tinyModel(seed: 8)
  let prompts = [[0, 4, 5]]
  func draw(_ seed: UInt64, _ options: SamplingOptions) -> [[Int]] {
    var rng = RandomState(seed: seed)
    return model.sample(prompts: prompts, counts: [4], options: options, rng: &rng).map(\.tokens)
  }
  let options = SamplingOptions(temperature: 1.5, maxNewTokens: 10)
  #expect(draw(1, options) == draw(1, options))
  #expect(draw(1, options) != draw(2, options))
  let greedy = draw(1, SamplingOptions(greedy: true, maxNewTokens: 10))
  #expect(draw(9, SamplingOptions(topK: 1, maxNewTokens: 10)) == greedy)
}

@Test func aTinyModelLearnsSolutionsByHeart() throws {
  let tokenizer = Tokenizer()
  let task = ArithmeticTask(
    minDigits: 1, maxDigits: 1, operations: [.add], trainSize: 4, testSize: 0, seed: 3)
  let prompts = task.prompts(.train)
  let promptTokens = try prompts.map { try encodePrompt($0, tokenizer: tokenizer) }
  let targets = try prompts.map { try tokenizer.encode(task.solution($0)!) + [Tokenizer.eos] }
  var rng = RandomState(seed: 2)
  let model = TransformerLM(
    TransformerShape(
      vocabulary: tokenizer.vocabularySize, layers: 2, heads: 2, width: 32, context: 96), rng: &rng)
  let adam = Adam(parameters: model.namedParameters(), learningRate: 3e-3)
  var loss: Float = 0
  for _ in 0..<300 {
    adam.zeroGrad()
    let l = model.supervisedLoss(prompts: promptTokens, targets: targets)
    loss = l.item
    l.backward()
    adam.step()
  }
  #expect(loss < 0.01, "final loss \(loss)")
  var sampler = RandomState(seed: 0)
  let rollouts = model.sample(
    prompts: promptTokens, counts: [1, 1, 1, 1],
    options: SamplingOptions(greedy: true, maxNewTokens: 80), rng: &sampler)
  for r in rollouts {
    #expect(r.tokens == targets[r.promptIndex])
    #expect(task.reward(prompts[r.promptIndex], completion: tokenizer.decode(r.tokens)) == 1)
  }
}

@Test func languageModelGradientsMatchFiniteDifferences() {
  let model = tinyModel(seed: 9, tied: true)
  let chosen = [model.tokens.weight, model.positions.weight, model.blocks.items[1].attn.wv.weight]
  let report = checkGradients(chosen, eps: 1e-2, atol: 5e-3, rtol: 5e-2) { _ in
    model.supervisedLoss(prompts: [[0, 3, 4], [0, 5]], targets: [[6, 7, 1], [8, 1]])
  }
  #expect(report.passed, "\(report)")
}

@Test func chunkedSupervisedGradientsEqualTheWholeBatch() {
  // Five sequences of up to 9 positions, in chunks of 16 positions (one sequence each) and
  // of 20 (two, two, one): the loss and every gradient equal those of one pass.
  let prompts = [[0, 3, 4], [0, 5], [0, 6, 7, 8], [0, 9], [0, 3]]
  let targets = [[6, 7, 1], [8, 1], [10, 11, 12, 13, 1], [4, 1], [5, 6, 7, 1]]
  let model = tinyModel(seed: 4)
  model.zeroGrad()
  let whole = model.supervisedLoss(prompts: prompts, targets: targets)
  whole.backward()
  let expected = model.parameters.map { $0.grad!.scalars }
  for chunk in [16, 20] {
    model.zeroGrad()
    let loss = model.accumulateSupervisedGradients(
      prompts: prompts, targets: targets, chunkPositions: chunk)
    #expect(abs(loss - whole.item) < 1e-6)
    for (p, e) in zip(model.parameters, expected) {
      #expect(isClose(p.grad!.scalars, e, atol: 1e-6, rtol: 1e-5))
    }
  }
}

@Test func samplerLogProbsAreTheFullDistributionsWhateverTheCutsAndThePenalty() {
  // Tokens are drawn after the penalty and the top-k/top-p/min-p cuts, but the reported
  // log-probs stay those of softmax(logits / T) over the whole vocabulary: what the tape
  // scorer (the GRPO trainer's π_θ) computes.
  let model = tinyModel(seed: 4, tied: false)
  let prompts = [[0, 5, 6], [0, 7, 8, 9, 10]]
  let options = SamplingOptions(
    temperature: 0.7, topP: 0.95, topK: 8, minP: 0.05, repetitionPenalty: 1.3, maxNewTokens: 10)
  var rng = RandomState(seed: 5)
  let rollouts = model.sample(prompts: prompts, counts: [3, 2], options: options, rng: &rng)
  let (scored, _) = model.logProbabilities(
    prompts: prompts, promptIndices: rollouts.map(\.promptIndex),
    completions: rollouts.map(\.tokens), temperature: 0.7)
  let worst = largestLogProbDifference(scored, rollouts.map(\.logProbs))
  #expect(worst < 1e-5, "largest log-prob difference \(worst)")
  // With top-k 1 the renormalised distribution gives every token probability 1 (log 0);
  // the full distribution does not.
  var greedyRNG = RandomState(seed: 0)
  let one = model.sample(
    prompts: prompts, counts: [1, 1], options: SamplingOptions(topK: 1, maxNewTokens: 6),
    rng: &greedyRNG)
  #expect(one.allSatisfy { $0.logProbs.allSatisfy { $0 < -1e-3 } })
}

@Test func minPOneIsGreedyAndMinPZeroChangesNothing() {
  let model = tinyModel(seed: 8)
  let prompts = [[0, 4, 5]]
  func draw(_ seed: UInt64, _ options: SamplingOptions) -> [Rollout] {
    var rng = RandomState(seed: seed)
    return model.sample(prompts: prompts, counts: [4], options: options, rng: &rng)
  }
  let greedy = draw(1, SamplingOptions(greedy: true, maxNewTokens: 10)).map(\.tokens)
  #expect(
    draw(9, SamplingOptions(temperature: 2, minP: 1, maxNewTokens: 10)).map(\.tokens) == greedy)
  let plain = SamplingOptions(temperature: 1.5, topP: 0.9, maxNewTokens: 10)
  var zero = plain
  zero.minP = 0
  zero.repetitionPenalty = 1
  #expect(draw(3, zero) == draw(3, plain))
  // A loose min-p still samples (it is no greedy in disguise).
  #expect(
    draw(3, SamplingOptions(temperature: 2, minP: 0.01, maxNewTokens: 10)).map(\.tokens) != greedy)
}

@Test func repetitionPenaltyIsTransformersRule() {
  // Greedy decoding with the penalty against the rule applied by hand to full recomputes:
  // every token already in the row (prompt included) has its logit divided by the penalty
  // when positive, multiplied when negative.
  let model = tinyModel(seed: 11)
  let prompt = [0, 5, 6, 5, 7]
  let penalty: Float = 1.8
  var rng = RandomState(seed: 0)
  let rollout = model.sample(
    prompts: [prompt], counts: [1],
    options: SamplingOptions(repetitionPenalty: penalty, greedy: true, maxNewTokens: 12),
    rng: &rng)[0]
  var sequence = prompt
  var expected: [Int] = []
  withoutGrad {
    for _ in 0..<12 {
      let logits = model(sequence, batch: 1, positions: Array(0..<sequence.count))
      var last = logits.slice(axis: 1, (sequence.count - 1)..<sequence.count).scalars
      for t in Set(sequence) { last[t] = last[t] > 0 ? last[t] / penalty : last[t] * penalty }
      let next = last.indices.max { last[$0] < last[$1] || (last[$0] == last[$1] && $0 > $1) }!
      expected.append(next)
      if next == Tokenizer.eos { break }
      sequence.append(next)
    }
  }
  #expect(rollout.tokens == expected)
  var plainRNG = RandomState(seed: 0)
  let plain = model.sample(
    prompts: [prompt], counts: [1], options: SamplingOptions(greedy: true, maxNewTokens: 12),
    rng: &plainRNG)[0]
  #expect(plain.tokens != rollout.tokens, "the penalty should change this greedy reply")
}

@Test func sharedPromptScoringEqualsWholeSequenceScoringOnTheTransformer() {
  // As for the Llama model (PretrainedTests): left padding, unequal rows, an empty one,
  // an untied head; scored at once and deferred in chunks.
  for tied in [true, false] {
    let model = tinyModel(seed: 4, tied: tied)
    let d = sharedPromptDisagreement(
      model, prompts: [[0, 3, 4, 7], [0, 5]], promptIndices: [1, 0, 1, 0, 0],
      completions: [[6, 7, 8], [9], [], [10, 11, 12, 13, 2], [3, 4]], temperature: 1,
      chunks: [[1], [3, 4], [0, 2]])
    #expect(d.values < 1e-5, "log-probabilities differ by \(d.values)")
    #expect(d.largestGradient > 0.1)
    #expect(d.gradients < 1e-5 * max(1, d.largestGradient), "gradients differ by \(d.gradients)")
  }
}
