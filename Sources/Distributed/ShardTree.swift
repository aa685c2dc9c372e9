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

  /// The tree sum over all shards, on every rank: `local` holds the vectors of the shards
  /// this rank owns, in shard order (all of one length).
  public func sum(_ local: [[Float]], communicator: Communicator) -> [Float] {
    precondition(
      local.count == shards / ranks,
      "ShardTree: \(local.count) shard vectors for \(shards / ranks) owned shards")
    precondition(communicator.size == ranks, "ShardTree: built for \(ranks) ranks")
    var subtree = Self.treeSum(local)
    var step = 1
    while step < ranks {
      let partner = communicator.rank ^ step
      let other = communicator.exchange(subtree, with: partner)
      Self.add(&subtree, other)
      step <<= 1
    }
    return subtree
  }

  /// The complete binary tree sum of `vectors` (a power-of-two count), pairwise by level.
  public static func treeSum(_ vectors: [[Float]]) -> [Float] {
    precondition(!vectors.isEmpty, "ShardTree.treeSum: no vectors")
    var level = vectors
    while level.count > 1 {
      precondition(
        level.count % 2 == 0, "ShardTree.treeSum: \(vectors.count) is not a power of two")
      level = stride(from: 0, to: level.count, by: 2).map { i in
        var pair = level[i]
        add(&pair, level[i + 1])
        return pair
      }
    }
    return level[0]
  }

  static func add(_ a: inout [Float], _ b: [Float]) {
    precondition(a.count == b.count, "ShardTree: vectors of \(a.count) and \(b.count) values")
    a.withUnsafeMutableBufferPointer { x in
      b.withUnsafeBufferPointer { y in
        for i in 0..<x.count { x[i] += y[i] }
      }
    }
  }
}

/// A data-parallel set-up that cannot work, in a sentence that says what to change.
public struct DistributedError: Error, CustomStringConvertible, Equatable {
  public var description: String
  public init(_ description: String) { self.description = description }
}
