import Reasoning
import TensorCore

/// How far shared-prompt scoring (`SharedPromptScorer`) lies from scoring every sequence
/// whole (`logProbabilities(prompts:…)`, left-padded): the largest difference of a scored
/// log-probability, and of any parameter's gradient of a fixed random weighting of them,
/// both when all rows are scored in one call and when they are scored deferred in `chunks`
/// (lists of rows; the kept prefixes flushed after each run of one prompt), with the
/// largest gradient for scale.
public func sharedPromptDisagreement<Model: CausalLanguageModel>(
  _ model: Model, prompts: [[Int]], promptIndices: [Int], completions: [[Int]],
  temperature: Float, chunks: [[Int]]
) -> (values: Float, gradients: Float, largestGradient: Float) {
  let parameters = model.parameters
  let longest = completions.map(\.count).max() ?? 0
  var rng = RandomState(seed: 11)
  let weights = Tensor.uniform([completions.count, longest], low: -1, high: 1, rng: &rng).scalars
  /// The weighted sum of `rows`' log-probabilities `[rows.count, width]` (real tokens only).
  func loss(_ logProbs: Tensor, rows: [Int]) -> Tensor {
    let width = logProbs.shape[1]
    var w: [Float] = []
    for r in rows {
      for k in 0..<width { w.append(k < completions[r].count ? weights[r * longest + k] : 0) }
    }
    return (logProbs * Tensor(w, shape: logProbs.shape)).sum()
  }
  func gradients(_ run: () -> Void) -> [[Float]] {
    for p in parameters { p.grad = nil }
    run()
    defer { for p in parameters { p.grad = nil } }
    return parameters.map { $0.grad?.scalars ?? [Float](repeating: 0, count: $0.count) }
  }
  let all = Array(completions.indices)
  var whole = Tensor.zeros([1])
  let expected = gradients {
    whole =
      model.logProbabilities(
        prompts: prompts, promptIndices: promptIndices, completions: completions,
        temperature: temperature
      ).logProbs
    loss(whole, rows: all).backward()
  }
  var values: Float = 0
  var worst: Float = 0
  let once = SharedPromptScorer(model: model, prompts: prompts, temperature: temperature)!
  let together = gradients {
    let shared = once.logProbabilities(promptIndices: promptIndices, completions: completions)
    for r in all {
      for k in 0..<completions[r].count {
        let i = r * longest + k
        values = max(values, abs(shared.scalars[i] - whole.scalars[i]))
      }
    }
    loss(shared, rows: all).backward()
  }
  let deferred = SharedPromptScorer(
    model: model, prompts: prompts, temperature: temperature, deferred: true)!
  let chunked = gradients {
    for (n, rows) in chunks.enumerated() {
      let scored = deferred.logProbabilities(
        promptIndices: rows.map { promptIndices[$0] }, completions: rows.map { completions[$0] })
      loss(scored, rows: rows).backward()
      if n + 1 == chunks.count || promptIndices[chunks[n + 1][0]] != promptIndices[rows[0]] {
        deferred.flush()
      }
    }
  }
  precondition(!deferred.hasPendingPrefixes, "sharedPromptDisagreement: a prefix was not flushed")
  var largest: Float = 0
  for (e, (a, b)) in zip(expected, zip(together, chunked)) {
    for i in e.indices {
      largest = max(largest, abs(e[i]))
      worst = max(worst, abs(a[i] - e[i]), abs(b[i] - e[i]))
    }
  }
  return (values, worst, largest)
}
