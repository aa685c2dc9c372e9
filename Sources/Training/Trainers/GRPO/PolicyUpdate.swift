import Distributed
import Foundation
import GRPO
import Optim
import TensorCore

/// One batch of rollouts as the GRPO update sees it, whatever the policy: per rollout the
/// log-probabilities its sampler gave each decision, the per-decision advantages and the
/// loss mask (all of one length per rollout).
struct RolloutBatch {
  var oldLogProbs: [[Float]]
  var advantages: [[Float]]
  var masks: [[Float]]

  var count: Int { oldLogProbs.count }
}

/// The GRPO update shared by every policy (docs/grpo.md): μ = `epochs` passes over the
/// rollouts in `order`, each cut into `steps` (k) contiguous parts; each part is one
/// optimizer step, its loss normalised by its own tokens and sequences, its gradient
/// accumulated over minibatches of `minibatch` rollouts and clipped before the step. With
/// k = 1 a pass is one step over the whole batch. `minibatchTokenMean` takes a minibatch to
/// be a gradient-accumulation minibatch when k = 1 and a step's part when k > 1.
///
/// With `skipZeroAdvantage`, rollouts whose advantages are all 0 are not scored: the
/// gradient is the same up to rounding, the statistics cover the scored rollouts only.
///
/// `score(rows)` returns the current log-probabilities of those rollouts with the tape,
/// `[rows.count, longest]` and zero-padded; `reference(rows)` (when β > 0) the frozen
/// reference policy's, flat in the same layout. A minibatch is scored and back-propagated
/// `chunk` rollouts at a time (0: all at once); chunks only change float rounding, and keep
/// each pass's activations small enough to stay in the CPU caches. With more than one
/// shard, each part is cut into `parallel.shards` pieces by position (chunks split at their
/// edges), each rank computes its pieces' gradients and statistics, and the pieces are
/// combined in shard order.
///
/// With `groups` (each rollout's context; shared-prompt scoring) a minibatch is cut at the
/// shard edges first, and each shard's rollouts are scored context by context, longest
/// first (ties by position), in chunks of one context: `chunk` rollouts, or with
/// `chunkPositions` > 0 as many as fit `chunkPositions` decisions padded to the chunk's
/// longest (at least one). `finishGroup()` runs after the last chunk of each run of one
/// context, so that `score` may keep a context's shared work until then. Only rounding
/// changes. A non-finite loss, gradient or parameter throws
/// `NonFiniteError` before the update that would spread it. Returns each minibatch's
/// statistics and mean importance ratio, and each optimizer step's gradient norm.
func clippedSurrogateUpdate(
  _ batch: RolloutBatch, order: [Int], options: SurrogateOptions, epochs: Int, steps: Int = 1,
  minibatch: Int, chunk: Int = 0, skipZeroAdvantage: Bool = false,
  parallel: DataParallel = .single, optimizer: any Optimizer,
  parameters: [Tensor], gradClip: Double, groups: [Int]? = nil, chunkPositions: Int = 0,
  finishGroup: () -> Void = {}, score: ([Int]) -> Tensor,
  reference: (([Int]) -> [Float])?
) throws -> (statistics: [SurrogateStatistics], ratioMeans: [Double], gradNorms: [Float]) {
  let partCount = max(1, min(steps, order.count))
  let parts = (0..<partCount).map {
    ($0 * order.count / partCount)..<(($0 + 1) * order.count / partCount)
  }
  // The pieces of one part: each minibatch's chunks, cut at the part's shard edges.
  // With `groups`, the shard's rollouts of a minibatch, context by context, in chunks.
  var pieces: [(part: Int, minibatch: Int, shard: Int, rows: [Int])] = []
  for (p, part) in parts.enumerated() {
    let size = minibatch > 0 ? minibatch : part.count
    let chunkSize = chunk > 0 ? chunk : size
    for (m, start) in stride(from: part.lowerBound, to: part.upperBound, by: size).enumerated() {
      let end = min(start + size, part.upperBound)
      if let groups {
        for shard in 0..<parallel.shards {
          let edges = parallel.positions(of: shard, count: part.count)
          let lower = max(start, part.lowerBound + edges.lowerBound)
          let upper = min(end, part.lowerBound + edges.upperBound)
          guard lower < upper else { continue }
          let length = { (r: Int) in batch.masks[r].count }
          let sorted = (lower..<upper).sorted { a, b in
            let (ra, rb) = (order[a], order[b])
            if groups[ra] != groups[rb] { return groups[ra] < groups[rb] }
            return length(ra) != length(rb) ? length(ra) > length(rb) : a < b
          }.map { order[$0] }
          var first = 0
          while first < sorted.count {
            var next = first + 1
            while next < sorted.count && groups[sorted[next]] == groups[sorted[first]]
              && (chunkPositions > 0
                ? (next - first + 1) * length(sorted[first]) <= chunkPositions
                : next - first < chunkSize)
            {
              next += 1
            }
            pieces.append((p, m, shard, Array(sorted[first..<next])))
            first = next
          }
        }
        continue
      }
      for chunkStart in stride(from: start, to: end, by: chunkSize) {
        let chunkEnd = min(chunkStart + chunkSize, end)
        for shard in 0..<parallel.shards {
          let edges = parallel.positions(of: shard, count: part.count)
          let lower = max(chunkStart, part.lowerBound + edges.lowerBound)
          let upper = min(chunkEnd, part.lowerBound + edges.upperBound)
          if lower < upper { pieces.append((p, m, shard, Array(order[lower..<upper]))) }
        }
      }
    }
  }
  func tokens(_ positions: Range<Int>) -> Float {
    order[positions].reduce(Float(0)) { $0 + batch.masks[$1].reduce(0, +) }
  }
  // Each part's tokens and sequences: what its loss is normalised by.
  let partTokens = parts.map(tokens)
  // `minibatchTokenMean` (bnpo) normalises by a minibatch's own tokens: with one step per
  // pass each gradient-accumulation minibatch's (listed here), with k > 1 each step's part
  // (`partTokens`; nothing listed).
  let size = minibatch > 0 ? minibatch : order.count
  let minibatchTokens =
    steps > 1
    ? []
    : stride(from: 0, to: order.count, by: size).map { tokens($0..<min($0 + size, order.count)) }
  // The rollouts with a non-zero advantage somewhere (scored when skipping the others).
  let informative = skipZeroAdvantage ? batch.advantages.map { $0.contains { $0 != 0 } } : []
  var statistics: [SurrogateStatistics] = []
  var ratioMeans: [Double] = []
  var gradNorms: [Float] = []
  for _ in 0..<epochs {
    for (p, part) in parts.enumerated() {
      optimizer.zeroGrad()
      // Per piece: its tokens, then its token-weighted statistics and its ratios' sum
      // (nothing when it is empty).
      var records: [Int: [Double]] = [:]
      _ = try parallel.accumulateGradients(parameters, extras: 0) { shard in
        let mine = pieces.indices.filter { pieces[$0].part == p && pieces[$0].shard == shard }
        for (n, index) in mine.enumerated() {
          let piece = pieces[index]
          // A context's shared work is back-propagated after its run's last chunk.
          defer {
            if let groups,
              n + 1 == mine.count || groups[pieces[mine[n + 1]].rows[0]] != groups[piece.rows[0]]
            {
              finishGroup()
            }
          }
          // A rollout with no non-zero advantage adds exactly 0 to the gradient (the caller
          // checked the loss has no KL or entropy term); its tokens still normalise the loss.
          let rows = piece.rows.filter { !skipZeroAdvantage || informative[$0] }
          guard !rows.isEmpty else { continue }
          let width = rows.map { batch.oldLogProbs[$0].count }.max() ?? 0
          guard width > 0 else { continue }
          func padded(_ values: [[Float]]) -> [Float] {
            rows.flatMap { r in values[r] + [Float](repeating: 0, count: width - values[r].count) }
          }
          let mask = padded(batch.masks)
          let oldLogProbs = padded(batch.oldLogProbs)
          let logProbs = score(rows)
          let (loss, stats) = surrogateLoss(
            logProbs: logProbs, oldLogProbs: oldLogProbs,
            referenceLogProbs: options.beta > 0 ? reference?(rows) : nil,
            advantages: padded(batch.advantages), mask: mask, options: options,
            normalizer: LossNormalizer(
              mask: mask, rows: rows.count, batchTokens: partTokens[p],
              batchSequences: part.count,
              minibatchTokens: minibatchTokens.isEmpty ? nil : minibatchTokens[piece.minibatch],
              minibatches: max(minibatchTokens.count, 1)))
          try checkFinite(loss: loss.item)
          loss.backward()
          let weight = Double(mask.reduce(0, +))
          records[index] = [
            weight, stats.policyLoss * weight, stats.kl * weight, stats.clipFractionLow * weight,
            stats.clipFractionHigh * weight, stats.entropy * weight,
            ratioSum(logProbs: logProbs.scalars, oldLogProbs: oldLogProbs, mask: mask),
          ]
        }
        return []
      }
      records = gatherRecords(records, parallel: parallel)
      if skipZeroAdvantage && records.isEmpty {
        // Nothing informative in this part: the step it would have taken on zero gradients.
        for p in parameters { p.grad = Tensor.zeros(p.shape) }
      }
      // Each minibatch's statistics: its chunks' token means, weighted by their tokens.
      for m in Set(pieces.filter { $0.part == p }.map(\.minibatch)).sorted() {
        var sums = [Double](repeating: 0, count: 7)
        var scored = false
        for index in pieces.indices where pieces[index].part == p && pieces[index].minibatch == m {
          guard let r = records[index] else { continue }
          for i in sums.indices { sums[i] += r[i] }
          scored = true
        }
        guard scored else { continue }
        let scale = 1 / max(sums[0], 1)
        var merged = SurrogateStatistics()
        merged.policyLoss = sums[1] * scale
        merged.kl = sums[2] * scale
        merged.clipFractionLow = sums[3] * scale
        merged.clipFractionHigh = sums[4] * scale
        merged.entropy = sums[5] * scale
        statistics.append(merged)
        ratioMeans.append(sums[6] * scale)
      }
      let clip = gradClip > 0 ? Float(gradClip) : .infinity
      gradNorms.append(clipGradientNorm(parameters, maxNorm: clip))
      try checkedStep(optimizer)
    }
  }
  // The gradients are spent: freed now rather than held through checkpoints and sampling.
  optimizer.zeroGrad()
  return (statistics, ratioMeans, gradNorms)
}

/// Σ over the mask of the importance ratio π/π_old (the log-ratio clamped to ±20, as in
/// the loss).
private func ratioSum(logProbs: [Float], oldLogProbs: [Float], mask: [Float]) -> Double {
  var sum = 0.0
  for i in mask.indices where mask[i] > 0 {
    sum += Foundation.exp(min(max(Double(logProbs[i] - oldLogProbs[i]), -20), 20))
  }
  return sum
}

/// Moves each of `reference` toward its `policy` counterpart: r ← α·p + (1 − α)·r, in
/// Float32 (TR-DPO's reference sync).
func mix(_ reference: [Tensor], toward policy: [Tensor], alpha: Float) {
  for (r, p) in zip(reference, policy) {
    let target = p.scalars
    r.withUnsafeMutableBufferPointer { values in
      for i in values.indices { values[i] = alpha * target[i] + (1 - alpha) * values[i] }
    }
  }
}

/// Every rank's piece records (piece index → values), on every rank.
private func gatherRecords(_ mine: [Int: [Double]], parallel: DataParallel) -> [Int: [Double]] {
  guard parallel.shards > 1 else { return mine }
  var wire = WireWriter()
  for index in mine.keys.sorted() {
    wire.write(index)
    wire.write(mine[index]!)
  }
  var all: [Int: [Double]] = [:]
  for bytes in parallel.allGather(wire.bytes) {
    var reader = WireReader(bytes)
    while !reader.atEnd { all[reader.readInt()] = reader.readDoubles() }
  }
  return all
}

/// Each context's rollout budget for one step: `groupSize` apiece, or Knapsack-RL's
/// allocation of M·N from the success estimates p̂ (nil: unestimated) when `knapsack` is
/// given, with the budget metrics of docs/knapsack-rl.md.
func rolloutBudgets(estimates: [Double?], groupSize: Int, knapsack: KnapsackSettings?) -> (
  budgets: [Int], metrics: [String: Double]
) {
  guard let knapsack else {
    return ([Int](repeating: groupSize, count: estimates.count), [:])
  }
  let allocation = allocateBudgets(estimates, settings: knapsack)
  let budgets = allocation.budgets
  var metrics: [String: Double] = [
    "budget/fallback": allocation.fallback ? 1 : 0,
    "budget/neededOverRemaining": allocation.neededOverRemaining,
    "budget/effectivePrompts": Double(allocation.effective),
  ]
  for (name, range) in [
    ("p1", 1.0...1.0), ("p0.8-1", 0.8...0.999_999), ("p0.2-0.8", 0.200_001...0.799_999),
    ("p0-0.2", 0.000_001...0.2), ("p0", 0.0...0.0),
  ] {
    metrics["knapsack/prompts/\(name)"] = Double(
      estimates.compactMap { $0 }.filter { range.contains($0) }.count)
  }
  metrics["knapsack/prompts/unestimated"] = Double(estimates.filter { $0 == nil }.count)
  for (label, lo, hi) in [
    ("2-3", 2, 3), ("4-7", 4, 7), ("8-15", 8, 15), ("16-31", 16, 31), ("32-63", 32, 63),
    ("64+", 64, Int.max),
  ] {
    metrics["budget/histogram/\(label)"] = Double(budgets.filter { $0 >= lo && $0 <= hi }.count)
  }
  return (budgets, metrics)
}

extension TrainingState {
  /// Saves Knapsack-RL reward histories: for each visit the prompt's position in `ids` and
  /// its number of rewards, then all rewards flat, oldest visits first within a prompt.
  mutating func add(_ history: RewardHistory, ids: [String]) {
    let index = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
    var visitPrompt: [Int64] = []
    var visitLength: [Int64] = []
    var rewards: [Double] = []
    for id in history.visits.keys.sorted() {
      for visit in history.visits[id]! {
        visitPrompt.append(Int64(index[id]!))
        visitLength.append(Int64(visit.count))
        rewards += visit
      }
    }
    integers["trainer/history/visitPrompt"] = visitPrompt
    integers["trainer/history/visitLength"] = visitLength
    doubles["trainer/history/rewards"] = rewards
  }

  /// The reward histories saved by `add(_:ids:)`, with `template`'s settings; a problem is
  /// reported (and an empty history returned) when the tables do not fit `ids`.
  func rewardHistory(like template: RewardHistory, ids: [String], problems: inout [String])
    -> RewardHistory
  {
    let visitPrompt = integers["trainer/history/visitPrompt"] ?? []
    let visitLength = integers["trainer/history/visitLength"] ?? []
    let rewards = doubles["trainer/history/rewards"] ?? []
    var restored = template.emptied
    guard
      visitPrompt.count == visitLength.count && Int(visitLength.reduce(0, +)) == rewards.count
        && visitPrompt.allSatisfy({ $0 >= 0 && Int($0) < ids.count })
        && visitLength.allSatisfy({ $0 >= 0 })
    else {
      problems.append("trainer/history: visit tables of inconsistent sizes")
      return restored
    }
    var offset = 0
    for (p, n) in zip(visitPrompt, visitLength) {
      restored.restoreVisit(ids[Int(p)], binarised: Array(rewards[offset..<(offset + Int(n))]))
      offset += Int(n)
    }
    return restored
  }
}
