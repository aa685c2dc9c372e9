import Foundation
import Pretrained

/// Load time of the SmolLM2-135M-Instruct GGUF (.ci/setup fetches it into .models/):
/// parse, check, dequantise and un-permute every tensor, then hash the file. Best of 3.
func benchmarkPretrainedLoad() {
  let path = ".models/SmolLM2-135M-Instruct.Q4_1.gguf"
  guard FileManager.default.fileExists(atPath: path) else {
    print("pretrained-load: \(path) is missing (run .ci/setup from the repository root)")
    return
  }
  var times: [Double] = []
  for _ in 0..<3 {
    let start = Date()
    do {
      let loaded = try PretrainedFiles.load(path)
      times.append(Date().timeIntervalSince(start))
      let count = loaded.weights.values.reduce(0) { $0 + $1.count }
      print("  \(loaded.source): \(count) parameters, hash \(loaded.contentHash)")
    } catch {
      print("pretrained-load: \(error)")
      return
    }
  }
  let parts = Date()
  let file = try! GGUFFile(url: URL(fileURLWithPath: path))
  let parse = Date().timeIntervalSince(parts)
  let hashStart = Date()
  _ = file.contentHash()
  let hash = Date().timeIntervalSince(hashStart)
  print(
    String(
      format: "pretrained-load: best %.3f s of %@ (header + metadata parse %.3f s, hash %.3f s)",
      times.min()!, times.map { String(format: "%.3f", $0) }.joined(separator: ", "), parse, hash))
}
