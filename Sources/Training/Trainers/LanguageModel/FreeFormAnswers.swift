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
  /// The text of the last `<answer>…</answer>`, trimmed.
  case answerTag
  /// The text of the last `\boxed{…}` (braces inside it balanced), trimmed.
  case boxed

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
    case .answerTag:
      guard let open = completion.range(of: "<answer>", options: .backwards),
        let close = completion[open.upperBound...].range(of: "</answer>")
      else { return nil }
      return nonEmpty(completion[open.upperBound..<close.lowerBound])
    case .boxed:
      guard let open = completion.range(of: "\\boxed{", options: .backwards) else { return nil }
      var depth = 1
      var end = open.upperBound
      while end < completion.endIndex {
        if completion[end] == "{" { depth += 1 }
        if completion[end] == "}" { depth -= 1 }
        if depth == 0 { return nonEmpty(completion[open.upperBound..<end]) }
        end = completion.index(after: end)
      }
      return nil
    }
  }
}

/// `text` trimmed of white space, or nil when nothing is left.
private func nonEmpty(_ text: Substring) -> String? {
  let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
  return trimmed.isEmpty ? nil : trimmed
}

/// The shape a reply is asked to take.
public enum ReasoningFormat: String, ConfigChoice {
  /// No particular shape.
  case none
  /// TinyZero's `<think>…</think><answer>…</answer>`: the reasoning, then the answer alone.
  case thinkAnswer

  /// The line appended to every prompt that asks for this shape; empty for `none`.
  public var instruction: String {
    switch self {
    case .none: ""
    case .thinkAnswer:
      "First think it through inside <think> </think> tags, then give only the final answer "
        + "inside <answer> </answer> tags."
    }
  }

  /// Whether `completion` has this shape: for `thinkAnswer`, one `<think>…</think>` then one
  /// `<answer>…</answer>` and nothing else but white space; always for `none`.
  public func matches(_ completion: String) -> Bool {
    switch self {
    case .none: return true
    case .thinkAnswer:
      // No tag inside either part, so each occurs exactly once.
      let pattern = try! NSRegularExpression(
        pattern: "^\\s*<think>((?!</?think>|</?answer>)[\\s\\S])*</think>\\s*"
          + "<answer>((?!</?think>|</?answer>)[\\s\\S])*</answer>\\s*$")
      let range = NSRange(completion.startIndex..., in: completion)
      return pattern.firstMatch(in: completion, range: range) != nil
    }
  }
}

/// A task whose prompts carry an instruction line and whose replies are free text: the
/// answer is read by `rule` and handed to the task's own verifier as its answer line, so
/// arithmetic, countdown and JSONL rewards apply unchanged.
public struct FreeFormAnswers: ReasoningTask {
  public let base: any ReasoningTask
  public let rule: AnswerRule
  /// The shape replies are asked to take; its instruction follows `instruction`.
  public let format: ReasoningFormat
  /// Appended to every prompt's text on its own line (then the format's); empty: none.
  public let instruction: String

  public init(
    _ base: any ReasoningTask, rule: AnswerRule, instruction: String,
    format: ReasoningFormat = .none
  ) {
    self.base = base
    self.rule = rule
    self.format = format
    self.instruction = [instruction, format.instruction].filter { !$0.isEmpty }
      .joined(separator: "\n")
  }

  /// Whether `completion` has the form asked for: the reasoning format when there is one,
  /// else an answer that `rule` can read.
  public func isWellFormed(_ completion: String) -> Bool {
    format == .none ? rule.answer(in: completion) != nil : format.matches(completion)
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
