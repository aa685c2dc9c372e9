import ArgumentParser
import Foundation
import Pretrained

struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write a Hugging Face model directory from a pretrained run or model file.",
    discussion: """
      From a checkpoint file or run directory of a pretrained run, its fine-tuned weights; \
      from a GGUF file or Hugging Face directory, its weights dequantised to F32. The \
      directory (config.json, generation_config.json, model.safetensors, tokenizer.json, \
      tokenizer_config.json) loads with transformers' AutoModelForCausalLM and AutoTokenizer, \
      and with Allot's --model. It must be new or empty.
      """)

  @Argument(help: "A checkpoint of a pretrained run, a GGUF file or a Hugging Face directory.")
  var source: String

  @Option(help: ArgumentHelp("The directory to write.", valueName: "dir"))
  var to: String

  func run() throws {
    let m = openPretrained(source)
    status("exporting to \(to)…")
    do {
      try m.exportHuggingFace(to: to)
    } catch {
      fail("\(error)")
    }
    print("wrote \(to) (\(m.model.parameters.map(\.count).reduce(0, +)) parameters)")
  }
}
