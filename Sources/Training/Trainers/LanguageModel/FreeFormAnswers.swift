import Foundation
import Reasoning

/// How a completion's answer is read before the task's verifier checks it.
public enum AnswerRule: String, ConfigChoice {
  /// The text after the last `answer:` on its line (the built-in tasks' solutions).
  case answerLine
  /// The last number in the reply (`-12`, `3.5`; a thousands comma is not read).
  case lastNumber
  /// The last whitespace-separated word, trailing `.,;:!?` dropped.
  case lastWord

  /// The answer in `completion` by this rule; nil when there is none.
  public func answer(in completion: String) -> String? {
    switch self {
    case .answerLine:
      return extractAnswer(completion)
    case .lastNumber:
      let pattern = try! NSRegularExpression(pattern: "-?[0-9]+(?:\\.[0-9]+)?")
      let range = NSRange(completion.startIndex..., in: completion)
      guard let last = pattern.matches(in: completion, range: range).last,
        let r = Range(last.range, in: completion)
      else { return nil }
      return String(completion[r])
    case .lastWord:
      let word = completion.split(whereSeparator: \.isWhitespace).last.map {
        String($0).trimmingCharacters(in: CharacterSet(charactersIn: ".,;:!?"))
      }
      return word?.isEmpty == false ? word : nil
    }
  }
}

/// A task whose prompts carry an instruction line and whose replies are free text: the
/// answer is read by `rule` and handed to the task's own verifier as its answer line, so
/// arithmetic, countdown and JSONL rewards apply unchanged.
public struct FreeFormAnswers: ReasoningTask {
  public let base: any ReasoningTask
  public let rule: AnswerRule
  /// Appended to every prompt's text on its own line; empty: none.
  public let instruction: String

  public init(_ base: any ReasoningTask, rule: AnswerRule, instruction: String) {
    self.base = base
    self.rule = rule
    self.instruction = instruction
  }

  public var name: String { base.name }
  public var difficulties: [String] { base.difficulties }
  public var planningPhrases: [String] { base.planningPhrases }

  public func prompts(_ split: Split) -> [TaskPrompt] {
    guard !instruction.isEmpty else { return base.prompts(split) }
    return base.prompts(split).map { p in
      var p = p
      let text = p.text.trimmingCharacters(in: .newlines)
      p.text = text + "\n" + instruction + (p.text.hasSuffix("\n") ? "\n" : "")
      return p
    }
  }

  public func reward(_ prompt: TaskPrompt, completion: String) -> Double {
    guard let answer = rule.answer(in: completion) else { return 0 }
    return base.reward(prompt, completion: "answer: \(answer)")
  }

  public func solution(_ prompt: TaskPrompt) -> String? { base.solution(prompt) }
}
