import Distributed
import Foundation
import Reasoning

/// A completion as the reward components see it.
struct RewardInput {
  var prompt: TaskPrompt
  var text: String
  /// Tokens sampled, and whether the reply ended before the length limit.
  var tokens: Int
  var finished: Bool
}

/// The reward of completions as named, weighted components (`rewards`, docs/rewards.md):
/// `correctness` (the task's verifier), `format`, `overlong` (DAPO's soft penalty) and the
/// external command's named rewards. The total is Σ weight · value in that order.
final class CompositeReward {
  let task: any ReasoningTask
  /// The built-in components with a weight other than 0, in their order.
  let builtIn: [(component: BuiltInReward, weight: Double)]
  let overlongCache: Int
  let maxLength: Int
  let external: ExternalRewardProcess?
  let externalWeights: [Double]

  init(_ config: ExperimentConfig, task: any ReasoningTask) {
    let r = config.rewards
    self.task = task
    builtIn = r.builtIn.filter { $0.weight != 0 }
    overlongCache = r.overlongCache
    maxLength = config.grpo.maxCompletionLength
    let e = r.external
    external =
      e.command.isEmpty
      ? nil
      : ExternalRewardProcess(command: e.command, names: e.names, timeout: e.timeoutSeconds)
    externalWeights = e.weights.isEmpty ? e.names.map { _ in 1 } : e.weights
  }

  /// Every component's name and values, in order, and the weighted totals. Under MPI rank 0
  /// alone runs the external command and sends its rewards (or its failure) to the others.
  func score(_ inputs: [RewardInput]) throws -> (
    totals: [Double], components: [(name: String, values: [Double])]
  ) {
    var components = builtIn.map { c in
      (name: c.component.rawValue, values: inputs.map { value(c.component, $0) })
    }
    var weights = builtIn.map(\.weight)
    if let external {
      let perInput = try Self.fromRoot { try external.rewards(for: inputs.map(Self.request)) }
      for (k, name) in external.names.enumerated() {
        components.append((name: name, values: perInput.map { $0[k] }))
      }
      weights += externalWeights
    }
    let totals = inputs.indices.map { i in
      zip(components, weights).reduce(0.0) { $0 + $1.1 * $1.0.values[i] }
    }
    return (totals, components)
  }

  /// A built-in component's value for one completion.
  private func value(_ component: BuiltInReward, _ input: RewardInput) -> Double {
    switch component {
    case .correctness:
      return task.reward(input.prompt, completion: input.text)
    case .format:
      let wellFormed =
        (task as? FreeFormAnswers)?.isWellFormed(input.text) ?? (extractAnswer(input.text) != nil)
      return wellFormed ? 1 : 0
    case .overlong:
      return overlongPenalty(
        length: input.tokens, finished: input.finished, maxLength: maxLength, cache: overlongCache)
    }
  }

  /// One request line: the prompt's id, text, reference answer and metadata, and the reply.
  static func request(_ input: RewardInput) -> JSONValue {
    .object([
      "promptId": .string(input.prompt.id), "prompt": .string(input.prompt.text),
      "answer": .string(input.prompt.answer), "completion": .string(input.text),
      "metadata": .object(input.prompt.metadata.mapValues { .string($0) }),
    ])
  }

  /// `compute` on rank 0, its result (or its error) on every rank.
  static func fromRoot(_ compute: () throws -> [[Double]]) throws -> [[Double]] {
    let world = Communicator.world
    guard world.size > 1 else { return try compute() }
    var wire = WireWriter()
    if world.isRoot {
      do {
        let rows = try compute()
        wire.write(true)
        wire.write(rows.count)
        for row in rows { wire.write(row) }
      } catch {
        let failure = error as? ExternalRewardError
        wire.write(false)
        wire.write(failure?.command ?? "")
        wire.write(failure?.message ?? "\(error)")
      }
    }
    var reader = WireReader(world.broadcast(wire.bytes))
    guard reader.readBool() else {
      throw ExternalRewardError(command: reader.readString(), message: reader.readString())
    }
    return (0..<reader.readInt()).map { _ in reader.readDoubles() }
  }
}

/// DAPO's soft over-length penalty (Yu et al. 2025): 0 for a reply of at most
/// `maxLength − cache` tokens, then (maxLength − cache − length) / cache down to −1 at
/// `maxLength`; −1 for a reply cut at the limit (it would have been longer).
func overlongPenalty(length: Int, finished: Bool, maxLength: Int, cache: Int) -> Double {
  guard finished else { return -1 }
  let free = maxLength - cache
  return length <= free ? 0 : max(-1, Double(free - length) / Double(cache))
}
