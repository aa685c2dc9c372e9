import GRPO
import Testing

@Test func hicraRuleTestVector() {
  let advantages = [1.0, -1.0, 0.0]
  let planning = [true, false, false]
  let out = advantages.map { hicraAdvantages($0, planning: planning, alpha: 0.2) }
  #expect(out.map { $0[0] } == [1.2, -0.8, 0.0])  // planning tokens
  #expect(out.map { $0[1] } == [1.0, -1.0, 0.0])  // execution tokens
  // Signs are kept for every α in [0, 1); α = 0 is plain GRPO.
  for alpha in stride(from: 0.0, to: 1.0, by: 0.1) {
    #expect(hicraAdvantages(-2, planning: [true], alpha: alpha)[0] < 0)
  }
  #expect(hicraAdvantages(-2, planning: [true, false], alpha: 0) == [-2, -2])
}

private func marked(_ phrases: [String], _ text: String) -> String {
  let mask = PhraseMatcher(phrases: phrases).mask(
    text: text, tokenSpans: (0..<text.count).map { $0..<($0 + 1) })
  return String(zip(text, mask).map { $1 ? $0 : "." })
}

@Test func phraseMatchingEdgeCases() {
  #expect(marked(["so"], "also so") == ".....so")  // word boundaries
  #expect(marked(["let's"], "Let’s go, LET'S") == "Let’s.....LET'S")  // case, curly apostrophe
  // Flexible whitespace.
  #expect(marked(["but wait"], "but   wait\nbut\twait") == "but   wait.but\twait")
  #expect(marked(["but wait"], "butwait") == ".......")
  #expect(marked(["plan:"], "plan: x plans: y") == "plan:...........")
  // Overlapping and nested matches are unioned.
  #expect(marked(["a b", "b c"], "a b c d") == "a b c..")
  #expect(marked(["right to left", "to"], "go right to left to") == "...right to left.to")
  #expect(marked([], "anything") == "........")
}

@Test func tokensAcrossBoundariesAndTokensWithoutText() {
  // Tokens spanning several characters: any overlap marks the token; EOS (empty span) never.
  let matcher = PhraseMatcher(phrases: ["check"])
  let text = "re-check it"
  let spans = [0..<3, 3..<6, 6..<8, 8..<11, 11..<11]
  #expect(matcher.mask(text: text, tokenSpans: spans) == [false, true, true, false, false])
}

@Test func semanticEntropyTestVectorAndOccurrences() {
  #expect(abs(semanticEntropy([2, 1, 1]) - 1.039_720_770_8) < 1e-9)
  #expect(semanticEntropy([]).isNaN)
  let matcher = PhraseMatcher(phrases: ["a b", "a", "b"])
  // Longest first, no double counting: "a b" once, then the lone "a".
  let counts = matcher.occurrenceCounts(in: ["a b a"])
  #expect(counts == [0: 1, 1: 1])
}

@Test func minerRanksGramsByDistinctSolutions() {
  let corpus = [
    "first let me check the sum then answer",
    "so let me check the sum again",
    "let me check the sum and stop",
    "let me check the sum and stop",  // duplicates count once
    "something unrelated entirely here",
  ]
  let grams = mineStrategicGrams(from: corpus, sizes: 3...5, fraction: 0.05)
  #expect(grams.first?.gram == "check the sum")
  #expect(grams.first?.solutions == 3)
  #expect(grams.allSatisfy { $0.solutions == 3 })
  let all = mineStrategicGrams(from: corpus, sizes: 3...3, fraction: 1)
  #expect(all.contains { $0.gram == "something unrelated entirely" && $0.solutions == 1 })
}

/// Four solutions and a hand-made embedding of their 3-grams: "let me check" and "let me
/// verify" mean the same; they sit in different solutions, so a group of both is supported
/// by both, more than either.
private let verifyCorpus = [
  "let me check it", "let me verify it", "let me verify that", "we are done now",
]
private let verifyMeaning: [String: [Float]] = [
  "let me check": [1, 0], "let me verify": [0.99, 0.1], "me check it": [0, 1],
  "me verify it": [0.1, 1], "me verify that": [0.7, -0.7], "we are done": [-1, 0],
  "are done now": [-1, 0.05],
]

@Test func minerGroupsGramsByEmbeddingSimilarity() {
  let groups = mineStrategicGramGroups(
    from: verifyCorpus, sizes: 3...3, fraction: 1, similarity: 0.95
  ) { verifyMeaning[$0] }
  // Most supported first: "let me verify" (2 solutions) leads and "let me check" joins.
  #expect(
    groups.first == StrategicGramGroup(grams: ["let me verify", "let me check"], solutions: 3))
  #expect(
    groups.contains(StrategicGramGroup(grams: ["are done now", "we are done"], solutions: 1)))
  #expect(
    groups.contains(StrategicGramGroup(grams: ["me check it", "me verify it"], solutions: 2)))
  #expect(groups.contains(StrategicGramGroup(grams: ["me verify that"], solutions: 1)))
  #expect(groups.count == 4)
  // Keeping the top quarter keeps the best group only; a gram without an embedding is
  // skipped.
  let top = mineStrategicGramGroups(
    from: verifyCorpus, sizes: 3...3, fraction: 0.25, similarity: 0.95
  ) {
    $0 == "let me verify" ? nil : verifyMeaning[$0]
  }
  #expect(top == [StrategicGramGroup(grams: ["me check it", "me verify it"], solutions: 2)])
}

@Test func kMeansClustersGramsAndSelectsByDocumentFrequency() {
  // Centres start at "let me verify" (the most supported), then the farthest grams ("we
  // are done", then "me check it"); members keep their support order.
  let clusters = mineStrategicGramClusters(
    from: verifyCorpus, sizes: 3...3, fraction: 1, clusters: 3
  ) {
    verifyMeaning[$0]
  }
  #expect(
    clusters == [
      StrategicGramGroup(grams: ["let me verify", "let me check", "me verify that"], solutions: 3),
      StrategicGramGroup(grams: ["me check it", "me verify it"], solutions: 2),
      StrategicGramGroup(grams: ["are done now", "we are done"], solutions: 1),
    ])
  // Document-frequency selection: clusters in at least half (then 60 %) of the 4 solutions.
  let half = mineStrategicGramClusters(
    from: verifyCorpus, sizes: 3...3, fraction: 1, minDocumentFrequency: 0.5, clusters: 3
  ) { verifyMeaning[$0] }
  #expect(half.map(\.solutions) == [3, 2])
  let most = mineStrategicGramClusters(
    from: verifyCorpus, sizes: 3...3, fraction: 1, minDocumentFrequency: 0.6, clusters: 3
  ) { verifyMeaning[$0] }
  #expect(most.map(\.solutions) == [3])
  // More clusters than grams: one each; the same selection applies to plain n-grams.
  let many = mineStrategicGramClusters(from: verifyCorpus, sizes: 3...3, fraction: 1, clusters: 50)
  {
    verifyMeaning[$0]
  }
  #expect(many.count == 7 && many.allSatisfy { $0.grams.count == 1 })
  let frequent = mineStrategicGrams(
    from: verifyCorpus, sizes: 3...3, fraction: 1, minDocumentFrequency: 0.5)
  #expect(frequent.map(\.gram) == ["let me verify"])
}

@Test func phraseListsAndTheEnglishPreset() throws {
  #expect(
    phraseLines("let me check  # 3\n# a comment\n\n  but wait \n") == ["let me check", "but wait"])
  #expect(try StrategicGramPreset.none.phrases().isEmpty)
  let english = try StrategicGramPreset.english.phrases()
  #expect(english.count >= 40)
  #expect(english.contains("let me check") && english.contains("alternatively"))
  #expect(english.allSatisfy { !$0.contains("#") && !$0.isEmpty })
  let matcher = PhraseMatcher(phrases: english)
  let text = "First, let's add 47 and 85. Wait, let me check the tens: 4 + 8 = 12."
  let found = Set(matcher.matches(in: text).map { matcher.phraseTexts[$0.phrase] })
  #expect(found.isSuperset(of: ["first, let's", "wait", "let me check"]))
  #expect(matcher.matches(in: "They awaited the results; 47 + 85 = 132.").isEmpty)
}

@Test func minersCanLeaveOutGramsWithDigits() {
  let solutions = ["we add 36 and 32 so the answer is 68", "we add 43 and 90 so the answer is 133"]
  let all = mineStrategicGrams(from: solutions, sizes: 3...3, fraction: 1)
  #expect(all.contains { $0.gram == "the answer is" })
  #expect(all.contains { $0.gram.contains("36") })
  let words = mineStrategicGrams(from: solutions, sizes: 3...3, fraction: 1, withoutDigits: true)
  #expect(words.map(\.gram) == ["so the answer", "the answer is"])
  let clusters = mineStrategicGramClusters(
    from: solutions, sizes: 3...3, fraction: 1, withoutDigits: true, clusters: 1
  ) { _ in [1, 0] }
  #expect(
    clusters == [StrategicGramGroup(grams: ["so the answer", "the answer is"], solutions: 2)])
}
