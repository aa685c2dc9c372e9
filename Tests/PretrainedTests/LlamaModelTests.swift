import Foundation
import NN
import Reasoning
import TensorCore
import TestSupport
import Testing

@testable import Pretrained

// LlamaModel against Hugging Face transformers: tiny random Llama, Llama-3-rope-scaled and
// Qwen2 models saved by golden/make_model_golden.py with their logits.

private let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("golden")

/// A `LlamaConfig` from a Hugging Face `config.json` (the keys these tests need; the HF
/// directory loader replaces this once it lands). transformers 5 writes `rope_theta` and
/// the scaling inside `rope_parameters`.
func configFromHuggingFace(_ url: URL) throws -> LlamaConfig {
  let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
  let int = { (key: String) in json[key] as! Int }
  let rope = json["rope_parameters"] as? [String: Any] ?? json["rope_scaling"] as? [String: Any]
  let theta = (rope?["rope_theta"] ?? json["rope_theta"]) as! Double
  var scaling: LlamaConfig.Llama3RopeScaling?
  if let rope, rope["rope_type"] as? String == "llama3" {
    scaling = .init(
      factor: rope["factor"] as! Double, lowFrequencyFactor: rope["low_freq_factor"] as! Double,
      highFrequencyFactor: rope["high_freq_factor"] as! Double,
      originalContextLength: rope["original_max_position_embeddings"] as! Int)
  }
  let heads = int("num_attention_heads")
  let eos = json["eos_token_id"]
  let qwen = json["model_type"] as? String == "qwen2"
  return LlamaConfig(
    family: qwen ? .qwen2 : .llama, vocabularySize: int("vocab_size"),
    hiddenSize: int("hidden_size"), intermediateSize: int("intermediate_size"),
    layers: int("num_hidden_layers"), heads: heads, keyValueHeads: int("num_key_value_heads"),
    headDimension: json["head_dim"] as? Int ?? int("hidden_size") / heads,
    rmsNormEpsilon: Float(json["rms_norm_eps"] as! Double), ropeTheta: theta,
    ropeScaling: scaling, contextLength: int("max_position_embeddings"),
    tiedEmbeddings: json["tie_word_embeddings"] as? Bool ?? false,
    attentionBias: json["attention_bias"] as? Bool ?? qwen, bosToken: json["bos_token_id"] as? Int,
    eosTokens: (eos as? [Int]) ?? (eos as? Int).map { [$0] } ?? [])
}

/// Every tensor of a safetensors file, by name.
func loadWeights(_ url: URL) throws -> [String: Tensor] {
  let file = try SafetensorsFile(url: url)
  var out: [String: Tensor] = [:]
  for name in file.entries.keys { out[name] = try file.tensor(name) }
  return out
}

/// A model from a Hugging Face directory (config.json + model.safetensors).
func loadModel(_ directory: URL) throws -> LlamaModel {
  try LlamaModel(
    config: configFromHuggingFace(directory.appendingPathComponent("config.json")),
    weights: loadWeights(directory.appendingPathComponent("model.safetensors")))
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
  let directory = golden.appendingPathComponent(name)
  let model = try loadModel(directory)
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
  let model = try loadModel(golden.appendingPathComponent("tiny-qwen2"))
  let names = model.namedParameters().map(\.0)
  #expect(names.first == "model.embed_tokens.weight")
  #expect(names.contains("model.layers.1.self_attn.k_proj.bias"))
  #expect(names.contains("model.layers.0.mlp.down_proj.weight"))
  #expect(names.last == "lm_head.weight")
  let file = try SafetensorsFile(
    url: golden.appendingPathComponent("tiny-qwen2/model.safetensors"))
  #expect(Set(names) == Set(file.entries.keys))
}

@Test func strictLoadingNamesTheTensorAndShapes() throws {
  let directory = golden.appendingPathComponent("tiny-llama")
  let config = try configFromHuggingFace(directory.appendingPathComponent("config.json"))
  let weights = try loadWeights(directory.appendingPathComponent("model.safetensors"))
  let error = { (w: [String: Tensor]) -> String in
    do {
      _ = try LlamaModel(config: config, weights: w)
      return ""
    } catch { return "\(error)" }
  }
  var missing = weights
  missing["model.layers.1.mlp.up_proj.weight"] = nil
  #expect(
    error(missing) == "missing weight 'model.layers.1.mlp.up_proj.weight' (expected shape [48, 32])"
  )
  var wrong = weights
  wrong["model.layers.0.self_attn.k_proj.weight"] = Tensor.zeros([32, 32])
  #expect(
    error(wrong)
      == "weight 'model.layers.0.self_attn.k_proj.weight' has shape [32, 32], expected [16, 32]")
  var extra = weights
  extra["lm_head.weight"] = Tensor.zeros([61, 32])  // tied: no head expected
  #expect(error(extra) == "unexpected weights not in the model: lm_head.weight")
  #expect(error(weights) == "")
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

// SmolLM2-135M-Instruct's logits and greedy generations against smollm2_logits.json are
// tested from its GGUF in PretrainedModelTests.swift.
