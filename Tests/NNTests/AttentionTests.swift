import NN
import TensorCore
import TestSupport
import Testing

@Test func attentionGradientsMatchFiniteDifferences() {
  let q = sample([2, 3, 4], seed: 1)
  let k = sample([2, 3, 4], seed: 2)
  let v = sample([2, 3, 4], seed: 3)
  let report = checkGradients([q, k, v]) { t in
    Tensor.attention(query: t[0], key: t[1], value: t[2], heads: 2)
  }
  #expect(report.passed, "\(report)")
}

@Test func attentionWithKeyPaddingAndShorterKeyLengthGradients() {
  // Two queries at absolute positions 2 and 3 of a 5-slot buffer holding 4 keys; the
  // first key of batch row 1 is padding.
  let q = sample([2, 2, 4], seed: 4)
  let k = sample([2, 5, 4], seed: 5)
  let v = sample([2, 5, 4], seed: 6)
  let report = checkGradients([q, k, v]) { t in
    Tensor.attention(
      query: t[0], key: t[1], value: t[2], heads: 2, keyLength: 4, keyPadding: [0, 1])
  }
  #expect(report.passed, "\(report)")
}

@Test func attentionMatchesHandComputedCausalAverage() {
  // One head, width 1: scores q·k; with q = 0 every visible key weighs the same, so the
  // output at position i is the mean of v[0…i].
  let q = Tensor.zeros([1, 3, 1])
  let k = Tensor([1, 2, 3], shape: [1, 3, 1])
  let v = Tensor([3, 6, 9], shape: [1, 3, 1])
  let out = Tensor.attention(query: q, key: k, value: v, heads: 1)
  #expect(isClose(out.scalars, [3, 4.5, 6]))
}

@Test func transformerBlockGradientsMatchFiniteDifferences() {
  var rng = RandomState(seed: 9)
  let block = TransformerBlock(width: 8, heads: 2, mlpRatio: 2, rng: &rng)
  let x = sample([1, 3, 8], seed: 10)
  let chosen = [x, block.attn.wq.weight, block.mlp.layers.items[0].bias!, block.ln2.weight]
  let report = checkGradients(chosen, eps: 1e-2, atol: 5e-3, rtol: 3e-2) { t in block(t[0]) }
  #expect(report.passed, "\(report)")
}

@Test func kvCacheDecodingEqualsFullAttention() {
  var rng = RandomState(seed: 5)
  let block = TransformerBlock(width: 16, heads: 4, rng: &rng)
  let x = Tensor.normal([2, 6, 16], rng: &rng)
  let full = withoutGrad { block(x) }
  let cache = AttentionCache(capacity: 8)
  var pieces: [Tensor] = []
  withoutGrad {
    // A 3-position prompt, then one position at a time.
    pieces.append(block(x.slice(axis: 1, 0..<3), cache: cache))
    for t in 3..<6 { pieces.append(block(x.slice(axis: 1, t..<(t + 1)), cache: cache)) }
  }
  let incremental = Tensor.concat(pieces, axis: 1)
  #expect(cache.length == 6)
  #expect(isClose(incremental.scalars, full.scalars, atol: 1e-5, rtol: 1e-4))
}

@Test func leftPaddedRowsMatchTheUnpaddedSequence() {
  var rng = RandomState(seed: 6)
  let block = TransformerBlock(width: 8, heads: 2, rng: &rng)
  let short = Tensor.normal([1, 3, 8], rng: &rng)
  let alone = withoutGrad { block(short) }
  // Batch row 0: two padding positions (arbitrary values) then the 3 real ones.
  let padded = Tensor.concat([Tensor.normal([1, 2, 8], rng: &rng), short], axis: 1)
  let out = withoutGrad { block(padded, keyPadding: [2]) }
  #expect(isClose(out.slice(axis: 1, 2..<5).scalars, alone.scalars, atol: 1e-5, rtol: 1e-4))
}

@Test func cachedAttentionReadsTheMappedRows() {
  // Batch rows 0 and 1 read cache rows 2 and 0 (as after dropping finished sequences);
  // the result equals plain attention on those rows gathered, and the last query of a
  // full causal pass over the same keys.
  var rng = RandomState(seed: 11)
  let key = Tensor.normal([3, 6, 8], rng: &rng)
  let value = Tensor.normal([3, 6, 8], rng: &rng)
  let query = Tensor.normal([2, 1, 8], rng: &rng)
  let (rows, pads) = ([2, 0], [1, 0])
  let (cached, gathered, full) = withoutGrad {
    let cached = Tensor.cachedAttention(
      query: query, key: key, value: value, heads: 2, keyLength: 5, rows: rows, keyPadding: pads)
    let k = key.indexSelect(axis: 0, rows)
    let v = value.indexSelect(axis: 0, rows)
    let gathered = Tensor.attention(
      query: query, key: k, value: v, heads: 2, keyLength: 5, keyPadding: pads)
    // Five queries whose last is `query`: the sgemm path, compared at its last position.
    let queries = Tensor.concat([k.slice(axis: 1, 0..<4), query], axis: 1)
    let full = Tensor.attention(
      query: queries, key: k, value: v, heads: 2, keyLength: 5, keyPadding: pads
    ).slice(axis: 1, 4..<5)
    return (cached, gathered, full)
  }
  #expect(cached.scalars == gathered.scalars)
  #expect(isClose(cached.scalars, full.scalars, atol: 1e-5))
}

/// Causal attention written with primitive ops (per row and head: scores, an additive mask,
/// softmax, product), the reference for the fused op.
private func referenceAttention(
  query: Tensor, key: Tensor, value: Tensor, heads: Int, keyLength s: Int, keyPadding: [Int]
) -> Tensor {
  let (b, t, d) = (query.shape[0], query.shape[1], query.shape[2])
  let hd = d / heads
  let offset = s - t
  let rows = (0..<b).map { bi in
    let visible = { (i: Int, j: Int) in j >= keyPadding[bi] && j <= offset + i }
    let mask = Tensor(
      (0..<t).flatMap { i in (0..<s).map { j in visible(i, j) ? Float(0) : -1e9 } },
      shape: [1, t, s])
    let seesAKey = Tensor(
      (0..<t).map { i in (0..<s).contains { visible(i, $0) } ? Float(1) : 0 }, shape: [1, t, 1])
    let headOutputs = (0..<heads).map { h in
      let columns = (h * hd)..<((h + 1) * hd)
      let q = query.slice(axis: 0, bi..<(bi + 1)).slice(axis: 2, columns)
      let k = key.slice(axis: 0, bi..<(bi + 1)).slice(axis: 1, 0..<s).slice(axis: 2, columns)
      let v = value.slice(axis: 0, bi..<(bi + 1)).slice(axis: 1, 0..<s).slice(axis: 2, columns)
      let scores = Tensor.matmul(q, k, transposeB: true) * (1 / Float(hd).squareRoot()) + mask
      return Tensor.matmul(scores.softmax(axis: -1) * seesAKey, v)
    }
    return Tensor.concat(headOutputs, axis: 2)
  }
  return Tensor.concat(rows, axis: 0)
}

@Test func attentionInQueryBlocksEqualsTheReference() {
  // 75 queries span several query blocks; batch row 1's first 40 keys are padding, so its
  // first block sees no key at all. The keys fill 78 of 80 slots (queries start at 3).
  let q = sample([2, 75, 8], seed: 21)
  let k = sample([2, 80, 8], seed: 22)
  let v = sample([2, 80, 8], seed: 23)
  let w = sample([2, 75, 8], seed: 24)
  let (pads, inputs) = ([0, 40], [q, k, v])
  for input in inputs { input.requiresGrad = true }
  let fused = Tensor.attention(
    query: q, key: k, value: v, heads: 2, keyLength: 78, keyPadding: pads)
  let reference = referenceAttention(
    query: q, key: k, value: v, heads: 2, keyLength: 78, keyPadding: pads)
  #expect(isClose(fused.scalars, reference.scalars, atol: 1e-5, rtol: 1e-4))
  let fusedGrads = (fused * w).sum().gradients(wrt: inputs)
  let referenceGrads = (reference * w).sum().gradients(wrt: inputs)
  for (name, (a, e)) in zip(["query", "key", "value"], zip(fusedGrads, referenceGrads)) {
    #expect(isClose(a.scalars, e.scalars, atol: 1e-5, rtol: 1e-4), "gradient of \(name)")
  }
}
