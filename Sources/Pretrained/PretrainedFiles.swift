import Foundation
import TensorCore

/// A pretrained Llama-family model read from a GGUF file or a Hugging Face directory:
/// its config, its weights in Hugging Face names ([out, in] row-major), where its
/// tokenizer comes from, its chat template, and a hash that recognises the files again.
public struct PretrainedFiles: Sendable {
  /// Where the tokenizer's vocabulary, merges and special tokens are.
  public enum TokenizerSource: Sendable {
    /// GGUF metadata: `tokenizer.ggml.tokens`, `.merges`, `.token_type`, `.pre`, ids.
    case gguf(GGUFMetadata)
    /// A Hugging Face `tokenizer.json` and the parsed `tokenizer_config.json`, if any.
    case huggingFace(tokenizerJSON: URL, config: HuggingFaceTokenizerConfig?)
  }

  public var path: String
  public var config: LlamaConfig
  /// Every weight of the model by Hugging Face name; no `lm_head.weight` when the head is
  /// tied to the embedding.
  public var weights: [String: Tensor]
  public var tokenizer: TokenizerSource?
  /// The Jinja chat template the files carry, if any.
  public var chatTemplate: String?
  /// What was read, in a line: "GGUF v3 llama, 272 tensors (Q4_1 ×210, F32 ×61, Q8_0 ×1)".
  public var source: String
  /// `ContentHash` of the weight and config files, 16 hex digits.
  public var contentHash: String

  /// Reads a GGUF file or a Hugging Face directory (detected by what `path` is). Everything
  /// is checked before weights are converted; any problem throws a `PretrainedFileError`
  /// naming the file. `requireTokenizer` makes a directory without `tokenizer.json` an error.
  /// `beforeConverting` sees the config, the tokenizer source and the chat template once
  /// they are read and checked, before any weight is converted; what it throws ends the load.
  public static func load(
    _ path: String, requireTokenizer: Bool = true,
    beforeConverting: (LlamaConfig, TokenizerSource?, String?) throws -> Void = { _, _, _ in }
  ) throws -> PretrainedFiles {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw PretrainedFileError(path, "does not exist")
    }
    if isDirectory.boolValue {
      let dir = try HuggingFaceDirectory(url: URL(fileURLWithPath: path))
      if requireTokenizer && dir.tokenizerJSON == nil {
        throw PretrainedFileError(
          path, "has no tokenizer.json (Allot reads the tokenizer of a directory from it)")
      }
      let tokenizer = dir.tokenizerJSON.map {
        TokenizerSource.huggingFace(tokenizerJSON: $0, config: dir.tokenizerConfig)
      }
      try beforeConverting(dir.config, tokenizer, dir.tokenizerConfig?.chatTemplate)
      return PretrainedFiles(
        path: path, config: dir.config, weights: try dir.weights(), tokenizer: tokenizer,
        chatTemplate: dir.tokenizerConfig?.chatTemplate, source: dir.description,
        contentHash: try dir.contentHash())
    }
    let file = try GGUFFile(url: URL(fileURLWithPath: path))
    let config = try file.llamaConfig()
    try file.checkTypesSupported()
    let template = file.metadata["tokenizer.chat_template"]?.string
    try beforeConverting(config, .gguf(file.metadata), template)
    let weights = try file.llamaWeights(config: config)
    var types: [String: Int] = [:]
    for t in file.tensors { types[t.typeName, default: 0] += 1 }
    let counts = types.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
      .map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
    return PretrainedFiles(
      path: path, config: config, weights: weights, tokenizer: .gguf(file.metadata),
      chatTemplate: template,
      source:
        "GGUF v\(file.version) \(config.family.rawValue), \(file.tensors.count) tensors (\(counts))",
      contentHash: file.contentHash())
  }
}

extension LlamaConfig {
  /// The shape of every weight the model has, by Hugging Face name.
  public var weightShapes: [String: [Int]] {
    let q = heads * headDimension
    let kv = keyValueHeads * headDimension
    var shapes: [String: [Int]] = [
      "model.embed_tokens.weight": [vocabularySize, hiddenSize], "model.norm.weight": [hiddenSize],
    ]
    if !tiedEmbeddings { shapes["lm_head.weight"] = [vocabularySize, hiddenSize] }
    for i in 0..<layers {
      let p = "model.layers.\(i)."
      shapes[p + "input_layernorm.weight"] = [hiddenSize]
      shapes[p + "post_attention_layernorm.weight"] = [hiddenSize]
      shapes[p + "self_attn.q_proj.weight"] = [q, hiddenSize]
      shapes[p + "self_attn.k_proj.weight"] = [kv, hiddenSize]
      shapes[p + "self_attn.v_proj.weight"] = [kv, hiddenSize]
      shapes[p + "self_attn.o_proj.weight"] = [hiddenSize, q]
      if attentionBias {
        shapes[p + "self_attn.q_proj.bias"] = [q]
        shapes[p + "self_attn.k_proj.bias"] = [kv]
        shapes[p + "self_attn.v_proj.bias"] = [kv]
      }
      shapes[p + "mlp.gate_proj.weight"] = [intermediateSize, hiddenSize]
      shapes[p + "mlp.up_proj.weight"] = [intermediateSize, hiddenSize]
      shapes[p + "mlp.down_proj.weight"] = [hiddenSize, intermediateSize]
    }
    return shapes
  }

  /// Throws unless `found` (Hugging Face name → shape) holds exactly `weightShapes`: the
  /// error names the tensor (as `describe` spells it), the expected and the found shape.
  public func checkWeightShapes(
    _ found: [String: [Int]], path: String, describe: (String) -> String = { "'\($0)'" }
  ) throws {
    let expected = weightShapes
    for name in expected.keys.sorted(by: Self.modelOrder) {
      guard let shape = found[name] else {
        throw PretrainedFileError(
          path, "tensor \(describe(name)) is missing (expected shape \(expected[name]!))")
      }
      guard shape == expected[name] else {
        throw PretrainedFileError(
          path, "tensor \(describe(name)) has shape \(shape), expected \(expected[name]!)")
      }
    }
    if let extra = found.keys.filter({ expected[$0] == nil }).sorted(by: Self.modelOrder).first {
      let why =
        extra == "lm_head.weight"
        ? " (the config ties the output head to the embedding)"
        : extra.hasSuffix(".bias") ? " (the config has no attention biases)" : ""
      throw PretrainedFileError(path, "tensor \(describe(extra)) is not part of the model\(why)")
    }
  }

  /// Names in layer order (layer 2 before layer 10), then alphabetically.
  static func modelOrder(_ a: String, _ b: String) -> Bool {
    func layer(_ s: String) -> Int {
      s.hasPrefix("model.layers.")
        ? Int(s.dropFirst(13).prefix { $0 != "." }) ?? -1 : -1
    }
    return (layer(a), a) < (layer(b), b)
  }
}

/// A fast 64-bit content hash: FNV-1a steps over 8-byte little-endian words in four
/// interleaved lanes (word i to lane i mod 4), the lanes folded, then the zero-padded tail
/// and the length, with splitmix64's finaliser. Not cryptographic; for recognising a file
/// again (about 10 ms for 100 MB).
public enum ContentHash {
  public static func hex(of bytes: UnsafeRawBufferPointer, seed: UInt64 = 0xcbf2_9ce4_8422_2325)
    -> String
  {
    let value = hash(bytes, seed: seed)
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
  }

  public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0xcbf2_9ce4_8422_2325)
    -> UInt64
  {
    let prime: UInt64 = 0x100_0000_01b3
    let words = bytes.count / 8
    // Four independent lanes so that the multiplies pipeline.
    var lanes: (UInt64, UInt64, UInt64, UInt64) = (seed, seed ^ 1, seed ^ 2, seed ^ 3)
    var i = 0
    if let base = bytes.baseAddress {
      while i + 4 <= words {
        let p = base + 8 * i
        lanes.0 = (lanes.0 ^ UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))) &* prime
        lanes.1 =
          (lanes.1 ^ UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
          &* prime
        lanes.2 =
          (lanes.2 ^ UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
          &* prime
        lanes.3 =
          (lanes.3 ^ UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
          &* prime
        i += 4
      }
    }
    var h = seed
    for lane in [lanes.0, lanes.1, lanes.2, lanes.3] { h = (h ^ lane) &* prime }
    var tail = Array(bytes[(8 * i)...])
    tail += [UInt8](repeating: 0, count: (8 - tail.count % 8) % 8)
    for w in stride(from: 0, to: tail.count, by: 8) {
      let word = (0..<8).reduce(UInt64(0)) { $0 | UInt64(tail[w + $1]) << (8 * UInt64($1)) }
      h = (h ^ word) &* prime
    }
    h = (h ^ UInt64(bytes.count)) &* prime
    h = (h ^ (h >> 30)) &* 0xbf58_476d_1ce4_e5b9
    h = (h ^ (h >> 27)) &* 0x94d0_49bb_1331_11eb
    return h ^ (h >> 31)
  }
}
