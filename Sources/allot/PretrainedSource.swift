import Checkpoint
import Foundation
import Pretrained
import Training

/// A pretrained model named on the command line: a GGUF file, a Hugging Face directory
/// (one with `model.safetensors` or its index), or an Allot checkpoint file or run
/// directory of a pretrained run, whose own weights and descriptor are used.
func openPretrained(_ argument: String, chatTemplateKind: String? = nil) -> PretrainedModel {
  status("loading \(argument)…")
  var isDirectory: ObjCBool = false
  guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
    fail("--model \(argument): no such file or directory")
  }
  let safetensors = ["model.safetensors", "model.safetensors.index.json"].contains {
    FileManager.default.fileExists(atPath: (argument as NSString).appendingPathComponent($0))
  }
  do {
    if isDirectory.boolValue ? safetensors : isGGUF(argument) {
      return try PretrainedModel.load(argument, chatTemplateKind: chatTemplateKind)
    }
    let (url, data) = openCheckpoint(argument)
    guard chatTemplateKind == nil else {
      fail("--chat-template applies to GGUF files and Hugging Face directories, not checkpoints")
    }
    return try Training.pretrainedModel(in: data, file: url.path)
  } catch {
    fail("\(error)")
  }
}

/// Whether the file at `path` starts with GGUF's magic, whatever its name.
private func isGGUF(_ path: String) -> Bool {
  guard let handle = FileHandle(forReadingAtPath: path) else { return false }
  defer { try? handle.close() }
  return (try? handle.read(upToCount: 4)) == Data("GGUF".utf8)
}
