// Tight loops over raw pointers. Every op's forward and backward rule is built from these,
// so the hot paths vectorise in release builds and carry no bounds checks.

extension Tensor {
  /// `f` applied to every element.
  @inline(__always)
  static func map(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let s = x.pointer
    let d = out.pointer
    for i in 0..<x.count { d[i] = f(s[i]) }
    return out
  }

  /// `f` applied elementwise to two tensors of the same shape.
  @inline(__always)
  static func combine(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    let out = Tensor(uninitialized: a.shape)
    let pa = a.pointer
    let pb = b.pointer
    let d = out.pointer
    for i in 0..<a.count { d[i] = f(pa[i], pb[i]) }
    return out
  }

  /// `f` applied elementwise to three tensors of the same shape.
  @inline(__always)
  static func combine(
    _ a: Tensor, _ b: Tensor, _ c: Tensor, _ f: (Float, Float, Float) -> Float
  ) -> Tensor {
    let out = Tensor(uninitialized: a.shape)
    let pa = a.pointer
    let pb = b.pointer
    let pc = c.pointer
    let d = out.pointer
    for i in 0..<a.count { d[i] = f(pa[i], pb[i], pc[i]) }
    return out
  }

  /// `f` applied elementwise with NumPy broadcasting; the result has the broadcast shape.
  @inline(__always)
  static func broadcastZip(
    _ a: Tensor, _ b: Tensor, op: String, _ f: (Float, Float) -> Float
  ) -> Tensor {
    if a.shape == b.shape { return combine(a, b, f) }
    let shape = Shape.broadcast(a.shape, b.shape, op: op)
    let out = Tensor(uninitialized: shape)
    let pa = a.pointer
    let pb = b.pointer
    let d = out.pointer
    if b.count == 1 && shape == a.shape {
      let y = pb[0]
      for i in 0..<out.count { d[i] = f(pa[i], y) }
      return out
    }
    if a.count == 1 && shape == b.shape {
      let x = pa[0]
      for i in 0..<out.count { d[i] = f(x, pb[i]) }
      return out
    }
    let strides = [
      Shape.strides(shape), Shape.broadcastStrides(a.shape, to: shape),
      Shape.broadcastStrides(b.shape, to: shape),
    ]
    forEachRun(shape: shape, strides: strides) { off, n, inner in
      let o = d + off[0]
      let x = pa + off[1]
      let y = pb + off[2]
      switch (inner[1], inner[2]) {
      case (0, 0): for i in 0..<n { o[i] = f(x[0], y[0]) }
      case (0, _): for i in 0..<n { o[i] = f(x[0], y[i]) }
      case (_, 0): for i in 0..<n { o[i] = f(x[i], y[0]) }
      default: for i in 0..<n { o[i] = f(x[i], y[i]) }
      }
    }
    return out
  }
}
