import ArgumentParser
import Checkpoint
import Foundation
import GRPO
import Reasoning
import TaskAllocation
import TensorCore
import Training

struct Mine: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Mine strategic grams (HICRA phrases) from the successful completions of a run.",
    discussion: """
      Reads completions.jsonl of a GRPO run (or any JSONL of {"completion", "reward"}), keeps \
      the completions with reward ≥ --threshold, counts word n-grams (n = --min-n … --max-n) \
      by the number of distinct successful completions containing them, and writes the top \
      --fraction to a file that hicra.phrasesFile can name. N-grams are grouped by identity \
      (case and whitespace folded), or with --group embeddings by the policy's token \
      embeddings: each n-gram is the mean embedding of its tokens, and n-grams whose cosine \
      similarity to a group's leader reaches --similarity join that group (ranked by the \
      solutions containing any member; every member of a kept group is written). The policy \
      is --checkpoint, or the newest checkpoint of the run directory. To mine a checkpoint's \
      own completions, write them with `allot evaluate CKPT --completions FILE` and mine FILE.
      """)

  @Argument(help: "A run directory (its completions.jsonl) or a JSONL file.")
  var source: String

  @Option(name: .shortAndLong, help: "The phrase file to write.")
  var output: String

  @Option(help: "The smallest n.") var minN = 3
  @Option(help: "The largest n.") var maxN = 5
  @Option(help: "The share of n-grams kept.") var fraction = 0.2
  @Option(help: "The reward counted as success.") var threshold = 1.0
  @Option(help: "How n-grams are grouped: identity or embeddings.") var group = "identity"
  @Option(help: "The checkpoint whose embeddings group n-grams (default: the run's newest).")
  var checkpoint: String?
  @Option(help: "The cosine similarity at which an n-gram joins a group.") var similarity: Float =
    0.9

  func run() throws {
    guard minN >= 1 && minN <= maxN else { fail("--min-n must lie in 1...--max-n") }
    guard group == "identity" || group == "embeddings" else {
      fail("--group must be identity or embeddings, not \(group)")
    }
    guard similarity > -1 && similarity <= 1 else { fail("--similarity must lie in (-1, 1]") }
    guard fraction > 0 && fraction <= 1 else { fail("--fraction must lie in (0, 1]") }
    var url = URL(fileURLWithPath: source)
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory),
      isDirectory.boolValue
    {
      url = url.appendingPathComponent("completions.jsonl")
    }
    guard FileManager.default.isReadableFile(atPath: url.path) else {
      fail("\(url.path): cannot read the file")
    }
    var successes: [String] = []
    for line in readJSONLines(url) {
      guard case .object(let fields)? = try? line.value.get(),
        case .string(let completion)? = fields["completion"],
        case .number(let reward)? = fields["reward"]
      else {
        fail("\(url.path):\(line.number): needs \"completion\" (string) and \"reward\" (number)")
      }
      if reward >= threshold { successes.append(completion) }
    }
    guard !successes.isEmpty else { fail("\(url.path): no completion reached reward \(threshold)") }
    let header = "from \(Set(successes).count) distinct successful completions of \(url.path)"
    var text: String
    let phrases: Int
    if group == "identity" {
      let grams = mineStrategicGrams(from: successes, sizes: minN...maxN, fraction: fraction)
      phrases = grams.count
      text = "# \(grams.count) strategic grams \(header)\n"
      text +=
        "# (n = \(minN)…\(maxN), top \(fraction); the number after # is how many solutions contain it)\n"
      for g in grams { text += "\(g.gram)  # \(g.solutions)\n" }
    } else {
      let policyPath = checkpoint ?? (isDirectory.boolValue ? source : nil)
      guard let policyPath else {
        fail("--group embeddings needs --checkpoint when the source is a file")
      }
      let (ckptURL, data) = openCheckpoint(policyPath)
      let trainer: any Trainer
      do { trainer = try restoredTrainer(data, file: ckptURL.path) } catch { fail("\(error)") }
      guard let policy = trainer as? any LanguageModelTrainer else {
        fail("\(ckptURL.path): not a transformer policy, which --group embeddings needs")
      }
      let table = policy.languageModel.tokens.weight
      let width = table.shape[1]
      let rows = table.scalars
      let groups = mineStrategicGramGroups(
        from: successes, sizes: minN...maxN, fraction: fraction, similarity: similarity
      ) { gram in
        guard let ids = try? policy.tokenizer.encode(gram), !ids.isEmpty else { return nil }
        var mean = [Float](repeating: 0, count: width)
        for id in ids { for j in 0..<width { mean[j] += rows[id * width + j] } }
        return mean.map { $0 / Float(ids.count) }
      }
      phrases = groups.reduce(0) { $0 + $1.grams.count }
      text = "# \(phrases) strategic grams in \(groups.count) groups \(header)\n"
      text +=
        "# (n = \(minN)…\(maxN), grouped by the embeddings of \(ckptURL.path) at cosine ≥ \(similarity), top \(fraction) of groups; the number after # is how many solutions contain a member of the group)\n"
      for (k, g) in groups.enumerated() {
        for gram in g.grams { text += "\(gram)  # group \(k + 1): \(g.solutions)\n" }
      }
    }
    do {
      try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
    } catch {
      fail("cannot write \(output): \(error.localizedDescription)")
    }
    print("wrote \(phrases) phrases to \(output)")
  }
}
