import Foundation
import NN
import Optim
import TensorCore

/// Supervised classification of synthetic points in the plane with an MLP: the quickstart
/// trainer, and the smallest complete example of a `Trainer`.
public final class ClassifierTrainer: Trainer {
  public let config: ExperimentConfig
  public let model: MLP
  public let optimizer: any Optimizer
  public let train: LabelledPoints
  public let test: LabelledPoints
  public private(set) var step = 0
  var cursor: EpochCursor
  let parallel: DataParallel

  public init(config: ExperimentConfig) throws {
    self.config = config
    parallel = try DataParallel(config.distributed)
    var root = RandomState(seed: UInt64(config.run.seed))
    var modelRNG = root.split()
    var dataRNG = root.split()
    let cursorSeed = root.next()
    let task = config.classifier
    train = .generate(
      task.dataset, classes: task.classes, count: task.trainSize, noise: task.noise, rng: &dataRNG)
    test = .generate(
      task.dataset, classes: task.classes, count: task.testSize, noise: task.noise, rng: &dataRNG)
    model = task.makeModel(rng: &modelRNG)
    optimizer = config.optimizer.makeOptimizer(
      steps: config.run.steps, parameters: model.namedParameters())
    cursor = EpochCursor(count: train.count, seed: cursorSeed)
  }

  public var progressKeys: [String] { ["loss/train", "eval/accuracy"] }

  public var modelFingerprint: String {
    "classifier mlp "
      + model.namedParameters().map { "\($0.0)\($0.1.shape)" }.joined(separator: " ")
  }

  public func trainStep() throws -> [String: Double] {
    let indices = cursor.next(config.classifier.batchSize)
    let learningRate = optimizer.currentLearningRate
    optimizer.zeroGrad()
    // Shards of the batch by index, each its share of the batch mean; summed in shard order.
    let (loss, correct) = sumOfShards(indices)
    let gradNorm =
      config.optimizer.gradClip > 0
      ? clipGradientNorm(model.parameters, maxNorm: Float(config.optimizer.gradClip))
      : clipGradientNorm(model.parameters, maxNorm: .infinity)
    try checkedStep(optimizer, loss: loss)
    step += 1
    return [
      "loss/train": Double(loss),
      "train/accuracy": correct / Double(max(indices.count, 1)),
      "grad/norm": Double(gradNorm),
      "optim/learningRate": Double(learningRate),
      "data/epoch": Double(cursor.epoch),
    ]
  }

  /// The batch's loss and correct predictions, its gradient left in the parameters.
  private func sumOfShards(_ indices: [Int]) -> (loss: Float, correct: Double) {
    let sums = parallel.accumulateGradients(model.parameters, extras: 2) { shard in
      let rows = parallel.positions(of: shard, count: indices.count)
      guard !rows.isEmpty else { return [0, 0] }
      let (x, y) = train.batch(Array(indices[rows]))
      let logits = model(x)
      var loss = logits.crossEntropy(targets: y)
      if rows.count != indices.count { loss = loss * (Float(rows.count) / Float(indices.count)) }
      loss.backward()
      return [loss.item, Float(accuracy(logits, y) * Double(rows.count))]
    }
    return (sums[0], Double(sums[1]).rounded())
  }

  public func evaluate() -> [String: Double] {
    withoutGrad {
      let (x, y) = test.batch(Array(0..<test.count))
      let logits = model(x)
      return [
        "eval/loss": Double(logits.crossEntropy(targets: y).item),
        "eval/accuracy": accuracy(logits, y),
      ]
    }
  }

  var core: CoreState { CoreState(model: model, optimizer: optimizer, step: step, cursor: cursor) }

  public func state() -> TrainingState { core.saved() }

  public func restore(_ state: TrainingState) throws {
    (step, cursor) = try core.restore(from: state)
  }

  private func accuracy(_ logits: Tensor, _ labels: [Int]) -> Double {
    let classes = logits.shape[1]
    let values = logits.scalars
    var correct = 0
    for (row, label) in labels.enumerated() {
      let scores = values[(row * classes)..<((row + 1) * classes)]
      if scores.indices.max(by: { scores[$0] < scores[$1] })! - row * classes == label {
        correct += 1
      }
    }
    return Double(correct) / Double(max(labels.count, 1))
  }
}
