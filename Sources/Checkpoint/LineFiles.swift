import Foundation

/// Append-only text files of one record per line (`metrics.jsonl`, `command.txt`) that
/// survive kills and resumes: every line is appended whole by one `write(2)`, a torn last line
/// (a process killed mid-write) is dropped with a note, and a resume cuts the file after its
/// last kept line without re-encoding the earlier ones, so their bytes never change.
public enum LineFiles {
  /// Appends `line` (a newline is added) to the file at `url`, creating it, in a single
  /// `write(2)` on an `O_APPEND` descriptor: concurrent or killed writers never interleave
  /// or leave half of this line behind another. Errors are in Allot's words, naming the file.
  public static func append(_ line: String, to url: URL) throws {
    precondition(!line.contains("\n"), "LineFiles.append: one line at a time")
    let fd = open(url.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw CheckpointError(
        file: url.path, message: fileProblem(errno, creating: url, target: url))
    }
    defer { close(fd) }
    let bytes = Array((line + "\n").utf8)
    let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
    if written != bytes.count {
      let code = written < 0 ? errno : ENOSPC
      if written > 0 {  // a partial line: take it back so the file stays whole lines
        var info = stat()
        if fstat(fd, &info) == 0 { _ = ftruncate(fd, info.st_size - off_t(written)) }
      }
      throw CheckpointError(
        file: url.path, message: writeProblem(code, size: bytes.count, target: url))
    }
  }

  /// The complete lines of the file (without their newlines), and a note when its last line
  /// had no newline: a write cut short, which is dropped. A missing file has no lines.
  public static func read(_ url: URL) throws -> (lines: [String], note: String?) {
    guard FileManager.default.fileExists(atPath: url.path) else { return ([], nil) }
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw CheckpointError(file: url.path, message: "cannot be read (check its permissions)")
    }
    var lines = String(decoding: data, as: UTF8.self).split(
      separator: "\n", omittingEmptySubsequences: false
    ).map(String.init)
    var note: String?
    if let last = lines.last, !last.isEmpty {
      note =
        "\(url.path):\(lines.count): dropped an incomplete last line (\(last.utf8.count) bytes "
        + "without a newline: a write was cut short)"
      lines.removeLast()
    } else {
      lines.removeLast()  // the empty piece after the final newline (or of an empty file)
    }
    return (lines, note)
  }

  /// Cuts the file right after its leading run of lines that `keep` accepts (and always
  /// before an incomplete last line), leaving those bytes untouched; returns the kept lines
  /// and a note when a torn line was dropped. A resumed run keeps the lines up to its step.
  @discardableResult
  public static func truncate(_ url: URL, keepingWhile keep: (String) -> Bool) throws -> (
    lines: [String], note: String?
  ) {
    let (lines, note) = try read(url)
    var kept: [String] = []
    var bytes = 0
    for line in lines {
      guard keep(line) else { break }
      kept.append(line)
      bytes += line.utf8.count + 1
    }
    guard FileManager.default.fileExists(atPath: url.path) else { return ([], nil) }
    guard Foundation.truncate(url.path, off_t(bytes)) == 0 else {
      throw CheckpointError(
        file: url.path, message: "cannot be cut to its kept lines (\(errorText()))")
    }
    return (kept, note)
  }

  /// `x` as JSON number text that reads back as exactly `x` (the shortest such text); nil
  /// for NaN and ±Inf, which JSON cannot hold.
  public static func exactText(_ x: Double) -> String? {
    guard x.isFinite else { return nil }
    if x == x.rounded(), abs(x) < 1e15 { return String(Int64(x)) }
    return "\(x)"  // Swift prints the shortest text that round-trips
  }

  /// The number JSON text `text` denotes, correctly rounded (unlike some JSON parsers, which
  /// lose the last digit of 17-digit numbers); nil when it is not a JSON number.
  public static func exactNumber(_ text: Substring) -> Double? {
    guard let first = text.first, first == "-" || first.isNumber else { return nil }
    return Double(text)
  }
}

/// Allot's words for a file-system error from Foundation (`NSCocoaErrorDomain` and POSIX
/// codes) about `path`: what happened and what to do, instead of the raw domain text.
public func describeFileError(_ error: Error, path: String) -> String {
  let ns = error as NSError
  var code: Int32?
  if ns.domain == NSPOSIXErrorDomain {
    code = Int32(ns.code)
  } else if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError,
    underlying.domain == NSPOSIXErrorDomain
  {
    code = Int32(underlying.code)
  }
  if code == nil, ns.domain == NSCocoaErrorDomain {
    switch CocoaError.Code(rawValue: ns.code) {
    case .fileWriteNoPermission, .fileReadNoPermission: code = EACCES
    case .fileWriteVolumeReadOnly: code = EROFS
    case .fileWriteOutOfSpace: code = ENOSPC
    case .fileNoSuchFile, .fileReadNoSuchFile: code = ENOENT
    case .fileWriteFileExists: code = EEXIST
    case .fileWriteInvalidFileName, .fileReadInvalidFileName: code = ENAMETOOLONG
    default: break
    }
  }
  let url = URL(fileURLWithPath: path)
  switch code {
  case EACCES?, EPERM?, EROFS?, ENAMETOOLONG?:
    return "\(path): " + fileProblem(code!, creating: url, target: url)
  case ENOSPC?, EDQUOT?:
    return "\(path): the disk is full (or over quota); free space, then resume"
  case ENOENT?:
    return "\(path): no such file or folder"
  case EEXIST?:
    return "\(path): already exists"
  case EISDIR?:
    return "\(path): is a directory; move or delete it"
  case let code?:
    return "\(path): \(posixText(code))"
  case nil:
    return "\(path): \(ns.localizedDescription)"
  }
}
