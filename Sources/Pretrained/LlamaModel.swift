import NN
import Reasoning
import TensorCore

/// A Llama-family decoder (Llama 2/3, SmolLM2, Qwen2) that agrees with Hugging Face
/// transformers: token embeddings, `layers` × (RMSNorm → grouped-query attention with
/// rotary embeddings → residual → RMSNorm → SwiGLU MLP → residual), a final RMSNorm and a
/// tied or separate head. Parameter names are Hugging Face's (`model.norm.weight`,
/// `lm_head.weight`, …), so checkpoints and exports use them.
public final class LlamaModel: CausalLanguageModel {
  public let config: LlamaConfig
  public let model: LlamaBackbone
  /// The output head; nil when it is tied to the token embedding.
  public let lmHead: Linear?
  private let inverseFrequencies: [Float]

  public var tokenEmbeddings: Tensor { model.embedTokens.weight }

  /// A model holding `weights` (Hugging Face names, `[out, in]` matrices, Q/K in the
  /// rotate-half layout, as `PretrainedFiles.load` gives them). Strict: every tensor of
  /// `config.weightShapes` must be present with its shape and no other may be; the
  /// `PretrainedFileError` (path "weights") names the tensor, the expected and the found
  /// shape. The weights become trainable parameters (not copied).
  public convenience init(config: LlamaConfig, weights: [String: Tensor]) throws {
    try config.checkWeightShapes(weights.mapValues(\.shape), path: "weights")
    for w in weights.values { w.requiresGrad = true }
    self.init(config: config) { weights[$0]! }
  }

  /// A model of `config` with random weights (N(0, 0.02²) matrices, unit norms, zero
  /// biases, as transformers initialises), for tests and benchmarks.
  public convenience init(config: LlamaConfig, rng: inout RandomState) {
    var weights: [String: Tensor] = [:]
    for (name, shape) in config.weightShapes.sorted(by: { LlamaConfig.modelOrder($0.key, $1.key) })
    {
      weights[name] =
        shape.count == 2
        ? Tensor.normal(shape, std: 0.02, rng: &rng, requiresGrad: true)
        : name.hasSuffix("norm.weight")
          ? Tensor.ones(shape, requiresGrad: true) : Tensor.zeros(shape, requiresGrad: true)
    }
    try! self.init(config: config, weights: weights)
  }

  private init(config: LlamaConfig, weight: (String) -> Tensor) {
    self.config = config
    let eps = config.rmsNormEpsilon
    func linear(_ name: String, bias: Bool = false) -> Linear {
      Linear(weight: weight(name + ".weight"), bias: bias ? weight(name + ".bias") : nil)
    }
    let layers = (0..<config.layers).map { i in
      let p = "model.layers.\(i)."
      let attention = LlamaAttention(
        heads: config.heads, keyValueHeads: config.keyValueHeads,
        q: linear(p + "self_attn.q_proj", bias: config.attentionBias),
        k: linear(p + "self_attn.k_proj", bias: config.attentionBias),
        v: linear(p + "self_attn.v_proj", bias: config.attentionBias),
        o: linear(p + "self_attn.o_proj"))
      return LlamaDecoderLayer(
        inputLayerNorm: RMSNorm(weight: weight(p + "input_layernorm.weight"), eps: eps),
        selfAttention: attention,
        postAttentionLayerNorm: RMSNorm(
          weight: weight(p + "post_attention_layernorm.weight"), eps: eps),
        mlp: LlamaMLP(
          gate: linear(p + "mlp.gate_proj"), up: linear(p + "mlp.up_proj"),
          down: linear(p + "mlp.down_proj")))
    }
    model = LlamaBackbone(
      embedTokens: Embedding(weight: weight("model.embed_tokens.weight")), layers: layers,
      norm: RMSNorm(weight: weight("model.norm.weight"), eps: eps))
    lmHead = config.tiedEmbeddings ? nil : linear("lm_head")
    inverseFrequencies = config.ropeInverseFrequencies
  }

  public var children: [(String, any Module)] {
    [("model", model)] + (lmHead.map { [("lm_head", $0)] } ?? [])
  }

  public var vocabularySize: Int { config.vocabularySize }
  public var contextLength: Int { config.contextLength }
  public var paddingToken: Int { 0 }
  public var endTokens: [Int] { config.eosTokens }

  /// Logits `[B, T, vocabularySize]` for token ids `[B, T]` (row-major in `ids`) at the
  /// given positions (row-major `[B, T]`, the rotary angles); `keyPadding[b]` leading
  /// tokens of row b are masked as keys. With `caches` (sampling, no tape) the tokens
  /// continue the cached sequences, the caches' own padding applies, and only the last
  /// position's logits are computed: the result is `[B, 1, vocabularySize]`.
  public func callAsFunction(
    _ ids: [Int], batch: Int, positions: [Int], keyPadding: [Int]? = nil,
    caches: [AttentionCache]? = nil
  ) -> Tensor {
    precondition(
      batch > 0 && ids.count % batch == 0 && positions.count == ids.count,
      "LlamaModel: \(ids.count) ids and \(positions.count) positions for batch \(batch)")
    precondition(
      caches == nil || caches!.count == config.layers,
      "LlamaModel: \(caches!.count) caches for \(config.layers) layers")
    var h = hiddenStates(
      ids, batch: batch, positions: positions, keyPadding: keyPadding, caches: caches)
    let t = ids.count / batch
    if caches != nil && t > 1 { h = h.slice(axis: 1, (t - 1)..<t) }
    return head(h, packed: caches?.first?.packedWeights)
  }

  /// The head only where a token is scored: on a chat prompt of 40 tokens and a reply of
  /// 48, that saves nearly half of the 49k-wide head's products and log-sum-exps.
  public func logits(
    _ ids: [Int], batch: Int, positions: [Int], keyPadding: [Int]?, at rows: [Int]
  ) -> Tensor {
    let h = hiddenStates(
      ids, batch: batch, positions: positions, keyPadding: keyPadding, caches: nil)
    return head(h.reshaped([ids.count, config.hiddenSize]).indexSelect(axis: 0, rows))
  }

  /// Positions per scoring pass: a position keeps about 1.3 MB of activations for the
  /// backward at SmolLM2's size, so 128 positions bound a pass to about 170 MB.
  public var scoringChunkPositions: Int { 128 }

  public var hasPromptPrefixes: Bool { true }

  /// The prompt `ids` as one sequence at positions 0..<P: each layer's keys and values and
  /// the last position's hidden state.
  public func promptPrefix(_ ids: [Int]) -> PromptPrefix {
    precondition(
      !ids.isEmpty && ids.count <= config.contextLength,
      "LlamaModel: a prompt prefix of \(ids.count) tokens (1...\(config.contextLength))")
    let rotary = RotaryTable(
      positions: Array(0..<ids.count), inverseFrequencies: inverseFrequencies)
    return PromptPrefix(
      prompt: model.embedTokens(ids, shape: [1, ids.count]), layers: prefixLayers(rotary))
  }

  /// The layers with their rotary angles, as `PromptPrefix` runs them.
  private func prefixLayers(_ rotary: RotaryTable) -> [PromptPrefix.Layer] {
    model.layers.items.map { layer in { layer($0, rotary: rotary, prefix: $1) } }
  }

  /// Logits of tokens continuing `prefix` (see `CausalLanguageModel.logits(after:…)`).
  public func logits(after prefix: PromptPrefix, _ ids: [Int], batch: Int, at rows: [Int])
    -> Tensor
  {
    let (t, positions) = prefix.continuation(
      of: ids, batch: batch, layers: config.layers, context: config.contextLength,
      model: "LlamaModel")
    let rotary = RotaryTable(positions: positions, inverseFrequencies: inverseFrequencies)
    return head(
      prefix.hiddenStates(
        continuing: t > 0 ? model.embedTokens(ids, shape: [batch, t]) : nil,
        layers: prefixLayers(rotary), at: rows))
  }

  /// The last layer's output `[B, T, hidden]`, before the final norm.
  private func hiddenStates(
    _ ids: [Int], batch: Int, positions: [Int], keyPadding: [Int]?, caches: [AttentionCache]?
  ) -> Tensor {
    let t = ids.count / batch
    let rotary = RotaryTable(positions: positions, inverseFrequencies: inverseFrequencies)
    var h = model.embedTokens(ids, shape: [batch, t])
    for (i, layer) in model.layers.items.enumerated() {
      h = layer(h, rotary: rotary, cache: caches?[i], keyPadding: caches == nil ? keyPadding : nil)
    }
    return h
  }

  /// The final norm and the (tied or separate) head: logits over the vocabulary, with
  /// `packed`'s copy of the head when given (sampling).
  private func head(_ h: Tensor, packed: PackedWeights? = nil) -> Tensor {
    let normed = model.norm(h)
    if let lmHead { return lmHead(normed, packed: packed) }
    if let packed { return packed.linear(normed, weight: model.embedTokens.weight, bias: nil) }
    return Tensor.matmul(normed, model.embedTokens.weight, transposeB: true)
  }

  /// The weight matrices of the layers and the head, as products use them.
  private var productMatrices: [Tensor] {
    model.layers.items.flatMap { $0.selfAttention.matrices + $0.mlp.matrices }
      + [lmHead?.weight ?? model.embedTokens.weight]
  }

  /// One fresh KV cache per layer for sequences of up to `capacity` positions, sharing the
  /// weights packed for this sampling call's products (`PackedWeights`; about 0.1 s and
  /// the weights' size again in memory for SmolLM2-135M, freed with the caches).
  public func makeCaches(capacity: Int, keyPadding: [Int]?) -> [AttentionCache] {
    let packed = PackedWeights.isAvailable ? PackedWeights(productMatrices) : nil
    return (0..<config.layers).map { _ in
      let cache = AttentionCache(capacity: capacity, keyPadding: keyPadding)
      cache.packedWeights = packed
      return cache
    }
  }
}
