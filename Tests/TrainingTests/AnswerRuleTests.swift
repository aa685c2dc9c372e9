import Foundation
import Reasoning
import Testing

@testable import Training

/// Replies of SmolLM2-135M-Instruct (golden/smollm2_replies.sh made them), in file order.
private func replies(_ name: String) throws -> [String] {
  let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("golden/\(name).jsonl")
  return try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map { line in
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
    return object["completion"] as! String
  }
}

/// What each rule reads from reply `index`, read by hand; nil: no answer.
private struct Expected {
  var index: Int
  var lastNumber: String?
  var lastWord: String?
  var answerTag: String? = nil
  var boxed: String? = nil
}

@Test func answerRulesReadRealGreedyReplies() throws {
  let texts = try replies("smollm2_replies")
  #expect(texts.count == 16)
  let expected = [
    Expected(index: 0, lastNumber: "10", lastWord: "10"),  // "… The answer is 10."
    Expected(index: 1, lastNumber: "102", lastWord: "apples"),
    Expected(index: 2, lastNumber: "75", lastWord: "75"),  // "36 + 29 = 75"
    Expected(index: 3, lastNumber: "17", lastWord: "64+17"),  // "The answer is 64+17."
    Expected(index: 4, lastNumber: "10", lastWord: "10"),  // "The answer is: 10"
    // The instruction echoed: its empty "<answer> </answer>" is no answer.
    Expected(index: 6, lastNumber: "17", lastWord: "tags"),
    // Cut at the limit after "<answer> tags" without a closing tag.
    Expected(index: 7, lastNumber: "1", lastWord: "So"),
    Expected(index: 10, lastNumber: "8", lastWord: "5/8"),  // "1/2 + 1/4 = 5/8"
    Expected(index: 11, lastNumber: "81", lastWord: "81"),  // "… 64 + 17 = 81."
    Expected(index: 12, lastNumber: "7", lastWord: "7"),  // "… 2 * 3 + 8 - 2 + 7."
    Expected(index: 13, lastNumber: "960", lastWord: "in"),  // cut: "… 960 pages in"
    Expected(index: 14, lastNumber: "90", lastWord: "90"),  // "#### 90\nThe answer is: 90"
    Expected(index: 15, lastNumber: "27", lastWord: "performed"),
  ]
  check(expected, in: texts)
}

@Test func answerRulesReadRealSampledAndPrefilledReplies() throws {
  let sampled = try replies("smollm2_replies_sampled")
  #expect(sampled.count == 16)
  check(
    [
      Expected(index: 0, lastNumber: "5", lastWord: "situation"),
      Expected(index: 3, lastNumber: "75", lastWord: "75"),
      Expected(index: 5, lastNumber: "48", lastWord: "now"),
      // "… The answer is actually \boxed{64}, … The solution is actually \box" (cut).
      Expected(index: 10, lastNumber: "64", lastWord: "\\box", boxed: "64"),
      Expected(index: 14, lastNumber: "48", lastWord: "48"),
      Expected(index: 15, lastNumber: "120", lastWord: "120"),
    ], in: sampled)
  // After a prefilled "<think>": SmolLM2 opens <answer> but never closes it.
  let prefilled = try replies("smollm2_replies_prefilled")
  #expect(prefilled.count == 12)
  check(
    [
      Expected(index: 0, lastNumber: "102", lastWord: "102"),
      Expected(index: 1, lastNumber: "21", lastWord: "21"),  // "<answer>\n21\n\n… is 21."
      Expected(index: 3, lastNumber: "11", lastWord: "11"),
      Expected(index: 11, lastNumber: "4", lastWord: "4?\""),  // "<answer> 4 x 5 = 20 …"
    ], in: prefilled)
  for text in try replies("smollm2_replies") + sampled + prefilled {
    #expect(!ReasoningFormat.thinkAnswer.matches(text), "\(text)")
  }
}

private func check(_ expected: [Expected], in texts: [String]) {
  for e in expected {
    let text = texts[e.index]
    #expect(AnswerRule.lastNumber.answer(in: text) == e.lastNumber, "\(e.index): \(text)")
    #expect(AnswerRule.lastWord.answer(in: text) == e.lastWord, "\(e.index): \(text)")
    #expect(AnswerRule.answerTag.answer(in: text) == e.answerTag, "\(e.index): \(text)")
    #expect(AnswerRule.boxed.answer(in: text) == e.boxed, "\(e.index): \(text)")
  }
}

@Test func tagAndBoxRulesOnWrittenReplies() {
  #expect(AnswerRule.answerTag.answer(in: "<answer>1</answer> then <answer> 65 </answer>") == "65")
  #expect(AnswerRule.answerTag.answer(in: "<answer>\n</answer>") == nil)
  #expect(AnswerRule.boxed.answer(in: "so \\boxed{\\frac{1}{2}} and") == "\\frac{1}{2}")
  #expect(AnswerRule.boxed.answer(in: "\\boxed{12") == nil)
  let format = ReasoningFormat.thinkAnswer
  #expect(format.matches(" <think>36 + 29 = 65</think>\n<answer>65</answer>\n"))
  #expect(!format.matches("<think>a</think><answer>1</answer><answer>2</answer>"))
  #expect(!format.matches("<think>a<think>b</think><answer>1</answer>"))
  #expect(!format.matches("<answer>1</answer>"))
  #expect(!format.matches("<think>a</think><answer>1</answer> 65"))
}

@Test func aChatTaskIsRewardedOnARealReply() throws {
  let task = FreeFormAnswers(
    ArithmeticTask(minDigits: 2, maxDigits: 2), rule: .lastNumber,
    instruction: "Answer with the number only.", format: .thinkAnswer)
  let prompt = TaskPrompt(
    id: "p", text: "What is 64 + 17?\n", answer: "81", difficulty: "digits2",
    metadata: ["a": "64", "b": "17", "op": "+"])
  let reply = try replies("smollm2_replies")[11]  // "The answer is 64 + 17 = 81."
  #expect(task.reward(prompt, completion: reply) == 1)
  #expect(!task.isWellFormed(reply))  // no <think>/<answer>
  #expect(
    task.prompts(.test)[0].text.hasSuffix(
      "\nAnswer with the number only.\n" + ReasoningFormat.thinkAnswer.instruction + "\n"))
}
