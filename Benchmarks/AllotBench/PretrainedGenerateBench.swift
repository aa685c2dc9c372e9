import Foundation
import Pretrained
import Reasoning
import TensorCore

// SmolLM2-135M-Instruct through PretrainedModel (.ci/setup fetches the GGUF into .models/):
//   pretrained-generate  load time, then greedy new tokens/s at batch 1 and 16
//   pretrained-export    an export of the model with Allot's own outputs beside it, for
//                        Tests/PretrainedTests/golden/check_smollm2_export.py

private let smolPath = ".models/SmolLM2-135M-Instruct.Q4_1.gguf"
private let exportPath = ".models/SmolLM2-135M-Instruct-allot-export"

private func loadSmolLM2(_ suite: String) -> (PretrainedModel, Double)? {
  guard FileManager.default.fileExists(atPath: smolPath) else {
    print("\(suite): \(smolPath) is missing (run .ci/setup from the repository root)")
    return nil
  }
  let start = Date()
  do {
    let m = try PretrainedModel.load(smolPath)
    return (m, Date().timeIntervalSince(start))
  } catch {
    print("\(suite): \(error)")
    return nil
  }
}

/// Sixteen different chat prompts ("What is A + B? Answer with the number only.").
private func arithmeticPrompts(_ m: PretrainedModel) -> [[Int]] {
  (0..<16).map { k in
    try! m.promptIDs(
      "What is \(17 + 5 * k) + \(38 + 3 * k)? Answer with the number only.", format: .chat)
  }
}

func benchmarkPretrainedGenerate() {
  guard var (m, first) = loadSmolLM2("pretrained-generate") else { return }
  var loads = [first]
  for _ in 0..<2 {
    (m, first) = loadSmolLM2("pretrained-generate")!
    loads.append(first)
  }
  print(
    String(
      format: "pretrained-generate: PretrainedModel.load %@ s (best %.3f)",
      loads.map { String(format: "%.3f", $0) }.joined(separator: ", "), loads.min()!))
  let prompts = arithmeticPrompts(m)
  let newTokens = 64
  for batch in [1, 16] {
    var rates: [Double] = []
    for run in 0..<3 {
      var rng = RandomState(seed: UInt64(run))
      let chosen = Array(prompts.prefix(batch))
      let start = Date()
      let rollouts = m.model.sample(
        prompts: chosen, counts: chosen.map { _ in 1 },
        options: SamplingOptions(greedy: true, maxNewTokens: newTokens, stopAtEOS: false),
        rng: &rng)
      let seconds = Date().timeIntervalSince(start)
      rates.append(Double(rollouts.reduce(0) { $0 + $1.tokens.count }) / seconds)
    }
    print(
      String(
        format:
          "pretrained-generate: batch %2d, prompt %d tokens, %d new: %@ new tokens/s (best %.1f)",
        batch, prompts[0].count, newTokens,
        rates.map { String(format: "%.1f", $0) }.joined(separator: ", "), rates.max()!))
  }
}

/// Writes the export and `allot_outputs.json` beside its files: Allot's token ids of the
/// tokenizer golden's texts, the chat prompts' ids and their greedy completions.
func benchmarkPretrainedExport() {
  guard let (m, _) = loadSmolLM2("pretrained-export") else { return }
  do {
    try? FileManager.default.removeItem(atPath: exportPath)
    let start = Date()
    try m.exportHuggingFace(to: exportPath)
    print(
      String(format: "pretrained-export: %@ in %.2f s", exportPath, Date().timeIntervalSince(start))
    )
    let golden = try JSONSerialization.jsonObject(
      with: Data(
        contentsOf: URL(fileURLWithPath: "Tests/PretrainedTests/golden/smollm2_tokens_golden.json"))
    )
    let texts = ((golden as! [String: Any])["encodes"] as! [[String: Any]]).map {
      $0["text"] as! String
    }
    let messages = [
      "What is 2 + 3?", "Write a haiku about the sea.", "Name three prime numbers.",
      "What is 47 + 38? Answer with the number only.",
    ]
    let results = try m.generate(
      messages, options: GenerationOptions(greedy: true, maxNewTokens: 32))
    let outputs: [String: Any] = [
      "encodes": texts.map { ["text": $0, "ids": m.tokenize($0).ids] },
      "generations": zip(messages, results).map { message, r in
        [
          "message": message, "promptIds": try! m.promptIDs(message, format: .chat),
          "tokens": r.tokens, "completion": r.completion, "finished": r.finished,
        ] as [String: Any]
      },
    ]
    try JSONSerialization.data(withJSONObject: outputs, options: [.sortedKeys])
      .write(to: URL(fileURLWithPath: exportPath + "/allot_outputs.json"))
    for r in results { print("  \(r.prompt.debugDescription) -> \(r.completion.debugDescription)") }
    let describe = Date()
    let descriptor = m.descriptor
    let encoded = Date().timeIntervalSince(describe)
    let rebuild = Date()
    _ = try PretrainedModel(
      descriptor: descriptor, weights: Dictionary(uniqueKeysWithValues: m.model.namedParameters()))
    print(
      String(
        format:
          "pretrained-export: descriptor %d bytes, written in %.3f s, model rebuilt in %.3f s",
        descriptor.utf8.count, encoded, Date().timeIntervalSince(rebuild)))
  } catch {
    print("pretrained-export: \(error)")
  }
}
