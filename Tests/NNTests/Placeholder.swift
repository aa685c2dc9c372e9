import Testing

@Test func nnBuilds() { #expect(Bool(true)) }
