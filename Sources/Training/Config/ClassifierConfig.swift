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
    check.require(
      hidden.count <= 64 && hidden.allSatisfy { $0 <= ConfigLimits.width }, "classifier.hidden",
      hidden, "at most 64 layers of at most \(ConfigLimits.width) each (\(ConfigLimits.memory))")
    check.bound(classes, "classifier.classes", 2...ConfigLimits.width, "the output layer's width")
    check.require(
      dataset != .xor || classes == 2, "classifier.classes", classes,
      "the xor data set has exactly 2 classes")
    check.bound(trainSize, "classifier.trainSize", 1...ConfigLimits.examples, ConfigLimits.memory)
    check.bound(testSize, "classifier.testSize", 1...ConfigLimits.examples, ConfigLimits.memory)
    check.require(noise >= 0, "classifier.noise", noise, "must be ≥ 0")
    check.float(noise, "classifier.noise")
    let widest = ([2, classes] + hidden.filter { $0 <= ConfigLimits.width }).max() ?? 2
    check.require(
      max(batchSize, testSize) <= ConfigLimits.elements / max(widest, 1), "classifier.batchSize",
      max(batchSize, testSize),
      "a batch (or the test set) × the widest layer (\(widest)) must stay below 2^31 (\(ConfigLimits.index32))"
    )
    check.require(
      batchSize >= 1 && batchSize <= trainSize, "classifier.batchSize", batchSize,
      "must lie in 1...classifier.trainSize (\(trainSize))")
  }

  /// The MLP from 2 inputs through `hidden` to one logit per class.
  func makeModel(rng: inout RandomState) -> MLP {
    MLP([2] + hidden + [classes], activation: activation, rng: &rng)
  }
}
