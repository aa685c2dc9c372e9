import Testing

@Test func taskallocationBuilds() { #expect(Bool(true)) }
