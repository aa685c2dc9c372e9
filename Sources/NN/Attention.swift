import TensorCore

/// Keys and values of the positions an attention layer has already seen, so that
/// incremental decoding feeds only new positions. For sampling (no tape) only.
public final class AttentionCache {
  public let capacity: Int
  /// The number of positions stored.
  public private(set) var length = 0
  /// Leading padded positions per batch row (left-padded prompts), masked as keys.
  public var keyPadding: [Int]?
  private var keys: Tensor?
  private var values: Tensor?

  /// A cache for up to `capacity` positions.
  public init(capacity: Int, keyPadding: [Int]? = nil) {
    self.capacity = capacity
    self.keyPadding = keyPadding
  }

  /// Forgets every stored position.
  public func reset() { length = 0 }

  /// Keeps only the batch rows `rows` (indices into the current batch, ascending), so
  /// decoding can drop sequences that have finished.
  public func keepRows(_ rows: [Int]) {
    keyPadding = keyPadding.map { pads in rows.map { pads[$0] } }
    guard let k = keys, let v = values else { return }
    let d = k.shape[2]
    let stride = capacity * d
    func compact(_ t: Tensor) -> Tensor {
      let out = Tensor.zeros([rows.count, capacity, d])
      t.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
          for (new, old) in rows.enumerated() {
            (dst.baseAddress! + new * stride).update(
              from: src.baseAddress! + old * stride, count: length * d)
          }
        }
      }
      return out
    }
    keys = compact(k)
    values = compact(v)
  }

  /// Stores new keys and values `[B, T, D]` after the existing ones and returns the
  /// buffers `[B, capacity, D]`, whose first `length` positions are filled.
  func append(keys k: Tensor, values v: Tensor) -> (Tensor, Tensor) {
    let (b, t, d) = (k.shape[0], k.shape[1], k.shape[2])
    precondition(
      length + t <= capacity,
      "AttentionCache: \(length) + \(t) positions exceed the capacity \(capacity)")
    if keys == nil || keys!.shape != [b, capacity, d] {
      precondition(length == 0, "AttentionCache: batch or width changed mid-sequence")
      keys = .zeros([b, capacity, d])
      values = .zeros([b, capacity, d])
    }
    for (source, target) in [(k, keys!), (v, values!)] {
      source.withUnsafeBufferPointer { src in
        target.withUnsafeMutableBufferPointer { dst in
          for row in 0..<b {
            (dst.baseAddress! + (row * capacity + length) * d).update(
              from: src.baseAddress! + row * t * d, count: t * d)
          }
        }
      }
    }
    length += t
    return (keys!, values!)
  }
}

/// Causal multi-head self-attention: each position attends to itself and earlier ones.
/// The attention itself is `Tensor.attention`, one fused op.
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
  public func callAsFunction(_ x: Tensor, cache: AttentionCache? = nil, keyPadding: [Int]? = nil)
    -> Tensor
  {
    precondition(
      x.rank == 3 && x.shape[2] == width,
      "CausalSelfAttention: input shape \(x.shape) should be [batch, time, \(width)]")
    precondition(
      cache == nil || !(GradMode.isEnabled && x.requiresGrad),
      "CausalSelfAttention: a KV cache is for sampling; run it inside withoutGrad")
    let q = wq(x)
    var k = wk(x)
    var v = wv(x)
    var length: Int? = nil
    if let cache {
      (k, v) = cache.append(keys: k, values: v)
      length = cache.length
    }
    let attended = Tensor.attention(
      query: q, key: k, value: v, heads: heads, keyLength: length,
      keyPadding: cache?.keyPadding ?? keyPadding)
    return wo(attended)
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

  public func callAsFunction(_ x: Tensor, cache: AttentionCache? = nil, keyPadding: [Int]? = nil)
    -> Tensor
  {
    let h = x + attn(ln1(x), cache: cache, keyPadding: keyPadding)
    return h + mlp(ln2(h))
  }
}
