import NN
import TensorCore

/// The stage-1 critic with the hypernetwork mixer (AMIX, docs/task-allocation.md):
/// per-(entity, task) values Q(i, t) from embeddings of their own; keys, queries and values
/// from each entity's pooled embedding give attention A = softmax(k_i · q_j / √H) over the
/// available entities and per-entity weights W_i = Σ_j A_ij v_j (the hypernetwork output);
/// Q_tot = MLP(ReLU(Σ_i Q(i, c_i) · W_i)) for a pre-assignment c.
public final class MixerCritic: Module {
  public let hidden: Int
  let values: PairScorer
  let keys: Linear
  let queries: Linear
  let weights: Linear
  let output: MLP

  public init(hidden: Int = 64, rng: inout RandomState) {
    self.hidden = hidden
    values = PairScorer(hidden: hidden, rng: &rng)
    keys = Linear(hidden, hidden, rng: &rng)
    queries = Linear(hidden, hidden, rng: &rng)
    weights = Linear(hidden, hidden, rng: &rng)
    output = MLP([hidden, hidden, 1], rng: &rng)
  }

  public var children: [(String, any Module)] {
    [
      ("values", values), ("keys", keys), ("queries", queries), ("weights", weights),
      ("output", output),
    ]
  }

  /// Q(i, t) `[entities, tasks]` and the mixing weights W `[entities, H]`.
  func parts(_ f: ProblemFeatures) -> (q: Tensor, w: Tensor) {
    let (q, x) = values.scoresAndSummary(f)
    let attention =
      (Tensor.matmul(keys(x), queries(x), transposeB: true)
      * (1 / Float(hidden).squareRoot())).softmax(axis: 1)
    return (q, Tensor.matmul(attention, weights(x)))
  }

  /// Q_tot of pre-assignment `assignment` (one open-task index per available entity), `[]`.
  public func callAsFunction(_ f: ProblemFeatures, assignment: [Int]) -> Tensor {
    let (q, w) = parts(f)
    let chosen = q.gatherLast(assignment).reshaped([1, f.entities.count])
    return output(Tensor.matmul(chosen, w).relu()).reshaped([])
  }

  /// Q_tot with entity i's choice replaced by task t, for every (i, t): `[entities, tasks]`.
  /// The actor's per-entity counterfactual values.
  public func counterfactuals(_ f: ProblemFeatures, assignment: [Int]) -> Tensor {
    let (n, m) = (f.entities.count, f.tasks.count)
    let (q, w) = parts(f)
    let chosen = q.gatherLast(assignment)
    let mixed = Tensor.matmul(chosen.reshaped([1, n]), w)  // [1, H]
    // z_{i,t} = z + (Q(i, t) − Q(i, c_i)) · W_i
    let delta = (q - chosen.reshaped([n, 1])).reshaped([n, m, 1])
    let z = mixed.reshaped([1, 1, hidden]) + delta * w.reshaped([n, 1, hidden])
    return output(z.relu()).reshaped([n, m])
  }
}
