import Foundation
import NN
import Optim
import TensorCore

/// Everything a trainer needs to continue a run exactly, as named arrays: checkpoints store
/// it and hand it back. Tensor names are full paths such as `model/layers.0.weight` or
/// `optimizer/layers.0.weight/m`; integer arrays hold RNG states, cursors and counters.
public struct TrainingState {
  public var tensors: [(String, Tensor)] = []
  public var integers: [String: [Int64]] = [:]
  public var doubles: [String: [Double]] = [:]
  /// Text a model needs to be rebuilt (a pretrained model's descriptor), by name; saved as
  /// root string attributes of the checkpoint.
  public var strings: [String: String] = [:]

  public init() {}

  /// The tensor stored under `name`.
  public func tensor(_ name: String) -> Tensor? { tensors.first { $0.0 == name }?.1 }
}

/// A training algorithm driven by `TrainingSession`: one optimizer step at a time, with
/// evaluation and exact save/restore of its state.
public protocol Trainer: AnyObject {
  /// Optimizer steps completed.
  var step: Int { get }
  /// The metrics shown on the progress line, in order.
  var progressKeys: [String] { get }
  /// A fingerprint of the model's structure; checkpoints of another model are refused.
  var modelFingerprint: String { get }
  /// Lines printed when a run starts (a JSONL task's split summary).
  var startupNotes: [String] { get }
  /// One optimizer step; returns its metrics (see docs/metrics.md). Throws `NonFiniteError`
  /// when the loss, a gradient or a parameter is NaN or infinite, before the update that
  /// would spread it (and so before any checkpoint holds it).
  func trainStep() throws -> [String: Double]
  /// Metrics on held-out data, namespaced `eval/…`.
  func evaluate() -> [String: Double]
  /// The complete state for a checkpoint.
  func state() -> TrainingState
  /// Continues from a saved state (strict: every expected entry must be present and fit).
  func restore(_ state: TrainingState) throws
  /// Tells the trainer its run directory (for logs of its own), and the step a resumed
  /// run continues from.
  func attach(runDirectory: URL, resumedAt step: Int?) throws
}

extension Trainer {
  public func attach(runDirectory: URL, resumedAt step: Int?) throws {}
  public var startupNotes: [String] { [] }
}

/// The finite checks around one optimizer update: the loss (when given) and the gradients
/// before `optimizer.step()`, the parameters after it. Throws `NonFiniteError`; a
/// non-finite loss also names the first gradient it made non-finite (`NonFiniteLoss`).
func checkedStep(_ optimizer: any Optimizer, loss: Float? = nil) throws {
  if let loss {
    do {
      try checkFinite(loss: loss)
    } catch let error as NonFiniteError {
      let grads = optimizer.parameters.compactMap { name, p in p.grad.map { (name, $0) } }
      throw NonFiniteLoss(loss: error, gradient: firstNonFinite(grads, kind: "gradient"))
    }
  }
  try optimizer.checkGradientsFinite()
  optimizer.step()
  try optimizer.checkParametersFinite()
}

/// A non-finite loss, and the first gradient it made non-finite (if any).
public struct NonFiniteLoss: Error, CustomStringConvertible {
  public var loss: NonFiniteError
  public var gradient: NonFiniteError?
  public var description: String {
    guard let gradient else { return loss.description }
    return "loss is \(loss.firstValue) (its gradient of \(gradient.name) holds \(gradient.count) "
      + "non-finite values of \(gradient.total)); the step was stopped before any update (lower "
      + "the learning rate, clip gradients or check the data)"
  }
}

/// A restore that does not fit the trainer, naming every offending entry.
public struct StateMismatch: Error, CustomStringConvertible {
  public var problems: [String]
  /// The checkpoint file, when known.
  public var file: String? = nil
  public var description: String {
    (file.map { "\($0): " } ?? "") + "the checkpoint does not fit this model:\n"
      + problems.map { "  - \($0)" }.joined(separator: "\n")
  }
}

extension TrainingState {
  /// Adds named parameters under `prefix/`.
  mutating func add(_ parameters: [(String, Tensor)], prefix: String) {
    tensors += parameters.map { ("\(prefix)/\($0.0)", $0.1) }
  }

  /// Adds a module's parameters under `prefix/`.
  mutating func add(_ module: any Module, prefix: String) {
    add(module.namedParameters(), prefix: prefix)
  }

  /// Adds an optimizer's per-parameter state and step under `prefix/`.
  mutating func add(_ optimizer: any Optimizer, prefix: String) {
    tensors += optimizer.namedState().map { ("\(prefix)/\($0.0)", $0.1) }
    integers["\(prefix)/step"] = [Int64(optimizer.stepCount)]
    for (name, value) in optimizer.hyperparameters {
      doubles["\(prefix)/hyperparameters/\(name)"] = [value]
    }
  }

  /// Every missing or mis-shaped entry among `targets` (name → tensor).
  func problems(fitting targets: [(String, Tensor)]) -> [String] {
    let saved = Dictionary(tensors, uniquingKeysWith: { a, _ in a })
    return targets.compactMap { name, target in
      guard let source = saved[name] else { return "missing \(name) \(target.shape)" }
      return source.shape == target.shape
        ? nil : "\(name) has shape \(source.shape), the model needs \(target.shape)"
    }
  }

  /// Copies saved values into `targets`; call only once `problems(fitting:)` is empty.
  func assign(to targets: [(String, Tensor)]) {
    let saved = Dictionary(tensors, uniquingKeysWith: { a, _ in a })
    for (name, target) in targets { target.assign(saved[name]!) }
  }

  /// Entries under `prefix/` that no target claims.
  func unexpected(prefix: String, expected: Set<String>) -> [String] {
    tensors.map(\.0).filter { $0.hasPrefix(prefix + "/") && !expected.contains($0) }
      .map { "unexpected \($0)" }
  }

  /// Copies the model under `model/` into `parameters` (a warm start, an evaluated
  /// policy), strictly: every missing, mis-shaped or unexpected entry is named.
  func restoreModel(into parameters: [(String, Tensor)], file: String) throws {
    let targets = parameters.map { ("model/\($0.0)", $0.1) }
    let problems =
      problems(fitting: targets) + unexpected(prefix: "model", expected: Set(targets.map(\.0)))
    if !problems.isEmpty { throw StateMismatch(problems: problems, file: file) }
    assign(to: targets)
  }

  func integer(_ name: String, count: Int, problems: inout [String]) -> [Int64] {
    guard let values = integers[name], values.count == count else {
      problems.append("missing \(name) (\(count) integers)")
      return [Int64](repeating: 0, count: count)
    }
    return values
  }
}

/// What every trainer saves: its model, its optimizer, its step and its data cursor.
struct CoreState {
  /// The model's parameters by dotted name.
  var parameters: [(String, Tensor)]
  var optimizer: any Optimizer
  var step: Int
  var cursor: EpochCursor

  init(parameters: [(String, Tensor)], optimizer: any Optimizer, step: Int, cursor: EpochCursor) {
    self.parameters = parameters
    self.optimizer = optimizer
    self.step = step
    self.cursor = cursor
  }

  init(model: any Module, optimizer: any Optimizer, step: Int, cursor: EpochCursor) {
    self.init(
      parameters: model.namedParameters(), optimizer: optimizer, step: step, cursor: cursor)
  }

  /// The state with these entries (more can be added after).
  func saved() -> TrainingState {
    var state = TrainingState()
    state.add(parameters, prefix: "model")
    state.add(optimizer, prefix: "optimizer")
    state.integers["trainer/step"] = [Int64(step)]
    state.integers["trainer/cursor"] = [Int64(cursor.epoch), Int64(cursor.position)]
    return state
  }

  /// Checks `state` strictly against the model and optimizer (plus `extraTargets`, and the
  /// problems a trainer found itself), reporting everything wrong at once; then copies
  /// the tensors and returns the restored step and cursor.
  func restore(
    from state: TrainingState, extraTargets: [(String, Tensor)] = [], problems extra: [String] = []
  ) throws -> (step: Int, cursor: EpochCursor) {
    let modelTargets = parameters.map { ("model/\($0.0)", $0.1) }
    let optimizerTargets = optimizer.namedState().map { ("optimizer/\($0.0)", $0.1) }
    let targets = modelTargets + extraTargets + optimizerTargets
    var problems = state.problems(fitting: targets) + extra
    problems += state.unexpected(prefix: "model", expected: Set(modelTargets.map(\.0)))
    problems += state.unexpected(prefix: "optimizer", expected: Set(optimizerTargets.map(\.0)))
    let savedStep = state.integer("trainer/step", count: 1, problems: &problems)
    let optimizerStep = state.integer("optimizer/step", count: 1, problems: &problems)
    let position = state.integer("trainer/cursor", count: 2, problems: &problems)
    if !problems.isEmpty { throw StateMismatch(problems: problems) }
    state.assign(to: targets)
    optimizer.stepCount = Int(optimizerStep[0])
    let restored = EpochCursor(
      count: cursor.count, seed: cursor.seed, epoch: Int(position[0]), position: Int(position[1]))
    return (Int(savedStep[0]), restored)
  }
}

extension RandomState {
  /// The state as integers for a checkpoint.
  var savedWords: [Int64] { state.map { Int64(bitPattern: $0) } }

  init(savedWords: [Int64]) { self.init(state: savedWords.map { UInt64(bitPattern: $0) }) }
}

extension TrainingState {
  /// The names `strings` may use (each a root attribute of the checkpoint).
  static let stringNames = [pretrainedDescriptorName]
  /// A pretrained model's `PretrainedModel.descriptor`.
  static let pretrainedDescriptorName = "pretrainedModel"
}
