import TensorCore

/// Scores completions of shared prompts (GRPO's groups): each prompt runs through the model
/// once as a `PromptPrefix`, and its completions attend to that prefix's keys and values
/// instead of each recomputing the prompt. The log-probabilities equal
/// `logProbabilities(prompts:promptIndices:completions:temperature:)`'s up to float
/// rounding, and so do their gradients.
///
/// Without `deferred` every call is self-contained: a prompt's prefix is computed once per
/// call and the backward flows through it as through any graph. With `deferred` (for
/// scoring one group's completions in several backward passes) a prefix is computed once
/// and kept across calls, cut from the graph as leaves that collect the gradients of every
/// completion back-propagated through it; `flush()` then back-propagates those into the
/// prompt's pass, once. Call it after the last backward of the rows scored and before the
/// parameters change; until then the prefixes' gradients are missing from the parameters.
public final class SharedPromptScorer<Model: CausalLanguageModel> {
  public let model: Model
  public let prompts: [[Int]]
  public let temperature: Float
  public let deferred: Bool
  /// Kept prefixes (deferred scoring): the prompt's pass, and the leaves its rows read.
  private var kept: [Int: (pass: PromptPrefix, leaves: PromptPrefix)] = [:]

  /// A scorer of completions of `prompts` (token ids), or nil when `model` has no prompt
  /// prefixes.
  public init?(model: Model, prompts: [[Int]], temperature: Float = 1, deferred: Bool = false) {
    guard model.hasPromptPrefixes else { return nil }
    (self.model, self.prompts, self.temperature, self.deferred) = (
      model, prompts, temperature, deferred
    )
  }

  /// Whether any prefix waits for `flush()`.
  public var hasPendingPrefixes: Bool { !kept.isEmpty }

  /// log π of `completions[b]` after `prompts[promptIndices[b]]`, `[B, longest]`, with the
  /// tape when grad mode is on; positions past a completion's end hold an arbitrary value
  /// of the result (mask them).
  public func logProbabilities(promptIndices: [Int], completions: [[Int]]) -> Tensor {
    precondition(
      promptIndices.count == completions.count
        && promptIndices.allSatisfy { prompts.indices.contains($0) && !prompts[$0].isEmpty },
      "SharedPromptScorer: prompt indices \(promptIndices) for \(completions.count) completions "
        + "and \(prompts.count) prompts (each non-empty)")
    let b = completions.count
    let longest = completions.map(\.count).max() ?? 0
    for (r, c) in zip(promptIndices, completions) {
      precondition(
        prompts[r].count + c.count <= model.contextLength,
        "SharedPromptScorer: a sequence of \(prompts[r].count + c.count) exceeds the context "
          + "\(model.contextLength)")
    }
    var groups: [Int] = []
    for p in promptIndices where !groups.contains(p) { groups.append(p) }
    var pieces: [Tensor] = []
    // Per [B, longest] slot, its index in the concatenated pieces (0 for padding).
    var slots = [Int](repeating: 0, count: b * longest)
    var base = 0
    for g in groups {
      let rows = promptIndices.indices.filter { promptIndices[$0] == g }
      let t = max((rows.map { completions[$0].count }.max() ?? 0) - 1, 0)
      var ids: [Int] = []
      var scored: [Int] = []
      var targets: [Int] = []
      for (j, r) in rows.enumerated() {
        let c = completions[r]
        let inputs = c.isEmpty ? [] : Array(c[0..<(c.count - 1)])
        ids += inputs + [Int](repeating: model.paddingToken, count: t - inputs.count)
        for (k, token) in c.enumerated() {
          slots[r * longest + k] = base + scored.count
          scored.append(k == 0 ? 0 : 1 + j * t + k - 1)
          targets.append(token)
        }
      }
      guard !scored.isEmpty else { continue }
      var logits = model.logits(after: prefix(g), ids, batch: rows.count, at: scored)
      if temperature != 1 { logits = logits * (1 / temperature) }
      pieces.append(logits.logProbabilities(of: targets))
      base += scored.count
    }
    guard !pieces.isEmpty else { return Tensor.zeros([b, longest]) }
    let flat = pieces.count == 1 ? pieces[0] : Tensor.concat(pieces, axis: 0)
    return flat.indexSelect(axis: 0, slots).reshaped([b, longest])
  }

  /// Back-propagates the gradients the kept prefixes collected into their prompts' passes
  /// (in prompt order) and forgets them; nothing when none are kept.
  public func flush() {
    for g in kept.keys.sorted() {
      let (pass, leaves) = kept.removeValue(forKey: g)!
      var total: Tensor? = nil
      for (tensor, leaf) in zip(pass.tensors, leaves.tensors) {
        guard tensor.requiresGrad, let grad = leaf.grad else { continue }
        let term = (tensor * grad).sum()
        total = total.map { $0 + term } ?? term
      }
      total?.backward()
    }
  }

  /// Prompt `g`'s prefix: computed now, or (deferred, with the tape) kept since the last
  /// flush.
  private func prefix(_ g: Int) -> PromptPrefix {
    if let k = kept[g] { return k.leaves }
    let pass = model.promptPrefix(prompts[g])
    guard deferred && GradMode.isEnabled && pass.last.requiresGrad else { return pass }
    func leaf(_ t: Tensor) -> Tensor {
      let l = t.detached()
      l.requiresGrad = true
      return l
    }
    let leaves = PromptPrefix(
      keys: pass.keys.map(leaf), values: pass.values.map(leaf), last: leaf(pass.last),
      length: pass.length)
    kept[g] = (pass, leaves)
    return leaves
  }
}
