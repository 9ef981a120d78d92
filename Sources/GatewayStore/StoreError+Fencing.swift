import GatewayCore

extension StoreError {
    /// The refusal of a leader-only write whose fencing epoch is older than one already recorded.
    static func fenced(_ epoch: Int64) -> StoreError {
        StoreError(.fenced, "fencing epoch \(epoch) is older than the newest this store has seen")
    }
}
