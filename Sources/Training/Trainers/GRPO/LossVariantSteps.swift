import GRPO
import TensorCore

/// Per rollout Σ_t KL_t of the sampling policy against `reference` under `estimator`, with
/// KL_t = estimator(log π_ref − log π_old) over every decision: what `grpo.klInReward`
/// subtracts (times β) from the rollout's reward. The reference scores `chunk` rollouts at
/// a time (0: all at once), without the tape.
func klPenalties<Policy: GRPOPolicy>(
  _ rollouts: [PolicyRollout<Policy.Decisions>], in contexts: [Policy.Context],
  reference: Policy, estimator: KLEstimator, chunk: Int
) -> [Double] {
  let size = chunk > 0 ? chunk : max(rollouts.count, 1)
  var penalties: [Double] = []
  for start in stride(from: 0, to: rollouts.count, by: size) {
    let rows = Array(rollouts[start..<min(start + size, rollouts.count)])
    let scored = withoutGrad { reference.logProbabilities(of: rows, in: contexts) }
    let width = scored.shape[1]
    let values = scored.scalars
    for (r, rollout) in rows.enumerated() {
      penalties.append(
        rollout.logProbs.indices.reduce(0) {
          $0 + estimator(Double(values[r * width + $1]) - Double(rollout.logProbs[$1]))
        })
    }
  }
  return penalties
}

/// `credit` with 0 on every decision outside the batch's `fraction` highest-entropy
/// decisions ("80/20"; `highEntropyMask`), and the entropy cut it used.
func highEntropyCredit<Decisions>(
  _ credit: [[Float]], rollouts: [PolicyRollout<Decisions>], fraction: Double
) -> (credit: [[Float]], threshold: Float) {
  let (mask, threshold) = highEntropyMask(
    entropies: rollouts.map(\.entropies), masks: rollouts.map(\.lossMask), fraction: fraction)
  return (zip(credit, mask).map { zip($0, $1).map(*) }, threshold)
}
