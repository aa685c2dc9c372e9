import CBLAS
import CKernels

/// Query rows per block in `Tensor.attention`: each block computes scores only up to the
/// last key its final row can see. 16–32 measured fastest for 112 positions of width 128
/// (`allot-bench attention-profile`); the results do not depend on it.
let attentionBlockRows = 32

/// The query blocks of one batch row that see at least one key: rows `start..<start+rows`
/// attend to keys `first..<end` (the first unpadded key to the last the block's final row
/// sees). Query i sits at absolute position `offset + i`.
private func queryBlocks(queries t: Int, keyLength s: Int, offset: Int, pad: Int) -> [(
  start: Int, rows: Int, first: Int, end: Int
)] {
  stride(from: 0, to: t, by: attentionBlockRows).compactMap { start in
    let rows = min(attentionBlockRows, t - start)
    let end = min(s, offset + start + rows)
    return end > pad ? (start, rows, pad, end) : nil
  }
}

extension Tensor {
  /// Fused multi-head scaled dot-product attention with a causal mask.
  ///
  /// `query` is `[B, T, D]`; `key` and `value` are `[B, C, Dk]`, of which the first
  /// `keyLength` positions (all C by default) are attended. Heads split D into
  /// `heads` slices of D/heads; key and value hold `keyValueHeads` (default `heads`) slices
  /// of that width, Dk = keyValueHeads · D/heads, and query head h reads key/value head
  /// h / (heads / keyValueHeads) (grouped-query attention). Query i sits at absolute position `keyLength − T + i` and
  /// sees keys up to that position. `keyPadding[b]` leading keys of batch row b are
  /// masked too (left-padded prompts); a query that sees no key at all (a padding position)
  /// gets zero weights and a zero output. Returns `[B, T, D]` with heads concatenated.
  ///
  /// Every product is a strided sgemm on the `[B, T, D]` layout, so no head permutation
  /// is materialised, taken in blocks of query rows that skip the keys no row of the
  /// block can see; the backward rule is hand-written.
  public static func attention(
    query: Tensor, key: Tensor, value: Tensor, heads: Int, keyValueHeads: Int? = nil,
    keyLength: Int? = nil, keyPadding: [Int]? = nil
  ) -> Tensor {
    let kvHeads = keyValueHeads ?? heads
    require(
      heads > 0 && query.rank == 3 && query.shape[2] % heads == 0,
      "attention: query \(query.shape) should be [B, T, D] with D divisible by \(heads) heads")
    require(
      kvHeads > 0 && heads % kvHeads == 0,
      "attention: \(heads) query heads cannot share \(kvHeads) key/value heads")
    let (b, t, d) = (query.shape[0], query.shape[1], query.shape[2])
    let kvWidth = kvHeads * (d / heads)
    require(
      key.rank == 3 && key.shape == value.shape && key.shape[0] == b && key.shape[2] == kvWidth,
      "attention: query \(query.shape), key \(key.shape), value \(value.shape) should be "
        + "[B, T, D], [B, C, \(kvWidth)], [B, C, \(kvWidth)] for \(heads) heads and \(kvHeads) key/value heads"
    )
    let c = key.shape[1]
    let s = keyLength ?? c
    require(s >= t && s <= c, "attention: keyLength \(s) must lie in \(t)...\(c)")
    if let keyPadding {
      require(
        keyPadding.count == b && keyPadding.allSatisfy { $0 >= 0 && $0 < s },
        "attention: keyPadding \(keyPadding) needs \(b) counts, each below the key length \(s)")
    }
    let hd = d / heads
    let group = heads / kvHeads
    let scale = 1 / Float(hd).squareRoot()
    let offset = s - t
    let out = Tensor.zeros([b, t, d])
    // Attention weights, kept for the backward pass: [B, H, T, S]. Only the columns a
    // query block uses (see below) are written, and only those are read back.
    let probabilities = Tensor(uninitialized: [b, heads, t, s])
    let (q, k, v, o, p) = (
      query.pointer, key.pointer, value.pointer, out.pointer, probabilities.pointer
    )
    if t == 1 {
      // One query per row (incremental decoding): one vectorised kernel beats 2·B·H tiny
      // sgemm calls.
      allot_decode_attention(
        q, k, v, o, p, b, heads, kvHeads, d, c, s, Array(0..<b),
        keyPadding ?? [Int](repeating: 0, count: b), scale)
    } else {
      // Query rows in blocks: a block's scores stop at the last key its final row sees,
      // so most of the masked upper triangle is never computed (nor read backward). Rows
      // of the output (and of dQ) are written by one block each, onto zeros.
      for bi in 0..<b {
        let pad = keyPadding?[bi] ?? 0
        // Blocks of padding positions only are skipped: their output stays zero.
        let blocks = queryBlocks(queries: t, keyLength: s, offset: offset, pad: pad)
        for h in 0..<heads {
          let qo = bi * t * d + h * hd
          let ko = bi * c * kvWidth + (h / group) * hd
          for (r0, rows, first, end) in blocks {
            let scores = p + ((bi * heads + h) * t + r0) * s
            sgemm(
              false, true, m: rows, n: end - first, k: hd, alpha: scale, q + qo + r0 * d, lda: d,
              k + ko + first * kvWidth, ldb: kvWidth, scores + first, ldc: s)
            allot_causal_softmax(scores, rows, s, first, end, pad, offset + r0)
            sgemm(
              false, false, m: rows, n: hd, k: end - first, scores + first, lda: s,
              v + ko + first * kvWidth, ldb: kvWidth, beta: 1, o + qo + r0 * d, ldc: d)
          }
        }
      }
    }
    return result(out, op: "attention", inputs: [query, key, value]) { g in
      let dq = Tensor.zeros(query.shape)
      let dk = Tensor.zeros(key.shape)
      let dv = Tensor.zeros(value.shape)
      let scratch = Tensor(uninitialized: [attentionBlockRows, s])
      let p = probabilities.pointer  // keeps the weights alive until the backward pass
      let (gq, gk, gv) = (dq.pointer, dk.pointer, dv.pointer)
      for bi in 0..<b {
        let blocks = queryBlocks(
          queries: t, keyLength: s, offset: offset, pad: keyPadding?[bi] ?? 0)
        for h in 0..<heads {
          let qo = bi * t * d + h * hd
          let ko = bi * c * kvWidth + (h / group) * hd
          for (r0, rows, first, end) in blocks {
            let n = end - first
            let weights = p + ((bi * heads + h) * t + r0) * s + first
            let ds = scratch.pointer + first
            let (row, key) = (qo + r0 * d, ko + first * kvWidth)
            // dP = dO · Vᵀ, then the softmax rule dS = P ⊙ (dP − rowsum(dP ⊙ P)).
            sgemm(
              false, true, m: rows, n: n, k: hd, g.pointer + row, lda: d, v + key, ldb: kvWidth, ds,
              ldc: s)
            allot_softmax_backward_rows(ds, weights, rows, s, n)
            // dQ = scale · dS · K;  dK += scale · dSᵀ · Q;  dV += Pᵀ · dO (query heads of a
            // group add into their shared key/value head).
            sgemm(
              false, false, m: rows, n: hd, k: n, alpha: scale, ds, lda: s, k + key, ldb: kvWidth,
              beta: 1, gq + row, ldc: d)
            sgemm(
              true, false, m: n, n: hd, k: rows, alpha: scale, ds, lda: s, q + row, ldb: d,
              beta: 1, gk + key, ldc: kvWidth)
            sgemm(
              true, false, m: n, n: hd, k: rows, weights, lda: s, g.pointer + row, ldb: d,
              beta: 1, gv + key, ldc: kvWidth)
          }
        }
      }
      return [dq, dk, dv]
    }
  }

  /// Attention of one new query per batch row over cached keys and values, for sampling
  /// (no tape). `query` is `[B, 1, D]`; `key` and `value` are `[R, C, Dk]` caches
  /// (Dk = keyValueHeads · D/heads, as in `attention`) whose first `keyLength` positions
  /// are filled; batch row b reads cache row `rows[b]` and masks its first `keyPadding[b]`
  /// keys. Equals `attention(query:key:value:…)` on the gathered rows.
  public static func cachedAttention(
    query: Tensor, key: Tensor, value: Tensor, heads: Int, keyValueHeads: Int? = nil,
    keyLength: Int, rows: [Int], keyPadding: [Int]? = nil
  ) -> Tensor {
    require(
      !(GradMode.isEnabled && (query.requiresGrad || key.requiresGrad || value.requiresGrad)),
      "cachedAttention: no gradient flows through a cache; run it inside withoutGrad")
    let kvHeads = keyValueHeads ?? heads
    let (b, d) = (query.shape[0], query.shape.last ?? 0)
    require(
      heads > 0 && d % heads == 0 && kvHeads > 0 && heads % kvHeads == 0,
      "cachedAttention: width \(d) with \(heads) heads and \(kvHeads) key/value heads")
    let kvWidth = kvHeads * (d / heads)
    require(
      query.rank == 3 && query.shape[1] == 1 && key.rank == 3 && key.shape == value.shape
        && key.shape[2] == kvWidth,
      "cachedAttention: query \(query.shape), key \(key.shape), value \(value.shape) should be "
        + "[B, 1, D], [R, C, \(kvWidth)], [R, C, \(kvWidth)]")
    let c = key.shape[1]
    require(
      keyLength >= 1 && keyLength <= c,
      "cachedAttention: keyLength \(keyLength) must lie in 1...\(c)")
    require(
      rows.count == b && rows.allSatisfy { $0 >= 0 && $0 < key.shape[0] },
      "cachedAttention: rows \(rows) need \(b) indices below \(key.shape[0])")
    if let keyPadding {
      require(
        keyPadding.count == b && keyPadding.allSatisfy { $0 >= 0 && $0 < keyLength },
        "cachedAttention: keyPadding \(keyPadding) needs \(b) counts, each below \(keyLength)")
    }
    let out = Tensor(uninitialized: [b, 1, d])
    let weights = Tensor(uninitialized: [b, heads, keyLength])
    allot_decode_attention(
      query.pointer, key.pointer, value.pointer, out.pointer, weights.pointer, b, heads, kvHeads,
      d, c, keyLength, rows, keyPadding ?? [Int](repeating: 0, count: b),
      1 / Float(d / heads).squareRoot())
    return out
  }
}
