import Distributed
import Foundation
import TensorCore

/// One sampled sequence of decisions as the GRPO step sees it, whatever the policy: a
/// completion's tokens, or a complete allocation's stage-1 and stage-2 decisions.
public struct PolicyRollout<Decisions> {
  /// The position, in the step's batch of contexts, of the context it was sampled for.
  public var context: Int
  /// What was decided, in the policy's own terms (what `logProbabilities` scores again).
  public var decisions: Decisions
  /// log π_old of each decision under the sampling policy.
  public var logProbs: [Float]
  /// The entropy (nats) of each decision's distribution.
  public var entropies: [Float]
  /// Per decision, 1 when it enters the loss and 0 when it is left out.
  public var lossMask: [Float]
  /// Whether it ended on its own (false: cut at the policy's length limit).
  public var finished: Bool

  public init(
    context: Int, decisions: Decisions, logProbs: [Float], entropies: [Float], lossMask: [Float],
    finished: Bool
  ) {
    self.context = context
    self.decisions = decisions
    self.logProbs = logProbs
    self.entropies = entropies
    self.lossMask = lossMask
    self.finished = finished
  }

  /// Decisions taken.
  public var length: Int { logProbs.count }
}

/// Decisions that travel between the ranks of a data-parallel job: what one writes, the
/// others read back bit for bit.
public protocol WireDecisions {
  func write(to wire: inout WireWriter)
  init(from wire: inout WireReader)
}

extension PolicyRollout where Decisions: WireDecisions {
  func write(to wire: inout WireWriter) {
    wire.write(context)
    decisions.write(to: &wire)
    wire.write(logProbs)
    wire.write(entropies)
    wire.write(lossMask)
    wire.write(finished)
  }

  init(from wire: inout WireReader) {
    self.init(
      context: wire.readInt(), decisions: Decisions(from: &wire), logProbs: wire.readFloats(),
      entropies: wire.readFloats(), lossMask: wire.readFloats(), finished: wire.readBool())
  }
}

/// A policy the GRPO step trains: it samples groups of rollouts without the tape and scores
/// given rollouts with it. A language model over tokens and the two-stage task-allocation
/// net conform (`LanguageModelPolicy`, `AllocationPolicy`).
public protocol GRPOPolicy: AnyObject {
  /// What a group is sampled for: a prompt, a decision state.
  associatedtype Context
  /// What one rollout decided: a completion, an allocation.
  associatedtype Decisions: WireDecisions

  /// `counts[i]` rollouts for each `contexts[i]`, grouped in context order, without the tape.
  func sample(_ contexts: [Context], counts: [Int], rng: inout RandomState)
    -> [PolicyRollout<Decisions>]
  /// log π of every decision of `rollouts` with the tape, `[rollouts.count, longest]` and
  /// zero-padded; `contexts` is the batch the rollouts' `context` positions refer to.
  func logProbabilities(of rollouts: [PolicyRollout<Decisions>], in contexts: [Context]) -> Tensor
  /// Rollouts per forward and backward pass of the update (0: a minibatch at once); the
  /// chunks' gradients add up to the minibatch's.
  func rowsPerChunk(_ rollouts: [PolicyRollout<Decisions>], in contexts: [Context]) -> Int
  /// Scoring for one update that shares each context's work among its rollouts across
  /// chunks (see `SharedScoring`); nil (the default): `logProbabilities` scores each chunk.
  func sharedScoring(_ rollouts: [PolicyRollout<Decisions>], in contexts: [Context])
    -> SharedScoring?
  /// The length budget of `sequenceMeanTokenSumNorm`: the most decisions a rollout can take.
  func lengthBudget(_ rollouts: [PolicyRollout<Decisions>]) -> Int
  /// The trainable parameters by dotted name (checkpoints keep them under `model/`).
  func namedParameters() -> [(String, Tensor)]
  /// The model's structure; a checkpoint of another structure is refused.
  var fingerprint: String { get }
  /// Integer arrays a checkpoint keeps for the policy beside its parameters (a tokenizer).
  func savedState() -> [String: [Int64]]
  /// What in a saved state does not fit this policy.
  func stateProblems(_ state: TrainingState) -> [String]
}

extension GRPOPolicy {
  /// The trainable parameters.
  public var parameters: [Tensor] { namedParameters().map(\.1) }

  public func rowsPerChunk(_ rollouts: [PolicyRollout<Decisions>], in contexts: [Context]) -> Int {
    0
  }
  public func sharedScoring(_ rollouts: [PolicyRollout<Decisions>], in contexts: [Context])
    -> SharedScoring?
  { nil }
  public func savedState() -> [String: [Int64]] { [:] }
  public func stateProblems(_ state: TrainingState) -> [String] { [] }
}

/// Which rollouts of a step were rewarded how, as the task judged them.
public struct RolloutScores {
  /// The reward of each rollout: what group advantages are computed from.
  public var rewards: [Double]
  /// Whether each rollout solved its context: what Knapsack-RL's reward histories record.
  public var successes: [Bool]
  /// The task's own metrics of these rewards (`reward/gap`, …).
  public var metrics: [String: Double] = [:]

  public init(rewards: [Double], successes: [Bool], metrics: [String: Double] = [:]) {
    self.rewards = rewards
    self.successes = successes
    self.metrics = metrics
  }
}

/// What the GRPO step trains a policy on: contexts with stable ids, the reward of a
/// rollout, which decisions plan, and the task's own evaluation, metrics and state.
/// `LanguageModelTask` (prompts of a reasoning task) and `AllocationTask` (decision states
/// of a scenario) conform.
public protocol GRPOTask: AnyObject {
  associatedtype Policy: GRPOPolicy

  /// The training contexts: prompts, decision states.
  var contexts: [Policy.Context] { get }
  /// The stable id of each training context: it keys groups and reward histories.
  var contextIDs: [String] { get }
  /// The metrics shown on the progress line, in order.
  var progressKeys: [String] { get }

  /// The rewards of `rollouts`, sampled for the training contexts `batch` (indices). An
  /// error abandons the step: the trainer is left as it was before it.
  func score(_ rollouts: [PolicyRollout<Policy.Decisions>], batch: [Int]) throws -> RolloutScores
  /// Per rollout, which decisions are planning ones (HICRA's credit, the planning
  /// metrics); nil when the task has no planning vocabulary.
  func planningMasks(_ rollouts: [PolicyRollout<Policy.Decisions>]) -> [[Bool]]?
  /// The task's own metrics once the update is done (an episode played, completions
  /// logged); `step` is the step just completed.
  func finishStep(
    _ step: Int, rollouts: [PolicyRollout<Policy.Decisions>], batch: [Int], scores: RolloutScores,
    advantages: [Double]
  ) -> [String: Double]
  /// Metrics on held-out data, namespaced `eval/…`.
  func evaluate() -> [String: Double]
  /// Adds what a checkpoint keeps for the task.
  func save(into state: inout TrainingState)
  /// Checks a saved state, adding what does not fit to `problems`; the returned closure
  /// applies it once every check of the trainer has passed.
  func restorer(_ state: TrainingState, problems: inout [String]) -> () -> Void
  /// Tells the task its run directory (for logs of its own) and the step a resumed run
  /// continues from.
  func attach(runDirectory: URL, resumedAt step: Int?) throws
}

extension GRPOTask {
  public func finishStep(
    _ step: Int, rollouts: [PolicyRollout<Policy.Decisions>], batch: [Int], scores: RolloutScores,
    advantages: [Double]
  ) -> [String: Double] { [:] }
  public func save(into state: inout TrainingState) {}
  public func restorer(_ state: TrainingState, problems: inout [String]) -> () -> Void { {} }
  public func attach(runDirectory: URL, resumedAt step: Int?) throws {}
}

/// How an update scores rollouts when their contexts' work is shared (a prompt's prefix run
/// once for its group): the update scores a context's rollouts in consecutive chunks, then
/// calls `finishGroup`, which back-propagates the shared work those chunks' gradients
/// reached.
public struct SharedScoring {
  /// log π of the rollouts at these indices with the tape, as `logProbabilities` gives it.
  public var score: ([Int]) -> Tensor
  /// Completes the backward of the context scored since the last call.
  public var finishGroup: () -> Void
  /// Decisions per chunk, padded to the chunk's longest rollout (at least one rollout).
  public var chunkPositions: Int

  public init(
    score: @escaping ([Int]) -> Tensor, finishGroup: @escaping () -> Void, chunkPositions: Int
  ) {
    (self.score, self.finishGroup, self.chunkPositions) = (score, finishGroup, chunkPositions)
  }
}
