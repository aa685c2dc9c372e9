import CKernels

/// How a tensor was computed: its inputs and the rule that maps the output's gradient to
/// theirs. Rules may return gradients shaped like the broadcast output; `backward()`
/// reduces them to each input's shape in one place (`Tensor.sumToShape`).
struct GradFn {
  let op: String
  let inputs: [Tensor]
  let backward: (Tensor) -> [Tensor?]
}

/// Whether operations record a graph. Task-local, so concurrent tasks (and tests) do not
/// see each other's no-grad scopes.
public enum GradMode {
  @TaskLocal static var enabled = true

  /// Whether operations currently record a graph.
  public static var isEnabled: Bool { enabled }
}

/// Runs `body` without recording a graph: results have no history and no `requiresGrad`.
/// Sampling and evaluation run here.
public func withoutGrad<R>(_ body: () throws -> R) rethrows -> R {
  try GradMode.$enabled.withValue(false, operation: body)
}

extension Tensor {
  /// Builds the result of an op: records `backward` when grad mode is on and an input
  /// requires gradients; otherwise returns a plain tensor.
  static func result(
    _ out: Tensor, op: String, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]
  ) -> Tensor {
    guard GradMode.enabled, inputs.contains(where: { $0.requiresGrad }) else { return out }
    return Tensor(
      shape: out.shape, storage: out.storage,
      gradFn: GradFn(op: op, inputs: inputs, backward: backward))
  }

  /// Whether this tensor is a leaf (not computed by a recorded op).
  public var isLeaf: Bool { gradFn == nil }

  /// The name of the op that produced this tensor, if it was recorded.
  public var opName: String? { gradFn?.op }

  /// Computes gradients of this scalar with respect to every leaf that requires them and
  /// adds them to each leaf's `grad`.
  public func backward() {
    let grads = propagate(keep: nil)
    for (leaf, g) in grads {
      if let existing = leaf.grad {
        existing.addInPlace(g.tensor)
      } else {
        leaf.grad = g.owned ? g.tensor : g.tensor.copy()
      }
    }
  }

  /// The gradients of this scalar with respect to `tensors`, in order, without touching
  /// any `grad` property. A tensor the scalar does not depend on gets zeros.
  public func gradients(wrt tensors: [Tensor]) -> [Tensor] {
    let keep = Set(tensors.map { ObjectIdentifier($0) })
    let grads = propagate(keep: keep)
    var byId: [ObjectIdentifier: Tensor] = [:]
    for (t, g) in grads { byId[ObjectIdentifier(t)] = g.tensor }
    return tensors.map { byId[ObjectIdentifier($0)] ?? Tensor.zeros($0.shape) }
  }

  private struct Accumulated {
    var tensor: Tensor
    /// Whether `tensor` was allocated by the engine and may be updated in place.
    var owned: Bool
  }

  /// Reverse-mode sweep. Returns the final gradient of each kept tensor: leaves that
  /// require gradients when `keep` is nil, otherwise exactly the tensors in `keep`.
  private func propagate(keep: Set<ObjectIdentifier>?) -> [(Tensor, Accumulated)] {
    require(
      count == 1,
      "backward: called on a tensor of shape \(shape); it needs a scalar (one element)")
    require(
      requiresGrad,
      "backward: this tensor does not require gradients (no input required them, or it was "
        + "computed under withoutGrad)")
    let order = topologicalOrder()
    var grads: [ObjectIdentifier: Accumulated] = [:]
    grads[ObjectIdentifier(self)] = Accumulated(tensor: Tensor.ones(shape), owned: true)
    var kept: [(Tensor, Accumulated)] = []

    return withoutGrad {
      for node in order.reversed() {
        let id = ObjectIdentifier(node)
        guard let g = grads[id] else { continue }
        let isKept = keep.map { $0.contains(id) } ?? (node.isLeaf && node.requiresGrad)
        if isKept { kept.append((node, g)) }
        if keep == nil || !isKept { grads[id] = nil }
        guard let fn = node.gradFn else { continue }
        let inputGrads = fn.backward(g.tensor)
        for (input, inputGrad) in zip(fn.inputs, inputGrads) {
          guard input.requiresGrad, var ig = inputGrad else { continue }
          if ig.shape != input.shape { ig = ig.sumToShape(input.shape, op: fn.op) }
          let inputId = ObjectIdentifier(input)
          if var existing = grads[inputId] {
            if existing.owned {
              existing.tensor.addInPlace(ig)
            } else {
              existing = Accumulated(tensor: existing.tensor + ig, owned: true)
            }
            grads[inputId] = existing
          } else {
            grads[inputId] = Accumulated(tensor: ig, owned: false)
          }
        }
      }
      return kept
    }
  }

  /// Every tensor this one depends on through recorded ops, inputs before users.
  private func topologicalOrder() -> [Tensor] {
    var order: [Tensor] = []
    var visited = Set<ObjectIdentifier>()
    // Iterative depth-first search: long graphs must not overflow the stack.
    var stack: [(Tensor, Int)] = [(self, 0)]
    visited.insert(ObjectIdentifier(self))
    while let (node, next) = stack.last {
      let inputs = node.gradFn?.inputs ?? []
      if next < inputs.count {
        stack[stack.count - 1].1 = next + 1
        let input = inputs[next]
        if input.requiresGrad, visited.insert(ObjectIdentifier(input)).inserted {
          stack.append((input, 0))
        }
      } else {
        order.append(node)
        stack.removeLast()
      }
    }
    return order
  }

  /// Sums a broadcast gradient back down to `target`, the shape of the input it flows to.
  /// This is the one place where broadcasting is undone.
  func sumToShape(_ target: [Int], op: String) -> Tensor {
    require(
      Shape.broadcast(target, shape, op: op) == shape,
      "\(op): gradient of shape \(shape) cannot be reduced to input shape \(target)")
    let out = Tensor.zeros(target)
    let outStrides = Shape.broadcastStrides(target, to: shape)
    let src = pointer
    let dst = out.pointer
    forEachRun(shape: shape, strides: [Shape.strides(shape), outStrides]) { off, n, inner in
      let s = src + off[0]
      let d = dst + off[1]
      if inner[1] == 0 {
        var acc: Float = 0
        for i in 0..<n { acc += s[i] }
        d[0] += acc
      } else {
        for i in 0..<n { d[i] += s[i] }
      }
    }
    return out
  }

  /// Adds `other` (same shape) into this tensor's storage.
  func addInPlace(_ other: Tensor) {
    require(other.shape == shape, "addInPlace: shape \(other.shape) differs from \(shape)")
    allot_accumulate(pointer, other.pointer, count)
  }
}
