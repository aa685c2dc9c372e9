import TensorCore
import Testing

// The packed decoding products against `Tensor.linear` (OpenBLAS), on shapes that leave
// partial panels (out not a multiple of 16) and partial row tiles (rows not a multiple of 6).

/// Largest |a − b| over two equally shaped tensors.
private func largestDifference(_ a: Tensor, _ b: Tensor) -> Float {
  zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
}

@Test(.enabled(if: PackedWeights.isAvailable))
func packedProductsAgreeWithLinear() {
  var rng = RandomState(seed: 11)
  for (rows, inputs, outputs) in [
    (1, 576, 200), (5, 64, 33), (6, 7, 16), (7, 96, 48), (64, 40, 17),
  ] {
    let weight = Tensor.uniform([outputs, inputs], low: -1, high: 1, rng: &rng)
    let bias = Tensor.uniform([outputs], low: -1, high: 1, rng: &rng)
    let x = Tensor.uniform([rows, inputs], low: -1, high: 1, rng: &rng)
    let packed = PackedWeights([weight])
    #expect(packed.count == 1)
    withoutGrad {
      for b in [nil, bias] {
        let expected = Tensor.linear(x, weight: weight, bias: b)
        let got = packed.linear(x, weight: weight, bias: b)
        #expect(got.shape == [rows, outputs])
        #expect(
          largestDifference(got, expected) < 2e-6 * Float(inputs),
          "rows \(rows), in \(inputs), out \(outputs), bias \(b != nil)")
      }
    }
  }
}

@Test(.enabled(if: PackedWeights.isAvailable))
func aPackedRowDoesNotDependOnTheRowsBesideIt() {
  var rng = RandomState(seed: 12)
  let weight = Tensor.uniform([70, 50], low: -1, high: 1, rng: &rng)
  let x = Tensor.uniform([2, 13, 50], low: -1, high: 1, rng: &rng)
  let packed = PackedWeights([weight])
  withoutGrad {
    let all = packed.linear(x, weight: weight, bias: nil)
    #expect(all.shape == [2, 13, 70])
    let flat = all.reshaped([26, 70])
    for row in [0, 5, 6, 12, 25] {
      let alone = packed.linear(
        x.reshaped([26, 50]).slice(axis: 0, row..<(row + 1)), weight: weight, bias: nil)
      #expect(alone.scalars == flat.slice(axis: 0, row..<(row + 1)).scalars, "row \(row)")
    }
  }
}

@Test func packedWeightsFallBackToLinearWithTheTapeOrAnUnpackedWeight() {
  var rng = RandomState(seed: 13)
  let weight = Tensor.uniform([9, 4], low: -1, high: 1, rng: &rng, requiresGrad: true)
  let other = Tensor.uniform([3, 4], low: -1, high: 1, rng: &rng, requiresGrad: true)
  let x = Tensor.uniform([2, 4], low: -1, high: 1, rng: &rng)
  let packed = PackedWeights([weight])
  // With the tape on, the product is recorded (and equals Tensor.linear's bit for bit).
  let taped = packed.linear(x, weight: weight, bias: nil)
  #expect(taped.opName == "linear")
  #expect(taped.scalars == Tensor.linear(x, weight: weight, bias: nil).scalars)
  // A weight that was not packed goes to Tensor.linear.
  withoutGrad {
    #expect(
      packed.linear(x, weight: other, bias: nil).scalars
        == Tensor.linear(x, weight: other, bias: nil).scalars)
  }
}
