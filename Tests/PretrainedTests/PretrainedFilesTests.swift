import Foundation
import TensorCore
import Testing

@testable import Pretrained

/// A tiny config.json of `modelType` with `extra` keys.
func tinyConfigJSON(_ modelType: String = "llama", _ extra: String = "") -> String {
  #"{"model_type": "\#(modelType)", "hidden_size": 8, "intermediate_size": 16, "#
    + #""num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "#
    + #""vocab_size": 10, "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "#
    + #""max_position_embeddings": 64, "tie_word_embeddings": true, "bos_token_id": 1, "#
    + #""eos_token_id": 2\#(extra)}"#
}

/// Random weights of the shapes `config` expects.
func tinyWeights(_ config: LlamaConfig, seed: UInt64 = 1) -> [String: Tensor] {
  var rng = RandomState(seed: seed)
  return config.weightShapes.mapValues { Tensor.normal($0, rng: &rng) }
}

/// A directory holding `files` (name → text) and `model.safetensors` of `weights`.
func huggingFaceDirectory(_ files: [String: String], weights: [String: Tensor]?) throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-hf-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  for (name, text) in files {
    try text.write(to: url.appendingPathComponent(name), atomically: true, encoding: .utf8)
  }
  if let weights {
    try SafetensorsWriter.write(weights, to: url.appendingPathComponent("model.safetensors"))
  }
  return url
}

let tinyConfig = try! HuggingFaceDirectory.config(json: Data(tinyConfigJSON().utf8), path: "x")

@Test func safetensorsWriterRoundTripsF32AndBF16() throws {
  let values: [Float] = [1.5, -2, 0, -0.0, 3.0e38, 1e-40, .infinity, 0.15625, -7.25, 1024]
  let a = Tensor(values, shape: [2, 5])
  let b = Tensor([Float](repeating: 0.5, count: 3), shape: [3])
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-w-\(UUID().uuidString).safetensors")
  try SafetensorsWriter.write(["a": a, "b\"q": b], metadata: ["format": "pt"], to: url)
  let file = try SafetensorsFile(url: url)
  #expect(file.metadata == ["format": "pt"])
  #expect(try file.tensor("a").shape == [2, 5])
  #expect(try file.tensor("a").scalars.map(\.bitPattern) == values.map(\.bitPattern))
  #expect(try file.tensor("b\"q").scalars == [0.5, 0.5, 0.5])
  let header = try Data(contentsOf: url).prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
  #expect(header % 8 == 0)

  // Values of at most 8 significant bits survive BF16 exactly (1e-40 and 3e38 do not).
  let exact = values.filter { $0 != 1e-40 && $0 != 3.0e38 }
  try SafetensorsWriter.write(
    ["x": Tensor(exact)], dtype: .bf16, metadata: [:], to: url)
  let bf = try SafetensorsFile(url: url)
  #expect(bf.entries["x"]?.dtype == .bf16)
  #expect(try bf.tensor("x").scalars.map(\.bitPattern) == exact.map(\.bitPattern))
  // Rounding to nearest, ties to even.
  #expect(SafetensorsWriter.bfloat16Bits(Float(bitPattern: 0x3F80_8000)) == 0x3F80)
  #expect(SafetensorsWriter.bfloat16Bits(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
  #expect(SafetensorsWriter.bfloat16Bits(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
  #expect(SafetensorsWriter.bfloat16Bits(.nan) & 0x7FC0 == 0x7FC0)
}

@Test func loadsAHuggingFaceDirectory() throws {
  let weights = tinyWeights(tinyConfig)
  let url = try huggingFaceDirectory(
    [
      "config.json": tinyConfigJSON(), "tokenizer.json": "{}",
      "generation_config.json": #"{"eos_token_id": [5, 2]}"#,
      "tokenizer_config.json":
        #"{"chat_template": "{{ messages }}", "eos_token": {"content": "</s>"}, "bos_token": "<s>", "add_bos_token": false}"#,
    ], weights: weights)
  let loaded = try PretrainedFiles.load(url.path)
  let c = loaded.config
  #expect(c.family == .llama && c.hiddenSize == 8 && c.layers == 2 && c.heads == 2)
  #expect(c.keyValueHeads == 1 && c.headDimension == 4 && c.vocabularySize == 10)
  #expect(c.rmsNormEpsilon == 1e-5 && c.ropeTheta == 500000 && c.contextLength == 64)
  #expect(c.tiedEmbeddings && !c.attentionBias && c.bosToken == 1 && c.eosTokens == [5, 2])
  #expect(Set(loaded.weights.keys) == Set(weights.keys))
  for (name, t) in weights { #expect(loaded.weights[name]?.scalars == t.scalars, "\(name)") }
  #expect(loaded.chatTemplate == "{{ messages }}")
  guard case .huggingFace(let json, let tokenizerConfig)? = loaded.tokenizer else {
    Issue.record("tokenizer source is not a Hugging Face directory")
    return
  }
  #expect(json.lastPathComponent == "tokenizer.json")
  #expect(tokenizerConfig?.eosToken == "</s>" && tokenizerConfig?.bosToken == "<s>")
  #expect(tokenizerConfig?.addBosToken == false)
  #expect(loaded.source == "Hugging Face llama directory, 1 safetensors file (F32 ×20)")
  let again = try PretrainedFiles.load(url.path)
  #expect(again.contentHash == loaded.contentHash)
}

@Test func loadsShardedQwen2WithBiases() throws {
  let json = tinyConfigJSON("qwen2", #", "rope_scaling": null"#)
  let config = try HuggingFaceDirectory.config(json: Data(json.utf8), path: "x")
  #expect(config.family == .qwen2 && config.attentionBias)
  #expect(config.weightShapes["model.layers.1.self_attn.k_proj.bias"] == [4])
  let weights = tinyWeights(config, seed: 2)
  let url = try huggingFaceDirectory(["config.json": json], weights: nil)
  let names = weights.keys.sorted()
  let first = Dictionary(uniqueKeysWithValues: names.prefix(10).map { ($0, weights[$0]!) })
  let second = Dictionary(uniqueKeysWithValues: names.dropFirst(10).map { ($0, weights[$0]!) })
  try SafetensorsWriter.write(first, to: url.appendingPathComponent("a.safetensors"))
  try SafetensorsWriter.write(second, to: url.appendingPathComponent("b.safetensors"))
  func index(_ misplaced: String? = nil) -> String {
    let entries = names.enumerated().map { i, n in
      "\"\(n)\": \"\((i < 10) != (n == misplaced) ? "a" : "b").safetensors\""
    }
    return #"{"metadata": {}, "weight_map": {"# + entries.joined(separator: ", ") + "}}"
  }
  try index().write(
    to: url.appendingPathComponent("model.safetensors.index.json"), atomically: true,
    encoding: .utf8)
  let loaded = try PretrainedFiles.load(url.path, requireTokenizer: false)
  #expect(loaded.weights.count == weights.count && loaded.tokenizer == nil)
  for (name, t) in weights { #expect(loaded.weights[name]?.scalars == t.scalars, "\(name)") }
  #expect(loaded.source.contains("2 safetensors files"))
  try index(names[0]).write(
    to: url.appendingPathComponent("model.safetensors.index.json"), atomically: true,
    encoding: .utf8)
  let misplaced = errorText { _ = try PretrainedFiles.load(url.path, requireTokenizer: false) }
  #expect(
    misplaced.contains(
      "a.safetensors: holds tensor '\(names[0])', which the index places in b.safetensors"))
}

@Test func badDirectoriesNameTheFileAndTheProblem() throws {
  let weights = tinyWeights(tinyConfig)
  func load(_ files: [String: String], _ w: [String: Tensor]? = weights) throws -> String {
    var files = files
    if files["tokenizer.json"] == nil { files["tokenizer.json"] = "{}" }
    let url = try huggingFaceDirectory(files, weights: w)
    return errorText { _ = try PretrainedFiles.load(url.path) }.replacingOccurrences(
      of: url.path, with: "DIR")
  }
  #expect(
    try load(["config.json": tinyConfigJSON("mistral")])
      == "DIR/config.json: model_type is 'mistral'; Allot reads 'llama' and 'qwen2'")
  #expect(try load([:]) == "DIR: has no config.json")
  var missing = weights
  missing["model.layers.1.mlp.up_proj.weight"] = nil
  #expect(
    try load(["config.json": tinyConfigJSON()], missing)
      == "DIR: tensor 'model.layers.1.mlp.up_proj.weight' is missing (expected shape [16, 8])")
  var wrong = weights
  wrong["model.layers.0.self_attn.k_proj.weight"] = Tensor.zeros([8, 8])
  #expect(
    try load(["config.json": tinyConfigJSON()], wrong)
      == "DIR: tensor 'model.layers.0.self_attn.k_proj.weight' has shape [8, 8], expected [4, 8]")
  var extra = weights
  extra["lm_head.weight"] = Tensor.zeros([10, 8])
  #expect(
    try load(["config.json": tinyConfigJSON()], extra)
      == "DIR: tensor 'lm_head.weight' is not part of the model (the config ties the output head to the embedding)"
  )
  let yarn = tinyConfigJSON("llama", #", "rope_scaling": {"rope_type": "yarn", "factor": 4}"#)
  #expect(
    try load(["config.json": yarn])
      == "DIR/config.json: rope_scaling type is 'yarn'; Allot supports only 'llama3'")
  let threeKV = tinyConfigJSON().replacingOccurrences(
    of: #""num_key_value_heads": 1"#, with: #""num_key_value_heads": 3"#)
  #expect(
    try load(["config.json": threeKV])
      == "DIR/config.json: num_key_value_heads is 3, which does not divide 2 heads")
  let noWidth = tinyConfigJSON().replacingOccurrences(of: #""hidden_size": 8, "#, with: "")
  #expect(try load(["config.json": noWidth]) == "DIR/config.json: has no hidden_size")
  let flag = tinyConfigJSON().replacingOccurrences(
    of: #""tie_word_embeddings": true"#, with: #""tie_word_embeddings": 1"#)
  #expect(
    try load(["config.json": flag])
      == "DIR/config.json: tie_word_embeddings is 1, not true or false")
  #expect(
    try load(["config.json": "[1]"]) == "DIR/config.json: is not a JSON object")
  #expect(
    try load(["config.json": tinyConfigJSON(), "pytorch_model.bin": ""], nil)
      == "DIR: has no model.safetensors or model.safetensors.index.json (only pytorch_model.bin, which Allot does not read: convert it to safetensors)"
  )
  let noTokenizer = try huggingFaceDirectory(["config.json": tinyConfigJSON()], weights: weights)
  #expect(
    errorText { _ = try PretrainedFiles.load(noTokenizer.path) }.hasSuffix(
      "has no tokenizer.json (Allot reads the tokenizer of a directory from it)"))
}

@Test func llama3RopeScalingIsRead() throws {
  let json = tinyConfigJSON(
    "llama",
    #", "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}"#
  )
  let config = try HuggingFaceDirectory.config(json: Data(json.utf8), path: "x")
  let scaling = try #require(config.ropeScaling)
  #expect(
    scaling
      == .init(
        factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContextLength: 8192))
  // Llama 3.1's head_dim 128, θ 500000: the first factors are 1, the last is 8, a blend between.
  let factors = scaling.frequencyFactors(headDimension: 128, theta: 500000)
  #expect(factors.count == 64 && factors[0] == 1 && factors[63] == 8)
  #expect(factors.contains { $0 > 1 && $0 < 8 })
}

@Test func contentHashSeesEveryByteAndTheLength() {
  func hash(_ bytes: [UInt8]) -> String { bytes.withUnsafeBytes { ContentHash.hex(of: $0) } }
  let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 37) }
  let base = hash(bytes)
  #expect(base.count == 16 && hash(bytes) == base)
  for i in [0, 7, 8, 31, 32, 995, 999] {
    var changed = bytes
    changed[i] ^= 1
    #expect(hash(changed) != base, "byte \(i)")
  }
  #expect(hash([0]) != hash([0, 0]) && hash([]) != hash([0]))
}
