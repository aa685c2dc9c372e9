import Foundation
import TensorCore
import Testing

@testable import Reasoning

/// A scratch JSONL file holding `lines`.
private func jsonl(_ lines: [String], name: String = "t.jsonl") throws -> String {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-jsonl-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  let url = dir.appendingPathComponent(name)
  try Data(lines.joined(separator: "\n").utf8).write(to: url)
  return url.path
}

private func line(_ id: String, split: String? = nil, prompt: String = "q") -> String {
  let split = split.map { ", \"split\": \"\($0)\"" } ?? ""
  return "{\"id\": \"\(id)\", \"prompt\": \"\(prompt)\", \"answer\": \"1\"\(split)}"
}

/// The error `body` throws, as text; "" when it succeeds.
private func failure(_ body: () throws -> Void) -> String {
  do {
    try body()
    return ""
  } catch { return "\(error)" }
}

@Test func theSplitHashSpreadsIdsThatDifferOnlyAtTheEnd() throws {
  // ids item-0 … item-999: about a tenth go to test (the old hash sent none).
  let thousand = (0..<1000).map { JSONLTask.stableHash("item-\($0)") < 0.1 }.count { $0 }
  #expect((70...130).contains(thousand), "\(thousand)")
  // q0 … q11 do not land together (the old hash sent 10 of 12 to test).
  let twelve = (0..<12).map { JSONLTask.stableHash("q\($0)") }
  #expect(twelve.count { $0 < 0.1 } <= 4)
  #expect(Set(twelve.map { Int($0 * 4) }).count >= 3)  // they spread over the range
  #expect(JSONLTask.stableHash("q1") == JSONLTask.stableHash("q1"))  // stable
  // Every byte matters, the first as well as the last.
  #expect(JSONLTask.stableHash("aXXXXXXXXXXXXXXX") != JSONLTask.stableHash("bXXXXXXXXXXXXXXX"))
  let path = try jsonl((0..<1000).map { line("item-\($0)") })
  let task = try JSONLTask(path: path)
  #expect(task.splitSummary.test == thousand)
  #expect(task.splitSummary.train + task.splitSummary.test == 1000)
  #expect(
    task.splitSummary.description
      == "\(1000 - thousand) train and \(thousand) test prompts (0 marked train, 0 marked test, the other 1000 split by a hash of their id with testFraction 0.1)"
  )
}

@Test func anEmptySplitIsAnErrorNamingTheFile() throws {
  let onlyTest = try jsonl([line("a", split: "test"), line("b", split: "test")])
  #expect(
    failure { _ = try JSONLTask(path: onlyTest) }
      == "\(onlyTest): the train split is empty: 0 train and 2 test prompts (0 marked train, 2 marked test, the other 0 split by a hash of their id with testFraction 0.1); mark some lines \"split\": \"train\", add lines, or change task.testFraction"
  )
  let onlyTrain = try jsonl([line("a"), line("b", split: "train")])
  #expect(
    failure { _ = try JSONLTask(path: onlyTrain, testFraction: 0) }
      .hasPrefix("\(onlyTrain): the test split is empty: 2 train and 0 test prompts"))
  #expect(
    failure { _ = try JSONLTask(path: onlyTrain, testFraction: 1.5) }
      == "\(onlyTrain): testFraction is 1.5; it must be between 0 and 1")
  #expect(
    failure { _ = try JSONLTask(path: onlyTrain, testFraction: .nan) }.contains(
      "testFraction is nan"))
  let folder = URL(fileURLWithPath: onlyTrain).deletingLastPathComponent().path
  #expect(
    failure { _ = try JSONLTask(path: folder) } == "\(folder): is a directory, not a JSONL file")
  #expect(
    failure { _ = try JSONLTask(path: folder + "/none.jsonl") }.hasSuffix(
      "none.jsonl: no such file"))
  let emptyID = try jsonl([line(""), line("b")])
  #expect(failure { _ = try JSONLTask(path: emptyID) }.contains("t.jsonl:1: \"id\" is empty"))
}

@Test func promptsThatLeaveNoRoomForTheAnswerAreNamedByLine() throws {
  let path = try jsonl([
    line("short", split: "train", prompt: "2+2="),
    line("long", split: "test", prompt: String(repeating: "x", count: 50)),
    line("longer", split: "train", prompt: String(repeating: "y", count: 60)),
  ])
  let task = try JSONLTask(path: path)
  #expect(task.line(of: "longer") == 3)
  try task.checkPromptLengths(context: 100, maxNewTokens: 40, tokenCount: { $0.count })
  #expect(
    failure { try task.checkPromptLengths(context: 64, maxNewTokens: 16, tokenCount: { $0.count }) }
      == "\(path):3: the prompt of id \"longer\" is 60 tokens, but a context of 64 with maxNewTokens 16 leaves room for 48 (2 prompts too long); shorten them, raise the model's context or lower maxNewTokens"
  )
  #expect(
    failure { try task.checkPromptLengths(context: 64, maxNewTokens: 64, tokenCount: { $0.count }) }
      .contains("maxNewTokens 64 leaves no room for a prompt in a context of 64 tokens"))
}

/// Mutated JSONL files (fixed seed): each loads, or fails with a message naming the file and,
/// for a bad line, its number.
@Test func fuzzedJSONLFilesNeverCrashAndNameTheLine() throws {
  let good = (0..<20).map { line("id-\($0)", prompt: "what is \($0)+1?") }
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-jsonl-fuzz-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: dir) }
  let url = dir.appendingPathComponent("fuzz.jsonl")
  let hostile = [
    "", "{}", "[]", "null", "{\"id\": 1e400}", "{\"id\": \"x\", \"prompt\": 5, \"answer\": \"1\"}",
    "{\"id\": \"id-3\", \"prompt\": \"dup\", \"answer\": \"1\"}", "\u{0}", "{\"split\": \"dev\"}",
    String(repeating: "[", count: 5000), "{\"id\": \"z\", \"prompt\": \"p\", \"answer\": \"(\"}",
  ]
  var rng = RandomState(seed: 7)
  var rejected = 0
  for case_ in 0..<250 {
    var lines = good
    for _ in 0..<(1 + rng.nextInt(below: 3)) {
      let at = rng.nextInt(below: lines.count)
      switch rng.nextInt(below: 4) {
      case 0: lines[at] = hostile[rng.nextInt(below: hostile.count)]
      case 1:
        var bytes = Array(lines[at].utf8)
        if !bytes.isEmpty {
          bytes[rng.nextInt(below: bytes.count)] = UInt8(32 + rng.nextInt(below: 95))
        }
        lines[at] = String(decoding: bytes, as: UTF8.self)
      case 2: lines[at] = String(lines[at].prefix(rng.nextInt(below: max(lines[at].count, 1))))
      default: lines[at] = line("id-\(at)", split: ["train", "test", "dev"][rng.nextInt(below: 3)])
      }
    }
    try Data(lines.joined(separator: "\n").utf8).write(to: url)
    let verifier: JSONLTask.Verifier = case_ % 5 == 0 ? .regex : .exact
    let message = failure {
      _ = try JSONLTask(path: url.path, verifier: verifier, testFraction: 0.3)
    }
    if message.isEmpty { continue }
    rejected += 1
    let namesLine = message.range(of: #"fuzz\.jsonl:\d+: "#, options: .regularExpression) != nil
    let namesSplit = message.hasPrefix(url.path + ": the ")
    #expect(namesLine || namesSplit, "case \(case_): \(message)")
  }
  #expect(rejected > 100)
}

@Test func aLineMayNameItsVerifierAndCarryMetadata() throws {
  let path = try jsonl([
    #"{"id": "a", "prompt": "q", "answer": "2.5", "verifier": "numeric", "split": "train"}"#,
    #"{"id": "b", "prompt": "q", "answer": "ab+", "verifier": "regex", "split": "test"}"#,
    #"{"id": "c", "prompt": "q", "answer": "2.5", "metadata": {"unit": "kg", "n": 3}, "split": "test"}"#,
  ])
  let task = try JSONLTask(path: path, verifier: .exact, tolerance: 0.1)
  let a = task.prompts(.train)[0]
  let (b, c) = (task.prompts(.test)[0], task.prompts(.test)[1])
  #expect(task.reward(a, completion: "answer: 2.55") == 1)  // numeric, within 0.1
  #expect(task.reward(b, completion: "answer: abbb") == 1)  // regex
  #expect(task.reward(c, completion: "answer: 2.55") == 0)  // the task's exact
  #expect(task.reward(c, completion: "answer: 2.5") == 1)
  #expect(c.metadata == ["unit": "kg", "n": "3"])
  #expect(a.metadata.isEmpty)
}

@Test func unknownKeysBadVerifiersAndBadMetadataAreRefusedByLine() throws {
  let path = try jsonl([
    line("ok-1", split: "train"), line("ok-2", split: "test"),
    #"{"id": "x", "prompt": "q", "answer": "1", "answers": "1"}"#,
    #"{"id": "y", "prompt": "q", "answer": "1", "verifier": "fuzzy"}"#,
    #"{"id": "z", "prompt": "q", "answer": "1", "metadata": {"deep": [1]}}"#,
    #"{"id": "w", "prompt": "q", "answer": "one", "verifier": "numeric"}"#,
  ])
  let text = failure { _ = try JSONLTask(path: path) }
  #expect(text.hasPrefix("4 malformed lines"), "\(text)")
  #expect(text.contains("\(path):3: unknown key \"answers\""), "\(text)")
  #expect(text.contains("\(path):4: verifier fuzzy is not one of \"exact\""), "\(text)")
  #expect(text.contains("\(path):5: \"metadata\" must be an object of strings and numbers"))
  #expect(text.contains("\(path):6: answer \"one\" is not a number"), "\(text)")
}

@Test func aTrainLimitKeepsAFixedMixedSubsetInFileOrder() throws {
  let lines = (0..<40).map { i in
    "{\"id\": \"p\(i)\", \"prompt\": \"q\(i)\", \"answer\": \"\(i)\", \"difficulty\": \"\(i < 20 ? "easy" : "hard")\", \"split\": \"\(i < 36 ? "train" : "test")\"}"
  }
  let path = try jsonl(lines)
  let all = try JSONLTask(path: path).prompts(.train)
  let kept = try JSONLTask(path: path, trainLimit: 12)
  let ids = kept.prompts(.train).map(\.id)
  #expect(ids.count == 12)
  #expect(try JSONLTask(path: path, trainLimit: 12).prompts(.train).map(\.id) == ids)
  // File order, a subset of the full split, both difficulties, the test split untouched.
  #expect(ids == all.map(\.id).filter { ids.contains($0) })
  #expect(Set(kept.prompts(.train).map(\.difficulty)) == ["easy", "hard"])
  #expect(kept.prompts(.test).count == 4)
  #expect(kept.splitSummary.description.hasSuffix("; training on 12 of the 36"))
  let error = #expect(throws: TaskError.self) { _ = try JSONLTask(path: path, trainLimit: 37) }
  #expect(
    error?.message.contains("task.trainPrompts is 37, but the file has only 36 training prompts")
      == true)
}
