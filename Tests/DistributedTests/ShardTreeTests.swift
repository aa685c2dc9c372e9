import Testing

@testable import Distributed

@Test func treeSumAddsPairsLevelByLevel() {
  // Values chosen so that a left fold and the tree give different Float32 bits.
  let v: [[Float]] = [[1e8], [1], [-1e8], [1]]
  #expect(ShardTree.treeSum(v) == [(1e8 + 1) + (-1e8 + 1)])
  #expect(ShardTree.treeSum(v) != [((1e8 + 1) - 1e8) + 1])
  #expect(ShardTree.treeSum([[2, 3]]) == [2, 3])
}

@Test func subtreesOfAnyRankCountCombineToTheSameBits() throws {
  var state: UInt64 = 42
  func next() -> Float {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) * 1e-3
  }
  let shards = (0..<8).map { _ in (0..<33).map { _ in next() } }
  let whole = ShardTree.treeSum(shards)
  for ranks in [1, 2, 4, 8] {
    let tree = try ShardTree(shards: 8, ranks: ranks)
    // What the exchanges compute: each rank's subtree, then pairs of subtrees by level.
    var level = (0..<ranks).map { ShardTree.treeSum(Array(shards[tree.owned(by: $0)])) }
    while level.count > 1 {
      level = stride(from: 0, to: level.count, by: 2).map { i in
        zip(level[i], level[i + 1]).map { $0 + $1 }
      }
    }
    #expect(level[0] == whole, "ranks \(ranks)")
  }
}

@Test func shardAndRankCountsMustBePowersOfTwo() {
  #expect(throws: DistributedError.self) { try ShardTree(shards: 6, ranks: 2) }
  #expect(throws: DistributedError.self) { try ShardTree(shards: 8, ranks: 3) }
  #expect(throws: DistributedError.self) { try ShardTree(shards: 2, ranks: 4) }
  #expect((try? ShardTree(shards: 8, ranks: 2))?.owned(by: 1) == 4..<8)
}

@Test func aSingleProcessIsAJobOfOne() {
  let world = Communicator.world
  #expect(world.size == 1 && world.rank == 0 && world.isRoot)
  #expect(world.allGather([1, 2, 3]) == [[1, 2, 3]])
  #expect(world.sum([4, -5]) == [4, -5])
  #expect(world.broadcast([9]) == [9])
}

@Test func wireValuesReadBackBitForBit() {
  var wire = WireWriter()
  wire.write(-3)
  wire.write([Float.nan, -0.0, 1e-45, .infinity])
  wire.write([0.1, -2.5e300])
  wire.write("añ\n")
  wire.write(true)
  var reader = WireReader(wire.bytes)
  #expect(reader.readInt() == -3)
  #expect(
    reader.readFloats().map(\.bitPattern) == [Float.nan, -0.0, 1e-45, .infinity].map(\.bitPattern))
  #expect(reader.readDoubles() == [0.1, -2.5e300])
  #expect(reader.readString() == "añ\n")
  let flag = reader.readBool()
  #expect(flag)
  #expect(reader.atEnd)
}
