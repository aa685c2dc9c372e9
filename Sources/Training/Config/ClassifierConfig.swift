import NN
import TensorCore

/// The classifier trainer's network and data (`kind: "classifier"`).
public struct ClassifierConfig: Codable, Equatable, Sendable {
  /// Hidden layer widths of the MLP, input to output.
  public var hidden = [64, 64]
  /// The nonlinearity between layers.
  public var activation = Activation.relu
  /// The synthetic data set.
  public var dataset = DatasetName.spirals
  /// The number of classes (spiral arms or blobs; XOR always has 2).
  public var classes = 3
  /// Training examples, drawn once from the run's seed.
  public var trainSize = 3000
  /// Held-out examples for evaluation.
  public var testSize = 600
  /// Standard deviation of the Gaussian noise added to each point.
  public var noise = 0.08
  /// Examples per optimizer step.
  public var batchSize = 128
}

/// Built-in synthetic data sets.
public enum DatasetName: String, ConfigChoice {
  /// Interleaved spiral arms in the plane, one per class.
  case spirals
  /// Gaussian blobs around points on a circle, one per class.
  case blobs
  /// The four XOR corners with noise; two classes.
  case xor
}

extension Activation: ConfigChoice {}

extension ClassifierConfig {
  func validate(_ check: inout ConfigCheck) {
    check.require(
      hidden.allSatisfy { $0 >= 1 }, "classifier.hidden", hidden, "every width must be ≥ 1")
    check.require(classes >= 2, "classifier.classes", classes, "must be ≥ 2")
    check.require(
      dataset != .xor || classes == 2, "classifier.classes", classes,
      "the xor data set has exactly 2 classes")
    check.require(trainSize >= 1, "classifier.trainSize", trainSize, "must be ≥ 1")
    check.require(testSize >= 1, "classifier.testSize", testSize, "must be ≥ 1")
    check.require(noise >= 0, "classifier.noise", noise, "must be ≥ 0")
    check.require(
      batchSize >= 1 && batchSize <= trainSize, "classifier.batchSize", batchSize,
      "must lie in 1...classifier.trainSize (\(trainSize))")
  }

  /// The MLP from 2 inputs through `hidden` to one logit per class.
  func makeModel(rng: inout RandomState) -> MLP {
    MLP([2] + hidden + [classes], activation: activation, rng: &rng)
  }
}
