import CKernels
import Foundation

// Elementwise ops with their backward rules. Binary ops broadcast (NumPy rules); their
// rules return output-shaped gradients that `backward()` reduces to each input's shape.

extension Tensor {
  /// Elementwise sum with broadcasting.
  public static func + (a: Tensor, b: Tensor) -> Tensor {
    let out: Tensor
    if a.shape == b.shape {
      out = Tensor(uninitialized: a.shape)
      allot_add(a.pointer, b.pointer, out.pointer, a.count)
    } else {
      out = broadcastZip(a, b, op: "add") { $0 + $1 }
    }
    return result(out, op: "add", inputs: [a, b]) { g in [g, g] }
  }

  /// Elementwise difference with broadcasting.
  public static func - (a: Tensor, b: Tensor) -> Tensor {
    let out = broadcastZip(a, b, op: "sub") { $0 - $1 }
    return result(out, op: "sub", inputs: [a, b]) { g in [g, b.requiresGrad ? -g : nil] }
  }

  /// Elementwise product with broadcasting.
  public static func * (a: Tensor, b: Tensor) -> Tensor {
    let out = broadcastZip(a, b, op: "mul") { $0 * $1 }
    return result(out, op: "mul", inputs: [a, b]) { g in
      [a.requiresGrad ? g * b : nil, b.requiresGrad ? g * a : nil]
    }
  }

  /// Elementwise quotient with broadcasting.
  public static func / (a: Tensor, b: Tensor) -> Tensor {
    let out = broadcastZip(a, b, op: "div") { $0 / $1 }
    return result(out, op: "div", inputs: [a, b]) { g in
      [
        a.requiresGrad ? g / b : nil,
        b.requiresGrad ? -(g * out) / b : nil,
      ]
    }
  }

  public static func + (a: Tensor, b: Float) -> Tensor { a + Tensor(scalar: b) }
  public static func + (a: Float, b: Tensor) -> Tensor { Tensor(scalar: a) + b }
  public static func - (a: Tensor, b: Float) -> Tensor { a - Tensor(scalar: b) }
  public static func - (a: Float, b: Tensor) -> Tensor { Tensor(scalar: a) - b }
  public static func * (a: Tensor, b: Float) -> Tensor { a * Tensor(scalar: b) }
  public static func * (a: Float, b: Tensor) -> Tensor { Tensor(scalar: a) * b }
  public static func / (a: Tensor, b: Float) -> Tensor { a / Tensor(scalar: b) }
  public static func / (a: Float, b: Tensor) -> Tensor { Tensor(scalar: a) / b }

  /// Elementwise negation.
  public static prefix func - (x: Tensor) -> Tensor {
    result(map(x) { -$0 }, op: "neg", inputs: [x]) { g in [-g] }
  }

  /// The elementwise larger of two tensors; on ties the gradient is shared equally.
  public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
    let out = broadcastZip(a, b, op: "maximum") { Swift.max($0, $1) }
    return result(out, op: "maximum", inputs: [a, b]) { g in
      let wa = broadcastZip(a, b, op: "maximum") { $0 > $1 ? 1 : ($0 == $1 ? 0.5 : 0) }
      return [g * wa, g * (1 - wa)]
    }
  }

  /// The elementwise smaller of two tensors; on ties the gradient is shared equally.
  public static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor {
    let out = broadcastZip(a, b, op: "minimum") { Swift.min($0, $1) }
    return result(out, op: "minimum", inputs: [a, b]) { g in
      let wa = broadcastZip(a, b, op: "minimum") { $0 < $1 ? 1 : ($0 == $1 ? 0.5 : 0) }
      return [g * wa, g * (1 - wa)]
    }
  }

  /// `a` where `condition` is non-zero, `b` elsewhere; all three broadcast together.
  /// No gradient flows to `condition`.
  public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
    let shape = Shape.broadcast(
      Shape.broadcast(condition.shape, a.shape, op: "where"), b.shape, op: "where")
    let out = Tensor(uninitialized: shape)
    let strides = [
      Shape.strides(shape), Shape.broadcastStrides(condition.shape, to: shape),
      Shape.broadcastStrides(a.shape, to: shape), Shape.broadcastStrides(b.shape, to: shape),
    ]
    let (d, pc, pa, pb) = (out.pointer, condition.pointer, a.pointer, b.pointer)
    forEachRun(shape: shape, strides: strides) { off, n, s in
      for i in 0..<n {
        d[off[0] + i] = pc[off[1] + i * s[1]] != 0 ? pa[off[2] + i * s[2]] : pb[off[3] + i * s[3]]
      }
    }
    return result(out, op: "where", inputs: [a, b]) { g in
      let zero = Tensor(scalar: 0)
      return [
        a.requiresGrad ? Tensor.where(condition, g, zero) : nil,
        b.requiresGrad ? Tensor.where(condition, zero, g) : nil,
      ]
    }
  }

  /// This tensor with `value` wherever `mask` (broadcast to this shape) is non-zero.
  public func maskedFill(_ mask: Tensor, _ value: Float) -> Tensor {
    require(
      Shape.broadcast(mask.shape, shape, op: "maskedFill") == shape,
      "maskedFill: mask of shape \(mask.shape) does not broadcast to \(shape)")
    return Tensor.where(mask, Tensor(scalar: value), self)
  }

  /// 1 where this tensor is greater than `other` (broadcast), else 0. No gradient.
  public func isGreater(than other: Tensor) -> Tensor {
    Tensor.broadcastZip(self, other, op: "isGreater") { $0 > $1 ? 1 : 0 }
  }

  /// 1 where this tensor equals `other` (broadcast), else 0. No gradient.
  public func isEqual(to other: Tensor) -> Tensor {
    Tensor.broadcastZip(self, other, op: "isEqual") { $0 == $1 ? 1 : 0 }
  }
}

// MARK: - Unary functions

extension Tensor {
  /// eˣ.
  public func exp() -> Tensor {
    let out = Tensor.map(self) { fastExp($0) }
    return Tensor.result(out, op: "exp", inputs: [self]) { g in [g * out] }
  }

  /// Natural logarithm.
  public func log() -> Tensor {
    let out = Tensor.map(self) { Foundation.log($0) }
    return Tensor.result(out, op: "log", inputs: [self]) { g in [g / self] }
  }

  /// Square root.
  public func sqrt() -> Tensor {
    let out = Tensor.map(self) { $0.squareRoot() }
    return Tensor.result(out, op: "sqrt", inputs: [self]) { g in
      [Tensor.combine(g, out) { g, y in 0.5 * g / y }]
    }
  }

  /// Each element raised to `exponent`.
  public func pow(_ exponent: Float) -> Tensor {
    let out = Tensor.map(self) { Foundation.pow($0, exponent) }
    return Tensor.result(out, op: "pow", inputs: [self]) { g in
      // x⁰ is constant: its gradient is 0 even at x = 0, where 0·0⁻¹ would give NaN.
      [
        Tensor.combine(g, self) { g, x in
          exponent == 0 ? 0 : g * exponent * Foundation.pow(x, exponent - 1)
        }
      ]
    }
  }

  /// Absolute value; the gradient at 0 is 0.
  public func abs() -> Tensor {
    let out = Tensor.map(self) { Swift.abs($0) }
    return Tensor.result(out, op: "abs", inputs: [self]) { g in
      [Tensor.combine(g, self) { g, x in x > 0 ? g : (x < 0 ? -g : 0) }]
    }
  }

  /// Hyperbolic tangent.
  public func tanh() -> Tensor {
    let out = Tensor.map(self) { fastTanh($0) }
    return Tensor.result(out, op: "tanh", inputs: [self]) { g in
      [Tensor.combine(g, out) { g, y in g * (1 - y * y) }]
    }
  }

  /// Logistic sigmoid 1 / (1 + e⁻ˣ).
  public func sigmoid() -> Tensor {
    let out = Tensor.map(self) { x in
      let e = fastExp(-Swift.abs(x))
      return x >= 0 ? 1 / (1 + e) : e / (1 + e)
    }
    return Tensor.result(out, op: "sigmoid", inputs: [self]) { g in
      [Tensor.combine(g, out) { g, y in g * y * (1 - y) }]
    }
  }

  /// max(x, 0); the gradient at 0 is 0.
  public func relu() -> Tensor {
    let out = Tensor.map(self) { $0 > 0 ? $0 : 0 }
    return Tensor.result(out, op: "relu", inputs: [self]) { g in
      [Tensor.combine(g, out) { g, y in y > 0 ? g : 0 }]
    }
  }

  /// x for x > 0, `slope`·x otherwise.
  public func leakyRelu(slope: Float = 0.01) -> Tensor {
    let out = Tensor.map(self) { $0 > 0 ? $0 : slope * $0 }
    return Tensor.result(out, op: "leakyRelu", inputs: [self]) { g in
      [Tensor.combine(g, self) { g, x in x > 0 ? g : slope * g }]
    }
  }

  /// GELU, tanh approximation: 0.5·x·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715·x³), as
  /// PyTorch's `gelu(approximate="tanh")`. Computed as x·σ(2u), which is the same function
  /// with one exponential and no cancellation near zero.
  public func gelu() -> Tensor {
    let out = Tensor(uninitialized: shape)
    guard GradMode.isEnabled && requiresGrad else {
      allot_gelu_forward(pointer, out.pointer, nil, count)
      return out
    }
    // One pass writes the output and keeps the gate σ(2u) for the backward rule.
    let gate = Tensor(uninitialized: shape)
    allot_gelu_forward(pointer, out.pointer, gate.pointer, count)
    return Tensor.result(out, op: "gelu", inputs: [self]) { g in
      let dx = Tensor(uninitialized: self.shape)
      allot_gelu_backward(g.pointer, self.pointer, gate.pointer, dx.pointer, self.count)
      return [dx]
    }
  }

  /// Each element limited to [low, high]; the gradient passes where low ≤ x ≤ high.
  public func clamp(min low: Float = -.infinity, max high: Float = .infinity) -> Tensor {
    require(low <= high, "clamp: min \(low) is greater than max \(high)")
    let out = Tensor.map(self) { Swift.min(Swift.max($0, low), high) }
    return Tensor.result(out, op: "clamp", inputs: [self]) { g in
      [Tensor.combine(g, self) { g, x in x >= low && x <= high ? g : 0 }]
    }
  }

  /// The square of each element.
  public func square() -> Tensor { self * self }
}
