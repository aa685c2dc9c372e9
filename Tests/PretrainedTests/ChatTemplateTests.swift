import Foundation
import Testing

@testable import Pretrained

/// Every golden rendering by transformers (jinja2): SmolLM2's template from the GGUF, and
/// Qwen2's and Llama 3's from fixtures.
@Test func templatesRenderLikeTransformers() throws {
  let file = try golden("chat_template_golden.json")
  let templates = file["templates"] as! [String: String]
  let cases = file["cases"] as! [[String: Any]]
  #expect(cases.count == 24)
  for c in cases {
    let name = c["template"] as! String
    let template = try ChatTemplate(template: templates[name]!, bosToken: "<|begin_of_text|>")
    let messages = (c["messages"] as! [[String: String]]).map {
      ChatMessage(role: $0["role"]!, content: $0["content"]!)
    }
    let rendered = template.render(messages, addGenerationPrompt: c["addGenerationPrompt"] as! Bool)
    #expect(rendered == c["rendered"] as! String, "\(name) \(messages)")
  }
}

@Test func templatesAreRecognisedByFamily() throws {
  let templates = try golden("chat_template_golden.json")["templates"] as! [String: String]
  #expect(
    try ChatTemplate(template: templates["smollm2"]!)
      == .chatML(
        defaultSystemMessage: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
      ))
  #expect(
    try ChatTemplate(template: templates["qwen2"]!)
      == .chatML(defaultSystemMessage: "You are a helpful assistant."))
  #expect(
    try ChatTemplate(template: templates["llama3"]!, bosToken: "<s>") == .llama3(bosToken: "<s>"))
  // Spacing inside tags and split literals do not matter; text outside tags does.
  let respaced = templates["qwen2"]!.replacingOccurrences(
    of: "'<|im_end|>' + '\\n'", with: "'<|im_end|>\\n'")
  #expect(
    respaced != templates["qwen2"]!
      && (try? ChatTemplate(template: respaced))
        == .chatML(defaultSystemMessage: "You are a helpful assistant.")
  )
  #expect((try? ChatTemplate(template: templates["qwen2"]! + "\n")) == nil)
}

@Test func theSpecRenderingOfSmolLM2() throws {
  let t = try ChatTemplate(named: "smollm2")
  let prompt = t.render(
    [ChatMessage(role: "user", content: "What is 2 + 3?")], addGenerationPrompt: true)
  #expect(
    prompt
      == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
      + "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n")
  #expect(
    try ChatTemplate(named: "chatml").render([], addGenerationPrompt: true)
      == "<|im_start|>assistant\n")
  #expect(
    try ChatTemplate(named: "llama3").render(
      [ChatMessage(role: "user", content: " hi\n")], addGenerationPrompt: false)
      == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>")
}

@Test(.enabled(if: smolLM2Available))
func renderedPromptsTokenizeLikeTransformers() throws {
  let t = try smolLM2.get()
  let prompt = try ChatTemplate(named: "smollm2").render(
    [ChatMessage(role: "user", content: "What is 2 + 3?")], addGenerationPrompt: true)
  let golden = (try golden("smollm2_tokens_golden.json")["encodes"] as! [[String: Any]])
    .first { $0["text"] as! String == prompt }
  #expect(golden != nil)
  #expect(t.encode(prompt) == golden?["ids"] as? [Int])
  #expect(t.encode(prompt).first == 1)  // <|im_start|>, no BOS added
}

@Test func unrecognisedTemplatesNameTheWayOut() throws {
  let gemma =
    "{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + message['role'] }}{% endfor %}"
  let m = thrownMessage { _ = try ChatTemplate(template: gemma) }
  #expect(m.contains("not one Allot recognises") && m.contains("{{ bos_token }}"))
  #expect(
    m.contains("template kind in the config") && m.contains("raw prompts") && m.contains("llama3"))
  let named = thrownMessage { _ = try ChatTemplate(named: "vicuna") }
  #expect(named.contains("'vicuna'") && named.contains("'chatml'"))
}

@Test func modelDirectoryTemplateIsRead() throws {
  let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
    "allot-chat-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
  let template = try String(
    contentsOf: repositoryRoot.appendingPathComponent(
      "Tests/PretrainedTests/golden/llama3_chat_template.jinja"),
    encoding: .utf8)
  let config = try JSONSerialization.data(withJSONObject: [
    "bos_token": ["content": "<|begin_of_text|>"], "chat_template": template,
  ])
  try config.write(to: dir.appendingPathComponent("tokenizer_config.json"))
  #expect(try ChatTemplate(modelDirectory: dir) == .llama3(bosToken: "<|begin_of_text|>"))
  try Data("{}".utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
  let m = thrownMessage { _ = try ChatTemplate(modelDirectory: dir) }
  #expect(m.contains("tokenizer_config.json: has no chat_template"))
}
