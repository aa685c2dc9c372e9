import ArgumentParser
import Checkpoint
import Foundation
import GRPO
import Reasoning
import TaskAllocation
import TensorCore
import Training

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
      _ = try Scenario.seed(scenarioSeed, option: "--scenario-seed")
      if let random {
        let parts = random.split(separator: ",", omittingEmptySubsequences: false)
        let sizes = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, sizes.count == 3 else {
          fail(
            "--random is \"\(random)\"; expected ENTITIES,TASKS,DIMENSIONS, three whole numbers, "
              + "e.g. 40,20,3")
        }
        loaded = try Scenario.validatedRandom(
          entities: sizes[0], tasks: sizes[1], dimensions: sizes[2], seed: scenarioSeed,
          option: "--random \(random)")
      } else if let scenario {
        for file in [scenario] + (base.map { [$0] } ?? []) {
          if let data = FileManager.default.contents(atPath: file),
            ConfigLoader.isExperimentConfig(data)
          {
            fail(
              "\(file): this is an experiment config, not a scenario file: train it with "
                + "`train --config \(file)`; allot baselines takes the scenario it names "
                + "(taskAllocation.scenario)")
          }
        }
        let b = try base.map { try Scenario.load($0) }
        loaded = try Scenario.load(scenario, base: b)
      } else {
        fail("give a scenario file or --random ENTITIES,TASKS,DIMENSIONS")
      }
      guard (1...10_000).contains(seeds) else {
        fail("--seeds is \(seeds); it must be in 1...10000")
      }
      guard (0...100_000_000).contains(exactNodes) else {
        fail(
          "--exact-nodes is \(exactNodes); it must be in 0...100000000 (0 skips the exact allocator)"
        )
      }
      let gapNodes = gap ? max(exactNodes, 1) : 0
      // Decisions the exact solver could not solve exactly: of the exact row, and behind the
      // gaps; either makes the command refuse to report rather than report a wrong optimum.
      let failures = SolverFailures()
      let gapFailures = SolverFailures()
      let episodes =
        "episodes of \(loaded.name)" + (gap ? ", each decision also solved exactly" : "")
      let playing = { (row: String) in status("playing \(row): \(episodes)…") }
      var report = BaselineReport(
        loaded, seeds: seeds, exactNodes: 0, gapNodes: gapNodes, gapFailures: gapFailures,
        announce: playing)
      if exactNodes > 0 {  // first, as BaselineReport puts it
        playing("exact per decision (at most \(exactNodes) nodes each)")
        report.rows.insert(
          BaselineReport.play(
            loaded, "exact per decision",
            [BoundedExact(nodeLimit: exactNodes, failures: failures)], gapNodes: gapNodes,
            gapFailures: gapFailures),
          at: 0)
      }
      if let first = failures.first {
        fail(
          "the exact allocator failed on \(failures.count) decision\(failures.count == 1 ? "" : "s") "
            + "of \(loaded.name) (first: \(first)); its row would not be exact, so nothing is "
            + "reported (run with --exact-nodes 0 to skip it)")
      }
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
        // Policies of one experiment (the seeds of a sweep) share a row; experiments differ.
        var experiments: [String] = []
        for net in nets where !experiments.contains(net.experiment) {
          experiments.append(net.experiment)
        }
        for experiment in experiments {
          let group = nets.filter { $0.experiment == experiment }.map(\.policy)
          let suffix = " \(experiment)" + (group.count > 1 ? " (\(group.count) policies)" : "")
          playing("the two-stage policy\(suffix), greedy then sampled")
          report.rows.append(
            BaselineReport.play(
              loaded, "two-stage greedy" + suffix, group.map { LearnedAllocator(policy: $0) },
              gapNodes: gapNodes, gapFailures: gapFailures))
          report.rows.append(
            BaselineReport.play(
              loaded, "two-stage sampled" + suffix,
              group.flatMap { net in
                (0..<seeds).map { LearnedAllocator(policy: net, greedy: false, seed: UInt64($0)) }
              }, gapNodes: gapNodes, gapFailures: gapFailures))
        }
      }
      if let first = gapFailures.first {
        fail(
          "the exact allocator behind --gap failed on \(gapFailures.count) decision"
            + "\(gapFailures.count == 1 ? "" : "s") of \(loaded.name) (first: \(first)); the gaps "
            + "would not be to the optimum, so nothing is reported (run without --gap)")
      }
      print(report.markdown)
    } catch {
      fail("\(error)")
    }
  }
}
