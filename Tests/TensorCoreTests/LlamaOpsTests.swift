import Foundation
import TensorCore
import TestSupport
import Testing

// The Llama-family ops: RMSNorm, rotary position embeddings, SiLU/SwiGLU and grouped-query
// attention. Gradients by central finite differences (checkGradients' defaults, as in
// GradientCheckTests), forward values by hand or against compositions of primitive ops.

private func s(_ shape: [Int], _ seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
  sample(shape, low: low, high: high, seed: seed)
}

/// A rotary table for positions [B·T] with head dimension 2·frequencies.
private func table(_ positions: [Int], frequencies: Int, theta: Double = 10) -> RotaryTable {
  RotaryTable(
    positions: positions,
    inverseFrequencies: RotaryTable.inverseFrequencies(dimension: 2 * frequencies, theta: theta))
}

let llamaOpCases: [Case] = [
  Case("rmsNorm", { [s([3, 5], 1), s([5], 2, low: 0.5, high: 1.5)] }) {
    $0[0].rmsNorm(weight: $0[1], eps: 1e-5)
  },
  Case("rmsNorm 3D, large eps", { [s([2, 2, 4], 3), s([4], 4)] }) {
    $0[0].rmsNorm(weight: $0[1], eps: 0.5)
  },
  Case("rotary, 2 heads", { [s([2, 3, 8], 5)] }) {
    $0[0].rotary(table([0, 1, 2, 5, 0, 9], frequencies: 2), heads: 2)
  },
  Case("silu", { [s([2, 5], 6, low: -4, high: 4)] }) { $0[0].silu() },
  Case("swiglu", { [s([3, 4], 7, low: -3, high: 3), s([3, 4], 8)] }) {
    Tensor.swiglu(gate: $0[0], up: $0[1])
  },
  Case(
    "grouped-query attention, 4 heads on 2",
    { [s([2, 3, 8], 9), s([2, 3, 4], 10), s([2, 3, 4], 11)] }
  ) {
    Tensor.attention(query: $0[0], key: $0[1], value: $0[2], heads: 4, keyValueHeads: 2)
  },
  Case(
    "grouped-query attention, one key/value head, padding, shorter key length",
    { [s([2, 2, 6], 12), s([2, 5, 2], 13), s([2, 5, 2], 14)] }
  ) {
    Tensor.attention(
      query: $0[0], key: $0[1], value: $0[2], heads: 3, keyValueHeads: 1, keyLength: 4,
      keyPadding: [0, 1])
  },
  Case(
    "a query block over a prefix broadcast to its rows, then its own causal keys",
    {
      [
        s([2, 3, 8], 15), s([1, 2, 4], 16), s([2, 3, 4], 17), s([1, 2, 4], 18), s([2, 3, 4], 19),
      ]
    }
  ) {
    // Shared-prompt scoring: rows at positions 2..<5 see the 2 prefix keys and their own.
    Tensor.attention(
      query: $0[0], key: Tensor.concat([$0[1].broadcast(to: [2, 2, 4]), $0[2]], axis: 1),
      value: Tensor.concat([$0[3].broadcast(to: [2, 2, 4]), $0[4]], axis: 1), heads: 4,
      keyValueHeads: 2)
  },
]

@Test(arguments: llamaOpCases) func llamaOpGradients(_ c: Case) { c.check() }

@Test func rmsNormMatchesHandComputedValues() {
  // Row (3, 4): mean of squares 12.5, so x / √12.5 · w.
  let y = Tensor([3, 4], shape: [1, 2]).rmsNorm(weight: Tensor([1, 2]), eps: 0)
  let r = 1 / Float(12.5).squareRoot()
  #expect(isClose(y.scalars, [3 * r, 8 * r], atol: 1e-6))
}

@Test func rotaryRotatesHalvesLikeTransformers() {
  // One head of 4 at position 3: frequencies 1 and θ^(−1/2) = 0.1 for θ = 100. Pair i is
  // (x[i], x[i + 2]), rotated by 3 · frequency i.
  let x: [Float] = [1, 2, 3, 4]
  let out = Tensor(x, shape: [1, 1, 4]).rotary(
    RotaryTable(positions: [3], inverseFrequencies: [1, 0.1]), heads: 1
  ).scalars
  let (a0, a1) = (3.0, 0.3)
  let expected: [Double] = [
    1 * cos(a0) - 3 * sin(a0), 2 * cos(a1) - 4 * sin(a1),
    3 * cos(a0) + 1 * sin(a0), 4 * cos(a1) + 2 * sin(a1),
  ]
  #expect(isClose(out, expected.map { Float($0) }, atol: 1e-6))
  #expect(RotaryTable.inverseFrequencies(dimension: 4, theta: 100) == [1, 0.1])
}

@Test func rotaryPreservesNormsAndPositionZeroIsTheIdentity() {
  let x = s([1, 2, 12], 15)
  let y = x.rotary(table([0, 7], frequencies: 3), heads: 2).scalars
  #expect(isClose(Array(y[0..<12]), Array(x.scalars[0..<12]), atol: 0))
  let norm = { (v: ArraySlice<Float>) in v.reduce(0) { $0 + $1 * $1 } }
  for h in 0..<2 {
    let r = (12 + 6 * h)..<(18 + 6 * h)
    #expect(abs(norm(y[r]) - norm(x.scalars[r])) < 1e-5)
  }
}

@Test func swigluMatchesItsDefinition() {
  let gate = s([7], 16, low: -5, high: 5)
  let up = s([7], 17)
  let fused = Tensor.swiglu(gate: gate, up: up).scalars
  let reference = (gate * gate.sigmoid() * up).scalars
  #expect(isClose(fused, reference, atol: 1e-6, rtol: 1e-5))
}

/// Key/value heads `[B, C, G·hd]` repeated so that each of `heads` query heads has its own.
private func repeatHeads(_ x: Tensor, heads: Int, groups: Int) -> Tensor {
  let hd = x.shape[2] / groups
  return Tensor.concat(
    (0..<heads).map { h in
      x.slice(axis: 2, (h / (heads / groups) * hd)..<((h / (heads / groups) + 1) * hd))
    },
    axis: 2)
}

@Test func groupedQueryAttentionEqualsMultiHeadOnRepeatedKeys() {
  // 6 query heads on 2 key/value heads, 40 queries (two query blocks), row 1 padded.
  let q = s([2, 40, 24], 18)
  let k = s([2, 40, 8], 19)
  let v = s([2, 40, 8], 20)
  let w = s([2, 40, 24], 21)
  let inputs = [q, k, v]
  for x in inputs { x.requiresGrad = true }
  let grouped = Tensor.attention(
    query: q, key: k, value: v, heads: 6, keyValueHeads: 2, keyPadding: [0, 5])
  let multiHead = Tensor.attention(
    query: q, key: repeatHeads(k, heads: 6, groups: 2), value: repeatHeads(v, heads: 6, groups: 2),
    heads: 6, keyPadding: [0, 5])
  #expect(isClose(grouped.scalars, multiHead.scalars, atol: 1e-6, rtol: 1e-5))
  let a = (grouped * w).sum().gradients(wrt: inputs)
  let e = (multiHead * w).sum().gradients(wrt: inputs)
  for (name, (x, y)) in zip(["query", "key", "value"], zip(a, e)) {
    #expect(isClose(x.scalars, y.scalars, atol: 1e-5, rtol: 1e-4), "gradient of \(name)")
  }
}

@Test func groupedCachedAttentionEqualsFullAttention() {
  // The decoding kernel (one query, mapped cache rows, padding) against the sgemm path's
  // last position on the same gathered keys.
  var rng = RandomState(seed: 22)
  let key = Tensor.normal([3, 7, 8], rng: &rng)
  let value = Tensor.normal([3, 7, 8], rng: &rng)
  let queries = Tensor.normal([2, 6, 16], rng: &rng)
  let (rows, pads) = ([2, 0], [1, 0])
  let (cached, full) = withoutGrad {
    let last = queries.slice(axis: 1, 5..<6)
    let cached = Tensor.cachedAttention(
      query: last, key: key, value: value, heads: 4, keyValueHeads: 2, keyLength: 6, rows: rows,
      keyPadding: pads)
    let full = Tensor.attention(
      query: queries, key: key.indexSelect(axis: 0, rows), value: value.indexSelect(axis: 0, rows),
      heads: 4, keyValueHeads: 2, keyLength: 6, keyPadding: pads
    ).slice(axis: 1, 5..<6)
    return (cached, full)
  }
  #expect(isClose(cached.scalars, full.scalars, atol: 1e-5))
}
