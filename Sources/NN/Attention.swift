import TensorCore

/// Keys and values of the positions an attention layer has already seen, so that
/// incremental decoding feeds only new positions. For sampling (no tape) only.
///
/// The buffers keep one row per sequence of the first call; when sequences finish,
/// `keepRows` only re-maps the batch onto the rows still in use, so nothing is copied.
public final class AttentionCache {
  public let capacity: Int
  /// The number of positions stored.
  public private(set) var length = 0
  /// Leading padded positions per batch row (left-padded prompts), masked as keys.
  public var keyPadding: [Int]?
  /// The buffer row each current batch row reads and writes.
  public private(set) var rows: [Int] = []
  private var keys: Tensor?
  private var values: Tensor?
  /// The model's weights packed for this sampling call's products (shared by the caches of
  /// one call and dropped with them), when the model packs them.
  public var packedWeights: PackedWeights?

  /// A cache for up to `capacity` positions.
  public init(capacity: Int, keyPadding: [Int]? = nil) {
    self.capacity = capacity
    self.keyPadding = keyPadding
  }

  /// Forgets every stored position.
  public func reset() {
    length = 0
    rows = []
  }

  /// Keeps only the batch rows `rows` (indices into the current batch, ascending), so
  /// decoding can drop sequences that have finished.
  public func keepRows(_ kept: [Int]) {
    keyPadding = keyPadding.map { pads in kept.map { pads[$0] } }
    rows = kept.map { rows[$0] }
  }

  /// Repeats stored rows: batch row i becomes a copy of current batch row `source[i]`, with
  /// its positions and padding (a prompt prefilled once, then sampled several times).
  public func repeatRows(_ source: [Int]) {
    guard let oldKeys = keys, let oldValues = values else {
      precondition(length == 0, "AttentionCache: rows to repeat but no buffers")
      return
    }
    let d = oldKeys.shape[2]
    let (newKeys, newValues) = (
      Tensor.zeros([source.count, capacity, d]), Tensor.zeros([source.count, capacity, d])
    )
    for (old, new) in [(oldKeys, newKeys), (oldValues, newValues)] {
      old.withUnsafeBufferPointer { src in
        new.withUnsafeMutableBufferPointer { dst in
          for (i, r) in source.enumerated() {
            (dst.baseAddress! + i * capacity * d).update(
              from: src.baseAddress! + rows[r] * capacity * d, count: length * d)
          }
        }
      }
    }
    (keys, values) = (newKeys, newValues)
    keyPadding = keyPadding.map { pads in source.map { pads[$0] } }
    rows = Array(source.indices)
  }

  /// Stores new keys and values `[B, T, Dk]` after the existing ones.
  func append(keys k: Tensor, values v: Tensor) {
    let (b, t, d) = (k.shape[0], k.shape[1], k.shape[2])
    precondition(
      length + t <= capacity,
      "AttentionCache: \(length) + \(t) positions exceed the capacity \(capacity)")
    if length == 0 {
      if keys?.shape != [b, capacity, d] {
        keys = Tensor.zeros([b, capacity, d])
        values = Tensor.zeros([b, capacity, d])
      }
      rows = Array(0..<b)
    }
    precondition(
      b == rows.count && keys!.shape[2] == d,
      "AttentionCache: \(b) rows of width \(d) for a cache of \(rows.count) rows of width "
        + "\(keys!.shape[2])")
    for (source, target) in [(k, keys!), (v, values!)] {
      source.withUnsafeBufferPointer { src in
        target.withUnsafeMutableBufferPointer { dst in
          for (r, row) in rows.enumerated() {
            (dst.baseAddress! + (row * capacity + length) * d).update(
              from: src.baseAddress! + r * t * d, count: t * d)
          }
        }
      }
    }
    length += t
  }

  /// Attention of `query` `[B, T, D]`, the positions just appended, over everything stored
  /// (`keyValueHeads` key/value heads, `heads` by default: see `Tensor.attention`).
  func attend(_ query: Tensor, heads: Int, keyValueHeads: Int? = nil) -> Tensor {
    if query.shape[1] == 1 {
      return Tensor.cachedAttention(
        query: query, key: keys!, value: values!, heads: heads, keyValueHeads: keyValueHeads,
        keyLength: length, rows: rows, keyPadding: keyPadding)
    }
    precondition(
      rows == Array(0..<keys!.shape[0]),
      "AttentionCache: several positions at once only before any row was dropped")
    return Tensor.attention(
      query: query, key: keys!, value: values!, heads: heads, keyValueHeads: keyValueHeads,
      keyLength: length, keyPadding: keyPadding)
  }

  /// Appends `keys` and `values` `[B, T, Dk]` of T new positions, then returns the attention
  /// of their `query` `[B, T, D]` over every stored position: one incremental decoding step
  /// of a layer with `heads` query heads sharing `keyValueHeads` key/value heads.
  public func attend(
    query: Tensor, newKeys keys: Tensor, newValues values: Tensor, heads: Int,
    keyValueHeads: Int
  ) -> Tensor {
    append(keys: keys, values: values)
    return attend(query, heads: heads, keyValueHeads: keyValueHeads)
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
    guard let cache else {
      return wo(
        Tensor.attention(query: q, key: wk(x), value: wv(x), heads: heads, keyPadding: keyPadding))
    }
    cache.append(keys: wk(x), values: wv(x))
    return wo(cache.attend(q, heads: heads))
  }

  /// Attends over `x` `[B, T, width]` (with the tape) and also returns its keys and values.
  /// With `prefix` keys and values `[1, P, width]` the tokens continue that prefix: every
  /// row attends to the prefix's keys, broadcast to the rows, before its own causal block.
  public func callAsFunction(_ x: Tensor, prefix: (keys: Tensor, values: Tensor)?) -> (
    output: Tensor, keys: Tensor, values: Tensor
  ) {
    let (k, v) = (wk(x), wv(x))
    var (keys, values) = (k, v)
    if let prefix {
      let shape = [x.shape[0], prefix.keys.shape[1], width]
      keys = Tensor.concat([prefix.keys.broadcast(to: shape), k], axis: 1)
      values = Tensor.concat([prefix.values.broadcast(to: shape), v], axis: 1)
    }
    return (wo(Tensor.attention(query: wq(x), key: keys, value: values, heads: heads)), k, v)
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

  /// The block over `x` continuing `prefix` (see `CausalSelfAttention`), with the tape;
  /// also returns its attention's keys and values of `x`.
  public func callAsFunction(_ x: Tensor, prefix: (keys: Tensor, values: Tensor)?) -> (
    output: Tensor, keys: Tensor, values: Tensor
  ) {
    let (attended, k, v) = attn(ln1(x), prefix: prefix)
    let h = x + attended
    return (h + mlp(ln2(h)), k, v)
  }
}
