import Testing

@Test func tensorcoreBuilds() { #expect(Bool(true)) }
