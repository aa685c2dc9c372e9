import Foundation
import NN
import TensorCore

// The pieces of a Llama-family decoder, named as in Hugging Face transformers so that
// `namedParameters()` gives the checkpoint names (`model.layers.0.self_attn.q_proj.weight`).

/// RMS normalisation with a learned scale (`weight`), over the last dimension.
public final class RMSNorm: Module {
  public let weight: Tensor
  public let eps: Float

  public init(weight: Tensor, eps: Float) {
    self.weight = weight
    self.eps = eps
  }

  public var ownParameters: [(String, Tensor)] { [("weight", weight)] }

  public func callAsFunction(_ x: Tensor) -> Tensor { x.rmsNorm(weight: weight, eps: eps) }
}

/// Grouped-query self-attention with rotary position embeddings on queries and keys
/// (`q_proj`, `k_proj`, `v_proj`, `o_proj`; q/k/v biases for Qwen2).
public final class LlamaAttention: Module {
  public let heads: Int
  public let keyValueHeads: Int
  public let qProj: Linear
  public let kProj: Linear
  public let vProj: Linear
  public let oProj: Linear

  init(heads: Int, keyValueHeads: Int, q: Linear, k: Linear, v: Linear, o: Linear) {
    self.heads = heads
    self.keyValueHeads = keyValueHeads
    (qProj, kProj, vProj, oProj) = (q, k, v, o)
  }

  public var children: [(String, any Module)] {
    [("q_proj", qProj), ("k_proj", kProj), ("v_proj", vProj), ("o_proj", oProj)]
  }

  /// Attends over `x` `[B, T, hidden]` whose tokens have the rotary angles of `rotary`.
  /// With a `cache` (sampling only, no tape) the tokens continue the cached sequence, and
  /// the projections use the cache's packed weights.
  public func callAsFunction(
    _ x: Tensor, rotary: RotaryTable, cache: AttentionCache?, keyPadding: [Int]?
  ) -> Tensor {
    let packed = cache?.packedWeights
    let q = qProj(x, packed: packed).rotary(rotary, heads: heads)
    let k = kProj(x, packed: packed).rotary(rotary, heads: keyValueHeads)
    let v = vProj(x, packed: packed)
    let attended =
      cache?.attend(query: q, newKeys: k, newValues: v, heads: heads, keyValueHeads: keyValueHeads)
      ?? Tensor.attention(
        query: q, key: k, value: v, heads: heads, keyValueHeads: keyValueHeads,
        keyPadding: keyPadding)
    return oProj(attended, packed: packed)
  }

  /// The weight matrices, in the order q, k, v, o.
  public var matrices: [Tensor] { [qProj.weight, kProj.weight, vProj.weight, oProj.weight] }

  /// Attends over `x` `[B, T, hidden]` (with the tape) and also returns its keys and
  /// values `[B, T, Dk]`. With `prefix` keys and values `[1, P, Dk]` the tokens continue
  /// that prefix (absolute positions P..<P+T): every row attends to the prefix's keys,
  /// broadcast to the rows, before its own causal block, so the rows' gradients add into
  /// the prefix.
  public func callAsFunction(
    _ x: Tensor, rotary: RotaryTable, prefix: (keys: Tensor, values: Tensor)?
  ) -> (output: Tensor, keys: Tensor, values: Tensor) {
    let q = qProj(x).rotary(rotary, heads: heads)
    let k = kProj(x).rotary(rotary, heads: keyValueHeads)
    let v = vProj(x)
    var (keys, values) = (k, v)
    if let prefix {
      let shape = [x.shape[0], prefix.keys.shape[1], k.shape[2]]
      keys = Tensor.concat([prefix.keys.broadcast(to: shape), k], axis: 1)
      values = Tensor.concat([prefix.values.broadcast(to: shape), v], axis: 1)
    }
    let attended = Tensor.attention(
      query: q, key: keys, value: values, heads: heads, keyValueHeads: keyValueHeads)
    return (oProj(attended), k, v)
  }
}

/// The gated MLP `down(silu(gate(x)) · up(x))`.
public final class LlamaMLP: Module {
  public let gateProj: Linear
  public let upProj: Linear
  public let downProj: Linear

  init(gate: Linear, up: Linear, down: Linear) {
    (gateProj, upProj, downProj) = (gate, up, down)
  }

  public var children: [(String, any Module)] {
    [("gate_proj", gateProj), ("up_proj", upProj), ("down_proj", downProj)]
  }

  /// The MLP of `x`, with `packed`'s copies of its weights when given (sampling).
  public func callAsFunction(_ x: Tensor, packed: PackedWeights? = nil) -> Tensor {
    downProj(
      Tensor.swiglu(gate: gateProj(x, packed: packed), up: upProj(x, packed: packed)),
      packed: packed)
  }

  /// The weight matrices, in the order gate, up, down.
  public var matrices: [Tensor] { [gateProj.weight, upProj.weight, downProj.weight] }
}

/// One decoder layer: `h = x + attn(norm₁(x))`, then `h + mlp(norm₂(h))`.
public final class LlamaDecoderLayer: Module {
  public let inputLayerNorm: RMSNorm
  public let selfAttention: LlamaAttention
  public let postAttentionLayerNorm: RMSNorm
  public let mlp: LlamaMLP

  init(
    inputLayerNorm: RMSNorm, selfAttention: LlamaAttention, postAttentionLayerNorm: RMSNorm,
    mlp: LlamaMLP
  ) {
    self.inputLayerNorm = inputLayerNorm
    self.selfAttention = selfAttention
    self.postAttentionLayerNorm = postAttentionLayerNorm
    self.mlp = mlp
  }

  public var children: [(String, any Module)] {
    [
      ("input_layernorm", inputLayerNorm), ("self_attn", selfAttention),
      ("post_attention_layernorm", postAttentionLayerNorm), ("mlp", mlp),
    ]
  }

  public func callAsFunction(
    _ x: Tensor, rotary: RotaryTable, cache: AttentionCache?, keyPadding: [Int]?
  ) -> Tensor {
    let h =
      x + selfAttention(inputLayerNorm(x), rotary: rotary, cache: cache, keyPadding: keyPadding)
    return h + mlp(postAttentionLayerNorm(h), packed: cache?.packedWeights)
  }

  /// The layer over `x` continuing `prefix` (see `LlamaAttention`), with the tape; also
  /// returns this layer's keys and values of `x`.
  public func callAsFunction(
    _ x: Tensor, rotary: RotaryTable, prefix: (keys: Tensor, values: Tensor)?
  ) -> (output: Tensor, keys: Tensor, values: Tensor) {
    let (attended, k, v) = selfAttention(inputLayerNorm(x), rotary: rotary, prefix: prefix)
    let h = x + attended
    return (h + mlp(postAttentionLayerNorm(h)), k, v)
  }
}

/// The decoder without its head (Hugging Face's `model.`): embeddings, layers, final norm.
public final class LlamaBackbone: Module {
  public let embedTokens: Embedding
  public let layers: ModuleList<LlamaDecoderLayer>
  public let norm: RMSNorm

  init(embedTokens: Embedding, layers: [LlamaDecoderLayer], norm: RMSNorm) {
    self.embedTokens = embedTokens
    self.layers = ModuleList(layers)
    self.norm = norm
  }

  public var children: [(String, any Module)] {
    [("embed_tokens", embedTokens), ("layers", layers), ("norm", norm)]
  }
}

extension LlamaConfig {
  /// The rotary frequencies of one head: θ^(−2i/d), with Llama 3's scaling when
  /// `ropeScaling` is set (long wavelengths divided by `factor`, short ones kept, a smooth
  /// blend between), computed in float32 as transformers does.
  public var ropeInverseFrequencies: [Float] {
    let base = RotaryTable.inverseFrequencies(dimension: headDimension, theta: ropeTheta)
    guard let scaling = ropeScaling else { return base }
    let factor = Float(scaling.factor)
    let (low, high) = (Float(scaling.lowFrequencyFactor), Float(scaling.highFrequencyFactor))
    let context = Float(scaling.originalContextLength)
    let (lowWavelength, highWavelength) = (context / low, context / high)
    return base.map { f in
      let wavelength = 2 * Float.pi / f
      if wavelength < highWavelength { return f }
      if wavelength > lowWavelength { return f / factor }
      let smooth = (context / wavelength - low) / (high - low)
      return (1 - smooth) * f / factor + smooth * f
    }
  }
}
