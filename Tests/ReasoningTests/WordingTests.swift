import Testing

@testable import Reasoning

@Test func wordedArithmeticPosesTheSameProblems() {
  let compact = ArithmeticTask(minDigits: 2, maxDigits: 2, trainSize: 30, testSize: 10)
  let words = ArithmeticTask(
    minDigits: 2, maxDigits: 2, trainSize: 30, testSize: 10, wording: .words)
  for split in Split.allCases {
    let (c, w) = (compact.prompts(split), words.prompts(split))
    #expect(c.map(\.id) == w.map(\.id))
    #expect(c.map(\.answer) == w.map(\.answer))
    #expect(c.map(\.metadata) == w.map(\.metadata))
    for p in w {
      let (a, b) = (p.metadata["a"]!, p.metadata["b"]!)
      #expect(p.text.hasSuffix("?\n") && p.text.contains(" \(a) ") && p.text.contains(" \(b) "))
      #expect(!p.text.hasPrefix("Q:"))
      #expect(words.reward(p, completion: "answer: \(p.answer)") == 1)
    }
  }
  let p = words.prompts(.test).first { $0.metadata["op"] == "+" }!
  #expect(
    [
      "marbles and finds \(p.metadata["b"]!) more", "in the morning and \(p.metadata["b"]!) in",
      "and \(p.metadata["b"]!) more get on",
    ].contains { p.text.contains($0) }, "\(p.text)")
}

@Test func wordedCountdownSpellsOutTheRules() {
  let words = CountdownTask(
    minNumbers: 3, maxNumbers: 3, trainSize: 5, testSize: 5, wording: .words)
  let compact = CountdownTask(minNumbers: 3, maxNumbers: 3, trainSize: 5, testSize: 5)
  let (p, q) = (words.prompts(.test)[0], compact.prompts(.test)[0])
  #expect(p.id == q.id && p.metadata == q.metadata)
  let n = p.metadata["numbers"]!.split(separator: " ")
  #expect(
    p.text
      == "Using the numbers \(n[0]), \(n[1]) and \(n[2]), each at most once, and the operations "
      + "+, -, * and /, write an expression that equals \(p.metadata["target"]!).\n")
}
