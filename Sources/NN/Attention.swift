import TensorCore

/// Keys and values of the positions an attention layer has already seen, so that
/// incremental decoding feeds one new position at a time. For sampling (no tape) only.
public final class AttentionCache {
  public let capacity: Int
  /// The number of positions stored.
  public private(set) var length = 0
  private var keys: Tensor?
  private var values: Tensor?

  /// A cache for up to `capacity` positions.
  public init(capacity: Int) { self.capacity = capacity }

  /// Forgets every stored position.
  public func reset() { length = 0 }

  /// Stores new keys and values `[B, H, T, hd]` after the existing ones and returns all of
  /// them, `[B, H, length, hd]`.
  func append(keys k: Tensor, values v: Tensor) -> (Tensor, Tensor) {
    let (b, h, t, hd) = (k.shape[0], k.shape[1], k.shape[2], k.shape[3])
    precondition(
      length + t <= capacity,
      "AttentionCache: \(length) + \(t) positions exceed the capacity \(capacity)")
    if keys == nil || keys!.shape != [b, h, capacity, hd] {
      precondition(length == 0, "AttentionCache: batch or head shape changed mid-sequence")
      keys = .zeros([b, h, capacity, hd])
      values = .zeros([b, h, capacity, hd])
    }
    for (source, target) in [(k, keys!), (v, values!)] {
      source.withUnsafeBufferPointer { src in
        target.withUnsafeMutableBufferPointer { dst in
          for row in 0..<(b * h) {
            let from = src.baseAddress! + row * t * hd
            let to = dst.baseAddress! + (row * capacity + length) * hd
            to.update(from: from, count: t * hd)
          }
        }
      }
    }
    length += t
    return (keys!.slice(axis: 2, 0..<length), values!.slice(axis: 2, 0..<length))
  }
}

/// Causal multi-head self-attention: each position attends to itself and earlier ones.
public final class CausalSelfAttention: Module {
  public let width: Int
  public let heads: Int
  public let wq: Linear
  public let wk: Linear
  public let wv: Linear
  public let wo: Linear

  public init(width: Int, heads: Int, rng: inout RandomState) {
    precondition(
      heads > 0 && width % heads == 0,
      "CausalSelfAttention: width \(width) is not divisible by \(heads) heads")
    self.width = width
    self.heads = heads
    wq = Linear(width, width, rng: &rng)
    wk = Linear(width, width, rng: &rng)
    wv = Linear(width, width, rng: &rng)
    wo = Linear(width, width, rng: &rng)
  }

  public var children: [(String, any Module)] {
    [("wq", wq), ("wk", wk), ("wv", wv), ("wo", wo)]
  }

  /// Attends over `x` `[B, T, width]`. With a `cache` (sampling only, no tape), `x` holds
  /// the positions after those already cached, and the result covers just those.
  public func callAsFunction(_ x: Tensor, cache: AttentionCache? = nil) -> Tensor {
    precondition(
      x.rank == 3 && x.shape[2] == width,
      "CausalSelfAttention: input shape \(x.shape) should be [batch, time, \(width)]")
    precondition(
      cache == nil || !(GradMode.isEnabled && x.requiresGrad),
      "CausalSelfAttention: a KV cache is for sampling; run it inside withoutGrad")
    let (b, t) = (x.shape[0], x.shape[1])
    let hd = width / heads
    func split(_ y: Tensor) -> Tensor { y.reshaped([b, t, heads, hd]).permuted([0, 2, 1, 3]) }
    let q = split(wq(x) * (1 / Float(hd).squareRoot()))
    var k = split(wk(x))
    var v = split(wv(x))
    let start = cache?.length ?? 0
    if let cache { (k, v) = cache.append(keys: k, values: v) }
    var scores = Tensor.matmul(q, k, transposeB: true)  // [B, H, T, S]
    if t > 1 {
      scores = scores.maskedFill(Self.causalMask(queries: t, offset: start), -.infinity)
    }
    let attended = Tensor.matmul(scores.softmax(), v)  // [B, H, T, hd]
    return wo(attended.permuted([0, 2, 1, 3]).reshaped([b, t, width]))
  }

  /// `[T, offset + T]`: 1 where key j lies after query i (at position offset + i).
  static func causalMask(queries t: Int, offset: Int) -> Tensor {
    let s = offset + t
    var mask = [Float](repeating: 0, count: t * s)
    for i in 0..<t {
      for j in (offset + i + 1)..<s { mask[i * s + j] = 1 }
    }
    return Tensor(mask, shape: [t, s])
  }
}

/// A pre-norm transformer block: `x + attn(ln1(x))`, then `x + mlp(ln2(x))` with a GELU
/// MLP of hidden width `mlpRatio · width`.
public final class TransformerBlock: Module {
  public let ln1: LayerNorm
  public let attn: CausalSelfAttention
  public let ln2: LayerNorm
  public let mlp: MLP

  public init(width: Int, heads: Int, mlpRatio: Int = 4, rng: inout RandomState) {
    ln1 = LayerNorm(width)
    attn = CausalSelfAttention(width: width, heads: heads, rng: &rng)
    ln2 = LayerNorm(width)
    mlp = MLP([width, mlpRatio * width, width], activation: .gelu, rng: &rng)
  }

  public var children: [(String, any Module)] {
    [("ln1", ln1), ("attn", attn), ("ln2", ln2), ("mlp", mlp)]
  }

  public func callAsFunction(_ x: Tensor, cache: AttentionCache? = nil) -> Tensor {
    let h = x + attn(ln1(x), cache: cache)
    return h + mlp(ln2(h))
  }
}
