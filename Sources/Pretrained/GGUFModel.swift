import Foundation
import TensorCore

/// Reading a Llama-family model (`general.architecture` llama or qwen2) out of a GGUF
/// file: its `LlamaConfig` from the metadata, and its weights in Hugging Face names and
/// layout, with the llama Q/K row permutation undone.
extension GGUFFile {
  /// The architectures Allot reads from GGUF files.
  public static let architectures = ["llama", "qwen2"]

  /// The config the metadata describes. Refuses other architectures, mixtures of experts,
  /// partial rotary embeddings and rope scalings other than Llama 3's, by name.
  public func llamaConfig() throws -> LlamaConfig {
    let m = metadata
    let arch = try m.string("general.architecture")
    guard let family = LlamaConfig.Family(rawValue: arch), Self.architectures.contains(arch)
    else {
      throw PretrainedFileError(
        path,
        "general.architecture is '\(arch)'; Allot reads "
          + Self.architectures.map { "'\($0)'" }.joined(separator: " and "))
    }
    if let experts = try m.optional("\(arch).expert_count", as: "an integer", { $0.int }),
      experts > 0
    {
      throw PretrainedFileError(
        path, "\(arch).expert_count is \(experts): mixtures of experts are not supported")
    }
    let hidden = try m.int("\(arch).embedding_length")
    let heads = try m.int("\(arch).attention.head_count")
    guard heads > 0, hidden % heads == 0 || m["\(arch).attention.key_length"] != nil else {
      throw PretrainedFileError(
        path, "\(arch).attention.head_count is \(heads), which does not divide the width \(hidden)")
    }
    let kvHeads =
      try m.optional("\(arch).attention.head_count_kv", as: "an integer") { $0.int } ?? heads
    guard kvHeads > 0, heads % kvHeads == 0 else {
      throw PretrainedFileError(
        path, "\(arch).attention.head_count_kv is \(kvHeads), which does not divide \(heads) heads")
    }
    let headDim =
      try m.optional("\(arch).attention.key_length", as: "an integer") { $0.int } ?? hidden / heads
    for key in ["\(arch).attention.value_length", "\(arch).rope.dimension_count"] {
      if let v = try m.optional(key, as: "an integer", { $0.int }), v != headDim {
        throw PretrainedFileError(
          path,
          "\(key) is \(v), not the head dimension \(headDim); Allot supports neither "
            + "partial rotary embeddings nor value heads of another width")
      }
    }
    let scalingType = try m.optional("\(arch).rope.scaling.type", as: "a string") { $0.string }
    if let scalingType, scalingType != "none" {
      throw PretrainedFileError(
        path,
        "\(arch).rope.scaling.type is '\(scalingType)'; Allot supports only Llama 3's "
          + "scaling (a rope_freqs.weight tensor)")
    }
    let theta = try m.optional("\(arch).rope.freq_base", as: "a number") { $0.double } ?? 10000
    let tokens = try m.require("tokenizer.ggml.tokens", as: "an array of strings") { $0.array }
    var eos: [Int] = []
    for key in ["eos", "eot", "eom"] {
      if let id = try m.optional("tokenizer.ggml.\(key)_token_id", as: "an integer", { $0.int }),
        !eos.contains(id)
      {
        eos.append(id)
      }
    }
    var config = LlamaConfig(
      family: family, vocabularySize: tokens.count, hiddenSize: hidden,
      intermediateSize: try m.int("\(arch).feed_forward_length"),
      layers: try m.int("\(arch).block_count"), heads: heads, keyValueHeads: kvHeads,
      headDimension: headDim,
      rmsNormEpsilon: Float(try m.double("\(arch).attention.layer_norm_rms_epsilon")),
      ropeTheta: theta, contextLength: try m.int("\(arch).context_length"),
      tiedEmbeddings: info("output.weight") == nil, attentionBias: family == .qwen2,
      bosToken: try m.optional("tokenizer.ggml.bos_token_id", as: "an integer") { $0.int },
      eosTokens: eos)
    if info("rope_freqs.weight") != nil {
      config.ropeScaling = try llama3Scaling(config: config)
    }
    return config
  }

  /// Llama 3's rope scaling, recovered from the `rope_freqs.weight` tensor that llama.cpp
  /// writes instead of metadata: the factor is its largest entry, the other parameters
  /// Llama 3's (low 1, high 4, original context 8192 unless the metadata says otherwise),
  /// and every entry must then match the formula, or the file is refused.
  func llama3Scaling(config: LlamaConfig) throws -> LlamaConfig.Llama3RopeScaling {
    let name = "rope_freqs.weight"
    let factors = try tensor(name).scalars
    let arch = config.family.rawValue
    let original =
      try metadata.optional("\(arch).rope.scaling.original_context_length", as: "an integer") {
        $0.int
      } ?? 8192
    let scaling = LlamaConfig.Llama3RopeScaling(
      factor: Double(factors.max() ?? 1), lowFrequencyFactor: 1, highFrequencyFactor: 4,
      originalContextLength: original)
    let expected = scaling.frequencyFactors(
      headDimension: config.headDimension, theta: config.ropeTheta)
    guard factors.count == expected.count,
      zip(factors, expected).allSatisfy({ abs(Double($0) - $1) <= 1e-4 * $1 })
    else {
      throw PretrainedFileError(
        path,
        "tensor '\(name)' holds rope frequency factors that are not Llama 3's scaling "
          + "(factor \(scaling.factor), low 1, high 4, original context \(original)); "
          + "Allot cannot read other rope scalings")
    }
    return scaling
  }

  static let globalNames = [
    "token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
  ]
  static let layerNames = [
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight", "attn_output.weight": "self_attn.o_proj.weight",
    "attn_q.bias": "self_attn.q_proj.bias", "attn_k.bias": "self_attn.k_proj.bias",
    "attn_v.bias": "self_attn.v_proj.bias", "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
  ]

  /// The Hugging Face name of a GGUF tensor of a llama/qwen2 model, nil when it is none.
  public static func huggingFaceName(_ name: String) -> String? {
    if let hf = globalNames[name] { return hf }
    let parts = name.split(separator: ".", maxSplits: 2)
    guard parts.count == 3, parts[0] == "blk", let layer = Int(parts[1]) else { return nil }
    return layerNames[String(parts[2])].map { "model.layers.\(layer).\($0)" }
  }

  /// The GGUF name of a Hugging Face tensor name (the inverse of `huggingFaceName`).
  public static func ggufName(_ hf: String) -> String? {
    if let g = globalNames.first(where: { $0.value == hf })?.key { return g }
    let parts = hf.split(separator: ".", maxSplits: 3)
    guard parts.count == 4, parts[0] == "model", parts[1] == "layers", let layer = Int(parts[2]),
      let g = layerNames.first(where: { $0.value == parts[3] })?.key
    else { return nil }
    return "blk.\(layer).\(g)"
  }

  /// The weights of `config`'s model in Hugging Face names and [out, in] row-major layout.
  /// The tensor table is checked in full (every tensor known, present, of its shape and of
  /// a type Allot reads) before anything is dequantised.
  public func llamaWeights(config: LlamaConfig) throws -> [String: Tensor] {
    var shapes: [String: [Int]] = [:]
    var ggufName: [String: String] = [:]
    for t in tensors where t.name != "rope_freqs.weight" {
      guard let hf = Self.huggingFaceName(t.name) else {
        throw PretrainedFileError(
          path, "tensor '\(t.name)' is not part of a \(config.family.rawValue) model Allot knows")
      }
      shapes[hf] = t.shape
      ggufName[hf] = t.name
    }
    try config.checkWeightShapes(shapes, path: path) { hf in
      "'\(Self.ggufName(hf) ?? hf)' (\(hf))"
    }
    try checkTypesSupported()
    var weights: [String: Tensor] = [:]
    for (hf, name) in ggufName {
      var t = try tensor(name)
      if config.family == .llama {
        if name.hasSuffix("attn_q.weight") { t = Self.unpermuteRows(t, heads: config.heads) }
        if name.hasSuffix("attn_k.weight") {
          t = Self.unpermuteRows(t, heads: config.keyValueHeads)
        }
      }
      weights[hf] = t
    }
    return weights
  }

  /// Undoes llama.cpp's Q/K row permutation: the rows of each head, seen as
  /// [head_dim/2, 2], are transposed to [2, head_dim/2] (row 2i+p of a head goes to
  /// p·head_dim/2 + i), so that `rotate_half` RoPE applies.
  public static func unpermuteRows(_ t: Tensor, heads: Int) -> Tensor {
    let rows = t.shape[0]
    let width = t.count / rows
    let half = rows / heads / 2
    let out = Tensor.zeros(t.shape)
    t.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for h in 0..<heads {
          for i in 0..<half {
            for p in 0..<2 {
              let from = (h * 2 * half + 2 * i + p) * width
              let to = (h * 2 * half + p * half + i) * width
              (dst.baseAddress! + to).update(from: src.baseAddress! + from, count: width)
            }
          }
        }
      }
    }
    return out
  }
}

extension LlamaConfig.Llama3RopeScaling {
  /// The factor dividing each rotary frequency (head_dim/2 of them) under Llama 3's
  /// scaling: 1 for short wavelengths, `factor` for long ones, a smooth blend between.
  public func frequencyFactors(headDimension: Int, theta: Double) -> [Double] {
    let lowWavelength = Double(originalContextLength) / lowFrequencyFactor
    let highWavelength = Double(originalContextLength) / highFrequencyFactor
    return stride(from: 0, to: headDimension, by: 2).map { i in
      let frequency = 1 / pow(theta, Double(i) / Double(headDimension))
      let wavelength = 2 * Double.pi / frequency
      if wavelength < highWavelength { return 1 }
      if wavelength > lowWavelength { return factor }
      let smooth =
        (Double(originalContextLength) / wavelength - lowFrequencyFactor)
        / (highFrequencyFactor - lowFrequencyFactor)
      return 1 / ((1 - smooth) / factor + smooth)
    }
  }
}
