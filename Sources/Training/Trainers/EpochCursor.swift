import TensorCore

/// Epoch-wise shuffled order over `count` examples with a resumable cursor: the order of
/// epoch e is a shuffle seeded from (seed, e), so (epoch, position) is all the state.
public struct EpochCursor: Sendable, Equatable {
  public let count: Int
  public let seed: UInt64
  public private(set) var epoch = 0
  public private(set) var position = 0
  private var order: [Int] = []

  public init(count: Int, seed: UInt64, epoch: Int = 0, position: Int = 0) {
    self.count = count
    self.seed = seed
    self.epoch = epoch
    self.position = position
    order = EpochCursor.order(count: count, seed: seed, epoch: epoch)
  }

  static func order(count: Int, seed: UInt64, epoch: Int) -> [Int] {
    var rng = RandomState(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
    var order = Array(0..<count)
    order.shuffle(using: &rng)
    return order
  }

  /// The next `n` example indices, moving into the next epoch when one runs out.
  public mutating func next(_ n: Int) -> [Int] {
    var out: [Int] = []
    out.reserveCapacity(n)
    while out.count < n {
      if position == count {
        epoch += 1
        position = 0
        order = EpochCursor.order(count: count, seed: seed, epoch: epoch)
      }
      let take = min(n - out.count, count - position)
      out += order[position..<(position + take)]
      position += take
    }
    return out
  }
}
