import Foundation
import NIOCore
import NIOWebSocket
import OCPP

/// What every simulated charger is told to do.
public struct ChargerPlan: Sendable {
    public enum Mode: String, Sendable {
        /// Boot, status, authorize, start a transaction, report Charging, send one MeterValues that is not measured
        /// (the warm-up), then MeterValues until told to stop.
        case meter
        /// Boot and status, then stay connected doing nothing (answering pings and commands).
        case idle
    }

    public var mode: Mode
    public var idTag: String
    /// The starting energy register of charger 0; each charger starts elsewhere so values never collide.
    public var energyBase: Int64 = 1_000_000
    /// Current and voltage hold still (a charger at its limit on a stiff grid); only power and energy move.
    public var steady = false
    /// Speak OCPP 2.0.1: boot, status, authorize, a TransactionEvent Started, then readings in TransactionEvent Updated
    /// (as a 2.0.1 station sends them during a transaction), Ended at the finish.
    public var v201 = false

    public init(mode: Mode, idTag: String) {
        self.mode = mode
        self.idTag = idTag
    }
}

/// One simulated charge point on one WebSocket connection. Lives on its channel's event loop; the coordinator
/// reaches it through `NIOLoopBound` and `eventLoop.execute`.
///
/// It keeps to OCPP-J's one outstanding CALL: a MeterValues tick that comes while a CALL is unanswered is counted
/// as late and sent as soon as the answer arrives.
public final class SimulatedCharger: ChannelInboundHandler {
    public typealias InboundIn = WebSocketFrame
    public typealias OutboundOut = WebSocketFrame

    private enum Stage {
        case booting, announcing, authorizing, starting, charging, warmingUp, ready, stopping, releasing, done
    }

    public let index: Int
    public let stationID: String
    private let plan: ChargerPlan
    private let run: RunState
    private var context: ChannelHandlerContext?
    private var stage = Stage.booting
    /// The CALL waiting for its answer: its id, its action's name, and whether it carried a measured reading.
    private var outstanding: Sent?
    private struct Sent {
        var id: String
        var action: String
        var sentAt: UInt64
        var reading = false
    }
    private var nextMessageNumber = 0
    private var transactionID = 0
    /// OCPP 2.0.1: the station's own transaction id and the next event's seqNo.
    private var transactionID201 = ""
    private var seqNo = 0
    private var reading: MeterReading
    private var meterStart: Int64
    private var generator: SystemRandomNumberGenerator
    /// Metering: a tick per interval, or (saturation) the next MeterValues as soon as the last is answered.
    private var ticker: RepeatedTask?
    private var saturating = false
    private var ticksWaiting = 0
    private var finishing = false

    init(index: Int, stationID: String, plan: ChargerPlan, run: RunState) {
        self.index = index
        self.stationID = stationID
        self.plan = plan
        self.run = run
        // Ten million Wh apart: a run would need years of charging to make two chargers' values meet.
        meterStart = plan.energyBase + Int64(index) * 10_000_000
        reading = MeterReading(energyWh: meterStart, powerW: 11_000, currentDeciA: (160, 160, 160), voltageDeciV: (2300, 2300, 2300))
        generator = SystemRandomNumberGenerator()
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        run.connected.add(1, ordering: .relaxed)
        send(.boot)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if stage != .done { run.disconnected.add(1, ordering: .relaxed) }
        stopTicking()
        self.context = nil
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        run.fail("\(stationID): \(error)")
        context.close(promise: nil)
    }

    // MARK: Commands from the coordinator (on the event loop)

    /// Sends a MeterValues every `interval` from `start`, or back to back when `interval` is nil.
    public func startMetering(at start: NIODeadline, every interval: TimeAmount?) {
        guard let context, stage == .ready, plan.mode == .meter else { return }
        let charger = NIOLoopBound(self, eventLoop: context.eventLoop)
        if let interval {
            ticker = context.eventLoop.scheduleRepeatedTask(initialDelay: max(.zero, start - .now()), delay: interval) { _ in
                charger.value.tick()
            }
        } else {
            saturating = true
            context.eventLoop.scheduleTask(deadline: start) { charger.value.tick() }
        }
    }

    /// Stops sending MeterValues (the one in flight is still answered).
    public func stopMetering() {
        stopTicking()
    }

    /// Ends the session: stops the transaction (meter mode), reports Available, closes the connection.
    public func finish() {
        finishing = true
        stopTicking()
        if outstanding == nil { advanceAfterAnswer() }
    }

    private func stopTicking() {
        ticker?.cancel()
        ticker = nil
        saturating = false
        ticksWaiting = 0
    }

    private func tick() {
        guard stage == .ready, !finishing else { return }
        if outstanding != nil {
            ticksWaiting += 1
            run.lateSends.add(1, ordering: .relaxed)
            return
        }
        sendMeterValues()
    }

    // MARK: Frames

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            let bytes = Array(frame.unmaskedData.readableBytesView)
            do {
                handle(try FrameCodec.decode(bytes))
            } catch {
                run.fail("\(stationID): unreadable frame from the gateway: \(error)")
            }
        case .ping:
            write(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData))
        case .connectionClose:
            context.close(promise: nil)
        default:
            break
        }
    }

    private func handle(_ frame: Frame) {
        switch frame {
        case .call(let call):
            answer(call)
        case .callResult(let result):
            guard let sent = outstanding, sent.id == result.messageID else {
                run.fail("\(stationID): answer to an unknown message \(result.messageID)")
                return
            }
            outstanding = nil
            answered(sent, payload: result.payload)
        case .callError(let error):
            guard let sent = outstanding, sent.id == error.messageID else { return }
            outstanding = nil
            run.callErrors.add(1, ordering: .relaxed)
            run.fail("\(stationID): \(sent.action) got CallError \(error.code): \(error.description)")
            answered(sent, payload: nil)
        }
    }

    private func answered(_ sent: Sent, payload: RawJSON?) {
        let elapsed = monotonicNanoseconds() &- sent.sentAt
        if sent.reading && stage != .warmingUp {
            run.meterValuesAnswered.add(1, ordering: .relaxed)
            run.meterValuesRoundTrip.record(nanoseconds: elapsed)
        } else {
            run.otherRoundTrip.record(nanoseconds: elapsed)
        }
        if sent.action == Action.startTransaction.rawValue, let payload,
           let response = try? PayloadCoding.decode(StartTransactionResponse.self, from: payload) {
            transactionID = response.transactionId
        }
        advanceAfterAnswer()
    }

    /// Moves the session on once no CALL is outstanding.
    private func advanceAfterAnswer() {
        switch stage {
        case .booting:
            stage = .announcing
            send(.available)
        case .announcing:
            if plan.mode == .meter {
                stage = .authorizing
                send(.authorize)
            } else {
                becomeReady()
            }
        case .authorizing:
            stage = .starting
            send(.start)
        case .starting:
            stage = .charging
            send(.charging)
        case .charging:
            // A charger's first readings make the gateway announce their Home Assistant entities (six discovery
            // configs here): a one-time cost per charger, like the connect's. It is paid before the charger counts
            // as ready, so a fleet starting to meter in the same second does not measure that burst.
            stage = .warmingUp
            sendMeterValues(measured: false)
        case .warmingUp:
            becomeReady()
        case .ready:
            if finishing {
                if plan.mode == .meter {
                    stage = .stopping
                    send(.stop)
                } else {
                    close()
                }
            } else if saturating || ticksWaiting > 0 {
                ticksWaiting = max(0, ticksWaiting - 1)
                sendMeterValues()
            }
        case .stopping:
            stage = .releasing
            send(.available)
        case .releasing:
            close()
        case .done:
            break
        }
    }

    /// The session's messages other than readings.
    private enum Step {
        case boot, available, authorize, start, charging, stop
    }

    /// A step in the charger's version: 1.6's typed requests, or 2.0.1's (the transaction in TransactionEvents).
    private func send(_ step: Step) {
        guard plan.v201 else {
            switch step {
            case .boot:
                send(BootNotificationRequest(
                    chargePointVendor: "ocpp-gateway", chargePointModel: "loadgen",
                    chargePointSerialNumber: try? CiString25(stationID.count <= 25 ? stationID : String(stationID.suffix(25))),
                    firmwareVersion: "1.0"))
            case .available: send(StatusNotificationRequest(connectorId: 1, errorCode: .noError, status: .available))
            case .authorize: send(AuthorizeRequest(idTag: tag))
            case .start: send(StartTransactionRequest(connectorId: 1, idTag: tag, meterStart: Int(meterStart), timestamp: Date()))
            case .charging: send(StatusNotificationRequest(connectorId: 1, errorCode: .noError, status: .charging))
            case .stop:
                send(StopTransactionRequest(transactionId: transactionID, meterStop: Int(reading.energyWh), timestamp: Date(), idTag: tag, reason: .local))
            }
            return
        }
        let token: JSONValue = ["idToken": .string(plan.idTag), "type": "ISO14443"]
        func event(_ type: String, _ trigger: String, _ info: [String: JSONValue], extra: [String: JSONValue] = [:]) -> JSONValue {
            var info = info
            info["transactionId"] = .string(transactionID201)
            var body: [String: JSONValue] = ["eventType": .string(type), "timestamp": .string(now201()), "triggerReason": .string(trigger),
                                             "seqNo": .int(seqNo), "transactionInfo": .object(info)]
            body.merge(extra) { _, new in new }
            seqNo += 1
            return .object(body)
        }
        func energy(_ context: String) -> JSONValue {
            [["timestamp": .string(now201()), "sampledValue": [["value": .int(Int(reading.energyWh)), "context": .string(context)]]]]
        }
        switch step {
        case .boot:
            send201("BootNotification", ["chargingStation": ["vendorName": "ocpp-gateway", "model": "loadgen",
                                                             "serialNumber": .string(String(stationID.suffix(25))), "firmwareVersion": "1.0"],
                                         "reason": "PowerUp"])
        case .available:
            send201("StatusNotification", ["timestamp": .string(now201()), "connectorStatus": "Available", "evseId": 1, "connectorId": 1])
        case .authorize:
            send201("Authorize", ["idToken": token])
        case .start:
            transactionID201 = "\(stationID)-\(Int(Date().timeIntervalSince1970))"
            seqNo = 0
            send201("TransactionEvent", event("Started", "Authorized", [:], extra: [
                "idToken": token, "evse": ["id": 1, "connectorId": 1], "meterValue": energy("Transaction.Begin"),
            ]))
        case .charging:
            send201("TransactionEvent", event("Updated", "ChargingStateChanged", ["chargingState": "Charging"]))
        case .stop:
            send201("TransactionEvent", event("Ended", "StopAuthorized", ["stoppedReason": "Local"], extra: ["meterValue": energy("Transaction.End")]))
        }
    }

    private func now201() -> String { MeterValuesFrame.timestamp(unixSeconds: Int(Date().timeIntervalSince1970)) }

    private func becomeReady() {
        stage = .ready
        run.ready.add(1, ordering: .relaxed)
        if finishing { advanceAfterAnswer() }
    }

    /// Says goodbye with a close frame (1000); the gateway answers it and closes the connection.
    private func close() {
        stage = .done
        run.finished.add(1, ordering: .relaxed)
        guard let context else { return }
        var reason = context.channel.allocator.buffer(capacity: 2)
        reason.write(webSocketErrorCode: .normalClosure)
        write(WebSocketFrame(fin: true, opcode: .connectionClose, data: reason))
    }

    private var tag: CiString20 { (try? CiString20(plan.idTag)) ?? "LOADGEN" }

    /// Answers a CALL from the gateway (a command sent over MQTT) and records when it arrived.
    private func answer(_ call: Call) {
        run.commandCallReceived(charger: index, action: call.action, at: monotonicNanoseconds())
        let payload: String
        switch call.action {
        case "UnlockConnector": payload = #"{"status":"Unlocked"}"#
        case "GetConfiguration": payload = #"{"configurationKey":[],"unknownKey":[]}"#
        case "GetLocalListVersion": payload = #"{"listVersion":0}"#
        case "GetDiagnostics", "GetCompositeSchedule": payload = "{}"
        case "TriggerMessage", "ClearCache", "ChangeAvailability", "ChangeConfiguration", "RemoteStartTransaction",
             "RemoteStopTransaction", "Reset", "SetChargingProfile", "ClearChargingProfile", "DataTransfer",
             "SendLocalList", "ReserveNow", "CancelReservation":
            payload = #"{"status":"Accepted"}"#
        default: payload = "{}"
        }
        writeText(FrameCodec.encode(.callResult(CallResult(messageID: call.messageID, payload: RawJSON(validatedBytes: Data(payload.utf8))))))
    }

    // MARK: Sending

    private func send<Request: OCPPRequest>(_ request: Request) {
        do {
            let payload = try PayloadCoding.encode(request)
            let id = newMessageID()
            outstanding = Sent(id: id, action: Request.action.rawValue, sentAt: monotonicNanoseconds())
            writeText(FrameCodec.encode(.call(Call(messageID: id, action: Request.action.rawValue, payload: payload))))
        } catch {
            run.fail("\(stationID): cannot encode \(Request.action): \(error)")
        }
    }

    /// An OCPP 2.0.1 CALL.
    private func send201(_ action: String, _ payload: JSONValue) {
        let id = newMessageID()
        outstanding = Sent(id: id, action: action, sentAt: monotonicNanoseconds())
        writeText(FrameCodec.encode(.call(Call(messageID: id, action: action, payload: RawJSON(validatedBytes: Data(payload.text.utf8))))))
    }

    /// - Parameter measured: counted and matched on MQTT (false for the warm-up).
    private func sendMeterValues(measured: Bool = true) {
        // About 11 kW on three phases with a little noise; the register grows by at least 1 Wh per reading.
        let noise = Int.random(in: -50...50, using: &generator)
        reading.powerW = 11_000 + noise * 4
        reading.energyWh += Int64(max(1, reading.powerW / 3600))
        if !plan.steady {
            reading.currentDeciA = (160 + noise / 10, 159 + noise / 12, 161 + noise / 15)
            reading.voltageDeciV = (2300 + noise / 5, 2297 + noise / 6, 2303 + noise / 7)
        }
        let id = newMessageID()
        let timestamp = MeterValuesFrame.timestamp(unixSeconds: Int(Date().timeIntervalSince1970))
        let frame: [UInt8]
        if plan.v201 {
            frame = MeterValuesFrame.make201(messageID: id, transactionID: transactionID201, seqNo: seqNo, timestamp: timestamp, reading: reading)
            seqNo += 1
        } else {
            frame = MeterValuesFrame.make(messageID: id, connectorID: 1, transactionID: transactionID, timestamp: timestamp, reading: reading)
        }
        let now = monotonicNanoseconds()
        outstanding = Sent(id: id, action: plan.v201 ? "TransactionEvent" : Action.meterValues.rawValue, sentAt: now, reading: true)
        if measured {
            run.expect(charger: index, energy: reading.energyWh, sentAt: now)
            run.meterValuesSent.add(1, ordering: .relaxed)
        }
        writeText(frame)
    }

    private func newMessageID() -> String {
        nextMessageNumber += 1
        return String(nextMessageNumber)
    }

    private func writeText(_ bytes: some Collection<UInt8>) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        write(WebSocketFrame(fin: true, opcode: .text, data: buffer))
    }

    private func write(_ frame: WebSocketFrame) {
        guard let context else { return }
        var frame = frame
        frame.maskKey = .random()  // a client masks every frame (RFC 6455 5.3)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }
}
