import NIOCore

/// What the connection's handler tells the client, on the connection's event loop. Each feeds the session an event
/// under the lock and carries out what it returns after the lock.
extension MQTTClient {
    /// A connection is open: it becomes the session's, and CONNECT is written. False when the client is stopping
    /// (the handler closes it).
    func opened(_ channel: any Channel) -> Bool {
        let open = state.withLock { state -> Bool in
            guard !state.session.stopping else { return false }
            // A connection whose close was not seen yet (it cannot happen in order; kept safe all the same).
            if state.channel != nil { _ = state.session.connectionClosed() }
            state.channel = channel
            state.session.connectionOpened(connect, now: .now())
            return true
        }
        if open { flush(channel) }
        return open
    }

    /// The packets of one read from the broker: tells the owner of the acceptance and the messages (in order), logs
    /// refusals, and returns what the handler does after the read (acknowledgements to tell, a reason to close).
    func received(_ packets: [Packet.Inbound], on channel: any Channel) -> MQTTSession.ReadOutcome {
        let (outcome, waiters) = state.withLock { state -> (MQTTSession.ReadOutcome, [EventLoopPromise<Bool>]) in
            guard state.channel === channel else { return (MQTTSession.ReadOutcome(), []) }
            let outcome = state.session.read(packets, now: .now())
            return (outcome, outcome.acknowledged.isEmpty ? [] : state.takeDrainWaiters())
        }
        if outcome.accepted {
            Self.connectedGauge.record(1)
            if outcome.reconnected { Self.reconnects.increment() }
            logger.info("MQTT connected", metadata: ["mqtt.broker": "\(configuration.brokerDescription)", "mqtt.client_id": "\(configuration.clientID)"])
            onEvent(.connected)
        }
        for message in outcome.messages {
            onEvent(.message(topic: message.topic, payload: message.payload, retained: message.retain))
        }
        if outcome.subscriptionRefused {
            logger.error("MQTT broker refused a subscription (check its ACL)", metadata: ["mqtt.broker": "\(configuration.brokerDescription)"])
        }
        if case .refused(let code) = outcome.close {
            logger.error("MQTT broker refused the connection", metadata: [
                "mqtt.broker": "\(configuration.brokerDescription)", "mqtt.error": "\(Packet.connackDescription(code))",
            ])
        }
        for waiter in waiters { waiter.succeed(true) }
        return outcome
    }

    /// After a read: tells the messages the broker acknowledged in it, then writes what the read produced (and
    /// anything else waiting) in one write.
    func readComplete(on channel: any Channel, acknowledged: [Int32]) {
        if !acknowledged.isEmpty { onEvent(.published(messageIDs: acknowledged)) }
        let (pending, unacknowledged) = state.withLock { state -> (Bool, Int) in
            (state.channel === channel && state.session.hasPendingWrite, state.session.unacknowledged)
        }
        if pending {
            flush(channel)
        } else if !acknowledged.isEmpty {
            // Also when nothing is written after the acknowledgements, so the gauge does not stay at its last peak.
            Self.unacknowledgedGauge.record(unacknowledged)
        }
    }

    /// The handler's timer (about once a second): writes a keep-alive ping when one is due; returns why to close
    /// the connection when it must be.
    func tick(_ channel: any Channel) -> MQTTSession.CloseReason? {
        let action = state.withLock { state -> MQTTSession.TickAction in
            guard state.channel === channel else { return .none }
            return state.session.tick(now: .now())
        }
        switch action {
        case .none: return nil
        case .ping:
            flush(channel)
            return nil
        case .close(let reason): return reason
        }
    }

    /// How many replies the broker owes on `channel` (see ``MQTTSession/awaitedReplies``).
    func awaitedReplies(on channel: any Channel) -> Int {
        state.withLock { state in state.channel === channel ? state.session.awaitedReplies : 0 }
    }

    /// `channel` closed; if the broker had accepted it, what was in flight waits for the next connection.
    func closed(_ channel: any Channel, failure: (any Error)?) {
        let (wasConnected, stopping, waiters, drops) = state.withLock { state in
            guard state.channel === channel else { return (false, state.session.stopping, [EventLoopPromise<Bool>](), 0) }
            state.channel = nil
            let accepted = state.session.connectionClosed(now: .now(), byBroker: failure == nil && !state.session.stopping)
            return (accepted, state.session.stopping, state.takeDrainWaiters(), state.session.brokerDropsInARow)
        }
        for waiter in waiters { waiter.succeed(false) }
        guard wasConnected else { return }
        // In the same words as a failure to connect.
        let reason = failure.map(describe) ?? (stopping ? "client disconnected" : "the broker closed the connection")
        Self.connectedGauge.record(0)
        logger.log(level: stopping ? .info : .warning, "MQTT disconnected",
                   metadata: ["mqtt.broker": "\(configuration.brokerDescription)", "mqtt.reason": "\(reason)"])
        if drops >= 2 {
            logger.warning("The MQTT broker closed the connection right after accepting it, again: another client may be using the same client id (set MQTT_CLIENT_ID to one of this gateway's own)", metadata: [
                "mqtt.broker": "\(configuration.brokerDescription)", "mqtt.client_id": "\(configuration.clientID)", "mqtt.drops_in_a_row": "\(drops)",
            ])
        }
        onEvent(.disconnected(reason: reason))
    }
}
