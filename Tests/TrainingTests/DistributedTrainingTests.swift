import Checkpoint
import Foundation
import Reasoning
import TensorCore
import Testing

@testable import Training

/// The real `train` executable as K ranks under Open MPI's `mpirun` (installed by
/// .ci/setup): the same run must give the same bits for every K.
private let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first {
  FileManager.default.isExecutableFile(atPath: $0)
}

/// Starts `train arguments` as `ranks` ranks (each rank's stdout and stderr go to the pipes).
private func launch(ranks: Int, _ arguments: [String]) throws -> Process {
  try mpirunProcess(
    ["-np", "\(ranks)", TrainProcess.executable.path] + TrainProcess.classifierByDefault(arguments))
}

/// `mpirun` (as root, oversubscribed, without the single-copy transport) with `arguments`;
/// gradients are exchanged in pieces of 1000 values, so that every exchange is cut.
private func mpirunProcess(_ arguments: [String]) throws -> Process {
  let path = try #require(mpirun, "mpirun not found: bash .ci/setup installs Open MPI")
  let process = Process()
  process.executableURL = URL(fileURLWithPath: path)
  process.arguments =
    ["--allow-run-as-root", "--oversubscribe", "-x", "ALLOT_EXCHANGE_PIECE=1000"] + arguments
  var environment = ProcessInfo.processInfo.environment
  environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"
  process.environment = environment
  return process
}

/// One job of one rank per element of `ranks` (an executable and its arguments), in Open
/// MPI's MPMD form `-np 1 a … : -np 1 b …`; runs to the end, returns (status, stdout, stderr).
private func mpmd(_ ranks: [[String]]) throws -> (Int32, String, String) {
  try finish(
    mpirunProcess(ranks.map { ["-np", "1"] + $0 }.joined(separator: [":"]).map { $0 }))
}

/// Runs to the end; returns (status, stdout, stderr).
private func mpi(_ ranks: Int, _ arguments: [String]) throws -> (Int32, String, String) {
  let process = try launch(ranks: ranks, arguments)
  return try finish(process)
}

/// Starts `process` with pipes for its output (unless it runs already), waits for the exit
/// and returns (status, stdout, stderr).
private func finish(_ process: Process) throws -> (Int32, String, String) {
  if !process.isRunning {
    process.standardOutput = Pipe()
    process.standardError = Pipe()
    try process.run()
  }
  let stdout = (process.standardOutput as? Pipe)?.fileHandleForReading.readDataToEndOfFile()
  let stderr = (process.standardError as? Pipe)?.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return (
    process.terminationStatus, String(decoding: stdout ?? Data(), as: UTF8.self),
    String(decoding: stderr ?? Data(), as: UTF8.self)
  )
}

/// Every dataset and attribute (but `createdAt`) of a run's newest checkpoint, floats as
/// bit patterns.
private struct Saved: Equatable {
  var tensors: [String: [UInt32]]
  var integers: [String: [Int64]]
  var unsigned: [String: [UInt64]]
  var doubles: [String: [UInt64]]
  var attributes: [String: AttributeValue]

  init(_ run: URL) throws {
    let data = try RunCheckpoints(directory: run).newestValid().data
    tensors = Dictionary(
      uniqueKeysWithValues: data.tensors.map { ($0.0, $0.1.scalars.map(\.bitPattern)) })
    integers = data.integers
    unsigned = data.unsignedIntegers
    doubles = data.doubles.mapValues { $0.map(\.bitPattern) }
    // Every attribute but the wall-clock time of writing, the run's own id (fixed at its
    // creation, so unique to each run) and the checksums, which cover those two.
    attributes = data.attributes.filter { !["createdAt", "runID", "checksums"].contains($0.key) }
    #expect(attributes.count >= 4)
  }
}

/// Metrics lines without the timing metrics (`perf/…`), which differ between any two runs;
/// values as bit patterns (a non-finite value is logged as null and read back as NaN).
private func metrics(_ run: URL) throws -> [[String: UInt64]] {
  try MetricsLog.read(run.appendingPathComponent("metrics.jsonl")).map { record in
    var values = record.values.filter { !$0.key.hasPrefix("perf/") }.mapValues(\.bitPattern)
    values["step"] = UInt64(record.step)
    return values
  }
}

/// Runs `config` with each rank count into one output folder and checks that every run
/// saved the same checkpoint and metrics as the first; returns the run directories.
@discardableResult
private func expectSameBits(_ config: [String], ranks: [Int], root: URL) throws -> [URL] {
  for k in ranks {
    let (status, out, err) = try mpi(k, config + ["--output", root.path])
    try #require(status == 0, "-np \(k): \(err)")
    #expect(out.contains("on \(k) rank"), "the start line names the rank count")
  }
  let made = runDirectories(root)
  try #require(made.count == ranks.count, "one run directory per run, whatever K")
  let first = try Saved(made[0])
  let firstMetrics = try metrics(made[0])
  #expect(firstMetrics.count > 0)
  // The evaluation (split across the ranks by shard) is among the metrics compared.
  #expect(firstMetrics.last?.keys.contains { $0.hasPrefix("eval/") } == true)
  for (k, run) in zip(ranks, made).dropFirst() {
    #expect(try Saved(run) == first, "-np \(k) saved another checkpoint than -np \(ranks[0])")
    #expect(try metrics(run) == firstMetrics, "-np \(k) logged other metrics")
    let command = try String(contentsOf: run.appendingPathComponent("command.txt"), encoding: .utf8)
    #expect(command.contains("# \(k) rank"))
  }
  return made
}

/// A short classifier run on two shards into `root`, for the jobs refused at start.
private func shortRun(_ root: URL) -> [String] {
  TrainProcess.classifierByDefault([
    "--quiet", "--set", "run.steps=5", "--set", "distributed.shards=2", "--output", root.path,
  ])
}

/// GRPO of a tiny transformer with Knapsack-RL and HICRA on, four shards.
private func tinyGRPO(steps: Int) -> [String] {
  [
    "--quiet", "--set", "kind=grpo", "--set", "run.steps=\(steps)", "--set", "model.layers=1",
    "--set", "model.width=16", "--set", "model.heads=2", "--set", "model.context=80", "--set",
    "model.mlpRatio=2", "--set", "task.maxDigits=1", "--set", "task.trainSize=12", "--set",
    "task.testSize=6", "--set", "grpo.promptsPerStep=6", "--set", "grpo.groupSize=4", "--set",
    "grpo.maxCompletionLength=16", "--set", "grpo.minibatchSize=10", "--set", "grpo.epochs=2",
    "--set", "grpo.beta=0.01", "--set", "knapsack.enabled=true", "--set", "knapsack.minimum=1",
    "--set", "hicra.enabled=true", "--set", "optimizer.learningRate=0.01", "--set",
    "evaluation.prompts=5", "--set", "evaluation.maxNewTokens=8", "--set", "checkpoint.every=2",
    "--set", "logging.every=1", "--set", "logging.evalEvery=4", "--set", "distributed.shards=4",
    "--set", "distributed.checkEvery=2",
  ]
}

/// Serialized: each test starts up to four ranks on a machine of two cores.
@Suite(.serialized) struct DistributedTraining {
  @Test func grpoGivesTheSameBitsOnOneTwoAndFourRanks() throws {
    try expectSameBits(tinyGRPO(steps: 4), ranks: [1, 2, 4], root: try scratch())
  }

  @Test func grpoLossVariantsGiveTheSameBitsOnOneAndTwoRanks() throws {
    let variants = (variantSets[0] + ["grpo.entropyCoefficient=0.01", "grpo.lossAggregation=bnpo"])
      .flatMap { ["--set", $0] }
    try expectSameBits(tinyGRPO(steps: 4) + variants, ranks: [1, 2], root: try scratch())
  }

  @Test func grpoWithDynamicSamplingAndSeveralStepsPerBatchGivesTheSameBitsOnOneAndTwoRanks()
    throws
  {
    let variants = [
      "--set", "dynamicSampling.enabled=true", "--set", "dynamicSampling.maxDraws=3", "--set",
      "grpo.stepsPerBatch=3",
    ]
    let runs = try expectSameBits(
      tinyGRPO(steps: 4) + variants, ranks: [1, 2], root: try scratch())
    // Some step drew again, so the ranks agreed on which groups to drop.
    let draws = try MetricsLog.read(runs[0].appendingPathComponent("metrics.jsonl")).compactMap {
      $0.values["dynamicSampling/draws"]
    }
    #expect(draws.count == 4 && draws.contains { $0 > 1 }, "\(draws)")
  }

  /// The command runs once per run, on rank 0 (it logs its process id), and the rewards
  /// it answers give the same bits on one and two ranks.
  @Test func anExternalRewardCommandRunsOnRankZeroAndKeepsTheBits() throws {
    let files = try scratch()
    let script = files.appendingPathComponent("verifier.py")
    let started = files.appendingPathComponent("started.txt")
    try Data(
      #"""
      import json, os, sys
      with open(sys.argv[1], "a") as log:
          log.write(f"{os.getpid()}\n")
      for line in sys.stdin:
          print(json.dumps({"len3": len(json.loads(line)["completion"]) % 3}), flush=True)
      """#.utf8
    ).write(to: script)
    let rewards = [
      "--set", "rewards.external.command=python3 \(script.path) \(started.path)", "--set",
      "rewards.external.names=[\"len3\"]", "--set", "rewards.overlong=0.5", "--set",
      "rewards.overlongCache=4",
    ]
    let runs = try expectSameBits(tinyGRPO(steps: 2) + rewards, ranks: [1, 2], root: try scratch())
    // Every training step's record (the step-0 evaluation has no rewards).
    #expect(try metrics(runs[0]).filter { $0["step"]! > 0 }.allSatisfy { $0["reward/len3"] != nil })
    let lines = try String(contentsOf: started, encoding: .utf8).split(separator: "\n")
    #expect(lines.count == 2, "one program per run: \(lines)")
  }

  @Test func sftGivesTheSameBitsOnOneAndTwoRanks() throws {
    let sft = [
      "--quiet", "--set", "kind=sft", "--set", "run.steps=4", "--set", "model.layers=1", "--set",
      "model.width=16", "--set", "model.heads=2", "--set", "model.context=160", "--set",
      "task.maxDigits=2", "--set", "task.trainSize=40", "--set", "task.testSize=4", "--set",
      "sft.batchSize=6", "--set", "evaluation.prompts=2", "--set", "evaluation.maxNewTokens=8",
      "--set", "logging.every=1", "--set", "logging.evalEvery=4", "--set", "distributed.shards=2",
    ]
    try expectSameBits(sft, ranks: [1, 2], root: try scratch())
  }

  @Test func rankZeroAloneWritesTensorBoardEventsAndTheRunSummary() throws {
    let root = try scratch()
    let (status, out, err) = try mpi(
      2,
      [
        "--quiet", "--output", root.path, "--set", "run.steps=10", "--set",
        "classifier.trainSize=200", "--set", "classifier.testSize=50", "--set",
        "classifier.batchSize=20", "--set", "logging.every=5", "--set", "logging.evalEvery=5",
        "--set", "logging.tensorboard=true", "--set", "distributed.shards=2",
      ])
    #expect(status == 0, "\(err)")
    let run = try #require(runDirectories(root).first)
    let events = try FileManager.default.contentsOfDirectory(atPath: run.path)
      .filter { $0.hasPrefix("events.out.tfevents.") }
    #expect(events.count == 1)  // one file: each process would name its own by its pid
    #expect(out.components(separatedBy: "run summary: step 0 → 10").count - 1 == 1)
  }

  @Test func taskAllocationGRPOAndTheClassifierGiveTheSameBitsOnOneAndTwoRanks() throws {
    let scenario = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../../Experiments/scenarios/almighty.json").standardized.path
    let allocation = [
      "--quiet", "--set", "kind=taskAllocation", "--set", "taskAllocation.scenario=\(scenario)",
      "--set", "taskAllocation.method=grpo", "--set", "taskAllocation.hidden=16", "--set",
      "taskAllocation.evaluationEpisodes=1", "--set", "taskAllocation.successTolerance=0.8",
      "--set", "run.steps=6", "--set",
      "grpo.promptsPerStep=3", "--set", "grpo.groupSize=6", "--set", "knapsack.enabled=true",
      "--set", "knapsack.minimum=1", "--set", "hicra.enabled=true", "--set", "logging.every=1",
      "--set", "logging.evalEvery=3", "--set", "distributed.shards=2",
    ]
    try expectSameBits(allocation, ranks: [1, 2], root: try scratch())
    let classifier = [
      "--quiet", "--set", "run.steps=20", "--set", "classifier.trainSize=200", "--set",
      "classifier.testSize=50", "--set", "classifier.hidden=[8]", "--set",
      "classifier.batchSize=30",
      "--set", "logging.every=5", "--set", "logging.evalEvery=10", "--set", "distributed.shards=2",
    ]
    try expectSameBits(classifier, ranks: [1, 2], root: try scratch())
  }

  @Test func aKilledRankStopsTheJobAndResumeOnOtherRankCountsReproducesTheStraightRun() throws {
    let steps = 12
    let root = try scratch()
    // One output folder for both runs, so that their saved configs are equal.
    #expect(try mpi(1, tinyGRPO(steps: steps) + ["--output", root.path]).0 == 0)
    let straight = try #require(runDirectories(root).first)
    func killedRun() -> URL? { runDirectories(root).first { $0 != straight } }

    let job = try launch(ranks: 2, tinyGRPO(steps: steps) + ["--output", root.path])
    job.standardOutput = Pipe()
    job.standardError = Pipe()
    try job.run()
    // Once the first checkpoint is written, kill rank 1 (SIGKILL: no chance to clean up).
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline,
      killedRun().map({ RunCheckpoints(directory: $0).all().isEmpty }) ?? true
    {
      Thread.sleep(forTimeInterval: 0.05)
    }
    let rank1 = try #require(rankProcess(1, of: job.processIdentifier), "rank 1 not found")
    let killed = Date()
    kill(rank1, SIGKILL)
    let (status, _, err) = try finish(job)
    let seconds = Date().timeIntervalSince(killed)
    #expect(status != 0, "the job must fail when a rank dies")
    #expect(seconds < 20, "the job took \(seconds) s to stop after a rank died")
    _ = err
    let run = try #require(killedRun())
    let newest = try RunCheckpoints(directory: run).newestValid()
    #expect(newest.data.integers["trainer/step"]!.first! < Int64(steps), "killed mid-run")
    // Resume on one rank, stop two steps later; finish on four ranks.
    let first = try mpi(1, ["--quiet", "--resume", run.path, "--stop-after", "2"])
    #expect(first.0 == 130, "\(first.2)")
    let second = try mpi(4, ["--quiet", "--resume", run.path])
    #expect(second.0 == 0, "\(second.2)")
    #expect(try Saved(run) == Saved(straight))
    #expect(try metrics(run) == metrics(straight))
    let command = try String(contentsOf: run.appendingPathComponent("command.txt"), encoding: .utf8)
    #expect(
      command.contains("# 2 ranks") && command.contains("# 1 rank") && command.contains("# 4 ranks")
    )
  }

  @Test func ranksWithDifferentConfigsAreRefusedBeforeAnythingIsWritten() throws {
    let root = try scratch()
    let train = TrainProcess.executable.path
    let common = shortRun(root)
    // Rank 0 and rank 1 get different --set arguments.
    let (status, _, err) = try mpmd([
      [train] + common + ["--set", "optimizer.learningRate=0.01"],
      [train] + common + ["--set", "optimizer.learningRate=0.02"],
    ])
    #expect(status != 0)
    #expect(err.contains("optimizer.learningRate"), "\(err)")
    #expect(err.contains("rank 1"), "\(err)")
    #expect(runDirectories(root).isEmpty, "nothing may be written")
    // More ranks than shards: refused with what to set.
    let (tooMany, _, tooManyErr) = try mpi(2, ["--quiet", "--output", root.path])
    #expect(tooMany != 0)
    #expect(tooManyErr.contains("distributed.shards"), "\(tooManyErr)")
    #expect(runDirectories(root).isEmpty)
  }

  @Test func aRankRunningAnotherBuildIsRefusedBeforeAnythingIsWritten() throws {
    let root = try scratch()
    // Another build: a copy of train with bytes appended (it still runs, but its size and
    // sampled hash differ), next to the original so it finds the same libraries.
    let train = TrainProcess.executable
    let other = train.deletingLastPathComponent().appendingPathComponent("train-other-build")
    try? FileManager.default.removeItem(at: other)
    defer { try? FileManager.default.removeItem(at: other) }
    var bytes = try Data(contentsOf: train)
    bytes.append(Data(repeating: 7, count: 4096))
    try bytes.write(to: other)
    #expect(chmod(other.path, 0o755) == 0)
    let common = shortRun(root)
    let (status, _, err) = try mpmd([[train.path] + common, [other.path] + common])
    #expect(status != 0)
    #expect(err.contains("rank 1 runs another build of train than rank 0"), "\(err)")
    #expect(runDirectories(root).isEmpty, "nothing may be written")
  }

  @Test func aParameterDivergenceStopsTheRunNamingTheStepAndTheRanks() throws {
    let root = try scratch()
    // Rank 1 flips one bit of its parameters after step 3; the check at step 4 sees it.
    let (status, _, err) = try mpi(
      2, tinyGRPO(steps: 6) + ["--output", root.path, "--diverge-at", "1:3"])
    #expect(status != 0)
    #expect(err.contains("the parameters diverged across ranks at step 4"), "\(err)")
    #expect(err.contains("rank(s) 1 differ from rank 0"), "\(err)")
    let run = try #require(runDirectories(root).first)
    let newest = try RunCheckpoints(directory: run).newestValid()
    #expect(newest.data.integers["trainer/step"] == [2], "the newest checkpoint predates it")
    // Without the hook the same job agrees to the end.
    let straight = try mpi(2, tinyGRPO(steps: 6) + ["--output", try scratch().path])
    #expect(straight.0 == 0, "\(straight.2)")
    // A malformed hook value is refused, naming it.
    let (bad, _, badErr) = try TrainProcess.run(["--quiet", "--diverge-at", "one"])
    #expect(bad == 2)
    #expect(badErr.contains("--diverge-at one"), "\(badErr)")
  }

  @Test func pretrainedGRPOGivesTheSameBitsAndEvaluationOnOneTwoAndFourRanks() throws {
    let root = try scratch()
    let config = try tinyExperiment(in: root, model: tinyGGUF)
    try expectSameBits(
      ["--quiet", "--config", config.path, "--set", "distributed.shards=4"], ranks: [1, 2, 4],
      root: root.appendingPathComponent("runs"))
  }
}

/// The process id of rank `rank` among the children of `mpirun` (Linux /proc).
private func rankProcess(_ rank: Int, of parent: Int32) -> Int32? {
  let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
  for entry in entries {
    guard let pid = Int32(entry),
      let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
      let close = stat.lastIndex(of: ")")
    else { continue }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 2, Int32(fields[1]) == parent,
      let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
    else { continue }
    let variables = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
  }
  return nil
}

@Test func samplingGroupsBalanceUnevenBudgetsAndIgnoreTheRankCount() throws {
  let parallel = try DataParallel(DistributedConfig(shards: 4, checkEvery: 0))
  // Knapsack-RL budgets: two prompts take most of the rollouts.
  let budgets: [Double] = [2, 16, 2, 2, 4, 16, 2, 4, 8, 8]
  let groups = parallel.samplingGroups(costs: budgets)
  #expect(groups == [[1], [5], [0, 3, 4, 8], [2, 6, 7, 9]])
  #expect(groups.map { $0.map { budgets[$0] }.reduce(0, +) } == [16, 16, 16, 16])
  #expect(groups.flatMap { $0 }.sorted() == Array(budgets.indices))
  // Contiguous shards by index, whatever the count.
  #expect((0..<4).map { parallel.positions(of: $0, count: 10) } == [0..<2, 2..<5, 5..<7, 7..<10])
}

@Test func theDivergenceHashSeesOneBitAndEveryName() {
  func hash(_ tensors: [(String, [Float])]) -> UInt64 {
    var state = TrainingState()
    state.tensors = tensors.map { ($0.0, Tensor($0.1)) }
    return RankAgreement.stateHash(state)
  }
  let base = hash([("model/w", [1, 2]), ("optimizer/w/m", [0, 0])])
  #expect(hash([("model/w", [1, 2]), ("optimizer/w/m", [0, 0])]) == base)
  #expect(hash([("model/w", [1, Float(2).nextUp]), ("optimizer/w/m", [0, 0])]) != base)
  #expect(hash([("model/w", [1, 2]), ("optimizer/w/m", [0, -0.0])]) != base)
  #expect(hash([("model/v", [1, 2]), ("optimizer/w/m", [0, 0])]) != base)
}

/// Rewards a prompt by its index alone (odd: 1), whatever the completion; three
/// difficulties, so a reward scored against the wrong prompt changes the metrics.
private struct OddPromptTask: ReasoningTask {
  var name: String { "odd-prompt" }
  var difficulties: [String] { ["d0", "d1", "d2"] }
  func prompts(_ split: Split) -> [TaskPrompt] {
    (0..<10).map {
      TaskPrompt(id: "\($0)", text: "Q\($0)\n", answer: "", difficulty: "d\($0 % 3)")
    }
  }
  func reward(_ prompt: TaskPrompt, completion: String) -> Double {
    Double(Int(prompt.id)! % 2)
  }
  func solution(_ prompt: TaskPrompt) -> String? { nil }
}

@Test func theSplitEvaluationScoresEveryPromptInIndexOrder() throws {
  let tokenizer = Tokenizer()
  var rng = RandomState(seed: 0)
  let model = ModelConfig(
    layers: 1, heads: 2, width: 16, context: 16, mlpRatio: 2, tiedEmbeddings: false
  ).makeTransformer(tokenizer: tokenizer, rng: &rng)
  let task = OddPromptTask()
  func metrics(shards: Int) throws -> [String: Double] {
    greedyPassAt1(
      model, tokenizer: tokenizer, task: task, prompts: task.prompts(.test),
      encode: { try encodePrompt($0, tokenizer: tokenizer) }, maxNewTokens: 3,
      parallel: try DataParallel(DistributedConfig(shards: shards, checkEvery: 0)))
  }
  let whole = try metrics(shards: 1)
  #expect(
    whole == [
      "eval/pass1": 0.5, "eval/pass1/d0": 0.5, "eval/pass1/d1": 2.0 / 3, "eval/pass1/d2": 1.0 / 3,
    ])
  // Four groups of 2, 3, 2 and 3 prompts on one process: the same scores.
  #expect(try metrics(shards: 4) == whole)
}
