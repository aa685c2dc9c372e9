import ArgumentParser
import Foundation
import Pretrained

struct Generate: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Generate completions with a pretrained model or a pretrained run's checkpoint.",
    discussion: """
      --model is a GGUF file, a Hugging Face directory, or an Allot checkpoint file or run \
      directory of a pretrained run (its fine-tuned weights). With --chat each prompt is \
      rendered as a user message with the model's chat template; without it the text is fed \
      as is (after a BOS token only when the model's files ask for one). --json prints one \
      JSON object per prompt, in input order, with prompt, completion, tokens, logprobs \
      (each new token's log-probability at temperature 1) and finished.
      """)

  @Option(help: "A GGUF file, a Hugging Face directory, or a checkpoint of a pretrained run.")
  var model: String

  @Option(help: "One prompt.")
  var prompt: String?

  @Option(help: ArgumentHelp("A JSON-lines file of {\"prompt\": …} objects.", valueName: "file"))
  var prompts: String?

  @Flag(help: "Render each prompt with the model's chat template as a user message.")
  var chat = false

  @Option(help: "A chat template kind in place of the file's (GGUF/HF only).")
  var chatTemplate: String?

  @Option(help: "The most new tokens per prompt.")
  var maxNewTokens = 128

  @Flag(help: "Greedy decoding (the default is sampling).")
  var greedy = false

  @Option(help: "Sampling temperature.")
  var temperature: Float = 1

  @Option(help: "Nucleus sampling: the smallest set of tokens with this much probability.")
  var topP: Float = 1

  @Option(help: "Sample among the k most likely tokens (0: all).")
  var topK = 0

  @Option(help: "Sample among tokens at least this times as likely as the most likely (0: all).")
  var minP: Float = 0

  @Option(help: "transformers' repetition_penalty over the prompt and the reply (1: off).")
  var repetitionPenalty: Float = 1

  @Option(help: "The seed of the sampling.")
  var seed: UInt64 = 0

  @Option(help: "Prompts per batch.")
  var batch = 16

  @Flag(help: "One JSON object per prompt.")
  var json = false

  func validate() throws {
    guard (prompt == nil) != (prompts == nil) else {
      throw ValidationError("give exactly one of --prompt TEXT and --prompts FILE.jsonl")
    }
    if greedy && (temperature != 1 || topP != 1 || topK != 0 || minP != 0) {
      throw ValidationError("--greedy takes no --temperature, --top-p, --top-k or --min-p")
    }
  }

  func run() throws {
    do {
      let texts = try prompts.map { try PromptsFile.read($0) } ?? [prompt!]
      let options = GenerationOptions(
        format: chat ? .chat : .raw, greedy: greedy, temperature: temperature, topP: topP,
        topK: topK, minP: minP, repetitionPenalty: repetitionPenalty, maxNewTokens: maxNewTokens,
        seed: seed, batchSize: batch)
      try options.validate()
      let m = openPretrained(model, chatTemplateKind: chatTemplate)
      status(
        "generating \(texts.count) prompt\(texts.count == 1 ? "" : "s") "
          + "(\(greedy ? "greedy" : "sampled"), up to \(maxNewTokens) new tokens)…")
      let started = Date()
      let results = try m.generate(texts, options: options)
      for r in results {
        if json {
          print(r.jsonLine)
        } else {
          print("prompt: \(r.prompt)\ncompletion: \(r.completion)\n")
        }
      }
      let tokens = results.map(\.tokens.count).reduce(0, +)
      let seconds = Date().timeIntervalSince(started)
      status(
        String(
          format: "%d new tokens in %.1f s (%.1f tokens/s)", tokens, seconds,
          Double(tokens) / max(seconds, 1e-9)))
    } catch {
      fail("\(error)")
    }
  }
}
