import Foundation
import Reasoning
import Testing

@Test func tokenizerRoundTripsAndNamesUnknownCharacters() throws {
  let tokenizer = Tokenizer()
  let text = "Q: 12+7\nplan: add {x} ~!"
  #expect(tokenizer.decode(try tokenizer.encode(text)) == text)
  #expect(tokenizer.vocabularySize == 3 + 96)
  #expect(
    tokenizer.decode(
      [Tokenizer.bos] + (try tokenizer.encode("ab")) + [Tokenizer.eos] + (try tokenizer.encode("c"))
    ) == "ab")
  #expect(Tokenizer(savedAlphabet: tokenizer.savedAlphabet) == tokenizer)
  do {
    _ = try tokenizer.encode("ok é")
    Issue.record("no error for é")
  } catch {
    #expect("\(error)".contains("character \"é\" at offset 3"))
  }
}

@Test func arithmeticPromptsAreStableDisjointAndGraded() {
  let task = ArithmeticTask(minDigits: 1, maxDigits: 4, trainSize: 300, testSize: 60, seed: 5)
  let train = task.prompts(.train)
  let test = task.prompts(.test)
  #expect(train.count == 300 && test.count == 60)
  #expect(Set(train.map(\.text)).isDisjoint(with: test.map(\.text)))
  #expect(
    train.map(\.id)
      == ArithmeticTask(minDigits: 1, maxDigits: 4, trainSize: 300, testSize: 60, seed: 5).prompts(
        .train
      ).map(\.id))
  #expect(
    train.map(\.text)
      == ArithmeticTask(minDigits: 1, maxDigits: 4, trainSize: 300, testSize: 60, seed: 5).prompts(
        .train
      ).map(\.text))
  #expect(
    train.map(\.text)
      != ArithmeticTask(minDigits: 1, maxDigits: 4, trainSize: 300, testSize: 60, seed: 6).prompts(
        .train
      ).map(\.text))
  #expect(Set(train.map(\.difficulty)) == ["digits1", "digits2", "digits3", "digits4"])
  #expect(test[0].id == "arithmetic-test-0")
}

@Test func arithmeticSolutionsAreCorrectAndEarnTheReward() throws {
  let task = ArithmeticTask(minDigits: 1, maxDigits: 5, trainSize: 400, testSize: 0, seed: 1)
  for prompt in task.prompts(.train) {
    let solution = try #require(task.solution(prompt))
    #expect(task.reward(prompt, completion: solution) == 1, "\(prompt.text)\(solution)")
    #expect(solution.hasPrefix("plan: "))
  }
  let p = TaskPrompt(
    id: "x", text: "Q: 47+85\n", answer: "132", difficulty: "digits2",
    metadata: ["a": "47", "b": "85", "op": "+"])
  #expect(
    task.solution(p)
      == "plan: add digits right to left, carrying\nstep: 7+5+0=12\nstep: 4+8+1=13\nstep: carry 1\ncheck: 47+85=132\nanswer: 132\n"
  )
  let s = TaskPrompt(
    id: "y", text: "Q: 52-17\n", answer: "35", difficulty: "digits2",
    metadata: ["a": "52", "b": "17", "op": "-"])
  #expect(
    task.solution(s)
      == "plan: subtract digits right to left, borrowing\nstep: 12-7-0=5 borrow\nstep: 5-1-1=3\ncheck: 52-17=35\nanswer: 35\n"
  )
}

@Test func arithmeticRewardOnHandCases() {
  let task = ArithmeticTask()
  let p = TaskPrompt(id: "x", text: "Q: 2*3\n", answer: "6", difficulty: "digits1")
  #expect(task.reward(p, completion: "answer: 6\n") == 1)
  #expect(task.reward(p, completion: "step: 2*3+0=6\nanswer: 6") == 1)
  #expect(task.reward(p, completion: "answer: 5\nanswer: 6\n") == 1)  // the last answer counts
  #expect(task.reward(p, completion: "answer: 6\nanswer: 7\n") == 0)
  #expect(task.reward(p, completion: "answer: 06") == 1)  // the same integer
  #expect(task.reward(p, completion: "the answer is 6") == 0)
  #expect(task.reward(p, completion: "answer: six") == 0)
  #expect(task.reward(p, completion: "answer:") == 0)
  #expect(task.reward(p, completion: "") == 0)
}

@Test func countdownSolutionsVerifyAndDeadEndsAreReal() throws {
  let task = CountdownTask(minNumbers: 3, maxNumbers: 4, trainSize: 40, testSize: 10, seed: 2)
  let prompts = task.prompts(.train)
  #expect(prompts.count == 40)
  #expect(Set(prompts.map(\.text)).isDisjoint(with: task.prompts(.test).map(\.text)))
  var deadEnds = 0
  for prompt in prompts {
    let solution = try #require(task.solution(prompt), "\(prompt.text)")
    #expect(task.reward(prompt, completion: solution) == 1, "\(prompt.text)\(solution)")
    if solution.hasPrefix("try "), solution.contains("\nno\n") {
      deadEnds += 1
      // The abandoned move really cannot reach the target.
      let line = solution.split(separator: "\n")[0].dropFirst(4)
      let numbers = prompt.metadata["numbers"]!.split(separator: " ").map { Int($0)! }
      let target = Int(prompt.answer)!
      let op = line.first { "+-*/".contains($0) }!
      let parts = line.split(separator: "=")[0].split(separator: op).map { Int($0)! }
      var pool = numbers
      pool.remove(at: pool.firstIndex(of: parts[0])!)
      pool.remove(at: pool.firstIndex(of: parts[1])!)
      let c = Int(line.split(separator: "=")[1])!
      #expect(!canReach(pool + [c], target))
    }
  }
  #expect(deadEnds > 0)
}

/// Exhaustive check, independent of the task's solver.
private func canReach(_ pool: [Int], _ target: Int) -> Bool {
  if pool.contains(target) { return true }
  for i in pool.indices {
    for j in pool.indices where i != j {
      var rest = pool
      rest.remove(at: max(i, j))
      rest.remove(at: min(i, j))
      let (a, b) = (pool[i], pool[j])
      var results = [a + b, a * b]
      if a > b { results.append(a - b) }
      if b > 1 && a % b == 0 { results.append(a / b) }
      for r in results where canReach(rest + [r], target) { return true }
    }
  }
  return false
}

@Test func countdownRewardChecksNumbersAndArithmetic() {
  let task = CountdownTask()
  let p = TaskPrompt(
    id: "c", text: "Q: reach 24 with 3 8 2\n", answer: "24", difficulty: "numbers3",
    metadata: ["numbers": "3 8 2", "target": "24"])
  #expect(task.reward(p, completion: "answer: 3*8") == 1)
  #expect(task.reward(p, completion: "try 8*3=24\nanswer: (8*3)") == 1)
  #expect(task.reward(p, completion: "answer: (3*8)/2*2") == 0)  // 2 used twice
  #expect(task.reward(p, completion: "answer: 3*8+2") == 0)  // 26
  #expect(task.reward(p, completion: "answer: 4*6") == 0)  // numbers not given
  #expect(task.reward(p, completion: "answer: (3*8") == 0)  // malformed
  #expect(task.reward(p, completion: "answer: 3*8/5") == 0)  // inexact division
  #expect(task.reward(p, completion: "no answer") == 0)
  #expect(IntegerExpression.evaluate("(2+3)*4-6/3")!.value == 18)
}

@Test func jsonlTasksReadVerifyAndReportMalformedLines() throws {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-jsonl-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  let good = dir.appendingPathComponent("good.jsonl")
  try Data(
    """
    {"id": "a", "prompt": "2+2=", "answer": "4", "split": "train"}
    {"id": "b", "prompt": "pi?", "answer": "3.14159", "split": "test", "difficulty": "hard"}

    {"id": 7, "prompt": "seven", "answer": 7}
    """.utf8
  ).write(to: good)
  let numeric = try JSONLTask(path: good.path, verifier: .numeric, tolerance: 1e-3)
  #expect(numeric.prompts(.train).map(\.id).contains("a"))
  #expect(numeric.prompts(.test).map(\.id).contains("b"))
  let pi = numeric.prompts(.test).first { $0.id == "b" }!
  #expect(numeric.reward(pi, completion: "answer: 3.1416") == 1)
  #expect(numeric.reward(pi, completion: "answer: 3.15") == 0)
  let exact = try JSONLTask(path: good.path)
  let four = exact.prompts(.train).first { $0.id == "a" }!
  #expect(exact.reward(four, completion: "answer:  4 ") == 1)
  #expect(exact.reward(four, completion: "answer: 4.0") == 0)
  #expect(exact.solution(four) == "answer: 4\n")

  let regexFile = dir.appendingPathComponent("regex.jsonl")
  try Data(
    """
    {"id": "r", "prompt": "colour?", "answer": "gr[ae]y", "split": "test"}
    {"id": "t", "prompt": "shade?", "answer": "dark|light", "split": "train"}
    """.utf8
  ).write(to: regexFile)
  let regex = try JSONLTask(path: regexFile.path, verifier: .regex)
  let r = regex.prompts(.test)[0]
  #expect(regex.reward(r, completion: "answer: grey") == 1)
  #expect(regex.reward(r, completion: "answer: greyish") == 0)

  let bad = dir.appendingPathComponent("bad.jsonl")
  try Data(
    """
    {"id": "a", "prompt": "x", "answer": "1"}
    not json
    {"id": "a", "prompt": "y", "answer": "2"}
    {"prompt": "z", "answer": "3"}
    {"id": "s", "prompt": "z", "answer": "3", "split": "dev"}
    """.utf8
  ).write(to: bad)
  do {
    _ = try JSONLTask(path: bad.path)
    Issue.record("no error")
  } catch {
    let message = "\(error)"
    #expect(message.contains("4 malformed lines"))
    #expect(message.contains("bad.jsonl:2: not a JSON object"))
    #expect(message.contains("bad.jsonl:3: id \"a\" appears twice"))
    #expect(message.contains("bad.jsonl:4: needs \"id\""))
    #expect(message.contains("bad.jsonl:5: split \"dev\""))
  }
}
