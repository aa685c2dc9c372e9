import ArgumentParser
import Checkpoint
import Foundation
import GRPO
import Reasoning
import TaskAllocation
import TensorCore
import Training

/// Companion commands to `train`: look into checkpoints and runs, evaluate, summarise
/// sweeps and plot curves.
struct Allot: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "allot",
    abstract: "Inspect, evaluate, summarise and plot Allot runs.",
    subcommands: [
      Inspect.self, Evaluate.self, Summarize.self, Plot.self, Mine.self, Baselines.self,
    ])
}

/// Prints `message` as one paragraph on stderr and exits non-zero.
func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("allot: error: \(message)\n".utf8))
  Foundation.exit(1)
}

/// A checkpoint named by its file or its run directory (the newest valid one).
func openCheckpoint(_ argument: String) -> (URL, CheckpointData) {
  do {
    let found = try RunCheckpoints.locate(argument, experiment: "", root: ".")
    for warning in found.warnings {
      FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
    }
    return (found.url, found.data)
  } catch {
    fail("\(error)")
  }
}

struct Inspect: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Show a checkpoint: step, model, parameter names and shapes, and the run's metrics so far.")

  @Argument(help: "A checkpoint file or a run directory.")
  var path: String

  @Flag(help: "Also print the resolved config saved in the checkpoint.")
  var config = false

  func run() throws {
    let (url, data) = openCheckpoint(path)
    print("checkpoint: \(url.path)")
    for key in ["step", "kind", "createdAt", "allotVersion", "formatVersion"] {
      if let value = data.attributes[key] { print("\(key): \(value)") }
    }
    let model = data.tensors.filter { $0.0.hasPrefix("model/") }
    let count = model.reduce(0) { $0 + $1.1.count }
    print("parameters: \(count) in \(model.count) tensors")
    let width = model.map(\.0.count).max() ?? 0
    for (name, tensor) in model {
      print(
        "  \(name.dropFirst(6))\(String(repeating: " ", count: width - name.count + 2)) \(tensor.shape)"
      )
    }
    let others = data.tensors.count - model.count
    print("other tensors: \(others) (optimizer moments, trainer state)")
    for (name, values) in data.integers.sorted(by: { $0.key < $1.key }) {
      print("  \(name) = \(values)")
    }
    let metrics =
      (try? MetricsLog.read(url.deletingLastPathComponent().appendingPathComponent("metrics.jsonl")))
      ?? []
    if let last = metrics.last {
      print("metrics: \(metrics.count) lines, last at step \(last.step):")
      for key in last.values.keys.sorted() { print("  \(key) = \(last.values[key]!)") }
    }
    if config, case .string(let text)? = data.attributes["config"] { print("config:\n\(text)") }
  }
}

struct Evaluate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Evaluate a checkpoint on its task's test split and print the eval metrics.",
    discussion: """
      For the transformer policy: greedy pass@1, and mean@k and pass@k from --samples k \
      sampled completions per prompt, overall and per difficulty; --completions writes every \
      completion to a JSONL file for reading.
      """)

  @Argument(help: "A checkpoint file or a run directory.")
  var path: String

  @Option(help: "The split to evaluate (train or test).")
  var split = "test"

  @Option(help: "Prompts to evaluate (0: the whole split).")
  var prompts = 0

  @Option(help: "Sampled completions per prompt for mean@k and pass@k (0: greedy only).")
  var samples = 4

  @Option(help: "Sampling temperature.")
  var temperature: Float = 1

  @Option(help: "The seed of the sampling.")
  var seed: UInt64 = 0

  @Option(help: "The longest completion (default: the checkpoint's evaluation.maxNewTokens).")
  var maxNewTokens: Int?

  @Option(help: ArgumentHelp("Write every completion to this JSONL file.", valueName: "file"))
  var completions: String?

  @Option(
    help: ArgumentHelp(
      "Evaluate on the task of this experiment file instead of the checkpoint's own.",
      valueName: "exp.json"))
  var task: String?

  func run() throws {
    let (url, data) = openCheckpoint(path)
    do {
      let trainer = try restoredTrainer(data, file: url.path)
      print("checkpoint: \(url.path) (step \(trainer.step))")
      guard let policy = trainer as? any PolicyTrainer else {
        for (key, value) in trainer.evaluate().sorted(by: { $0.key < $1.key }) {
          print("\(key) \(value)")
        }
        return
      }
      guard let chosen = Reasoning.Split(rawValue: split) else {
        fail("--split must be train or test, not \(split)")
      }
      let evaluatedTask =
        try task.map { try makeTask(ConfigLoader.resolve(file: $0).task) } ?? policy.task
      var items = evaluatedTask.prompts(chosen)
      if prompts > 0 { items = Array(items.prefix(prompts)) }
      var rng = RandomState(seed: seed)
      let report = try Reasoning.evaluate(
        policy.policy, tokenizer: policy.tokenizer, task: evaluatedTask, prompts: items,
        samples: samples,
        temperature: temperature,
        maxNewTokens: maxNewTokens ?? policy.config.evaluation.maxNewTokens, rng: &rng)
      print(report.table)
      if let completions {
        var lines = ""
        for s in report.samples {
          let object: JSONValue = .object([
            "id": .string(s.promptID), "prompt": .string(s.prompt),
            "completion": .string(s.completion),
            "reward": .number(s.reward), "greedy": .bool(s.greedy),
          ])
          lines += String(decoding: try object.data(), as: UTF8.self) + "\n"
        }
        try Data(lines.utf8).write(to: URL(fileURLWithPath: completions), options: .atomic)
        print("wrote \(report.samples.count) completions to \(completions)")
      }
    } catch {
      fail("\(error)")
    }
  }
}

struct Summarize: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Summarise a sweep: one row per setting, mean ± std over seeds, best marked.")

  @Argument(help: "A folder of run directories (a sweep).")
  var folder: String

  @Option(help: "The metric to score runs by (its last logged value).")
  var metric = "eval/accuracy"

  @Option(
    help: "Score each run by the metric's last logged value (last) or its mean over the run (mean)."
  )
  var aggregate = "last"

  @Flag(help: "Lower is better (for losses).")
  var minimize = false

  func run() throws {
    do {
      let runs = try RunSummary.runs(in: URL(fileURLWithPath: folder))
      guard !runs.isEmpty else {
        fail("\(folder) holds no run directories (folders with a config.json)")
      }
      guard let how = SweepTable.Aggregate(rawValue: aggregate) else {
        fail("--aggregate must be last or mean, not \(aggregate)")
      }
      let table = try SweepTable(runs: runs, metric: metric, aggregate: how)
      print(table.markdown(minimize: minimize))
      if let best = table.best(minimize: minimize) {
        print(
          "\nbest: "
            + (best.setting.isEmpty
              ? "(single setting)" : best.setting.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
            + String(
              format: "  %@ %.4f ± %.4f over %d runs", metric, best.mean, best.std,
              best.values.count))
      }
    } catch {
      fail("\(error)")
    }
  }
}

struct Plot: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Plot a metric against the step for one or more runs, as an SVG file.")

  @Argument(help: "Run directories, sweep folders (every run inside) or metrics.jsonl files.")
  var paths: [String]

  @Option(help: "The metric to plot.")
  var metric = "loss/train"

  @Option(name: .shortAndLong, help: "The SVG file to write.")
  var output: String

  @Option(help: "The chart title (default: the metric).")
  var title: String?

  func run() throws {
    var series: [SVGPlot.Series] = []
    do {
      for path in paths {
        let url = URL(fileURLWithPath: path)
        let files: [(String, URL)]
        if path.hasSuffix(".jsonl") {
          files = [(url.deletingLastPathComponent().lastPathComponent, url)]
        } else {
          files = try RunSummary.runs(in: url).map {
            ($0.directory.lastPathComponent, $0.directory.appendingPathComponent("metrics.jsonl"))
          }
        }
        for (label, file) in files {
          let points = try MetricsLog.read(file).compactMap { r in
            r.values[metric].map { (Double(r.step), $0) }
          }
          if points.isEmpty {
            FileHandle.standardError.write(Data("warning: \(file.path) has no \(metric)\n".utf8))
          }
          series.append(SVGPlot.Series(label: label, points: points))
        }
      }
    } catch {
      fail("\(error)")
    }
    guard series.contains(where: { !$0.points.isEmpty }) else {
      fail("no run had the metric \(metric)")
    }
    series = Self.shortLabels(series)
    let svg = SVGPlot(title: title ?? metric, yLabel: metric, series: series).render()
    do {
      try Data(svg.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
    } catch {
      fail("cannot write \(output): \(error.localizedDescription)")
    }
    print("wrote \(output) (\(series.count) runs)")
  }

  /// `name__seed3__20261124-203539` becomes `name s3`; the timestamp is kept only where
  /// two runs would otherwise share a label.
  static func shortLabels(_ series: [SVGPlot.Series]) -> [SVGPlot.Series] {
    func short(_ label: String) -> String {
      let parts = label.components(separatedBy: "__")
      guard parts.count == 3, parts[1].hasPrefix("seed") else { return label }
      return "\(parts[0]) s\(parts[1].dropFirst(4))"
    }
    let counts = Dictionary(grouping: series.map { short($0.label) }, by: { $0 }).mapValues(\.count)
    return series.map { s in
      var copy = s
      let label = short(s.label)
      copy.label =
        counts[label]! > 1 ? "\(label) \(s.label.components(separatedBy: "__").last ?? "")" : label
      return copy
    }
  }
}

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
    guard let data = FileManager.default.contents(atPath: url.path) else {
      fail("\(url.path): cannot read the file")
    }
    var successes: [String] = []
    for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
      guard case .object(let fields)? = try? JSONValue.parse(Data(line.utf8), source: url.path),
        case .string(let completion)? = fields["completion"],
        case .number(let reward)? = fields["reward"]
      else { fail("\(url.path):\(i + 1): needs \"completion\" (string) and \"reward\" (number)") }
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
      guard let policy = trainer as? any PolicyTrainer else {
        fail("\(ckptURL.path): not a transformer policy, which --group embeddings needs")
      }
      let table = policy.policy.tokens.weight
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

struct Baselines: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Play every task-allocation baseline through full episodes of a scenario file.",
    discussion: """
      Scenario files are JSON (see docs/task-allocation.md and Experiments/scenarios). A variant \
      file that gives only an entity table or a task queue takes the rest from --base; \
      --random makes a grid scenario of any size instead. Prints one row per allocator: return \
      (mean ± std over --seeds for the random ones), tasks completed, seconds per decision. \
      With --policy, a trained two-stage policy joins the table, greedy and sampled (zero-shot \
      when the scenario is not the one it trained on).
      """)

  @Argument(help: "A scenario file (or give --random).")
  var scenario: String?

  @Option(help: "A scenario that supplies the fields the first one leaves out.")
  var base: String?

  @Option(
    help:
      "A random grid scenario instead of a file: ENTITIES,TASKS,DIMENSIONS (seeded by --scenario-seed)."
  )
  var random: String?

  @Option(help: "The seed of the --random scenario.")
  var scenarioSeed = 0

  @Option(help: "Seeds for random order, the genetic algorithm and the sampled policy.")
  var seeds = 5

  @Option(help: "Branch-and-bound nodes per decision for the exact allocator (0: skip it).")
  var exactNodes = 2000

  @Flag(
    help:
      "Also solve every decision of every row with the exact allocator (--exact-nodes) and report each row's mean optimality gap per decision (slow on rbf-sized decisions)."
  )
  var gap = false

  @Option(
    help: ArgumentHelp(
      "A taskAllocation checkpoint, run directory, or auto:<experiment> (its newest run under Checkpoints) whose two-stage policy joins the table.",
      discussion:
        "Repeat it (one per seed of a sweep): the rows then show mean ± std over the policies."))
  var policy: [String] = []

  func run() throws {
    do {
      let loaded: Scenario
      if let random {
        let sizes = random.split(separator: ",").compactMap { Int($0) }
        guard sizes.count == 3, sizes.allSatisfy({ $0 >= 1 }) else {
          fail(
            "--random is \"\(random)\"; expected ENTITIES,TASKS,DIMENSIONS, each ≥ 1, e.g. 40,20,3")
        }
        loaded = Scenario.random(
          entities: sizes[0], tasks: sizes[1], dimensions: sizes[2], seed: UInt64(scenarioSeed))
      } else if let scenario {
        let b = try base.map { try Scenario.load($0) }
        loaded = try Scenario.load(scenario, base: b)
      } else {
        fail("give a scenario file or --random ENTITIES,TASKS,DIMENSIONS")
      }
      guard seeds >= 1 else { fail("--seeds must be ≥ 1") }
      let gapNodes = gap ? max(exactNodes, 1) : 0
      var report = BaselineReport(
        loaded, seeds: seeds, exactNodes: exactNodes, gapNodes: gapNodes)
      if !policy.isEmpty {
        let nets = try policy.map { argument in
          let (url, data) =
            argument.hasPrefix("auto:")
            ? try {
              let found = try RunCheckpoints.locate(
                "auto", experiment: String(argument.dropFirst(5)),
                root: ExperimentConfig().run.outputDir)
              return (found.url, found.data)
            }() : openCheckpoint(argument)
          return try loadAllocationPolicy(data, file: url.path)
        }
        let suffix = nets.count > 1 ? " (\(nets.count) policies)" : ""
        report.rows.append(
          BaselineReport.play(
            loaded, "two-stage greedy" + suffix, nets.map { LearnedAllocator(policy: $0) },
            gapNodes: gapNodes))
        report.rows.append(
          BaselineReport.play(
            loaded, "two-stage sampled" + suffix,
            nets.flatMap { net in
              (0..<seeds).map { LearnedAllocator(policy: net, greedy: false, seed: UInt64($0)) }
            }, gapNodes: gapNodes))
      }
      print(report.markdown)
    } catch {
      fail("\(error)")
    }
  }
}

// One OpenBLAS thread, as in training: the machines are small and often shared, and
// more threads busy-wait when the other core is taken.
BLAS.setThreads(1)
Allot.main()
