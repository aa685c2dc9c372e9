import Foundation
import NN
import TensorCore

/// The two-stage task-allocation policy (docs/task-allocation.md).
///
/// **Stage 1, pre-assign.** Entity embeddings h_i and task embeddings g_t are built per
/// capability dimension by shared blocks (Linear → ReLU → Linear) and concatenated, so
/// h_i · g_t sums the per-dimension matches; P(i → t) is the softmax over open tasks of
/// (h_i · g_t)/(√H·d) plus a learned bias from the pair's cost and coverage. Every
/// available entity draws one task, which makes the candidate sets disjoint.
///
/// **Stage 2, selection.** One shared scorer rates each of a task's remaining candidates
/// against the task's remaining requirement; candidates are picked one at a time until the
/// requirement is covered or no candidate can add anything. A task whose coalition does
/// not cover it, or whose planned return R − Σ cost is ≤ 0, is declined.
public final class TwoStagePolicy: Module {
  public let hidden: Int
  /// Stage 1: the entity–task match.
  public let preAssign: PairScorer
  /// Stage 2: the candidate scorer.
  public let selector: SelectionScorer

  public init(hidden: Int = 64, rng: inout RandomState) {
    self.hidden = hidden
    preAssign = PairScorer(hidden: hidden, rng: &rng)
    selector = SelectionScorer(hidden: hidden, rng: &rng)
  }

  public var children: [(String, any Module)] {
    [("preAssign", preAssign), ("selector", selector)]
  }

  /// Stage-1 logits `[entities, tasks]` over the available entities and open tasks.
  public func preAssignLogits(_ f: ProblemFeatures) -> Tensor { preAssign(f) }

  /// Per row, the log-probability of its chosen candidate (with the tape), `[rows]`.
  func selectionLogProbs(_ f: ProblemFeatures, rows: [SelectionStep]) -> Tensor {
    selector.padded(f, rows: rows).logProbabilities(of: rows.map(\.chosen))
  }
}

/// Scores every (available entity, open task) pair: the dot product of per-dimension
/// entity and task embeddings, (h_i · g_t)/(√H·d), plus a learned bias from the pair's
/// cost and coverage. The policy's stage 1 reads these as logits; the critic as values.
public final class PairScorer: Module {
  public let hidden: Int
  let entityEmbedding: MLP
  let taskEmbedding: MLP
  let pairBias: Linear

  public init(hidden: Int, rng: inout RandomState) {
    self.hidden = hidden
    entityEmbedding = MLP([ProblemFeatures.entityTokenWidth, hidden, hidden], rng: &rng)
    taskEmbedding = MLP([ProblemFeatures.taskTokenWidth, hidden, hidden], rng: &rng)
    pairBias = Linear(ProblemFeatures.pairWidth, 1, rng: &rng)
  }

  public var children: [(String, any Module)] {
    [
      ("entityEmbedding", entityEmbedding), ("taskEmbedding", taskEmbedding),
      ("pairBias", pairBias),
    ]
  }

  /// `[entities, tasks]` scores.
  public func callAsFunction(_ f: ProblemFeatures) -> Tensor { scoresAndSummary(f).scores }

  /// The `[entities, tasks]` scores, and the per-dimension entity embeddings pooled over
  /// dimensions, `[entities, H]` (the mixer's entity attributes), from one pass.
  func scoresAndSummary(_ f: ProblemFeatures) -> (scores: Tensor, entitySummary: Tensor) {
    let (n, m, d, h) = (f.entities.count, f.tasks.count, f.dimensions, hidden)
    let perDimension = entityEmbedding(
      Tensor(f.entityTokens, shape: [n * d, ProblemFeatures.entityTokenWidth]))
    let entities = perDimension.reshaped([n, d * h])
    let tasks = taskEmbedding(
      Tensor(f.taskTokens, shape: [m * d, ProblemFeatures.taskTokenWidth])
    ).reshaped([m, d * h])
    let scale = 1 / (Float(h).squareRoot() * Float(max(d, 1)))
    let match = Tensor.matmul(entities, tasks, transposeB: true) * scale
    let bias = pairBias(Tensor(f.pairFeatures, shape: [n * m, ProblemFeatures.pairWidth]))
    return (match + bias.reshaped([n, m]), perDimension.reshaped([n, d, h]).mean(axis: 1))
  }
}

/// Scores a task's candidates against its remaining requirement: per-dimension tokens
/// (capability, remaining, what it would cover, requirement) embedded and averaged, then
/// with the candidate's cost and the task's reward through a small head. The policy's
/// stage 2 reads the scores as logits; the SAC critic as values.
public final class SelectionScorer: Module {
  public let hidden: Int
  let embedding: MLP
  let head: MLP

  public init(hidden: Int, rng: inout RandomState) {
    self.hidden = hidden
    embedding = MLP([4, hidden, hidden], rng: &rng)
    head = MLP([hidden + 2, hidden, 1], rng: &rng)
  }

  public var children: [(String, any Module)] { [("embedding", embedding), ("head", head)] }

  /// One score per (row, eligible candidate) pair, flattened in `rows` order.
  func scores(_ f: ProblemFeatures, rows: [SelectionStep]) -> Tensor {
    var tokens: [Float] = []
    var extras: [Float] = []
    for row in rows {
      let t = f.tasks[row.task]
      for c in row.eligible {
        let i = f.entities[c]
        tokens += f.selectionTokens(candidate: i, task: t, remaining: row.remaining)
        extras += [
          Float(f.problem.cost(i, t) / f.valueScale),
          Float(f.problem.tasks[t].reward / f.valueScale),
        ]
      }
    }
    let pairs = extras.count / 2
    let d = f.dimensions
    let embedded = embedding(Tensor(tokens, shape: [pairs * d, 4]))
      .reshaped([pairs, d, hidden]).mean(axis: 1)
    let input = Tensor.concat([embedded, Tensor(extras, shape: [pairs, 2])], axis: 1)
    return head(input).reshaped([pairs])
  }

  /// The scores as `[rows, most eligible]`, padded with −10⁹ (probability 0 under a
  /// softmax).
  public func padded(_ f: ProblemFeatures, rows: [SelectionStep]) -> Tensor {
    let flat = scores(f, rows: rows)
    let width = rows.map(\.eligible.count).max() ?? 1
    let pad = flat.count
    var index: [Int] = []
    var offset = 0
    for row in rows {
      index += (0..<width).map { $0 < row.eligible.count ? offset + $0 : pad }
      offset += row.eligible.count
    }
    return Tensor.concat([flat, Tensor([-1e9])], axis: 0).indexSelect(axis: 0, index)
      .reshaped([rows.count, width])
  }
}

/// One stage-2 choice: for open task `task` (an index into `ProblemFeatures.tasks`) with
/// `remaining` requirement, the candidates that could still add something (indices into
/// `ProblemFeatures.entities`) and the position of the one picked.
public struct SelectionStep: Equatable, Sendable {
  public var task: Int
  public var remaining: [Double]
  public var eligible: [Int]
  public var chosen: Int

  public init(task: Int, remaining: [Double], eligible: [Int], chosen: Int) {
    self.task = task
    self.remaining = remaining
    self.eligible = eligible
    self.chosen = chosen
  }
}

/// One sampled allocation with every decision that made it.
public struct AllocationSample: Equatable, Sendable {
  /// Per available entity, the open task it pre-assigned to (indices into the features).
  public var preAssignment: [Int]
  public var selections: [SelectionStep]
  public var allocation: Allocation
  /// Log-probabilities of the decisions: the stage-1 draws, then the stage-2 picks.
  public var logProbs: [Float]
  /// The entropy of each decision's distribution, in the same order.
  public var entropies: [Float]
  public var payoff: Double

  public init(
    preAssignment: [Int], selections: [SelectionStep], allocation: Allocation, logProbs: [Float],
    entropies: [Float], payoff: Double
  ) {
    self.preAssignment = preAssignment
    self.selections = selections
    self.allocation = allocation
    self.logProbs = logProbs
    self.entropies = entropies
    self.payoff = payoff
  }

  /// Decisions taken: stage 1 then stage 2.
  public var length: Int { logProbs.count }
  /// Per stage-1 decision, whether stage 2 picked that entity.
  public var pickedMask: [Bool] {
    var picked = [Bool](repeating: false, count: preAssignment.count)
    for step in selections { picked[step.eligible[step.chosen]] = true }
    return picked
  }

  /// Which decisions are stage-1 (planning) ones.
  public var planningMask: [Bool] {
    (0..<length).map { $0 < preAssignment.count }
  }
}

extension TwoStagePolicy {
  /// Draws `count` complete allocations for `f` without the tape (`greedy`: the argmax of
  /// every decision, all `count` identical).
  public func sample(
    _ f: ProblemFeatures, count: Int, greedy: Bool = false, rng: inout RandomState
  ) -> [AllocationSample] {
    withoutGrad {
      let (n, m) = (f.entities.count, f.tasks.count)
      guard n > 0, m > 0, count > 0 else {
        return [AllocationSample](
          repeating: AllocationSample(
            preAssignment: [], selections: [],
            allocation: Allocation(
              assignment: [Int?](repeating: nil, count: f.problem.entities.count)),
            logProbs: [], entropies: [], payoff: 0), count: max(count, 0))
      }
      let logits = preAssignLogits(f).scalars
      var samples: [AllocationSample] = []
      for _ in 0..<count {
        var choice: [Int] = []
        var logProbs: [Float] = []
        var entropies: [Float] = []
        for e in 0..<n {
          let (k, logP, entropy) = Self.draw(
            Array(logits[(e * m)..<((e + 1) * m)]), greedy: greedy, rng: &rng)
          choice.append(k)
          logProbs.append(logP)
          entropies.append(entropy)
        }
        samples.append(
          AllocationSample(
            preAssignment: choice, selections: [],
            allocation: Allocation(
              assignment: [Int?](repeating: nil, count: f.problem.entities.count)),
            logProbs: logProbs, entropies: entropies, payoff: 0))
      }
      // Stage 2 in lockstep over every (sample, task) with candidates.
      struct Row {
        var sample: Int
        var task: Int
        var remaining: [Double]
        var left: [Int]
        var picked: [Int] = []
      }
      var rows: [Row] = []
      for (s, sample) in samples.enumerated() {
        for j in 0..<m {
          let candidates = (0..<n).filter { sample.preAssignment[$0] == j }
          if !candidates.isEmpty {
            rows.append(
              Row(
                sample: s, task: j, remaining: f.problem.tasks[f.tasks[j]].requirement,
                left: candidates))
          }
        }
      }
      func eligible(_ row: Row) -> [Int] {
        guard row.remaining.contains(where: { $0 > 1e-9 }) else { return [] }
        return row.left.filter { c in
          zip(f.problem.entities[f.entities[c]].capability, row.remaining).contains {
            $0.0 > 0 && $0.1 > 1e-9
          }
        }
      }
      while true {
        var steps: [SelectionStep] = []
        var owners: [Int] = []
        for (r, row) in rows.enumerated() {
          let choices = eligible(row)
          if !choices.isEmpty {
            steps.append(
              SelectionStep(task: row.task, remaining: row.remaining, eligible: choices, chosen: 0))
            owners.append(r)
          }
        }
        if steps.isEmpty { break }
        let scores = selector.scores(f, rows: steps).scalars
        var offset = 0
        for (q, r) in owners.enumerated() {
          let width = steps[q].eligible.count
          let (k, logP, entropy) = Self.draw(
            Array(scores[offset..<(offset + width)]), greedy: greedy, rng: &rng)
          offset += width
          var step = steps[q]
          step.chosen = k
          let c = step.eligible[k]
          let capability = f.problem.entities[f.entities[c]].capability
          rows[r].remaining = zip(rows[r].remaining, capability).map { $0 - $1 }
          rows[r].left.removeAll { $0 == c }
          rows[r].picked.append(c)
          let s = rows[r].sample
          samples[s].selections.append(step)
          samples[s].logProbs.append(logP)
          samples[s].entropies.append(entropy)
        }
      }
      for row in rows {
        let t = f.tasks[row.task]
        let members = row.picked.map { f.entities[$0] }
        let planned = f.problem.tasks[t].reward - members.reduce(0) { $0 + f.problem.cost($1, t) }
        if f.problem.covers(t, members) && planned > 1e-9 {
          for i in members { samples[row.sample].allocation.assignment[i] = t }
        }
      }
      for s in samples.indices {
        samples[s].payoff = f.problem.payoff(samples[s].allocation)
      }
      return samples
    }
  }

  /// Log-probabilities of every decision of `samples` (all drawn for `f`) under the
  /// current parameters, with the tape: `[samples, longest]`, zero-padded.
  public func logProbabilities(_ f: ProblemFeatures, samples: [AllocationSample]) -> Tensor {
    let n = f.entities.count
    let width = samples.map(\.length).max() ?? 0
    guard width > 0 else { return Tensor.zeros([samples.count, 0]) }
    var pieces: [Tensor] = []
    var stage1Offset = 0
    if n > 0 && samples.contains(where: { !$0.preAssignment.isEmpty }) {
      let logits = preAssignLogits(f)
      let rows = samples.flatMap { $0.preAssignment.isEmpty ? [] : Array(0..<n) }
      let choices = samples.flatMap(\.preAssignment)
      pieces.append(logits.indexSelect(axis: 0, rows).logProbabilities(of: choices))
      stage1Offset = choices.count
    }
    let steps = samples.flatMap(\.selections)
    if !steps.isEmpty { pieces.append(selectionLogProbs(f, rows: steps)) }
    let flat = Tensor.concat(pieces + [Tensor.zeros([1])], axis: 0)
    let pad = stage1Offset + steps.count
    var index: [Int] = []
    var first = 0
    var second = stage1Offset
    for sample in samples {
      let a = sample.preAssignment.count
      let b = sample.selections.count
      index += Array(first..<(first + a)) + Array(second..<(second + b))
      index += [Int](repeating: pad, count: width - a - b)
      first += a
      second += b
    }
    return flat.indexSelect(axis: 0, index).reshaped([samples.count, width])
  }

  /// Picks from logits: a sample (or the argmax) with its log-probability and the
  /// distribution's entropy.
  static func draw(_ logits: [Float], greedy: Bool, rng: inout RandomState) -> (
    Int, Float, Float
  ) {
    let top = logits.max() ?? 0
    let weights = logits.map { Foundation.exp(Double($0 - top)) }
    let total = weights.reduce(0, +)
    let logTotal = Foundation.log(total)
    var entropy = 0.0
    for (w, l) in zip(weights, logits) where w > 0 {
      let p = w / total
      entropy -= p * (Double(l - top) - logTotal)
    }
    var k = 0
    if greedy {
      for i in logits.indices where logits[i] > logits[k] { k = i }
    } else {
      var u = rng.nextDouble() * total
      k = weights.count - 1
      for (i, w) in weights.enumerated() {
        u -= w
        if u < 0 {
          k = i
          break
        }
      }
    }
    return (k, Float(Double(logits[k] - top) - logTotal), Float(entropy))
  }
}

/// A trained two-stage policy as an allocator: greedy by default, or sampled.
public struct LearnedAllocator: Allocator {
  public let policy: TwoStagePolicy
  public var greedy: Bool
  public var rng: RandomState

  public init(policy: TwoStagePolicy, greedy: Bool = true, seed: UInt64 = 0) {
    self.policy = policy
    self.greedy = greedy
    rng = RandomState(seed: seed)
  }

  public var name: String { greedy ? "two-stage (greedy)" : "two-stage (sampled)" }

  public mutating func allocate(_ problem: AllocationProblem) -> Allocation {
    policy.sample(ProblemFeatures(problem), count: 1, greedy: greedy, rng: &rng)[0].allocation
  }
}
