import CKernels
import Foundation

// Fused kernels with hand-written backward rules: softmax, log-softmax, the log-probability
// of chosen classes, layer normalisation, dropout. Each is one node on the tape.

extension Tensor {
  /// Calls `body(rowIn, rowOut)` for every 1-D lane along `axis`: `n` elements `inner`
  /// apart. Lanes along the last axis are contiguous (`inner` = 1).
  @inline(__always)
  private static func forEachLane(
    _ shape: [Int], axis: Int, _ body: (_ offset: Int, _ n: Int, _ stride: Int) -> Void
  ) {
    let (outer, n, inner) = Shape.split(shape, axis: axis)
    for o in 0..<outer {
      for i in 0..<inner { body(o * n * inner + i, n, inner) }
    }
  }

  /// Softmax along `axis` (stable: the maximum is subtracted first).
  public func softmax(axis: Int = -1) -> Tensor {
    let a = Shape.axis(axis, rank: rank, op: "softmax")
    let out = Tensor(uninitialized: shape)
    let (x, y) = (pointer, out.pointer)
    Tensor.forEachLane(shape, axis: a) { off, n, s in
      var m = -Float.infinity
      for j in 0..<n { m = Swift.max(m, x[off + j * s]) }
      if !m.isFinite { m = 0 }
      var total: Float = 0
      for j in 0..<n {
        let e = fastExp(x[off + j * s] - m)
        y[off + j * s] = e
        total += e
      }
      let inv = 1 / total
      for j in 0..<n { y[off + j * s] *= inv }
    }
    return Tensor.result(out, op: "softmax", inputs: [self]) { g in
      let dx = Tensor(uninitialized: self.shape)
      let (gp, d) = (g.pointer, dx.pointer)
      Tensor.forEachLane(self.shape, axis: a) { off, n, s in
        var dot: Float = 0
        for j in 0..<n { dot += gp[off + j * s] * y[off + j * s] }
        for j in 0..<n { d[off + j * s] = y[off + j * s] * (gp[off + j * s] - dot) }
      }
      return [dx]
    }
  }

  /// log softmax along `axis`, computed stably.
  public func logSoftmax(axis: Int = -1) -> Tensor {
    let a = Shape.axis(axis, rank: rank, op: "logSoftmax")
    let out = Tensor(uninitialized: shape)
    let (x, y) = (pointer, out.pointer)
    Tensor.forEachLane(shape, axis: a) { off, n, s in
      let lse = Tensor.logSumExp(x + off, n: n, stride: s)
      for j in 0..<n { y[off + j * s] = x[off + j * s] - lse }
    }
    return Tensor.result(out, op: "logSoftmax", inputs: [self]) { g in
      let dx = Tensor(uninitialized: self.shape)
      let (gp, d) = (g.pointer, dx.pointer)
      Tensor.forEachLane(self.shape, axis: a) { off, n, s in
        var total: Float = 0
        for j in 0..<n { total += gp[off + j * s] }
        for j in 0..<n {
          d[off + j * s] = gp[off + j * s] - fastExp(y[off + j * s]) * total
        }
      }
      return [dx]
    }
  }

  /// log Σ exp over `n` values `stride` apart.
  @inline(__always)
  static func logSumExp(_ x: UnsafePointer<Float>, n: Int, stride: Int) -> Float {
    var m = -Float.infinity
    for j in 0..<n { m = Swift.max(m, x[j * stride]) }
    if !m.isFinite { return m }
    var total: Float = 0
    for j in 0..<n { total += fastExp(x[j * stride] - m) }
    return m + Foundation.log(total)
  }

  /// For logits `[..., C]`, log softmax(logits)[indices[r]] of each row r: the
  /// log-probability of the chosen class, shape `shape.dropLast()`. Fused: no `[..., C]`
  /// log-softmax tensor is kept.
  public func logProbabilities(of indices: [Int]) -> Tensor {
    require(rank >= 1, "logProbabilities(of:): needs logits of rank ≥ 1, got a scalar")
    let c = shape[rank - 1]
    let rows = c == 0 ? 0 : count / c
    require(
      indices.count == rows,
      "logProbabilities(of:): \(indices.count) indices for \(rows) rows of logits \(shape)")
    for (r, k) in indices.enumerated() {
      require(
        k >= 0 && k < c,
        "logProbabilities(of:): index \(k) at row \(r) is outside 0..<\(c) (logits \(shape))")
    }
    let out = Tensor(uninitialized: Array(shape.dropLast()))
    let lse = Tensor(uninitialized: [rows])
    allot_log_sum_exp_rows(pointer, lse.pointer, rows, c)
    for (r, k) in indices.enumerated() { out.pointer[r] = pointer[r * c + k] - lse.pointer[r] }
    return Tensor.result(out, op: "logProbabilities", inputs: [self]) { g in
      let dx = Tensor(uninitialized: self.shape)
      allot_log_prob_backward(
        self.pointer, lse.pointer, g.pointer, indices, dx.pointer, rows, c)
      return [dx]
    }
  }

  /// Mean cross-entropy of logits `[..., C]` against class `targets` (one per row).
  public func crossEntropy(targets: [Int]) -> Tensor {
    -logProbabilities(of: targets).mean()
  }

  /// Layer normalisation over the last dimension: (x − mean) / √(var + eps) · weight + bias,
  /// with the biased variance, as PyTorch's `LayerNorm`.
  public func layerNorm(weight: Tensor?, bias: Tensor?, eps: Float = 1e-5) -> Tensor {
    require(rank >= 1, "layerNorm: needs rank ≥ 1, got a scalar")
    let d = shape[rank - 1]
    for (name, p) in [("weight", weight), ("bias", bias)] {
      if let p { require(p.shape == [d], "layerNorm: \(name) shape \(p.shape) should be [\(d)]") }
    }
    let rows = d == 0 ? 0 : count / d
    let out = Tensor(uninitialized: shape)
    let normalised = Tensor(uninitialized: shape)
    let rstd = Tensor(uninitialized: [rows])
    allot_layer_norm_forward(
      pointer, weight?.pointer, bias?.pointer, normalised.pointer, out.pointer, rstd.pointer,
      rows, d, eps)
    let inputs = [self] + [weight, bias].compactMap { $0 }
    return Tensor.result(out, op: "layerNorm", inputs: inputs) { g in
      let dx = Tensor(uninitialized: self.shape)
      let dw = Tensor.zeros([d])
      let db = Tensor.zeros([d])
      allot_layer_norm_backward(
        g.pointer, normalised.pointer, weight?.pointer, rstd.pointer, dx.pointer, dw.pointer,
        db.pointer, rows, d)
      var grads: [Tensor?] = [dx]
      if weight != nil { grads.append(dw) }
      if bias != nil { grads.append(db) }
      return grads
    }
  }

  /// Inverted dropout: each element is zeroed with probability `p` and the rest scaled by
  /// 1 / (1 − p). The identity when `p` is 0.
  public func dropout(_ p: Float, rng: inout RandomState) -> Tensor {
    require(p >= 0 && p < 1, "dropout: probability \(p) is outside [0, 1)")
    if p == 0 { return self }
    let mask = Tensor(uninitialized: shape)
    let scale = 1 / (1 - p)
    for i in 0..<count { mask.pointer[i] = rng.nextUniform() < p ? 0 : scale }
    return self * mask
  }
}
