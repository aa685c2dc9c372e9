import CKernels

// Vectorisable elementary functions. libm's expf/tanhf are scalar calls; these are plain
// arithmetic and bit operations that the compiler turns into SIMD loops. Accuracy is a
// few units in the last place over the whole Float range; inputs beyond the range
// saturate to 0 or +∞ as exp does, and NaN stays NaN.

/// Writes exp(x[i]·scale − shift) for every element of `x` into `out` (at least as long)
/// and returns their sum: the unnormalised softmax of a row of logits, in one vectorised
/// C kernel (the sampler's inner loop over the vocabulary).
public func scaledExponentials(
  _ x: UnsafeBufferPointer<Float>, scale: Float, shift: Float, into out: UnsafeMutablePointer<Float>
) -> Float {
  allot_scaled_exp(x.baseAddress!, x.count, scale, shift, out)
}

/// eˣ, with Cody–Waite range reduction and a degree-7 polynomial.
@inline(__always)
func fastExp(_ x: Float) -> Float {
  let clamped = Swift.min(Swift.max(x, -87.3), 88.72)
  // n = round(x / ln 2) via the 1.5·2²³ trick (no float-to-int conversion, no trap).
  let magic: Float = 12_582_912
  let shifted = Swift.min(clamped * 1.442_695_04 + magic, magic + 127)
  let n = shifted - magic
  let r = (clamped - n * 0.693_145_75) - n * 1.428_606_8e-6
  var p: Float = 1.0 / 5040
  p = p * r + 1.0 / 720
  p = p * r + 1.0 / 120
  p = p * r + 1.0 / 24
  p = p * r + 1.0 / 6
  p = p * r + 0.5
  p = p * r + 1
  p = p * r + 1
  let scale = Float(bitPattern: (shifted.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
  var y = p * scale
  y = x < -87.3 ? 0 : y
  y = x > 88.72 ? .infinity : y
  return x != x ? x : y
}

/// tanh x, through eˣ away from zero and its Taylor series near zero.
@inline(__always)
func fastTanh(_ x: Float) -> Float {
  let e = fastExp(2 * Swift.min(Swift.max(x, -20), 20))
  let far = 1 - 2 / (e + 1)
  let x2 = x * x
  let near = x * (1 + x2 * (-1.0 / 3 + x2 * (2.0 / 15 - x2 * (17.0 / 315))))
  let y = Swift.abs(x) < 0.04 ? near : far
  return x != x ? x : y
}
