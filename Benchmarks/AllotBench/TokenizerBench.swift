import Foundation
import Pretrained

/// SmolLM2 tokenizer speed on the repository's own text (docs/*.md, then Sources/**/*.swift):
/// loading `tokenizer.json`, encoding with an empty word cache, encoding again with it warm,
/// and decoding. Needs `.models/SmolLM2-135M-Instruct/tokenizer.json`, which
/// Tests/PretrainedTests/golden/make_tokenizer_golden.py writes.
func benchmarkTokenizer() {
  let root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
  let url = root.appendingPathComponent(".models/SmolLM2-135M-Instruct/tokenizer.json")
  var text = ""
  for folder in ["docs", "Sources"] {
    let walker = FileManager.default.enumerator(atPath: root.appendingPathComponent(folder).path)
    let files = (walker?.allObjects as? [String] ?? []).filter {
      $0.hasSuffix(".md") || $0.hasSuffix(".swift")
    }
    for file in files.sorted() {
      text += (try? String(contentsOfFile: "\(folder)/\(file)", encoding: .utf8)) ?? ""
    }
  }
  for round in 0..<3 {
    let loadStart = DispatchTime.now().uptimeNanoseconds
    guard let tokenizer = try? BPETokenizer(tokenizerJSON: url) else {
      print("tokenizer: \(url.path) is missing or unreadable; run the golden script first")
      return
    }
    let load = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
    measure(tokenizer, text, label: "round \(round), \(tokenizer.preTokenizer)", load: load)
  }
  // The same vocabulary with SmolLM2's own split (digits isolated), as the GGUF gives it.
  if var json = (try? Data(contentsOf: url)).flatMap({
    try? JSONSerialization.jsonObject(with: $0) as? [String: Any]
  }) {
    json["pre_tokenizer"] = [
      "type": "Sequence",
      "pretokenizers": [
        ["type": "Digits", "individual_digits": true], ["type": "ByteLevel", "use_regex": true],
      ],
    ]
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("allot-bench-tok")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let copy = dir.appendingPathComponent("tokenizer.json")
    if (try? JSONSerialization.data(withJSONObject: json).write(to: copy)) != nil,
      let digits = try? BPETokenizer(tokenizerJSON: copy)
    {
      measure(digits, text, label: "\(digits.preTokenizer)", load: nil)
    }
  }
  // One word of 100,000 letters (no spaces): the merge heap's worst case.
  if let tokenizer = try? BPETokenizer(tokenizerJSON: url) {
    var state: UInt64 = 1
    let letters = (0..<100_000).map { _ -> Character in
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Character(Unicode.Scalar(UInt8(97 + (state >> 33) % 26)))
    }
    let word = String(letters)
    var count = 0
    let seconds = secondsPerCall(iterations: 1, repeats: 1) { count = tokenizer.encode(word).count }
    print(String(format: "one 100,000-letter word: %d tokens in %.3f s", count, seconds))
  }
}

/// Encodes `text` cold then warm and decodes it, printing the rates.
private func measure(_ tokenizer: BPETokenizer, _ text: String, label: String, load: Double?) {
  let megabytes = Double(text.utf8.count) / 1e6
  var ids: [Int] = []
  let cold = secondsPerCall(iterations: 1, repeats: 1) { ids = tokenizer.encode(text) }
  let warm = secondsPerCall(iterations: 1, repeats: 3) { ids = tokenizer.encode(text) }
  var decoded = ""
  let decode = secondsPerCall(iterations: 1, repeats: 3) {
    decoded = tokenizer.decode(ids, skipSpecialTokens: false)
  }
  print(
    String(
      format:
        "%@: %.2f MB -> %d tokens; load %@; encode cold %.2f MB/s (%.0f k tokens/s), "
        + "warm %.2f MB/s; decode %.1f MB/s; round trip %@",
      label, megabytes, ids.count, load.map { String(format: "%.2f s", $0) } ?? "-",
      megabytes / cold, Double(ids.count) / cold / 1e3, megabytes / warm, megabytes / decode,
      decoded == text ? "exact" : "DIFFERS"))
}
