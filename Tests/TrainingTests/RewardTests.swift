import Checkpoint
import Foundation
import Reasoning
import Testing

@testable import Training

/// A tiny transformer GRPO run on one-digit arithmetic whose reward has every kind of
/// component; `command` is the external one (`len3`, weight 0.1).
private func rewardConfig(root: URL, steps: Int, command: String) -> ExperimentConfig {
  var c = ExperimentConfig()
  c.kind = .grpo
  c.run.name = "rewards"
  c.run.steps = steps
  c.run.outputDir = root.path
  c.model = ModelConfig(
    layers: 1, heads: 2, width: 16, context: 32, mlpRatio: 2, tiedEmbeddings: false)
  c.task.minDigits = 1
  c.task.maxDigits = 1
  c.task.trainSize = 20
  c.task.testSize = 4
  c.grpo.promptsPerStep = 2
  c.grpo.groupSize = 4
  c.grpo.maxCompletionLength = 6
  c.optimizer.learningRate = 0.02
  c.optimizer.schedule = .constant
  c.evaluation.prompts = 2
  c.evaluation.maxNewTokens = 6
  c.checkpoint.every = 0
  c.logging.every = 1
  c.logging.evalEvery = 0
  c.rewards.format = 0.5
  c.rewards.overlong = 0.25
  c.rewards.overlongCache = 2
  c.rewards.external.command = command
  c.rewards.external.names = ["len3"]
  c.rewards.external.weights = [0.1]
  c.rewards.external.timeoutSeconds = 2
  return c
}

/// A verifier that answers `len3` = the completion's length mod 3, and, while `flag` exists,
/// fails on its 19th line (the 3rd completion of step 3) as `mode` says.
private let testVerifier = #"""
  import json, os, sys, time
  mode, flag = sys.argv[1], sys.argv[2]
  for n, line in enumerate(sys.stdin, start=1):
      request = json.loads(line)
      if n == 19 and os.path.exists(flag):
          if mode == "malformed":
              print("the answer is 1", flush=True)
              continue
          if mode == "crash":
              sys.exit(3)
          if mode == "hang":
              time.sleep(60)
      print(json.dumps({"len3": len(request["completion"]) % 3}), flush=True)
  """#

private func temporaryRoot() throws -> URL {
  let root = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-rewards-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
  return root
}

/// metrics.jsonl without the timings.
private func metrics(_ run: URL) throws -> [[String: Double]] {
  // The training steps' records (not the step-0 evaluation's).
  try MetricsLog.read(run.appendingPathComponent("metrics.jsonl")).filter { $0.step > 0 }.map {
    $0.values.filter { !$0.key.hasPrefix("perf/") }
  }
}

private func finishedRun(_ outcome: SessionOutcome) -> URL? {
  if case .finished(let run, _) = outcome { return run }
  return nil
}

@Test func overlongPenaltyFollowsDAPO() {
  let values = [5, 6, 7, 9, 10].map {
    overlongPenalty(length: $0, finished: true, maxLength: 10, cache: 4)
  }
  #expect(values == [0, 0, -0.25, -0.75, -1])
  #expect(overlongPenalty(length: 10, finished: false, maxLength: 10, cache: 4) == -1)
}

@Test func componentsAddUpWithTheirWeights() throws {
  var config = rewardConfig(root: URL(fileURLWithPath: "/tmp"), steps: 1, command: "")
  config.rewards.external.names = []
  config.rewards.external.weights = []
  config.rewards.correctness = 2
  config.task.answerFrom = .lastNumber
  config.task.instruction = "Answer with a number."
  let task = try config.task.makeTask()
  let prompt = task.prompts(.train)[0]
  let reward = CompositeReward(config, task: task)
  let inputs = [
    RewardInput(prompt: prompt, text: "it is \(prompt.answer)", tokens: 3, finished: true),
    RewardInput(prompt: prompt, text: "no idea", tokens: 5, finished: true),
    RewardInput(prompt: prompt, text: "\(prompt.answer)1", tokens: 6, finished: false),
  ]
  let scored = try reward.score(inputs)
  #expect(scored.components.map(\.name) == ["correctness", "format", "overlong"])
  #expect(scored.components.map(\.values) == [[1, 0, 0], [1, 0, 1], [0, -0.5, -1]])
  #expect(scored.totals == [2 + 0.5, 0.25 * -0.5, 0.5 - 0.25])
}

@Test func theDefaultRewardIsTheVerifierAlone() throws {
  let config = ExperimentConfig()
  let task = try config.task.makeTask()
  let prompt = task.prompts(.train)[0]
  let texts = ["answer: \(prompt.answer)", "answer: x", "nothing"]
  let scored = try CompositeReward(config, task: task).score(
    texts.map { RewardInput(prompt: prompt, text: $0, tokens: 1, finished: true) })
  #expect(scored.components.map(\.name) == ["correctness"])
  #expect(scored.totals == texts.map { task.reward(prompt, completion: $0) })
}

@Test func rewardsConfigIsValidated() throws {
  func problems(_ sets: [String]) -> String {
    do {
      _ = try ConfigLoader.resolve(file: nil, overrides: ["kind=grpo"] + sets)
      return ""
    } catch { return "\(error)" }
  }
  #expect(
    problems(["rewards.overlong=1", "rewards.overlongCache=500"]).contains("rewards.overlongCache"))
  #expect(
    problems(["rewards.external.names=[\"a\"]"]).contains("rewards.external.command is empty"))
  #expect(problems(["rewards.external.command=x"]).contains("rewards.external.names"))
  #expect(
    problems(["rewards.external.command=x", "rewards.external.names=[\"mean\"]"]).contains(
      "taken by"))
  #expect(
    problems([
      "rewards.external.command=x", "rewards.external.names=[\"a\",\"b\"]",
      "rewards.external.weights=[1]",
    ]).contains("rewards.external.weights"))
  #expect(problems(["rewards.external.command=x", "rewards.external.names=[\"a\"]"]) == "")
  #expect(problems(["kind=sft", "rewards.format=1"]).contains("(kind \"grpo\") only"))
}

@Test func externalRewardsAreLoggedBesideTheTotal() throws {
  let root = try temporaryRoot()
  defer { try? FileManager.default.removeItem(at: root) }
  let script = root.appendingPathComponent("verifier.py")
  try Data(testVerifier.utf8).write(to: script)
  let command = "python3 \(script.path) none \(root.path)/no-flag"
  let outcome = try TrainingSession(
    config: rewardConfig(root: root, steps: 3, command: command), command: ["test"], quiet: true
  ).start()
  let run = try #require(finishedRun(outcome))
  let logged = try metrics(run)
  #expect(logged.count == 3)
  for m in logged {
    let parts = ["correctness", "format", "overlong", "len3"].map { m["reward/\($0)"] }
    #expect(!parts.contains(nil), "\(m.keys.sorted())")
    let total = zip([1, 0.5, 0.25, 0.1], parts.compactMap { $0 }).reduce(0) { $0 + $1.0 * $1.1 }
    #expect(abs(m["reward/mean"]! - total) < 1e-12)
  }
  // completions.jsonl has each completion's components.
  let lines = try String(
    contentsOf: run.appendingPathComponent("completions.jsonl"), encoding: .utf8
  ).split(separator: "\n")
  #expect(lines.count == 3 * 8)
  for line in lines {
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
    let parts = try #require(object["rewards"] as? [String: Double])
    #expect(parts.keys.sorted() == ["correctness", "format", "len3", "overlong"])
    let total = [1, 0.5, 0.25, 0.1].enumerated().reduce(0.0) { sum, w in
      sum + w.element * parts[["correctness", "format", "overlong", "len3"][w.offset]]!
    }
    #expect(abs((object["reward"] as! Double) - total) < 1e-12)
  }
  // The external reward is not constant, so the updates are real.
  #expect(Set(logged.map { $0["reward/len3"]! }).count > 1 || logged[0]["reward/std"]! > 0)
}

/// Each failure stops the run at step 3 with an error naming the command and the answer
/// line, after saving step 2; the resumed run (the flag gone) equals the one never stopped.
@Test(arguments: [
  ("malformed", "answer line 19 is not a JSON object"),
  ("crash", "exited with status 3 before answer line 19"),
  ("hang", "gave no answer line 19 within rewards.external.timeoutSeconds (2.0 s)"),
])
func externalRewardFailuresSaveTheLastStepAndResume(mode: String, message: String) throws {
  let root = try temporaryRoot()
  defer { try? FileManager.default.removeItem(at: root) }
  let script = root.appendingPathComponent("verifier.py")
  try Data(testVerifier.utf8).write(to: script)
  let flag = root.appendingPathComponent("flag")
  let command = "python3 \(script.path) \(mode) \(flag.path)"

  var straightConfig = rewardConfig(root: root, steps: 4, command: command)
  straightConfig.run.name = "straight"
  let straight = try #require(
    finishedRun(try TrainingSession(config: straightConfig, command: ["test"], quiet: true).start())
  )

  try Data().write(to: flag)
  let session = TrainingSession(
    config: rewardConfig(root: root, steps: 4, command: command), command: ["test"], quiet: true)
  var stopped: AbandonedStep?
  do {
    _ = try session.start()
  } catch let error as AbandonedStep {
    stopped = error
  }
  let error = try #require(stopped, "the run did not stop")
  let text = "\(error)"
  #expect(error.step == 3)
  #expect(text.contains("rewards.external.command \"\(command)\""), "\(text)")
  #expect(text.contains(message), "\(text)")
  #expect(text.contains("completion 3 of 8 in this step"), "\(text)")
  let checkpoint = try #require(error.checkpoint)
  #expect(checkpoint.lastPathComponent == RunCheckpoints.fileName(step: 2))
  let loaded = try CheckpointFiles.decode(try CheckpointData.read(from: checkpoint), file: "")
  #expect(loaded.state.integers["rng/sampling"]?.count == 4)
  #expect(try metrics(error.run).count == 2)

  try FileManager.default.removeItem(at: flag)
  let resumed = try #require(
    finishedRun(
      try TrainingSession(config: session.config, command: ["test"], quiet: true)
        .resume(.path(error.run.path), file: nil, overrides: [])))
  // Bit patterns, since NaN (a HICRA metric with no planning tokens) is not equal to itself.
  let bits = { (run: URL) in try metrics(run).map { $0.mapValues(\.bitPattern) } }
  #expect(try bits(resumed) == bits(straight))
  let a = try CheckpointData.read(from: RunCheckpoints(directory: straight).url(step: 4))
  let b = try CheckpointData.read(from: RunCheckpoints(directory: resumed).url(step: 4))
  #expect(a.tensors.map(\.0) == b.tensors.map(\.0))
  for ((name, x), (_, y)) in zip(a.tensors, b.tensors) {
    #expect(x.scalars.map(\.bitPattern) == y.scalars.map(\.bitPattern), "\(name)")
  }
}

@Test func aCommandThatFailsAtOnceStopsTheRunWithNothingToSave() throws {
  let root = try temporaryRoot()
  defer { try? FileManager.default.removeItem(at: root) }
  let session = TrainingSession(
    config: rewardConfig(root: root, steps: 2, command: "exit 4"), command: ["test"], quiet: true)
  var stopped: AbandonedStep?
  do {
    _ = try session.start()
  } catch let error as AbandonedStep {
    stopped = error
  }
  let error = try #require(stopped)
  #expect(error.step == 1 && error.checkpoint == nil)
  #expect(
    "\(error)"
      == "step 1: rewards.external.command \"exit 4\": exited with status 4 before answer line 1 "
      + "(completion 1 of 8 in this step); no step had finished, so nothing was saved; fix the "
      + "cause and start the run again")
  let files = try FileManager.default.contentsOfDirectory(atPath: error.run.path)
  #expect(!files.contains { $0.hasSuffix(".h5") }, "\(files)")
}
