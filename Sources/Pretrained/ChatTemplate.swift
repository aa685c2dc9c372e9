import Foundation

/// One message of a conversation.
public struct ChatMessage: Sendable, Equatable, Codable {
  /// `system`, `user` or `assistant`.
  public var role: String
  public var content: String

  public init(role: String, content: String) {
    self.role = role
    self.content = content
  }
}

/// A chat template that Allot renders itself (no Jinja engine): recognised from a model's
/// template text, or chosen by name. Renders exactly as transformers'
/// `apply_chat_template(..., tokenize=False)` does for the templates recognised.
public enum ChatTemplate: Sendable, Equatable {
  /// `<|im_start|>role\ncontent<|im_end|>\n` per message (SmolLM2, Qwen2); with a default
  /// system message, it goes first when the conversation does not open with one.
  case chatML(defaultSystemMessage: String?)
  /// `<|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` with
  /// each content trimmed of surrounding whitespace (Llama 3).
  case llama3(bosToken: String)

  /// The kinds a config may name instead of a template string.
  public static let names = ["chatml", "smollm2", "qwen2", "llama3"]

  /// The template called `name`: `chatml` (no default system message), `smollm2` and
  /// `qwen2` (ChatML with their default system messages), `llama3`.
  public init(named name: String) throws {
    switch name {
    case "chatml": self = .chatML(defaultSystemMessage: nil)
    case "smollm2": self = .chatML(defaultSystemMessage: smolLM2System)
    case "qwen2": self = .chatML(defaultSystemMessage: "You are a helpful assistant.")
    case "llama3": self = .llama3(bosToken: "<|begin_of_text|>")
    default:
      throw ChatTemplateError(
        "chat template kind '\(name)' is not one of \(Self.names.map { "'\($0)'" }.joined(separator: ", "))"
      )
    }
  }

  /// Recognises a model's Jinja template text (GGUF `tokenizer.chat_template`,
  /// `tokenizer_config.json`'s `chat_template`); `bosToken` fills Llama 3's `bos_token`.
  ///
  /// Throws for a template it does not recognise, naming the ways out: a template kind by
  /// name in the config, or raw prompts.
  public init(template: String, bosToken: String? = nil) throws {
    let canonical = canonicalTemplate(template)
    if let system = matchChatMLWithSystem(canonical) {
      self = .chatML(defaultSystemMessage: system)
    } else if canonical == canonicalTemplate(chatMLTemplate) {
      self = .chatML(defaultSystemMessage: nil)
    } else if canonical == canonicalTemplate(llama3Template) {
      self = .llama3(bosToken: bosToken ?? "<|begin_of_text|>")
    } else {
      let head = template.prefix(80).replacingOccurrences(of: "\n", with: "\\n")
      throw ChatTemplateError(
        "the model's chat template is not one Allot recognises (it renders ChatML as in SmolLM2 "
          + "and Qwen2, and Llama 3, without a Jinja engine); the template begins \"\(head)…\". "
          + "Name a template kind in the config (\(Self.names.joined(separator: ", "))) or use raw prompts"
      )
    }
  }

  /// The prompt text of `messages`; with `addGenerationPrompt`, the opening of an
  /// assistant turn follows.
  public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
    var out = ""
    switch self {
    case .chatML(let system):
      if let system, messages.first?.role != "system", !messages.isEmpty {
        out += "<|im_start|>system\n\(system)<|im_end|>\n"
      }
      for m in messages { out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
      if addGenerationPrompt { out += "<|im_start|>assistant\n" }
    case .llama3(let bos):
      for (i, m) in messages.enumerated() {
        if i == 0 { out += bos }
        out +=
          "<|start_header_id|>\(m.role)<|end_header_id|>\n\n\(pythonStrip(m.content))<|eot_id|>"
      }
      if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
    }
    return out
  }
}

/// A chat template Allot cannot use, with the way out.
public struct ChatTemplateError: Error, CustomStringConvertible, Equatable {
  public var description: String
  public init(_ description: String) { self.description = description }
}

private let smolLM2System = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"

/// ChatML with a default system message (SmolLM2's and Qwen2's templates); `\u{1}` marks
/// where the message goes.
private let chatMLWithSystemTemplate =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
  + "{{ '<|im_start|>system\\n\u{1}<|im_end|>\\n' }}{% endif %}"
  + "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
  + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

/// Plain ChatML.
private let chatMLTemplate =
  "{% for message in messages %}"
  + "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
  + "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

/// Llama 3 (Meta-Llama-3-*-Instruct).
private let llama3Template =
  "{% set loop_messages = messages %}{% for message in loop_messages %}"
  + "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
  + "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
  + "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
  + "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"

/// The default system message when `canonical` is the ChatML-with-system template.
private func matchChatMLWithSystem(_ canonical: [TemplatePart]) -> String? {
  let skeleton = canonicalTemplate(chatMLWithSystemTemplate)
  guard canonical.count == skeleton.count else { return nil }
  var system: String?
  for (part, expected) in zip(canonical, skeleton) {
    if case .literal(let pattern) = expected, pattern.contains("\u{1}"),
      case .literal(let actual) = part
    {
      let sides = pattern.split(separator: "\u{1}", omittingEmptySubsequences: false)
      guard actual.hasPrefix(sides[0]), actual.hasSuffix(sides[1]),
        actual.count >= sides[0].count + sides[1].count
      else { return nil }
      system = String(actual.dropFirst(sides[0].count).dropLast(sides[1].count))
    } else if part != expected {
      return nil
    }
  }
  return system
}

/// A template cut into comparable parts: text outside tags, string literals (decoded,
/// adjacent `'a' + 'b'` folded), and other tag characters (whitespace dropped).
enum TemplatePart: Equatable {
  case text(String)
  case literal(String)
  case code(Character)
}

func canonicalTemplate(_ template: String) -> [TemplatePart] {
  var parts: [TemplatePart] = []
  var chars = Array(template)[...]
  var text = ""
  while let c = chars.first {
    if c == "{", chars.dropFirst().first.map({ "{%#".contains($0) }) == true {
      if !text.isEmpty { parts.append(.text(text)) }
      text = ""
      let close: Character = chars[chars.startIndex + 1] == "{" ? "}" : chars[chars.startIndex + 1]
      parts.append(.code("{"))
      parts.append(.code(chars[chars.startIndex + 1]))
      chars = chars.dropFirst(2)
      // Inside a tag until `close` + "}".
      while let d = chars.first {
        if d == close, chars.dropFirst().first == "}" {
          parts.append(.code(close))
          parts.append(.code("}"))
          chars = chars.dropFirst(2)
          break
        }
        if d == "'" || d == "\"" {
          chars = chars.dropFirst()
          var literal = ""
          while let e = chars.first, e != d {
            chars = chars.dropFirst()
            if e == "\\", let f = chars.first {
              chars = chars.dropFirst()
              literal.append(f == "n" ? "\n" : f == "t" ? "\t" : f)
            } else {
              literal.append(e)
            }
          }
          chars = chars.dropFirst()
          // Fold `'a' + 'b'` into one literal.
          if parts.count >= 2, parts[parts.count - 1] == .code("+"),
            case .literal(let before) = parts[parts.count - 2]
          {
            parts.removeLast(2)
            literal = before + literal
          }
          parts.append(.literal(literal))
          continue
        }
        if !d.isWhitespace { parts.append(.code(d)) }
        chars = chars.dropFirst()
      }
    } else {
      text.append(c)
      chars = chars.dropFirst()
    }
  }
  if !text.isEmpty { parts.append(.text(text)) }
  return parts
}

/// Python's `str.strip()` (Jinja's `trim`): Unicode whitespace and U+001C–U+001F.
func pythonStrip(_ s: String) -> String {
  let isSpace = { (u: Unicode.Scalar) in
    u.properties.isWhitespace || (0x1C...0x1F).contains(u.value)
  }
  let scalars = Array(s.unicodeScalars)
  guard let first = scalars.firstIndex(where: { !isSpace($0) }),
    let last = scalars.lastIndex(where: { !isSpace($0) })
  else { return "" }
  var out = String.UnicodeScalarView()
  out.append(contentsOf: scalars[first...last])
  return String(out)
}

extension ChatTemplate {
  /// The template of a Hugging Face model directory: `tokenizer_config.json`'s
  /// `chat_template` (a string, or a list whose `default` entry is used), else
  /// `chat_template.jinja`; `bos_token` from the same config.
  public init(modelDirectory directory: URL) throws {
    let configURL = directory.appendingPathComponent("tokenizer_config.json")
    let config = try readJSONObject(configURL)
    let bosValue = config["bos_token"]
    let bos = bosValue as? String ?? (bosValue as? [String: Any])?["content"] as? String
    var template: String?
    switch config["chat_template"] {
    case let text as String: template = text
    case let list as [[String: Any]]:
      template = list.first(where: { $0["name"] as? String == "default" })?["template"] as? String
    default: break
    }
    if template == nil {
      let jinja = directory.appendingPathComponent("chat_template.jinja")
      template = try? String(contentsOf: jinja, encoding: .utf8)
    }
    guard let template else {
      throw PretrainedFileError(
        configURL.path,
        "has no chat_template (nor is there a chat_template.jinja beside it); name a template kind "
          + "in the config (\(Self.names.joined(separator: ", "))) or use raw prompts")
    }
    try self.init(template: template, bosToken: bos)
  }
}
