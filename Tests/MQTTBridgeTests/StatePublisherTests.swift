import Logging
import Synchronization
import Testing

@testable import MQTTBridge

final class RecordingTransport: MQTTTransport {
    let published = Mutex<[String]>([])
    func publish(topic: String, payload: [UInt8], qos: Int, retain: Bool) {
        published.withLock { $0.append("\(topic)=\(String(decoding: payload, as: UTF8.self))\(retain ? "" : "!")") }
    }
    func subscribe(_ filters: [String]) {}
}

@Suite struct StatePublisherTests {
    @Test func whileDisconnectedStateIsCoalescedAndResultsQueuedThenAllIsSentOnConnect() {
        let transport = RecordingTransport()
        let publisher = StatePublisher(transport: transport, qos: 1, pendingLimit: 2, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        publisher.publish([Publication(topic: "a", payload: "1"), Publication(topic: "b", payload: "1"), Publication(topic: "a", payload: "2")])
        publisher.publish([Publication(topic: "r", payload: "x", retain: false), Publication(topic: "r", payload: "y", retain: false),
                           Publication(topic: "r", payload: "z", retain: false)])
        #expect(transport.published.withLock { $0 } == [])
        publisher.connected()
        // The oldest queued result was dropped (limit 2); state arrives with its latest values.
        #expect(transport.published.withLock { $0 } == ["a=2", "b=1", "r=y!", "r=z!"])
        publisher.publish([Publication(topic: "b", payload: "3")])
        publisher.disconnected()
        publisher.publish([Publication(topic: "c", payload: "4")])
        publisher.connected()
        #expect(transport.published.withLock { $0 }.suffix(4) == ["b=3", "a=2", "b=3", "c=4"])
    }
}
