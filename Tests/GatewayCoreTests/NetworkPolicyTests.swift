import GatewayCore
import Testing

@Suite struct NetworkPolicyTests {
    let strict = NetworkPolicy()

    @Test(arguments: [
        ("169.254.169.254", "metadata"), ("100.100.100.200", "metadata"), ("fd00:ec2::254", "metadata"),
        ("::ffff:169.254.169.254", "metadata"), ("169.254.10.1", "link-local"), ("fe80::1", "link-local"),
        ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"), ("0.0.0.0", "unicast"),
        ("::", "unicast"), ("224.0.0.1", "unicast"), ("255.255.255.255", "unicast"), ("ff02::1", "unicast"),
        ("10.0.0.1", "private"), ("172.16.0.1", "private"), ("172.31.255.255", "private"), ("192.168.1.1", "private"),
        ("100.64.0.1", "private"), ("fd12:3456::1", "private"), ("fc00::1", "private"),
        // Cloud host services beyond IMDS, and IPv6 forms that deliver to an IPv4 address.
        ("168.63.129.16", "metadata"), ("192.0.0.192", "metadata"), ("64:ff9b::a9fe:a9fe", "metadata"),
        ("64:ff9b::169.254.169.254", "metadata"), ("::169.254.169.254", "metadata"), ("::a9fe:a9fe", "metadata"),
        ("2002:a9fe:a9fe::1", "metadata"), ("2001:0:4136:e378:8000:63bf:5601:5601", "metadata"),
        ("64:ff9b::7f00:1", "loopback"), ("::127.0.0.1", "loopback"), ("2002:7f00:1::", "loopback"),
        ("64:ff9b::a00:1", "private"), ("::192.168.0.1", "private"), ("2002:c0a8:101::1", "private"),
        ("64:ff9b::a9fe:101", "link-local"), ("64:ff9b:1::1", "private"), ("64:ff9b:1::a9fe:a9fe", "metadata"),
    ])
    func refusedByDefault(_ text: String, _ reason: String) throws {
        let address = try #require(IPAddress(text))
        let refusal = try #require(strict.refusal(for: address))
        #expect(refusal.contains(reason))
    }

    @Test(arguments: [
        "8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:4860:4860::8888", "::ffff:1.1.1.1", "192.169.0.1",
        "64:ff9b::808:808", "2002:808:808::1", "::8.8.8.8", "168.63.129.17",
    ])
    func publicAddressesPass(_ text: String) throws {
        #expect(strict.refusal(for: try #require(IPAddress(text))) == nil)
    }

    @Test func knobsAndAllowListsOpenOnlyWhatTheySay() throws {
        let lenient = NetworkPolicy(allowLocalhost: true, allowPrivateNetworks: true)
        #expect(lenient.refusal(for: try #require(IPAddress("127.0.0.1"))) == nil)
        #expect(lenient.refusal(for: try #require(IPAddress("10.0.0.1"))) == nil)
        #expect(lenient.refusal(for: try #require(IPAddress("169.254.169.254"))) != nil)
        #expect(lenient.refusal(for: try #require(IPAddress("169.254.1.1"))) != nil)
        let listed = NetworkPolicy(allowedNetworks: [
            try #require(IPNetwork("127.0.0.2/32")), try #require(IPNetwork("169.254.0.0/16")),
        ])
        #expect(listed.refusal(for: try #require(IPAddress("127.0.0.2"))) == nil)
        #expect(listed.refusal(for: try #require(IPAddress("127.0.0.1"))) != nil)
        #expect(listed.refusal(for: try #require(IPAddress("169.254.1.1"))) == nil)
        // Metadata endpoints are never allowed, not even by a list that covers them.
        #expect(listed.refusal(for: try #require(IPAddress("169.254.169.254"))) != nil)
    }

    @Test func metadataHostNamesAreRefusedBeforeResolution() {
        #expect(strict.refusal(forHostName: "metadata.google.internal") != nil)
        #expect(strict.refusal(forHostName: "METADATA.google.internal.") != nil)
        #expect(strict.refusal(forHostName: "example.com") == nil)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-1", "::1::", "12345::", "g::1", "1:2:3:4:5:6:7:8:9", " 1.2.3.4",
    ])
    func malformedAddressesDoNotParse(_ text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func networksParseAndMatch() throws {
        let network = try #require(IPNetwork("10.1.0.0/16"))
        #expect(network.contains(try #require(IPAddress("10.1.200.3"))))
        #expect(!network.contains(try #require(IPAddress("10.2.0.1"))))
        #expect(!network.contains(try #require(IPAddress("::1"))))
        #expect(try #require(IPNetwork("fd00::/8")).contains(try #require(IPAddress("fd12::1"))))
        for bad in ["10.0.0.0/33", "10.0.0.0/-1", "x/8", "10.0.0.0/8/8", "::/129"] { #expect(IPNetwork(bad) == nil) }
    }

    @Test func clientsAreCountedPerIPv4AddressAndPerIPv6Slash64() throws {
        #expect(try #require(IPAddress("203.0.113.7")).clientBucket == "203.0.113.7")
        #expect(try #require(IPAddress("2001:db8:1:2:aaaa::1")).clientBucket == "2001:db8:1:2::/64")
        #expect(try #require(IPAddress("2001:db8:1:2:ffff:ffff:ffff:ffff")).clientBucket == "2001:db8:1:2::/64")
        #expect(try #require(IPAddress("2001:db8:1:3::1")).clientBucket == "2001:db8:1:3::/64")
        #expect(try #require(IPAddress("::ffff:198.51.100.1")).clientBucket == "198.51.100.1")
    }
}
