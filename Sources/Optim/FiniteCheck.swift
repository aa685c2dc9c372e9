import Foundation
import TensorCore

/// NaN or ±Inf found where training needs finite numbers: in the loss, a gradient or a
/// parameter. Thrown before the optimizer updates anything, so no checkpoint sees it.
public struct NonFiniteError: Error, CustomStringConvertible, Equatable, Sendable {
  /// What was checked: "loss", "gradient" or "parameter".
  public var kind: String
  /// The parameter's dotted name (empty for the loss).
  public var name: String
  /// How many elements are NaN or infinite, of how many.
  public var count: Int
  public var total: Int
  /// The first bad value.
  public var firstValue: Float

  public var description: String {
    let which = name.isEmpty ? kind : "\(kind) of \(name)"
    return "\(which) holds \(count) non-finite value\(count == 1 ? "" : "s") of \(total) "
      + "(first: \(firstValue)); the step was stopped before any update (lower the learning "
      + "rate, clip gradients or check the data)"
  }
}

/// The first tensor among `named` holding NaN or ±Inf, as an error of `kind`, or nil.
public func firstNonFinite(_ named: [(String, Tensor)], kind: String) -> NonFiniteError? {
  for (name, tensor) in named {
    let found: NonFiniteError? = tensor.withUnsafeBufferPointer { buffer in
      var count = 0
      var first: Float = 0
      for x in buffer where !x.isFinite {
        if count == 0 { first = x }
        count += 1
      }
      return count == 0
        ? nil
        : NonFiniteError(
          kind: kind, name: name, count: count, total: buffer.count, firstValue: first)
    }
    if let found { return found }
  }
  return nil
}

/// Throws when the loss is NaN or ±Inf.
public func checkFinite(loss: Float) throws {
  guard loss.isFinite else {
    throw NonFiniteError(kind: "loss", name: "", count: 1, total: 1, firstValue: loss)
  }
}

/// A setting that Float32, where the tensors compute, cannot hold.
public struct Float32RangeError: Error, CustomStringConvertible, Equatable, Sendable {
  public var key: String
  public var value: Double
  public var description: String {
    let becomes = Float(value).isFinite ? "0" : "infinite"
    return "\(key) is \(value), which is \(becomes) in Float32 (where Allot computes); use a "
      + "magnitude between \(Float.leastNormalMagnitude) and \(Float.greatestFiniteMagnitude)"
  }
}

/// Throws when `value`, a setting given as a Double, becomes 0 (unless it is 0) or ±Inf in
/// Float32: `optimizer.eps=1e-50` is 0 and `learningRate=1e39` is infinite there. The error
/// names `key`.
public func checkRepresentableAsFloat(_ value: Double, key: String) throws {
  let single = Float(value)
  guard value.isFinite, single.isFinite, value == 0 || single.isNormal else {
    throw Float32RangeError(key: key, value: value)
  }
}

extension Optimizer {
  /// Throws when any parameter's gradient holds NaN or ±Inf. Call before `step()`.
  public func checkGradientsFinite() throws {
    let grads = parameters.compactMap { name, p in p.grad.map { (name, $0) } }
    if let bad = firstNonFinite(grads, kind: "gradient") { throw bad }
  }

  /// Throws when any parameter holds NaN or ±Inf (after `step()`, before a checkpoint).
  public func checkParametersFinite() throws {
    if let bad = firstNonFinite(parameters, kind: "parameter") { throw bad }
  }
}
