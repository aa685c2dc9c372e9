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

  public init(config: ExperimentConfig) {
    self.config = config
    var root = RandomState(seed: UInt64(config.run.seed))
    var modelRNG = root.split()
    var dataRNG = root.split()
    let cursorSeed = root.next()
    let task = config.classifier
    train = .generate(
      task.dataset, classes: task.classes, count: task.trainSize, noise: task.noise, rng: &dataRNG)
    test = .generate(
      task.dataset, classes: task.classes, count: task.testSize, noise: task.noise, rng: &dataRNG)
    let activation = Activation(rawValue: task.activation.rawValue)!
    model = MLP([2] + task.hidden + [task.classes], activation: activation, rng: &modelRNG)
    optimizer = makeOptimizer(
      config.optimizer, steps: config.run.steps, parameters: model.namedParameters())
    cursor = EpochCursor(count: train.count, seed: cursorSeed)
  }

  public var progressKeys: [String] { ["loss/train", "eval/accuracy"] }

  public var modelFingerprint: String {
    "classifier mlp "
      + model.namedParameters().map { "\($0.0)\($0.1.shape)" }.joined(separator: " ")
  }

  public func trainStep() -> [String: Double] {
    let (x, y) = train.batch(cursor.next(config.classifier.batchSize))
    let learningRate = optimizer.currentLearningRate
    optimizer.zeroGrad()
    let logits = model(x)
    let loss = logits.crossEntropy(targets: y)
    loss.backward()
    let gradNorm =
      config.optimizer.gradClip > 0
      ? clipGradientNorm(model.parameters, maxNorm: Float(config.optimizer.gradClip))
      : clipGradientNorm(model.parameters, maxNorm: .infinity)
    optimizer.step()
    step += 1
    return [
      "loss/train": Double(loss.item),
      "train/accuracy": accuracy(logits, y),
      "grad/norm": Double(gradNorm),
      "optim/learningRate": Double(learningRate),
      "data/epoch": Double(cursor.epoch),
    ]
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

/// The optimizer a config asks for, with its schedule over `steps`.
public func makeOptimizer(
  _ config: OptimizerConfig, steps: Int, parameters: [(String, Tensor)]
) -> any Optimizer {
  let schedule: LearningRateSchedule =
    switch config.schedule {
    case .constant: .constant
    case .linearWarmup: .linearWarmup(warmup: config.warmupSteps)
    case .cosine:
      .cosine(
        warmup: config.warmupSteps, total: steps, minFactor: Float(config.minLearningRateFactor))
    }
  let lr = Float(config.learningRate)
  switch config.kind {
  case .sgd:
    return SGD(
      parameters: parameters, learningRate: lr, momentum: Float(config.momentum),
      weightDecay: Float(config.weightDecay), schedule: schedule)
  case .adam, .adamw:
    return Adam(
      parameters: parameters, learningRate: lr, beta1: Float(config.beta1),
      beta2: Float(config.beta2), eps: Float(config.eps), weightDecay: Float(config.weightDecay),
      decoupledWeightDecay: config.kind == .adamw, schedule: schedule)
  }
}
