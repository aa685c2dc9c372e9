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
  let megabytes = Double(text.utf8.count) / 1e6
  for round in 0..<3 {
    let loadStart = DispatchTime.now().uptimeNanoseconds
    guard let tokenizer = try? BPETokenizer(tokenizerJSON: url) else {
      print("tokenizer: \(url.path) is missing or unreadable; run the golden script first")
      return
    }
    let load = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
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
          "round %d: %.2f MB -> %d tokens; load %.2f s; encode cold %.2f MB/s (%.0f k tokens/s), "
          + "warm %.2f MB/s; decode %.1f MB/s; round trip %@",
        round, megabytes, ids.count, load, megabytes / cold, Double(ids.count) / cold / 1e3,
        megabytes / warm, megabytes / decode, decoded == text ? "exact" : "DIFFERS"))
  }
}
