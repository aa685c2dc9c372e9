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

/// eˣ: CKernels' `allot_exp` (Cody–Waite range reduction, a degree-7 polynomial), inlined
/// into Swift's loops, so the Swift ops and the C kernels share one exponential.
@inline(__always)
func fastExp(_ x: Float) -> Float { allot_exp(x) }

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
