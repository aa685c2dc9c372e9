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

  /// The tree sum over all shards, on every rank, left in `local[0]`: `local` holds the
  /// vectors of the shards this rank owns, in shard order (all of one length), and is
  /// overwritten. Works in place: the partner's subtree arrives in pieces of at most
  /// `piece` values through `scratch`, and each piece is added while it is in cache, so a
  /// step allocates nothing once `scratch` has grown and no message exceeds MPI's 32-bit
  /// counts, whatever the model's size.
  public func sum(
    _ local: inout [[Float]], scratch: inout [Float], communicator: Communicator,
    piece: Int = 1 << 20
  ) {
    precondition(
      local.count == shards / ranks,
      "ShardTree: \(local.count) shard vectors for \(shards / ranks) owned shards")
    precondition(communicator.size == ranks, "ShardTree: built for \(ranks) ranks")
    Self.treeSum(&local)
    guard ranks > 1 else { return }
    let count = local[0].count
    if scratch.count < min(piece, count) {
      scratch = [Float](repeating: 0, count: min(piece, count))
    }
    var step = 1
    while step < ranks {
      let partner = communicator.rank ^ step
      local[0].withUnsafeMutableBufferPointer { subtree in
        scratch.withUnsafeMutableBufferPointer { other in
          var start = 0
          while start < count {
            let n = min(piece, count - start)
            let mine = UnsafeMutableBufferPointer(rebasing: subtree[start..<(start + n)])
            let theirs = UnsafeMutableBufferPointer(rebasing: other[0..<n])
            communicator.exchange(UnsafeBufferPointer(mine), into: theirs, with: partner)
            Self.add(mine, UnsafeBufferPointer(theirs))
            start += n
          }
        }
      }
      step <<= 1
    }
  }

  /// The complete binary tree sum of `vectors` (a power-of-two count), pairwise by level.
  public static func treeSum(_ vectors: [[Float]]) -> [Float] {
    var level = vectors
    treeSum(&level)
    return level[0]
  }

  /// The complete binary tree sum of `vectors`, pairwise by level, left in `vectors[0]`
  /// (the others are overwritten).
  public static func treeSum(_ vectors: inout [[Float]]) {
    precondition(!vectors.isEmpty, "ShardTree.treeSum: no vectors")
    precondition(
      vectors.count & (vectors.count - 1) == 0,
      "ShardTree.treeSum: \(vectors.count) is not a power of two")
    var stride = 1
    while stride < vectors.count {
      for i in Swift.stride(from: 0, to: vectors.count, by: 2 * stride) {
        let right = vectors[i + stride]
        precondition(
          vectors[i].count == right.count,
          "ShardTree: vectors of \(vectors[i].count) and \(right.count) values")
        vectors[i].withUnsafeMutableBufferPointer { a in
          right.withUnsafeBufferPointer { b in add(a, b) }
        }
      }
      stride <<= 1
    }
  }

  static func add(_ a: UnsafeMutableBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>) {
    for i in 0..<a.count { a[i] += b[i] }
  }
}

/// A data-parallel set-up that cannot work, in a sentence that says what to change.
public struct DistributedError: Error, CustomStringConvertible, Equatable {
  public var description: String
  public init(_ description: String) { self.description = description }
}
