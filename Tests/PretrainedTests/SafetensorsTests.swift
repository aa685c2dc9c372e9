import Foundation
import Testing

@testable import Pretrained

/// Writes a safetensors file by hand: header length, JSON header, data.
private func writeSafetensors(_ header: String, _ data: [UInt8]) throws -> URL {
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("allot-st-\(UUID().uuidString).safetensors")
  let h = Array(header.utf8)
  var bytes = (0..<8).map { UInt8((UInt64(h.count) >> (8 * UInt64($0))) & 0xff) }
  bytes += h + data
  try Data(bytes).write(to: url)
  return url
}

@Test func readsF32F16BF16() throws {
  // 1.5 as F32 (0x3FC00000), F16 (0x3E00), BF16 (0x3FC0); -2 as F16 (0xC000).
  let header =
    #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"#
    + #""b":{"dtype":"F16","shape":[2],"data_offsets":[4,8]},"#
    + #""c":{"dtype":"BF16","shape":[1,1],"data_offsets":[8,10]},"__metadata__":{"format":"pt"}}"#
  let url = try writeSafetensors(header, [0, 0, 0xC0, 0x3F, 0x00, 0x3E, 0x00, 0xC0, 0xC0, 0x3F])
  let file = try SafetensorsFile(url: url)
  #expect(try file.tensor("a").scalars == [1.5])
  #expect(try file.tensor("b").scalars == [1.5, -2])
  #expect(try file.tensor("c").shape == [1, 1])
  #expect(try file.tensor("c").scalars == [1.5])
  #expect(file.metadata["format"] == "pt")
}

/// The error `body` throws, as text ("" when it throws none).
private func message(_ body: () throws -> Void) -> String {
  do {
    try body()
    return ""
  } catch {
    return "\(error)"
  }
}

@Test func badFilesNameTheFileAndTheProblem() throws {
  let short = try writeSafetensors(
    #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, [0, 0, 0, 0])
  let m1 = message { _ = try SafetensorsFile(url: short) }
  #expect(m1.hasPrefix(short.path) && m1.contains("tensor 'a'"))
  let i8 = try writeSafetensors(#"{"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}"#, [1])
  #expect(message { _ = try SafetensorsFile(url: i8) }.contains("dtype I8"))
  let huge = try writeSafetensors("", [])
  try Data([0xff, 0xff, 0, 0, 0, 0, 0, 0]).write(to: huge)
  #expect(message { _ = try SafetensorsFile(url: huge) }.contains("runs past the end"))
  let ok = try writeSafetensors(
    #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, [0, 0, 0, 0])
  #expect(message { _ = try SafetensorsFile(url: ok).tensor("b") }.contains("has no tensor 'b'"))
  let missing = URL(fileURLWithPath: "/nonexistent/model.safetensors")
  #expect(
    message { _ = try SafetensorsFile(url: missing) }.contains("/nonexistent/model.safetensors"))
}
