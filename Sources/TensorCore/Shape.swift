/// Shape arithmetic shared by the ops.
enum Shape {
  /// The element count of `shape`, checking that no dimension is negative.
  static func count(_ shape: [Int], op: String) -> Int {
    var n = 1
    for d in shape {
      require(d >= 0, "\(op): negative dimension in shape \(shape)")
      n *= d
    }
    return n
  }

  /// Row-major strides of `shape`.
  static func strides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
      strides[i] = s
      s *= shape[i]
    }
    return strides
  }

  /// The shape two operands broadcast to (NumPy rules), or a stop naming both shapes.
  static func broadcast(_ a: [Int], _ b: [Int], op: String) -> [Int] {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
      let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
      let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
      require(
        da == db || da == 1 || db == 1,
        "\(op): shapes \(a) and \(b) cannot be broadcast together")
      out[i] = da == 1 ? db : da
    }
    return out
  }

  /// Strides for reading a tensor of `shape` as if it had the (broadcast) shape `target`:
  /// broadcast dimensions get stride 0.
  static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
    let own = strides(shape)
    let offset = target.count - shape.count
    var out = [Int](repeating: 0, count: target.count)
    for i in 0..<shape.count where shape[i] != 1 || target[i + offset] == 1 {
      out[i + offset] = shape[i] == 1 ? 0 : own[i]
    }
    return out
  }

  /// Normalises a possibly negative axis, stopping with a message when out of range.
  static func axis(_ axis: Int, rank: Int, op: String) -> Int {
    let a = axis < 0 ? axis + rank : axis
    require(a >= 0 && a < rank, "\(op): axis \(axis) is out of range for rank \(rank)")
    return a
  }

  /// Splits `shape` around `axis` into (outer, size, inner) element counts.
  static func split(_ shape: [Int], axis: Int) -> (outer: Int, size: Int, inner: Int) {
    let outer = shape[..<axis].reduce(1, *)
    let inner = shape[(axis + 1)...].reduce(1, *)
    return (outer, shape[axis], inner)
  }
}

/// Walks a multi-dimensional index space in row-major order, keeping a flat offset per
/// operand, and hands each contiguous innermost run to `body`.
///
/// `body(offsets, n, innerStrides)` receives the start offset of each operand for the
/// run, the run length (the last dimension), and each operand's stride along it.
@inline(__always)
func forEachRun(
  shape: [Int], strides: [[Int]],
  _ body: (_ offsets: [Int], _ length: Int, _ innerStrides: [Int]) -> Void
) {
  let rank = shape.count
  let operands = strides.count
  if rank == 0 {
    body([Int](repeating: 0, count: operands), 1, [Int](repeating: 0, count: operands))
    return
  }
  if shape.contains(0) { return }
  let inner = shape[rank - 1]
  let innerStrides = strides.map { $0[rank - 1] }
  var index = [Int](repeating: 0, count: rank - 1)
  var offsets = [Int](repeating: 0, count: operands)
  while true {
    body(offsets, inner, innerStrides)
    // Advance the odometer over the outer dimensions.
    var d = rank - 2
    while d >= 0 {
      index[d] += 1
      for k in 0..<operands { offsets[k] += strides[k][d] }
      if index[d] < shape[d] { break }
      for k in 0..<operands { offsets[k] -= strides[k][d] * shape[d] }
      index[d] = 0
      d -= 1
    }
    if d < 0 { return }
  }
}
