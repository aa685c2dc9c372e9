import Checkpoint
import Foundation
import GRPO
import Pretrained
import Reasoning
import TensorCore
import Testing

@testable import Training

private let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .appendingPathComponent("../PretrainedTests/golden").standardized
/// A 32-token Llama (letters a–z, "ab", "abc", "Ġ"; 4 heads on 2 key/value heads, tied).
let tinyGGUF = golden.appendingPathComponent("tiny-llama.gguf")

/// The SmolLM2 GGUF that `.ci/setup` fetches into `.models/`; nil (a failure under CI) when
/// it is not there.
private func smolLM2() -> URL? {
  let gguf = golden.appendingPathComponent("../../../.models/SmolLM2-135M-Instruct.Q4_1.gguf")
    .standardized
  guard FileManager.default.fileExists(atPath: gguf.path) else {
    #expect(ProcessInfo.processInfo.environment["CI"] != "true", "missing \(gguf.path)")
    return nil
  }
  return gguf
}

private func jsonObject(_ line: Substring) throws -> [String: Any] {
  try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
}

/// A letters task the tiny model can read: 3-letter prompts, rewarded when the reply's last
/// word contains a given letter (so rewards differ within a group), and a GRPO config of the
/// copied GGUF at `model`.
func tinyExperiment(in root: URL, model: URL) throws -> URL {
  var lines = ""
  let words = ["abc", "cab", "bca", "aab", "bba", "cca", "acb", "bac", "abb", "cbc", "aca", "bcb"]
  for (i, w) in words.enumerated() {
    let letter = ["h", "e", "l"][i % 3]
    lines +=
      #"{"id": "l\#(i)", "prompt": "\#(w) ", "answer": ".*\#(letter).*", "split": "\#(i < 8 ? "train" : "test")"}"#
      + "\n"
  }
  let data = root.appendingPathComponent("letters.jsonl")
  try Data(lines.utf8).write(to: data)
  let config = root.appendingPathComponent("tiny-pretrained.json")
  try Data(
    """
    {"kind": "grpo", "run": {"name": "tiny-pretrained", "steps": 4},
     "model": {"kind": "pretrained", "path": "\(model.path)"},
     "task": {"name": "jsonl", "path": "\(data.path)", "verifier": "regex",
              "answerFrom": "lastWord", "promptFormat": "raw"},
     "grpo": {"groupSize": 4, "promptsPerStep": 2, "maxCompletionLength": 6, "beta": 0.05},
     "optimizer": {"learningRate": 0.01, "schedule": "constant"},
     "evaluation": {"prompts": 4, "maxNewTokens": 6},
     "checkpoint": {"every": 2}, "logging": {"every": 1, "evalEvery": 2}}
    """.utf8
  ).write(to: config)
  return config
}

private func metricsWithoutTimes(_ run: URL) throws -> [MetricsRecord] {
  try MetricsLog.read(run.appendingPathComponent("metrics.jsonl")).map { record in
    MetricsRecord(step: record.step, values: record.values.filter { !$0.key.hasPrefix("perf/") })
  }
}

private func newest(_ run: URL) throws -> (URL, CheckpointData) {
  let found = try RunCheckpoints(directory: run).newestValid()
  return (found.url, found.data)
}

@Test(arguments: variantSets) func pretrainedGRPOVariantsResumeBitForBit(overrides: [String])
  throws
{
  let config = try tinyExperiment(in: try scratch(), model: tinyGGUF)
  let resolved = try ConfigLoader.resolve(file: config.path, overrides: overrides)
  try resumesBitForBit(resolved) { try makeTrainer($0) }
}

@Test func pretrainedGRPOResumesExactlyWithoutItsFileAndItsCheckpointGeneratesAndExports()
  throws
{
  let root = try scratch()
  // The run reads a copy of the GGUF, deleted before resuming: the checkpoint must suffice.
  let copy = root.appendingPathComponent("model.gguf")
  try FileManager.default.copyItem(at: tinyGGUF, to: copy)
  let config = try tinyExperiment(in: root, model: copy)
  let straightRoot = root.appendingPathComponent("straight")
  let (s0, _, e0) = try TrainProcess.run([
    "--quiet", "--config", config.path, "--output", straightRoot.path,
  ])
  #expect(s0 == 0, "\(e0)")
  let stoppedRoot = root.appendingPathComponent("stopped")
  let (s1, _, e1) = try TrainProcess.run([
    "--quiet", "--config", config.path, "--output", stoppedRoot.path, "--stop-after", "2",
  ])
  #expect(s1 == 130, "\(e1)")
  try FileManager.default.removeItem(at: copy)
  let run = runDirectories(stoppedRoot)[0]
  let (s2, out2, e2) = try TrainProcess.run(["--quiet", "--resume", run.path])
  #expect(s2 == 0, "\(e2)")
  #expect(out2.contains("at step 2"))
  let straight = runDirectories(straightRoot)[0]
  let metrics = try metricsWithoutTimes(run)
  #expect(metrics == (try metricsWithoutTimes(straight)))
  // The rewards varied, so the update moved the weights.
  let rewards = metrics.compactMap { $0.values["reward/mean"] }
  #expect(rewards.count == 4 && rewards.contains { $0 > 0 && $0 < 1 })
  let (ckpt, data) = try newest(run)
  let (_, straightData) = try newest(straight)
  #expect(data.tensors.map(\.0) == straightData.tensors.map(\.0))
  #expect(data.tensors.map(\.1.scalars) == straightData.tensors.map(\.1.scalars))
  let descriptor = try #require(data.attributes["pretrainedModel"])
  guard case .string(let text) = descriptor else { Issue.record("not a string"); return }
  #expect(text.contains("allot.pretrained-model"))
  let base = try PretrainedModel.load(tinyGGUF.path)
  let tuned = try pretrainedModel(in: data, file: ckpt.path)
  let name = "model.layers.0.self_attn.q_proj.weight"
  let tunedQ = try #require(tuned.model.namedParameters().first { $0.0 == name }?.1)
  let baseQ = try #require(base.model.namedParameters().first { $0.0 == name }?.1)
  #expect(tunedQ.scalars != baseQ.scalars)

  // generate from the run directory: one JSON object per prompt, in input order.
  let prompts = root.appendingPathComponent("prompts.jsonl")
  try Data(#"{"prompt": "ab "}\#n{"prompt": "ca"}\#n{"prompt": "b"}\#n"#.utf8).write(to: prompts)
  let generateArguments = [
    "--prompts", prompts.path, "--greedy", "--max-new-tokens", "5", "--json",
  ]
  let (g, gOut, gErr) = try allot(["generate", "--model", run.path] + generateArguments)
  #expect(g == 0, "\(gErr)")
  #expect(gErr.contains("loading") && gErr.contains("generating 3 prompts"))
  let lines = gOut.split(separator: "\n")
  #expect(lines.count == 3)
  let objects = try lines.map(jsonObject)
  #expect(objects.map { $0["prompt"] as? String } == ["ab ", "ca", "b"])
  for o in objects {
    let tokens = try #require(o["tokens"] as? [Int])
    #expect(tokens.count == 5 && (o["logprobs"] as? [Double])?.count == 5)
    #expect(o["completion"] as? String == tuned.tokenizer.decode(tokens))
  }
  // The fine-tuned weights generate, not the file's.
  let tunedResults = try tuned.generate(
    ["ab ", "ca", "b"], options: GenerationOptions(format: .raw, greedy: true, maxNewTokens: 5))
  #expect(objects.map { $0["tokens"] as? [Int] } == tunedResults.map(\.tokens))

  // export → reload: identical logits, and the same generations through --model.
  let exported = root.appendingPathComponent("export")
  let (x, xOut, xErr) = try allot(["export", ckpt.path, "--to", exported.path])
  #expect(x == 0, "\(xErr)")
  #expect(xOut.contains("wrote"))
  let reloaded = try PretrainedModel.load(exported.path)
  let ids = [29, 31, 3, 5, 30]
  let a = withoutGrad { tuned.model(ids, batch: 1, positions: Array(0..<5)) }
  let b = withoutGrad { reloaded.model(ids, batch: 1, positions: Array(0..<5)) }
  #expect(a.shape == b.shape && a.scalars == b.scalars)
  let (_, fromExport, _) = try allot(["generate", "--model", exported.path] + generateArguments)
  #expect(fromExport == gOut)
  // export refuses a directory that is not empty, by name.
  let (again, _, againErr) = try allot(["export", ckpt.path, "--to", exported.path])
  #expect(again == 1 && againErr.contains(exported.lastPathComponent))

  // evaluate and tokenize work on the checkpoint too.
  let (v, vOut, vErr) = try allot(["evaluate", run.path, "--samples", "2"])
  #expect(v == 0, "\(vErr)")
  #expect(vOut.contains("pass@1 (greedy)") && vOut.contains("mean@2"))
  let (t, tOut, _) = try allot(["tokenize", "--model", run.path, "ab abc", "--json"])
  #expect(t == 0)
  #expect(try jsonObject(tOut.split(separator: "\n")[0])["ids"] as? [Int] == [29, 31, 30])
}

@Test func tokenizeAndGenerateOnAGGUFAndTheirErrors() throws {
  let (t, out, err) = try allot(["tokenize", "--model", tinyGGUF.path, "ab abc a"])
  #expect(t == 0, "\(err)")
  #expect(out.contains("ids: 29 31 30 31 3") && out.contains("pieces: ab Ġ abc Ġ a"))
  let (j, json, _) = try allot(["tokenize", "--model", tinyGGUF.path, "ab abc a", "--json"])
  #expect(j == 0)
  let object = try jsonObject(json.split(separator: "\n")[0])
  #expect(object["ids"] as? [Int] == [29, 31, 30, 31, 3])
  #expect(object["pieces"] as? [String] == ["ab", "Ġ", "abc", "Ġ", "a"])

  // Sampling with a seed repeats; another seed gives other tokens for some prompt.
  let sample = ["generate", "--model", tinyGGUF.path, "--prompt", "ab", "--max-new-tokens", "8"]
  let (_, first, _) = try allot(sample + ["--seed", "3", "--json"])
  let (_, second, _) = try allot(sample + ["--seed", "3", "--json"])
  #expect(!first.isEmpty && first == second)
  // A GGUF file is told by its magic, not its name.
  let renamed = FileManager.default.temporaryDirectory.appendingPathComponent(
    "tiny-\(UUID().uuidString).bin")
  try FileManager.default.copyItem(at: tinyGGUF, to: renamed)
  let (r, renamedOut, _) = try allot(
    ["tokenize", "--model", renamed.path, "ab abc a", "--json"])
  #expect(r == 0 && renamedOut == json)
  let (plain, plainOut, _) = try allot(sample + ["--greedy"])
  #expect(plain == 0 && plainOut.contains("prompt: ab") && plainOut.contains("completion: "))

  let cases: [([String], String)] = [
    (["generate", "--model", tinyGGUF.path], "exactly one of --prompt"),
    (["generate", "--model", "/nowhere/m.gguf", "--prompt", "a"], "/nowhere/m.gguf"),
    (["generate", "--model", tinyGGUF.path, "--prompt", "a", "--chat"], "chat template"),
    (["generate", "--model", tinyGGUF.path, "--prompt", "a", "--top-p", "0"], "topP"),
    (
      ["generate", "--model", tinyGGUF.path, "--prompt", "a", "--greedy", "--top-k", "3"],
      "--greedy"
    ),
    (
      ["tokenize", "--model", golden.appendingPathComponent("tiny-qwen2").path, "a"],
      "tokenizer.json"
    ),
  ]
  for (arguments, expected) in cases {
    let (status, _, stderr) = try allot(arguments)
    #expect(status != 0, "\(arguments)")
    #expect(stderr.contains(expected), "\(arguments): \(stderr)")
  }
}

@Test func pretrainedConfigErrorsNameTheKeyAndValue() throws {
  let root = try scratch()
  let cases: [([String], String)] = [
    (["--set", "kind=grpo", "--set", "model.kind=pretrained"], "'model.path' is \"\""),
    (
      ["--set", "kind=grpo", "--set", "model.kind=pretrained", "--set", "model.path=nowhere.gguf"],
      "'model.path' is \"nowhere.gguf\"; no file or directory there"
    ),
    (
      [
        "--set", "kind=grpo", "--set", "model.kind=pretrained", "--set",
        "model.path=\(tinyGGUF.path)", "--set", "model.chatTemplate=vicuna",
      ], "'model.chatTemplate' is \"vicuna\""
    ),
    (
      [
        "--set", "kind=grpo", "--set", "model.kind=pretrained", "--set",
        "model.path=\(tinyGGUF.path)", "--set", "task.promptFormat=chat",
      ], "'task.promptFormat' is \"chat\" but the model's chat template cannot be used"
    ),
    (["--set", "kind=sft", "--set", "model.kind=pretrained"], "'model.kind' is pretrained"),
    (
      ["--set", "task.answerFrom=firstWord"],
      "allowed: \"answerLine\", \"lastNumber\", \"lastWord\""
    ),
  ]
  for (arguments, expected) in cases {
    let (status, _, stderr) = try TrainProcess.run(arguments + ["--output", root.path])
    #expect(status != 0, "\(arguments)")
    #expect(stderr.contains(expected), "\(arguments): \(stderr)")
  }
  #expect(runDirectories(root).isEmpty)
}

@Test func freeFormAnswersReadTheLastNumberOrWord() throws {
  #expect(AnswerRule.lastNumber.answer(in: "To add 59 and 63: the answer is 122.") == "122")
  #expect(AnswerRule.lastNumber.answer(in: "-12, then 3.5") == "3.5")
  #expect(AnswerRule.lastNumber.answer(in: "no digits") == nil)
  #expect(AnswerRule.lastWord.answer(in: "it is blue.\n") == "blue")
  #expect(AnswerRule.lastWord.answer(in: " \n") == nil)
  #expect(AnswerRule.answerLine.answer(in: "plan\nanswer: 7\n") == "7")
  var config = TaskConfig()
  config.minDigits = 2
  config.maxDigits = 2
  config.operations = [.add]
  config.trainSize = 4
  config.testSize = 4
  config.answerFrom = .lastNumber
  config.instruction = "Answer with the number only."
  let task = try config.makeTask()
  let p = task.prompts(.train)[0]
  #expect(p.text.hasSuffix("\nAnswer with the number only.\n") && p.text.hasPrefix("Q: "))
  #expect(task.reward(p, completion: "The sum is \(p.answer).") == 1)
  #expect(task.reward(p, completion: "It is \(p.answer) or maybe 1") == 0)
  #expect(task.reward(p, completion: "answer: \(p.answer)") == 1)
}

/// SmolLM2's greedy continuations through the real `allot generate`, against transformers'
/// (`golden/smollm2_logits.json`): each completion's tokens are its first `<|im_end|>`'s
/// prefix of the golden 32.
@Test func smolLM2GreedyGenerateMatchesTransformers() throws {
  guard let gguf = smolLM2() else { return }
  let file = golden.appendingPathComponent("smollm2_logits.json")
  let document = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as! [String: Any]
  let cases = (document["prompts"] as! [[String: Any]]).prefix(3)
  let root = try scratch()
  let prompts = root.appendingPathComponent("prompts.jsonl")
  let messages = ["What is 2 + 3?", "Write a haiku about the sea.", "Name three prime numbers."]
  try Data(messages.map { #"{"prompt": "\#($0)"}"# }.joined(separator: "\n").utf8).write(
    to: prompts)
  let (status, out, err) = try allot([
    "generate", "--model", gguf.path, "--prompts", prompts.path, "--chat", "--greedy",
    "--max-new-tokens", "32", "--json",
  ])
  #expect(status == 0, "\(err)")
  let objects = try out.split(separator: "\n").map(jsonObject)
  #expect(objects.count == 3)
  for (o, c) in zip(objects, cases) {
    let expected = Array((c["greedy"] as! [Int]).prefix { $0 != 2 })
    #expect(o["tokens"] as? [Int] == expected)
  }
}

/// Byte-level pieces of one emoji each decode to U+FFFD alone, so their character counts add
/// up to more than the joined text has: the planning mask must still cover the phrase after
/// it, and no span may run past the text (the SmolLM2 smoke run crashed on this).
@Test func planningMasksOfByteLevelTokensStayInsideTheText() throws {
  guard let gguf = smolLM2() else { return }
  let m = try PretrainedModel.load(gguf.path)
  let text = "🙂🙂 plan: add"
  let tokens = m.tokenizer.encode(text)
  let pieces = tokens.map { m.tokenizer.decode([$0]).count }.reduce(0, +)
  #expect(pieces > text.count)  // the case that broke the unclamped spans
  let task = try LanguageModelTask<LlamaModel, BPETokenizer>(
    task: ArithmeticTask(trainSize: 2, testSize: 2), tokenizer: m.tokenizer,
    encode: { m.tokenizer.encode($0.text) }, successThreshold: 0.5,
    planning: PhraseMatcher(phrases: ["plan:"]), completionsLogged: 0, logEvery: 1,
    evaluationMaxNewTokens: 4, evaluation: { [:] })
  let rollout = PolicyRollout(
    context: 0, decisions: Completion(tokens: tokens, text: m.tokenizer.decode(tokens)),
    logProbs: tokens.map { _ in 0 }, entropies: tokens.map { _ in 0 },
    lossMask: tokens.map { _ in 1 }, finished: true)
  let mask = try #require(task.planningMasks([rollout])?.first)
  #expect(mask.count == tokens.count && mask.contains(true) && !mask[0])
}

@Test func mineSamplesAPretrainedModelsRepliesAndClustersThemByItsOwnEmbeddings() throws {
  let root = try scratch()
  let config = try tinyExperiment(in: root, model: tinyGGUF)
  let grams = root.appendingPathComponent("grams.txt")
  let replies = root.appendingPathComponent("replies.jsonl")
  let (status, _, err) = try allot([
    "mine", config.path, "-o", grams.path, "--group", "kmeans", "--clusters", "3", "--min-n",
    "1", "--max-n", "2", "--fraction", "1", "--prompts", "8", "--samples", "4",
    "--max-new-tokens", "6", "--completions", replies.path,
  ])
  #expect(status == 0, "\(err)")
  let text = try String(contentsOf: grams, encoding: .utf8)
  #expect(text.contains("3 k-means clusters of the embeddings of \(config.path)"))
  let phrases = phraseLines(text)
  #expect(!phrases.isEmpty)
  // Every gram comes from a successful reply of the model (8 prompts × (greedy + 4)).
  let lines = try String(contentsOf: replies, encoding: .utf8).split(separator: "\n")
  #expect(lines.count == 8 * 5)
  let successes = try lines.map(jsonObject).filter { ($0["reward"] as! Double) >= 1 }
    .map { ($0["completion"] as! String).lowercased() }
  for gram in phrases {
    #expect(successes.contains { $0.contains(gram) }, "\(gram) is in no successful reply")
  }
  let groups = Set(
    text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
      line.split(separator: "# group ").last!.split(separator: ":").first!
    })
  #expect((1...3).contains(groups.count))
  // The list is a phrase file for the same model's GRPO run.
  let run = try ConfigLoader.resolve(
    file: config.path,
    overrides: [
      "hicra.enabled=true", "hicra.useTaskPhrases=false", "hicra.phrasesFile=\(grams.path)",
    ])
  let trainer = try PretrainedGRPOTrainer(config: run, pretrained: nil)
  #expect(trainer.task.planning?.phraseTexts == phrases)
  // A gram's embedding is the mean of the model's own token embedding rows.
  let ids = trainer.policy.tokenizer.encode(phrases[0])
  let table = trainer.policy.model.tokenEmbeddings
  let width = table.shape[1]
  let mean = (0..<width).map { j in
    ids.reduce(Float(0)) { $0 + table.scalars[$1 * width + j] } / Float(ids.count)
  }
  #expect(trainer.meanTokenEmbedding(of: phrases[0]) == mean)
}

@Test func theMinedSmolLM2GramsAreAPhraseFileForItsGRPORun() throws {
  guard let gguf = smolLM2() else { return }
  let experiments = golden.appendingPathComponent("../../../Experiments").standardized
  let grams = experiments.appendingPathComponent("smol-arith-grams.txt")
  let config = try ConfigLoader.resolve(
    file: experiments.appendingPathComponent("smol-grpo-arith.json").path,
    overrides: [
      "model.path=\(gguf.path)", "hicra.enabled=true", "hicra.phrasesFile=\(grams.path)",
      "hicra.useTaskPhrases=false",
    ])
  let trainer = try PretrainedGRPOTrainer(config: config, pretrained: nil)
  let matcher = try #require(trainer.task.planning)
  #expect(matcher.phraseTexts == phraseLines(try String(contentsOf: grams, encoding: .utf8)))
  #expect(matcher.phraseTexts.contains("the answer is"))
  #expect(!matcher.matches(in: "We need to add 36 and 32. So, the answer is 68.").isEmpty)
}
