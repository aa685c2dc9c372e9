import Foundation
import Testing

@testable import Pretrained

/// A tiny byte-level vocabulary: the 256 byte tokens (ids 0–255, in byte order) and `extra`.
private func tinyTokenizer(
  extra: [String], merges: BPETokenizer.Merges, added: [BPETokenizer.AddedToken] = [],
  ignoreMerges: Bool = false
) throws -> BPETokenizer {
  let bytes = ByteLevel.byteToScalar.map { String(Character($0)) }
  return try BPETokenizer(
    tokens: bytes + extra, merges: merges, preTokenizer: .gpt2, addedTokens: added,
    bosToken: nil, eosToken: nil, paddingToken: nil, ignoreMerges: ignoreMerges, source: "tiny")
}

@Test func mergesApplyByRankThenLeftmost() throws {
  // "bc" outranks "ab", so "abc" is a + bc, then abc.
  let t = try tinyTokenizer(
    extra: ["ab", "bc", "abc", "aa"], merges: .joined(["b c", "a b", "a bc", "a a"]))
  #expect(t.encode("abc") == [258])
  #expect(t.encode("ab") == [256])
  // Ties go to the leftmost pair: "aaa" is aa + a.
  #expect(t.encode("aaa") == [259, 97])
  // The same merges given as pairs.
  let p = try tinyTokenizer(
    extra: ["ab", "bc", "abc", "aa"],
    merges: .pairs([("b", "c"), ("a", "b"), ("a", "bc"), ("a", "a")]))
  #expect(p.encode("abc aaa") == t.encode("abc aaa"))
  // A space is its byte token 'Ġ' (id 32 here), words split first: " ab" is Ġ + ab.
  #expect(t.encode(" ab") == [32, 256])
}

@Test func ignoreMergesTakesWholeWords() throws {
  // "abc" is a token but no merge reaches it from "ab" + "c".
  let merged = try tinyTokenizer(extra: ["ab", "abc"], merges: .joined(["a b"]))
  #expect(merged.encode("abc") == [256, 99])
  let whole = try tinyTokenizer(extra: ["ab", "abc"], merges: .joined(["a b"]), ignoreMerges: true)
  #expect(whole.encode("abc") == [257])
}

@Test func addedTokensMatchLongestFirst() throws {
  let added = [
    BPETokenizer.AddedToken(content: "<a>", id: 256, special: true),
    BPETokenizer.AddedToken(content: "<a><b>", id: 257, special: false),
  ]
  let t = try tinyTokenizer(extra: ["<a>", "<a><b>"], merges: .joined([]), added: added)
  #expect(t.encode("x<a><b>y<a>") == [120, 257, 121, 256])
  #expect(t.decode([120, 257, 256], skipSpecialTokens: true) == "x<a><b>")
  #expect(t.decode([120, 257, 256], skipSpecialTokens: false) == "x<a><b><a>")
  #expect(t.id(of: "<a>") == 256 && t.isSpecial(256) && !t.isSpecial(257))
}

@Test func badMergesNameTheMergeAndToken() throws {
  let missing = thrownMessage { _ = try tinyTokenizer(extra: [], merges: .joined(["a b"])) }
  #expect(missing == "tiny: merge 0 'a b' uses 'ab', which is not a token")
  let malformed = thrownMessage { _ = try tinyTokenizer(extra: [], merges: .joined(["abc"])) }
  #expect(malformed.contains("merge 0 'abc' is not two tokens"))
}

@Test(.enabled(if: smolLM2Available))
func smolLM2IDsMatchTransformers() throws {
  let t = try smolLM2.get()
  let file = try golden("smollm2_tokens_golden.json")
  let encodes = file["encodes"] as! [[String: Any]]
  #expect(encodes.count >= 30)
  for e in encodes {
    let text = e["text"] as! String
    #expect(t.encode(text) == e["ids"] as! [Int], "\(text.debugDescription)")
  }
  #expect(t.bosToken == file["bos"] as? Int)
  #expect(t.eosToken == file["eos"] as? Int)
  #expect(t.paddingToken == file["pad"] as? Int)
  #expect(t.vocabularySize == 49152 && !t.addsBOSToken)
}

@Test(.enabled(if: smolLM2Available))
func smolLM2DecodesLikeTransformers() throws {
  let t = try smolLM2.get()
  for d in try golden("smollm2_tokens_golden.json")["decodes"] as! [[String: Any]] {
    let ids = d["ids"] as! [Int]
    #expect(t.decode(ids, skipSpecialTokens: false) == d["text"] as! String, "\(ids)")
    #expect(t.decode(ids, skipSpecialTokens: true) == d["skipSpecial"] as! String, "\(ids)")
  }
}

@Test(.enabled(if: smolLM2Available))
func specialTokensInRawTextAreOneID() throws {
  let t = try smolLM2.get()
  #expect(t.encode("<|im_start|>") == [1])
  #expect(t.encode("a<|im_end|>b") == [t.encode("a")[0], 2, t.encode("b")[0]])
  #expect(t.id(of: "<|im_start|>") == 1 && t.id(of: "<|endoftext|>") == 0)
  #expect(t.isSpecial(1) && !t.isSpecial(33662))
  // A near miss is ordinary text.
  #expect(t.encode("<|im_start|").count > 1)
}

@Test(.enabled(if: smolLM2Available))
func decodeInvertsEncodeAndStreamingMatches() throws {
  let t = try smolLM2.get()
  var texts = (try golden("smollm2_tokens_golden.json")["encodes"] as! [[String: Any]]).map {
    $0["text"] as! String
  }
  texts.append(String(repeating: "ab 12 👍🏽 ", count: 50))
  for text in texts {
    let ids = t.encode(text)
    // Bytes 0x04 and 0x06 have no token in SmolLM2's vocabulary and are left out.
    var kept = String.UnicodeScalarView()
    kept.append(contentsOf: text.unicodeScalars.filter { $0 != "\u{04}" && $0 != "\u{06}" })
    #expect(t.decode(ids, skipSpecialTokens: false) == String(kept), "\(text.debugDescription)")
    var stream = StreamingDecoder(tokenizer: t, skipSpecialTokens: false)
    let pieces = ids.map { stream.append($0) } + [stream.finish()]
    #expect(pieces.joined() == String(kept))
  }
  // Arbitrary ids (partial and invalid UTF-8 among them): streaming equals full decode.
  var state: UInt64 = 0x9E37_79B9_7F4A_7C15
  for _ in 0..<200 {
    var ids: [Int] = []
    for _ in 0..<12 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      ids.append(Int(state >> 33) % (state & 1 == 0 ? 300 : t.vocabularySize))
    }
    for skip in [false, true] {
      var stream = StreamingDecoder(tokenizer: t, skipSpecialTokens: skip)
      let pieces = ids.map { stream.append($0) } + [stream.finish()]
      #expect(pieces.joined() == t.decode(ids, skipSpecialTokens: skip), "\(ids)")
    }
  }
}

@Test func streamingHoldsOnlyCompletablePrefixes() {
  #expect(unfinishedTail([0xF0, 0x9F]) == 2)
  #expect(unfinishedTail([0x41, 0xE2, 0x82]) == 2)
  #expect(unfinishedTail([0xF0, 0x9F, 0x91, 0x8D]) == 0)
  #expect(unfinishedTail([0xE0, 0x80]) == 0)  // overlong: invalid whatever follows
  #expect(unfinishedTail([0xED, 0xA0]) == 0)  // a surrogate
  #expect(unfinishedTail([0x80]) == 0)
  #expect(unfinishedTail([]) == 0)
}

/// The GGUF wiring, fed the values SmolLM2's GGUF holds (taken from the saved
/// `tokenizer.json`): `smollm` isolates digits as SmolLM2's own tokenizer does.
@Test(.enabled(if: smolLM2Available))
func ggufMetadataBuildsTheSmolLM2Tokenizer() throws {
  let reference = try smolLM2.get()
  let json =
    try JSONSerialization.jsonObject(with: Data(contentsOf: smolLM2TokenizerURL)) as! [String: Any]
  let merges = ((json["model"] as! [String: Any])["merges"] as! [[String]]).map {
    $0.joined(separator: " ")
  }
  let types = (0..<reference.vocabularySize).map { Int32($0 < 17 ? 3 : 1) }
  let t = try BPETokenizer.fromGGUF(
    model: "gpt2", pre: "smollm", tokens: reference.tokens, merges: merges, tokenTypes: types,
    bosTokenID: 1, eosTokenID: 2, paddingTokenID: 2, addBOSToken: false, source: "smol.gguf")
  #expect(t.preTokenizer == .smollm && t.isSpecial(1) && t.encode("<|im_end|>") == [2])
  var differing = 0
  for e in try golden("smollm2_tokens_golden.json")["encodes"] as! [[String: Any]] {
    let text = e["text"] as! String
    let ids = t.encode(text)
    #expect(ids == e["digitsIsolated"] as! [Int], "\(text.debugDescription)")
    if ids != e["ids"] as! [Int] { differing += 1 }
  }
  // Only the line with digits other than 0–9 after spaces tells the two splits apart.
  #expect(differing == 1)
  let wrong = thrownMessage {
    _ = try BPETokenizer.fromGGUF(
      model: "llama", pre: nil, tokens: [], merges: [], tokenTypes: nil, bosTokenID: nil,
      eosTokenID: nil, paddingTokenID: nil, addBOSToken: nil, source: "spm.gguf")
  }
  #expect(wrong.hasPrefix("spm.gguf: tokenizer.ggml.model is 'llama'"))
}

/// Writes `text` as `tokenizer.json` in a fresh directory.
private func writeTokenizerJSON(_ text: String) throws -> URL {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-tok-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  let url = dir.appendingPathComponent("tokenizer.json")
  try Data(text.utf8).write(to: url)
  return url
}

/// A minimal valid `tokenizer.json` (the 256 byte tokens) with `pre` as its pre-tokenizer
/// and `extra` model keys.
private func tokenizerJSONText(pre: String = #"{"type":"ByteLevel"}"#, extra: String = "") -> String
{
  let vocab = ByteLevel.byteToScalar.enumerated().map { id, s in
    let key = String(
      data: try! JSONSerialization.data(withJSONObject: [String(Character(s))]), encoding: .utf8)!
    return "\(key.dropFirst().dropLast()):\(id)"
  }
  return
    #"{"added_tokens":[],"normalizer":null,"pre_tokenizer":\#(pre),"decoder":{"type":"ByteLevel"},"#
    + #""model":{"type":"BPE","vocab":{\#(vocab.joined(separator: ","))},"merges":[]\#(extra)}}"#
}

@Test func badTokenizerJSONNamesTheFileAndProblem() throws {
  let good = try writeTokenizerJSON(tokenizerJSONText())
  #expect(try BPETokenizer(tokenizerJSON: good).encode("hi") == [104, 105])
  let cases: [(String, String)] = [
    ("{ not json", "is not valid JSON"),
    (#"{"model":{"type":"Unigram"}}"#, "model.type is 'Unigram'"),
    (tokenizerJSONText(pre: #"{"type":"Metaspace"}"#), "pre_tokenizer is [\"Metaspace\"]"),
    (
      tokenizerJSONText(
        pre:
          #"{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\w+"},"behavior":"Isolated"},{"type":"ByteLevel","use_regex":false}]}"#
      ),
      #"Split regex Allot does not know: \w+"#
    ),
    (tokenizerJSONText(extra: #","byte_fallback":true"#), "model.byte_fallback is true"),
    (
      tokenizerJSONText().replacingOccurrences(of: #""merges":[]"#, with: #""merges":["a q"]"#),
      "merge 0 'a q' uses 'aq'"
    ),
  ]
  for (text, problem) in cases {
    let url = try writeTokenizerJSON(text)
    let m = thrownMessage { _ = try BPETokenizer(tokenizerJSON: url) }
    #expect(m.hasPrefix(url.path + ": ") && m.contains(problem), "\(m)")
  }
  let missing = thrownMessage {
    _ = try BPETokenizer(tokenizerJSON: URL(fileURLWithPath: "/nonexistent/tokenizer.json"))
  }
  #expect(missing.hasPrefix("/nonexistent/tokenizer.json: cannot be read"))
}

@Test func tokenizerJSONSplitPatternsAreRecognised() throws {
  for (kind, pattern) in [
    (PreTokenizer.llama3, PreTokenizer.llama3Pattern), (.qwen2, PreTokenizer.qwen2Pattern),
  ] {
    let escaped = String(
      data: try JSONSerialization.data(withJSONObject: [pattern]), encoding: .utf8)!
    let pre =
      #"{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":\#(escaped.dropFirst().dropLast())},"#
      + #""behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]}"#
    let t = try BPETokenizer(tokenizerJSON: try writeTokenizerJSON(tokenizerJSONText(pre: pre)))
    #expect(t.preTokenizer == kind)
  }
  let digits =
    #"{"type":"Sequence","pretokenizers":[{"type":"Digits","individual_digits":true},{"type":"ByteLevel","use_regex":true}]}"#
  #expect(
    try BPETokenizer(tokenizerJSON: try writeTokenizerJSON(tokenizerJSONText(pre: digits)))
      .preTokenizer == .smollm)
}
