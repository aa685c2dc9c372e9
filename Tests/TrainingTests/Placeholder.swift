import Testing

@Test func trainingBuilds() { #expect(Bool(true)) }
