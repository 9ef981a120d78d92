import Testing

@testable import GatewayCore

@Suite struct NamingTests {
    @Test(arguments: [
        ("My Server", "my-server"), ("  weird__Name!!2 ", "weird-name-2"), ("ÄÖ abc", "abc"), ("a.b-c", "a-b-c"),
    ])
    func slugs(_ input: String, _ expected: String) {
        #expect(Naming.slug(input) == expected)
    }

    @Test func qualifiedNamesUseTheSeparator() {
        #expect(Naming(separator: "-").qualifiedName(gatewaySlug: "git", originalName: "clone") == "git-clone")
        #expect(Naming(separator: "__").qualifiedName(gatewaySlug: "git", originalName: "clone") == "git__clone")
    }
}

@Suite struct PaginationTests {
    @Test func walksEveryPageExactlyOnce() throws {
        let items = Array(0..<7)
        let pagination = Pagination(pageSize: 3)
        var seen: [Int] = []
        var cursor: String?
        var pages = 0
        repeat {
            let (page, next) = try pagination.page(items, cursor: cursor)
            seen += page
            cursor = next
            pages += 1
        } while cursor != nil
        #expect(seen == items)
        #expect(pages == 3)
    }

    @Test func lastPageHasNoCursor() throws {
        let (page, next) = try Pagination(pageSize: 10).page([1, 2], cursor: nil)
        #expect(Array(page) == [1, 2])
        #expect(next == nil)
    }

    @Test(arguments: ["", "garbage!", "bzo5OTk", "eDox"])
    func foreignCursorsAreInvalidParams(_ cursor: String) {
        do {
            _ = try Pagination(pageSize: 2).page([1, 2, 3], cursor: cursor)
            Issue.record("accepted cursor \(cursor)")
        } catch {
            #expect(error.code == .invalidParams)
        }
    }
}
