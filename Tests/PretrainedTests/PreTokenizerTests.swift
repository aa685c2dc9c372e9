import Foundation
import Testing

@testable import Pretrained

/// Each split rule against the Python `regex` module's `findall` on the exact pattern.
@Test(arguments: PreTokenizer.allCases)
func preTokenizerMatchesRegexModule(_ kind: PreTokenizer) throws {
  let file = try golden("pretokenizer_golden.json")
  let cases = file["cases"] as! [[String: Any]]
  #expect(cases.count >= 30)
  for c in cases {
    let text = c["text"] as! String
    let expected = c[kind.rawValue] as! [String]
    let words = kind.split(text)
    #expect(words == expected, "\(kind) on \(text.debugDescription)")
    #expect(words.joined() == text)
  }
}

@Test func goldenPatternsAreTheOnesRecognised() throws {
  let patterns = try golden("pretokenizer_golden.json")["patterns"] as! [String: String]
  #expect(patterns["gpt2"] == PreTokenizer.gpt2Pattern)
  #expect(patterns["llama3"] == PreTokenizer.llama3Pattern)
  #expect(patterns["qwen2"] == PreTokenizer.qwen2Pattern)
}

@Test func digitRunsSplitByFamily() {
  let text = "x 1234567"
  #expect(PreTokenizer.gpt2.split(text) == ["x", " 1234567"])
  #expect(PreTokenizer.smollm.split(text) == ["x", " ", "1", "2", "3", "4", "5", "6", "7"])
  #expect(PreTokenizer.llama3.split(text) == ["x", " ", "123", "456", "7"])
  #expect(PreTokenizer.qwen2.split(text) == ["x", " ", "1", "2", "3", "4", "5", "6", "7"])
}

@Test func ggufPreNamesMapToSplitRules() throws {
  #expect(try PreTokenizer(ggufPre: "smollm", source: "m.gguf") == .smollm)
  #expect(try PreTokenizer(ggufPre: "llama-bpe", source: "m.gguf") == .llama3)
  #expect(try PreTokenizer(ggufPre: "qwen2", source: "m.gguf") == .qwen2)
  let m = thrownMessage { _ = try PreTokenizer(ggufPre: "tekken", source: "m.gguf") }
  #expect(m.hasPrefix("m.gguf: ") && m.contains("'tekken'") && m.contains("'smollm'"))
}
