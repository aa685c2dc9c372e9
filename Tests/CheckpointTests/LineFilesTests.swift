import Checkpoint
import Foundation
import Testing

@Test func linesAreAppendedWholeAndATornLastLineIsDropped() throws {
  let dir = try scratchDirectory()
  defer { removeScratch(dir) }
  let url = dir.appendingPathComponent("metrics.jsonl")
  #expect(try LineFiles.read(url).lines.isEmpty)
  for step in 1...4 { try LineFiles.append("{\"step\": \(step)}", to: url) }
  #expect(try LineFiles.read(url).lines.count == 4)
  #expect(try LineFiles.read(url).note == nil)
  // A writer killed mid-line leaves bytes without a newline.
  let handle = try FileHandle(forWritingTo: url)
  try handle.seekToEnd()
  try handle.write(contentsOf: Data("{\"step\": 5, \"loss".utf8))
  try handle.close()
  let (lines, note) = try LineFiles.read(url)
  #expect(lines == (1...4).map { "{\"step\": \($0)}" })
  #expect(
    note
      == "\(url.path):5: dropped an incomplete last line (17 bytes without a newline: a write was cut short)"
  )
  // Resuming at step 2 cuts after line 2, leaving its bytes as they were.
  let before = try Data(contentsOf: url)
  let kept = try LineFiles.truncate(url, keepingWhile: { !$0.contains("3") })
  #expect(kept.lines.count == 2)
  #expect(kept.note != nil)
  let after = try Data(contentsOf: url)
  #expect(after == before.prefix(after.count))
  #expect(String(decoding: after, as: UTF8.self) == "{\"step\": 1}\n{\"step\": 2}\n")
  try LineFiles.append("{\"step\": 3}", to: url)
  #expect(try LineFiles.read(url).lines.last == "{\"step\": 3}")
}

@Test func numbersRoundTripExactly() throws {
  var rng = SystemRandomNumberGenerator()
  for _ in 0..<2000 {
    let x = Double(bitPattern: rng.next() >> 2) * (Bool.random() ? 1 : -1)
    guard x.isFinite else { continue }
    let text = try #require(LineFiles.exactText(x))
    #expect(LineFiles.exactNumber(Substring(text)) == x, "\(text)")
    #expect(try JSONSerialization.jsonObject(with: Data("[\(text)]".utf8)) is [Any])  // valid JSON
  }
  #expect(LineFiles.exactText(0.1 + 0.2) == "0.30000000000000004")
  #expect(LineFiles.exactText(1500) == "1500")
  #expect(LineFiles.exactText(-0.0) == "0" || LineFiles.exactText(-0.0) == "-0.0")
  #expect(LineFiles.exactText(.nan) == nil)
  #expect(LineFiles.exactNumber("0.30000000000000004") == 0.1 + 0.2)
  #expect(LineFiles.exactNumber("abc") == nil)
}

@Test func fileErrorsAreInAllotsWords() {
  let path = "/runs/x/config.json"
  let cocoa = CocoaError(.fileWriteNoPermission)
  #expect(
    describeFileError(cocoa, path: path).hasPrefix(
      "\(path): cannot write in /runs/x: permission denied"))
  #expect(
    describeFileError(CocoaError(.fileWriteVolumeReadOnly), path: path).contains("read-only"))
  let posix = NSError(domain: NSPOSIXErrorDomain, code: Int(ENAMETOOLONG))
  #expect(describeFileError(posix, path: path).contains("the name is too long"))
  let nested = NSError(
    domain: NSCocoaErrorDomain, code: 512,
    userInfo: [NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))])
  #expect(describeFileError(nested, path: path).contains("the disk is full"))
  #expect(!describeFileError(nested, path: path).contains("NSCocoaErrorDomain"))
}
