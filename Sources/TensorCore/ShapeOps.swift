// Ops that move elements without arithmetic: reshape, broadcast, permute, slice,
// concatenate, stack, and index-based gathers. Each backward rule routes gradients back.

extension Tensor {
  /// The same elements viewed with another shape (storage is shared). One dimension may
  /// be -1 and is inferred.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    var target = newShape
    if let hole = newShape.firstIndex(of: -1) {
      let known = newShape.enumerated().filter { $0.offset != hole }.map(\.element).reduce(1, *)
      require(
        newShape.filter({ $0 == -1 }).count == 1 && known > 0 && count % known == 0,
        "reshape: cannot infer -1 in \(newShape) for \(count) elements (shape \(shape))")
      target[hole] = count / known
    }
    require(
      Shape.count(target, op: "reshape") == count,
      "reshape: shape \(shape) (\(count) elements) cannot become \(newShape)")
    if target == shape { return self }
    let out = Tensor(shape: target, storage: storage)
    return Tensor.result(out, op: "reshape", inputs: [self]) { g in [g.reshaped(self.shape)] }
  }

  /// All dimensions merged into one.
  public func flattened() -> Tensor { reshaped([count]) }

  /// A dimension of size 1 inserted at `axis`.
  public func unsqueezed(axis: Int) -> Tensor {
    let a = Shape.axis(axis, rank: rank + 1, op: "unsqueeze")
    var s = shape
    s.insert(1, at: a)
    return reshaped(s)
  }

  /// The dimension of size 1 at `axis` removed.
  public func squeezed(axis: Int) -> Tensor {
    let a = Shape.axis(axis, rank: rank, op: "squeeze")
    require(shape[a] == 1, "squeeze: axis \(axis) of shape \(shape) has size \(shape[a]), not 1")
    var s = shape
    s.remove(at: a)
    return reshaped(s)
  }

  /// The elements repeated along broadcast dimensions to fill `target` (a copy).
  public func broadcast(to target: [Int]) -> Tensor {
    require(
      Shape.broadcast(shape, target, op: "broadcast") == target,
      "broadcast: shape \(shape) cannot be broadcast to \(target)")
    if target == shape { return self }
    let out = Tensor(uninitialized: target)
    let (d, s) = (out.pointer, pointer)
    let strides = [Shape.strides(target), Shape.broadcastStrides(shape, to: target)]
    forEachRun(shape: target, strides: strides) { off, n, inner in
      if inner[1] == 0 {
        (d + off[0]).initialize(repeating: s[off[1]], count: n)
      } else {
        (d + off[0]).update(from: s + off[1], count: n)
      }
    }
    // The engine reduces the output-shaped gradient back to `shape`.
    return Tensor.result(out, op: "broadcast", inputs: [self]) { g in [g] }
  }

  /// The dimensions reordered: result dimension i is this tensor's dimension `axes[i]`.
  public func permuted(_ axes: [Int]) -> Tensor {
    let perm = axes.map { Shape.axis($0, rank: rank, op: "permute") }
    require(
      perm.count == rank && Set(perm).count == rank,
      "permute: \(axes) is not a permutation of the \(rank) axes of shape \(shape)")
    if perm == Array(0..<rank) { return self }
    let outShape = perm.map { shape[$0] }
    let own = Shape.strides(shape)
    let out = Tensor(uninitialized: outShape)
    let (d, s) = (out.pointer, pointer)
    forEachRun(shape: outShape, strides: [Shape.strides(outShape), perm.map { own[$0] }]) {
      off, n, inner in
      let src = s + off[1]
      let dst = d + off[0]
      let step = inner[1]
      for i in 0..<n { dst[i] = src[i * step] }
    }
    var inverse = [Int](repeating: 0, count: rank)
    for (i, p) in perm.enumerated() { inverse[p] = i }
    return Tensor.result(out, op: "permute", inputs: [self]) { g in [g.permuted(inverse)] }
  }

  /// Two dimensions swapped (the last two by default).
  public func transposed(_ axis0: Int = -2, _ axis1: Int = -1) -> Tensor {
    require(rank >= 2, "transpose: needs rank ≥ 2, got shape \(shape)")
    var perm = Array(0..<rank)
    perm.swapAt(
      Shape.axis(axis0, rank: rank, op: "transpose"), Shape.axis(axis1, rank: rank, op: "transpose")
    )
    return permuted(perm)
  }

  /// The elements at positions `range` along `axis` (a copy).
  public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
    let a = Shape.axis(axis, rank: rank, op: "slice")
    require(
      range.lowerBound >= 0 && range.upperBound <= shape[a],
      "slice: range \(range) is outside 0..<\(shape[a]) on axis \(axis) of shape \(shape)")
    var outShape = shape
    outShape[a] = range.count
    let (outer, size, inner) = Shape.split(shape, axis: a)
    let out = Tensor(uninitialized: outShape)
    let block = range.count * inner
    for o in 0..<outer {
      (out.pointer + o * block).update(
        from: pointer + o * size * inner + range.lowerBound * inner, count: block)
    }
    return Tensor.result(out, op: "slice", inputs: [self]) { g in
      let full = Tensor.zeros(self.shape)
      for o in 0..<outer {
        (full.pointer + o * size * inner + range.lowerBound * inner).update(
          from: g.pointer + o * block, count: block)
      }
      return [full]
    }
  }

  /// `tensors` joined along `axis`; all other dimensions must agree.
  public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    require(!tensors.isEmpty, "concat: needs at least one tensor")
    let first = tensors[0]
    let a = Shape.axis(axis, rank: first.rank, op: "concat")
    for t in tensors {
      var lhs = t.shape
      var rhs = first.shape
      require(
        t.rank == first.rank
          && {
            lhs[a] = 0; rhs[a] = 0; return lhs == rhs
          }(),
        "concat: shapes \(tensors.map(\.shape)) differ outside axis \(axis)")
    }
    var outShape = first.shape
    outShape[a] = tensors.reduce(0) { $0 + $1.shape[a] }
    let (outer, total, inner) = Shape.split(outShape, axis: a)
    let out = Tensor(uninitialized: outShape)
    var offset = 0
    var offsets: [Int] = []
    for t in tensors {
      offsets.append(offset)
      let block = t.shape[a] * inner
      for o in 0..<outer {
        (out.pointer + o * total * inner + offset * inner).update(
          from: t.pointer + o * block, count: block)
      }
      offset += t.shape[a]
    }
    return result(out, op: "concat", inputs: tensors) { g in
      zip(tensors, offsets).map { t, start in
        t.requiresGrad ? g.slice(axis: a, start..<(start + t.shape[a])) : nil
      }
    }
  }

  /// `tensors` (all of one shape) stacked along a new dimension at `axis`.
  public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
    require(!tensors.isEmpty, "stack: needs at least one tensor")
    require(
      tensors.allSatisfy { $0.shape == tensors[0].shape },
      "stack: shapes differ: \(tensors.map(\.shape))")
    let a = Shape.axis(axis, rank: tensors[0].rank + 1, op: "stack")
    return concat(tensors.map { $0.unsqueezed(axis: a) }, axis: a)
  }

  /// The slices at `indices` along `axis`, in order (repeats allowed). The gradient adds
  /// back into the selected slices.
  public func indexSelect(axis: Int, _ indices: [Int]) -> Tensor {
    let a = Shape.axis(axis, rank: rank, op: "indexSelect")
    let (outer, size, inner) = Shape.split(shape, axis: a)
    for (i, k) in indices.enumerated() {
      require(
        k >= 0 && k < size,
        "indexSelect: index \(k) at position \(i) is outside 0..<\(size) on axis \(axis) of shape \(shape)"
      )
    }
    var outShape = shape
    outShape[a] = indices.count
    let out = Tensor(uninitialized: outShape)
    let m = indices.count
    for o in 0..<outer {
      for (j, k) in indices.enumerated() {
        (out.pointer + (o * m + j) * inner).update(
          from: pointer + (o * size + k) * inner, count: inner)
      }
    }
    return Tensor.result(out, op: "indexSelect", inputs: [self]) { g in
      let full = Tensor.zeros(self.shape)
      for o in 0..<outer {
        for (j, k) in indices.enumerated() {
          let d = full.pointer + (o * size + k) * inner
          let s = g.pointer + (o * m + j) * inner
          for i in 0..<inner { d[i] += s[i] }
        }
      }
      return [full]
    }
  }

  /// Embedding lookup: rows of this `[vocabulary, width]` table at `indices`, shaped
  /// `shape + [width]` (`shape` defaults to `[indices.count]`).
  public func embedding(_ indices: [Int], shape indexShape: [Int]? = nil) -> Tensor {
    require(rank == 2, "embedding: the table must be [vocabulary, width], got shape \(shape)")
    let outer = indexShape ?? [indices.count]
    require(
      outer.reduce(1, *) == indices.count,
      "embedding: \(indices.count) indices do not fill shape \(outer)")
    for (i, k) in indices.enumerated() {
      require(
        k >= 0 && k < shape[0],
        "embedding: index \(k) at position \(i) is outside 0..<\(shape[0]) for table \(shape)")
    }
    return indexSelect(axis: 0, indices).reshaped(outer + [shape[1]])
  }

  /// For a tensor `[..., C]`, the element at `indices[r]` of each row r along the last axis;
  /// the result has shape `shape.dropLast()`.
  public func gatherLast(_ indices: [Int]) -> Tensor {
    require(rank >= 1, "gatherLast: needs rank ≥ 1, got a scalar")
    let c = shape[rank - 1]
    let rows = c == 0 ? 0 : count / c
    require(
      indices.count == rows,
      "gatherLast: \(indices.count) indices for \(rows) rows of shape \(shape)")
    let out = Tensor(uninitialized: Array(shape.dropLast()))
    for (r, k) in indices.enumerated() {
      require(
        k >= 0 && k < c, "gatherLast: index \(k) at row \(r) is outside 0..<\(c) (shape \(shape))")
      out.pointer[r] = pointer[r * c + k]
    }
    return Tensor.result(out, op: "gatherLast", inputs: [self]) { g in
      let full = Tensor.zeros(self.shape)
      for (r, k) in indices.enumerated() { full.pointer[r * c + k] = g.pointer[r] }
      return [full]
    }
  }
}
