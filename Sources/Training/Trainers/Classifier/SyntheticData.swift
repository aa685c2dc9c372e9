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
