import Testing

@Test func checkpointBuilds() { #expect(Bool(true)) }
