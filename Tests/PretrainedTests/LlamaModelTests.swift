import Foundation
import NN
import Reasoning
import TensorCore
import TestSupport
import Testing

@testable import Pretrained

// LlamaModel against Hugging Face transformers: tiny random Llama, Llama-3-rope-scaled and
// Qwen2 models saved by golden/make_model_golden.py with their logits.

/// A model from a Hugging Face directory or GGUF file, through `PretrainedFiles.load`.
private func loadLlama(_ url: URL) throws -> LlamaModel {
  let files = try PretrainedFiles.load(url.path, requireTokenizer: false)
  return try LlamaModel(config: files.config, weights: files.weights)
}

private struct LogitsCase: Decodable {
  var name: String
  var batch: Int
  var ids: [Int]
  var positions: [Int]
  var keyPadding: [Int]
  var logits: [Float]
}

@Test(arguments: ["tiny-llama", "tiny-llama3-rope-scaling", "tiny-qwen2"])
func logitsAgreeWithTransformers(_ name: String) throws {
  let directory = goldenDirectory.appendingPathComponent(name)
  let model = try loadLlama(directory)
  let cases = try JSONDecoder().decode(
    [String: [LogitsCase]].self,
    from: Data(contentsOf: directory.appendingPathComponent("logits.json")))["cases"]!
  #expect(cases.count == 3)
  for c in cases {
    let logits = withoutGrad {
      model(c.ids, batch: c.batch, positions: c.positions, keyPadding: c.keyPadding)
    }.scalars
    let (t, v) = (c.ids.count / c.batch, model.vocabularySize)
    var worst: Float = 0
    for b in 0..<c.batch {
      for i in c.keyPadding[b]..<t {  // padded positions are not compared
        for j in 0..<v {
          let k = (b * t + i) * v + j
          worst = max(worst, abs(logits[k] - c.logits[k]))
        }
      }
    }
    let spread = c.logits.map(abs).max()!
    #expect(spread > 0.5, "\(name)/\(c.name): logits too flat to test anything")
    #expect(worst < 1e-4, "\(name)/\(c.name): max |Δlogit| = \(worst)")
  }
}

@Test func parameterNamesAreHuggingFaceNames() throws {
  let model = try loadLlama(goldenDirectory.appendingPathComponent("tiny-qwen2"))
  let names = model.namedParameters().map(\.0)
  #expect(names.first == "model.embed_tokens.weight")
  #expect(names.contains("model.layers.1.self_attn.k_proj.bias"))
  #expect(names.contains("model.layers.0.mlp.down_proj.weight"))
  #expect(names.last == "lm_head.weight")
  let file = try SafetensorsFile(
    url: goldenDirectory.appendingPathComponent("tiny-qwen2/model.safetensors"))
  #expect(Set(names) == Set(file.entries.keys))
}

@Test func strictLoadingNamesTheTensorAndShapes() throws {
  let files = try PretrainedFiles.load(
    goldenDirectory.appendingPathComponent("tiny-llama").path, requireTokenizer: false)
  let error = { (w: [String: Tensor]) in
    errorText { _ = try LlamaModel(config: files.config, weights: w) }
  }
  var missing = files.weights
  missing["model.layers.1.mlp.up_proj.weight"] = nil
  #expect(
    error(missing)
      == "weights: tensor 'model.layers.1.mlp.up_proj.weight' is missing (expected shape [48, 32])")
  var wrong = files.weights
  wrong["model.layers.0.self_attn.k_proj.weight"] = Tensor.zeros([32, 32])
  #expect(
    error(wrong)
      == "weights: tensor 'model.layers.0.self_attn.k_proj.weight' has shape [32, 32], expected [16, 32]"
  )
  var extra = files.weights
  extra["lm_head.weight"] = Tensor.zeros([61, 32])  // tied: no head expected
  #expect(error(extra).hasPrefix("weights: tensor 'lm_head.weight' is not part of the model"))
  #expect(error(files.weights) == "")
}

/// A random tiny grouped-query model (for sampling tests).
private func randomModel(seed: UInt64) -> LlamaModel {
  var rng = RandomState(seed: seed)
  let config = LlamaConfig(
    family: .llama, vocabularySize: 37, hiddenSize: 24, intermediateSize: 40, layers: 2,
    heads: 6, keyValueHeads: 2, headDimension: 4, rmsNormEpsilon: 1e-5, ropeTheta: 10000,
    contextLength: 48, tiedEmbeddings: true, attentionBias: false, bosToken: 1, eosTokens: [2])
  let model = LlamaModel(config: config, rng: &rng)
  // Larger weights than the 0.02 default so that the distributions are far from uniform.
  for (_, p) in model.namedParameters() where p.rank == 2 {
    p.assign(Tensor.normal(p.shape, std: 0.3, rng: &rng))
  }
  return model
}

@Test func cachedSamplingEqualsFullRecompute() {
  // Greedy decoding with the KV cache against recomputing every prefix without one, for
  // prompts of different lengths (left padding) in one batch.
  let model = randomModel(seed: 3)
  let prompts = [[1, 5, 9, 4, 7], [1, 8], [1, 3, 3]]
  var rng = RandomState(seed: 4)
  let rollouts = model.sample(
    prompts: prompts, counts: [1, 1, 1],
    options: SamplingOptions(greedy: true, maxNewTokens: 12, stopAtEOS: false), rng: &rng)
  for (prompt, rollout) in zip(prompts, rollouts) {
    var sequence = prompt
    for k in 0..<12 {
      let logits = withoutGrad {
        model(sequence, batch: 1, positions: Array(0..<sequence.count))
      }.scalars.suffix(37)
      let best = logits.indices.max { logits[$0] < logits[$1] }! - logits.startIndex
      #expect(rollout.tokens[k] == best, "prompt \(prompt), step \(k)")
      sequence.append(rollout.tokens[k])
    }
  }
}

@Test func samplerLogProbsEqualScorerLogProbs() {
  let model = randomModel(seed: 5)
  let prompts = [[1, 4, 6, 8], [1, 9]]
  var rng = RandomState(seed: 6)
  let options = SamplingOptions(temperature: 0.8, maxNewTokens: 10)
  let rollouts = model.sample(prompts: prompts, counts: [2, 2], options: options, rng: &rng)
  let (scored, mask) = model.logProbabilities(
    prompts: prompts, promptIndices: rollouts.map(\.promptIndex),
    completions: rollouts.map(\.tokens), temperature: 0.8)
  let width = scored.shape[1]
  for (r, rollout) in rollouts.enumerated() {
    let row = Array(scored.scalars[(r * width)..<(r * width + rollout.tokens.count)])
    #expect(isClose(row, rollout.logProbs, atol: 1e-4), "rollout \(r)")
    #expect(mask[(r * width)..<(r * width + rollout.tokens.count)].allSatisfy { $0 == 1 })
  }
}

@Test func llamaSamplerLogProbsStayTheFullDistributionUnderCutsAndAPenalty() {
  let model = randomModel(seed: 5)
  let prompts = [[1, 4, 6, 8], [1, 9]]
  var rng = RandomState(seed: 6)
  let options = SamplingOptions(
    temperature: 0.8, topK: 10, minP: 0.05, repetitionPenalty: 1.3, maxNewTokens: 10)
  let rollouts = model.sample(prompts: prompts, counts: [2, 2], options: options, rng: &rng)
  let (scored, _) = model.logProbabilities(
    prompts: prompts, promptIndices: rollouts.map(\.promptIndex),
    completions: rollouts.map(\.tokens), temperature: 0.8)
  #expect(largestLogProbDifference(scored, rollouts.map(\.logProbs)) < 1e-4)
}

@Test func gradientsReachEveryParameter() {
  let model = randomModel(seed: 7)
  let ids = [1, 4, 6, 8, 3, 1, 9, 2]
  let loss = model(ids, batch: 2, positions: [0, 1, 2, 3, 0, 0, 1, 2], keyPadding: [0, 1])
    .logProbabilities(of: [4, 6, 8, 3, 9, 9, 2, 5]).sum()
  loss.backward()
  for (name, p) in model.namedParameters() {
    let g = p.grad?.scalars ?? []
    #expect(g.contains { $0 != 0 }, "no gradient for \(name)")
  }
}

@Test func sharedPromptScoringEqualsWholeSequenceScoring() {
  // Prompts of 5, 2 and 3 tokens (left-padded when scored whole), rows of unequal lengths
  // (1 to 6 tokens; prompt 2's one row of 1 token needs no row pass) interleaved across
  // prompts, scored at once and deferred in chunks of one prompt's rows (two chunks share
  // prompt 0's kept prefix).
  let model = randomModel(seed: 9)
  let d = sharedPromptDisagreement(
    model, prompts: [[1, 5, 9, 4, 7], [1, 8], [1, 3, 3]], promptIndices: [0, 1, 0, 2, 1, 0],
    completions: [[4, 6, 8, 2], [9, 3, 5], [7], [5], [6, 1, 2, 8, 3], [3, 4, 5, 6, 7, 8]],
    temperature: 0.8, chunks: [[0, 2], [5], [1, 4], [3]])
  #expect(d.values < 1e-5, "log-probabilities differ by \(d.values)")
  #expect(d.largestGradient > 0.1)
  #expect(d.gradients < 1e-5 * max(1, d.largestGradient), "gradients differ by \(d.gradients)")
}

// SmolLM2-135M-Instruct from its GGUF (.models/, fetched by .ci/setup; `smolLM2GGUF()` in
// GGUFTests skips it when the file is absent outside CI).
private struct SmolPrompt: Decodable {
  var ids: [Int]
  var top10Ids: [Int]
  var top10Logits: [Float]
  var logSumExp: Float
  var greedy: [Int]
}

@Test func smolLM2LogitsAndGreedyTokensAgreeWithTransformers() throws {
  guard let url = try smolLM2GGUF() else { return }
  let model = try loadLlama(url)
  struct Golden: Decodable { var prompts: [SmolPrompt] }
  let prompts = try JSONDecoder().decode(
    Golden.self,
    from: Data(contentsOf: goldenDirectory.appendingPathComponent("smollm2_logits.json"))
  ).prompts
  for (n, p) in prompts.enumerated() {
    let last = withoutGrad {
      model(p.ids, batch: 1, positions: Array(0..<p.ids.count))
    }.scalars.suffix(model.vocabularySize)
    let logits = Array(last)
    for (id, value) in zip(p.top10Ids, p.top10Logits) {
      #expect(abs(logits[id] - value) < 1e-3, "prompt \(n): logit of \(id)")
    }
    let top = logits.indices.sorted { logits[$0] > logits[$1] }.prefix(10)
    #expect(Array(top.prefix(3)) == Array(p.top10Ids.prefix(3)), "prompt \(n)")
    let m = logits.max()!
    let lse = m + Float(log(logits.reduce(0.0) { $0 + exp(Double($1 - m)) }))
    #expect(abs(lse - p.logSumExp) < 1e-3, "prompt \(n): log-sum-exp")
  }
  // Greedy generation of 32 tokens, all prompts in one left-padded batch.
  var rng = RandomState(seed: 1)
  let rollouts = model.sample(
    prompts: prompts.map(\.ids), counts: prompts.map { _ in 1 },
    options: SamplingOptions(greedy: true, maxNewTokens: 32, stopAtEOS: false), rng: &rng)
  for (n, (p, r)) in zip(prompts, rollouts).enumerated() {
    #expect(r.tokens == p.greedy, "prompt \(n): greedy tokens")
  }
}
