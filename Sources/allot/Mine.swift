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
    abstract: "Mine strategic grams (HICRA phrases) from a policy's successful completions.",
    discussion: """
      The completions are those of a GRPO run (its completions.jsonl), of any JSONL of \
      {"completion", "reward"}, or, given an experiment file (exp.json), the replies its \
      policy samples now (a pretrained model's own replies, for one): --samples per prompt on \
      the first --prompts training prompts of its task, scored by the task (--completions \
      writes them). The completions with reward ≥ --threshold are kept, word n-grams (n = \
      --min-n … --max-n) are counted by the number of distinct successful completions \
      containing them (their document frequency), and the top --fraction of those in at \
      least the share --min-df of them are written to a file that hicra.phrasesFile can \
      name. N-grams are grouped by identity (case and whitespace folded), or by the policy's \
      token embeddings (each n-gram the mean embedding of its tokens): --group embeddings \
      joins an n-gram to the most similar group leader at cosine ≥ --similarity, --group \
      kmeans makes --clusters spherical k-means clusters; groups are ranked by the solutions \
      containing any member, and every member of a kept group is written. The policy is the \
      experiment's, --checkpoint's (a checkpoint or an exp.json), or the newest checkpoint \
      of the run directory.
      """)

  @Argument(help: "A run directory (its completions.jsonl), a JSONL file, or an exp.json.")
  var source: String

  @Option(name: .shortAndLong, help: "The phrase file to write.")
  var output: String

  @Option(help: "The smallest n.") var minN = 3
  @Option(help: "The largest n.") var maxN = 5
  @Option(help: "The share of n-grams (or groups) kept.") var fraction = 0.2
  @Option(help: "The least share of the successful completions a kept n-gram (group) is in.")
  var minDf = 0.0
  @Option(help: "The reward counted as success.") var threshold = 1.0
  @Flag(help: "Leave out n-grams with a digit (a problem's numbers are not strategy).")
  var withoutDigits = false
  @Option(help: "How n-grams are grouped: identity, embeddings or kmeans.") var group = "identity"
  @Option(
    help:
      "The checkpoint (or exp.json) whose policy's embeddings group n-grams (default: the run's newest)."
  )
  var checkpoint: String?
  @Option(help: "The cosine similarity at which an n-gram joins a group (--group embeddings).")
  var similarity: Float = 0.9
  @Option(help: "The number of k-means clusters (--group kmeans).") var clusters = 32

  @Option(help: "With an exp.json: the training prompts whose replies are sampled.")
  var prompts = 32
  @Option(help: "With an exp.json: sampled replies per prompt (besides the greedy one).")
  var samples = 4
  @Option(help: "With an exp.json: the sampling temperature.") var temperature: Float = 1
  @Option(help: "With an exp.json: the longest reply (default: evaluation.maxNewTokens).")
  var maxNewTokens: Int?
  @Option(help: "With an exp.json: the seed of the sampling.") var seed: UInt64 = 0
  @Option(help: ArgumentHelp("With an exp.json: write the replies here.", valueName: "file"))
  var completions: String?

  func validate() throws {
    guard minN >= 1 && minN <= maxN else {
      throw ValidationError("--min-n must lie in 1...--max-n")
    }
    guard ["identity", "embeddings", "kmeans"].contains(group) else {
      throw ValidationError("--group must be identity, embeddings or kmeans, not \(group)")
    }
    guard similarity > -1 && similarity <= 1 else {
      throw ValidationError("--similarity must lie in (-1, 1], not \(similarity)")
    }
    guard fraction > 0 && fraction <= 1 else {
      throw ValidationError("--fraction must lie in (0, 1], not \(fraction)")
    }
    guard minDf >= 0 && minDf <= 1 else {
      throw ValidationError("--min-df must lie in [0, 1], not \(minDf)")
    }
    guard clusters >= 1 else { throw ValidationError("--clusters must be ≥ 1, not \(clusters)") }
    guard prompts >= 1 else { throw ValidationError("--prompts must be ≥ 1, not \(prompts)") }
    guard samples >= 0 else { throw ValidationError("--samples must be ≥ 0, not \(samples)") }
    guard temperature > 0 && temperature.isFinite else {
      throw ValidationError("--temperature must be > 0, not \(temperature)")
    }
    if let maxNewTokens, maxNewTokens < 1 {
      throw ValidationError("--max-new-tokens must be ≥ 1, not \(maxNewTokens)")
    }
  }

  func run() throws {
    let (successes, origin, policy) =
      source.hasSuffix(".json") ? sampledSuccesses() : loggedSuccesses()
    guard !successes.isEmpty else { fail("\(origin): no completion reached reward \(threshold)") }
    let header = "from \(Set(successes).count) distinct successful completions of \(origin)"
    let sizes = minN...maxN
    var text: String
    let phrases: Int
    if group == "identity" {
      let grams = mineStrategicGrams(
        from: successes, sizes: sizes, fraction: fraction, minDocumentFrequency: minDf,
        withoutDigits: withoutDigits)
      phrases = grams.count
      text = "# \(grams.count) strategic grams \(header)\n"
      text +=
        "# (n = \(minN)…\(maxN), top \(fraction)\(dfNote); the number after # is how many solutions contain it)\n"
      for g in grams { text += "\(g.gram)  # \(g.solutions)\n" }
    } else {
      let (trainer, name) = policy ?? embeddingPolicy()
      let embed = { trainer.meanTokenEmbedding(of: $0) }
      let groups =
        group == "kmeans"
        ? mineStrategicGramClusters(
          from: successes, sizes: sizes, fraction: fraction, minDocumentFrequency: minDf,
          withoutDigits: withoutDigits, clusters: clusters, embedding: embed)
        : mineStrategicGramGroups(
          from: successes, sizes: sizes, fraction: fraction, minDocumentFrequency: minDf,
          withoutDigits: withoutDigits, similarity: similarity, embedding: embed)
      let grouping =
        group == "kmeans"
        ? "\(clusters) k-means clusters of the embeddings of \(name)"
        : "grouped by the embeddings of \(name) at cosine ≥ \(similarity)"
      phrases = groups.reduce(0) { $0 + $1.grams.count }
      text = "# \(phrases) strategic grams in \(groups.count) groups \(header)\n"
      text +=
        "# (n = \(minN)…\(maxN), \(grouping), top \(fraction) of groups\(dfNote); the number after # is how many solutions contain a member of the group)\n"
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

  private var dfNote: String {
    (minDf > 0 ? " of those in ≥ \(minDf) of the solutions" : "")
      + (withoutDigits ? ", n-grams with digits left out" : "")
  }

  /// The successful completions of a run directory's completions.jsonl or a JSONL file.
  private func loggedSuccesses() -> ([String], String, (any ReasoningPolicyTrainer, String)?) {
    let path =
      isDirectory(source)
      ? (source as NSString).appendingPathComponent("completions.jsonl") : source
    guard FileManager.default.isReadableFile(atPath: path) else {
      fail("\(path): cannot read the file")
    }
    var successes: [String] = []
    for line in readJSONLines(URL(fileURLWithPath: path)) {
      guard case .object(let fields)? = try? line.value.get(),
        case .string(let completion)? = fields["completion"],
        case .number(let reward)? = fields["reward"]
      else {
        fail("\(path):\(line.number): needs \"completion\" (string) and \"reward\" (number)")
      }
      if reward >= threshold { successes.append(completion) }
    }
    return (successes, path, nil)
  }

  /// The successful replies the policy of the experiment file `source` samples on its
  /// task's first training prompts, with that policy.
  private func sampledSuccesses() -> ([String], String, (any ReasoningPolicyTrainer, String)?) {
    guard checkpoint == nil else { fail("--checkpoint does not apply to an exp.json") }
    let policy = experimentPolicy(source)
    do {
      let task = policy.reasoningTask
      let items = Array(task.prompts(.train).prefix(prompts))
      let length = maxNewTokens ?? policy.evaluationMaxNewTokens
      status("sampling \(items.count) prompts (greedy, then \(samples) samples each)…")
      var rng = RandomState(seed: seed)
      let report = try policy.evaluationReport(
        task: task, prompts: items, samples: samples, temperature: temperature,
        maxNewTokens: length, rng: &rng)
      print(report.table)
      if let completions { try writeCompletions(report.samples, to: completions) }
      let successes = report.samples.filter { $0.reward >= threshold }.map(\.completion)
      let origin = "\(source) (\(items.count) prompts × greedy + \(samples) at T = \(temperature))"
      return (successes, origin, (policy, source))
    } catch {
      fail("\(error)")
    }
  }

  /// The policy of --checkpoint (a checkpoint or an exp.json), or of the run directory's
  /// newest checkpoint.
  private func embeddingPolicy() -> (any ReasoningPolicyTrainer, String) {
    guard let policyPath = checkpoint ?? (isDirectory(source) ? source : nil) else {
      fail("--group \(group) needs --checkpoint when the source is a file")
    }
    if policyPath.hasSuffix(".json") { return (experimentPolicy(policyPath), policyPath) }
    let (url, data) = openCheckpoint(policyPath)
    let trainer: any Trainer
    do { trainer = try restoredTrainer(data, file: url.path) } catch { fail("\(error)") }
    guard let policy = trainer as? any ReasoningPolicyTrainer else {
      fail("\(url.path): not a language-model policy, which --group \(group) needs")
    }
    return (policy, url.path)
  }
}

/// The policy an experiment file builds (for a pretrained model, its model file's).
private func experimentPolicy(_ path: String) -> any ReasoningPolicyTrainer {
  do {
    let config = try ConfigLoader.resolve(file: path)
    status("building the policy of \(path)…")
    guard let policy = try makeTrainer(config) as? any ReasoningPolicyTrainer else {
      fail("\(path): kind \(config.kind.rawValue) is not a language-model policy")
    }
    return policy
  } catch {
    fail("\(error)")
  }
}

private func isDirectory(_ path: String) -> Bool {
  var directory: ObjCBool = false
  return FileManager.default.fileExists(atPath: path, isDirectory: &directory)
    && directory.boolValue
}
