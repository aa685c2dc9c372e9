import Foundation
import TensorCore

/// A labelled point set in the plane for the classifier trainer.
public struct LabelledPoints: Sendable {
  /// `[count, 2]` coordinates, row-major.
  public var points: [Float]
  public var labels: [Int]
  public var count: Int { labels.count }

  /// `count` points of `task` drawn from `rng`.
  public static func generate(
    _ task: DatasetName, classes: Int, count: Int, noise: Double, rng: inout RandomState
  ) -> LabelledPoints {
    var points: [Float] = []
    var labels: [Int] = []
    points.reserveCapacity(2 * count)
    let sigma = Float(noise)
    for i in 0..<count {
      let label: Int
      var (x, y): (Float, Float)
      switch task {
      case .spirals:
        label = i % classes
        let t = rng.nextUniform()
        let radius = 0.1 + 0.9 * t
        let angle = Float(label) * 2 * .pi / Float(classes) + 3.5 * t
        (x, y) = (radius * cos(angle), radius * sin(angle))
      case .blobs:
        label = i % classes
        let angle = Float(label) * 2 * .pi / Float(classes)
        (x, y) = (cos(angle), sin(angle))
      case .xor:
        let corner = rng.nextInt(below: 4)
        (x, y) = (corner & 1 == 0 ? -1 : 1, corner & 2 == 0 ? -1 : 1)
        label = (x > 0) != (y > 0) ? 1 : 0
      }
      x += sigma * rng.nextNormal()
      y += sigma * rng.nextNormal()
      points += [x, y]
      labels.append(label)
    }
    return LabelledPoints(points: points, labels: labels)
  }

  /// The rows at `indices` as a `[n, 2]` tensor with their labels.
  public func batch(_ indices: [Int]) -> (Tensor, [Int]) {
    var values: [Float] = []
    values.reserveCapacity(2 * indices.count)
    for i in indices { values += [points[2 * i], points[2 * i + 1]] }
    return (Tensor(values, shape: [indices.count, 2]), indices.map { labels[$0] })
  }
}

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
