import Foundation

/// One prompt of a verifiable task.
public struct TaskPrompt: Equatable, Sendable {
  /// Stable across runs and processes: reward histories and splits key on it.
  public var id: String
  /// The text the model continues (it sees BOS first).
  public var text: String
  /// The reference answer.
  public var answer: String
  /// A difficulty label (`digits3`, `numbers4`, …) for per-difficulty metrics.
  public var difficulty: String
  /// Anything else the reward function needs (operands, the numbers of a countdown…).
  public var metadata: [String: String]

  public init(
    id: String, text: String, answer: String, difficulty: String, metadata: [String: String] = [:]
  ) {
    self.id = id
    self.text = text
    self.answer = answer
    self.difficulty = difficulty
    self.metadata = metadata
  }
}

public enum Split: String, Sendable, CaseIterable {
  case train, test
}

/// A task with verifiable rewards: prompts with stable ids in train and test splits, a
/// reward function that sees the prompt (with its metadata) and the completion, and,
/// where the task can write one, a worked solution for supervised warm starts.
public protocol ReasoningTask: Sendable {
  var name: String { get }
  /// The difficulty labels, easiest first.
  var difficulties: [String] { get }
  func prompts(_ split: Split) -> [TaskPrompt]
  /// The reward of `completion` (decoded text after the prompt): 1 for correct, 0 else,
  /// unless the task says otherwise.
  func reward(_ prompt: TaskPrompt, completion: String) -> Double
  /// A worked solution ending in the answer line, or nil when the task has none.
  func solution(_ prompt: TaskPrompt) -> String?
  /// The planning vocabulary of the task's solutions: HICRA's built-in strategic grams.
  var planningPhrases: [String] { get }
}

extension ReasoningTask {
  public var planningPhrases: [String] { [] }
}

/// The text after the last `answer:` on its line, trimmed; nil when there is none.
public func extractAnswer(_ completion: String) -> String? {
  guard let range = completion.range(of: "answer:", options: .backwards) else { return nil }
  let rest = completion[range.upperBound...]
  let line = rest.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
  let trimmed = line.trimmingCharacters(in: .whitespaces)
  return trimmed.isEmpty ? nil : trimmed
}

/// How a built-in task words its prompts.
public enum PromptWording: String, Sendable, CaseIterable {
  /// `Q: 47+85`, `Q: reach 24 with 3 8 2 7`: what the worked solutions follow.
  case compact
  /// A sentence for a chat model: a word problem, or the countdown rules spelled out. The
  /// problems (and their ids) are those of `compact`.
  case words
}
