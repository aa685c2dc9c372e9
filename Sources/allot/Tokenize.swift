import ArgumentParser
import Foundation
import Pretrained

struct Tokenize: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print a pretrained model's token ids and pieces for a text.",
    discussion: """
      No special tokens are added. Pieces are the vocabulary's spellings (Ġ for a leading \
      space). --json prints one object with text, ids and pieces.
      """)

  @Option(help: "A GGUF file, a Hugging Face directory, or a checkpoint of a pretrained run.")
  var model: String

  @Argument(help: "The text to tokenize.")
  var text: String

  @Flag(help: "One JSON object with text, ids and pieces.")
  var json = false

  func run() throws {
    let tokenized = openPretrained(model).tokenize(text)
    if json {
      print(tokenized.jsonLine)
    } else {
      print("ids: " + tokenized.ids.map(String.init).joined(separator: " "))
      print("pieces: " + tokenized.pieces.joined(separator: " "))
      print("tokens: \(tokenized.ids.count)")
    }
  }
}
