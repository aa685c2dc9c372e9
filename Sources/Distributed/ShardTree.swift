/// Sums of per-shard vectors in one fixed order, whatever the number of ranks.
///
/// A batch is cut into `shards` pieces by index (a power of two, fixed by the config, not
/// by the rank count). Their vectors (gradients, loss sums) are added as a complete binary
/// tree over the shard indices: ((s0 + s1) + (s2 + s3)) + …. With K ranks (a power of two
/// no larger than `shards`), rank r owns the contiguous shards r·S/K ..< (r+1)·S/K, which
/// form whole subtrees: each rank sums its own subtree, then log₂ K exchanges with a
/// partner add the subtrees level by level. Floating-point addition is commutative, so both
/// partners compute the same bits, and every rank count gives the tree's one result.
public struct ShardTree: Sendable {
  /// The number of shards (a power of two).
  public let shards: Int
  /// The number of ranks sharing them (a power of two, at most `shards`).
  public let ranks: Int

  /// Checks that `shards` and `ranks` are powers of two with `ranks <= shards`.
  public init(shards: Int, ranks: Int) throws {
    guard shards >= 1, shards & (shards - 1) == 0, shards <= 1 << 20 else {
      throw DistributedError("the shard count \(shards) must be a power of two (1, 2, 4, 8, …)")
    }
    guard ranks >= 1, ranks & (ranks - 1) == 0, ranks <= shards else {
      throw DistributedError(
        "\(ranks) ranks cannot share \(shards) shards exactly: the rank count must be a power "
          + "of two no larger than the shard count (set distributed.shards or run with "
          + "1, 2, 4, … ranks)")
    }
    self.shards = shards
    self.ranks = ranks
  }

  /// The shards rank `rank` owns.
  public func owned(by rank: Int) -> Range<Int> {
    let per = shards / ranks
    return (rank * per)..<((rank + 1) * per)
  }

  /// The ranks this rank adds subtrees with, level by level: rank ^ 1, rank ^ 2, rank ^ 4, …
  /// (log₂ of the rank count). After the exchange with each, in order, every rank holds
  /// the whole tree's sum.
  public func partners(of rank: Int) -> [Int] {
    var partners: [Int] = []
    var step = 1
    while step < ranks {
      partners.append(rank ^ step)
      step <<= 1
    }
    return partners
  }

  /// Adds rank `partner`'s vector of the same length into `values` (one level of the
  /// tree: the partner adds ours, and both get the same bits, addition being commutative).
  /// The partner's values arrive through `scratch` in pieces of at most `piece`, each added
  /// while it is in cache, so nothing of the vector's size is allocated and no message
  /// exceeds MPI's 32-bit counts.
  public func exchangeAndAdd(
    _ values: UnsafeMutableBufferPointer<Float>, with partner: Int, scratch: inout [Float],
    communicator: Communicator, piece: Int = 1 << 20
  ) {
    precondition(communicator.size == ranks, "ShardTree: built for \(ranks) ranks")
    let size = min(piece, values.count)
    if scratch.count < size { scratch = [Float](repeating: 0, count: size) }
    scratch.withUnsafeMutableBufferPointer { other in
      var start = 0
      while start < values.count {
        let n = min(piece, values.count - start)
        let mine = UnsafeMutableBufferPointer(rebasing: values[start..<(start + n)])
        let theirs = UnsafeMutableBufferPointer(rebasing: other[0..<n])
        communicator.exchange(UnsafeBufferPointer(mine), into: theirs, with: partner)
        Self.add(mine, UnsafeBufferPointer(theirs))
        start += n
      }
    }
  }

  /// Adds `items` (a power-of-two count) pairwise by level — (0 + 1), (2 + 3), then
  /// (0 + 2), … — into `items[0]`, with `add(&a, b)` meaning a += b: the order of the whole
  /// tree over the shards, and of each rank's subtree over the shards it owns.
  public static func combine<T>(_ items: inout [T], _ add: (inout T, T) -> Void) {
    precondition(
      !items.isEmpty && items.count & (items.count - 1) == 0,
      "ShardTree.combine: \(items.count) items is not a power of two")
    var stride = 1
    while stride < items.count {
      for i in Swift.stride(from: 0, to: items.count, by: 2 * stride) {
        let right = items[i + stride]
        add(&items[i], right)
      }
      stride <<= 1
    }
  }

  /// The complete binary tree sum of `vectors` (a power-of-two count): `combine` on vectors.
  public static func treeSum(_ vectors: [[Float]]) -> [Float] {
    var sums = vectors
    combine(&sums) { a, b in
      a.withUnsafeMutableBufferPointer { x in b.withUnsafeBufferPointer { add(x, $0) } }
    }
    return sums[0]
  }

  /// `a[i] += b[i]` for every i.
  public static func add(_ a: UnsafeMutableBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) {
    precondition(a.count == b.count, "ShardTree: vectors of \(a.count) and \(b.count) values")
    for i in 0..<a.count { a[i] += b[i] }
  }
}

/// A data-parallel set-up that cannot work, in a sentence that says what to change.
public struct DistributedError: Error, CustomStringConvertible, Equatable {
  public var description: String
  public init(_ description: String) { self.description = description }
}
