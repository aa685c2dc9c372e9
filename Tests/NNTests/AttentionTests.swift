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
