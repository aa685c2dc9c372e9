import Foundation

// Reductions over chosen axes (all axes when `axes` is nil), with optional kept
// dimensions. Backward rules expand the gradient back over the reduced axes.

extension Tensor {
  /// The shape kept by a reduction (reduced axes set to 1) and the final output shape.
  private func reducedShapes(_ axes: [Int]?, keepDims: Bool, op: String)
    -> (kept: [Int], out: [Int])
  {
    let reduce = Set((axes ?? Array(0..<rank)).map { Shape.axis($0, rank: rank, op: op) })
    let kept = shape.enumerated().map { reduce.contains($0.offset) ? 1 : $0.element }
    let out =
      keepDims ? kept : shape.enumerated().filter { !reduce.contains($0.offset) }.map(\.element)
    return (kept, out)
  }

  /// Folds every element into the output slot it reduces to.
  @inline(__always)
  private func reduce(
    kept: [Int], initial: Float, _ f: (Float, Float) -> Float
  ) -> Tensor {
    let out = Tensor.full(kept, initial)
    let src = pointer
    let dst = out.pointer
    let strides = [Shape.strides(shape), Shape.broadcastStrides(kept, to: shape)]
    forEachRun(shape: shape, strides: strides) { off, n, inner in
      let s = src + off[0]
      let d = dst + off[1]
      if inner[1] == 0 {
        var acc = d[0]
        for i in 0..<n { acc = f(acc, s[i]) }
        d[0] = acc
      } else {
        for i in 0..<n { d[i] = f(d[i], s[i]) }
      }
    }
    return out
  }

  /// Sum over `axes` (all when nil).
  public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
    let (kept, outShape) = reducedShapes(axes, keepDims: keepDims, op: "sum")
    let out = reduce(kept: kept, initial: 0) { $0 + $1 }.reshaped(outShape)
    return Tensor.result(out, op: "sum", inputs: [self]) { g in
      [g.reshaped(kept).broadcast(to: self.shape)]
    }
  }

  /// Sum over one axis.
  public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
    sum(axes: [axis], keepDims: keepDims)
  }

  /// Mean over `axes` (all when nil).
  public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
    let (kept, _) = reducedShapes(axes, keepDims: keepDims, op: "mean")
    let n = count / Swift.max(kept.reduce(1, *), 1)
    return sum(axes: axes, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
  }

  /// Mean over one axis.
  public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
    mean(axes: [axis], keepDims: keepDims)
  }

  /// Maximum over `axes`; ties share the gradient equally.
  public func max(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
    extremum(axes, keepDims: keepDims, op: "max", initial: -.infinity) { Swift.max($0, $1) }
  }

  /// Maximum over one axis.
  public func max(axis: Int, keepDims: Bool = false) -> Tensor {
    max(axes: [axis], keepDims: keepDims)
  }

  /// Minimum over `axes`; ties share the gradient equally.
  public func min(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
    extremum(axes, keepDims: keepDims, op: "min", initial: .infinity) { Swift.min($0, $1) }
  }

  /// Minimum over one axis.
  public func min(axis: Int, keepDims: Bool = false) -> Tensor {
    min(axes: [axis], keepDims: keepDims)
  }

  private func extremum(
    _ axes: [Int]?, keepDims: Bool, op: String, initial: Float,
    _ f: @escaping (Float, Float) -> Float
  ) -> Tensor {
    require(count > 0, "\(op): cannot reduce an empty tensor of shape \(shape)")
    let (kept, outShape) = reducedShapes(axes, keepDims: keepDims, op: op)
    let keptOut = reduce(kept: kept, initial: initial, f)
    return Tensor.result(keptOut.reshaped(outShape), op: op, inputs: [self]) { g in
      let hits = self.isEqual(to: keptOut)
      let ties = hits.reduce(kept: kept, initial: 0) { $0 + $1 }
      return [hits * (g.reshaped(kept) / ties)]
    }
  }

  /// log Σ exp(x) over `axes`, computed stably.
  public func logSumExp(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
    let (kept, outShape) = reducedShapes(axes, keepDims: keepDims, op: "logSumExp")
    let keptOut: Tensor = withoutGrad {
      let m = reduce(kept: kept, initial: -.infinity) { Swift.max($0, $1) }
      let safeM = Tensor.map(m) { $0.isFinite ? $0 : 0 }
      let shifted = Tensor.broadcastZip(self, safeM, op: "logSumExp") { fastExp($0 - $1) }
      let s = shifted.reduce(kept: kept, initial: 0) { $0 + $1 }
      return Tensor.combine(s, safeM) { Foundation.log($0) + $1 }
    }
    return Tensor.result(keptOut.reshaped(outShape), op: "logSumExp", inputs: [self]) { g in
      let p = Tensor.broadcastZip(self, keptOut, op: "logSumExp") { fastExp($0 - $1) }
      return [p * g.reshaped(kept)]
    }
  }

  /// log Σ exp(x) over one axis.
  public func logSumExp(axis: Int, keepDims: Bool = false) -> Tensor {
    logSumExp(axes: [axis], keepDims: keepDims)
  }
}
