import CKernels
import Foundation

/// The cosines and sines of rotary position embeddings (RoPE) for a list of token
/// positions: for token t and frequency i, the angle positions[t] · inverseFrequencies[i].
/// Built once per forward pass and shared by every layer.
public struct RotaryTable: @unchecked Sendable {
  /// The number of tokens (positions) the table covers.
  public let tokens: Int
  /// Half the rotated head dimension: the number of frequencies.
  public let frequencies: Int
  let cos: Tensor
  let sin: Tensor

  /// The table for `positions` (one per token, row-major `[B, T]`) and the rotation
  /// frequencies (head dimension / 2 of them). Angles are rounded as float32 products,
  /// like PyTorch's, before their cosine and sine are taken.
  public init(positions: [Int], inverseFrequencies: [Float]) {
    tokens = positions.count
    frequencies = inverseFrequencies.count
    cos = Tensor(uninitialized: [tokens, frequencies])
    sin = Tensor(uninitialized: [tokens, frequencies])
    for (t, position) in positions.enumerated() {
      for (i, f) in inverseFrequencies.enumerated() {
        let angle = Double(Float(position) * f)
        cos.pointer[t * frequencies + i] = Float(Foundation.cos(angle))
        sin.pointer[t * frequencies + i] = Float(Foundation.sin(angle))
      }
    }
  }

  /// The standard RoPE frequencies θ^(−2i/d) for i < d/2, rounded to float32.
  public static func inverseFrequencies(dimension d: Int, theta: Double) -> [Float] {
    require(d > 0 && d % 2 == 0, "RotaryTable: head dimension \(d) should be even and positive")
    return (0..<(d / 2)).map { Float(1 / Foundation.pow(theta, Double(2 * $0) / Double(d))) }
  }
}

extension Tensor {
  /// Rotary position embedding of `[B, T, heads · hd]` (heads of hd = 2 · frequencies) in
  /// the rotate-half layout of Hugging Face transformers: the pair (x[i], x[i + hd/2]) of
  /// each head of token t is rotated by the table's angle (t, i). The backward rule is the
  /// inverse rotation.
  public func rotary(_ table: RotaryTable, heads: Int) -> Tensor {
    let hd = 2 * table.frequencies
    require(
      rank == 3 && shape[2] == heads * hd && shape[0] * shape[1] == table.tokens,
      "rotary: input \(shape) should be [B, T, \(heads) · \(hd)] with B·T = \(table.tokens)")
    let out = Tensor(uninitialized: shape)
    allot_rotary(
      pointer, table.cos.pointer, table.sin.pointer, out.pointer, table.tokens, heads, hd, 1)
    return Tensor.result(out, op: "rotary", inputs: [self]) { g in
      let dx = Tensor(uninitialized: g.shape)
      allot_rotary(
        g.pointer, table.cos.pointer, table.sin.pointer, dx.pointer, table.tokens, heads, hd, -1)
      return [dx]
    }
  }
}
