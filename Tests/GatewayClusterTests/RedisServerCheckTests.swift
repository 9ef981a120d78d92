import GatewayCluster
import Testing

@Suite struct RedisServerCheckTests {
    static func info(_ version: String, policy: String = "noeviction") -> String {
        "# Server\r\nredis_version:\(version)\r\nredis_mode:standalone\r\n\r\n# Memory\r\nmaxmemory_policy:\(policy)\r\n"
    }

    @Test(arguments: ["7.0.15", "7.2.4", "8.0.0", "7.0.0"])
    func redisSevenAndNewerAreAccepted(_ version: String) throws {
        #expect(try #require(RedisServerCheck(info: Self.info(version))).refusal == nil)
    }

    @Test(arguments: ["6.2.14", "6.0.0", "5.0.7"])
    func olderRedisIsRefusedSayingWhy(_ version: String) throws {
        let refusal = try #require(RedisServerCheck(info: Self.info(version))?.refusal)
        #expect(refusal.contains(version) && refusal.contains("7.0"))
    }

    @Test func anAllKeysEvictionPolicyIsWarnedAbout() throws {
        #expect(try #require(RedisServerCheck(info: Self.info("7.0.15", policy: "allkeys-lru"))).warning != nil)
        #expect(try #require(RedisServerCheck(info: Self.info("7.0.15", policy: "volatile-lru"))).warning == nil)
        #expect(try #require(RedisServerCheck(info: Self.info("7.0.15"))).warning == nil)
        #expect(RedisServerCheck(info: "# Server\r\n") == nil)
    }
}
