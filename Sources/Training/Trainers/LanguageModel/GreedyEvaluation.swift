import Distributed
import Reasoning
import TensorCore

/// Greedy pass@1 of `model` on `prompts`, overall and per difficulty: the periodic
/// evaluation. Prompts become ids by `encode` and are decoded in batches of `batchSize`
/// (by default `Reasoning.evaluate`'s).
///
/// With `distributed.shards` > 1 the prompts are cut into that many contiguous groups by
/// index, whatever the rank count; each rank decodes the groups it owns, each group as
/// its own batches, and the per-prompt rewards are all-gathered in index order, so every
/// rank scores the same rewards and the metrics are the same bits for every rank count.
/// One shard is the single-process evaluation, untouched.
func greedyPassAt1<Model: CausalLanguageModel, Tok: TextTokenizer>(
  _ model: Model, tokenizer: Tok, task: any ReasoningTask, prompts: [TaskPrompt],
  encode: (TaskPrompt) throws -> [Int], maxNewTokens: Int,
  batchSize: Int = 256, parallel: DataParallel
) -> [String: Double] {
  func report(_ part: [TaskPrompt]) -> EvaluationReport? {
    var rng = RandomState(seed: 0)
    return try? Reasoning.evaluate(
      model, tokenizer: tokenizer, task: task, prompts: part, encode: encode, samples: 0,
      temperature: 1, maxNewTokens: maxNewTokens, batchSize: batchSize, rng: &rng)
  }
  guard parallel.shards > 1 else { return report(prompts)?.metrics ?? [:] }
  var wire = WireWriter()
  for shard in parallel.owned {
    let part = Array(prompts[parallel.positions(of: shard, count: prompts.count)])
    let mine = part.isEmpty ? [] : report(part)?.samples.filter(\.greedy).map(\.reward)
    wire.write(mine != nil)
    wire.write(mine ?? [])
  }
  var rewards: [Double] = []
  var failed = false
  for bytes in parallel.allGather(wire.bytes) {
    var reader = WireReader(bytes)
    while !reader.atEnd {
      if !reader.readBool() { failed = true }
      rewards += reader.readDoubles()
    }
  }
  // As a single process: a failed evaluation (none is expected) logs no metrics.
  guard !failed, rewards.count == prompts.count else { return [:] }
  var scored = EvaluationReport()
  scored.score(prompts: prompts, greedyRewards: rewards, sampledRewards: [])
  return scored.metrics
}
